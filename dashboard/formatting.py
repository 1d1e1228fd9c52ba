"""How the figures read: amounts, money, prices, percents and schedules in words (pure functions).

Money is `Decimal` (human units) or `int` (base units), never float. Amounts come from base units
and the token's decimals; Jupiter's decimal strings are used only where the decimals are unknown.
Every rounding for display happens here, in one exact decimal context.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import cached_property

from dashboard.encoding import short_address
from dashboard.tokens import KNOWN_TOKENS, Token

# Wide enough that no sum, difference or ratio of on-chain amounts (u64 base units) is rounded
# before we choose to round for display.
CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP)
ZERO = Decimal(0)

MAX_DECIMALS_SHOWN = 6  # amounts >= 1, and never more than their significant digits allow
SIGNIFICANT_DIGITS_LARGE = 6  # amounts and prices >= 1: "12.0781 JUP", "11,754,757 BONK"
SIGNIFICANT_DIGITS_SHOWN = 4  # amounts < 1, and prices < 1
STABLE_DECIMALS = 2  # stablecoin amounts >= 1 and stablecoin prices >= 1: "1,234.57 USDC"


# --- number formatting -----------------------------------------------------------------------------


def plain(value: Decimal) -> str:
    """Digits with "." and no exponent, trailing zeros stripped ("50", not "5E+1"; "0", not "0E-9")."""
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _grouped(value: Decimal) -> str:
    """`plain` with thousands separators in the whole part: "12,345,678.9"."""
    text = plain(value)
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    whole, dot, fraction = text.partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"


def round_places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), context=CONTEXT)


def round_significant(value: Decimal, digits: int, max_places: int | None = None) -> Decimal:
    """Round to `digits` significant digits, but never past `max_places` decimals."""
    places = digits - 1 - value.adjusted()
    if max_places is not None:
        places = min(places, max_places)
    return round_places(value, places)


def _whole_digits(value: Decimal) -> int:
    """Digits before the point of |value| >= 1: 1 for 9.99, 3 for 123.4."""
    return abs(value).adjusted() + 1


def _display(value: Decimal, decimals: int | None, stable: bool = False) -> str:
    """The amount rule of `Amount.text`, without the symbol."""
    if value.is_zero():
        return "0"
    if abs(value) >= 1:
        places = max(0, SIGNIFICANT_DIGITS_LARGE - _whole_digits(value))
        places = min(places, STABLE_DECIMALS if stable else MAX_DECIMALS_SHOWN)
        if decimals is not None:
            places = min(places, decimals)
        return _grouped(round_places(value, places))
    return _grouped(round_significant(value, SIGNIFICANT_DIGITS_SHOWN, decimals))


def usd_text(value: Decimal) -> str:
    """US dollars for people: "$1,234.56", "$0.50", "<$0.01" (a tiny non-zero value), "−$3.10"."""
    rounded = round_places(abs(value), 2)
    if rounded.is_zero() and not value.is_zero():
        return "<$0.01"
    whole, _, cents = format(rounded, "f").partition(".")
    sign = "−" if value < 0 and not rounded.is_zero() else ""
    return f"{sign}${int(whole):,}.{cents}"


def percent_text(value: Decimal) -> str:
    """A signed percentage with one decimal: "+8.2%", "−12.5%", "0.0%"."""
    rounded = round_places(value, 1)
    if rounded.is_zero():
        return "0.0%"
    return f"{'+' if rounded > 0 else '−'}{format(abs(rounded), 'f')}%"


# --- amounts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    """A quantity of one token in human units.

    `text` (what a trader reads), e.g. "1,234.5 USDC", "0.0125 SOL", "11,754,757 BONK":
    - never scientific notation; trailing zeros stripped ("50 USDC", "0.5 SOL"); zero is "0 SOL";
    - thousands separators in the whole part;
    - amounts >= 1 show 6 significant digits, and every digit of the whole part (so no decimals
      from 1,000,000 up), at most 6 decimals and never more than the token has, rounded half up:
      "1.2345675 SOL" reads "1.23457 SOL", "12.078143 JUP" reads "12.0781 JUP",
      "11,754,756.77802 BONK" reads "11,754,757 BONK"; stablecoins at most 2 decimals
      ("1,234.57 USDC");
    - amounts < 1 show up to 4 significant digits, never more decimals than the token has:
      "0.123456789 SOL" reads "0.1235 SOL", 1 lamport reads "0.000000001 SOL".

    `exact` (the tooltip): every digit, grouped, with the symbol ("11,754,756.77802 BONK").
    `number` (for CSV): the full-precision value up to the token's decimals, plain digits with
    "." and no thousands separator, trailing zeros stripped ("1234.5", "0.000000001").
    """

    value: Decimal
    token: Token

    # Worked out once, on first read: a page reads each several times (text, tooltip, CSV).
    @cached_property
    def text(self) -> str:
        return f"{_display(self.value, self.token.decimals, is_stable(self.token))} {self.token.symbol}"

    @cached_property
    def exact(self) -> str:
        return f"{_grouped(Decimal(self.number))} {self.token.symbol}"

    @cached_property
    def is_rounded(self) -> bool:
        """True when `text` hides digits that `exact` shows."""
        return self.text != self.exact

    @property
    def usd(self) -> Decimal | None:
        """Worth in USD at the token's current price; None when that price is unknown."""
        if self.token.usd_price is None:
            return None
        return CONTEXT.multiply(self.value, self.token.usd_price)

    @cached_property
    def number(self) -> str:
        value = self.value
        if self.token.decimals is not None:
            value = round_places(value, self.token.decimals)
        return plain(value)

    @property
    def is_zero(self) -> bool:
        return self.value.is_zero()

    def __str__(self) -> str:
        return self.text


def amount(raw: int | None, human: Decimal | None, token: Token) -> Amount | None:
    """Base units scaled by the token's decimals; Jupiter's decimal string only where they are
    unknown (or the base units are missing); None when Jupiter gave neither."""
    if raw is not None and token.decimals is not None:
        return Amount(Decimal(raw).scaleb(-token.decimals, context=CONTEXT), token)
    if human is not None:
        return Amount(human, token)
    return None


def zero(token: Token) -> Amount:
    return Amount(ZERO, token)


def minus(a: Amount | None, *others: Amount | None) -> Amount | None:
    """a − others, never negative; None when any part is unknown."""
    if a is None or any(o is None for o in others):
        return None
    value = a.value
    for other in others:
        assert other is not None
        value = CONTEXT.subtract(value, other.value)
    return Amount(max(value, ZERO), a.token)


def token_for(mint: str, tokens: dict[str, Token]) -> Token:
    """The token's metadata: `tokens`, else the built-in table, else its short mint (decimals unknown)."""
    token = tokens.get(mint) or KNOWN_TOKENS.get(mint)
    if token is None:
        return Token(mint, short_address(mint), "", None)
    if not token.symbol:
        return replace(token, symbol=short_address(mint))
    return token


# --- words -----------------------------------------------------------------------------------------

_UNITS = (
    (604800, "week"),
    (86400, "day"),
    (3600, "hour"),
    (60, "minute"),
    (1, "second"),
)


def frequency_words(seconds: int) -> str:
    """The largest whole unit: 86400 → "every day", 172800 → "every 2 days", 5400 → "every 90 minutes"."""
    if seconds <= 0:
        return "at an unknown interval"
    for size, unit in _UNITS:
        if seconds % size == 0:
            count = seconds // size
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
    raise AssertionError("unreachable: every positive int is a whole number of seconds")


def is_stable(token: Token) -> bool:
    symbol = token.symbol.upper()
    return symbol in ("USDC", "USDT") or symbol.startswith("USD")


def _fixed(value: Decimal) -> str:
    """Grouped digits keeping trailing zeros ("172.40", "0.8040"): prices line up in a column."""
    whole, dot, fraction = format(value, "f").partition(".")
    return f"{int(whole):,}{dot}{fraction}"


def _price_number(value: Decimal, in_stable: bool) -> str:
    """A price with the same precision for every price of its size, trailing zeros kept:
    in a stablecoin, 2 decimals from 1 up ("172.40"); otherwise 6 significant digits from 1 up
    ("333.333", "8,100,000"); below 1, 4 significant digits ("0.8040", "0.00002425")."""
    if value < 1:
        return _fixed(round_significant(value, SIGNIFICANT_DIGITS_SHOWN))
    if in_stable:
        return _fixed(round_places(value, STABLE_DECIMALS))
    return _fixed(round_places(value, max(0, SIGNIFICANT_DIGITS_LARGE - _whole_digits(value))))


def _output_is_base(spent: Token, received: Token) -> bool:
    """Whether a pair's price is quoted per 1 output token: with a stablecoin on exactly one side
    the other token is priced in it, whichever way the order goes; otherwise 1 <output> in <input>."""
    return not (is_stable(received) and not is_stable(spent))


def _quote_sides(spent: Token, received: Token) -> tuple[Token, Token]:
    """(base, quote) of a pair's price (see `_output_is_base`)."""
    return (received, spent) if _output_is_base(spent, received) else (spent, received)


def _quote_number(ratio: Decimal, base: Token, quote: Token) -> str:
    return _price_number(ratio, is_stable(quote) and not is_stable(base))


def price_text(spent: Amount, received: Amount) -> str:
    """The average price as traders read it: "1 SOL ≈ 172.40 USDC".

    With a stablecoin on exactly one side, the other token is priced in the stablecoin, whichever
    way the order goes (buying SOL with USDC and selling SOL for USDC both read "1 SOL ≈ … USDC").
    Otherwise "1 <output> ≈ <x> <input>". Empty when nothing was received (or nothing spent).
    """
    if received.value <= 0 or spent.value <= 0:
        return ""
    base, quote = (received, spent) if _output_is_base(spent.token, received.token) else (spent, received)
    ratio = CONTEXT.divide(quote.value, base.value)
    return f"1 {base.token.symbol} ≈ {_quote_number(ratio, base.token, quote.token)} {quote.token.symbol}"


def price_quote(spent: Amount, received: Amount) -> tuple[Decimal, Token, Token] | None:
    """The exact price of a swap the way `price_text` quotes it: (quote per 1 base, base, quote);
    None when nothing was received (or nothing spent)."""
    if received.value <= 0 or spent.value <= 0:
        return None
    base, quote = (received, spent) if _output_is_base(spent.token, received.token) else (spent, received)
    return CONTEXT.divide(quote.value, base.value), base.token, quote.token


def price_now_text(input_token: Token, output_token: Token) -> str:
    """Today's price of the pair, quoted like `price_text` ("162.30 USDC" for 1 SOL); empty when
    either USD price is unknown."""
    base, quote = _quote_sides(input_token, output_token)
    if base.usd_price is None or quote.usd_price is None:
        return ""
    ratio = CONTEXT.divide(base.usd_price, quote.usd_price)
    return f"{_quote_number(ratio, base, quote)} {quote.symbol}"


def join_words(parts: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def sentence_start(text: str) -> str:
    return text[:1].upper() + text[1:]


def usd_price_text(value: Decimal) -> str:
    """A dollar price or yield as traders read it: "$50", "$1,000", "$182.35", "$0.0001234"
    (amounts of money held or gained read with cents: `usd_text`)."""
    sign, value = ("-", -value) if value < 0 else ("", value)
    if value.is_zero():
        return "$0"
    if value >= 1:
        rounded = round_places(value, 2)
        if rounded == rounded.to_integral_value():
            return f"{sign}${int(rounded):,}"
        whole, _, fraction = format(rounded, "f").partition(".")
        return f"{sign}${int(whole):,}.{fraction}"
    return f"{sign}${_grouped(round_significant(value, SIGNIFICANT_DIGITS_SHOWN))}"
