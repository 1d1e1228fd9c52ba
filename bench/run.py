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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


@dataclass(frozen=True)
class Database:
    """Where the gunicorn servers keep their state: SQLite with each worker's local-memory cache (the
    embedded defaults), or PostgreSQL with Redis when DATABASE_URL / REDIS_URL are set (production)."""

    name: str  # "SQLite" or "PostgreSQL + Redis"
    url: str
    redis_url: str = ""

    @property
    def panel_workers(self) -> int:
        return 2 if self.redis_url else 1  # a local-memory cache is per worker: one worker sees every view


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


@contextlib.contextmanager
def scratch_postgres(url: str):
    """A fresh database `<name>_bench` beside the one DATABASE_URL names (which is never written),
    dropped afterwards; its URL."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "dashboard") + "_bench"
    scratch = urlunsplit((parts.scheme.replace("pgsql", "postgres"), parts.netloc, f"/{name}", parts.query, ""))
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield scratch
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> int:
    began = time.monotonic()
    database_url = os.environ.get("DATABASE_URL", "").strip()
    redis_url = os.environ.get("REDIS_URL", "").strip()
    postgres = database_url if urlsplit(database_url).scheme in POSTGRES_SCHEMES else ""
    tmp = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    tables = []
    skipped: list[str] = []
    failed = False
    stack = contextlib.ExitStack()
    try:
        setup_django(tmp)
        # Imported after django.setup(): they import the dashboard's models.
        from bench import cancel_path, capacity, dca, export, load, panel, profile, weight
        from bench.server import Server, migrate

        databases = [Database("SQLite", f"sqlite:///{tmp / 'server.sqlite3'}")]
        if postgres:
            databases.append(Database("PostgreSQL + Redis", stack.enter_context(scratch_postgres(postgres)), redis_url))
        elif database_url:
            skipped.append(f"DATABASE_URL is not a PostgreSQL URL ({urlsplit(database_url).scheme}:): SQLite only.")
        upstreams = {}
        for database in databases:
            print(f"Preparing a fresh {database.name} database for gunicorn…", flush=True)
            migrate(database.url)
            # The simulated Jupiter runs in its own gunicorn (sharing the database that holds its
            # state), so its work does not queue behind the dashboard's in one Python process.
            upstreams[database.name] = Server(database.url, workers=2, log_dir=tmp, redis_url=database.redis_url)
            upstreams[database.name].start()
            stack.callback(upstreams[database.name].stop)
        primary = databases[-1]  # PostgreSQL + Redis when given, as in production

        def start_panel_server(database: Database = primary) -> Server:
            return Server(
                database.url,
                workers=database.panel_workers,
                log_dir=tmp,
                upstream=upstreams[database.name].url,
                redis_url=database.redis_url,
            )

        figures: dict[str, dict] = {}
        visits: list[dict] = []
        steps = [
            *(
                (f"orders panel on {db.name}", lambda db=db: run_panel(panel, start_panel_server, db, figures))
                for db in databases
            ),
            ("where the time goes (profile)", lambda: [profile.measure_profile(upstreams["SQLite"], panel.LATENCY_MS)]),
            ("calls per visit", lambda: [panel.measure_visits(start_panel_server, visits)]),
            ("capacity per Jupiter plan", lambda: [capacity.capacity_table(visits)]),
            ("Jupiter DCA v2 beside v1; repeat visits", lambda: run_dca(dca, start_panel_server)),
            (
                "load and page weight",
                lambda: run_load(
                    load,
                    weight,
                    Server(
                        primary.url,
                        workers=2,
                        log_dir=tmp,
                        upstream=upstreams[primary.name].url,
                        redis_url=primary.redis_url,
                    ),
                    skipped,
                ),
            ),
            ("cancel path", lambda: [cancel_path.measure_cancel_path("a temporary SQLite file", str(tmp))]),
            ("export for taxes", lambda: run_export(export, start_panel_server)),
        ]
        if len(databases) > 1:
            steps.insert(len(databases), ("both databases", lambda: [panel.side_by_side(figures)]))
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
        "DJANGO_ALLOW_PLAIN_HTTP=1, JUPITER_RATE_LIMIT_RPS=1000, a fresh database (migrated); the sandbox "
        "upstream runs in its own gunicorn (2 workers) on the same machine, sharing the 2 cores, and is called "
        "over HTTP.",
        "Databases: a fresh SQLite file in a temporary directory with each worker's local-memory cache (the "
        "panel then measured with 1 worker, so it sees every view)"
        + (
            f"; and PostgreSQL ({redacted(postgres)}, a scratch database `…_bench` created and dropped by the "
            f"bench) with {'Redis (' + redis_url + ')' if redis_url else 'local-memory caches'}"
            f", the panel measured with {databases[-1].panel_workers} workers. Every step after the panel runs "
            "on PostgreSQL."
            if postgres
            else ". Set DATABASE_URL (PostgreSQL) and REDIS_URL to measure production's set-up beside it."
        ),
        "In-process steps (fetching alone, the profile, repeat visits, the cancel path) use a temporary SQLite "
        "file and the local-memory cache.",
        "Sign-in is real Sign-In With Solana over HTTP with a solders Keypair per wallet; orders are seeded "
        "through POST /sandbox/control and upstream calls counted with GET /sandbox/control/calls.",
    ]
    RESULTS.write_text(results_markdown(tables, setup, skipped, time.monotonic() - began))
    print(f"\nWrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    for line in skipped:
        print(f"Skipped: {line}")
    print(f"Total {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


def redacted(url: str) -> str:
    """The URL without its password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def run_panel(panel, start_server, database: Database, figures: dict) -> list:
    with start_server(database) as server:
        table, wallets, figures[database.name] = panel.measure_panel(server, database=database.name)
        if database.name != "SQLite":
            return [table]
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
