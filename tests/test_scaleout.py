"""Two gunicorn instances on one PostgreSQL database and one Redis share sessions, cancel
attempts, caches and limits: sign in on A, see and cancel on B, and a signed cancel
submitted concurrently to both is relayed exactly once.

Runs only against PostgreSQL (DATABASE_URL=postgres://…) with Redis (REDIS_URL=redis://…).
The plain SQLite pass skips it; with PostgreSQL but no reachable Redis it skips outside CI
and fails in CI (CI=true).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction

from tests.test_siws import payload, sign_in_text

pytestmark = pytest.mark.postgres

BASE_DIR = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instance_env(port: int, upstream_port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DASHBOARD_", "JUPITER_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    upstream = f"http://127.0.0.1:{upstream_port}/sandbox"
    env.update(
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        DASHBOARD_SANDBOX="1",
        DJANGO_ALLOW_PLAIN_HTTP="1",
        PORT=str(port),
        DATABASE_URL=database_url(DATABASE),
        REDIS_URL=REDIS_URL,
        JUPITER_API_URL=f"{upstream}/recurring/v1",
        JUPITER_TOKENS_URL=f"{upstream}/tokens/v2",
    )
    return env


@dataclass
class Instance:
    url: str
    process: subprocess.Popen
    log: Path


def start(port: int, upstream_port: int, log_dir: Path) -> Instance:
    log = log_dir / f"gunicorn-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "dashboard.wsgi",
                "-k",
                "gthread",
                "--threads",
                "8",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "60",
            ],
            cwd=BASE_DIR,
            env=instance_env(port, upstream_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Instance(url=f"http://127.0.0.1:{port}", process=process, log=log)


def wait_until_healthy(instance: Instance) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            pytest.fail(f"gunicorn at {instance.url} exited:\n{instance.log.read_text()[-3000:]}")
        try:
            if requests.get(f"{instance.url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn at {instance.url} did not become healthy:\n{instance.log.read_text()[-3000:]}")


def stop(instance: Instance) -> None:
    if instance.process.poll() is not None:
        return
    os.killpg(instance.process.pid, signal.SIGTERM)
    try:
        instance.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(instance.process.pid, signal.SIGKILL)
        instance.process.wait(timeout=5)


@pytest.fixture(scope="module")
def instances() -> Iterator[tuple[Instance, Instance]]:
    require_services()
    recreate_database()
    port_a, port_b = free_port(), free_port()
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=instance_env(port_a, port_a),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    started: list[Instance] = []
    with tempfile.TemporaryDirectory() as logs:
        try:
            for port in (port_a, port_b):
                started.append(start(port, port_a, Path(logs)))
            for instance in started:
                wait_until_healthy(instance)
            yield started[0], started[1]
        finally:
            for instance in started:
                stop(instance)
            drop_database()


def csrf_headers(http: requests.Session) -> dict[str, str]:
    return {"X-CSRFToken": http.cookies["csrftoken"]}


def sign_in(http: requests.Session, base: str, kp: Keypair) -> None:
    """Through the real Sign-In With Solana endpoints, as the wallet bridge does."""
    assert http.get(f"{base}/", timeout=HTTP_TIMEOUT).status_code == 200
    challenge = http.post(f"{base}/sign-in/challenge", json={}, headers=csrf_headers(http), timeout=HTTP_TIMEOUT)
    assert challenge.status_code == 200, challenge.text
    data = challenge.json()
    body = payload(kp, sign_in_text(data, str(kp.pubkey())), data["nonce"])
    verified = http.post(f"{base}/sign-in/verify", json=body, headers=csrf_headers(http), timeout=HTTP_TIMEOUT)
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"address": str(kp.pubkey())}


def sign(transaction_b64: str, kp: Keypair) -> str:
    tx = VersionedTransaction.from_bytes(base64.b64decode(transaction_b64))
    signature = kp.sign_message(to_bytes_versioned(tx.message))
    return base64.b64encode(bytes(VersionedTransaction.populate(tx.message, [signature]))).decode()


def test_healthz_on_both(instances):
    for instance in instances:
        response = requests.get(f"{instance.url}/healthz", timeout=HTTP_TIMEOUT)
        assert response.json() == {"status": "ok"}


def test_session_and_cancel_across_instances(instances):
    a, b = instances
    kp = Keypair()
    wallet = str(kp.pubkey())
    http = requests.Session()  # cookies are per host, not per port: both instances get them
    sign_in(http, a.url, kp)

    page = http.get(f"{b.url}/orders/active", timeout=HTTP_TIMEOUT, allow_redirects=False)
    assert page.status_code == 200, "the session made on A is not known on B"
    assert "no-store" in page.headers["Cache-Control"]
    keys = ORDER_LINK.findall(page.text)
    assert keys, "no active orders listed"

    started = http.post(f"{b.url}/orders/{keys[0]}/cancel/start", headers=csrf_headers(http), timeout=HTTP_TIMEOUT)
    assert started.status_code == 200, started.text
    issued = started.json()
    signed = sign(issued["transaction"], kp)

    count = 10
    cookies, headers = http.cookies.get_dict(), csrf_headers(http)
    barrier = threading.Barrier(count)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def submit(base: str) -> None:
        barrier.wait(timeout=HTTP_TIMEOUT)
        response = requests.post(
            f"{base}{issued['submit_url']}",
            data={"signed_transaction": signed},
            headers=headers,
            cookies=cookies,
            timeout=HTTP_TIMEOUT,
        )
        with lock:
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=submit, args=((a, b)[i % 2].url,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=HTTP_TIMEOUT * 2)
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
    sign_in(http, b.url, Keypair())
    assert http.get(f"{a.url}/orders/", timeout=HTTP_TIMEOUT, allow_redirects=False).status_code == 200
    http.post(f"{b.url}/sign-out", headers=csrf_headers(http), timeout=HTTP_TIMEOUT)
    assert http.get(f"{a.url}/orders/", timeout=HTTP_TIMEOUT, allow_redirects=False).status_code == 302
