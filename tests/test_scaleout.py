"""Two gunicorn instances on one PostgreSQL database and one Redis share sessions, cancel
attempts, caches and limits: sign in on A, see and cancel on B, and a signed cancel
submitted concurrently to both is relayed exactly once.

Runs only against PostgreSQL (DATABASE_URL=postgres://…) with Redis (REDIS_URL=redis://…).
The plain SQLite pass skips it; with PostgreSQL but no reachable Redis it skips outside CI
and fails in CI (CI=true).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from solders.keypair import Keypair

from tests.servers import Gunicorn, clean_env, free_port, migrate
from tests.wallet import csrf_headers, sign_in, sign_transaction

pytestmark = pytest.mark.postgres

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
# Named after the pass's database, so passes on one server (CI, several checkouts) never share it.
DATABASE = f"{urlsplit(DATABASE_URL).path.lstrip('/') or 'dashboard'}_scaleout"
START_TIMEOUT = 60.0
HTTP_TIMEOUT = 30.0
ORDER_LINK = re.compile(r"/orders/([1-9A-HJ-NP-Za-km-z]{32,44})/cancel\b")


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def require_services() -> None:
    if not DATABASE_URL.startswith("postgres"):
        pytest.skip("Needs PostgreSQL and Redis: set DATABASE_URL=postgres://… and REDIS_URL=redis://… to run it.")
    if not REDIS_URL:
        unavailable("Needs Redis with PostgreSQL: set REDIS_URL=redis://… as well.")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} is unreachable ({exc}).")


def database_url(name: str) -> str:
    parts = urlsplit(DATABASE_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def drop_database() -> None:
    import psycopg

    with psycopg.connect(database_url("postgres"), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def instance_env(upstream_port: int) -> dict[str, str]:
    upstream = f"http://127.0.0.1:{upstream_port}/sandbox"
    return clean_env(
        DASHBOARD_SANDBOX="1",
        DJANGO_ALLOW_PLAIN_HTTP="1",
        DATABASE_URL=database_url(DATABASE),
        REDIS_URL=REDIS_URL,
        JUPITER_API_URL=f"{upstream}/recurring/v1",
        JUPITER_TOKENS_URL=f"{upstream}/tokens/v2",
    )


@pytest.fixture(scope="module")
def instances(tmp_path_factory) -> Iterator[tuple[Gunicorn, Gunicorn]]:
    require_services()
    recreate_database()
    logs = tmp_path_factory.mktemp("scaleout")
    port_a, port_b = free_port(), free_port()
    env = instance_env(port_a)  # A serves the sandbox both use
    migrate(env)
    args = ["dashboard.wsgi", "-k", "gthread", "--threads", "8", "--workers", "2", "--timeout", "60"]
    a = Gunicorn(args, env, log_dir=logs, port=port_a, start_timeout=START_TIMEOUT)
    b = Gunicorn(args, env, log_dir=logs, port=port_b, start_timeout=START_TIMEOUT)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()
        drop_database()


def test_healthz_on_both(instances):
    for instance in instances:
        response = requests.get(f"{instance.url}/healthz", timeout=HTTP_TIMEOUT)
        assert response.json() == {"status": "ok"}


def test_session_and_cancel_across_instances(instances, at_once):
    a, b = instances
    kp = Keypair()
    wallet = str(kp.pubkey())
    http = requests.Session()  # cookies are per host, not per port: both instances get them
    sign_in(http, kp, a.url)

    page = http.get(f"{b.url}/orders/active", timeout=HTTP_TIMEOUT, allow_redirects=False)
    assert page.status_code == 200, "the session made on A is not known on B"
    assert "no-store" in page.headers["Cache-Control"]
    keys = ORDER_LINK.findall(page.text)
    assert keys, "no active orders listed"

    started = http.post(f"{b.url}/orders/{keys[0]}/cancel/start", headers=csrf_headers(http), timeout=HTTP_TIMEOUT)
    assert started.status_code == 200, started.text
    issued = started.json()
    signed = sign_transaction(issued["transaction"], kp)

    count = 10
    cookies, headers = http.cookies.get_dict(), csrf_headers(http)

    def submit(thread: int) -> tuple[int, dict]:
        base = (a, b)[thread % 2].url  # half the submissions to each instance
        response = requests.post(
            f"{base}{issued['submit_url']}",
            data={"signed_transaction": signed},
            headers=headers,
            cookies=cookies,
            timeout=HTTP_TIMEOUT,
        )
        return response.status_code, response.json()

    answers = at_once(count, submit, numbered=True)
    assert len(answers) == count
    succeeded = [body for status, body in answers if status == 200]
    assert [body["state"] for body in succeeded] == ["succeeded"], answers
    assert all(status == 409 and body["state"] == "refused" for status, body in answers if status != 200)

    calls = requests.get(
        f"{a.url}/sandbox/control/calls", params={"endpoint": "execute", "user": wallet}, timeout=HTTP_TIMEOUT
    )
    assert calls.json()["count"] == 1

    # Either instance now reports the cancel, from the shared database.
    status = http.post(f"{a.url}{issued['status_url']}", headers=csrf_headers(http), timeout=HTTP_TIMEOUT).json()
    assert status["state"] == "succeeded"
    history = http.get(f"{a.url}/orders/history", timeout=HTTP_TIMEOUT)
    assert keys[0] in history.text


def test_sign_out_on_one_ends_the_session_on_both(instances):
    a, b = instances
    http = requests.Session()
    sign_in(http, Keypair(), b.url)
    assert http.get(f"{a.url}/orders/", timeout=HTTP_TIMEOUT, allow_redirects=False).status_code == 200
    http.post(f"{b.url}/sign-out", headers=csrf_headers(http), timeout=HTTP_TIMEOUT)
    assert http.get(f"{a.url}/orders/", timeout=HTTP_TIMEOUT, allow_redirects=False).status_code == 302
