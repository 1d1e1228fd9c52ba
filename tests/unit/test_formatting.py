"""dashboard/formatting.py: how amounts, prices, money and schedules read. Every expected text was
worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard.formatting import (
    Amount,
    amount,
    frequency_words,
    percent_text,
    price_now_text,
    price_text,
    token_for,
    usd_price_text,
    usd_text,
)
from dashboard.tokens import Token
from tests.unit.figures import BONK, JUP, ODD, ODD_MINT, SOL, SOL_MINT, USDC, USDT, WBTC, priced

# --- Amount.text and Amount.number ------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("raw", "token", "text", "number"),
    [
        (1, SOL, "0.000000001 SOL", "0.000000001"),
        (12_500_000, SOL, "0.0125 SOL", "0.0125"),
        (1_234_500_000, USDC, "1,234.5 USDC", "1234.5"),
        (1_234_567_800_000, BONK, "12,345,678 BONK", "12345678"),
        (12_345_678_901_234_567, BONK, "123,456,789,012 BONK", "123456789012.34567"),
        (0, SOL, "0 SOL", "0"),
        # u64 max lamports: no rounding anywhere.
        (18_446_744_073_709_551_615, SOL, "18,446,744,074 SOL", "18446744073.709551615"),
    ],
)
def test_amount_from_base_units(raw: int, token: Token, text: str, number: str) -> None:
    shown = amount(raw, None, token)
    assert shown == Amount(Decimal(number), token)
    assert (shown.text, shown.number) == (text, number)


@pytest.mark.parametrize(
    ("raw", "human", "token", "expected"),
    [
        # Base units win when the decimals are known.
        (1_500_000, "999", USDC, Amount(Decimal("1.5"), USDC)),
        # The decimal string when the decimals are unknown ...
        (432_150_000, "4321.5", ODD, Amount(Decimal("4321.5"), ODD)),
        (432_150_000, None, ODD, None),
        # ... or the base units are missing.
        (None, "2.5", USDC, Amount(Decimal("2.5"), USDC)),
        (None, None, SOL, None),
    ],
)
def test_amount_chooses_base_units_or_the_decimal_string(
    raw: int | None, human: str | None, token: Token, expected: Amount | None
) -> None:
    assert amount(raw, None if human is None else Decimal(human), token) == expected


def test_token_without_symbol_gets_short_mint() -> None:
    nameless = Token(ODD_MINT, "", "", 3)
    assert token_for(ODD_MINT, {ODD_MINT: nameless}) == Token(ODD_MINT, "Tok3…1111", "", 3)
    assert token_for(SOL_MINT, {}) == SOL


# --- frequency --------------------------------------------------------------------------------


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


# --- price ------------------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("input_token", "output_token", "text"),
    [
        (priced(USDC, "1"), priced(SOL, "162.3"), "162.30 USDC"),  # buying SOL
        (priced(SOL, "162.3"), priced(USDC, "1"), "162.30 USDC"),  # selling SOL: still per SOL
        (priced(SOL, "162.3"), priced(JUP, "0.82"), "0.005052 SOL"),  # 1 JUP in SOL: 0.82 / 162.3
        (priced(JUP, "0.82"), priced(SOL, None), ""),
    ],
)
def test_price_now_in_the_average_prices_terms(input_token: Token, output_token: Token, text: str) -> None:
    assert price_now_text(input_token, output_token) == text


# --- money ------------------------------------------------------------------------------------


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
    assert usd_text(Decimal(value)) == text


@pytest.mark.parametrize(
    ("value", "text"), [("8.2", "+8.2%"), ("-12.34", "−12.3%"), ("0.04", "0.0%"), ("-0.04", "0.0%"), ("100", "+100.0%")]
)
def test_percent_text(value: str, text: str) -> None:
    assert percent_text(Decimal(value)) == text


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
def test_usd_price_text(value: str, text: str) -> None:
    assert usd_price_text(Decimal(value)) == text
