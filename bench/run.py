"""Runs every measurement, prints its table, and writes bench/RESULTS.md."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def setup_django(tmp: Path) -> str:
    """This process: sandbox settings on its own fresh SQLite database, local-memory cache."""
    database_url = f"sqlite:///{tmp / 'inprocess.sqlite3'}"
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DASHBOARD_SANDBOX": "1",
            "DJANGO_ALLOW_PLAIN_HTTP": "1",
            "DATABASE_URL": database_url,
            "JUPITER_RATE_LIMIT_RPS": "1000",
            "DASHBOARD_RATELIMIT_LISTS": "1000000/m",  # load tests view lists far more often than people
        }
    )
    os.environ.pop("REDIS_URL", None)  # in-process timings use the local-memory cache
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    logging.getLogger("dashboard").setLevel(logging.WARNING)
    return database_url


def main() -> int:
    began = time.monotonic()
    redis_url = os.environ.get("REDIS_URL", "").strip()
    tmp = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    tables = []
    skipped: list[str] = []
    failed = False
    stack = contextlib.ExitStack()
    try:
        setup_django(tmp)
        # Imported after django.setup(): they import the dashboard's models.
        from bench import cancel_path, dca, export, load, panel, weight
        from bench.server import Server, migrate

        server_db = f"sqlite:///{tmp / 'server.sqlite3'}"
        print("Preparing a fresh SQLite database for gunicorn…", flush=True)
        migrate(server_db)
        panel_workers = 2 if redis_url else 1
        # The simulated Jupiter runs in its own gunicorn (sharing the database that holds its
        # state), so its work does not queue behind the dashboard's in one Python process.
        upstream = Server(server_db, workers=2, log_dir=tmp)
        upstream.start()
        stack.callback(upstream.stop)

        def start_panel_server() -> Server:
            return Server(server_db, workers=panel_workers, log_dir=tmp, upstream=upstream.url)

        steps = [
            ("orders panel", lambda: run_panel(panel, start_panel_server)),
            ("calls per visit", lambda: [panel.measure_visits(start_panel_server)]),
            ("Jupiter DCA v2 beside v1; repeat visits", lambda: run_dca(dca, start_panel_server)),
            (
                "load and page weight",
                lambda: run_load(
                    load, weight, Server(server_db, workers=2, log_dir=tmp, upstream=upstream.url), skipped
                ),
            ),
            ("cancel path", lambda: [cancel_path.measure_cancel_path("a temporary SQLite file", str(tmp))]),
            ("export for taxes", lambda: run_export(export, start_panel_server)),
        ]
        for name, step in steps:
            print(f"\n== {name} …", flush=True)
            started = time.monotonic()
            try:
                for table in step():
                    tables.append(table)
                    print("\n" + table.text(), flush=True)
            except Exception:
                failed = True
                detail = traceback.format_exc(limit=4)
                print(detail, file=sys.stderr)
                skipped.append(f"{name}: failed — {detail.strip().splitlines()[-1]}")
            print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    finally:
        stack.close()
        shutil.rmtree(tmp, ignore_errors=True)
    from bench.report import results_markdown

    setup = [
        "gunicorn dashboard.wsgi -k gthread --threads 32 on 127.0.0.1, DASHBOARD_SANDBOX=1, "
        "DJANGO_ALLOW_PLAIN_HTTP=1, JUPITER_RATE_LIMIT_RPS=1000, a fresh SQLite database (migrated) in a "
        "temporary directory; the sandbox upstream runs in its own gunicorn (2 workers) on the same "
        "machine, sharing the 2 cores, and is called over HTTP.",
        (
            f"Cache: Redis ({redis_url}) shared by the workers; panel measured with 2 workers."
            if redis_url
            else "Cache: local memory (per process); panel measured with 1 worker, load with 2 workers "
            "(each warms its own cache). Set REDIS_URL to share one cache."
        ),
        "Sign-in is real Sign-In With Solana over HTTP with a solders Keypair per wallet; orders are seeded "
        "through POST /sandbox/control and upstream calls counted with GET /sandbox/control/calls.",
    ]
    RESULTS.write_text(results_markdown(tables, setup, skipped, time.monotonic() - began))
    print(f"\nWrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    for line in skipped:
        print(f"Skipped: {line}")
    print(f"Total {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


def run_panel(panel, start_server) -> list:
    with start_server() as server:
        table, wallets = panel.measure_panel(server)
        fetching = panel.measure_fetching(
            f"{server.sandbox_url}/sandbox/recurring/v1", f"{server.sandbox_url}/sandbox/tokens/v2", wallets
        )
    return [table, fetching]


def run_dca(dca, start_server) -> list:
    with start_server() as server:
        return [
            dca.measure_cold_both(server),
            dca.measure_repeat_visit(
                f"{server.sandbox_url}/sandbox/recurring/v1", f"{server.sandbox_url}/sandbox/tokens/v2", server
            ),
        ]


def run_export(export, start_server) -> list:
    with start_server() as server:
        return [export.measure_export(server)]


def run_load(load, weight, server, skipped: list[str]) -> list:
    with server:
        tables = [load.measure_load(server)]
        page, totals = weight.measure_weight(server)
    tables += [page, weight.measure_sent(totals["page_files"])]
    npm, why = weight.measure_npm(totals["js_gz"])
    if npm is not None:
        tables.append(npm)
    else:
        skipped.append(why)
        print(why)
    return tables
