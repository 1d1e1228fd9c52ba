"""Orders as the Recurring API shows them: listing, the TimeRecurringResponse shape, closing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.sandbox import tokens
from dashboard.sandbox.models import CancelRequest, SandboxOrder
from dashboard.sandbox.seed import iso

PAGE_SIZE = 10


def human(raw: int, mint: str) -> str:
    """Base units -> the decimal string upstream sends ("50", "0.5", "0.000123")."""
    value = Decimal(raw).scaleb(-tokens.get_token(mint).decimals)
    return format(value.normalize(), "f") if value else "0"


def trade_to_api(order: SandboxOrder, fill: dict) -> dict:
    """One fill as a `trades[]` item."""
    raw_in, raw_out, raw_fee = (int(fill[k]) for k in ("rawInputAmount", "rawOutputAmount", "rawFeeAmount"))
    return {
        "orderKey": order.order_key,
        "keeper": fill["keeper"],
        "inputMint": order.input_mint,
        "outputMint": order.output_mint,
        "inputAmount": human(raw_in, order.input_mint),
        "outputAmount": human(raw_out, order.output_mint),
        "rawInputAmount": str(raw_in),
        "rawOutputAmount": str(raw_out),
        "feeMint": order.output_mint,
        "feeAmount": human(raw_fee, order.output_mint),
        "rawFeeAmount": str(raw_fee),
        "txId": fill["txId"],
        "confirmedAt": fill["confirmedAt"],
        "action": "Fill",
        "productMeta": None,
    }


def order_to_api(order: SandboxOrder, with_type: bool = False) -> dict:
    """An order shaped like the API's TimeRecurringResponse (every amount a string)."""
    i, o = order.input_mint, order.output_mint
    body = {
        "userPubkey": order.user,
        "orderKey": order.order_key,
        "inputMint": i,
        "outputMint": o,
        "inDeposited": human(order.raw_in_deposited, i),
        "inWithdrawn": human(order.raw_in_withdrawn, i),
        "rawInDeposited": str(order.raw_in_deposited),
        "rawInWithdrawn": str(order.raw_in_withdrawn),
        "cycleFrequency": str(order.cycle_frequency) if order.frequency_as_string else order.cycle_frequency,
        "outWithdrawn": human(order.raw_out_withdrawn, o),
        "inAmountPerCycle": human(order.raw_in_amount_per_cycle, i),
        "minOutAmount": human(order.raw_min_out_amount, o),
        "maxOutAmount": human(order.raw_max_out_amount, o),
        "rawOutWithdrawn": str(order.raw_out_withdrawn),
        "rawInAmountPerCycle": str(order.raw_in_amount_per_cycle),
        "rawMinOutAmount": str(order.raw_min_out_amount),
        "rawMaxOutAmount": str(order.raw_max_out_amount),
        "outReceived": human(order.raw_out_received, o),
        "rawOutReceived": str(order.raw_out_received),
        "inUsed": human(order.raw_in_used, i),
        "rawInUsed": str(order.raw_in_used),
        "openTx": order.open_tx,
        "closeTx": order.close_tx,
        "userClosed": order.user_closed,
        "createdAt": iso(order.created_at, order.millis),
        "updatedAt": iso(order.updated_at, order.millis),
        "trades": [trade_to_api(order, fill) for fill in reversed(order.fills)],  # newest first
    }
    if with_type:
        body["recurringType"] = "time"
    return body


@dataclass(frozen=True)
class OrderPage:
    orders: list[SandboxOrder]
    total_pages: int


def list_orders(user: str, status: str, page: int, mint: str | None = None) -> OrderPage:
    """One page (10 orders, newest first) of a wallet's active or closed orders."""
    rows = SandboxOrder.objects.filter(user=user, status=status)
    if mint:
        rows = rows.filter(Q(input_mint=mint) | Q(output_mint=mint))
    total = rows.count()
    start = (page - 1) * PAGE_SIZE
    orders = list(rows.order_by("-created_at", "-id")[start : start + PAGE_SIZE]) if start < total else []
    return OrderPage(orders=orders, total_pages=max(1, math.ceil(total / PAGE_SIZE)))


def find_cancellable(order_key: str, user: str) -> SandboxOrder | None:
    """The wallet's active order with this key, or None (closed, unknown or someone else's)."""
    return SandboxOrder.objects.filter(order_key=order_key, user=user, status=SandboxOrder.Status.ACTIVE).first()


def close_by_request(cancel: CancelRequest, signature: str) -> SandboxOrder | None:
    """Atomically close the order of an executed cancel request and mark the request used.

    Returns None, changing nothing, when the order is no longer active or the request was
    executed meanwhile (a concurrent execute won).
    """
    now = timezone.now()
    with transaction.atomic():
        order = (
            SandboxOrder.objects.select_for_update()
            .filter(order_key=cancel.order_key, user=cancel.user, status=SandboxOrder.Status.ACTIVE)
            .first()
        )
        if order is None:
            return None
        claimed = CancelRequest.objects.filter(pk=cancel.pk, executed_at__isnull=True).update(
            executed_at=now, signature=signature
        )
        if not claimed:
            return None
        order.status = SandboxOrder.Status.HISTORY
        order.user_closed = True
        order.close_tx = signature
        order.raw_in_withdrawn = order.raw_in_deposited - order.raw_in_used
        order.raw_out_withdrawn = order.raw_out_received
        order.updated_at = now.replace(microsecond=(now.microsecond // 1000) * 1000 if order.millis else 0)
        order.save()
    return order
