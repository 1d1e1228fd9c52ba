"""Jupiter's Trigger API v2, DCA part: authenticate a wallet, list its orders, cancel one.

Newer DCA orders made on jup.ag live here, not in the Recurring API v1 (`dashboard.recurring`).
Reading them needs a token the wallet earns by signing Jupiter's challenge (`request_challenge`,
then `verify`); every order call sends it as `Authorization: Bearer …`. The token is a secret of
the wallet: it never appears in a log line, a repr or an error message here.

Every answer is turned into frozen dataclasses at this boundary: the orders and their lists by
`dashboard.dca_orders` (tolerant of a beta API, but never reading a drifted shape as an empty
list), the challenge, token and cancel answers here. Failures are `dashboard.upstream.JupiterError`s;
a 401 is `JupiterUnauthorized` (ask the wallet to sign again). Endpoint names for the call log and
the budget: dca-challenge, dca-verify, dca-list, dca-order, dca-cancel, dca-confirm.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from django.conf import settings

from dashboard import upstream
from dashboard.dca_orders import ORDER_ID, PAGE_LIMIT, DcaListing, DcaOrder, DcaPage, parse_order_answer, parse_page
from dashboard.upstream import JupiterBadResponse, OrderNotFound, to_int, to_text

MESSAGE, TRANSACTION = "message", "transaction"
CHALLENGE_TYPES = (MESSAGE, TRANSACTION)
STATES = {"active": "active", "history": "past"}  # our list name -> Jupiter's `state` query
MAX_PAGES = 20  # never follow more pages than this (2,000 orders) whatever `total` claims
PAGE_WORKERS = 4
TOKEN_LIFETIME = timedelta(hours=24)  # documented; a token is never kept longer than this
MAX_TOKEN_CHARS = 8192
# What the dashboard relies on in the answers to /auth/challenge (`manage.py jupiter_check`
# reports each as present or missing).
CHALLENGE_FIELDS = {MESSAGE: ("type", "challenge"), TRANSACTION: ("type", "transaction")}


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
