"""`make run`'s design under gunicorn: the dashboard calls its own embedded sandbox over HTTP
from inside a request, so the server must answer requests concurrently (gthread workers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from solders.keypair import Keypair

from tests.test_scaleout import csrf_headers, free_port, sign, sign_in

BASE_DIR = Path(__file__).resolve().parent.parent
TIMEOUT = (3.05, 30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One gunicorn with gthread workers on SQLite, in sandbox mode, talking to itself."""
    folder = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DASHBOARD_", "JUPITER_"))}
    env.pop("REDIS_URL", None)
    env.update(
        DASHBOARD_SANDBOX="1",
        DJANGO_ALLOW_PLAIN_HTTP="1",
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True, timeout=120
    )
    log = (folder / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "dashboard.wsgi",
            "-k",
            "gthread",
            "--workers",
            "2",
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (folder / "gunicorn.log").read_text()[-2000:]
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


def test_the_dashboard_reads_and_cancels_through_its_own_sandbox(server):
    http = requests.Session()
    keypair = Keypair()
    sign_in(http, server, keypair)
    panel = http.get(f"{server}/orders/active", headers={"HX-Request": "true"}, timeout=TIMEOUT)
    assert panel.status_code == 200
    assert panel.text.count("data-order=") >= 1
    assert "Up to date" in panel.text  # live data from the sandbox, not the last-known fallback
    key = panel.text.split('data-order="', 1)[1].split('"', 1)[0]
    started = http.post(f"{server}/orders/{key}/cancel/start", headers=csrf_headers(http), timeout=TIMEOUT).json()
    answer = http.post(
        f"{server}{started['submit_url']}",
        data={"signed_transaction": sign(started["transaction"], keypair)},
        headers=csrf_headers(http),
        timeout=TIMEOUT,
    ).json()
    assert answer["state"] == "succeeded", answer
