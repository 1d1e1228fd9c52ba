"""dashboard/orders.py: every expected figure below was worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from dashboard import orders
from dashboard.orders import Amount, amount, describe, fill_rows, frequency_words, price_text
from dashboard.recurring import Fill, Order
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
        ("123456789012.34567", BONK, "123,456,789,012.34567 BONK", "123456789012.34567"),
        ("50", USDC, "50 USDC", "50"),
        ("50.000000", USDC, "50 USDC", "50"),
        ("5E+1", USDC, "50 USDC", "50"),
        ("1E+3", SOL, "1,000 SOL", "1000"),
        ("0.5", SOL, "0.5 SOL", "0.5"),
        ("0.500000000", SOL, "0.5 SOL", "0.5"),
        ("0", SOL, "0 SOL", "0"),
        ("0E-9", SOL, "0 SOL", "0"),
        # >= 1: at most 6 decimals, rounded half up; CSV keeps every digit.
        ("1.2345675", SOL, "1.234568 SOL", "1.2345675"),
        ("1000000.0000001", SOL, "1,000,000 SOL", "1000000.0000001"),
        ("999.99999", BONK, "999.99999 BONK", "999.99999"),
        # < 1: four significant digits.
        ("0.123456789", SOL, "0.1235 SOL", "0.123456789"),
        ("0.000123449", SOL, "0.0001234 SOL", "0.000123449"),
        ("0.99996", BONK, "1 BONK", "0.99996"),
        # ... but never more decimals than the token has.
        ("0.0000015", USDC, "0.000002 USDC", "0.000002"),
        ("0.00001", BONK, "0.00001 BONK", "0.00001"),
        # Unknown decimals: the API's string, 6 decimals at most on screen.
        ("1234.56789", ODD, "1,234.56789 ODD", "1234.56789"),
        ("0.00000000001234", ODD, "0.00000000001234 ODD", "0.00000000001234"),
        ("7.1234567891", ODD, "7.123457 ODD", "7.1234567891"),
    ],
)
def test_amount_text_and_number(value: str, token: Token, text: str, number: str) -> None:
    shown = Amount(Decimal(value), token)
    assert shown.text == text
    assert shown.number == number
    assert "E" not in shown.text
    assert "E" not in shown.number


def test_amount_from_base_units() -> None:
    assert amount(1, None, SOL) == Amount(Decimal("0.000000001"), SOL)
    assert amount(1, None, SOL).text == "0.000000001 SOL"
    assert amount(12_500_000, None, SOL).text == "0.0125 SOL"
    assert amount(1_234_500_000, None, USDC).text == "1,234.5 USDC"
    assert amount(1_234_567_800_000, None, BONK).text == "12,345,678 BONK"
    large = amount(12_345_678_901_234_567, None, BONK)
    assert large.value == Decimal("123456789012.34567")
    assert large.text == "123,456,789,012.34567 BONK"
    assert large.number == "123456789012.34567"
    assert amount(0, None, SOL).text == "0 SOL"
    # u64 max lamports: no rounding anywhere.
    u64_max = amount(18_446_744_073_709_551_615, None, SOL)
    assert u64_max.number == "18446744073.709551615"
    assert u64_max.text == "18,446,744,073.709552 SOL"


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
        ((Decimal("100"), JUP), (Decimal("0.3"), SOL), "1 SOL ≈ 333.3333 JUP"),
        # Two stablecoins: the generic rule, 4 decimals: 100 / 99.98 = 1.00020004…
        ((Decimal("100"), USDC), (Decimal("99.98"), USDT), "1 USDT ≈ 1.0002 USDC"),
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
    assert view.refund_text == "50 USDC and 0.54 SOL"

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
    assert view.refund_text == "nothing"
    assert view.next_cycle is None
    assert view.closed_at == at(1, 9, 15)
    assert view.close_tx_url == "https://solscan.io/tx/closeSig"


def test_refund_leaves_out_zero_parts() -> None:
    # Active, 50 USDC left, all 0.54 SOL already sent to the wallet.
    view = describe(make_order(raw_out_withdrawn=540_000_000), {}, now=at(2))
    assert view.refund_text == "50 USDC"
    # Everything swapped, SOL not yet withdrawn.
    view = describe(make_order(raw_in_used=150_000_000), {}, now=at(2))
    assert view.refund_text == "0.54 SOL"
    assert view.next_cycle is None


def test_what_the_trader_reads_once_cancelled_agrees_with_what_comes_back() -> None:
    both = describe(make_order(), {}, now=at(2))
    assert (both.refund_count, both.cancelled_text) == (
        2,
        "Order cancelled. 50 USDC and 0.54 SOL are back in your wallet.",
    )
    one = describe(make_order(raw_out_withdrawn=540_000_000), {}, now=at(2))
    assert (one.refund_count, one.cancelled_text) == (1, "Order cancelled. 50 USDC is back in your wallet.")
    none = describe(make_order(raw_in_used=150_000_000, raw_out_withdrawn=540_000_000), {}, now=at(2))
    assert (none.refund_text, none.refund_count, none.cancelled_text) == ("nothing", 0, "Order cancelled.")


def test_remaining_never_negative() -> None:
    view = describe(make_order(raw_in_used=120_000_000, raw_in_withdrawn=40_000_000), {}, now=at(2))
    assert view.remaining.text == "0 USDC"


def test_completed_order() -> None:
    order = make_order(status="history", raw_in_used=150_000_000, raw_out_withdrawn=540_000_000)
    view = describe(order, {}, now=at(9))
    assert view.status_words == "Completed"
    assert view.percent == 100
    assert view.refund_text == "nothing"
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
    assert view.refund_text == "100 USDC and the remaining Tok3…1111"
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
    assert orders.token_for(ODD_MINT, {ODD_MINT: nameless}) == Token(ODD_MINT, "Tok3…1111", "", 3)
    assert orders.token_for(SOL_MINT, {}) == SOL


def test_fee_in_another_known_token_or_output_token() -> None:
    in_usdc = make_fill(at(1), 50_000_000, 290_000_000, raw_fee=50_000, fee_mint=USDC_MINT)
    no_mint = make_fill(at(1), 50_000_000, 290_000_000, raw_fee=290_000, fee_mint="")
    stranger = make_fill(at(1), 50_000_000, 290_000_000, raw_fee=290_000, fee_mint="Strange1111111")
    assert orders.describe_fill(in_usdc, USDC, SOL, {}).fee.text == "0.05 USDC"
    assert orders.describe_fill(no_mint, USDC, SOL, {}).fee.text == "0.00029 SOL"
    assert orders.describe_fill(stranger, USDC, SOL, {}).fee.text == "0.00029 SOL"


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
    assert view.refund_text == "1.5 SOL and 86.2 USDC"
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
            "date": "2025-01-01T00:00:30Z",
            "pair": "USDC → SOL",
            "in_amount": "50",
            "in_token": "USDC",
            "out_amount": "0.29",
            "out_token": "SOL",
            "fee_amount": "0.00029",
            "fee_token": "SOL",
            "rate": "1 SOL ≈ 172.41 USDC",
            "signature": "sig1",
            "order": "ORDER1",
            "system": "Recurring v1",
        },
        {
            "date": "2025-01-01T12:00:00Z",
            "pair": "SOL → USDC",
            "in_amount": "0.5",
            "in_token": "SOL",
            "out_amount": "86.2",
            "out_token": "USDC",
            "fee_amount": "0.0862",
            "fee_token": "USDC",
            "rate": "1 SOL ≈ 172.40 USDC",
            "signature": "sell1",
            "order": "ORDER2",
            "system": "Recurring v1",
        },
        {
            "date": "2025-01-02T00:00:40Z",
            "pair": "USDC → SOL",
            "in_amount": "50",
            "in_token": "USDC",
            "out_amount": "0.25",
            "out_token": "SOL",
            "fee_amount": "",
            "fee_token": "",
            "rate": "1 SOL ≈ 200.00 USDC",
            "signature": "sig2",
            "order": "ORDER1",
            "system": "Recurring v1",
        },
    ]
    assert tuple(rows[0]) == orders.FILL_COLUMNS


def test_fill_rows_full_precision_and_utc() -> None:
    paris = timezone(timedelta(hours=1))
    tiny = make_fill(datetime(2025, 1, 1, 1, 0, 0, tzinfo=paris), 1_234_567_891, 1, tx="t")
    view = describe(make_order(input_mint=SOL_MINT, output_mint=SOL_MINT, fills=(tiny,)), {}, now=at(2))
    (row,) = fill_rows([view])
    assert row["date"] == "2025-01-01T00:00:00Z"
    assert row["in_amount"] == "1.234567891"  # the screen shows 1.234568 SOL
    assert row["out_amount"] == "0.000000001"


def test_fill_rows_neutralise_formula_symbols() -> None:
    evil = Token(ODD_MINT, "=HYPERLINK", "", 6)
    view = describe(make_order(input_mint=ODD_MINT), {ODD_MINT: evil}, now=at(3))
    row = fill_rows([view])[0]
    assert row["in_token"] == "'=HYPERLINK"
    assert row["pair"] == "'=HYPERLINK → SOL"
