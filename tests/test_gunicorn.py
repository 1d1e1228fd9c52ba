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


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory):
    """gunicorn with gunicorn.conf.py, DEBUG off and DJANGO_TRUST_PROXY=1, as behind nginx."""
    folder = tmp_path_factory.mktemp("gunicorn-proxy")
    env = clean_env(DASHBOARD_SANDBOX="1", DJANGO_TRUST_PROXY="1", DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}")
    with Gunicorn(
        ["dashboard.wsgi", "--config", "gunicorn.conf.py", "-k", "gthread", "--workers", "1"], env, log_dir=folder
    ) as gunicorn:
        yield gunicorn.url


def is_https(url: str, headers: dict[str, str]) -> bool:
    """Whether the site took the request for https (HSTS is sent on https answers only)."""
    response = requests.get(f"{url}/healthz", headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200
    return "Strict-Transport-Security" in response.headers


def test_a_trusted_proxy_is_believed_only_through_x_forwarded_proto(behind_proxy):
    assert not is_https(behind_proxy, {})
    assert is_https(behind_proxy, {"X-Forwarded-Proto": "https"})  # what the proxy sets
    # gunicorn's defaults would believe these too; a proxy that only sets (and strips)
    # X-Forwarded-Proto passes them through from the client.
    assert not is_https(behind_proxy, {"X-Forwarded-Ssl": "on"})
    assert not is_https(behind_proxy, {"X-Forwarded-Protocol": "ssl"})
