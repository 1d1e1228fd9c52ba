"""gunicorn as a subprocess, and a trader's browser talking to it over HTTP.

The sandbox upstream is served by its own gunicorn (given as `upstream`), or else by the same one
(JUPITER_API_URL defaults to http://127.0.0.1:$PORT/sandbox/... in sandbox mode); the dashboard calls
it over HTTP.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import requests
from solders.keypair import Keypair

from tests.servers import Gunicorn, clean_env
from tests.servers import migrate as migrate_with
from tests.wallet import csrf_headers, sign_in, sign_transaction

TIMEOUT = (3.05, 30.0)  # every HTTP call the bench makes


def server_env(database_url: str, upstream: str = "", redis_url: str = "") -> dict[str, str]:
    """Sandbox mode with production-like settings (no DEBUG), the budgets out of the way; the
    shared cache in Redis when `redis_url` is given, else each worker's local memory."""
    env = clean_env(
        DASHBOARD_SANDBOX="1",
        DJANGO_ALLOW_PLAIN_HTTP="1",
        DATABASE_URL=database_url,
        JUPITER_RATE_LIMIT_RPS="1000",
        DASHBOARD_RATELIMIT_LISTS="1000000/m",  # load tests view lists far more often than people
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    if upstream:  # the sandbox served by its own gunicorn, as Jupiter is its own service
        env["JUPITER_API_URL"] = f"{upstream}/sandbox/recurring/v1"
        env["JUPITER_TOKENS_URL"] = f"{upstream}/sandbox/tokens/v2"
        env["JUPITER_TRIGGER_API_URL"] = f"{upstream}/sandbox/trigger/v2"
    return env


def migrate(database_url: str) -> None:
    migrate_with(server_env(database_url))


class Server(Gunicorn):
    """`gunicorn dashboard.wsgi -k gthread --workers N --threads 32` on a free loopback port."""

    def __init__(self, database_url: str, workers: int, log_dir: Path, upstream: str = "", redis_url: str = "") -> None:
        args = ["dashboard.wsgi", "-k", "gthread", "--workers", str(workers), "--threads", "32"]
        args += ["--timeout", "60", "--log-level", "warning"]
        super().__init__(args, server_env(database_url, upstream, redis_url), log_dir=log_dir, start_timeout=30)
        self.workers = workers
        self.sandbox_url = upstream or self.url  # where the simulated Jupiter answers

    # --- the sandbox's control endpoint ---

    def control(self, action: str, **fields: object) -> dict:
        reply = requests.post(f"{self.sandbox_url}/sandbox/control", json={"action": action, **fields}, timeout=TIMEOUT)
        reply.raise_for_status()
        return reply.json()

    def calls(self) -> dict[str, int]:
        """Upstream calls answered so far, per endpoint."""
        reply = requests.get(f"{self.sandbox_url}/sandbox/control/calls", timeout=TIMEOUT)
        reply.raise_for_status()
        return reply.json()["byEndpoint"]

    def seed(self, wallet: str, active: int, history: int = 0) -> list[str]:
        return self.control("seed", wallet=wallet, active=active, history=history)["orders"]


def calls_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


class Trader:
    """One browser: a wallet keypair and a cookie jar, signed in with Sign-In With Solana."""

    def __init__(self, server: Server, keypair: Keypair | None = None) -> None:
        self.server = server
        self.keypair = keypair or Keypair()
        self.wallet = str(self.keypair.pubkey())
        self.http = requests.Session()

    def sign_in(self) -> None:
        sign_in(self.http, self.keypair, self.server.url)

    def get(self, path: str, htmx: bool = False) -> requests.Response:
        headers = {"HX-Request": "true"} if htmx else {}
        reply = self.http.get(f"{self.server.url}{path}", headers=headers, timeout=TIMEOUT)
        reply.raise_for_status()
        return reply

    def timed_panel(self) -> tuple[float, requests.Response]:
        """GET /orders/active as htmx does; milliseconds from request to the last byte."""
        started = time.perf_counter()
        reply = self.get("/orders/active", htmx=True)
        return (time.perf_counter() - started) * 1000, reply

    def cancel(self, order_key: str) -> dict:
        """Start a cancel, sign what the dashboard hands over, submit it; the final answer."""
        url = self.server.url
        headers = csrf_headers(self.http, url)
        started = self.http.post(f"{url}/orders/{order_key}/cancel/start", headers=headers, timeout=TIMEOUT)
        started.raise_for_status()
        issued = started.json()
        submitted = self.http.post(
            f"{url}{issued['submit_url']}",
            data={"signed_transaction": sign_transaction(issued["transaction"], self.keypair)},
            headers=headers,
            timeout=TIMEOUT,
        )
        return submitted.json()


ORDER_KEY = re.compile(r'id="cancel-([1-9A-HJ-NP-Za-km-z]{32,44})"')


def order_keys(panel_html: str) -> list[str]:
    """The order keys the active panel shows, in order."""
    return ORDER_KEY.findall(panel_html)
