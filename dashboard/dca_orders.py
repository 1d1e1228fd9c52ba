"""A Jupiter DCA order (Trigger API v2) as Jupiter sends it, read into frozen dataclasses. Pure:
no HTTP (the calls are `dashboard.trigger`'s), so the fast tier tests every parser.

Amounts are `int` base units, USD `Decimal`, times aware datetimes. The API is labelled beta, so
parsing is tolerant: unknown states, order types, event types and fields are kept as they came
(`DcaOrder.extra`) for the page to show plainly, and an order we cannot read at all is counted
(`DcaListing.unreadable`) rather than failing the whole list — but an answer without a key we
rely on (`orders`, `pagination.total`, or an order's `ORDER_REQUIRED` on every order of a page)
is `UnexpectedShape`, never an empty list.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from dashboard import upstream
from dashboard.upstream import JupiterBadResponse, MissingKey, to_datetime, to_int, to_text

ACTIVE_STATES = ("depositing", "active", "executing", "withdrawing")
PAST_STATES = ("completed", "cancelled", "deposit_failed")
PAGE_LIMIT = 100  # Jupiter's maximum; a wallet has at most 10 active DCA orders
ORDER_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")

# Every field of a DcaOrder the spec documents; anything else lands in `DcaOrder.extra`.
KNOWN_FIELDS = frozenset(
    {
        "id",
        "requestId",
        "userPubkey",
        "vaultPubkey",
        "inputMint",
        "outputMint",
        "inputAmountInitial",
        "inputAmountRemaining",
        "amountPerRound",
        "inputAmountUsed",
        "outputAmountTotal",
        "numberOfRounds",
        "roundsFilled",
        "fillPercent",
        "intervalSeconds",
        "beginFillAt",
        "nextFillAt",
        "lastFillAt",
        "orderType",
        "minPriceUsd",
        "maxPriceUsd",
        "triggerMint",
        "retryWindowSeconds",
        "jlEnabled",
        "jlYieldUsd",
        "state",
        "displayState",
        "createdAt",
        "updatedAt",
        "events",
    }
)
# What the dashboard relies on in a list answer and in every order (`MissingKey` otherwise), and
# `manage.py jupiter_check` reports each as present or missing.
PAGE_REQUIRED = ("orders", "pagination.total")
PAGE_FIELDS = ("orders", "pagination.total", "pagination.limit", "pagination.offset")
ORDER_REQUIRED = ("id", "inputMint", "outputMint", "createdAt")
MAX_EXTRA_FIELDS = 12
MAX_EXTRA_CHARS = 120


# --- what Jupiter answers ------------------------------------------------------------------------


@dataclass(frozen=True)
class DcaEvent:
    """One entry of an order's `events`: deposit, fill (one round), withdrawal, cancelled, or a
    type Jupiter added later. `state`: success, failed, rescheduled, pending, or something new."""

    type: str
    state: str
    at: datetime | None
    tx_signature: str
    round_number: int | None
    raw_in: int | None
    raw_out: int | None
    attempt_count: int | None


@dataclass(frozen=True)
class DcaOrder:
    id: str
    listed: str  # "active" or "history": the list it came from
    request_id: str
    user: str
    vault: str
    input_mint: str
    output_mint: str
    raw_in_initial: int | None
    raw_in_remaining: int | None  # not zeroed after a cancel: trust `state` and `events`
    raw_per_round: int | None
    raw_in_used: int | None
    raw_out_total: int | None  # swap fees already deducted
    rounds_total: int | None
    rounds_filled: int | None
    fill_percent: Decimal | None  # 0–1
    interval_seconds: int | None
    begin_fill_at: datetime | None
    next_fill_at: datetime | None  # Jupiter's own schedule
    last_fill_at: datetime | None
    order_type: str  # "time_based", "price_conditional", or something new
    trigger_mint: str
    min_price_usd: Decimal | None
    max_price_usd: Decimal | None
    retry_window_seconds: int | None
    jl_enabled: bool
    jl_yield_usd: Decimal | None
    state: str
    display_state: str
    created_at: datetime
    updated_at: datetime
    events: tuple[DcaEvent, ...]  # oldest first
    extra: tuple[tuple[str, str], ...] = ()  # fields the spec does not know, as plain text
    # The upstream JSON this was read from, kept to store as the last-known snapshot.
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class DcaListing:
    """Every order of one list (all pages), in Jupiter's order (newest first)."""

    orders: tuple[DcaOrder, ...]
    total: int  # what Jupiter said the list holds
    fetched_at: float  # Unix time the first page arrived
    unreadable: int = 0  # orders skipped because we could not read them


@dataclass(frozen=True)
class DcaPage:
    orders: tuple[DcaOrder, ...]
    total: int
    limit: int
    offset: int
    unreadable: int = 0


# --- reading JSON -------------------------------------------------------------------------------


def to_usd(value: Any) -> Decimal | None:
    """A USD figure: Jupiter sends JSON numbers here (and may send strings); never NaN or ±inf."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        value = repr(value)  # the shortest text that reads back as this float: 0.1, not 0.1000000000000000055…
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def optional_datetime(value: Any) -> datetime | None:
    try:
        return to_datetime(value)
    except (ValueError, TypeError):
        return None


def plain(value: Any) -> str:
    """A JSON value as short plain text, for fields we do not know."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError):
            text = "?"
    text = " ".join(text.split())
    return text if len(text) <= MAX_EXTRA_CHARS else text[: MAX_EXTRA_CHARS - 1] + "…"


def parse_event(data: dict[str, Any]) -> DcaEvent:
    return DcaEvent(
        type=to_text(data.get("type")) or "unknown",
        state=to_text(data.get("state")),
        at=optional_datetime(data.get("timestamp")),
        tx_signature=to_text(data.get("txSignature")),
        round_number=to_int(data.get("roundNumber")),
        raw_in=to_int(data.get("inputAmount")),
        raw_out=to_int(data.get("outputAmount")),
        attempt_count=to_int(data.get("attemptCount")),
    )


def _event_order(event: DcaEvent) -> tuple:
    """Oldest first; events without a readable time last, then by round and attempt."""
    at = event.at.timestamp() if event.at is not None else math.inf
    return (at, event.round_number or 0, event.attempt_count or 0)


def parse_order(data: Any, listed: str) -> DcaOrder:
    """One DcaOrder. ValueError when even its id, pair or creation time cannot be read."""
    if not isinstance(data, dict):
        raise ValueError("order is not an object")
    for key in ORDER_REQUIRED:
        if not to_text(data.get(key)):
            raise MissingKey(key)
    order_id = data["id"]
    if not ORDER_ID.match(order_id):
        raise ValueError("order without a usable id")
    created_at = to_datetime(data.get("createdAt"))
    events = data.get("events") or []
    if not isinstance(events, list):
        raise ValueError("events is not a list")
    extra = tuple(
        (str(name)[:MAX_EXTRA_CHARS], plain(value))
        for name, value in data.items()
        if name not in KNOWN_FIELDS and value is not None
    )[:MAX_EXTRA_FIELDS]
    fill_percent = to_usd(data.get("fillPercent"))
    return DcaOrder(
        id=order_id,
        listed=listed,
        request_id=to_text(data.get("requestId")),
        user=to_text(data.get("userPubkey")),
        vault=to_text(data.get("vaultPubkey")),
        input_mint=data["inputMint"],
        output_mint=data["outputMint"],
        raw_in_initial=to_int(data.get("inputAmountInitial")),
        raw_in_remaining=to_int(data.get("inputAmountRemaining")),
        raw_per_round=to_int(data.get("amountPerRound")),
        raw_in_used=to_int(data.get("inputAmountUsed")),
        raw_out_total=to_int(data.get("outputAmountTotal")),
        rounds_total=to_int(data.get("numberOfRounds")),
        rounds_filled=to_int(data.get("roundsFilled")),
        fill_percent=fill_percent if fill_percent is not None and 0 <= fill_percent <= 1 else None,
        interval_seconds=to_int(data.get("intervalSeconds")),
        begin_fill_at=optional_datetime(data.get("beginFillAt")),
        next_fill_at=optional_datetime(data.get("nextFillAt")),
        last_fill_at=optional_datetime(data.get("lastFillAt")),
        order_type=to_text(data.get("orderType")),
        trigger_mint=to_text(data.get("triggerMint")),
        min_price_usd=to_usd(data.get("minPriceUsd")),
        max_price_usd=to_usd(data.get("maxPriceUsd")),
        retry_window_seconds=to_int(data.get("retryWindowSeconds")),
        jl_enabled=data.get("jlEnabled") is True,
        jl_yield_usd=to_usd(data.get("jlYieldUsd")),
        state=to_text(data.get("state")),
        display_state=to_text(data.get("displayState")),
        created_at=created_at,
        updated_at=optional_datetime(data.get("updatedAt")) or created_at,
        events=tuple(sorted((parse_event(e) for e in events if isinstance(e, dict)), key=_event_order)),
        extra=extra,
        raw=data,
    )


def parse_page(data: Any, listed: str) -> DcaPage:
    """`{"orders": [...], "pagination": {"total", "limit", "offset"}}`; unreadable orders are counted.
    `UnexpectedShape` when `orders` or `pagination.total` is missing, or when no order of the page
    can be read because each lacks a key of ORDER_REQUIRED (a renamed key, not one odd order)."""
    missing = upstream.missing_keys(data, PAGE_REQUIRED)
    if missing:
        raise upstream.unexpected_shape("dca-list", missing[0])
    if not isinstance(data["orders"], list):
        raise upstream.unexpected_shape("dca-list", "orders (a list)")
    orders, unreadable, lacking = [], 0, ""
    for item in data["orders"]:
        try:
            orders.append(parse_order(item, listed))
        except MissingKey as exc:
            unreadable += 1
            lacking = lacking or exc.key
        except (ValueError, TypeError, KeyError):
            unreadable += 1
    if lacking and not orders:
        raise upstream.unexpected_shape("dca-list", f"orders[].{lacking}")
    pagination = data["pagination"] if isinstance(data["pagination"], dict) else {}
    count = len(orders) + unreadable
    total = to_int(pagination.get("total"))
    offset = to_int(pagination.get("offset")) or 0
    return DcaPage(
        orders=tuple(orders),
        total=max(total if total is not None else offset + count, offset + count),
        limit=to_int(pagination.get("limit")) or PAGE_LIMIT,
        offset=offset,
        unreadable=unreadable,
    )


def parse_order_answer(data: Any) -> DcaOrder:
    """One DcaOrder (or `{"order": DcaOrder}`), listed by its state: active or history;
    `UnexpectedShape` when it lacks a key of ORDER_REQUIRED."""
    order = data.get("order", data) if isinstance(data, dict) else data
    try:
        listed = "active" if isinstance(order, dict) and order.get("state") in ACTIVE_STATES else "history"
        return parse_order(order, listed)
    except MissingKey as exc:
        raise upstream.unexpected_shape("dca-order", exc.key) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise JupiterBadResponse(upstream_message=str(exc)[:200], retryable=True) from None
