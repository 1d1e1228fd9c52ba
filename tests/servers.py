"""Real servers as subprocesses, for the tests that need one and for the bench: any command that
serves HTTP on a loopback port (`Server`; `Gunicorn` for a gunicorn command line), with its
environment, started only once it answers, stopped cleanly (its whole process group).

    env = clean_env(DASHBOARD_SANDBOX="1", DJANGO_ALLOW_PLAIN_HTTP="1", DATABASE_URL=...)
    migrate(env)
    with Gunicorn(["dashboard.wsgi", "-k", "gthread", "--workers", "2"], env, log_dir=tmp) as server:
        requests.get(f"{server.url}/healthz")
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
# Settings a server must not inherit from the process that starts it (tests run in sandbox mode).
SETTING_PREFIXES = ("DJANGO_", "DASHBOARD_", "JUPITER_")
SETTING_NAMES = ("DATABASE_URL", "REDIS_URL", "PORT", "FORWARDED_ALLOW_IPS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any dashboard setting, this virtualenv's tools first on
    PATH, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES) and k not in SETTING_NAMES}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, "DJANGO_SETTINGS_MODULE": "dashboard.settings", **settings}


def migrate(env: Mapping[str, str]) -> None:
    """`manage.py migrate` with this environment (its DATABASE_URL)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"migrate failed:\n{done.stdout}{done.stderr}")


class Server:
    """`command` run from the project folder with `env` plus PORT, serving http://127.0.0.1:<port>.

    `start()` returns once GET `ready_path` answers 200 (RuntimeError with the log's tail if the
    process exits first or `start_timeout` passes); `stop()` sends SIGTERM to its process group,
    then SIGKILL after `stop_timeout`.
    """

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        *,
        log_dir: Path,
        port: int = 0,
        ready_path: str = "/healthz",
        start_timeout: float = 60.0,
        stop_timeout: float = 15.0,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = list(command)
        self.env = {**env, "PORT": str(self.port)}
        self.log_path = Path(log_dir) / f"server-{self.port}.log"
        self.ready_path = ready_path
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends the workers too
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server at {self.url} exited:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"the server at {self.url} did not answer within {self.start_timeout:.0f} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Gunicorn(Server):
    """`gunicorn <args> --bind 127.0.0.1:<port>` (see `Server`)."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], *, port: int = 0, **options: Any) -> None:
        port = port or free_port()
        command = [sys.executable, "-m", "gunicorn", *args, "--bind", f"127.0.0.1:{port}"]
        super().__init__(command, env, port=port, **options)
