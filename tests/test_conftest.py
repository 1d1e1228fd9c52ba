"""tests/conftest.py: the live server is waited for until it has answered every request a test
started, so no test's late request lands in the next test's data, call log or call budget."""

from __future__ import annotations

import threading
import time

import requests

from dashboard.sandbox import control

LIST_PARAMS = {"orderStatus": "active", "recurringType": "time", "includeFailedTx": "false"}


def test_waiting_for_the_live_server_lasts_until_a_late_request_is_answered(sandbox_upstream, wallet):
    control.set_latency(1000)  # the sandbox waits a second, then does the work and logs the call
    url = f"{sandbox_upstream.url}/sandbox/recurring/v1/getRecurringOrders"
    thread = threading.Thread(target=lambda: requests.get(url, params={**LIST_PARAMS, "user": wallet}, timeout=30))
    thread.start()
    deadline = time.monotonic() + 30
    expected = ["GET /sandbox/recurring/v1/getRecurringOrders"]
    # Busy from the moment the connection is accepted ("a connection not yet read"), then named.
    while sandbox_upstream.in_flight.busy() != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sandbox_upstream.in_flight.busy() == expected

    assert sandbox_upstream.in_flight.wait(30) == []
    assert control.count_calls("getRecurringOrders", user=wallet) == 1  # the work was done before wait returned
    thread.join(timeout=30)
