"""dashboard/exports.py: the CSV export's rows, for both systems. Every expected cell was worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from dashboard.exports import FILL_COLUMNS, fill_columns, fill_rows
from dashboard.models import TrackedOrder
from dashboard.recurring_view import describe
from dashboard.tokens import Token
from tests.unit.figures import ODD_MINT, SOL_MINT, USDC_MINT, at, dca_view, make_fill, make_order, spec_order


def test_fill_rows_sorted_by_date() -> None:
    buy = describe(make_order(), {}, now=at(3))
    sell_fill = make_fill(at(1, 12), 500_000_000, 86_200_000, tx="sell1", raw_fee=86_200, fee_mint=USDC_MINT)
    sell = describe(
        make_order(
            order_key="ORDER2",
            input_mint=SOL_MINT,
            output_mint=USDC_MINT,
            raw_in_deposited=1_000_000_000,
            raw_in_per_cycle=500_000_000,
            fills=(sell_fill,),
        ),
        {},
        now=at(3),
    )
    rows = fill_rows([buy, sell])
    assert rows == [
        {
            "date (UTC)": "2025-01-01T00:00:30Z",
            "pair": "USDC → SOL",
            "in_amount": "50",
            "in_token": "USDC",
            "out_amount": "0.29",
            "out_token": "SOL",
            "fee_amount": "0.00029",
            "fee_token": "SOL",
            "price (in_token per 1 out_token)": "172.413793103",  # 50 / 0.29
            "signature": "sig1",
            "order": "ORDER1",
            "system": TrackedOrder.System.RECURRING.label,
        },
        {
            "date (UTC)": "2025-01-01T12:00:00Z",
            "pair": "SOL → USDC",
            "in_amount": "0.5",
            "in_token": "SOL",
            "out_amount": "86.2",
            "out_token": "USDC",
            "fee_amount": "0.0862",
            "fee_token": "USDC",
            "price (in_token per 1 out_token)": "0.00580046403712",  # 0.5 / 86.2
            "signature": "sell1",
            "order": "ORDER2",
            "system": TrackedOrder.System.RECURRING.label,
        },
        {
            "date (UTC)": "2025-01-02T00:00:40Z",
            "pair": "USDC → SOL",
            "in_amount": "50",
            "in_token": "USDC",
            "out_amount": "0.25",
            "out_token": "SOL",
            "fee_amount": "",
            "fee_token": "",
            "price (in_token per 1 out_token)": "200",
            "signature": "sig2",
            "order": "ORDER1",
            "system": TrackedOrder.System.RECURRING.label,
        },
    ]
    assert tuple(rows[0]) == FILL_COLUMNS
    assert fill_columns([buy, sell]) == FILL_COLUMNS  # v1 gives no USD value: no column


def test_fill_rows_add_the_usd_value_only_when_upstream_gives_it() -> None:
    view = describe(make_order(), {}, now=at(3))
    with_usd = replace(view, fills=(replace(view.fills[0], usd_value=Decimal("50.0123")), view.fills[1]))
    assert fill_columns([with_usd]) == (*FILL_COLUMNS, "value_usd_at_fill")
    rows = fill_rows([with_usd])
    assert [r["value_usd_at_fill"] for r in rows] == ["", "50.0123"]  # never invented for the other


def test_fill_rows_full_precision_and_utc() -> None:
    paris = timezone(timedelta(hours=1))
    tiny = make_fill(datetime(2025, 1, 1, 1, 0, 0, tzinfo=paris), 1_234_567_891, 1, tx="t")
    view = describe(make_order(input_mint=SOL_MINT, output_mint=SOL_MINT, fills=(tiny,)), {}, now=at(2))
    (row,) = fill_rows([view])
    assert row["date (UTC)"] == "2025-01-01T00:00:00Z"
    assert row["in_amount"] == "1.234567891"  # the screen shows 1.23457 SOL
    assert row["out_amount"] == "0.000000001"


def test_fill_rows_neutralise_formula_symbols() -> None:
    evil = Token(ODD_MINT, "=HYPERLINK", "", 6)
    view = describe(make_order(input_mint=ODD_MINT), {ODD_MINT: evil}, now=at(3))
    row = fill_rows([view])[0]
    assert row["in_token"] == "'=HYPERLINK"
    assert row["pair"] == "'=HYPERLINK → SOL"


def test_csv_rows_say_which_system() -> None:
    rows = fill_rows([dca_view(spec_order())])
    assert rows == [
        {
            "date (UTC)": "2026-06-26T18:42:11Z",
            "pair": "USDC → SOL",
            "in_amount": "10",
            "in_token": "USDC",
            "out_amount": "0.137589159",
            "out_token": "SOL",
            "fee_amount": "",
            "fee_token": "",
            "price (in_token per 1 out_token)": "72.680144807",  # 10 / 0.137589159
            "signature": "HuNMpjFkTjVrCYMN6gTPWV9ay3GSxTxM7sZj4WNzjvzQoe4J5CR71MnTpuMKH9rtkDoDCTWu6rYRM12oR9cpbb4",
            "order": "019f053d-3f0c-70ad-bb5e-76d633291f80",
            "system": TrackedOrder.System.DCA.label,
        }
    ]
