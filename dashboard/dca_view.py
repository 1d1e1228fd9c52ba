"""Describing a Jupiter DCA order (Trigger API v2, `dashboard.dca_orders.DcaOrder`) into an `OrderView`.

Jupiter's own fields are used where it has them: its schedule (`nextFillAt`, not our estimate), its
round counts, its state (in words, unknown ones shown as they came), fills from `events`, the price
band and the "Earn While You Wait" yield. Pure functions, no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_FLOOR

from django.conf import settings

from dashboard import orders
from dashboard.dca_orders import DcaEvent, DcaOrder
from dashboard.formatting import (
    ZERO,
    Amount,
    amount,
    frequency_words,
    is_stable,
    minus,
    token_for,
    usd_price_text,
    zero,
)
from dashboard.models import TrackedOrder
from dashboard.orders import DcaFigures, FillView, Funds, OrderEvent, OrderView, Progress, RoundView, Transfer
from dashboard.tokens import Token

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
        parts.append("is being tried again now" if parts else "is under way now")
    unknown = sorted(states - {"failed", "rescheduled", "pending", SUCCESS})
    parts += [f"is “{state or 'without a state'}” according to Jupiter" for state in unknown]
    text = f"{name} " + " and ".join(parts)
    if filled and (failed or "rescheduled" in states):
        text += "; it was filled later"
    return text


def describe_rounds(order: DcaOrder) -> tuple[RoundView, ...]:
    """Failed, rescheduled and running rounds (grouped per round; one only under way now is marked
    `running`, not a failure), and events of kinds we do not know or that failed (a failed deposit
    or refund), oldest first. Plain successful fills are
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
            views.append(RoundView(event.at, words, orders.tx_url(event.tx_signature)))
        elif event.state == "failed":
            what = {"deposit": "The deposit", "withdrawal": "A refund", "cancelled": "A cancel"}[event.type]
            views.append(RoundView(event.at, f"{what} failed", orders.tx_url(event.tx_signature)))
    for number, events in by_round.items():
        with_tx = [e for e in events if e.tx_signature]
        filled = number is not None and number in filled_rounds
        views.append(
            RoundView(
                at=events[-1].at,
                words=_round_words(number, events, filled=filled),
                explorer_url=orders.tx_url(with_tx[-1].tx_signature) if with_tx else "",
                running={e.state for e in events} == {"pending"} and not filled,
            )
        )
    return tuple(sorted(views, key=lambda v: v.at.timestamp() if v.at else float("inf")))


def describe_dca_fill(event: DcaEvent, when: datetime, input_token: Token, output_token: Token) -> FillView:
    """A successful round. Jupiter deducts its fee from the output already: no separate fee."""
    spent = amount(event.raw_in, None, input_token) or zero(input_token)
    received = amount(event.raw_out, None, output_token) or zero(output_token)
    return FillView(
        confirmed_at=event.at or when,
        spent=spent,
        received=received,
        fee=None,
        tx_id=event.tx_signature,
        explorer_url=orders.tx_url(event.tx_signature),
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
    events = [orders.created_event(order.created_at, deposited, schedule, "")]
    for event in order.events:
        if event.state != SUCCESS or event.type == "fill":
            continue  # buys come from `fills`; failed or unusual events from `rounds`
        moved = amount(event.raw_in, None, input_token)
        link = orders.tx_url(event.tx_signature) or None
        if event.type == "deposit":
            words = f"Deposited {moved.text}" if moved is not None else "Deposited"
            events.append(OrderEvent("deposit", event.at, words, link))
        elif event.type == "withdrawal":
            words = f"Refund: {moved.text} back in your wallet" if moved is not None else "Refund sent to your wallet"
            events.append(OrderEvent("refund", event.at, words, link))
        elif event.type == "cancelled":
            events.append(OrderEvent("cancelled", event.at, "Cancelled", link))
    if order.state == "completed":
        events.append(OrderEvent("completed", order.updated_at, "Completed: every buy done"))
    if fills:
        events += orders.buy_events(reversed(fills), sell=orders.sells(fills[0].spent.token, fills[0].received.token))
    events += [OrderEvent("round", r.at, r.words, r.explorer_url or None) for r in rounds]
    return orders.timeline(events)


def _withdrawn_in(order: DcaOrder, input_token: Token) -> Amount | None:
    """What came back of the deposit. `inputAmountRemaining` is not zeroed after a cancel: what
    came back is the refund's amount."""
    refunds = [e for e in order.events if e.type == "withdrawal" and e.state == SUCCESS]
    if refunds and any(e.raw_in is not None for e in refunds):
        moved = (amount(e.raw_in, None, input_token) or zero(input_token) for e in refunds)
        return Amount(sum((a.value for a in moved), ZERO), input_token)
    if order.state == "cancelled":
        return amount(order.raw_in_remaining, None, input_token)
    if order.state == "completed":
        return zero(input_token)
    return None


def _transfers(
    order: DcaOrder, token: Token, deposited: Amount | None, withdrawn_in: Amount | None
) -> tuple[Transfer, ...]:
    """The deposit and the refunds, from Jupiter's successful `deposit` and `withdrawal` events
    (their time and transaction); when Jupiter lists no such event at all, the order's own figures
    at its creation and its last change, with no transaction (never a deposit that has not landed
    or failed)."""
    moved = []
    for kind, event_type, total in (("deposit", "deposit", deposited), ("refund", "withdrawal", withdrawn_in)):
        listed = [e for e in order.events if e.type == event_type]
        done = [e for e in listed if e.state == SUCCESS and e.raw_in is not None]
        if listed and token.decimals is not None:
            for e in done:
                value = amount(e.raw_in, None, token)
                if value is not None and not value.is_zero:
                    moved.append(Transfer(kind, e.at or order.updated_at, value, e.tx_signature))
        elif kind == "deposit" and order.state in ("depositing", "deposit_failed"):
            continue
        elif total is not None and not total.is_zero:
            moved.append(Transfer(kind, order.created_at if kind == "deposit" else order.updated_at, total, ""))
    return tuple(sorted(moved, key=lambda t: t.when))


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
    remaining = zero(input_token) if closed else amount(order.raw_in_remaining, None, input_token)
    if remaining is None and not closed:
        remaining = minus(deposited, spent)

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
        percent = orders.percent_of(spent, deposited)

    frequency = frequency_words(order.interval_seconds or 0)
    rounds = describe_rounds(order)
    next_fill_at = order.next_fill_at if order.state in DCA_SCHEDULED_STATES else None
    cycles_left = max(cycles_total - cycles_done, 0) if next_fill_at is not None else 0
    last_buy = None
    if next_fill_at is not None and cycles_left > 0 and order.interval_seconds and order.order_type == "time_based":
        last_buy = next_fill_at + timedelta(seconds=order.interval_seconds) * (cycles_left - 1)
    extra = order.extra
    if order.order_type not in KNOWN_ORDER_TYPES:
        extra = (("orderType", order.order_type), *extra)
    dca = DcaFigures(
        state=order.state,
        next_fill_at=next_fill_at,
        price_band=price_band(order, tokens),
        earn=earn_words(order),
        rounds=rounds,
        extra=extra,
    )
    schedule = orders.schedule_words(per_cycle, input_token, frequency)
    funds = Funds(
        deposited=deposited,
        spent=spent,
        remaining=remaining,
        withdrawn_in=_withdrawn_in(order, input_token),
        received=received,
        withdrawn_out=received,  # each round's output goes straight to the wallet
        unwithdrawn_out=zero(output_token),  # so a cancel gives back no bought tokens
    )
    return OrderView(
        order_key=order.id,
        system=TrackedOrder.System.DCA,
        status="history" if history else "active",
        status_words=dca_state_words(order.state),
        input_token=input_token,
        output_token=output_token,
        per_cycle=per_cycle,
        frequency=frequency,
        progress=Progress(cycles_total, cycles_done, cycles_left, percent),
        funds=funds,
        created_at=order.created_at,
        closed_at=order.updated_at if history else None,
        order_url=settings.EXPLORER_ACCOUNT_URL.format(order.vault) if order.vault else "",
        open_tx_url=orders.tx_url(_last_tx(order, "deposit")),
        close_tx_url=orders.tx_url(_last_tx(order, "withdrawal")),
        fill_count=len(fills),
        bought=orders.bought_by(fills),
        fills_of=lambda: tuple(fills),
        timeline_of=lambda: _dca_events(order, fills, rounds, deposited, schedule, input_token),
        last_buy=last_buy,  # an estimate from Jupiter's next round and the rounds left; next_cycle: dca.next_fill_at
        dca=dca,
        # each round's output goes straight to the wallet: a withdrawal with the fill's transaction
        transfers=_transfers(order, input_token, deposited, funds.withdrawn_in)
        + tuple(Transfer("withdrawal", f.confirmed_at, f.received, f.tx_id) for f in fills if not f.received.is_zero),
    )
