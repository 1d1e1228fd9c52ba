"""Recurring API v1: the pure parsers, on the drift the real API shows (no server, no database)."""

from __future__ import annotations

import threading

import pytest

from dashboard import recurring, upstream

SOL = "So11111111111111111111111111111111111111112"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def raw_order(**changes):
    order = {
        "orderKey": "5T3NGmbD8R59UWEaRaDq79r7fDxDUNidze3CVT94vrUb",
        "userPubkey": "5dMXLJ8GYQxcHe2fjpttVkEpRrxcajRXZqJHCiCbWS4H",
        "inputMint": USDC,
        "outputMint": SOL,
        "inDeposited": "100",
        "rawInDeposited": "100000000",
        "inUsed": "50",
        "rawInUsed": "50000000",
        "inWithdrawn": "0",
        "rawInWithdrawn": "0",
        "inAmountPerCycle": "50",
        "rawInAmountPerCycle": "50000000",
        "outReceived": "0.29",
        "rawOutReceived": "290000000",
        "outWithdrawn": "0",
        "rawOutWithdrawn": "0",
        "cycleFrequency": "86400",
        "openTx": "abc",
        "closeTx": "",
        "userClosed": False,
        "createdAt": "2025-01-02T03:04:05Z",
        "updatedAt": "2025-01-02T03:04:05.123Z",
        "trades": [],
    }
    order.update(changes)
    return order


@pytest.mark.parametrize("frequency", ["3600", 3600])
def test_cycle_frequency_as_string_or_number(frequency):
    assert recurring.parse_order(raw_order(cycleFrequency=frequency), "active").cycle_frequency == 3600


@pytest.mark.parametrize("close_tx", ["", None])
def test_close_tx_empty_or_null(close_tx):
    assert recurring.parse_order(raw_order(closeTx=close_tx), "active").close_tx == ""


def test_timestamps_with_and_without_milliseconds():
    order = recurring.parse_order(raw_order(), "active")
    assert order.created_at.isoformat() == "2025-01-02T03:04:05+00:00"
    assert order.updated_at.isoformat() == "2025-01-02T03:04:05.123000+00:00"


def test_flat_and_nested_list_shapes():
    flat = recurring.parse_orders_page({"totalPages": 3, "page": 2, "time": [raw_order()]}, "active", "time")
    nested = recurring.parse_orders_page(
        {"time": {"orders": [raw_order()], "totalPages": 3, "page": 2}}, "active", "time"
    )
    assert (flat.page, flat.total_pages, len(flat.orders)) == (2, 3, 1)
    assert (nested.page, nested.total_pages, len(nested.orders)) == (2, 3, 1)
    assert flat.orders == nested.orders


def test_garbage_order_list_is_refused():
    with pytest.raises(upstream.UnexpectedShape):
        recurring.parse_orders_page({"time": "nope", "totalPages": 1}, "active", "time")
    with pytest.raises(upstream.UnexpectedShape):
        recurring.parse_orders_page([1, 2], "active", "time")
    with pytest.raises(upstream.UnexpectedShape):
        recurring.parse_orders_page({"time": [1], "totalPages": 1}, "active", "time")


@pytest.mark.parametrize(
    ("answer", "missing"),
    [
        # The early live v1 answer: the list wrapped in "data".
        ({"data": {"time": {"orders": [raw_order()], "totalPages": 1, "page": 1}}}, "time"),
        ({"page": 1, "totalPages": 1, "timeOrders": [raw_order()]}, "time"),  # a renamed list
        ({"page": 1, "time": [raw_order()]}, "totalPages"),
        ({"time": {"orders": [raw_order()], "page": 1}}, "totalPages"),
        ({"page": 1, "totalPages": 1, "time": [raw_order(orderKey=None)]}, "time[].orderKey"),
        ({"time": {"orders": [raw_order(createdAt=None)], "totalPages": 1}}, "time.orders[].createdAt"),
    ],
)
def test_a_drifted_shape_is_an_error_naming_the_key_never_an_empty_page(answer, missing, caplog):
    with pytest.raises(upstream.UnexpectedShape) as raised:
        recurring.parse_orders_page(answer, "active", "time")
    assert raised.value.code == "unexpected_shape"
    assert raised.value.missing == missing
    assert isinstance(raised.value, upstream.JupiterBadResponse)
    assert f"{missing} is missing" in caplog.text


def test_cancel_answer_launched_shape_and_draft_fallback():
    launched = recurring.parse_cancel({"requestId": "r-1", "transaction": "AQID"})
    draft = recurring.parse_cancel({"id": "r-2", "tx": "AQID"})
    assert (launched.request_id, launched.transaction) == ("r-1", b"\x01\x02\x03")
    assert (draft.request_id, draft.transaction) == ("r-2", b"\x01\x02\x03")
    with pytest.raises(upstream.JupiterBadResponse):
        recurring.parse_cancel({"requestId": "r-3", "transaction": "not base64!"})
    with pytest.raises(upstream.JupiterBadResponse):
        recurring.parse_cancel({"transaction": "AQID"})


def test_floats_are_never_money():
    order = recurring.parse_order(raw_order(inDeposited=100.1), "active")
    assert order.in_deposited is None
    assert order.raw_in_deposited == 100_000_000


def test_a_float_frequency_is_read_as_whole_seconds():
    assert recurring.parse_order(raw_order(cycleFrequency=3600.0), "active").cycle_frequency == 3600


@pytest.mark.parametrize(
    "changes",
    [{"orderKey": ""}, {"cycleFrequency": None}, {"trades": "nope"}, {"inputMint": None}, {"createdAt": ""}],
)
def test_an_order_missing_what_defines_it_is_refused(changes):
    with pytest.raises(ValueError):
        recurring.parse_order(raw_order(**changes), "active")


def test_an_empty_page_is_read_when_its_keys_are_there():
    page = recurring.parse_orders_page({"page": 3, "totalPages": 3, "time": []}, "history", "time")
    assert (page.orders, page.page, page.total_pages) == ((), 3, 3)


def test_a_cancel_answer_that_is_not_an_object_is_a_bad_response():
    with pytest.raises(upstream.JupiterBadResponse):
        recurring.parse_cancel(["requestId", "transaction"])


@pytest.mark.parametrize("expected", [1, 3])
def test_fetch_pages_runs_meanwhile_once_page_1_is_in_while_the_others_are_in_flight(expected):
    """The caller records page 1 while pages 2 and 3 are still being fetched: they only come
    back once `meanwhile` has run (and page 1 had come back before it ran)."""
    released = threading.Event()
    arrived: list[int] = []

    def get_page(number: int) -> recurring.OrdersPage:
        if number > 1 and not released.wait(10):
            raise TimeoutError("meanwhile never ran while this page was in flight")
        arrived.append(number)
        return recurring.OrdersPage(orders=(), page=number, total_pages=3)

    def meanwhile() -> None:
        assert arrived == [1]
        released.set()

    pages = recurring.fetch_pages(get_page, expected=expected, meanwhile=meanwhile)
    assert [p.page for p in pages] == [1, 2, 3]
    assert released.is_set()
