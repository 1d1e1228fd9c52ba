"""dashboard/orders.py: what every order's view record shares — what a cancel gives back, the value at
today's price and the totals. Every expected figure below was worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.orders import total_value
from dashboard.recurring_view import describe
from tests.unit.figures import (
    BONK,
    BONK_MINT,
    SOL,
    SOL_MINT,
    USDC,
    USDC_MINT,
    USDT_MINT,
    at,
    make_fill,
    make_order,
    make_sell_order,
    priced,
)

# --- what a cancel gives back, in words -------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "count", "cancelled_text"),
    [
        (
            {},
            3,
            "Order cancelled. 50 USDC not yet spent, 0.54 SOL bought so far and about 0.002 SOL of account rent "
            "are back in your wallet.",
        ),
        (
            {"raw_out_withdrawn": 540_000_000},
            2,
            "Order cancelled. 50 USDC not yet spent and about 0.002 SOL of account rent are back in your wallet.",
        ),
        (
            {"raw_in_used": 150_000_000, "raw_out_withdrawn": 540_000_000},
            1,
            "Order cancelled. About 0.002 SOL of account rent is back in your wallet.",
        ),
    ],
)
def test_what_the_trader_reads_once_cancelled_agrees_with_what_comes_back(
    changes: dict, count: int, cancelled_text: str
) -> None:
    view = describe(make_order(**changes), {}, now=at(2))
    assert (view.refund_count, view.cancelled_text) == (count, cancelled_text)
    assert cancelled_text == f"Order cancelled. {view.refund_text} {'is' if count == 1 else 'are'} back in your wallet."


# --- value at today's price -------------------------------------------------------------------


def test_value_at_todays_price_exact_decimals() -> None:
    # 100 USDC spent (USDC at $0.9998) bought 0.54 SOL (SOL at $162.30):
    # spent 100 × 0.9998 = 99.98; worth 0.54 × 162.30 = 87.642; gain −12.338; −12.338 / 99.98 = −12.3405 %.
    tokens = {USDC_MINT: priced(USDC, "0.9998"), SOL_MINT: priced(SOL, "162.30")}
    view = describe(make_order(), tokens, now=at(2, 12))
    value = view.value
    assert value.spent_usd == Decimal("99.9800")
    assert value.worth_usd == Decimal("87.642")
    assert value.gain_usd == Decimal("-12.3380")
    assert value.gain_percent.quantize(Decimal("0.0001")) == Decimal("-12.3405")
    assert value.spent_text == "$99.98"
    assert value.worth_text == "$87.64"
    assert value.gain_text == "−$12.34 (−12.3%)"
    assert value.direction == "loss"
    # Today's price beside the average, in the same terms: 162.30 / 0.9998 = 162.3325 USDC.
    assert view.average_price == "1 SOL ≈ 185.19 USDC"
    assert view.price_now == "162.33 USDC"


def test_value_at_todays_price_gain() -> None:
    # 0.54 SOL at $200 = $108 for 100 USDC at $1: +$8.00 (+8.0 %).
    tokens = {USDC_MINT: priced(USDC, "1"), SOL_MINT: priced(SOL, "200")}
    value = describe(make_order(), tokens, now=at(2, 12)).value
    assert value.gain_usd == Decimal(8)
    assert value.gain_text == "+$8.00 (+8.0%)"
    assert value.direction == "gain"


@pytest.mark.parametrize(("usdc", "sol"), [(None, "162.30"), ("1", None), (None, None)])
def test_value_with_an_unknown_price_is_not_guessed(usdc: str | None, sol: str | None) -> None:
    tokens = {USDC_MINT: priced(USDC, usdc), SOL_MINT: priced(SOL, sol)}
    view = describe(make_order(), tokens, now=at(2, 12))
    assert not view.value.known
    assert view.value.gain_usd is None
    assert view.value.gain_text == "price unknown"
    assert view.value.direction == ""
    assert view.price_now == ""
    if usdc is None:
        assert view.value.spent_text == "price unknown"
    if sol is None:
        assert view.value.worth_text == "price unknown"


def test_value_of_a_five_decimal_token() -> None:
    # 25 USDC bought 1,171,234.56789 BONK (raw 117123456789, 5 decimals) at $0.0000213417802:
    # worth = 117123456789 × 213417802 × 10^-18 = 24996230710550357778 × 10^-18 (integers, exact);
    # gain = −0.003769289449642222: a third of a cent, which reads "<$0.01" and counts as even.
    bonk = priced(BONK, "0.0000213417802")
    order = make_order(
        output_mint=BONK_MINT,
        raw_in_deposited=50_000_000,
        raw_in_used=25_000_000,
        raw_in_per_cycle=25_000_000,
        raw_out_received=117_123_456_789,
        fills=(make_fill(at(1, 1), 25_000_000, 117_123_456_789, tx="b1"),),
    )
    view = describe(order, {USDC_MINT: priced(USDC, "1"), BONK_MINT: bonk}, now=at(1, 2))
    assert view.funds.received.value == Decimal("1171234.56789")
    assert view.funds.received.text == "1,171,235 BONK"
    assert view.funds.received.exact == "1,171,234.56789 BONK"
    assert view.value.worth_usd == Decimal("1171234.56789") * Decimal("0.0000213417802")
    assert view.value.worth_usd == Decimal("24.996230710550357778")
    assert view.value.worth_text == "$25.00"
    assert view.value.gain_usd == Decimal("-0.003769289449642222")
    assert view.value.gain_text == "<$0.01 (0.0%)"
    assert view.value.direction == "even"
    # 1 BONK ≈ 25 / 1171234.56789 = 0.00002134499… USDC; today 0.0000213417802 / 1 → 0.00002134.
    assert view.average_price == "1 BONK ≈ 0.00002134 USDC"
    assert view.price_now == "0.00002134 USDC"


def test_nothing_bought_yet_is_worth_nothing_and_has_no_percentage() -> None:
    tokens = {USDC_MINT: priced(USDC, "1"), SOL_MINT: priced(SOL, "150")}
    view = describe(make_order(fills=(), raw_in_used=0, raw_out_received=0), tokens, now=at(1, 1))
    assert view.value.spent_usd == 0 and view.value.worth_usd == 0
    assert view.value.gain_percent is None
    assert view.value.gain_text == "$0.00"


def test_totals_add_up_known_orders_and_count_the_unknown() -> None:
    known = {USDC_MINT: priced(USDC, "1"), SOL_MINT: priced(SOL, "200")}
    a = describe(make_order(), known, now=at(2, 12))  # spent 100, worth 108
    b = describe(make_order(order_key="ORDER2", raw_out_received=450_000_000), known, now=at(2, 12))  # 100 → 90
    unknown = describe(make_order(order_key="ORDER3"), {}, now=at(2, 12))
    totals = total_value([a, b, unknown])
    assert totals.counted == 2
    assert totals.unknown == 1
    assert totals.value.spent_usd == Decimal(200)
    assert totals.value.worth_usd == Decimal(198)
    assert totals.value.gain_text == "−$2.00 (−1.0%)"
    assert total_value([unknown]).value.gain_text == "price unknown"


# --- "If you cancel now": what comes back, what is in the wallet already, valued today ----------


def test_cancel_now_of_an_order_that_still_holds_what_it_bought() -> None:
    # 150 deposited − 100 spent = 50 USDC back (× 0.9998 = 49.99); the 0.54 SOL bought were never
    # sent to the wallet, so they come back too (× 162.30 = 87.642); in all 137.632 → $137.63.
    tokens = {USDC_MINT: priced(USDC, "0.9998"), SOL_MINT: priced(SOL, "162.30")}
    now = describe(make_order(), tokens, now=at(2, 12)).cancel_now
    assert [(h.amount.text, h.words, h.usd_text) for h in now.back] == [
        ("50 USDC", "not yet spent", "≈ $49.99"),
        ("0.54 SOL", "bought so far, which the order still holds", "≈ $87.64"),
    ]
    assert now.in_wallet is None
    assert now.back_usd_text == "$137.63"
    assert now.rent_words == "about 0.002 SOL of account rent"


def test_cancel_now_of_an_order_that_sent_what_it_bought_to_the_wallet() -> None:
    # Recurring v1 sends each fill's output to the wallet: nothing bought comes back with the cancel.
    tokens = {USDC_MINT: priced(USDC, "0.9998"), SOL_MINT: priced(SOL, None)}
    now = describe(make_order(raw_out_withdrawn=540_000_000), tokens, now=at(2, 12)).cancel_now
    assert [(h.amount.text, h.words) for h in now.back] == [("50 USDC", "not yet spent")]
    assert (now.in_wallet.amount.text, now.in_wallet.words) == ("0.54 SOL", "bought so far")
    assert now.in_wallet.usd_text == "price unknown"  # never a guess
    assert now.back_usd_text == "$49.99"


def test_cancel_now_says_what_it_does_not_know() -> None:
    now = describe(make_order(raw_in_deposited=None, raw_out_withdrawn=None), {}, now=at(2, 12)).cancel_now
    assert [(h.amount, h.token.symbol, h.words, h.usd_text) for h in now.back] == [
        (None, "USDC", "not yet spent", ""),
        (None, "SOL", "bought so far, which the order still holds", ""),
    ]
    assert now.back_usd is None and now.back_usd_text == ""


# --- sell orders read by direction --------------------------------------------------------------


def test_a_sell_order_says_sold_and_received() -> None:
    # 1.5 SOL deposited, 0.5 SOL sold for 86.2 USDC: a volatile token in, a stablecoin out.
    fill = make_fill(at(1, 0, 0, 30), 500_000_000, 86_200_000, tx="s1")
    order = make_sell_order(fill, raw_out_withdrawn=86_200_000)
    view = describe(order, {}, now=at(1, 0, 30))
    assert view.is_sell
    assert [e.words for e in view.events if e.kind == "buy"] == ["Sold 0.5 SOL for 86.2 USDC"]
    assert [(h.amount.text, h.words) for h in view.cancel_now.back] == [("1.5 SOL", "not yet sold")]
    assert (view.cancel_now.in_wallet.amount.text, view.cancel_now.in_wallet.words) == ("86.2 USDC", "received so far")
    # The sentence once cancelled, recorded with the cancel: the deposit is "not yet sold".
    assert view.cancelled_text == (
        "Order cancelled. 1.5 SOL not yet sold and about 0.002 SOL of account rent are back in your wallet."
    )


def sell_order(order_key: str):
    """0.5 SOL sold for 86.2 USDC (SOL at $170, USDC at $1: 85 given, 86.2 received)."""
    fill = make_fill(at(1, 0, 0, 30), 500_000_000, 86_200_000, tx=f"s-{order_key}")
    order = make_order(
        order_key=order_key,
        input_mint=SOL_MINT,
        output_mint=USDC_MINT,
        raw_in_deposited=2_000_000_000,
        raw_in_per_cycle=500_000_000,
        raw_in_used=500_000_000,
        raw_out_received=86_200_000,
        fills=(fill,),
    )
    return describe(order, {SOL_MINT: priced(SOL, "170"), USDC_MINT: priced(USDC, "1")}, now=at(1, 0, 30))


def test_totals_say_which_directions_they_add_up() -> None:
    known = {USDC_MINT: priced(USDC, "1"), SOL_MINT: priced(SOL, "200")}
    buy = describe(make_order(), known, now=at(2, 12))  # spent 100, worth 108
    sell = sell_order("SELL1")
    unknown_sell = describe(make_order(order_key="S2", input_mint=SOL_MINT, output_mint=USDC_MINT), {}, now=at(2))
    assert (total_value([buy]).direction, total_value([buy]).sold) == ("buy", 0)
    only_sells = total_value([sell, unknown_sell])  # the unpriced sell is not counted, nor its direction
    assert (only_sells.direction, only_sells.sold, only_sells.counted) == ("sell", 1, 1)
    assert (only_sells.value.spent_usd, only_sells.value.worth_usd) == (Decimal(85), Decimal("86.2"))
    both = total_value([buy, sell])
    assert (both.direction, both.sold, both.counted) == ("both", 1, 2)
    assert both.value.spent_usd == Decimal(185) and both.value.worth_usd == Decimal("194.2")


@pytest.mark.parametrize(
    ("input_mint", "output_mint", "sell"),
    [
        (SOL_MINT, USDC_MINT, True),
        (USDC_MINT, SOL_MINT, False),
        (SOL_MINT, BONK_MINT, False),
        (USDC_MINT, USDT_MINT, False),
    ],
)
def test_only_a_volatile_token_sold_for_a_stablecoin_is_a_sell(input_mint: str, output_mint: str, sell: bool) -> None:
    view = describe(make_order(input_mint=input_mint, output_mint=output_mint), {}, now=at(2, 12))
    assert view.is_sell is sell
    assert all(e.words.startswith("Sold" if sell else "Bought") for e in view.events if e.kind == "buy")
