"""The view records a page shows about an order, of either Jupiter system, and what they share.

`OrderView` is what every list, card and export reads; `recurring_view.describe` makes one from a
Recurring v1 `Order`, `dca_view.describe_dca` from a Trigger v2 `DcaOrder`. Here too: what an
order is worth at today's price (USD prices from the Tokens API, on the `Token`s passed in), the
totals of several orders, and the parts both systems' descriptions build alike (the refund words,
the timeline's order, the average price).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.utils.functional import cached_property  # without the lock functools' takes on every first read

from dashboard.formatting import (
    CONTEXT,
    ZERO,
    Amount,
    is_stable,
    join_words,
    percent_text,
    price_now_text,
    price_text,
    round_places,
    sentence_start,
    usd_text,
)
from dashboard.models import TrackedOrder
from dashboard.tokens import Token

# What closing an order's accounts gives back besides tokens: the rent Solana holds for them.
ACCOUNT_RENT_WORDS = "about 0.002 SOL of account rent"

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

    # Worked out once, on first read: a card reads the direction three times.
    @cached_property
    def gain_usd(self) -> Decimal | None:
        if self.spent_usd is None or self.worth_usd is None:
            return None
        return CONTEXT.subtract(self.worth_usd, self.spent_usd)

    @property
    def gain_percent(self) -> Decimal | None:
        gain = self.gain_usd
        if gain is None or self.spent_usd is None or self.spent_usd <= 0:
            return None
        return CONTEXT.divide(CONTEXT.multiply(gain, Decimal(100)), self.spent_usd)

    @cached_property
    def spent_text(self) -> str:
        return usd_text(self.spent_usd) if self.spent_usd is not None else "price unknown"

    @cached_property
    def worth_text(self) -> str:
        return usd_text(self.worth_usd) if self.worth_usd is not None else "price unknown"

    @cached_property
    def direction(self) -> str:
        """ "gain", "loss" or "even" (for the words and the colour); "" when unknown."""
        gain = self.gain_usd
        if gain is None:
            return ""
        rounded = round_places(gain, 2)
        return "gain" if rounded > 0 else "loss" if rounded < 0 else "even"

    @cached_property
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
    sold: int = 0  # how many of the counted orders are sell orders (`sells`): the words follow

    @property
    def direction(self) -> str:
        """What the counted orders do, for the figures' words: "buy", "sell" or "both"."""
        return "buy" if not self.sold else "sell" if self.sold == self.counted else "both"


def total_value(views: Iterable[OrderView]) -> Totals:
    spent = worth = ZERO
    counted = unknown = sold = 0
    for view in views:
        if not view.value.known:
            unknown += 1
            continue
        assert view.value.spent_usd is not None and view.value.worth_usd is not None
        spent = CONTEXT.add(spent, view.value.spent_usd)
        worth = CONTEXT.add(worth, view.value.worth_usd)
        counted += 1
        sold += view.is_sell
    value = ValueNow(spent, worth) if counted else ValueNow(None, None)
    return Totals(value=value, counted=counted, unknown=unknown, sold=sold)


# --- views -----------------------------------------------------------------------------------------


def tx_url(signature: str) -> str:
    return settings.EXPLORER_TX_URL.format(signature) if signature else ""


@dataclass(frozen=True)
class FillView:
    """One executed cycle. Amounts Jupiter left out entirely read as zero; `fee` is None then."""

    confirmed_at: datetime
    spent: Amount
    received: Amount
    fee: Amount | None  # in the fee mint's token (the output token when that is unknown)
    tx_id: str
    explorer_url: str  # "" without a signature
    usd_value: Decimal | None = None  # the fill's USD value at fill time, only when upstream gives it

    @cached_property
    def rate(self) -> str:
        """The price of this buy, "1 SOL ≈ 172.41 USDC" (worked out when a timeline or export shows it)."""
        return price_text(self.spent, self.received)


@dataclass(frozen=True)
class Transfer:
    """Money moved between the wallet and the order: a deposit into it, a withdrawal out of it of
    tokens bought (`amount` in the output token), or a refund out of it of what was not spent.
    `tx_id` is "" when Jupiter did not name the transaction."""

    kind: str  # "deposit", "withdrawal" or "refund"
    when: datetime
    amount: Amount
    tx_id: str


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
    running: bool = False  # a round under way now and nothing else: not a round off its plan


@dataclass(frozen=True)
class DcaFigures:
    """What only a Jupiter DCA order (Trigger API v2) has: `OrderView.dca`, None for a v1 order."""

    state: str  # Jupiter's state as sent ("active", "withdrawing", … or one we do not know)
    next_fill_at: datetime | None  # Jupiter's own schedule (not our estimate)
    price_band: str = ""  # "Only buys while SOL is between $50 and $1,000"
    earn: str = ""  # the "Earn While You Wait" line, when it is on
    rounds: tuple[RoundView, ...] = ()  # rounds that failed, were moved or are running, oldest first
    extra: tuple[tuple[str, str], ...] = ()  # what Jupiter sent that we do not know, as plain text

    @property
    def off_plan(self) -> tuple[RoundView, ...]:
        """The rounds that did not fill as planned (failed, moved, unknown): not one running now."""
        return tuple(r for r in self.rounds if not r.running)

    @property
    def running(self) -> tuple[RoundView, ...]:
        """The rounds under way right now (their own line on the card, not among the failures)."""
        return tuple(r for r in self.rounds if r.running)


@dataclass(frozen=True)
class Progress:
    """How far an order is: its buys planned, done and still to come, and the share of the deposit
    already swapped."""

    total: int  # 0 when unknown
    done: int
    left: int  # 0 once nothing more is scheduled
    percent: int  # 0–100, floored


@dataclass(frozen=True)
class Funds:
    """An order's money: what went in, what was bought, and what of each is back in the wallet.
    An amount is None only when Jupiter sent neither base units nor a decimal string for it."""

    deposited: Amount | None
    spent: Amount | None
    remaining: Amount | None  # deposited − spent − withdrawn_in, never negative
    withdrawn_in: Amount | None
    received: Amount | None
    withdrawn_out: Amount | None
    unwithdrawn_out: Amount | None  # received − withdrawn_out, never negative


@dataclass(frozen=True)
class Holding:
    """One line of "If you cancel now": an amount of a token, what it is ("not yet spent"), and
    its value at today's price. `amount` is None when Jupiter did not say how much."""

    amount: Amount | None
    token: Token
    words: str  # "not yet spent", "bought so far, which the order still holds"

    @property
    def usd(self) -> Decimal | None:
        return self.amount.usd if self.amount is not None else None

    @property
    def usd_text(self) -> str:
        """ "≈ $199.96"; "price unknown" (never a guess); "" when the amount itself is unknown."""
        if self.amount is None:
            return ""
        return f"≈ {usd_text(self.usd)}" if self.usd is not None else "price unknown"


@dataclass(frozen=True)
class CancelNow:
    """What a cancel would give back now, and where each part of the order's money is.

    `back` comes to the wallet with the cancel: the deposit not yet spent and, for a Recurring
    v1 order that did not send all it bought (`outWithdrawn` < `outReceived`), what it still
    holds. `in_wallet` is what was bought and is in the wallet already (v1 sends each fill's
    output at once, Jupiter DCA v2 always does): it stays there. Zero parts are left out.
    """

    back: tuple[Holding, ...]
    in_wallet: Holding | None
    rent_words: str = ACCOUNT_RENT_WORDS  # closing the order's accounts gives their rent back too

    @property
    def back_usd(self) -> Decimal | None:
        """The value of what comes back at today's price; None when any part of it is unknown."""
        values = [h.usd for h in self.back]
        if not values or any(v is None for v in values):
            return None
        return sum((v for v in values if v is not None), ZERO)

    @property
    def back_usd_text(self) -> str:
        value = self.back_usd
        return usd_text(value) if value is not None else ""


def sells(input_token: Token, output_token: Token) -> bool:
    """A sell order: a volatile token in, a stablecoin out ("SOL → USDC"); its words say "sold"
    and "received" where a buy's say "spent" and "bought"."""
    return is_stable(output_token) and not is_stable(input_token)


def direction_words(sell: bool) -> tuple[str, str]:
    """("spent", "bought") for a buy order, ("sold", "received") for a sell order."""
    return ("sold", "received") if sell else ("spent", "bought")


@dataclass(frozen=True)
class OrderView:
    """Everything a page shows about one order, of either system. What follows from these fields
    alone (the pair, the schedule, the average price, today's value, what a cancel gives back) is
    worked out once, on first read."""

    order_key: str
    system: TrackedOrder.System
    status: str  # "active" or "history"
    status_words: str  # "Active", "Completed", "Cancelled by you"
    input_token: Token
    output_token: Token
    per_cycle: Amount | None
    frequency: str  # "every day"
    progress: Progress
    funds: Funds
    created_at: datetime
    closed_at: datetime | None  # history orders only
    order_url: str
    open_tx_url: str
    close_tx_url: str  # "" when there is no closing transaction
    fill_count: int  # how many buys there were (`fills`, without building them)
    bought: tuple[Amount, Amount] | None  # what every buy spent and received together; None before the first
    # The buys (`fills`) and the timeline (`events`) are built when a page shows them (one order's
    # timeline, the fills page, the exports), not for every card of a list.
    fills_of: Callable[[], tuple[FillView, ...]] = field(compare=False, repr=False)
    timeline_of: Callable[[], tuple[OrderEvent, ...]] = field(compare=False, repr=False)
    next_cycle: datetime | None = None  # our estimate (v1); Jupiter schedules v2 rounds itself: dca.next_fill_at
    last_buy: datetime | None = None  # an estimate, active time-based orders only
    dca: DcaFigures | None = None  # Jupiter DCA (v2) orders only
    transfers: tuple[Transfer, ...] = ()  # deposits, withdrawals and refunds (the exports' rows)

    @cached_property
    def fills(self) -> tuple[FillView, ...]:
        """Every buy, newest first."""
        return self.fills_of()

    @cached_property
    def events(self) -> tuple[OrderEvent, ...]:
        """The order's timeline, newest first."""
        return self.timeline_of()

    @cached_property
    def pair(self) -> str:
        """ "USDC → SOL"."""
        return f"{self.input_token.symbol} → {self.output_token.symbol}"

    @cached_property
    def schedule(self) -> str:
        """ "50 USDC every day"."""
        return schedule_words(self.per_cycle, self.input_token, self.frequency)

    @cached_property
    def average_price(self) -> str:
        """ "1 SOL ≈ 172.41 USDC"; "" until something was received."""
        return average_price(self.bought, self.funds.spent, self.funds.received)

    @cached_property
    def value(self) -> ValueNow:
        """What was spent and what was bought, at today's price."""
        return value_now(self.funds.spent, self.funds.received)

    @cached_property
    def price_now(self) -> str:
        """Today's price in the average price's terms: "162.30 USDC"."""
        return price_now_text(self.input_token, self.output_token)

    @cached_property
    def _refund(self) -> list[str]:
        return refund_parts(
            self.funds.remaining, self.funds.unwithdrawn_out, self.input_token, self.output_token, sell=self.is_sell
        )

    @property
    def refund_text(self) -> str:
        """ "45 USDC not yet spent, 0.12 SOL bought so far and about 0.002 SOL of account rent"."""
        return sentence_start(join_words(self._refund))

    @property
    def refund_count(self) -> int:
        """How many things come back (for "is"/"are")."""
        return len(self._refund)

    @cached_property
    def is_sell(self) -> bool:
        """Whether the order sells a volatile token for a stablecoin (`sells`)."""
        return sells(self.input_token, self.output_token)

    @cached_property
    def cancel_now(self) -> CancelNow:
        """What a cancel gives back now and what is in the wallet already, valued today."""
        spent_word, bought_word = direction_words(self.is_sell)
        back = []
        remaining, held = self.funds.remaining, self.funds.unwithdrawn_out
        if remaining is None or not remaining.is_zero:
            back.append(Holding(remaining, self.input_token, f"not yet {spent_word}"))
        if held is None or not held.is_zero:
            back.append(Holding(held, self.output_token, f"{bought_word} so far, which the order still holds"))
        sent = self.funds.withdrawn_out
        in_wallet = Holding(sent, self.output_token, f"{bought_word} so far") if sent and not sent.is_zero else None
        return CancelNow(back=tuple(back), in_wallet=in_wallet)

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


def schedule_words(per_cycle: Amount | None, input_token: Token, frequency: str) -> str:
    """ "50 USDC every day"; "an unknown amount of USDC every day" when Jupiter did not say."""
    what = per_cycle.text if per_cycle is not None else f"an unknown amount of {input_token.symbol}"
    return f"{what} {frequency}"


def percent_of(spent: Amount | None, deposited: Amount | None) -> int:
    if spent is None or deposited is None or deposited.value <= 0:
        return 0
    ratio = CONTEXT.divide(CONTEXT.multiply(spent.value, Decimal(100)), deposited.value)
    return min(max(int(ratio.to_integral_value(rounding=ROUND_FLOOR)), 0), 100)


def refund_parts(
    remaining: Amount | None, unwithdrawn: Amount | None, input_: Token, output: Token, *, sell: bool = False
) -> list[str]:
    """What a cancel sends back: the deposit not yet spent, the tokens bought that the order still
    holds, and the account rent; zero parts left out. Joined, the start of a sentence:
    "200 USDC not yet spent, 0.59 SOL bought so far and about 0.002 SOL of account rent"; a sell
    order's (`sells`): "1.5 SOL not yet sold, 86.2 USDC received so far and …"."""
    spent_word, bought_word = direction_words(sell)
    parts = []
    if remaining is None:
        parts.append(f"the {input_.symbol} not yet {spent_word}")
    elif not remaining.is_zero:
        parts.append(f"{remaining.text} not yet {spent_word}")
    if unwithdrawn is None:
        parts.append(f"the {output.symbol} {bought_word} so far")
    elif not unwithdrawn.is_zero:
        parts.append(f"{unwithdrawn.text} {bought_word} so far")
    parts.append(ACCOUNT_RENT_WORDS)
    return parts


def created_event(when: datetime, deposited: Amount | None, schedule: str, url: str) -> OrderEvent:
    """The first line of a timeline: "Order created: 100 USDC deposited, 50 USDC every day"."""
    words = (
        f"Order created: {schedule}" if deposited is None else f"Order created: {deposited.text} deposited, {schedule}"
    )
    return OrderEvent("created", when, words, url or None)


def buy_events(fills: Iterable[FillView], sell: bool = False) -> list[OrderEvent]:
    """A timeline line per buy: "Bought 0.29 SOL for 50 USDC", with its price and fee; a sell
    order's (`sells`) read "Sold 0.25 SOL for 38.21 USDC"."""
    return [
        OrderEvent(
            "buy",
            fill.confirmed_at,
            f"Sold {fill.spent.text} for {fill.received.text}"
            if sell
            else f"Bought {fill.received.text} for {fill.spent.text}",
            fill.explorer_url or None,
            rate=fill.rate,
            fee=fill.fee,
        )
        for fill in fills
    ]


def timeline(events: list[OrderEvent]) -> tuple[OrderEvent, ...]:
    """An order's events newest first; events at the same time keep the order they were listed in
    (reversed), and events without a time come last."""
    order_of = {id(event): n for n, event in enumerate(events)}
    far_past = datetime.min.replace(tzinfo=timezone.utc)
    return tuple(sorted(events, key=lambda e: (e.when or far_past, order_of[id(e)]), reverse=True))


def bought_by(fills: Iterable[FillView]) -> tuple[Amount, Amount] | None:
    """What these buys spent and received together (`OrderView.bought`); None without any."""
    fills = list(fills)
    if not fills:
        return None
    total_in = sum((f.spent.value for f in fills), ZERO)
    total_out = sum((f.received.value for f in fills), ZERO)
    return Amount(total_in, fills[0].spent.token), Amount(total_out, fills[0].received.token)


def average_price(bought: tuple[Amount, Amount] | None, spent: Amount | None, received: Amount | None) -> str:
    """The price of every buy together (`bought`), else of what the order says it spent and received."""
    if bought is not None:
        text = price_text(*bought)
        if text:
            return text
    if spent is not None and received is not None:
        return price_text(spent, received)
    return ""
