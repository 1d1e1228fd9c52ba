"""`make run`'s design under gunicorn: the dashboard calls its own embedded sandbox over HTTP
from inside a request, so the server must answer requests concurrently (gthread workers)."""

from __future__ import annotations

import pytest
import requests
from solders.keypair import Keypair

from tests.servers import Gunicorn, clean_env, migrate
from tests.wallet import csrf_headers, sign_in, sign_transaction

TIMEOUT = (3.05, 30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One gunicorn with gthread workers on SQLite, in sandbox mode, talking to itself."""
    folder = tmp_path_factory.mktemp("gunicorn")
    env = clean_env(
        DASHBOARD_SANDBOX="1", DJANGO_ALLOW_PLAIN_HTTP="1", DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}"
    )
    migrate(env)
    with Gunicorn(
        ["dashboard.wsgi", "-k", "gthread", "--workers", "2", "--threads", "4"], env, log_dir=folder
    ) as gunicorn:
        yield gunicorn.url


def test_the_dashboard_reads_and_cancels_through_its_own_sandbox(server):
    http = requests.Session()
    keypair = Keypair()
    sign_in(http, keypair, server)
    panel = http.get(f"{server}/orders/active", headers={"HX-Request": "true"}, timeout=TIMEOUT)
    assert panel.status_code == 200
    assert panel.text.count("data-order=") >= 1
    assert "Up to date" in panel.text  # live data from the sandbox, not the last-known fallback
    key = panel.text.split('data-order="', 1)[1].split('"', 1)[0]
    started = http.post(f"{server}/orders/{key}/cancel/start", headers=csrf_headers(http), timeout=TIMEOUT).json()
    answer = http.post(
        f"{server}{started['submit_url']}",
        data={"signed_transaction": sign_transaction(started["transaction"], keypair)},
        headers=csrf_headers(http),
        timeout=TIMEOUT,
    ).json()
    assert answer["state"] == "succeeded", answer
