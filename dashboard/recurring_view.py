"""Describing a Recurring v1 order (`dashboard.recurring.Order`) into an `OrderView` (pure functions).

What the API does not provide is derived here, as its reference says: number of cycles, cycles
done, remaining input, average price, the estimated next cycle and the last one, the history
status (cancelled when `userClosed`, else completed) and the order's timeline of events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_CEILING

from django.conf import settings

from dashboard import orders
from dashboard.formatting import (
    CONTEXT,
    Amount,
    amount,
    frequency_words,
    join_words,
    minus,
    token_for,
    zero,
)
from dashboard.models import TrackedOrder
from dashboard.orders import FillView, Funds, OrderEvent, OrderView, Progress, Transfer
from dashboard.recurring import Fill, Order
from dashboard.tokens import KNOWN_TOKENS, Token

FILL_ACTION = "fill"


def _is_fill(fill: Fill) -> bool:
    return fill.action.lower() == FILL_ACTION


def describe_fill(fill: Fill, input_token: Token, output_token: Token, tokens: dict[str, Token]) -> FillView:
    spent = amount(fill.raw_in, fill.in_amount, input_token) or zero(input_token)
    received = amount(fill.raw_out, fill.out_amount, output_token) or zero(output_token)
    known_fee_mint = fill.fee_mint in tokens or fill.fee_mint in KNOWN_TOKENS
    fee_token = token_for(fill.fee_mint, tokens) if known_fee_mint else output_token
    return FillView(
        confirmed_at=fill.confirmed_at,
        spent=spent,
        received=received,
        fee=amount(fill.raw_fee, fill.fee_amount, fee_token),
        tx_id=fill.tx_id,
        explorer_url=orders.tx_url(fill.tx_id),
    )


def _cycles_total(order: Order) -> int:
    """ceil(deposited / per cycle), in base units when known; 0 when unknown."""
    deposited, per_cycle = order.raw_in_deposited, order.raw_in_per_cycle
    if deposited is not None and per_cycle:
        return -(-deposited // per_cycle)
    human_deposited, human_per_cycle = order.in_deposited, order.in_per_cycle
    if human_deposited is not None and human_per_cycle:
        ratio = CONTEXT.divide(human_deposited, human_per_cycle)
        return max(int(ratio.to_integral_value(rounding=ROUND_CEILING)), 0)
    return 0


def _next_cycle(order: Order, fills: list[Fill], remaining: Amount | None, now: datetime) -> datetime | None:
    """Last fill (or creation) + one cycle. Less than a cycle past, it stays: the buy is due now
    (keepers run a little late); once a whole cycle has passed without it, that buy was skipped and
    the estimate moves on by whole cycles until it is after `now`."""
    if order.status == "history" or order.cycle_frequency <= 0:
        return None
    if remaining is not None and remaining.is_zero:
        return None
    step = timedelta(seconds=order.cycle_frequency)
    start = max((f.confirmed_at for f in fills), default=order.created_at)
    due = start + step
    if due <= now - step:
        due += step * ((now - due) // step + 1)
    return due


def _cycles_left(
    order: Order, remaining: Amount | None, per_cycle: Amount | None, cycles_total: int, cycles_done: int
) -> int:
    """Buys still to come: ceil(remaining / per cycle) when both are known, else total − done."""
    if order.status == "history":
        return 0
    if remaining is not None and per_cycle is not None and per_cycle.value > 0:
        ratio = CONTEXT.divide(remaining.value, per_cycle.value)
        return max(int(ratio.to_integral_value(rounding=ROUND_CEILING)), 0)
    return max(cycles_total - cycles_done, 0)


def _last_buy(order: Order, next_cycle: datetime | None, cycles_left: int) -> datetime | None:
    """The estimated last buy of a time-based order: the next one plus a cycle per buy after it."""
    if next_cycle is None or cycles_left <= 0 or order.cycle_frequency <= 0 or order.recurring_type != "time":
        return None
    return next_cycle + timedelta(seconds=order.cycle_frequency) * (cycles_left - 1)


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
        words = f"{words}: {join_words(moved)}"
    return OrderEvent(kind=kind, when=trade.confirmed_at, words=words, tx_url=orders.tx_url(trade.tx_id) or None)


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
    events = [orders.created_event(order.created_at, deposited, schedule, orders.tx_url(order.open_tx)), *others]
    if fills:
        events += orders.buy_events(reversed(fills), sell=orders.sells(fills[0].spent.token, fills[0].received.token))
    if order.status == "history":
        close_url = orders.tx_url(order.close_tx) or None
        if order.user_closed:
            events.append(OrderEvent("cancelled", order.updated_at, "Cancelled by you", close_url))
        else:
            events.append(OrderEvent("completed", order.updated_at, "Completed: every buy done", close_url))
        back = []
        if withdrawn_in is not None and not withdrawn_in.is_zero:
            back.append(f"{withdrawn_in.text} not spent")
        if withdrawn_out is not None and not withdrawn_out.is_zero:
            back.append(f"{withdrawn_out.text} bought")
        if back:
            events.append(OrderEvent("refund", order.updated_at, f"In your wallet: {join_words(back)}", close_url))
    return orders.timeline(events)


def _transfers(
    order: Order, deposited: Amount | None, withdrawn_in: Amount | None, withdrawn_out: Amount | None
) -> tuple[Transfer, ...]:
    """The deposit (at creation, with the opening transaction); what came back of it unspent, and
    the tokens bought that the order sent to the wallet (`outWithdrawn`: a v1 order holds what it
    buys until then) — both when the order last changed, with the closing transaction once it is
    closed (Jupiter gives only their totals, not when each part moved)."""
    moved = []
    if deposited is not None and not deposited.is_zero:
        moved.append(Transfer("deposit", order.created_at, deposited, order.open_tx))
    close_tx = order.close_tx if order.status == "history" else ""
    if withdrawn_out is not None and not withdrawn_out.is_zero:
        moved.append(Transfer("withdrawal", order.updated_at, withdrawn_out, close_tx))
    if withdrawn_in is not None and not withdrawn_in.is_zero:
        moved.append(Transfer("refund", order.updated_at, withdrawn_in, close_tx))
    return tuple(moved)


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
    remaining = minus(deposited, spent, withdrawn_in)

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
    schedule = orders.schedule_words(per_cycle, input_token, frequency)
    next_cycle = _next_cycle(order, fills, remaining, now)
    cycles_left = _cycles_left(order, remaining, per_cycle, cycles_total, cycles_done)

    return OrderView(
        order_key=order.order_key,
        system=TrackedOrder.System.RECURRING,
        status="history" if history else "active",
        status_words=status_words,
        input_token=input_token,
        output_token=output_token,
        per_cycle=per_cycle,
        frequency=frequency,
        progress=Progress(cycles_total, cycles_done, cycles_left, orders.percent_of(spent, deposited)),
        funds=Funds(deposited, spent, remaining, withdrawn_in, received, withdrawn_out, minus(received, withdrawn_out)),
        created_at=order.created_at,
        closed_at=order.updated_at if history else None,
        order_url=settings.EXPLORER_ACCOUNT_URL.format(order.order_key),
        open_tx_url=orders.tx_url(order.open_tx),
        close_tx_url=orders.tx_url(order.close_tx),
        fills=tuple(fill_views),
        timeline_of=lambda: _events(
            order,
            fill_views,
            [_other_event(f, input_token, output_token, tokens) for f in order.fills if not _is_fill(f)],
            deposited,
            withdrawn_in,
            withdrawn_out,
            schedule,
        ),
        next_cycle=next_cycle,
        last_buy=_last_buy(order, next_cycle, cycles_left),
        transfers=_transfers(order, deposited, withdrawn_in, withdrawn_out),
    )
