"""dashboard/orders.py for Jupiter's newer DCA orders (Trigger API v2): `describe_dca` and its
words. Every expected figure was worked out by hand; the first two orders are the examples of
Jupiter's published spec (tests/fixtures/jupiter-dca-v2-orders.json)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard import orders, trigger
from dashboard.dca_view import describe_dca
from dashboard.exports import fill_rows
from dashboard.formatting import usd_price_text
from dashboard.tokens import Token

SPEC = json.loads((Path(__file__).parents[1] / "fixtures" / "jupiter-dca-v2-orders.json").read_text())
SOL_MINT = "So11111111111111111111111111111111111111112"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
JUP_MINT = "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"
TOKENS = {
    SOL_MINT: Token(SOL_MINT, "SOL", "Wrapped SOL", 9),
    USDC_MINT: Token(USDC_MINT, "USDC", "USD Coin", 6),
    JUP_MINT: Token(JUP_MINT, "JUP", "Jupiter", 6),
}
NOW = datetime(2026, 6, 26, 19, 0, tzinfo=timezone.utc)


def spec_list_order() -> dict:
    return copy.deepcopy(SPEC["list"]["orders"][0])


def spec_order() -> dict:
    return copy.deepcopy(SPEC["order"])


def view(data: dict, listed: str = "active", tokens: dict | None = None) -> orders.OrderView:
    return describe_dca(trigger.parse_order(data, listed), TOKENS if tokens is None else tokens, NOW)


def event(kind: str, state: str, at: str, **fields: object) -> dict:
    return {"type": kind, "state": state, "timestamp": f"2026-06-{at}Z", **fields}


# --- the spec's examples -------------------------------------------------------------------------


def test_spec_order_with_one_fill_reads_like_a_v1_order():
    v = view(spec_order())
    assert v.system == "v2"
    assert v.order_key == "019f053d-3f0c-70ad-bb5e-76d633291f80"
    assert v.pair == "USDC → SOL"
    assert v.schedule == "10 USDC every hour"
    assert (v.cycles_done, v.cycles_total, v.percent) == (1, 2, 50)
    assert v.deposited.text == "20 USDC"
    assert v.spent.text == "10 USDC"
    assert v.remaining.text == "10 USDC"
    assert v.received.text == "0.1376 SOL"  # 137,589,159 lamports
    assert v.average_price == "1 SOL ≈ 72.68 USDC"  # 10 / 0.137589159 = 72.6801…
    assert v.status_words == "Active" and v.is_active
    # Jupiter's own schedule, not an estimate of ours.
    assert v.next_cycle is None
    assert v.next_fill_at == datetime(2026, 6, 26, 19, 44, 57, 469000, tzinfo=timezone.utc)
    (fill,) = v.fills
    assert fill.spent.text == "10 USDC" and fill.received.text == "0.1376 SOL"
    assert fill.fee is None  # Jupiter deducts its fee from the output already
    assert fill.explorer_url == (
        "https://solscan.io/tx/HuNMpjFkTjVrCYMN6gTPWV9ay3GSxTxM7sZj4WNzjvzQoe4J5CR71MnTpuMKH9rtkDoDCTWu6rYRM12oR9cpbb4"
    )
    assert v.open_tx_url.endswith(
        "/32hAuVdZ57y5TUEx4vdV75zJyTqoCVqAby4eiayrmUW1TCuwoAvPRBcnhPMLN1YpfCp4Rc6HiLXKsi3NF5iWVcrn"
    )
    assert v.order_url == "https://solscan.io/account/66xK9AE6oFpGAyn9eCWE3LtYwUZKkeUxbfjFSNmFnkBo"
    # Bought SOL is already in the wallet; the refund closes the vault's token account (its rent too).
    assert v.refund_text == "10 USDC not yet spent and about 0.002 SOL of account rent"
    assert v.rounds == () and v.extra == ()
    assert v.price_band == "" and v.earn == ""


def test_spec_price_conditional_order_has_its_band_and_no_fills():
    v = view(spec_list_order())
    assert v.price_band == "Only buys while SOL is between $50 and $1,000"
    assert v.schedule == "10 USDC every day"
    assert (v.cycles_done, v.cycles_total, v.percent) == (0, 2, 0)
    assert v.fills == ()
    assert v.average_price == ""  # the card reads "No fills yet"
    assert v.remaining.text == "20 USDC"
    assert v.received.text == "0 SOL"


def test_the_spec_list_parses_with_its_pagination():
    page = trigger.parse_page(SPEC["list"], "active")
    assert [o.id for o in page.orders] == ["019f0530-36a7-77da-a38f-ed9414bb996b"]
    assert (page.total, page.limit, page.offset, page.unreadable) == (1, 20, 0, 0)
    order = page.orders[0]
    assert order.min_price_usd == Decimal(50) and order.max_price_usd == Decimal(1000)
    assert order.raw_in_initial == 20_000_000 and order.fill_percent == Decimal(0)
    assert order.last_fill_at is None
    assert order.created_at.tzinfo is not None


# --- states --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("depositing", "Starting"),
        ("active", "Active"),
        ("executing", "Buying now"),
        ("withdrawing", "Cancelling — the refund still needs your approval"),
        ("completed", "Completed"),
        ("cancelled", "Cancelled"),
        ("deposit_failed", "The deposit failed; nothing was bought"),
        ("paused_by_jupiter", "Jupiter reports this order as “paused_by_jupiter”"),
        ("", "Jupiter did not say what state this order is in"),
    ],
)
def test_every_state_in_words(state, words):
    data = spec_order()
    data["state"] = state
    listed = "history" if state in ("completed", "cancelled", "deposit_failed") else "active"
    assert view(data, listed).status_words == words


def test_jupiters_schedule_only_while_the_order_still_buys():
    for state, scheduled in (("depositing", True), ("executing", True), ("withdrawing", False), ("cancelled", False)):
        data = spec_order()
        data["state"] = state
        assert (view(data).next_fill_at is not None) is scheduled, state


def test_cancelled_order_returns_the_refund_not_the_stale_remaining_amount():
    # Jupiter does not zero inputAmountRemaining after a cancel: the withdrawal event says what came back.
    data = spec_order()
    data["state"] = "cancelled"
    data["events"].insert(
        0,
        event("withdrawal", "success", "26T20:00:00.000", txSignature="RefundSig", inputAmount="9000000"),
    )
    v = view(data, "history")
    assert v.status == "history" and v.status_words == "Cancelled"
    assert v.withdrawn_in.text == "9 USDC"
    assert v.remaining.text == "0 USDC"
    assert v.close_tx_url == "https://solscan.io/tx/RefundSig"
    assert v.closed_at == datetime(2026, 6, 26, 18, 42, 11, 469000, tzinfo=timezone.utc)
    # Without a withdrawal event, the vault's remaining amount is what was refunded.
    data["events"].pop(0)
    assert view(data, "history").withdrawn_in.text == "10 USDC"


def test_withdrawing_order_still_holds_its_deposit_until_the_refund_is_approved():
    data = spec_order()
    data["state"] = "withdrawing"
    v = view(data)
    assert v.is_active
    assert v.remaining.text == "10 USDC"
    assert v.refund_text == "10 USDC not yet spent and about 0.002 SOL of account rent"
    assert v.next_fill_at is None


def test_failed_deposit_bought_nothing():
    data = spec_list_order()
    data.update(state="deposit_failed", inputAmountUsed="0")
    data["events"][0]["state"] = "failed"
    v = view(data, "history")
    assert v.status_words == "The deposit failed; nothing was bought"
    assert v.fills == ()
    assert [r.words for r in v.rounds] == ["The deposit failed"]
    assert v.withdrawn_in is None  # the card shows "—": nothing left the wallet to come back


# --- rounds --------------------------------------------------------------------------------------


def test_failed_and_rescheduled_rounds_are_shown_as_such():
    data = spec_order()
    data["events"] = [
        event(
            "fill",
            "success",
            "26T22:00:05.000",
            roundNumber=2,
            inputAmount="10000000",
            outputAmount="130000000",
            txSignature="Fill2",
            attemptCount=1,
        ),
        event("fill", "rescheduled", "26T20:30:00.000", roundNumber=2, attemptCount=3, txSignature=None),
        event("fill", "failed", "26T20:01:00.000", roundNumber=2, attemptCount=3, txSignature="Fail3"),
        event("fill", "failed", "26T20:00:40.000", roundNumber=2, attemptCount=2, txSignature="Fail2"),
        event("fill", "failed", "26T20:00:20.000", roundNumber=2, attemptCount=1, txSignature="Fail1"),
        event(
            "fill",
            "success",
            "26T18:42:11.469",
            roundNumber=1,
            inputAmount="10000000",
            outputAmount="137589159",
            txSignature="Fill1",
        ),
    ]
    data["roundsFilled"] = 2
    v = view(data)
    assert [f.tx_id for f in v.fills] == ["Fill2", "Fill1"]  # newest first, failures are not fills
    (round_two,) = v.rounds
    assert round_two.words == (
        "Round 2 failed after 3 attempts and was moved to the next interval; it was filled later"
    )
    assert round_two.explorer_url == "https://solscan.io/tx/Fail3"  # the last failed attempt
    assert v.average_price == "1 SOL ≈ 74.74 USDC"  # 20 USDC / 0.267589159 SOL = 74.7414…


def test_a_round_running_now_and_a_round_moved_without_failing():
    data = spec_order()
    data["state"] = "executing"
    data["events"] += [
        event("fill", "rescheduled", "26T17:00:00.000", roundNumber=3),
        event("fill", "pending", "26T19:45:00.000", roundNumber=4, inputAmount="10000000", txSignature="Pending4"),
        event("fill", "failed", "26T19:10:00.000", roundNumber=5),
    ]
    words = [r.words for r in view(data).rounds]
    assert words == [
        "Round 3 was moved to the next interval",
        "Round 5 failed",
        "Round 4 is being bought now",
    ]


def test_unknown_event_types_and_states_are_shown_plainly():
    data = spec_order()
    data["events"] += [
        event("rebalance", "success", "26T19:00:00.000"),
        event("fill", "queued", "26T19:30:00.000", roundNumber=2),
        {"type": "fill", "roundNumber": 3},  # no state, no time: listed last
    ]
    words = [r.words for r in view(data).rounds]
    assert words == [
        "Jupiter reports a “rebalance” event (success)",
        "Round 2 is “queued” according to Jupiter",
        "Round 3 is “without a state” according to Jupiter",
    ]


# --- what Jupiter may add (beta API) -------------------------------------------------------------


def test_unknown_fields_and_order_types_are_kept_as_plain_text():
    data = spec_order()
    data.update(
        orderType="twap_plus",
        boostFactor=1.5,
        labels={"b": 2, "a": [1, "x"]},
        note="  spaced\n  out  ",
        nothing=None,
        longText="y" * 500,
    )
    v = view(data)
    extra = dict(v.extra)
    assert extra["orderType"] == "twap_plus"
    assert extra["boostFactor"] == "1.5"
    assert extra["labels"] == '{"a": [1, "x"], "b": 2}'
    assert extra["note"] == "spaced out"
    assert "nothing" not in extra
    assert len(extra["longText"]) == trigger.MAX_EXTRA_CHARS and extra["longText"].endswith("…")


def test_missing_optional_fields_never_crash():
    data = {
        "id": "019f0530-0000-7000-8000-000000000000",
        "inputMint": USDC_MINT,
        "outputMint": "Unkn0wnMint1111111111111111111111111111111",
        "createdAt": "2026-06-26T18:00:00Z",
    }
    v = view(data)
    assert v.pair == "USDC → Unkn…1111"
    assert v.schedule == "an unknown amount of USDC at an unknown interval"
    assert (v.cycles_done, v.cycles_total, v.percent) == (0, 0, 0)
    assert v.spent is None and v.received is None and v.remaining is None
    assert v.status_words == "Jupiter did not say what state this order is in"
    assert v.order_url == "" and v.fills == () and v.rounds == ()


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
    page = trigger.parse_page({"orders": [bad, good, "not an order"], "pagination": {"total": 3}}, "active")
    assert [o.id for o in page.orders] == [good["id"]]
    assert page.unreadable == 2


def test_amounts_are_read_strictly():
    data = spec_order()
    data.update(inputAmountUsed=10000000.0, outputAmountTotal="-5", fillPercent=7, minPriceUsd="NaN")
    order = trigger.parse_order(data, "active")
    assert order.raw_in_used is None  # a float is not a base-unit amount
    assert order.raw_out_total is None
    assert order.fill_percent is None  # outside 0–1
    assert order.min_price_usd is None


def test_events_are_sorted_oldest_first_whatever_order_jupiter_sends():
    order = trigger.parse_order(spec_order(), "active")
    assert [e.type for e in order.events] == ["deposit", "fill"]


# --- words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("50", "$50"),
        ("1000", "$1,000"),
        ("182.35", "$182.35"),
        ("182.3", "$182.30"),
        ("0.5", "$0.5"),
        ("0.000123456", "$0.0001235"),
        ("0", "$0"),
        ("1234567.891", "$1,234,567.89"),
    ],
)
def test_usd_price_text(value, text):
    assert usd_price_text(Decimal(value)) == text


def test_price_band_with_one_bound_or_none():
    data = spec_list_order()
    data["maxPriceUsd"] = None
    assert view(data).price_band == "Only buys while SOL is at or above $50"
    data.update(minPriceUsd=None, maxPriceUsd=250.75)
    assert view(data).price_band == "Only buys while SOL is at or below $250.75"
    data["maxPriceUsd"] = None
    assert view(data).price_band == "Only buys when SOL's price meets Jupiter's condition (Jupiter did not say which)"
    # Without triggerMint: the side that is not a stablecoin.
    data.update(triggerMint=None, minPriceUsd=0.0123)
    assert view(data).price_band == "Only buys while SOL is at or above $0.0123"
    data["orderType"] = "time_based"
    assert view(data).price_band == ""


def test_earn_while_you_wait():
    data = spec_order()
    data.update(jlEnabled=True, jlYieldUsd=0.4213)
    assert view(data).earn == (
        "Earn While You Wait is on: the deposit waiting to be spent earns Jupiter Lend yield — $0.4213 so far"
    )
    data["jlYieldUsd"] = None
    assert view(data).earn.endswith("(no yield reported yet)")
    data["jlEnabled"] = "yes"  # only a JSON true counts
    assert view(data).earn == ""


def test_csv_rows_say_which_system():
    rows = fill_rows([view(spec_order())])
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
            "system": "DCA v2",
        }
    ]


# --- the trader's questions, for v2 too: timeline, value at today's price, the last buy ----------


def test_v2_events_feed_the_same_timeline():
    v = view(spec_order())
    assert [(e.kind, e.words) for e in v.events] == [
        ("buy", "Bought 0.1376 SOL for 10 USDC"),
        ("deposit", "Deposited 20 USDC"),
        ("created", "Order created: 20 USDC deposited, 10 USDC every hour"),
    ]
    buy, deposit, created = v.events
    assert buy.tx_url == v.fills[0].explorer_url and buy.rate == "1 SOL ≈ 72.68 USDC"
    assert deposit.tx_url == v.open_tx_url
    assert created.tx_url is None  # v2 has no opening transaction of its own


def test_v2_value_at_todays_price_and_last_buy():
    priced = {
        **TOKENS,
        USDC_MINT: Token(USDC_MINT, "USDC", "USD Coin", 6, usd_price=Decimal("1")),
        SOL_MINT: Token(SOL_MINT, "SOL", "Wrapped SOL", 9, usd_price=Decimal("80")),
    }
    v = view(spec_order(), tokens=priced)
    # 0.137589159 SOL × $80 = $11.00713272; spent 10 USDC × $1: +$1.00713272 (+10.07 %).
    assert v.value.worth_usd == Decimal("11.00713272")
    assert v.value.gain_text == "+$1.01 (+10.1%)"
    assert v.price_now == "80.00 USDC"
    # 1 of 2 rounds left: Jupiter's next round is the last one.
    assert (v.cycles_left, v.last_buy) == (1, v.next_fill_at)
