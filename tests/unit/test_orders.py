"""dashboard/orders.py: every expected figure below was worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from dashboard import exports, formatting, orders, recurring_view
from dashboard.exports import fill_rows
from dashboard.formatting import Amount, amount, frequency_words, price_text
from dashboard.recurring import Fill, Order
from dashboard.recurring_view import describe
from dashboard.tokens import Token

SOL_MINT = "So11111111111111111111111111111111111111112"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT_MINT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
BONK_MINT = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"
JUP_MINT = "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"
WBTC_MINT = "3NZ9JMVBmGAqocybic2c7LQCJScmgsAZ6vQqTDzcqmJh"
ODD_MINT = "Tok3nMintWithUnknownDecimals1111111111111"  # not in the built-in table

SOL = Token(SOL_MINT, "SOL", "Wrapped SOL", 9)
USDC = Token(USDC_MINT, "USDC", "USD Coin", 6)
USDT = Token(USDT_MINT, "USDT", "USDT", 6)
BONK = Token(BONK_MINT, "BONK", "Bonk", 5)
JUP = Token(JUP_MINT, "JUP", "Jupiter", 6)
WBTC = Token(WBTC_MINT, "WBTC", "Wrapped BTC (Portal)", 8)
ODD = Token(ODD_MINT, "ODD", "Odd token", None)

DAY = 86400


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, minute, second, tzinfo=timezone.utc)


def make_fill(
    when: datetime,
    raw_in: int | None,
    raw_out: int | None,
    *,
    tx: str = "",
    raw_fee: int | None = None,
    fee_mint: str = "",
    action: str = "Fill",
    in_amount: str | None = None,
    out_amount: str | None = None,
    fee_amount: str | None = None,
) -> Fill:
    return Fill(
        tx_id=tx,
        confirmed_at=when,
        action=action,
        raw_in=raw_in,
        raw_out=raw_out,
        raw_fee=raw_fee,
        in_amount=None if in_amount is None else Decimal(in_amount),
        out_amount=None if out_amount is None else Decimal(out_amount),
        fee_amount=None if fee_amount is None else Decimal(fee_amount),
        fee_mint=fee_mint,
        keeper="keeper",
    )


FILL_1 = make_fill(
    at(1, 0, 0, 30), 50_000_000, 290_000_000, tx="sig1", raw_fee=290_000, fee_mint=SOL_MINT
)  # 50 USDC → 0.29 SOL, fee 0.00029 SOL
FILL_2 = make_fill(at(2, 0, 0, 40), 50_000_000, 250_000_000, tx="sig2")  # 50 USDC → 0.25 SOL


def make_order(**changes: object) -> Order:
    """An active daily order: 150 USDC deposited, 50 USDC a cycle, two cycles done (0.54 SOL)."""
    order = Order(
        order_key="ORDER1",
        user="WALLET1",
        input_mint=USDC_MINT,
        output_mint=SOL_MINT,
        status="active",
        recurring_type="time",
        cycle_frequency=DAY,
        raw_in_deposited=150_000_000,
        raw_in_used=100_000_000,
        raw_in_withdrawn=0,
        raw_in_per_cycle=50_000_000,
        raw_out_received=540_000_000,
        raw_out_withdrawn=0,
        raw_min_out=0,
        raw_max_out=0,
        in_deposited=None,
        in_used=None,
        in_withdrawn=None,
        in_per_cycle=None,
        out_received=None,
        out_withdrawn=None,
        open_tx="openSig",
        close_tx="",
        user_closed=False,
        created_at=at(1),
        updated_at=at(2, 0, 0, 40),
        fills=(FILL_1, FILL_2),
    )
    return replace(order, **changes)


# --- Amount.text and Amount.number ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "token", "text", "number"),
    [
        ("1234.5", USDC, "1,234.5 USDC", "1234.5"),
        ("0.0125", SOL, "0.0125 SOL", "0.0125"),
        ("12345678", BONK, "12,345,678 BONK", "12345678"),
        ("0.00000042", SOL, "0.00000042 SOL", "0.00000042"),
        ("0.000000001", SOL, "0.000000001 SOL", "0.000000001"),
        # >= 1: six significant digits, but every digit of the whole part.
        ("123456789012.34567", BONK, "123,456,789,012 BONK", "123456789012.34567"),
        ("11754756.77802", BONK, "11,754,757 BONK", "11754756.77802"),
        ("12.078143", JUP, "12.0781 JUP", "12.078143"),
        ("84.88", JUP, "84.88 JUP", "84.88"),
        # Stablecoins: at most 2 decimals from 1 up.
        ("1234.567891", USDC, "1,234.57 USDC", "1234.567891"),
        ("50.5", USDC, "50.5 USDC", "50.5"),
        ("50", USDC, "50 USDC", "50"),
        ("50.000000", USDC, "50 USDC", "50"),
        ("5E+1", USDC, "50 USDC", "50"),
        ("1E+3", SOL, "1,000 SOL", "1000"),
        ("0.5", SOL, "0.5 SOL", "0.5"),
        ("0.500000000", SOL, "0.5 SOL", "0.5"),
        ("0", SOL, "0 SOL", "0"),
        ("0E-9", SOL, "0 SOL", "0"),
        # Rounded half up; CSV keeps every digit.
        ("1.2345675", SOL, "1.23457 SOL", "1.2345675"),
        ("1000000.0000001", SOL, "1,000,000 SOL", "1000000.0000001"),
        ("999.99999", BONK, "1,000 BONK", "999.99999"),
        ("999.9994", BONK, "999.999 BONK", "999.9994"),
        # < 1: four significant digits.
        ("0.123456789", SOL, "0.1235 SOL", "0.123456789"),
        ("0.000123449", SOL, "0.0001234 SOL", "0.000123449"),
        ("0.99996", BONK, "1 BONK", "0.99996"),
        # ... but never more decimals than the token has.
        ("0.0000015", USDC, "0.000002 USDC", "0.000002"),
        ("0.00001", BONK, "0.00001 BONK", "0.00001"),
        # Unknown decimals: the API's string, the same significant digits on screen.
        ("1234.56789", ODD, "1,234.57 ODD", "1234.56789"),
        ("0.00000000001234", ODD, "0.00000000001234 ODD", "0.00000000001234"),
        ("7.1234567891", ODD, "7.12346 ODD", "7.1234567891"),
    ],
)
def test_amount_text_and_number(value: str, token: Token, text: str, number: str) -> None:
    shown = Amount(Decimal(value), token)
    assert shown.text == text
    assert shown.number == number
    assert "E" not in shown.text
    assert "E" not in shown.number
    # The tooltip keeps every digit the CSV has, grouped for reading.
    whole, dot, fraction = number.partition(".")
    assert shown.exact == f"{int(whole):,}{dot}{fraction} {token.symbol}"
    assert shown.is_rounded == (shown.text != shown.exact)


def test_large_amount_tooltip_keeps_every_digit() -> None:
    bonk = Amount(Decimal("11754756.77802"), BONK)
    assert bonk.text == "11,754,757 BONK"
    assert bonk.exact == "11,754,756.77802 BONK"
    assert bonk.is_rounded
    assert not Amount(Decimal("50"), USDC).is_rounded


def test_amount_from_base_units() -> None:
    assert amount(1, None, SOL) == Amount(Decimal("0.000000001"), SOL)
    assert amount(1, None, SOL).text == "0.000000001 SOL"
    assert amount(12_500_000, None, SOL).text == "0.0125 SOL"
    assert amount(1_234_500_000, None, USDC).text == "1,234.5 USDC"
    assert amount(1_234_567_800_000, None, BONK).text == "12,345,678 BONK"
    large = amount(12_345_678_901_234_567, None, BONK)
    assert large.value == Decimal("123456789012.34567")
    assert large.text == "123,456,789,012 BONK"
    assert large.number == "123456789012.34567"
    assert amount(0, None, SOL).text == "0 SOL"
    # u64 max lamports: no rounding anywhere.
    u64_max = amount(18_446_744_073_709_551_615, None, SOL)
    assert u64_max.number == "18446744073.709551615"
    assert u64_max.text == "18,446,744,074 SOL"


def test_amount_prefers_base_units_when_decimals_are_known() -> None:
    assert amount(1_500_000, Decimal("999"), USDC).text == "1.5 USDC"


def test_amount_uses_the_decimal_string_when_decimals_are_unknown() -> None:
    assert amount(432_150_000, Decimal("4321.5"), ODD) == Amount(Decimal("4321.5"), ODD)
    assert amount(432_150_000, None, ODD) is None


def test_amount_uses_the_decimal_string_when_base_units_are_missing() -> None:
    assert amount(None, Decimal("2.5"), USDC).text == "2.5 USDC"


def test_amount_is_none_without_any_figure() -> None:
    assert amount(None, None, SOL) is None


# --- frequency ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (60, "every minute"),
        (3600, "every hour"),
        (14400, "every 4 hours"),
        (86400, "every day"),
        (172800, "every 2 days"),
        (604800, "every week"),
        (1209600, "every 2 weeks"),
        (2592000, "every 30 days"),
        (90, "every 90 seconds"),
        (5400, "every 90 minutes"),
        (1, "every second"),
        (120, "every 2 minutes"),
        (0, "at an unknown interval"),
        (-60, "at an unknown interval"),
    ],
)
def test_frequency_words(seconds: int, words: str) -> None:
    assert frequency_words(seconds) == words


# --- price ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spent", "received", "text"),
    [
        # Buying SOL with USDC: 50 / 0.29 = 172.413793…
        ((Decimal("50"), USDC), (Decimal("0.29"), SOL), "1 SOL ≈ 172.41 USDC"),
        # Selling SOL for USDC: 86.2 / 0.5 = 172.4 (always 2 decimals in a stablecoin).
        ((Decimal("0.5"), SOL), (Decimal("86.2"), USDC), "1 SOL ≈ 172.40 USDC"),
        ((Decimal("100"), USDT), (Decimal("0.5"), SOL), "1 SOL ≈ 200.00 USDT"),
        # 971.2345 / 0.01 = 97,123.45
        ((Decimal("0.01"), WBTC), (Decimal("971.2345"), USDC), "1 WBTC ≈ 97,123.45 USDC"),
        # Below 1 in a stablecoin: 10 / 412,345 = 0.0000242515… → 4 significant digits.
        ((Decimal("10"), USDC), (Decimal("412345"), BONK), "1 BONK ≈ 0.00002425 USDC"),
        ((Decimal("412345"), BONK), (Decimal("10"), USDC), "1 BONK ≈ 0.00002425 USDC"),
        # No stablecoin: 1 <output> ≈ x <input>.
        ((Decimal("1"), SOL), (Decimal("8100000"), BONK), "1 BONK ≈ 0.0000001235 SOL"),
        ((Decimal("8100000"), BONK), (Decimal("1"), SOL), "1 SOL ≈ 8,100,000 BONK"),
        # Not in a stablecoin, from 1 up: 6 significant digits, trailing zeros kept.
        ((Decimal("100"), JUP), (Decimal("0.3"), SOL), "1 SOL ≈ 333.333 JUP"),
        ((Decimal("90"), JUP), (Decimal("0.5"), SOL), "1 SOL ≈ 180.000 JUP"),
        # Two stablecoins: the generic rule: 100 / 99.98 = 1.00020004…
        ((Decimal("100"), USDC), (Decimal("99.98"), USDT), "1 USDT ≈ 1.00020 USDC"),
        # Below 1: 4 significant digits, trailing zeros kept, so 0.804 and 0.8289 line up.
        ((Decimal("10"), USDC), (Decimal("12.4378"), JUP), "1 JUP ≈ 0.8040 USDC"),
        ((Decimal("10"), USDC), (Decimal("12.0642"), JUP), "1 JUP ≈ 0.8289 USDC"),
        # Symbols starting "USD" count as stable.
        ((Decimal("3"), SOL), (Decimal("450"), Token("x", "USDH", "", 6)), "1 SOL ≈ 150.00 USDH"),
        # Nothing received: no price.
        ((Decimal("50"), USDC), (Decimal("0"), SOL), ""),
    ],
)
def test_price_text(spent: tuple[Decimal, Token], received: tuple[Decimal, Token], text: str) -> None:
    assert price_text(Amount(*spent), Amount(*received)) == text


# --- describe: an active order --------------------------------------------------------------------


def test_describe_active_order() -> None:
    view = describe(make_order(), {}, now=at(2, 12))

    assert view.order_key == "ORDER1"
    assert view.status == "active"
    assert view.status_words == "Active"
    assert view.is_active
    assert view.input_token == USDC
    assert view.output_token == SOL
    assert view.pair == "USDC → SOL"
    assert view.per_cycle.text == "50 USDC"
    assert view.frequency == "every day"
    assert view.schedule == "50 USDC every day"
    assert view.cycles_total == 3
    assert view.cycles_done == 2
    assert view.percent == 66  # 100 / 150 = 66.7 %, floored
    assert view.deposited.text == "150 USDC"
    assert view.spent.text == "100 USDC"
    assert view.remaining.text == "50 USDC"
    assert view.withdrawn_in.text == "0 USDC"
    assert view.received.text == "0.54 SOL"
    assert view.withdrawn_out.text == "0 SOL"
    assert view.unwithdrawn_out.text == "0.54 SOL"
    assert view.average_price == "1 SOL ≈ 185.19 USDC"  # 100 / 0.54 = 185.185…
    assert view.next_cycle == at(3, 0, 0, 40)  # last fill + 1 day
    assert view.created_at == at(1)
    assert view.closed_at is None
    assert view.order_url == "https://solscan.io/account/ORDER1"
    assert view.open_tx_url == "https://solscan.io/tx/openSig"
    assert view.close_tx_url == ""
    assert view.refund_text == "50 USDC not yet spent, 0.54 SOL bought so far and about 0.002 SOL of account rent"
    assert view.cycles_left == 1
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
    assert view.cycles_done == 2
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
    assert view.cycles_total == 4
    assert view.cycles_done == 4
    assert view.percent == 100
    assert view.remaining.text == "0 USDC"
    assert view.next_cycle is None  # nothing left to swap


def test_unknown_cycle_size() -> None:
    view = describe(make_order(raw_in_per_cycle=None), {}, now=at(2, 12))
    assert view.per_cycle is None
    assert view.schedule == "an unknown amount of USDC every day"
    assert view.cycles_total == 0
    assert view.cycles_done == 2


def test_percent_floors_small_progress() -> None:
    # 1 of 150 USDC used = 0.67 % → 0; 149.999999 of 150 → 99.
    assert describe(make_order(raw_in_used=1_000_000), {}, now=at(2)).percent == 0
    assert describe(make_order(raw_in_used=149_999_999), {}, now=at(2)).percent == 99


# --- next cycle -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2, 12), at(3, 0, 0, 40)),
        # Exactly due: the estimate moves to the following cycle.
        (at(3, 0, 0, 40), at(4, 0, 0, 40)),
        # Missed cycles (3rd, 4th, 5th at 00:00:40): advanced by whole days past now.
        (at(5, 6), at(6, 0, 0, 40)),
    ],
)
def test_next_cycle_after_last_fill(now: datetime, expected: datetime) -> None:
    assert describe(make_order(), {}, now=now).next_cycle == expected


def test_next_cycle_without_fills_counts_from_creation() -> None:
    order = make_order(fills=(), raw_in_used=0, raw_out_received=0, cycle_frequency=4 * 3600)
    assert describe(order, {}, now=at(1, 1)).next_cycle == at(1, 4)
    # 10:30 → 04:00 and 08:00 missed → 12:00.
    assert describe(order, {}, now=at(1, 10, 30)).next_cycle == at(1, 12)


def test_next_cycle_unknown_interval() -> None:
    assert describe(make_order(cycle_frequency=0), {}, now=at(2)).next_cycle is None


# --- history orders -------------------------------------------------------------------------------


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
    assert view.cycles_total == 3
    assert view.cycles_done == 1
    assert view.percent == 33
    assert view.remaining.text == "0 USDC"
    assert view.withdrawn_in.text == "100 USDC"
    assert view.unwithdrawn_out.text == "0 SOL"
    assert view.refund_text == "About 0.002 SOL of account rent"
    assert view.next_cycle is None
    assert view.last_buy is None
    assert view.closed_at == at(1, 9, 15)
    assert view.close_tx_url == "https://solscan.io/tx/closeSig"


def test_refund_leaves_out_zero_parts() -> None:
    # Active, 50 USDC left, all 0.54 SOL already sent to the wallet.
    view = describe(make_order(raw_out_withdrawn=540_000_000), {}, now=at(2))
    assert view.refund_text == "50 USDC not yet spent and about 0.002 SOL of account rent"
    # Everything swapped, SOL not yet withdrawn.
    view = describe(make_order(raw_in_used=150_000_000), {}, now=at(2))
    assert view.refund_text == "0.54 SOL bought so far and about 0.002 SOL of account rent"
    assert view.next_cycle is None
    assert view.last_buy is None


def test_what_the_trader_reads_once_cancelled_agrees_with_what_comes_back() -> None:
    all_three = describe(make_order(), {}, now=at(2))
    assert (all_three.refund_count, all_three.cancelled_text) == (
        3,
        "Order cancelled. 50 USDC not yet spent, 0.54 SOL bought so far and about 0.002 SOL of account rent "
        "are back in your wallet.",
    )
    two = describe(make_order(raw_out_withdrawn=540_000_000), {}, now=at(2))
    assert (two.refund_count, two.cancelled_text) == (
        2,
        "Order cancelled. 50 USDC not yet spent and about 0.002 SOL of account rent are back in your wallet.",
    )
    rent = describe(make_order(raw_in_used=150_000_000, raw_out_withdrawn=540_000_000), {}, now=at(2))
    assert (rent.refund_text, rent.refund_count, rent.cancelled_text) == (
        "About 0.002 SOL of account rent",
        1,
        "Order cancelled. About 0.002 SOL of account rent is back in your wallet.",
    )


def test_remaining_never_negative() -> None:
    view = describe(make_order(raw_in_used=120_000_000, raw_in_withdrawn=40_000_000), {}, now=at(2))
    assert view.remaining.text == "0 USDC"


def test_completed_order() -> None:
    order = make_order(status="history", raw_in_used=150_000_000, raw_out_withdrawn=540_000_000)
    view = describe(order, {}, now=at(9))
    assert view.status_words == "Completed"
    assert view.percent == 100
    assert view.refund_text == "About 0.002 SOL of account rent"
    assert view.closed_at == at(2, 0, 0, 40)


def test_average_price_without_fills_uses_order_totals() -> None:
    order = make_order(status="history", fills=(), raw_in_used=100_000_000, raw_out_received=500_000_000)
    assert describe(order, {}, now=at(3)).average_price == "1 SOL ≈ 200.00 USDC"


def test_average_price_empty_before_any_fill() -> None:
    order = make_order(fills=(), raw_in_used=0, raw_out_received=0)
    assert describe(order, {}, now=at(1, 1)).average_price == ""


# --- tokens ---------------------------------------------------------------------------------------


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
    assert view.received.text == "4,321.5 Tok3…1111"
    assert view.withdrawn_out is None
    assert view.unwithdrawn_out is None
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
    assert view.received.text == "4,321.5 ODD"


def test_token_without_symbol_gets_short_mint() -> None:
    nameless = Token(ODD_MINT, "", "", 3)
    assert formatting.token_for(ODD_MINT, {ODD_MINT: nameless}) == Token(ODD_MINT, "Tok3…1111", "", 3)
    assert formatting.token_for(SOL_MINT, {}) == SOL


def test_fee_in_another_known_token_or_output_token() -> None:
    in_usdc = make_fill(at(1), 50_000_000, 290_000_000, raw_fee=50_000, fee_mint=USDC_MINT)
    no_mint = make_fill(at(1), 50_000_000, 290_000_000, raw_fee=290_000, fee_mint="")
    stranger = make_fill(at(1), 50_000_000, 290_000_000, raw_fee=290_000, fee_mint="Strange1111111")
    assert recurring_view.describe_fill(in_usdc, USDC, SOL, {}).fee.text == "0.05 USDC"
    assert recurring_view.describe_fill(no_mint, USDC, SOL, {}).fee.text == "0.00029 SOL"
    assert recurring_view.describe_fill(stranger, USDC, SOL, {}).fee.text == "0.00029 SOL"


def test_sell_order_reads_in_the_stablecoin() -> None:
    # Selling 0.5 SOL a cycle for USDC: one fill 0.5 SOL → 86.2 USDC.
    fill = make_fill(at(1, 0, 1), 500_000_000, 86_200_000, tx="sell1")
    order = make_order(
        input_mint=SOL_MINT,
        output_mint=USDC_MINT,
        raw_in_deposited=2_000_000_000,
        raw_in_per_cycle=500_000_000,
        raw_in_used=500_000_000,
        raw_out_received=86_200_000,
        cycle_frequency=3600,
        fills=(fill,),
    )
    view = describe(order, {}, now=at(1, 0, 30))
    assert view.schedule == "0.5 SOL every hour"
    assert view.cycles_total == 4
    assert view.percent == 25
    assert view.average_price == "1 SOL ≈ 172.40 USDC"
    assert view.refund_text == "1.5 SOL not yet spent, 86.2 USDC bought so far and about 0.002 SOL of account rent"
    assert view.next_cycle == at(1, 1, 1)


# --- CSV ------------------------------------------------------------------------------------------


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
            "system": "Recurring v1",
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
            "system": "Recurring v1",
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
            "system": "Recurring v1",
        },
    ]
    assert tuple(rows[0]) == exports.FILL_COLUMNS
    assert exports.fill_columns([buy, sell]) == exports.FILL_COLUMNS  # v1 gives no USD value: no column


def test_fill_rows_add_the_usd_value_only_when_upstream_gives_it() -> None:
    view = describe(make_order(), {}, now=at(3))
    with_usd = replace(view, fills=(replace(view.fills[0], usd_value=Decimal("50.0123")), view.fills[1]))
    assert exports.fill_columns([with_usd]) == (*exports.FILL_COLUMNS, "value_usd_at_fill")
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


# --- value at today's price -----------------------------------------------------------------------


def priced(token: Token, usd: str | None) -> Token:
    return replace(token, usd_price=None if usd is None else Decimal(usd))


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
    assert view.received.value == Decimal("1171234.56789")
    assert view.received.text == "1,171,235 BONK"
    assert view.received.exact == "1,171,234.56789 BONK"
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
    totals = orders.total_value([a, b, unknown])
    assert totals.counted == 2
    assert totals.unknown == 1
    assert totals.value.spent_usd == Decimal(200)
    assert totals.value.worth_usd == Decimal(198)
    assert totals.value.gain_text == "−$2.00 (−1.0%)"
    assert orders.total_value([unknown]).value.gain_text == "price unknown"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0", "$0.00"),
        ("1234.5", "$1,234.50"),
        ("0.005", "$0.01"),
        ("0.0049", "<$0.01"),
        ("-3.1", "−$3.10"),
        ("1234567.891", "$1,234,567.89"),
    ],
)
def test_usd_text(value: str, text: str) -> None:
    assert formatting.usd_text(Decimal(value)) == text


@pytest.mark.parametrize(
    ("value", "text"), [("8.2", "+8.2%"), ("-12.34", "−12.3%"), ("0.04", "0.0%"), ("-0.04", "0.0%"), ("100", "+100.0%")]
)
def test_percent_text(value: str, text: str) -> None:
    assert formatting.percent_text(Decimal(value)) == text


def test_price_now_in_the_average_prices_terms() -> None:
    usdc, sol, jup = priced(USDC, "1"), priced(SOL, "162.3"), priced(JUP, "0.82")
    assert formatting.price_now_text(usdc, sol) == "162.30 USDC"  # buying SOL
    assert formatting.price_now_text(sol, usdc) == "162.30 USDC"  # selling SOL: still per SOL
    assert formatting.price_now_text(sol, jup) == "0.005052 SOL"  # 1 JUP in SOL: 0.82 / 162.3
    assert formatting.price_now_text(jup, priced(SOL, None)) == ""


# --- when it ends ---------------------------------------------------------------------------------


def test_last_buy_of_a_time_based_order() -> None:
    # 300 USDC, 50 a day, 2 buys done (last at 2 Jan 00:00:40): 4 left, next 3 Jan → last 6 Jan.
    order = make_order(raw_in_deposited=300_000_000)
    view = describe(order, {}, now=at(2, 12))
    assert view.cycles_left == 4
    assert view.next_cycle == at(3, 0, 0, 40)
    assert view.last_buy == at(6, 0, 0, 40)


def test_last_buy_counts_what_is_left_not_the_buys_reported() -> None:
    # 250 USDC deposited, 100 used, 40 withdrawn: 110 left at 50 a cycle → 3 more buys.
    order = make_order(raw_in_deposited=250_000_000, raw_in_withdrawn=40_000_000)
    view = describe(order, {}, now=at(2, 12))
    assert view.cycles_left == 3
    assert view.last_buy == at(5, 0, 0, 40)


def test_no_last_buy_for_unknown_intervals_or_closed_orders() -> None:
    assert describe(make_order(cycle_frequency=0), {}, now=at(2)).last_buy is None
    assert describe(make_order(status="history"), {}, now=at(9)).last_buy is None


# --- timeline -------------------------------------------------------------------------------------


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
