"""Fixtures every test module shares (pytest finds them here; a module never keeps its own copy):

* the wallet: `keypair` (a fresh solders Keypair) and `wallet` (its address, a str);
  `trader`, the test client signed in as `wallet`;
* the servers: `live_server` (pytest-django's, which also tells when it has answered every
  request a test started), `sandbox_upstream` (the Jupiter client on the sandbox it serves) and
  `browser` (headless Chromium, tests/browser and the production tier);
* `at_once`, for races: one piece of work in many threads released together.

No test depends on what ran before it: a test that used the live server ends only once the server
has answered every request the test (or its browser page) started, so nothing of it reaches the
next test's database, cache or call budget. `--random-order` (pytest-random-order) and
`--reverse` (pytest-reverse) run the suite in another order to show it.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connections
from solders.keypair import Keypair

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# How long a test's last requests may take to be answered once the test is over (upstream calls
# time out well within it); past it the test fails at teardown, naming the requests.
ANSWER_TIMEOUT = 60.0


# --- the wallet -----------------------------------------------------------------------------------


@pytest.fixture
def keypair() -> Keypair:
    """The test's wallet: a fresh keypair, so no two tests share a wallet, its orders or its limits."""
    return Keypair()


@pytest.fixture
def wallet(keypair: Keypair) -> str:
    """The address of the test's wallet (`keypair`)."""
    return str(keypair.pubkey())


@pytest.fixture
def trader(client, wallet: str):
    """Django's test client, signed in as `wallet`."""
    client.force_login(get_user_model().objects.create_user(username=wallet))
    return client


# --- the servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _urls_of_the_test_environment() -> None:
    """Load the URLconf once, before any test, under the test environment's own settings (sandbox
    mode). `dashboard/urls.py` reads SANDBOX when it is imported, as in any process; without this,
    whichever test first resolved a URL decided the URLs of every test after it, and a test that
    switches sandbox mode off for a response (test_siws, test_security) left the whole run without
    the sandbox (its Jupiter answered Django's HTML 404)."""
    from django.urls import get_resolver

    assert django_settings.SANDBOX, "the tests run in sandbox mode (tests/environment.py)"
    get_resolver().url_patterns  # noqa: B018 — the import is the point


class RequestsInFlight:
    """The live server's WSGI application, wrapped to know which requests it is still answering.

    A request counts from the moment its connection is accepted until its response is closed, so
    one accepted but not yet read (a page's last poll) counts too. `wait()` blocks until none is
    left and returns what is still being answered when it gives up."""

    def __init__(self, server: Any) -> None:
        self._app = server.get_app()
        self._changed = threading.Condition()
        self._answering: Counter[str] = Counter()
        self._accepted = 0  # connections whose first request has not reached the application
        self._thread = threading.local()
        server.set_app(self)
        # The accepting thread calls process_request; the connection's own thread then runs
        # process_request_thread (both looked up on the instance).
        accept, serve = server.process_request, server.process_request_thread

        def process_request(request: Any, client_address: Any) -> None:
            with self._changed:
                self._accepted += 1
            try:
                accept(request, client_address)
            except BaseException:
                self._first_request_reached(force=True)
                raise

        def process_request_thread(request: Any, client_address: Any) -> None:
            self._thread.waiting = True
            try:
                serve(request, client_address)
            finally:
                self._first_request_reached()

        server.process_request = process_request
        server.process_request_thread = process_request_thread

    def _first_request_reached(self, *, force: bool = False) -> None:
        if force or getattr(self._thread, "waiting", False):
            self._thread.waiting = False
            with self._changed:
                self._accepted -= 1
                self._changed.notify_all()

    def _answered(self, name: str) -> None:
        with self._changed:
            self._answering[name] -= 1
            if not self._answering[name]:
                del self._answering[name]
            self._changed.notify_all()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        name = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
        with self._changed:
            self._answering[name] += 1
        self._first_request_reached()
        try:
            response = self._app(environ, start_response)
        except BaseException:
            self._answered(name)
            raise
        return _Answer(response, lambda: self._answered(name))

    def busy(self) -> list[str]:
        with self._changed:
            return sorted(self._answering.elements()) + ["(a connection not yet read)"] * self._accepted

    def wait(self, timeout: float) -> list[str]:
        """Block until every request is answered (at most `timeout` s); what is still in flight."""
        with self._changed:
            self._changed.wait_for(lambda: not self._answering and not self._accepted, timeout)
        return self.busy()


class _Answer:
    """A WSGI response that reports when the server closed it (wsgiref closes it on every path)."""

    def __init__(self, response: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._response = response
        self._on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._response)

    def close(self) -> None:
        try:
            if hasattr(self._response, "close"):
                self._response.close()
        finally:
            self._on_close()


@pytest.fixture(scope="session")
def live_server(live_server):
    """pytest-django's threaded live server, which also knows the requests it is still answering
    (`live_server.in_flight`)."""
    live_server.in_flight = RequestsInFlight(live_server.thread.httpd)
    return live_server


def wait_until_answered(live_server) -> None:
    """Return once the live server has answered every request made so far; fail the test if
    some are still unanswered after ANSWER_TIMEOUT seconds."""
    busy = live_server.in_flight.wait(ANSWER_TIMEOUT)
    if busy:
        pytest.fail(f"The live server was still answering {busy} {ANSWER_TIMEOUT:.0f} s after the test ended.")


@pytest.fixture(autouse=True)
def _live_server_answers_before_the_next_test(request) -> Iterator[None]:
    """A test on the live server ends only once the server has answered every request it started
    (a page's last poll, a thread's late call): before its database is flushed and before the next
    test, so nothing of it lands in another test's data, cache or call budget."""
    if "live_server" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")  # finished after this fixture: the flush comes later
    server = request.getfixturevalue("live_server")
    yield
    wait_until_answered(server)


@pytest.fixture
def sandbox_upstream(live_server, settings):
    """Point the Jupiter client at the sandbox served by the live (threaded) test server,
    with the sandbox's knobs, faults and call log reset and nothing cached, before and after
    (after: once the server has answered every request of the test, under the test's settings)."""
    from dashboard.sandbox import control

    settings.JUPITER_API_URL = f"{live_server.url}/sandbox/recurring/v1"
    settings.JUPITER_TOKENS_URL = f"{live_server.url}/sandbox/tokens/v2"
    settings.JUPITER_TRIGGER_API_URL = f"{live_server.url}/sandbox/trigger/v2"
    settings.SOLANA_RPC_URL = f"{live_server.url}/sandbox/solana-rpc"  # as `make run`'s default
    assert django_settings.SANDBOX
    cache.clear()
    control.reset()
    yield live_server
    wait_until_answered(live_server)
    control.reset()
    cache.clear()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Headless Chromium, one for the whole run (tests/browser and the production tier)."""
    if not Path(CHROMIUM).exists():
        reason = f"Chromium is not installed at {CHROMIUM} (run `make browser`)."
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# --- races ----------------------------------------------------------------------------------------


@pytest.fixture
def at_once() -> Callable[..., list]:
    """`at_once(count, work)`: `work()` in `count` threads released together; their results, in
    thread order (`numbered=True` calls `work(i)` with the thread's number instead). Each thread
    closes its database connections; an exception in any thread fails the test."""
    return run_at_once


def run_at_once(count: int, work: Callable[..., T], *, numbered: bool = False) -> list[T]:
    """Run `work()` (or `work(i)`) in `count` threads released together; their results, in thread order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index) if numbered else work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=ANSWER_TIMEOUT)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    return results
