"""dashboard/recurring_view.py: describing a Recurring v1 order. Every expected figure below was
worked out by hand."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from dashboard.formatting import Amount
from dashboard.models import TrackedOrder
from dashboard.recurring_view import describe, describe_fill
from dashboard.tokens import Token
from tests.unit.figures import (
    FILL_1,
    FILL_2,
    ODD_MINT,
    SOL,
    USDC,
    USDC_MINT,
    at,
    make_fill,
    make_order,
    make_sell_order,
)

# --- an active order --------------------------------------------------------------------------


def test_describe_active_order() -> None:
    view = describe(make_order(), {}, now=at(2, 12))

    assert view.order_key == "ORDER1"
    assert view.system == TrackedOrder.System.RECURRING and view.dca is None
    assert view.status == "active"
    assert view.status_words == "Active"
    assert view.is_active
    assert view.input_token == USDC
    assert view.output_token == SOL
    assert view.pair == "USDC → SOL"
    assert view.per_cycle.text == "50 USDC"
    assert view.frequency == "every day"
    assert view.schedule == "50 USDC every day"
    assert view.progress.total == 3
    assert view.progress.done == 2
    assert view.progress.percent == 66  # 100 / 150 = 66.7 %, floored
    assert view.funds.deposited.text == "150 USDC"
    assert view.funds.spent.text == "100 USDC"
    assert view.funds.remaining.text == "50 USDC"
    assert view.funds.withdrawn_in.text == "0 USDC"
    assert view.funds.received.text == "0.54 SOL"
    assert view.funds.withdrawn_out.text == "0 SOL"
    assert view.funds.unwithdrawn_out.text == "0.54 SOL"
    assert view.average_price == "1 SOL ≈ 185.19 USDC"  # 100 / 0.54 = 185.185…
    assert view.next_cycle == at(3, 0, 0, 40)  # last fill + 1 day
    assert view.created_at == at(1)
    assert view.closed_at is None
    assert view.order_url == "https://solscan.io/account/ORDER1"
    assert view.open_tx_url == "https://solscan.io/tx/openSig"
    assert view.close_tx_url == ""
    assert view.refund_text == "50 USDC not yet spent, 0.54 SOL bought so far and about 0.002 SOL of account rent"
    assert view.progress.left == 1
    assert view.last_buy == at(3, 0, 0, 40)  # one buy left: the next one is the last

    newest, oldest = view.fills
    assert newest.confirmed_at == at(2, 0, 0, 40)
    assert newest.spent.text == "50 USDC"
    assert newest.received.text == "0.25 SOL"
    assert newest.fee is None
    assert newest.rate == "1 SOL ≈ 200.00 USDC"
    assert newest.tx_id == "sig2"
    assert newest.explorer_url == "https://solscan.io/tx/sig2"
    assert oldest.received.text == "0.29 SOL"
    assert oldest.fee == Amount(Decimal("0.00029"), SOL)
    assert oldest.fee.text == "0.00029 SOL"
    assert oldest.rate == "1 SOL ≈ 172.41 USDC"


def test_explorer_urls_follow_settings(settings) -> None:
    settings.EXPLORER_TX_URL = "https://explorer.example/tx/{}?cluster=devnet"
    settings.EXPLORER_ACCOUNT_URL = "https://explorer.example/address/{}"
    view = describe(make_order(), {}, now=at(2, 12))
    assert view.order_url == "https://explorer.example/address/ORDER1"
    assert view.open_tx_url == "https://explorer.example/tx/openSig?cluster=devnet"
    assert view.fills[0].explorer_url == "https://explorer.example/tx/sig2?cluster=devnet"


def test_deposits_are_not_cycles() -> None:
    deposit = make_fill(at(1), 150_000_000, 0, tx="dep", action="Deposit")
    view = describe(make_order(fills=(deposit, FILL_1, FILL_2)), {}, now=at(2, 12))
    assert view.progress.done == 2
    assert [f.tx_id for f in view.fills] == ["sig2", "sig1"]


def test_cycles_round_up_and_done_is_capped() -> None:
    # 100 / 30 = 3.33 → 4 cycles (the last one smaller); five fills reported → 4 done.
    fills = tuple(make_fill(at(d), 30_000_000, 1_000_000, tx=f"s{d}") for d in range(1, 6))
    order = make_order(
        raw_in_deposited=100_000_000,
        raw_in_per_cycle=30_000_000,
        raw_in_used=100_000_000,
        fills=fills,
    )
    view = describe(order, {}, now=at(9))
    assert view.progress.total == 4
    assert view.progress.done == 4
    assert view.progress.percent == 100
    assert view.funds.remaining.text == "0 USDC"
    assert view.next_cycle is None  # nothing left to swap


def test_cycles_from_decimal_strings_when_base_units_are_missing() -> None:
    # 100 / 30 USDC = 3.33 → 4 cycles, from Jupiter's decimal strings alone.
    order = make_order(
        raw_in_deposited=None, raw_in_per_cycle=None, in_deposited=Decimal("100"), in_per_cycle=Decimal("30")
    )
    assert describe(order, {}, now=at(2, 12)).progress.total == 4


def test_unknown_cycle_size() -> None:
    view = describe(make_order(raw_in_per_cycle=None), {}, now=at(2, 12))
    assert view.per_cycle is None
    assert view.schedule == "an unknown amount of USDC every day"
    assert view.progress.total == 0
    assert view.progress.done == 2


@pytest.mark.parametrize(("raw_in_used", "percent"), [(1_000_000, 0), (149_999_999, 99)])
def test_percent_floors_small_progress(raw_in_used: int, percent: int) -> None:
    # 1 of 150 USDC used = 0.67 % → 0; 149.999999 of 150 → 99.
    assert describe(make_order(raw_in_used=raw_in_used), {}, now=at(2)).progress.percent == percent


# --- next cycle -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2, 12), at(3, 0, 0, 40)),
        # Due, or less than a cycle late: it stays (the card reads "due now").
        (at(3, 0, 0, 40), at(3, 0, 0, 40)),
        (at(3, 23), at(3, 0, 0, 40)),
        # A whole cycle late, cycles missed (3rd, 4th, 5th at 00:00:40): advanced by whole days past now.
        (at(5, 6), at(6, 0, 0, 40)),
    ],
)
def test_next_cycle_after_last_fill(now: datetime, expected: datetime) -> None:
    assert describe(make_order(), {}, now=now).next_cycle == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(1, 1), at(1, 4)),
        (at(1, 10, 30), at(1, 12)),  # 04:00 and 08:00 missed → 12:00
    ],
)
def test_next_cycle_without_fills_counts_from_creation(now: datetime, expected: datetime) -> None:
    order = make_order(fills=(), raw_in_used=0, raw_out_received=0, cycle_frequency=4 * 3600)
    assert describe(order, {}, now=now).next_cycle == expected


def test_next_cycle_unknown_interval() -> None:
    assert describe(make_order(cycle_frequency=0), {}, now=at(2)).next_cycle is None


# --- history orders ---------------------------------------------------------------------------


def test_cancelled_order_with_withdrawals() -> None:
    order = make_order(
        status="history",
        user_closed=True,
        raw_in_used=50_000_000,
        raw_in_withdrawn=100_000_000,
        raw_out_received=290_000_000,
        raw_out_withdrawn=290_000_000,
        close_tx="closeSig",
        updated_at=at(1, 9, 15),
        fills=(FILL_1,),
    )
    view = describe(order, {}, now=at(3))
    assert view.status == "history"
    assert view.status_words == "Cancelled by you"
    assert not view.is_active
    assert view.progress.total == 3
    assert view.progress.done == 1
    assert view.progress.percent == 33
    assert view.funds.remaining.text == "0 USDC"
    assert view.funds.withdrawn_in.text == "100 USDC"
    assert view.funds.unwithdrawn_out.text == "0 SOL"
    assert view.refund_text == "About 0.002 SOL of account rent"
    assert view.next_cycle is None
    assert view.last_buy is None
    assert view.closed_at == at(1, 9, 15)
    assert view.close_tx_url == "https://solscan.io/tx/closeSig"


@pytest.mark.parametrize(
    ("changes", "refund_text"),
    [
        # Active, 50 USDC left, all 0.54 SOL already sent to the wallet.
        ({"raw_out_withdrawn": 540_000_000}, "50 USDC not yet spent and about 0.002 SOL of account rent"),
        # Everything swapped, SOL not yet withdrawn.
        ({"raw_in_used": 150_000_000}, "0.54 SOL bought so far and about 0.002 SOL of account rent"),
    ],
)
def test_refund_leaves_out_zero_parts(changes: dict, refund_text: str) -> None:
    assert describe(make_order(**changes), {}, now=at(2)).refund_text == refund_text


def test_nothing_left_to_spend_means_no_more_buys() -> None:
    view = describe(make_order(raw_in_used=150_000_000), {}, now=at(2))
    assert view.next_cycle is None
    assert view.last_buy is None


def test_remaining_never_negative() -> None:
    view = describe(make_order(raw_in_used=120_000_000, raw_in_withdrawn=40_000_000), {}, now=at(2))
    assert view.funds.remaining.text == "0 USDC"


def test_completed_order() -> None:
    order = make_order(status="history", raw_in_used=150_000_000, raw_out_withdrawn=540_000_000)
    view = describe(order, {}, now=at(9))
    assert view.status_words == "Completed"
    assert view.progress.percent == 100
    assert view.refund_text == "About 0.002 SOL of account rent"
    assert view.closed_at == at(2, 0, 0, 40)


def test_average_price_without_fills_uses_order_totals() -> None:
    order = make_order(status="history", fills=(), raw_in_used=100_000_000, raw_out_received=500_000_000)
    assert describe(order, {}, now=at(3)).average_price == "1 SOL ≈ 200.00 USDC"


def test_average_price_empty_before_any_fill() -> None:
    order = make_order(fills=(), raw_in_used=0, raw_out_received=0)
    assert describe(order, {}, now=at(1, 1)).average_price == ""


# --- tokens -----------------------------------------------------------------------------------


def test_unknown_token_uses_decimal_strings_and_short_mint() -> None:
    fill = make_fill(
        at(1, 0, 1),
        50_000_000,
        432_150_000,
        tx="sigOdd",
        raw_fee=1,
        fee_mint=ODD_MINT,
        out_amount="4321.5",
        fee_amount="0.0004",
    )
    order = make_order(
        output_mint=ODD_MINT,
        raw_in_used=50_000_000,
        raw_out_received=432_150_000,
        out_received=Decimal("4321.5"),
        raw_out_withdrawn=0,
        out_withdrawn=None,  # no decimal string and no decimals: unknown
        fills=(fill,),
    )
    view = describe(order, {}, now=at(1, 12))
    assert view.output_token == Token(ODD_MINT, "Tok3…1111", "", None)
    assert view.pair == "USDC → Tok3…1111"
    assert view.funds.received.text == "4,321.5 Tok3…1111"
    assert view.funds.withdrawn_out is None
    assert view.funds.unwithdrawn_out is None
    assert view.refund_text == (
        "100 USDC not yet spent, the Tok3…1111 bought so far and about 0.002 SOL of account rent"
    )
    (shown,) = view.fills
    assert shown.received.text == "4,321.5 Tok3…1111"
    assert shown.fee.text == "0.0004 Tok3…1111"
    assert shown.rate == "1 Tok3…1111 ≈ 0.01157 USDC"  # 50 / 4321.5 = 0.0115700…
    assert view.average_price == "1 Tok3…1111 ≈ 0.01157 USDC"


def test_token_metadata_from_the_tokens_dict() -> None:
    odd = Token(ODD_MINT, "ODD", "Odd", 3)
    order = make_order(output_mint=ODD_MINT, raw_out_received=4_321_500, fills=())
    view = describe(order, {ODD_MINT: odd}, now=at(1, 12))
    assert view.output_token == odd
    assert view.funds.received.text == "4,321.5 ODD"


@pytest.mark.parametrize(
    ("raw_fee", "fee_mint", "fee"),
    [
        (50_000, USDC_MINT, "0.05 USDC"),  # another known token
        (290_000, "", "0.00029 SOL"),  # no mint: the output token
        (290_000, "Strange1111111", "0.00029 SOL"),  # a mint we do not know: the output token
    ],
)
def test_fee_in_another_known_token_or_output_token(raw_fee: int, fee_mint: str, fee: str) -> None:
    fill = make_fill(at(1), 50_000_000, 290_000_000, raw_fee=raw_fee, fee_mint=fee_mint)
    assert describe_fill(fill, USDC, SOL, {}).fee.text == fee


def test_sell_order_reads_in_the_stablecoin() -> None:
    # Selling 0.5 SOL a cycle for USDC: one fill 0.5 SOL → 86.2 USDC.
    fill = make_fill(at(1, 0, 1), 500_000_000, 86_200_000, tx="sell1")
    order = make_sell_order(fill, cycle_frequency=3600)
    view = describe(order, {}, now=at(1, 0, 30))
    assert view.schedule == "0.5 SOL every hour"
    assert view.progress.total == 4
    assert view.progress.percent == 25
    assert view.average_price == "1 SOL ≈ 172.40 USDC"
    assert view.refund_text == "1.5 SOL not yet sold, 86.2 USDC received so far and about 0.002 SOL of account rent"
    assert view.next_cycle == at(1, 1, 1)


# --- when it ends -----------------------------------------------------------------------------


def test_last_buy_of_a_time_based_order() -> None:
    # 300 USDC, 50 a day, 2 buys done (last at 2 Jan 00:00:40): 4 left, next 3 Jan → last 6 Jan.
    order = make_order(raw_in_deposited=300_000_000)
    view = describe(order, {}, now=at(2, 12))
    assert view.progress.left == 4
    assert view.next_cycle == at(3, 0, 0, 40)
    assert view.last_buy == at(6, 0, 0, 40)


def test_last_buy_counts_what_is_left_not_the_buys_reported() -> None:
    # 250 USDC deposited, 100 used, 40 withdrawn: 110 left at 50 a cycle → 3 more buys.
    order = make_order(raw_in_deposited=250_000_000, raw_in_withdrawn=40_000_000)
    view = describe(order, {}, now=at(2, 12))
    assert view.progress.left == 3
    assert view.last_buy == at(5, 0, 0, 40)


@pytest.mark.parametrize(
    ("changes", "now"), [({"cycle_frequency": 0}, at(2)), ({"status": "history"}, at(9))], ids=["no interval", "closed"]
)
def test_no_last_buy_for_unknown_intervals_or_closed_orders(changes: dict, now: datetime) -> None:
    assert describe(make_order(**changes), {}, now=now).last_buy is None


# --- timeline ---------------------------------------------------------------------------------


def test_timeline_of_an_active_order() -> None:
    view = describe(make_order(), {}, now=at(2, 12))
    assert [(e.kind, e.when, e.words, e.tx_url) for e in view.events] == [
        ("buy", at(2, 0, 0, 40), "Bought 0.25 SOL for 50 USDC", "https://solscan.io/tx/sig2"),
        ("buy", at(1, 0, 0, 30), "Bought 0.29 SOL for 50 USDC", "https://solscan.io/tx/sig1"),
        ("created", at(1), "Order created: 150 USDC deposited, 50 USDC every day", "https://solscan.io/tx/openSig"),
    ]
    assert view.events[1].rate == "1 SOL ≈ 172.41 USDC"
    assert view.events[1].fee.text == "0.00029 SOL"


def test_timeline_of_a_cancelled_order_with_deposit_and_refund() -> None:
    deposit = make_fill(at(1, 0, 0, 5), 150_000_000, 0, tx="dep", action="Deposit")
    order = make_order(
        status="history",
        user_closed=True,
        raw_in_used=50_000_000,
        raw_in_withdrawn=100_000_000,
        raw_out_received=290_000_000,
        raw_out_withdrawn=290_000_000,
        open_tx="",
        close_tx="closeSig",
        updated_at=at(1, 9, 15),
        fills=(deposit, FILL_1),
    )
    view = describe(order, {}, now=at(3))
    assert [(e.kind, e.words, e.tx_url) for e in view.events] == [
        ("refund", "In your wallet: 100 USDC not spent and 0.29 SOL bought", "https://solscan.io/tx/closeSig"),
        ("cancelled", "Cancelled by you", "https://solscan.io/tx/closeSig"),
        ("buy", "Bought 0.29 SOL for 50 USDC", "https://solscan.io/tx/sig1"),
        ("deposit", "Deposited: 150 USDC", "https://solscan.io/tx/dep"),
        ("created", "Order created: 150 USDC deposited, 50 USDC every day", None),  # no openTx: no link
    ]


def test_timeline_of_a_completed_order() -> None:
    order = make_order(status="history", raw_in_used=150_000_000, raw_out_withdrawn=540_000_000, close_tx="c")
    kinds = [e.kind for e in describe(order, {}, now=at(9)).events]
    assert kinds == ["refund", "completed", "buy", "buy", "created"]


def test_timeline_names_withdrawals_and_events_it_does_not_know() -> None:
    withdraw = make_fill(at(1, 5), 0, 290_000_000, tx="w", action="Withdraw")
    odd = make_fill(at(1, 6), None, None, tx="", action="Rebalance")
    view = describe(make_order(fills=(FILL_1, withdraw, odd)), {}, now=at(2))
    assert [(e.kind, e.words, e.tx_url) for e in view.events[:2]] == [
        ("rebalance", "Rebalance", None),
        ("withdrawal", "Sent to your wallet: 0.29 SOL", "https://solscan.io/tx/w"),
    ]
    assert view.progress.done == 1  # neither is a buy


def test_buys_are_described_only_when_read_and_only_once() -> None:
    view = describe(make_order(), {}, now=at(2, 12))
    assert "fills" not in view.__dict__  # a card reads the count and the totals, not the buys
    assert view.fill_count == 2
    assert [a.text for a in view.bought] == ["100 USDC", "0.54 SOL"]
    assert view.average_price == "1 SOL ≈ 185.19 USDC"
    buys = [e for e in view.events if e.kind == "buy"]  # the timeline describes them first…
    assert [e.fee for e in buys] == [f.fee for f in view.fills]  # …and the fills page reads the same ones
    assert view.fills_of() is view.fills


@pytest.mark.parametrize(
    ("withdrawn_in", "withdrawn_out", "back"),
    [
        (100_000_000, 290_000_000, ["In your wallet: 100 USDC not spent and 0.29 SOL bought"]),
        (100_000_000, 0, ["In your wallet: 100 USDC not spent"]),  # nothing bought came back
        (0, 290_000_000, ["In your wallet: 0.29 SOL bought"]),
        (0, 0, []),  # nothing came back: no line says so
    ],
)
def test_a_closed_orders_timeline_says_only_what_came_back(withdrawn_in: int, withdrawn_out: int, back: list) -> None:
    order = make_order(
        status="history",
        user_closed=True,
        raw_in_withdrawn=withdrawn_in,
        raw_out_withdrawn=withdrawn_out,
        close_tx="closeSig",
        fills=(FILL_1,),
    )
    events = describe(order, {}, now=at(3)).events
    assert [e.words for e in events if e.kind == "refund"] == back
    assert [e.kind for e in events][:1] == ["refund"] if back else ["cancelled"]
