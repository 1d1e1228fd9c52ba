"""The Recurring API v1 client (and the shared upstream session) against the sandbox over real HTTP on loopback."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from decimal import Decimal

import pytest
import requests
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction

from dashboard import recurring, tokens, upstream
from dashboard.sandbox import control

pytestmark = pytest.mark.django_db(transaction=True)

SOL = "So11111111111111111111111111111111111111112"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


@pytest.fixture
def client(sandbox_upstream, settings):
    """The Recurring API against the sandbox, with a short read timeout so the timeout faults finish quickly."""
    settings.JUPITER_TIMEOUT_SECONDS = 1.0
    return recurring


def sign(tx_bytes: bytes, keypair: Keypair) -> bytes:
    tx = VersionedTransaction.from_bytes(tx_bytes)
    signature = keypair.sign_message(to_bytes_versioned(tx.message))
    return bytes(VersionedTransaction.populate(tx.message, [signature]))


def test_orders_are_typed_at_the_boundary(client, wallet):
    control.seed_wallet(wallet, active=3, history=2)
    page = client.get_orders(wallet, "active")
    assert (page.page, page.total_pages, len(page.orders)) == (1, 1, 3)
    order = page.orders[0]
    assert order.user == wallet
    assert order.status == "active"
    assert isinstance(order.raw_in_deposited, int) and order.raw_in_deposited > 0
    assert isinstance(order.in_deposited, Decimal)
    assert isinstance(order.cycle_frequency, int) and order.cycle_frequency > 0
    assert order.created_at.tzinfo is not None
    assert order.close_tx == ""
    history = client.get_orders(wallet, "history").orders
    assert len(history) == 2
    assert all(o.close_tx for o in history)
    assert all(isinstance(f.confirmed_at, datetime) for o in history for f in o.fills)


def test_all_pages_page_one_first_then_the_rest_concurrently_in_order(client, wallet):
    control.seed_wallet(wallet, active=35, history=0)
    control.set_latency(200)
    in_flight, peak, lock = [0], [0], threading.Lock()
    http = upstream.session().http
    real_request = http.request

    def counting_request(*args, **kwargs):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return real_request(*args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    http.request = counting_request
    try:
        pages = recurring.fetch_pages(lambda n: recurring.get_orders(wallet, "active", n))
    finally:
        del http.request  # back to the class's method
    orders = [order for page in pages for order in page.orders]
    assert len(orders) == 35
    assert len({o.order_key for o in orders}) == 35
    assert [o.created_at for o in orders] == sorted((o.created_at for o in orders), reverse=True)
    assert control.count_calls("getRecurringOrders") == 4
    assert peak[0] >= 2  # after page 1 (which tells how many there are), pages 2-4 overlapped


def test_every_list_call_sends_the_four_required_parameters(client, wallet, sandbox_upstream):
    """Upstream answers 400 unless user, orderStatus, recurringType and includeFailedTx are all sent."""
    url = f"{sandbox_upstream.url}/sandbox/recurring/v1/getRecurringOrders"
    full = {"user": wallet, "orderStatus": "active", "recurringType": "time", "includeFailedTx": "false"}
    for missing in full:
        reply = requests.get(url, params={k: v for k, v in full.items() if k != missing}, timeout=5)
        assert reply.status_code == 400, missing
    for status in ("active", "history"):
        client.get_orders(wallet, status)
    assert control.count_calls("getRecurringOrders", status=200) == 2


def test_invalid_wallet_is_a_plain_refusal_with_upstream_details(client):
    with pytest.raises(upstream.JupiterRejected) as caught:
        client.get_orders("not-a-wallet", "active")
    error = caught.value
    assert error.status == 400
    assert error.upstream_message  # the sandbox's `error` text
    assert error.gateway_request_id
    assert error.retryable is False
    assert error.code == "rejected"


def test_cancel_then_execute_success(client, keypair, wallet):
    keys = control.seed_wallet(wallet, active=2, history=0)
    issued = client.cancel_order(wallet, keys[0])
    assert issued.request_id
    tx = VersionedTransaction.from_bytes(issued.transaction)
    assert tx.message.account_keys[0] == keypair.pubkey()
    result = client.execute(issued.request_id, sign(issued.transaction, keypair))
    assert result.succeeded
    assert result.order == keys[0]
    assert control.get_order(keys[0])["closeTx"] == result.signature


def test_execute_failed_status_is_not_success(client, wallet):
    keys = control.seed_wallet(wallet, active=1, history=0)
    issued = client.cancel_order(wallet, keys[0])
    result = client.execute(issued.request_id, sign(issued.transaction, Keypair()))
    assert result.status == "Failed"
    assert not result.succeeded
    assert result.error


def test_cancel_of_closed_order_says_already_closed(client, wallet):
    control.seed_wallet(wallet, active=0, history=1)
    closed = client.get_orders(wallet, "history").orders[0]
    with pytest.raises(upstream.OrderNotFound) as caught:
        client.cancel_order(wallet, closed.order_key)
    assert caught.value.code == "not_found"
    assert "failed to fill whole buffer" in caught.value.upstream_message


def test_get_is_retried_after_a_5xx(client, wallet):
    control.inject_fault("getRecurringOrders", "500", times=1)
    page = client.get_orders(wallet, "active")
    assert page.orders
    assert control.count_calls("getRecurringOrders") == 2


def test_get_gives_up_after_repeated_5xx(client, wallet):
    control.inject_fault("getRecurringOrders", "502", times=10)
    with pytest.raises(upstream.JupiterUnavailable) as caught:
        client.get_orders(wallet, "active")
    assert caught.value.retryable
    assert caught.value.status == 502
    assert len(caught.value.upstream_message) <= 200  # the HTML body, cut short
    assert control.count_calls("getRecurringOrders") == 3  # the first try and two retries


def test_posts_are_never_retried(client, keypair, wallet):
    keys = control.seed_wallet(wallet, active=1, history=0)
    control.inject_fault("cancelOrder", "500", times=1)
    with pytest.raises(upstream.JupiterUnavailable):
        client.cancel_order(wallet, keys[0])
    assert control.count_calls("cancelOrder") == 1

    issued = client.cancel_order(wallet, keys[0])
    control.inject_fault("execute", "502", times=1)
    with pytest.raises(upstream.JupiterUnavailable):
        client.execute(issued.request_id, sign(issued.transaction, keypair))
    assert control.count_calls("execute") == 1


def test_timeout_on_execute_is_not_retried_and_the_work_still_happens(client, keypair, wallet):
    keys = control.seed_wallet(wallet, active=1, history=0)
    issued = client.cancel_order(wallet, keys[0])
    control.inject_fault("execute", "timeout", times=1, seconds=2)
    with pytest.raises(upstream.JupiterUnavailable) as caught:
        client.execute(issued.request_id, sign(issued.transaction, keypair))
    assert caught.value.code == "unavailable"
    assert control.count_calls("execute") == 1  # logged before the late answer is written, never twice
    # The sandbox finished the work; reading the order settles what happened.
    closed = client.get_orders(wallet, "history").orders
    assert [o.order_key for o in closed] == [keys[0]]


def test_timeout_on_get(client, wallet):
    control.inject_fault("getRecurringOrders", "timeout", times=1, seconds=2)
    with pytest.raises(upstream.JupiterUnavailable) as caught:
        client.get_orders(wallet, "active")
    assert caught.value.retryable


def test_429_with_a_near_reset_is_waited_out(client, wallet):
    control.inject_fault("getRecurringOrders", "429", times=1)
    page = client.get_orders(wallet, "active")
    assert page.orders
    assert control.count_calls("getRecurringOrders") == 2


def test_429_with_a_far_reset_gives_up_at_once(client, wallet):
    control.set_rate_limit(Decimal("0.02"))  # one call a minute: the next slot is ~60 s away
    client.get_orders(wallet, "active")
    with pytest.raises(upstream.JupiterRateLimited) as caught:
        client.get_orders(wallet, "active")
    assert caught.value.status == 429
    assert caught.value.retryable
    assert caught.value.code == "rate_limited"
    assert 55 <= caught.value.retry_after <= 60  # from the window's x-ratelimit-reset, about a minute ahead


def test_429_on_post_is_not_retried(client, wallet):
    keys = control.seed_wallet(wallet, active=1, history=0)
    control.inject_fault("cancelOrder", "429", times=1)
    with pytest.raises(upstream.JupiterRateLimited):
        client.cancel_order(wallet, keys[0])
    assert control.count_calls("cancelOrder") == 1


def test_non_json_success_body_is_a_bad_response(client, wallet):
    control.inject_fault("getRecurringOrders", "nonjson", times=1)
    with pytest.raises(upstream.JupiterBadResponse) as caught:
        client.get_orders(wallet, "active")
    assert caught.value.status == 200
    assert caught.value.code == "bad_response"


def test_tokens_come_from_the_tokens_api(client):
    found = tokens.fetch_tokens([SOL, USDC])
    assert found[SOL].symbol == "SOL" and found[SOL].decimals == 9
    assert found[USDC].decimals == 6
    assert found[SOL].icon == ""  # the sandbox sends no icon; only https: icons are ever kept


def test_token_metadata_falls_back_to_the_built_in_table(sandbox_upstream, settings):
    unknown = str(Keypair().pubkey())
    control.inject_fault("tokens", "500", times=10)
    known = tokens.get_tokens([SOL, unknown])
    assert known[SOL].symbol == "SOL" and known[SOL].decimals == 9
    assert known[unknown].decimals is None
    assert known[unknown].symbol == f"{unknown[:4]}…{unknown[-4:]}"


def test_the_api_key_is_sent_but_never_logged(sandbox_upstream, settings, caplog, wallet):
    settings.JUPITER_API_KEY = "very-secret-key-123"
    control.inject_fault("getRecurringOrders", "500", times=10)
    with caplog.at_level(logging.DEBUG), pytest.raises(upstream.JupiterUnavailable):
        recurring.get_orders(wallet, "active")
    assert upstream.session().http.headers["x-api-key"] == "very-secret-key-123"
    assert "very-secret-key-123" not in caplog.text
    assert "gateway_request_id" in caplog.text or "request id" in caplog.text
