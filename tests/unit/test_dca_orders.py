"""dashboard/dca_orders.py: reading a DCA order and its lists, pure, every shape Jupiter might send (beta API)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard import dca_orders
from dashboard.upstream import JupiterBadResponse, UnexpectedShape
from tests.unit.figures import SPEC, spec_order

ORDER = {
    "id": "019f0530-36a7-77da-a38f-ed9414bb996b",
    "inputMint": "A",
    "outputMint": "B",
    "createdAt": "2026-07-01T00:00:00Z",
}


def test_one_order_answers():
    assert dca_orders.parse_order_answer({**ORDER, "state": "executing"}).listed == "active"
    assert dca_orders.parse_order_answer({"order": {**ORDER, "state": "cancelled"}}).listed == "history"
    assert dca_orders.parse_order_answer({**ORDER, "state": "something_new"}).listed == "history"
    for data in ({"id": "x"}, [ORDER], None):
        with pytest.raises(JupiterBadResponse):
            dca_orders.parse_order_answer(data)


def test_pages():
    with pytest.raises(JupiterBadResponse):
        dca_orders.parse_page({"orders": {"0": ORDER}, "pagination": {"total": 1}}, "active")
    with pytest.raises(JupiterBadResponse):
        dca_orders.parse_page("[]", "active")
    empty = dca_orders.parse_page({"orders": [], "pagination": {"total": 0, "limit": 100, "offset": 0}}, "active")
    assert empty.orders == () and empty.total == 0
    # A total smaller than what came is not believed.
    page = dca_orders.parse_page({"orders": [ORDER], "pagination": {"total": 0, "offset": 200}}, "history")
    assert page.total == 201 and page.offset == 200


@pytest.mark.parametrize(
    ("answer", "missing"),
    [
        ({}, "orders"),
        ({"data": [ORDER], "pagination": {"total": 1}}, "orders"),  # a renamed list
        ({"orders": [ORDER]}, "pagination.total"),
        ({"orders": [ORDER], "pagination": {"count": 1}}, "pagination.total"),
        # Every order's id renamed: not one order is readable.
        ({"orders": [{**ORDER, "id": None, "orderId": ORDER["id"]}] * 2, "pagination": {"total": 2}}, "orders[].id"),
    ],
)
def test_a_drifted_list_is_an_error_naming_the_key_never_an_empty_list(answer, missing, caplog):
    with pytest.raises(UnexpectedShape) as raised:
        dca_orders.parse_page(answer, "active")
    assert (raised.value.code, raised.value.missing) == ("unexpected_shape", missing)
    assert f"{missing} is missing" in caplog.text


def test_one_odd_order_is_counted_not_the_whole_list_refused():
    odd = {**ORDER, "id": "019f0530-0000-0000-0000-000000000001", "createdAt": None}
    page = dca_orders.parse_page({"orders": [ORDER, odd], "pagination": {"total": 2}}, "active")
    assert (len(page.orders), page.unreadable) == (1, 1)


def test_one_order_without_a_key_we_rely_on():
    with pytest.raises(UnexpectedShape) as raised:
        dca_orders.parse_order_answer({**ORDER, "inputMint": None, "state": "active"})
    assert raised.value.missing == "inputMint"


@pytest.mark.parametrize(
    ("value", "usd"),
    [
        (50, Decimal(50)),
        (0.1, Decimal("0.1")),
        ("182.35", Decimal("182.35")),
        (float("inf"), None),
        (float("nan"), None),
        ("Infinity", None),
        ("cheap", None),
        (True, None),
        (None, None),
    ],
)
def test_usd_figures(value, usd):
    assert dca_orders.to_usd(value) == usd


def test_unknown_field_values_as_text():
    assert dca_orders.plain({"b": [1, 2]}) == '{"b": [1, 2]}'
    assert dca_orders.plain(object()) == "?"


# --- Jupiter's published spec (tests/fixtures/jupiter-dca-v2-orders.json) ---------------------


def test_the_spec_list_parses_with_its_pagination():
    page = dca_orders.parse_page(SPEC["list"], "active")
    assert [o.id for o in page.orders] == ["019f0530-36a7-77da-a38f-ed9414bb996b"]
    assert (page.total, page.limit, page.offset, page.unreadable) == (1, 20, 0, 0)
    order = page.orders[0]
    assert order.min_price_usd == Decimal(50) and order.max_price_usd == Decimal(1000)
    assert order.raw_in_initial == 20_000_000 and order.fill_percent == Decimal(0)
    assert order.last_fill_at is None
    assert order.created_at.tzinfo is not None


@pytest.mark.parametrize(
    "broken",
    [
        {"id": ""},
        {"id": "../../etc"},
        {"inputMint": None},
        {"createdAt": "yesterday"},
        {"events": "none"},
    ],
)
def test_an_unreadable_order_is_counted_not_fatal(broken):
    good = spec_order()
    bad = {**spec_order(), **broken}
    page = dca_orders.parse_page({"orders": [bad, good, "not an order"], "pagination": {"total": 3}}, "active")
    assert [o.id for o in page.orders] == [good["id"]]
    assert page.unreadable == 2


def test_amounts_are_read_strictly():
    data = spec_order()
    data.update(inputAmountUsed=10000000.0, outputAmountTotal="-5", fillPercent=7, minPriceUsd="NaN")
    order = dca_orders.parse_order(data, "active")
    assert order.raw_in_used is None  # a float is not a base-unit amount
    assert order.raw_out_total is None
    assert order.fill_percent is None  # outside 0–1
    assert order.min_price_usd is None


def test_events_are_sorted_oldest_first_whatever_order_jupiter_sends():
    order = dca_orders.parse_order(spec_order(), "active")
    assert [e.type for e in order.events] == ["deposit", "fill"]
