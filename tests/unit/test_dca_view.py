"""dashboard/dca_view.py: describing Jupiter's newer DCA orders (Trigger API v2). Every expected figure
was worked out by hand; the first two orders are the examples of Jupiter's published spec
(tests/fixtures/jupiter-dca-v2-orders.json)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from dashboard import dca_orders
from dashboard.models import TrackedOrder
from dashboard.tokens import Token
from tests.unit.figures import SOL_MINT, TOKENS, USDC_MINT, dca_view, event, spec_list_order, spec_order

# --- the spec's examples ----------------------------------------------------------------------


def test_spec_order_with_one_fill_reads_like_a_v1_order():
    v = dca_view(spec_order())
    assert v.system == TrackedOrder.System.DCA
    assert v.order_key == "019f053d-3f0c-70ad-bb5e-76d633291f80"
    assert v.pair == "USDC → SOL"
    assert v.schedule == "10 USDC every hour"
    assert (v.progress.done, v.progress.total, v.progress.percent) == (1, 2, 50)
    assert v.funds.deposited.text == "20 USDC"
    assert v.funds.spent.text == "10 USDC"
    assert v.funds.remaining.text == "10 USDC"
    assert v.funds.received.text == "0.1376 SOL"  # 137,589,159 lamports
    assert v.average_price == "1 SOL ≈ 72.68 USDC"  # 10 / 0.137589159 = 72.6801…
    assert v.status_words == "Active" and v.is_active
    # Jupiter's own schedule, not an estimate of ours.
    assert v.next_cycle is None
    assert v.dca.next_fill_at == datetime(2026, 6, 26, 19, 44, 57, 469000, tzinfo=timezone.utc)
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
    assert v.dca.rounds == () and v.dca.extra == ()
    assert v.dca.price_band == "" and v.dca.earn == ""


def test_spec_price_conditional_order_has_its_band_and_no_fills():
    v = dca_view(spec_list_order())
    assert v.dca.price_band == "Only buys while SOL is between $50 and $1,000"
    assert v.schedule == "10 USDC every day"
    assert (v.progress.done, v.progress.total, v.progress.percent) == (0, 2, 0)
    assert v.fills == ()
    assert v.average_price == ""  # the card reads "No fills yet"
    assert v.funds.remaining.text == "20 USDC"
    assert v.funds.received.text == "0 SOL"


# --- states -----------------------------------------------------------------------------------


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
    assert dca_view(data, listed).status_words == words


@pytest.mark.parametrize(
    ("state", "scheduled"), [("depositing", True), ("executing", True), ("withdrawing", False), ("cancelled", False)]
)
def test_jupiters_schedule_only_while_the_order_still_buys(state: str, scheduled: bool) -> None:
    data = spec_order()
    data["state"] = state
    assert (dca_view(data).dca.next_fill_at is not None) is scheduled


def test_cancelled_order_returns_the_refund_not_the_stale_remaining_amount():
    # Jupiter does not zero inputAmountRemaining after a cancel: the withdrawal event says what came back.
    data = spec_order()
    data["state"] = "cancelled"
    data["events"].insert(
        0,
        event("withdrawal", "success", "26T20:00:00.000", txSignature="RefundSig", inputAmount="9000000"),
    )
    v = dca_view(data, "history")
    assert v.status == "history" and v.status_words == "Cancelled"
    assert v.funds.withdrawn_in.text == "9 USDC"
    assert v.funds.remaining.text == "0 USDC"
    assert v.close_tx_url == "https://solscan.io/tx/RefundSig"
    assert v.closed_at == datetime(2026, 6, 26, 18, 42, 11, 469000, tzinfo=timezone.utc)
    # Without a withdrawal event, the vault's remaining amount is what was refunded.
    data["events"].pop(0)
    assert dca_view(data, "history").funds.withdrawn_in.text == "10 USDC"


def test_withdrawing_order_still_holds_its_deposit_until_the_refund_is_approved():
    data = spec_order()
    data["state"] = "withdrawing"
    v = dca_view(data)
    assert v.is_active
    assert v.funds.remaining.text == "10 USDC"
    assert v.refund_text == "10 USDC not yet spent and about 0.002 SOL of account rent"
    assert v.dca.next_fill_at is None


def test_failed_deposit_bought_nothing():
    data = spec_list_order()
    data.update(state="deposit_failed", inputAmountUsed="0")
    data["events"][0]["state"] = "failed"
    v = dca_view(data, "history")
    assert v.status_words == "The deposit failed; nothing was bought"
    assert v.fills == ()
    assert [r.words for r in v.dca.rounds] == ["The deposit failed"]
    assert v.funds.withdrawn_in is None  # the card shows "—": nothing left the wallet to come back


# --- rounds -----------------------------------------------------------------------------------


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
    v = dca_view(data)
    assert [f.tx_id for f in v.fills] == ["Fill2", "Fill1"]  # newest first, failures are not fills
    (round_two,) = v.dca.rounds
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
    dca = dca_view(data).dca
    words = [r.words for r in dca.rounds]
    assert words == [
        "Round 3 was moved to the next interval",
        "Round 5 failed",
        "Round 4 is under way now",
    ]
    # A round under way is not one that did not fill as planned: the card lists it on its own.
    assert [r.words for r in dca.off_plan] == words[:2]
    assert [r.words for r in dca.running] == ["Round 4 is under way now"]


def test_a_failed_round_tried_again_is_still_off_plan():
    data = spec_order()
    data["state"] = "executing"
    data["events"] += [
        event("fill", "failed", "26T19:10:00.000", roundNumber=5),
        event("fill", "pending", "26T19:45:00.000", roundNumber=5),
    ]
    dca = dca_view(data).dca
    assert [r.words for r in dca.off_plan] == ["Round 5 failed and is being tried again now"]
    assert dca.running == ()


def test_unknown_event_types_and_states_are_shown_plainly():
    data = spec_order()
    data["events"] += [
        event("rebalance", "success", "26T19:00:00.000"),
        event("fill", "queued", "26T19:30:00.000", roundNumber=2),
        {"type": "fill", "roundNumber": 3},  # no state, no time: listed last
    ]
    words = [r.words for r in dca_view(data).dca.rounds]
    assert words == [
        "Jupiter reports a “rebalance” event (success)",
        "Round 2 is “queued” according to Jupiter",
        "Round 3 is “without a state” according to Jupiter",
    ]


# --- what Jupiter may add (beta API) ----------------------------------------------------------


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
    v = dca_view(data)
    extra = dict(v.dca.extra)
    assert extra["orderType"] == "twap_plus"
    assert extra["boostFactor"] == "1.5"
    assert extra["labels"] == '{"a": [1, "x"], "b": 2}'
    assert extra["note"] == "spaced out"
    assert "nothing" not in extra
    assert len(extra["longText"]) == dca_orders.MAX_EXTRA_CHARS and extra["longText"].endswith("…")


def test_missing_optional_fields_never_crash():
    data = {
        "id": "019f0530-0000-7000-8000-000000000000",
        "inputMint": USDC_MINT,
        "outputMint": "Unkn0wnMint1111111111111111111111111111111",
        "createdAt": "2026-06-26T18:00:00Z",
    }
    v = dca_view(data)
    assert v.pair == "USDC → Unkn…1111"
    assert v.schedule == "an unknown amount of USDC at an unknown interval"
    assert (v.progress.done, v.progress.total, v.progress.percent) == (0, 0, 0)
    assert v.funds.spent is None and v.funds.received is None and v.funds.remaining is None
    assert v.status_words == "Jupiter did not say what state this order is in"
    assert v.order_url == "" and v.fills == () and v.dca.rounds == ()
    assert v.average_price == ""
    assert v.refund_text == "The USDC not yet spent and about 0.002 SOL of account rent"  # not a guessed amount


# --- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "band"),
    [
        ({}, "Only buys while SOL is between $50 and $1,000"),
        ({"maxPriceUsd": None}, "Only buys while SOL is at or above $50"),
        ({"minPriceUsd": None, "maxPriceUsd": 250.75}, "Only buys while SOL is at or below $250.75"),
        (
            {"minPriceUsd": None, "maxPriceUsd": None},
            "Only buys when SOL's price meets Jupiter's condition (Jupiter did not say which)",
        ),
        # Without triggerMint: the side that is not a stablecoin.
        (
            {"triggerMint": None, "minPriceUsd": 0.0123, "maxPriceUsd": None},
            "Only buys while SOL is at or above $0.0123",
        ),
        ({"orderType": "time_based"}, ""),
    ],
)
def test_price_band(changes: dict, band: str) -> None:
    data = spec_list_order()
    data.update(changes)
    assert dca_view(data).dca.price_band == band


@pytest.mark.parametrize(
    ("enabled", "yield_usd", "earn"),
    [
        (
            True,
            0.4213,
            "Earn While You Wait is on: the deposit waiting to be spent earns Jupiter Lend yield — $0.4213 so far",
        ),
        (
            True,
            None,
            "Earn While You Wait is on: the deposit waiting to be spent earns Jupiter Lend yield "
            "(no yield reported yet)",
        ),
        ("yes", 0.4213, ""),  # only a JSON true counts
    ],
)
def test_earn_while_you_wait(enabled: object, yield_usd: float | None, earn: str) -> None:
    data = spec_order()
    data.update(jlEnabled=enabled, jlYieldUsd=yield_usd)
    assert dca_view(data).dca.earn == earn


# --- the trader's questions, for v2 too: timeline, value at today's price, the last buy -------


def test_v2_events_feed_the_same_timeline():
    v = dca_view(spec_order())
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
    v = dca_view(spec_order(), tokens=priced)
    # 0.137589159 SOL × $80 = $11.00713272; spent 10 USDC × $1: +$1.00713272 (+10.07 %).
    assert v.value.worth_usd == Decimal("11.00713272")
    assert v.value.gain_text == "+$1.01 (+10.1%)"
    assert v.price_now == "80.00 USDC"
    # 1 of 2 rounds left: Jupiter's next round is the last one.
    assert (v.progress.left, v.last_buy) == (1, v.dca.next_fill_at)


def test_a_cancelled_event_and_an_empty_withdrawal_on_the_timeline():
    data = spec_order()
    data["state"] = "cancelled"
    data["events"][:0] = [
        event("withdrawal", "success", "26T20:00:01.000", txSignature="EmptySig", inputAmount="0"),
        event("cancelled", "success", "26T20:00:00.000", txSignature="CancelSig"),
    ]
    v = dca_view(data, "history")
    cancelled = [e for e in v.events if e.kind == "cancelled"]
    assert [(e.words, e.tx_url) for e in cancelled] == [("Cancelled", "https://solscan.io/tx/CancelSig")]
    # A withdrawal of nothing moves nothing: it is no refund row in the exports.
    assert [t.tx_signature for t in v.transfers if t.kind == "refund"] == []


def test_rounds_worked_out_from_the_deposit_when_jupiter_omits_their_number():
    data = spec_order()
    data.pop("numberOfRounds")
    v = dca_view(data)
    assert v.progress.total == 2  # 20 USDC deposited at 10 USDC a round
