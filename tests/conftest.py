from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


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


@pytest.fixture
def sandbox_upstream(live_server, settings):
    """Point the Jupiter client at the sandbox served by the live (threaded) test server,
    with the sandbox's knobs, faults and call log reset and nothing cached, before and after."""
    from dashboard.sandbox import control

    settings.JUPITER_API_URL = f"{live_server.url}/sandbox/recurring/v1"
    settings.JUPITER_TOKENS_URL = f"{live_server.url}/sandbox/tokens/v2"
    settings.JUPITER_TRIGGER_API_URL = f"{live_server.url}/sandbox/trigger/v2"
    assert django_settings.SANDBOX
    cache.clear()
    control.reset()
    yield live_server
    control.reset()
    cache.clear()


@pytest.fixture
def at_once():
    """`at_once(count, work)`: `work()` in `count` threads released together; their results, in
    thread order (each thread closes its database connection; any exception fails the test)."""
    return run_at_once


def run_at_once(count: int, work) -> list:
    """Run `work()` in `count` threads released together; their results, in thread order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    return results
