"""Jupiter's Trigger API v2, DCA part: authenticate a wallet, list its orders, cancel one.

Newer DCA orders made on jup.ag live here, not in the Recurring API v1 (`dashboard.recurring`).
Reading them needs a token the wallet earns by signing Jupiter's challenge (`request_challenge`,
then `verify`); every order call sends it as `Authorization: Bearer …`. The token is a secret of
the wallet: it never appears in a log line, a repr or an error message here.

JSON is turned into frozen dataclasses at this boundary: amounts as `int` base units, USD as
`Decimal`, times as aware datetimes. The API is labelled beta, so parsing is tolerant: unknown
states, order types, event types and fields are kept as they came (`DcaOrder.extra`) for the page
to show plainly, and an order we cannot read at all is counted (`DcaListing.unreadable`) rather
than failing the whole list — but an answer without a key we rely on (`orders`,
`pagination.total`, or an order's `ORDER_REQUIRED` on every order of a page) is `UnexpectedShape`,
never an empty list. Failures are `dashboard.upstream.JupiterError`s; a 401 is
`JupiterUnauthorized` (ask the wallet to sign again). Endpoint names for the call log and the
budget: dca-challenge, dca-verify, dca-list, dca-order, dca-cancel, dca-confirm.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from django.conf import settings

from dashboard import upstream
from dashboard.upstream import JupiterBadResponse, MissingKey, OrderNotFound, to_datetime, to_int, to_text

MESSAGE, TRANSACTION = "message", "transaction"
CHALLENGE_TYPES = (MESSAGE, TRANSACTION)
STATES = {"active": "active", "history": "past"}  # our list name -> Jupiter's `state` query
ACTIVE_STATES = ("depositing", "active", "executing", "withdrawing")
PAST_STATES = ("completed", "cancelled", "deposit_failed")
PAGE_LIMIT = 100  # Jupiter's maximum; a wallet has at most 10 active DCA orders
MAX_PAGES = 20  # never follow more pages than this (2,000 orders) whatever `total` claims
PAGE_WORKERS = 4
TOKEN_LIFETIME = timedelta(hours=24)  # documented; a token is never kept longer than this
MAX_TOKEN_CHARS = 8192
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
# in the answers to /auth/challenge (`manage.py jupiter_check` reports each as present or missing).
PAGE_REQUIRED = ("orders", "pagination.total")
PAGE_FIELDS = ("orders", "pagination.total", "pagination.limit", "pagination.offset")
ORDER_REQUIRED = ("id", "inputMint", "outputMint", "createdAt")
CHALLENGE_FIELDS = {MESSAGE: ("type", "challenge"), TRANSACTION: ("type", "transaction")}
MAX_EXTRA_FIELDS = 12
MAX_EXTRA_CHARS = 120


# --- what Jupiter answers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """What the wallet must sign: the exact text (`message`), or a memo transaction it signs with
    `solana:signTransaction` and never sends (`transaction`, the unsigned wire bytes)."""

    type: str
    message: str = ""
    transaction: bytes = b""


@dataclass(frozen=True)
class AccessToken:
    """A wallet's token and when it stops working. The value is left out of every repr."""

    value: str = field(repr=False)
    expires_at: datetime


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


@dataclass(frozen=True)
class DcaCancel:
    """Step 1 of a cancel: the order is stopped already; the refund transaction needs the wallet."""

    order_id: str
    request_id: str  # the `cancelRequestId` confirm-cancel needs
    rounds_remaining: int | None
    refund_amount: int | None  # base units of the input mint
    transaction: bytes  # unsigned wire transaction


@dataclass(frozen=True)
class CancelConfirmed:
    order_id: str
    tx_signature: str  # the withdrawal's signature


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


def token_expiry(token: str, now: datetime) -> datetime:
    """When the JWT stops working: its `exp` claim, read but not verified (we hold no key of
    Jupiter's, and use the claim for nothing else), never later than 24 hours from now; 24 hours
    when there is no readable claim. JupiterBadResponse when it is not a JWT or already expired."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts) or len(token) > MAX_TOKEN_CHARS:
        raise JupiterBadResponse(upstream_message="the token is not a JWT")
    latest = now + TOKEN_LIFETIME
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return latest
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
        return latest
    try:
        expires = datetime.fromtimestamp(exp, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return latest
    if expires <= now:
        raise JupiterBadResponse(upstream_message="the token Jupiter issued has already expired")
    return min(expires, latest)


def parse_cancel(data: Any, order_id: str) -> DcaCancel:
    if not isinstance(data, dict):
        raise JupiterBadResponse(upstream_message="cancel answer is not an object")
    request_id, transaction = data.get("requestId"), data.get("transaction")
    if not isinstance(request_id, str) or not request_id or not isinstance(transaction, str) or not transaction:
        raise JupiterBadResponse(upstream_message="cancel answer lacks requestId/transaction")
    try:
        raw = base64.b64decode(transaction, validate=True)
    except (binascii.Error, ValueError):
        raise JupiterBadResponse(upstream_message="cancel transaction is not base64") from None
    return DcaCancel(
        order_id=to_text(data.get("id")) or order_id,
        request_id=request_id,
        rounds_remaining=to_int(data.get("roundsRemaining")),
        refund_amount=to_int(data.get("refundAmount")),
        transaction=raw,
    )


# --- calls --------------------------------------------------------------------------------------


def _url(path: str) -> str:
    return f"{settings.JUPITER_TRIGGER_API_URL}{path}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def request_challenge(wallet: str, type: str = MESSAGE) -> Challenge:
    """`POST /auth/challenge`: what this wallet must sign to get a token."""
    if type not in CHALLENGE_TYPES:
        raise ValueError(f"challenge type must be one of {CHALLENGE_TYPES}")
    data = upstream.call("POST", _url("/auth/challenge"), "dca-challenge", json={"walletPubkey": wallet, "type": type})
    return parse_challenge(data, type)


def parse_challenge(data: Any, type: str) -> Challenge:
    """`{"type": "message", "challenge": text}` or `{"type": "transaction", "transaction": base64}`."""
    if not isinstance(data, dict):
        raise JupiterBadResponse(upstream_message="challenge answer is not an object")
    if type == MESSAGE:
        text = data.get("challenge")
        if not isinstance(text, str) or not text:
            raise JupiterBadResponse(upstream_message="challenge answer lacks the text")
        return Challenge(type=MESSAGE, message=text)
    encoded = data.get("transaction")
    try:
        raw = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) and encoded else b""
    except (binascii.Error, ValueError):
        raw = b""
    if not raw:
        raise JupiterBadResponse(upstream_message="challenge answer lacks a base64 transaction")
    return Challenge(type=TRANSACTION, transaction=raw)


def verify(
    wallet: str, *, signature: str = "", signed_transaction: bytes = b"", now: datetime | None = None
) -> AccessToken:
    """`POST /auth/verify` with a base58 signature of the message challenge, or the signed memo
    transaction of the transaction challenge; the token and its expiry."""
    if signature:
        body = {"type": MESSAGE, "walletPubkey": wallet, "signature": signature}
    elif signed_transaction:
        body = {
            "type": TRANSACTION,
            "walletPubkey": wallet,
            "signedTransaction": base64.b64encode(signed_transaction).decode(),
        }
    else:
        raise ValueError("verify needs a signature or a signed transaction")
    data = upstream.call("POST", _url("/auth/verify"), "dca-verify", json=body)
    return parse_token(data, now or datetime.now(timezone.utc))


def parse_token(data: Any, now: datetime) -> AccessToken:
    """`{"token": JWT}`, with the token's expiry (`token_expiry`)."""
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise JupiterBadResponse(upstream_message="verify answer lacks a token")
    return AccessToken(value=token, expires_at=token_expiry(token, now))


def get_page(token: str, state: str, limit: int = PAGE_LIMIT, offset: int = 0) -> DcaPage:
    """One page of `GET /orders/history/dca`; `state` is our list name, "active" or "history"."""
    data = upstream.call(
        "GET",
        _url("/orders/history/dca"),
        "dca-list",
        headers=_bearer(token),
        # Sorted by creation, which never changes, so following pages neither skips nor repeats.
        params={"state": STATES[state], "limit": limit, "offset": offset, "sort": "created_at", "dir": "desc"},
    )
    try:
        return parse_page(data, state)
    except (ValueError, TypeError) as exc:
        raise JupiterBadResponse(upstream_message=str(exc)[:200], retryable=True) from None


def list_orders(token: str, state: str, limit: int = PAGE_LIMIT, offset: int = 0) -> DcaListing:
    """Every order of a list: the first page, then (when `pagination.total` says there are more)
    the other pages at once, at most MAX_PAGES in all."""
    first = get_page(token, state, limit, offset)
    fetched_at = time.time()
    pages = [first]
    step = max(1, min(first.limit, limit))  # the page size Jupiter actually used
    rest = list(range(offset + step, first.total, step))[: MAX_PAGES - 1] if first.orders else []
    if rest:
        with ThreadPoolExecutor(max_workers=min(PAGE_WORKERS, len(rest))) as pool:
            pages += pool.map(lambda at: get_page(token, state, step, at), rest)
    seen: set[str] = set()
    orders = []
    for page in pages:
        for order in page.orders:
            if order.id not in seen:
                seen.add(order.id)
                orders.append(order)
    return DcaListing(
        orders=tuple(orders),
        total=first.total,
        fetched_at=fetched_at,
        unreadable=sum(page.unreadable for page in pages),
    )


def _order_call(method: str, prefix: str, endpoint: str, token: str, order_id: str, **kwargs: Any) -> Any:
    """A call about one order; a 404 (not this wallet's order, or gone) is OrderNotFound."""
    if not ORDER_ID.match(order_id):
        raise OrderNotFound(upstream_message="not a DCA order id")
    url = _url(f"{prefix}/{quote(order_id, safe='')}")
    try:
        return upstream.call(method, url, endpoint, headers=_bearer(token), **kwargs)
    except upstream.JupiterRejected as exc:
        if exc.status == 404:
            raise OrderNotFound(
                status=exc.status, upstream_message=exc.upstream_message, gateway_request_id=exc.gateway_request_id
            ) from None
        raise


def get_order(token: str, order_id: str) -> DcaOrder:
    """`GET /orders/history/dca/{id}`; OrderNotFound when it is not this wallet's (or is gone)."""
    return parse_order_answer(_order_call("GET", "/orders/history/dca", "dca-order", token, order_id))


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


def cancel(token: str, order_id: str) -> DcaCancel:
    """`POST /orders/dca/cancel/{id}`. Final: Jupiter stops the order at once, even if the wallet
    never signs the refund. Called again in `withdrawing` it issues a fresh refund transaction."""
    return parse_cancel(_order_call("POST", "/orders/dca/cancel", "dca-cancel", token, order_id), order_id)


def confirm_cancel(token: str, order_id: str, signed_transaction: bytes, cancel_request_id: str) -> CancelConfirmed:
    """`POST /orders/dca/confirm-cancel/{id}`: land the refund the wallet signed. Never retried
    here: a lost answer is settled by reading the order (`get_order`), never by posting again."""
    data = _order_call(
        "POST",
        "/orders/dca/confirm-cancel",
        "dca-confirm",
        token,
        order_id,
        json={"signedTransaction": base64.b64encode(signed_transaction).decode(), "cancelRequestId": cancel_request_id},
    )
    return parse_confirmed(data, order_id)


def parse_confirmed(data: Any, order_id: str) -> CancelConfirmed:
    """`{"id", "txSignature"}`: the withdrawal's signature."""
    signature = data.get("txSignature") if isinstance(data, dict) else None
    if not isinstance(signature, str) or not signature:
        raise JupiterBadResponse(upstream_message="confirm-cancel answer lacks txSignature")
    return CancelConfirmed(order_id=to_text(data.get("id")) or order_id, tx_signature=signature)
