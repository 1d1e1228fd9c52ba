"""The figures a trader reads, derived from Jupiter's `Order` (pure functions, no I/O).

Money is `Decimal` (human units) or `int` (base units), never float. Amounts come from
base units and the token's decimals; Jupiter's decimal strings are used only where the
decimals are unknown. What the API does not provide is derived here, as its reference
says: number of cycles, cycles done, remaining input, average price, the estimated next
cycle, and the history status (cancelled when `userClosed`, else completed).

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

MAX_DECIMALS_SHOWN = 6  # amounts >= 1
SIGNIFICANT_DIGITS_SHOWN = 4  # amounts < 1, and prices < 1

FILL_ACTION = "fill"
FILL_COLUMNS = (
    "date",
    "pair",
    "in_amount",
    "in_token",
    "out_amount",
    "out_token",
    "fee_amount",
    "fee_token",
    "rate",
    "signature",
    "order",
    "system",
)
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


def _display(value: Decimal, decimals: int | None) -> str:
    """The amount rule of `Amount.text`, without the symbol."""
    if value.is_zero():
        return "0"
    if abs(value) >= 1:
        places = MAX_DECIMALS_SHOWN if decimals is None else min(MAX_DECIMALS_SHOWN, decimals)
        return _grouped(_round_places(value, places))
    return _grouped(_round_significant(value, SIGNIFICANT_DIGITS_SHOWN, decimals))


# --- amounts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    """A quantity of one token in human units.

    `text` (what a trader reads), e.g. "1,234.5 USDC", "0.0125 SOL", "12,345,678 BONK":
    - never scientific notation; trailing zeros stripped ("50 USDC", "0.5 SOL"); zero is "0 SOL";
    - thousands separators in the whole part;
    - amounts >= 1 show at most 6 decimals (fewer if the token has fewer), rounded half up:
      "1.2345675 SOL" reads "1.234568 SOL", "123,456,789,012.34567 BONK" keeps all 5 decimals;
    - amounts < 1 show up to 4 significant digits, never more decimals than the token has:
      "0.123456789 SOL" reads "0.1235 SOL", 1 lamport reads "0.000000001 SOL".

    `number` (for CSV): the full-precision value up to the token's decimals, plain digits with
    "." and no thousands separator, trailing zeros stripped ("1234.5", "0.000000001").
    """

    value: Decimal
    token: Token

    @property
    def text(self) -> str:
        return f"{_display(self.value, self.token.decimals)} {self.token.symbol}"

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


def _price_number(value: Decimal, in_stable: bool) -> str:
    """Stablecoin quotes: 2 decimals when >= 1 ("172.40"); others at most 4 decimals, stripped.
    Below 1, both show 4 significant digits ("0.00002345")."""
    if value < 1:
        return _grouped(_round_significant(value, SIGNIFICANT_DIGITS_SHOWN))
    if in_stable:
        rounded = _round_places(value, 2)
        whole, _, fraction = format(rounded, "f").partition(".")
        return f"{int(whole):,}.{fraction}"
    return _grouped(_round_places(value, 4))


def price_text(spent: Amount, received: Amount) -> str:
    """The average price as traders read it: "1 SOL ≈ 172.40 USDC".

    With a stablecoin on exactly one side, the other token is priced in the stablecoin, whichever
    way the order goes (buying SOL with USDC and selling SOL for USDC both read "1 SOL ≈ … USDC").
    Otherwise "1 <output> ≈ <x> <input>". Empty when nothing was received (or nothing spent).
    """
    if received.value <= 0 or spent.value <= 0:
        return ""
    if is_stable(spent.token) and not is_stable(received.token):
        base, quote = received, spent
    elif is_stable(received.token) and not is_stable(spent.token):
        base, quote = spent, received
    else:
        base, quote = received, spent
    ratio = _CONTEXT.divide(quote.value, base.value)
    number = _price_number(ratio, is_stable(quote.token) and not is_stable(base.token))
    return f"1 {base.token.symbol} ≈ {number} {quote.token.symbol}"


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
    refund_text: str  # "45 USDC and 0.12 SOL", "nothing"
    refund_count: int  # how many tokens come back: 0, 1 or 2 (for "comes"/"come", "is"/"are")
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


def _refund_parts(remaining: Amount | None, unwithdrawn: Amount | None, input_: Token, output: Token) -> list[str]:
    """What a cancel sends back: remaining input and output not yet withdrawn; zero parts left out."""
    parts = []
    for part, token in ((remaining, input_), (unwithdrawn, output)):
        if part is None:
            parts.append(f"the remaining {token.symbol}")
        elif not part.is_zero:
            parts.append(part.text)
    return parts


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

    return OrderView(
        order_key=order.order_key,
        status="history" if history else "active",
        status_words=status_words,
        input_token=input_token,
        output_token=output_token,
        pair=f"{input_token.symbol} → {output_token.symbol}",
        per_cycle=per_cycle,
        frequency=frequency,
        schedule=f"{what} {frequency}",
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
        next_cycle=_next_cycle(order, fills, remaining, now),
        created_at=order.created_at,
        closed_at=order.updated_at if history else None,
        order_url=settings.EXPLORER_ACCOUNT_URL.format(order.order_key),
        open_tx_url=_tx_url(order.open_tx),
        close_tx_url=_tx_url(order.close_tx),
        fills=tuple(fill_views),
        refund_text=" and ".join(refund) or "nothing",
        refund_count=len(refund),
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


def usd_text(value: Decimal) -> str:
    """Dollars as traders read them: "$50", "$1,000", "$182.35", "$0.0001234"."""
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
        return f"Only buys while {watched} is between {usd_text(low)} and {usd_text(high)}"
    if low is not None:
        return f"Only buys while {watched} is at or above {usd_text(low)}"
    if high is not None:
        return f"Only buys while {watched} is at or below {usd_text(high)}"
    return f"Only buys when {watched}'s price meets Jupiter's condition (Jupiter did not say which)"


def earn_words(order: DcaOrder) -> str:
    """The "Earn While You Wait" line of an order with `jlEnabled`; "" otherwise."""
    if not order.jl_enabled:
        return ""
    words = "Earn While You Wait is on: the deposit waiting to be spent earns Jupiter Lend yield"
    if order.jl_yield_usd is not None:
        return f"{words} — {usd_text(order.jl_yield_usd)} so far"
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
        schedule=f"{what} {frequency}",
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
        refund_text=" and ".join(refund) or "nothing",
        refund_count=len(refund),
        system="v2",
        state=order.state,
        next_fill_at=order.next_fill_at if order.state in DCA_SCHEDULED_STATES else None,
        price_band=price_band(order, tokens),
        earn=earn_words(order),
        rounds=describe_rounds(order),
        extra=extra,
    )


# --- CSV -----------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Token symbols are untrusted: keep spreadsheets from reading a cell as a formula."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def fill_rows(views: Iterable[OrderView]) -> list[dict[str, str]]:
    """One row per fill (columns `FILL_COLUMNS`), oldest first; dates ISO 8601 in UTC."""
    rows: list[tuple[datetime, str, dict[str, str]]] = []
    for view in views:
        for fill in view.fills:
            when = fill.confirmed_at.astimezone(timezone.utc)
            row = {
                "date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "pair": view.pair,
                "in_amount": fill.spent.number,
                "in_token": fill.spent.token.symbol,
                "out_amount": fill.received.number,
                "out_token": fill.received.token.symbol,
                "fee_amount": fill.fee.number if fill.fee is not None else "",
                "fee_token": fill.fee.token.symbol if fill.fee is not None else "",
                "rate": fill.rate,
                "signature": fill.tx_id,
                "order": view.order_key,
                "system": SYSTEM_NAMES.get(view.system, view.system),
            }
            rows.append((when, fill.tx_id, {key: _cell(value) for key, value in row.items()}))
    rows.sort(key=lambda item: (item[0], item[1]))
    return [row for _, _, row in rows]


__all__ = [
    "FILL_COLUMNS",
    "Amount",
    "FillView",
    "OrderView",
    "RoundView",
    "amount",
    "dca_state_words",
    "describe",
    "describe_dca",
    "describe_fill",
    "fill_rows",
    "frequency_words",
    "is_stable",
    "price_band",
    "price_text",
    "token_for",
    "usd_text",
]
