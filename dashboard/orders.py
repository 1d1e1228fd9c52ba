"""The figures a trader reads, derived from Jupiter's `Order` (pure functions, no I/O).

Money is `Decimal` (human units) or `int` (base units), never float. Amounts come from
base units and the token's decimals; Jupiter's decimal strings are used only where the
decimals are unknown. What the API does not provide is derived here, as its reference
says: number of cycles, cycles done, remaining input, average price, the estimated next
cycle and the last one, the history status (cancelled when `userClosed`, else completed),
the order's timeline of events, and what it is worth at today's price (USD prices from the
Tokens API, on the `Token`s passed in).

Jupiter's newer DCA orders (Trigger API v2, `dashboard.trigger.DcaOrder`) are described into the
same `OrderView` by `describe_dca`, with Jupiter's own fields where it has them: its schedule
(`nextFillAt`, not our estimate), its round counts, its state (in words, unknown ones shown as
they came), fills from `events`, the price band and the "Earn While You Wait" yield.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

from django.conf import settings

from dashboard.encoding import short_address
from dashboard.recurring import Fill, Order
from dashboard.tokens import KNOWN_TOKENS, Token
from dashboard.trigger import DcaEvent, DcaOrder

# Wide enough that no sum, difference or ratio of on-chain amounts (u64 base units) is rounded
# before we choose to round for display.
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP)
_ZERO = Decimal(0)

MAX_DECIMALS_SHOWN = 6  # amounts >= 1, and never more than their significant digits allow
SIGNIFICANT_DIGITS_LARGE = 6  # amounts and prices >= 1: "12.0781 JUP", "11,754,757 BONK"
SIGNIFICANT_DIGITS_SHOWN = 4  # amounts < 1, and prices < 1
STABLE_DECIMALS = 2  # stablecoin amounts >= 1 and stablecoin prices >= 1: "1,234.57 USDC"
CSV_PRICE_DIGITS = 12  # significant digits of the CSV's price column

FILL_ACTION = "fill"
PRICE_COLUMN = "price (in_token per 1 out_token)"
FILL_COLUMNS = (
    "date (UTC)",
    "pair",
    "in_amount",
    "in_token",
    "out_amount",
    "out_token",
    "fee_amount",
    "fee_token",
    PRICE_COLUMN,
    "signature",
    "order",
    "system",
)
USD_COLUMN = "value_usd_at_fill"  # added only when the upstream gives a fill's USD value

# What closing a v1 order's accounts gives back besides tokens: the rent Solana holds for them.
ACCOUNT_RENT_WORDS = "about 0.002 SOL of account rent"
SYSTEM_NAMES = {"v1": "Recurring v1", "v2": "DCA v2"}  # the CSV's "system" column


# --- number formatting -----------------------------------------------------------------------------


def _plain(value: Decimal) -> str:
    """Digits with "." and no exponent, trailing zeros stripped ("50", not "5E+1"; "0", not "0E-9")."""
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _grouped(value: Decimal) -> str:
    """`_plain` with thousands separators in the whole part: "12,345,678.9"."""
    text = _plain(value)
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    whole, dot, fraction = text.partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"


def _round_places(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), context=_CONTEXT)


def _round_significant(value: Decimal, digits: int, max_places: int | None = None) -> Decimal:
    """Round to `digits` significant digits, but never past `max_places` decimals."""
    places = digits - 1 - value.adjusted()
    if max_places is not None:
        places = min(places, max_places)
    return _round_places(value, places)


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
        return _grouped(_round_places(value, places))
    return _grouped(_round_significant(value, SIGNIFICANT_DIGITS_SHOWN, decimals))


def usd_text(value: Decimal) -> str:
    """US dollars for people: "$1,234.56", "$0.50", "<$0.01" (a tiny non-zero value), "−$3.10"."""
    rounded = _round_places(abs(value), 2)
    if rounded.is_zero() and not value.is_zero():
        return "<$0.01"
    whole, _, cents = format(rounded, "f").partition(".")
    sign = "−" if value < 0 and not rounded.is_zero() else ""
    return f"{sign}${int(whole):,}.{cents}"


def percent_text(value: Decimal) -> str:
    """A signed percentage with one decimal: "+8.2%", "−12.5%", "0.0%"."""
    rounded = _round_places(value, 1)
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

    @property
    def text(self) -> str:
        return f"{_display(self.value, self.token.decimals, is_stable(self.token))} {self.token.symbol}"

    @property
    def exact(self) -> str:
        return f"{_grouped(Decimal(self.number))} {self.token.symbol}"

    @property
    def is_rounded(self) -> bool:
        """True when `text` hides digits that `exact` shows."""
        return self.text != self.exact

    @property
    def usd(self) -> Decimal | None:
        """Worth in USD at the token's current price; None when that price is unknown."""
        if self.token.usd_price is None:
            return None
        return _CONTEXT.multiply(self.value, self.token.usd_price)

    @property
    def number(self) -> str:
        value = self.value
        if self.token.decimals is not None:
            value = _round_places(value, self.token.decimals)
        return _plain(value)

    @property
    def is_zero(self) -> bool:
        return self.value.is_zero()

    def __str__(self) -> str:
        return self.text


def amount(raw: int | None, human: Decimal | None, token: Token) -> Amount | None:
    """Base units scaled by the token's decimals; Jupiter's decimal string only where they are
    unknown (or the base units are missing); None when Jupiter gave neither."""
    if raw is not None and token.decimals is not None:
        return Amount(Decimal(raw).scaleb(-token.decimals, context=_CONTEXT), token)
    if human is not None:
        return Amount(human, token)
    return None


def _zero(token: Token) -> Amount:
    return Amount(_ZERO, token)


def _minus(a: Amount | None, *others: Amount | None) -> Amount | None:
    """a − others, never negative; None when any part is unknown."""
    if a is None or any(o is None for o in others):
        return None
    value = a.value
    for other in others:
        assert other is not None
        value = _CONTEXT.subtract(value, other.value)
    return Amount(max(value, _ZERO), a.token)


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
        return _fixed(_round_significant(value, SIGNIFICANT_DIGITS_SHOWN))
    if in_stable:
        return _fixed(_round_places(value, STABLE_DECIMALS))
    return _fixed(_round_places(value, max(0, SIGNIFICANT_DIGITS_LARGE - _whole_digits(value))))


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
    ratio = _CONTEXT.divide(quote.value, base.value)
    return f"1 {base.token.symbol} ≈ {_quote_number(ratio, base.token, quote.token)} {quote.token.symbol}"


def price_now_text(input_token: Token, output_token: Token) -> str:
    """Today's price of the pair, quoted like `price_text` ("162.30 USDC" for 1 SOL); empty when
    either USD price is unknown."""
    base, quote = _quote_sides(input_token, output_token)
    if base.usd_price is None or quote.usd_price is None:
        return ""
    ratio = _CONTEXT.divide(base.usd_price, quote.usd_price)
    return f"{_quote_number(ratio, base, quote)} {quote.symbol}"


def price_number(spent: Amount, received: Amount) -> str:
    """Input paid per 1 output token, as a plain number for the CSV (12 significant digits)."""
    if received.value <= 0 or spent.value <= 0:
        return ""
    ratio = _CONTEXT.divide(spent.value, received.value)
    return _plain(_round_significant(ratio, CSV_PRICE_DIGITS))


# --- value at today's price --------------------------------------------------------------------


@dataclass(frozen=True)
class ValueNow:
    """What was spent and what was bought, both at today's USD prices.

    `spent_usd` is the input already swapped, `worth_usd` the output bought with it; each is
    None when its token's price is unknown. Nothing here is a price of the past: the gain says
    whether buying over time beat keeping what was spent, valued today.
    """

    spent_usd: Decimal | None
    worth_usd: Decimal | None

    @property
    def known(self) -> bool:
        return self.spent_usd is not None and self.worth_usd is not None

    @property
    def gain_usd(self) -> Decimal | None:
        if self.spent_usd is None or self.worth_usd is None:
            return None
        return _CONTEXT.subtract(self.worth_usd, self.spent_usd)

    @property
    def gain_percent(self) -> Decimal | None:
        gain = self.gain_usd
        if gain is None or self.spent_usd is None or self.spent_usd <= 0:
            return None
        return _CONTEXT.divide(_CONTEXT.multiply(gain, Decimal(100)), self.spent_usd)

    @property
    def spent_text(self) -> str:
        return usd_text(self.spent_usd) if self.spent_usd is not None else "price unknown"

    @property
    def worth_text(self) -> str:
        return usd_text(self.worth_usd) if self.worth_usd is not None else "price unknown"

    @property
    def direction(self) -> str:
        """ "gain", "loss" or "even" (for the words and the colour); "" when unknown."""
        gain = self.gain_usd
        if gain is None:
            return ""
        rounded = _round_places(gain, 2)
        return "gain" if rounded > 0 else "loss" if rounded < 0 else "even"

    @property
    def gain_text(self) -> str:
        """ "+$12.34 (+8.2%)", "−$3.10 (−2.1%)", "$0.00"; "price unknown" when it cannot be said."""
        gain = self.gain_usd
        if gain is None:
            return "price unknown"
        money = usd_text(gain)
        if gain > 0 and not money.startswith("<"):
            money = "+" + money
        percent = self.gain_percent
        return money if percent is None else f"{money} ({percent_text(percent)})"


def value_now(spent: Amount | None, received: Amount | None) -> ValueNow:
    return ValueNow(
        spent_usd=spent.usd if spent is not None else None,
        worth_usd=received.usd if received is not None else None,
    )


@dataclass(frozen=True)
class Totals:
    """The value at today's price of several orders: only those whose prices are known are added
    up; `unknown` counts the others, which the page names rather than guesses."""

    value: ValueNow
    counted: int
    unknown: int


def total_value(views: Iterable[OrderView]) -> Totals:
    spent = worth = _ZERO
    counted = unknown = 0
    for view in views:
        if view.value is None or not view.value.known:
            unknown += 1
            continue
        assert view.value.spent_usd is not None and view.value.worth_usd is not None
        spent = _CONTEXT.add(spent, view.value.spent_usd)
        worth = _CONTEXT.add(worth, view.value.worth_usd)
        counted += 1
    return Totals(value=ValueNow(spent, worth) if counted else ValueNow(None, None), counted=counted, unknown=unknown)


# --- views -----------------------------------------------------------------------------------------


def _tx_url(signature: str) -> str:
    return settings.EXPLORER_TX_URL.format(signature) if signature else ""


def _is_fill(fill: Fill) -> bool:
    return fill.action.lower() == FILL_ACTION


@dataclass(frozen=True)
class FillView:
    """One executed cycle. Amounts Jupiter left out entirely read as zero; `fee` is None then."""

    confirmed_at: datetime
    spent: Amount
    received: Amount
    fee: Amount | None  # in the fee mint's token (the output token when that is unknown)
    rate: str  # price_text(spent, received)
    tx_id: str
    explorer_url: str  # "" without a signature
    usd_value: Decimal | None = None  # the fill's USD value at fill time, only when upstream gives it


def describe_fill(fill: Fill, input_token: Token, output_token: Token, tokens: dict[str, Token]) -> FillView:
    spent = amount(fill.raw_in, fill.in_amount, input_token) or _zero(input_token)
    received = amount(fill.raw_out, fill.out_amount, output_token) or _zero(output_token)
    known_fee_mint = fill.fee_mint in tokens or fill.fee_mint in KNOWN_TOKENS
    fee_token = token_for(fill.fee_mint, tokens) if known_fee_mint else output_token
    return FillView(
        confirmed_at=fill.confirmed_at,
        spent=spent,
        received=received,
        fee=amount(fill.raw_fee, fill.fee_amount, fee_token),
        rate=price_text(spent, received),
        tx_id=fill.tx_id,
        explorer_url=_tx_url(fill.tx_id),
    )


@dataclass(frozen=True)
class OrderEvent:
    """One line of an order's timeline: created, a deposit, a buy, the cancel, what came back.

    Built from v1's `getRecurringOrders` here; any other source (v2 `events`) can make these too.
    `tx_url` is None for an event without a transaction we can link to."""

    kind: str  # "created", "deposit", "buy", "withdrawal", "cancelled", "completed", "refund", or upstream's word
    when: datetime | None
    words: str  # "Bought 0.29 SOL for 50 USDC"
    tx_url: str | None = None
    rate: str = ""  # buys: "1 SOL ≈ 172.41 USDC"
    fee: Amount | None = None  # buys: Jupiter's fee, taken from what was bought


@dataclass(frozen=True)
class RoundView:
    """A v2 round (or other event) that is not a plain successful fill, in words."""

    at: datetime | None
    words: str  # "Round 2 failed after 3 attempts and was moved to the next interval"
    explorer_url: str  # "" without a transaction


@dataclass(frozen=True)
class OrderView:
    """Everything a page shows about one order. Order-level amounts are None only when Jupiter
    sent neither base units nor a decimal string for them."""

    order_key: str
    status: str  # "active" or "history"
    status_words: str  # "Active", "Completed", "Cancelled by you"
    input_token: Token
    output_token: Token
    pair: str  # "USDC → SOL"
    per_cycle: Amount | None
    frequency: str  # "every day"
    schedule: str  # "50 USDC every day"
    cycles_total: int  # 0 when unknown
    cycles_done: int
    percent: int  # 0–100, share of the deposit already swapped, floored
    deposited: Amount | None
    spent: Amount | None
    remaining: Amount | None  # deposited − spent − withdrawn_in, never negative
    withdrawn_in: Amount | None
    received: Amount | None
    withdrawn_out: Amount | None
    unwithdrawn_out: Amount | None  # received − withdrawn_out, never negative
    average_price: str  # "" until something was received
    next_cycle: datetime | None  # an estimate
    created_at: datetime
    closed_at: datetime | None  # history orders only
    order_url: str
    open_tx_url: str
    close_tx_url: str  # "" when there is no closing transaction
    fills: tuple[FillView, ...]  # newest first
    refund_text: str  # "45 USDC not yet spent, 0.12 SOL bought so far and about 0.002 SOL of account rent"
    refund_count: int  # how many things come back (for "is"/"are")
    # Added for the trader's questions; defaults so other sources (v2) can leave them out.
    value: ValueNow | None = None  # spent and bought at today's price
    price_now: str = ""  # today's price in the average price's terms: "162.30 USDC"
    last_buy: datetime | None = None  # an estimate, active time-based orders only
    events: tuple[OrderEvent, ...] = ()  # newest first
    cycles_left: int = 0
    # Jupiter's newer DCA orders (Trigger API v2); v1 orders keep these defaults.
    system: str = "v1"  # "v1" Recurring API, "v2" Trigger API v2 DCA
    state: str = ""  # v2: Jupiter's state as sent ("active", "withdrawing", … or one we do not know)
    next_fill_at: datetime | None = None  # v2: Jupiter's own schedule (not our estimate)
    price_band: str = ""  # v2: "Only buys while SOL is between $50 and $1,000"
    earn: str = ""  # v2: the "Earn While You Wait" line, when it is on
    rounds: tuple[RoundView, ...] = ()  # v2: rounds that failed, were moved or are running, oldest first
    extra: tuple[tuple[str, str], ...] = ()  # v2: what Jupiter sent that we do not know, as plain text

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def is_cancelled(self) -> bool:
        return self.status == "history" and self.status_words.startswith("Cancelled")

    @property
    def cancelled_text(self) -> str:
        """What the trader reads once the cancel went through."""
        if not self.refund_count:
            return "Order cancelled."
        verb = "is" if self.refund_count == 1 else "are"
        return f"Order cancelled. {self.refund_text} {verb} back in your wallet."


def _cycles_total(order: Order) -> int:
    """ceil(deposited / per cycle), in base units when known; 0 when unknown."""
    deposited, per_cycle = order.raw_in_deposited, order.raw_in_per_cycle
    if deposited is not None and per_cycle:
        return -(-deposited // per_cycle)
    human_deposited, human_per_cycle = order.in_deposited, order.in_per_cycle
    if human_deposited is not None and human_per_cycle:
        ratio = _CONTEXT.divide(human_deposited, human_per_cycle)
        return max(int(ratio.to_integral_value(rounding=ROUND_CEILING)), 0)
    return 0


def _percent(spent: Amount | None, deposited: Amount | None) -> int:
    if spent is None or deposited is None or deposited.value <= 0:
        return 0
    ratio = _CONTEXT.divide(_CONTEXT.multiply(spent.value, Decimal(100)), deposited.value)
    return min(max(int(ratio.to_integral_value(rounding=ROUND_FLOOR)), 0), 100)


def _next_cycle(order: Order, fills: list[Fill], remaining: Amount | None, now: datetime) -> datetime | None:
    """Last fill (or creation) + one cycle, moved on by whole cycles until it is after `now`."""
    if order.status == "history" or order.cycle_frequency <= 0:
        return None
    if remaining is not None and remaining.is_zero:
        return None
    step = timedelta(seconds=order.cycle_frequency)
    start = max((f.confirmed_at for f in fills), default=order.created_at)
    due = start + step
    if due <= now:
        due += step * ((now - due) // step + 1)
    return due


def _cycles_left(
    order: Order, remaining: Amount | None, per_cycle: Amount | None, cycles_total: int, cycles_done: int
) -> int:
    """Buys still to come: ceil(remaining / per cycle) when both are known, else total − done."""
    if order.status == "history":
        return 0
    if remaining is not None and per_cycle is not None and per_cycle.value > 0:
        ratio = _CONTEXT.divide(remaining.value, per_cycle.value)
        return max(int(ratio.to_integral_value(rounding=ROUND_CEILING)), 0)
    return max(cycles_total - cycles_done, 0)


def _last_buy(order: Order, next_cycle: datetime | None, cycles_left: int) -> datetime | None:
    """The estimated last buy of a time-based order: the next one plus a cycle per buy after it."""
    if next_cycle is None or cycles_left <= 0 or order.cycle_frequency <= 0 or order.recurring_type != "time":
        return None
    return next_cycle + timedelta(seconds=order.cycle_frequency) * (cycles_left - 1)


def _join(parts: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _refund_parts(remaining: Amount | None, unwithdrawn: Amount | None, input_: Token, output: Token) -> list[str]:
    """What a cancel sends back: the deposit not yet spent, the tokens bought that the order still
    holds, and the account rent; zero parts left out. Joined, the start of a sentence:
    "200 USDC not yet spent, 0.59 SOL bought so far and about 0.002 SOL of account rent"."""
    parts = []
    if remaining is None:
        parts.append(f"the {input_.symbol} not yet spent")
    elif not remaining.is_zero:
        parts.append(f"{remaining.text} not yet spent")
    if unwithdrawn is None:
        parts.append(f"the {output.symbol} bought so far")
    elif not unwithdrawn.is_zero:
        parts.append(f"{unwithdrawn.text} bought so far")
    parts.append(ACCOUNT_RENT_WORDS)
    return parts


def _sentence_start(text: str) -> str:
    return text[:1].upper() + text[1:]


def _created_words(deposited: Amount | None, schedule: str) -> str:
    if deposited is None:
        return f"Order created: {schedule}"
    return f"Order created: {deposited.text} deposited, {schedule}"


def _other_event(trade: Fill, input_token: Token, output_token: Token, tokens: dict[str, Token]) -> OrderEvent:
    """A `trades[]` item that is not a fill ("Deposit", "Withdraw", …), in plain words."""
    action = trade.action.strip()
    lowered = action.lower()
    moved = [
        a.text
        for a in (
            amount(trade.raw_in, trade.in_amount, input_token),
            amount(trade.raw_out, trade.out_amount, output_token),
        )
        if a is not None and not a.is_zero
    ]
    if "deposit" in lowered:
        kind, words = "deposit", "Deposited"
    elif "withdraw" in lowered:
        kind, words = "withdrawal", "Sent to your wallet"
    else:
        kind, words = lowered or "other", action or "Other event"
    if moved:
        words = f"{words}: {_join(moved)}"
    return OrderEvent(kind=kind, when=trade.confirmed_at, words=words, tx_url=_tx_url(trade.tx_id) or None)


def _events(
    order: Order,
    fills: list[FillView],
    others: list[OrderEvent],
    deposited: Amount | None,
    withdrawn_in: Amount | None,
    withdrawn_out: Amount | None,
    schedule: str,
) -> tuple[OrderEvent, ...]:
    """The v1 order's timeline, newest first: created, deposits, buys, the close and what came back."""
    timeline = [
        OrderEvent("created", order.created_at, _created_words(deposited, schedule), _tx_url(order.open_tx) or None)
    ]
    timeline += others
    for fill in reversed(fills):
        words = f"Bought {fill.received.text} for {fill.spent.text}"
        timeline.append(
            OrderEvent("buy", fill.confirmed_at, words, fill.explorer_url or None, rate=fill.rate, fee=fill.fee)
        )
    if order.status == "history":
        close_url = _tx_url(order.close_tx) or None
        if order.user_closed:
            timeline.append(OrderEvent("cancelled", order.updated_at, "Cancelled by you", close_url))
        else:
            timeline.append(OrderEvent("completed", order.updated_at, "Completed: every buy done", close_url))
        back = []
        if withdrawn_in is not None and not withdrawn_in.is_zero:
            back.append(f"{withdrawn_in.text} not spent")
        if withdrawn_out is not None and not withdrawn_out.is_zero:
            back.append(f"{withdrawn_out.text} bought")
        if back:
            timeline.append(OrderEvent("refund", order.updated_at, f"In your wallet: {_join(back)}", close_url))
    order_of = {id(event): n for n, event in enumerate(timeline)}
    far_past = datetime.min.replace(tzinfo=timezone.utc)
    return tuple(sorted(timeline, key=lambda e: (e.when or far_past, order_of[id(e)]), reverse=True))


def _average_price(fills: list[FillView], spent: Amount | None, received: Amount | None) -> str:
    if fills:
        total_in = sum((f.spent.value for f in fills), _ZERO)
        total_out = sum((f.received.value for f in fills), _ZERO)
        text = price_text(Amount(total_in, fills[0].spent.token), Amount(total_out, fills[0].received.token))
        if text:
            return text
    if spent is not None and received is not None:
        return price_text(spent, received)
    return ""


def describe(order: Order, tokens: dict[str, Token], now: datetime) -> OrderView:
    """The figures for one order. `tokens` may miss mints (built-in table, then short mint);
    `now` must be timezone-aware."""
    input_token = token_for(order.input_mint, tokens)
    output_token = token_for(order.output_mint, tokens)
    history = order.status == "history"

    per_cycle = amount(order.raw_in_per_cycle, order.in_per_cycle, input_token)
    deposited = amount(order.raw_in_deposited, order.in_deposited, input_token)
    spent = amount(order.raw_in_used, order.in_used, input_token)
    withdrawn_in = amount(order.raw_in_withdrawn, order.in_withdrawn, input_token)
    received = amount(order.raw_out_received, order.out_received, output_token)
    withdrawn_out = amount(order.raw_out_withdrawn, order.out_withdrawn, output_token)
    remaining = _minus(deposited, spent, withdrawn_in)
    unwithdrawn_out = _minus(received, withdrawn_out)
    refund = _refund_parts(remaining, unwithdrawn_out, input_token, output_token)

    fills = [f for f in order.fills if _is_fill(f)]
    others = [_other_event(f, input_token, output_token, tokens) for f in order.fills if not _is_fill(f)]
    fill_views = sorted(
        (describe_fill(f, input_token, output_token, tokens) for f in fills),
        key=lambda v: v.confirmed_at,
        reverse=True,
    )
    cycles_total = _cycles_total(order)
    cycles_done = min(len(fills), cycles_total) if cycles_total else len(fills)

    frequency = frequency_words(order.cycle_frequency)
    status_words = "Active"
    if history:
        status_words = "Cancelled by you" if order.user_closed else "Completed"
    what = per_cycle.text if per_cycle is not None else f"an unknown amount of {input_token.symbol}"
    schedule = f"{what} {frequency}"
    next_cycle = _next_cycle(order, fills, remaining, now)
    cycles_left = _cycles_left(order, remaining, per_cycle, cycles_total, cycles_done)

    return OrderView(
        order_key=order.order_key,
        status="history" if history else "active",
        status_words=status_words,
        input_token=input_token,
        output_token=output_token,
        pair=f"{input_token.symbol} → {output_token.symbol}",
        per_cycle=per_cycle,
        frequency=frequency,
        schedule=schedule,
        cycles_total=cycles_total,
        cycles_done=cycles_done,
        percent=_percent(spent, deposited),
        deposited=deposited,
        spent=spent,
        remaining=remaining,
        withdrawn_in=withdrawn_in,
        received=received,
        withdrawn_out=withdrawn_out,
        unwithdrawn_out=unwithdrawn_out,
        average_price=_average_price(fill_views, spent, received),
        next_cycle=next_cycle,
        created_at=order.created_at,
        closed_at=order.updated_at if history else None,
        order_url=settings.EXPLORER_ACCOUNT_URL.format(order.order_key),
        open_tx_url=_tx_url(order.open_tx),
        close_tx_url=_tx_url(order.close_tx),
        fills=tuple(fill_views),
        refund_text=_sentence_start(_join(refund)),
        refund_count=len(refund),
        value=value_now(spent, received),
        price_now=price_now_text(input_token, output_token),
        last_buy=_last_buy(order, next_cycle, cycles_left),
        events=_events(order, fill_views, others, deposited, withdrawn_in, withdrawn_out, schedule),
        cycles_left=cycles_left,
    )


# --- Jupiter's newer DCA orders (Trigger API v2) -------------------------------------------------

DCA_STATE_WORDS = {
    "depositing": "Starting",
    "active": "Active",
    "executing": "Buying now",
    "withdrawing": "Cancelling — the refund still needs your approval",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "deposit_failed": "The deposit failed; nothing was bought",
}
DCA_CLOSED_STATES = ("completed", "cancelled", "deposit_failed")
DCA_SCHEDULED_STATES = ("depositing", "active", "executing")  # Jupiter's nextFillAt still applies
KNOWN_ORDER_TYPES = ("time_based", "price_conditional", "")
SUCCESS = "success"


def dca_state_words(state: str) -> str:
    """A v2 state in plain words; one we do not know is shown as Jupiter sent it."""
    if state in DCA_STATE_WORDS:
        return DCA_STATE_WORDS[state]
    if state:
        return f"Jupiter reports this order as “{state}”"
    return "Jupiter did not say what state this order is in"


def usd_price_text(value: Decimal) -> str:
    """A dollar price or yield as traders read it: "$50", "$1,000", "$182.35", "$0.0001234"
    (amounts of money held or gained read with cents: `usd_text`)."""
    sign, value = ("-", -value) if value < 0 else ("", value)
    if value.is_zero():
        return "$0"
    if value >= 1:
        rounded = _round_places(value, 2)
        if rounded == rounded.to_integral_value():
            return f"{sign}${int(rounded):,}"
        whole, _, fraction = format(rounded, "f").partition(".")
        return f"{sign}${int(whole):,}.{fraction}"
    return f"{sign}${_grouped(_round_significant(value, SIGNIFICANT_DIGITS_SHOWN))}"


def price_band(order: DcaOrder, tokens: dict[str, Token]) -> str:
    """The price condition of a `price_conditional` order, in words; "" for other orders."""
    if order.order_type != "price_conditional":
        return ""
    low, high = order.min_price_usd, order.max_price_usd
    if order.trigger_mint:
        watched = token_for(order.trigger_mint, tokens).symbol
    else:  # not sent: the token whose price moves, i.e. the side that is not a stablecoin
        output = token_for(order.output_mint, tokens)
        watched = token_for(order.input_mint, tokens).symbol if is_stable(output) else output.symbol
    if low is not None and high is not None:
        return f"Only buys while {watched} is between {usd_price_text(low)} and {usd_price_text(high)}"
    if low is not None:
        return f"Only buys while {watched} is at or above {usd_price_text(low)}"
    if high is not None:
        return f"Only buys while {watched} is at or below {usd_price_text(high)}"
    return f"Only buys when {watched}'s price meets Jupiter's condition (Jupiter did not say which)"


def earn_words(order: DcaOrder) -> str:
    """The "Earn While You Wait" line of an order with `jlEnabled`; "" otherwise."""
    if not order.jl_enabled:
        return ""
    words = "Earn While You Wait is on: the deposit waiting to be spent earns Jupiter Lend yield"
    if order.jl_yield_usd is not None:
        return f"{words} — {usd_price_text(order.jl_yield_usd)} so far"
    return f"{words} (no yield reported yet)"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _round_words(number: int | None, events: list[DcaEvent], filled: bool) -> str:
    """One round's events that were not a plain success, as one sentence."""
    name = f"Round {number}" if number is not None else "A round"
    states = {e.state for e in events}
    failed = [e for e in events if e.state == "failed"]
    attempts = max([e.attempt_count or 0 for e in failed] + [len(failed)])
    parts = []
    if failed:
        parts.append(f"failed after {_plural(attempts, 'attempt')}" if attempts > 1 else "failed")
    if "rescheduled" in states:
        parts.append("was moved to the next interval")
    if "pending" in states and not filled:
        parts.append("is being bought now")
    unknown = sorted(states - {"failed", "rescheduled", "pending", SUCCESS})
    parts += [f"is “{state or 'without a state'}” according to Jupiter" for state in unknown]
    text = f"{name} " + " and ".join(parts)
    if filled and (failed or "rescheduled" in states):
        text += "; it was filled later"
    return text


def describe_rounds(order: DcaOrder) -> tuple[RoundView, ...]:
    """Failed, rescheduled and running rounds (grouped per round), and events of kinds we do not
    know or that failed (a failed deposit or refund), oldest first. Plain successful fills are
    the order's fills, not listed here."""
    by_round: dict[int | None, list[DcaEvent]] = {}
    filled_rounds = set()
    views = []
    for event in order.events:
        if event.type == "fill":
            if event.state == SUCCESS:
                filled_rounds.add(event.round_number)
            else:
                by_round.setdefault(event.round_number, []).append(event)
        elif event.type not in ("deposit", "withdrawal", "cancelled"):
            words = f"Jupiter reports a “{event.type}” event" + (f" ({event.state})" if event.state else "")
            views.append(RoundView(event.at, words, _tx_url(event.tx_signature)))
        elif event.state == "failed":
            what = {"deposit": "The deposit", "withdrawal": "A refund", "cancelled": "A cancel"}[event.type]
            views.append(RoundView(event.at, f"{what} failed", _tx_url(event.tx_signature)))
    for number, events in by_round.items():
        with_tx = [e for e in events if e.tx_signature]
        views.append(
            RoundView(
                at=events[-1].at,
                words=_round_words(number, events, filled=number is not None and number in filled_rounds),
                explorer_url=_tx_url(with_tx[-1].tx_signature) if with_tx else "",
            )
        )
    return tuple(sorted(views, key=lambda v: v.at.timestamp() if v.at else float("inf")))


def describe_dca_fill(event: DcaEvent, when: datetime, input_token: Token, output_token: Token) -> FillView:
    """A successful round. Jupiter deducts its fee from the output already: no separate fee."""
    spent = amount(event.raw_in, None, input_token) or _zero(input_token)
    received = amount(event.raw_out, None, output_token) or _zero(output_token)
    return FillView(
        confirmed_at=event.at or when,
        spent=spent,
        received=received,
        fee=None,
        rate=price_text(spent, received),
        tx_id=event.tx_signature,
        explorer_url=_tx_url(event.tx_signature),
    )


def _last_tx(order: DcaOrder, kind: str) -> str:
    done = [e for e in order.events if e.type == kind and e.state == SUCCESS and e.tx_signature]
    return done[-1].tx_signature if done else ""


def _dca_events(
    order: DcaOrder,
    fills: list[FillView],
    rounds: tuple[RoundView, ...],
    deposited: Amount | None,
    schedule: str,
    input_token: Token,
) -> tuple[OrderEvent, ...]:
    """A v2 order's timeline from its `events`, newest first: created, the deposit, every buy,
    rounds that did not fill as planned, the cancel and the refund (each with its transaction)."""
    timeline = [OrderEvent("created", order.created_at, _created_words(deposited, schedule))]
    for event in order.events:
        if event.state != SUCCESS or event.type == "fill":
            continue  # buys come from `fills`; failed or unusual events from `rounds`
        moved = amount(event.raw_in, None, input_token)
        tx_url = _tx_url(event.tx_signature) or None
        if event.type == "deposit":
            words = f"Deposited {moved.text}" if moved is not None else "Deposited"
            timeline.append(OrderEvent("deposit", event.at, words, tx_url))
        elif event.type == "withdrawal":
            words = f"Refund: {moved.text} back in your wallet" if moved is not None else "Refund sent to your wallet"
            timeline.append(OrderEvent("refund", event.at, words, tx_url))
        elif event.type == "cancelled":
            timeline.append(OrderEvent("cancelled", event.at, "Cancelled", tx_url))
    if order.state == "completed":
        timeline.append(OrderEvent("completed", order.updated_at, "Completed: every buy done"))
    for fill in reversed(fills):
        words = f"Bought {fill.received.text} for {fill.spent.text}"
        timeline.append(OrderEvent("buy", fill.confirmed_at, words, fill.explorer_url or None, rate=fill.rate))
    for round_ in rounds:
        timeline.append(OrderEvent("round", round_.at, round_.words, round_.explorer_url or None))
    order_of = {id(event): n for n, event in enumerate(timeline)}
    far_past = datetime.min.replace(tzinfo=timezone.utc)
    return tuple(sorted(timeline, key=lambda e: (e.when or far_past, order_of[id(e)]), reverse=True))


def describe_dca(order: DcaOrder, tokens: dict[str, Token], now: datetime) -> OrderView:
    """The figures for one v2 order, in the same `OrderView` as a v1 order. `now` must be aware."""
    input_token = token_for(order.input_mint, tokens)
    output_token = token_for(order.output_mint, tokens)
    history = order.listed != "active"
    closed = order.state in DCA_CLOSED_STATES

    per_cycle = amount(order.raw_per_round, None, input_token)
    deposited = amount(order.raw_in_initial, None, input_token)
    spent = amount(order.raw_in_used, None, input_token)
    received = amount(order.raw_out_total, None, output_token)
    # `inputAmountRemaining` is not zeroed after a cancel: what came back is the refund's amount.
    refunds = [e for e in order.events if e.type == "withdrawal" and e.state == SUCCESS]
    withdrawn_in = None
    if refunds and any(e.raw_in is not None for e in refunds):
        withdrawn_in = Amount(
            sum((amount(e.raw_in, None, input_token) or _zero(input_token)).value for e in refunds), input_token
        )
    elif order.state == "cancelled":
        withdrawn_in = amount(order.raw_in_remaining, None, input_token)
    elif order.state == "completed":
        withdrawn_in = _zero(input_token)
    remaining = _zero(input_token) if closed else amount(order.raw_in_remaining, None, input_token)
    if remaining is None and not closed:
        remaining = _minus(deposited, spent)

    refund = _refund_parts(remaining, _zero(output_token), input_token, output_token)  # bought tokens are home

    fills = [
        describe_dca_fill(e, order.updated_at, input_token, output_token)
        for e in order.events
        if e.type == "fill" and e.state == SUCCESS
    ]
    fills.sort(key=lambda v: v.confirmed_at, reverse=True)
    cycles_total = order.rounds_total or 0
    if not cycles_total and order.raw_in_initial is not None and order.raw_per_round:
        cycles_total = -(-order.raw_in_initial // order.raw_per_round)
    cycles_done = order.rounds_filled if order.rounds_filled is not None else len(fills)
    if order.fill_percent is not None:
        percent = min(int((order.fill_percent * 100).to_integral_value(rounding=ROUND_FLOOR)), 100)
    else:
        percent = _percent(spent, deposited)

    frequency = frequency_words(order.interval_seconds or 0)
    what = per_cycle.text if per_cycle is not None else f"an unknown amount of {input_token.symbol}"
    schedule = f"{what} {frequency}"
    rounds = describe_rounds(order)
    next_fill_at = order.next_fill_at if order.state in DCA_SCHEDULED_STATES else None
    cycles_left = max(cycles_total - cycles_done, 0) if next_fill_at is not None else 0
    last_buy = None
    if next_fill_at is not None and cycles_left > 0 and order.interval_seconds and order.order_type == "time_based":
        last_buy = next_fill_at + timedelta(seconds=order.interval_seconds) * (cycles_left - 1)
    extra = order.extra
    if order.order_type not in KNOWN_ORDER_TYPES:
        extra = (("orderType", order.order_type), *extra)
    return OrderView(
        order_key=order.id,
        status="history" if history else "active",
        status_words=dca_state_words(order.state),
        input_token=input_token,
        output_token=output_token,
        pair=f"{input_token.symbol} → {output_token.symbol}",
        per_cycle=per_cycle,
        frequency=frequency,
        schedule=schedule,
        cycles_total=cycles_total,
        cycles_done=cycles_done,
        percent=percent,
        deposited=deposited,
        spent=spent,
        remaining=remaining,
        withdrawn_in=withdrawn_in,
        received=received,
        withdrawn_out=received,  # each round's output goes straight to the wallet
        unwithdrawn_out=_zero(output_token),
        average_price=_average_price(fills, spent, received),
        next_cycle=None,  # Jupiter schedules v2 rounds itself: see next_fill_at
        created_at=order.created_at,
        closed_at=order.updated_at if history else None,
        order_url=settings.EXPLORER_ACCOUNT_URL.format(order.vault) if order.vault else "",
        open_tx_url=_tx_url(_last_tx(order, "deposit")),
        close_tx_url=_tx_url(_last_tx(order, "withdrawal")),
        fills=tuple(fills),
        refund_text=_sentence_start(_join(refund)),
        refund_count=len(refund),
        value=value_now(spent, received),
        price_now=price_now_text(input_token, output_token),
        last_buy=last_buy,  # an estimate from Jupiter's next round and the rounds left
        events=_dca_events(order, fills, rounds, deposited, schedule, input_token),
        cycles_left=cycles_left,
        system="v2",
        state=order.state,
        next_fill_at=next_fill_at,
        price_band=price_band(order, tokens),
        earn=earn_words(order),
        rounds=rounds,
        extra=extra,
    )


# --- CSV -----------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Token symbols are untrusted: keep spreadsheets from reading a cell as a formula."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def fill_columns(views: Iterable[OrderView]) -> tuple[str, ...]:
    """`FILL_COLUMNS`, plus the USD value at fill time when the upstream gave one for any fill."""
    if any(fill.usd_value is not None for view in views for fill in view.fills):
        return (*FILL_COLUMNS, USD_COLUMN)
    return FILL_COLUMNS


def fill_rows(views: Iterable[OrderView]) -> list[dict[str, str]]:
    """One row per fill (columns `fill_columns(views)`), oldest first; dates ISO 8601 in UTC;
    amounts and the price as plain numbers (the units are in the token columns and the header)."""
    views = list(views)
    with_usd = USD_COLUMN in fill_columns(views)
    rows: list[tuple[datetime, str, dict[str, str]]] = []
    for view in views:
        for fill in view.fills:
            when = fill.confirmed_at.astimezone(timezone.utc)
            row = {
                "date (UTC)": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "pair": view.pair,
                "in_amount": fill.spent.number,
                "in_token": fill.spent.token.symbol,
                "out_amount": fill.received.number,
                "out_token": fill.received.token.symbol,
                "fee_amount": fill.fee.number if fill.fee is not None else "",
                "fee_token": fill.fee.token.symbol if fill.fee is not None else "",
                PRICE_COLUMN: price_number(fill.spent, fill.received),
                "signature": fill.tx_id,
                "order": view.order_key,
                "system": SYSTEM_NAMES.get(view.system, view.system),
            }
            if with_usd:
                row[USD_COLUMN] = _plain(fill.usd_value) if fill.usd_value is not None else ""
            rows.append((when, fill.tx_id, {key: _cell(value) for key, value in row.items()}))
    rows.sort(key=lambda item: (item[0], item[1]))
    return [row for _, _, row in rows]


__all__ = [
    "ACCOUNT_RENT_WORDS",
    "FILL_COLUMNS",
    "Amount",
    "FillView",
    "OrderEvent",
    "OrderView",
    "RoundView",
    "Totals",
    "ValueNow",
    "amount",
    "dca_state_words",
    "describe",
    "describe_dca",
    "describe_fill",
    "fill_columns",
    "fill_rows",
    "frequency_words",
    "is_stable",
    "percent_text",
    "price_band",
    "price_now_text",
    "price_text",
    "token_for",
    "total_value",
    "usd_price_text",
    "usd_text",
    "value_now",
]
