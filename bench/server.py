"""gunicorn as a subprocess, and a trader's browser talking to it over HTTP.

The sandbox upstream is served by its own gunicorn (given as `upstream`), or else by the same one
(JUPITER_API_URL defaults to http://127.0.0.1:$PORT/sandbox/... in sandbox mode); the dashboard calls
it over HTTP.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TIMEOUT = (3.05, 30.0)  # every HTTP call the bench makes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, port: int, upstream: str = "") -> dict[str, str]:
    env = {
        **os.environ,
        "DASHBOARD_SANDBOX": "1",
        "DJANGO_ALLOW_PLAIN_HTTP": "1",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "JUPITER_RATE_LIMIT_RPS": "1000",
        "DASHBOARD_RATELIMIT_LISTS": "1000000/m",  # load tests view lists far more often than people
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
    }
    for name in ("JUPITER_API_URL", "JUPITER_TOKENS_URL", "DJANGO_DEBUG"):
        env.pop(name, None)  # the embedded sandbox, production-like settings
    if upstream:  # the sandbox served by its own gunicorn, as Jupiter is its own service
        env["JUPITER_API_URL"] = f"{upstream}/sandbox/recurring/v1"
        env["JUPITER_TOKENS_URL"] = f"{upstream}/sandbox/tokens/v2"
    return env


def migrate(database_url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=server_env(database_url, 0),
        check=True,
        timeout=180,
    )


class Server:
    """`gunicorn dashboard.wsgi -k gthread --workers N --threads 32` on a free loopback port."""

    def __init__(self, database_url: str, workers: int, log_dir: Path, upstream: str = "") -> None:
        self.database_url = database_url
        self.workers = workers
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox_url = upstream or self.url  # where the simulated Jupiter answers
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "dashboard.wsgi",
                "-k",
                "gthread",
                "--workers",
                str(self.workers),
                "--threads",
                "32",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=server_env(self.database_url, self.port, self.upstream),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited early:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within 30 s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

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

    def csrf_headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.http.cookies.get("csrftoken", ""), "Referer": self.server.url + "/"}

    def sign_in(self) -> None:
        url = self.server.url
        self.http.get(f"{url}/", timeout=TIMEOUT).raise_for_status()
        challenge = self.http.post(
            f"{url}/sign-in/challenge", json={"address": self.wallet}, headers=self.csrf_headers(), timeout=TIMEOUT
        )
        challenge.raise_for_status()
        data = challenge.json()
        text = data["message"].encode()
        verify = self.http.post(
            f"{url}/sign-in/verify",
            json={
                "address": self.wallet,
                "signedMessage": base64.b64encode(text).decode(),
                "signature": base64.b64encode(bytes(self.keypair.sign_message(text))).decode(),
                "nonce": data["nonce"],
            },
            headers=self.csrf_headers(),
            timeout=TIMEOUT,
        )
        if verify.status_code != 200:
            raise RuntimeError(f"sign-in refused: {verify.status_code} {verify.text[:200]}")

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
        started = self.http.post(f"{url}/orders/{order_key}/cancel/start", headers=self.csrf_headers(), timeout=TIMEOUT)
        started.raise_for_status()
        issued = started.json()
        unsigned = VersionedTransaction.from_bytes(base64.b64decode(issued["transaction"]))
        signature = self.keypair.sign_message(to_bytes_versioned(unsigned.message))
        signed = VersionedTransaction.populate(unsigned.message, [signature])
        submitted = self.http.post(
            f"{url}{issued['submit_url']}",
            data={"signed_transaction": base64.b64encode(bytes(signed)).decode()},
            headers=self.csrf_headers(),
            timeout=TIMEOUT,
        )
        return submitted.json()


ORDER_KEY = re.compile(r'id="cancel-([1-9A-HJ-NP-Za-km-z]{32,44})"')


def order_keys(panel_html: str) -> list[str]:
    """The order keys the active panel shows, in order."""
    return ORDER_KEY.findall(panel_html)
