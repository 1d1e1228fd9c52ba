"""Jupiter's Recurring API v1 (time-based DCA orders): list, cancel, execute.

JSON is turned into frozen dataclasses at this boundary (integers in base units, `Decimal` for
Jupiter's decimal strings, aware datetimes), tolerant of the drift the real API shows (numbers
as strings or not, `closeTx` empty or null, the old nested list) but never of a missing key we
rely on: a page without its list or `totalPages`, or an order without `ORDER_REQUIRED`, is
`UnexpectedShape`, never an empty list. Failures are `dashboard.upstream.JupiterError`s.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from dashboard import encoding, upstream
from dashboard.transactions import MAX_TX_BYTES
from dashboard.upstream import JupiterBadResponse, MissingKey, to_datetime, to_decimal, to_int, to_text

LIST_ENDPOINT = "getRecurringOrders"
# What the dashboard reads of a getRecurringOrders answer (`manage.py jupiter_check` reports each
# as present or missing). The list itself is under the requested recurring type ("time").
PAGE_FIELDS = ("totalPages", "page")
ORDER_FIELDS = (
    "orderKey",
    "userPubkey",
    "inputMint",
    "outputMint",
    "cycleFrequency",
    "inDeposited",
    "rawInDeposited",
    "inUsed",
    "rawInUsed",
    "inWithdrawn",
    "rawInWithdrawn",
    "inAmountPerCycle",
    "rawInAmountPerCycle",
    "outReceived",
    "rawOutReceived",
    "outWithdrawn",
    "rawOutWithdrawn",
    "rawMinOutAmount",
    "rawMaxOutAmount",
    "openTx",
    "closeTx",
    "userClosed",
    "createdAt",
    "updatedAt",
    "trades",
)
FILL_FIELDS = (
    "txId",
    "confirmedAt",
    "action",
    "inputAmount",
    "rawInputAmount",
    "outputAmount",
    "rawOutputAmount",
    "feeAmount",
    "rawFeeAmount",
    "feeMint",
    "keeper",
)
# Without these an order is not one we can show or cancel (`MissingKey`).
ORDER_REQUIRED = ("orderKey", "inputMint", "outputMint", "cycleFrequency", "createdAt")

PAGE_WORKERS = 20  # concurrent page fetches of one list after page 1 (the rate limiter paces them)
POOL_THREADS = 64  # page fetches in flight in one process, every request's together
MAX_EXPECTED_PAGES = 50  # at most this many pages are asked for before page 1 says how many there are


@dataclass(frozen=True)
class Fill:
    tx_id: str
    confirmed_at: datetime
    action: str
    raw_in: int | None
    raw_out: int | None
    raw_fee: int | None
    in_amount: Decimal | None
    out_amount: Decimal | None
    fee_amount: Decimal | None
    fee_mint: str
    keeper: str


@dataclass(frozen=True)
class Order:
    order_key: str
    user: str
    input_mint: str
    output_mint: str
    status: str  # "active" or "history" (the list it came from)
    recurring_type: str
    cycle_frequency: int  # seconds
    raw_in_deposited: int | None
    raw_in_used: int | None
    raw_in_withdrawn: int | None
    raw_in_per_cycle: int | None
    raw_out_received: int | None
    raw_out_withdrawn: int | None
    raw_min_out: int | None
    raw_max_out: int | None
    in_deposited: Decimal | None
    in_used: Decimal | None
    in_withdrawn: Decimal | None
    in_per_cycle: Decimal | None
    out_received: Decimal | None
    out_withdrawn: Decimal | None
    open_tx: str
    close_tx: str  # "" while open
    user_closed: bool
    created_at: datetime
    updated_at: datetime
    fills: tuple[Fill, ...]
    # The upstream JSON this was read from, kept to store as the last-known snapshot.
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class OrdersPage:
    orders: tuple[Order, ...]
    page: int
    total_pages: int
    fetched_at: float = 0.0  # Unix time the answer arrived


@dataclass(frozen=True)
class CancelTransaction:
    request_id: str
    transaction: bytes  # the unsigned wire transaction


@dataclass(frozen=True)
class ExecuteResult:
    signature: str
    status: str
    order: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status == "Success"


# --- parsing ------------------------------------------------------------------------------------


def parse_fill(data: dict[str, Any]) -> Fill:
    return Fill(
        tx_id=to_text(data.get("txId")),
        confirmed_at=to_datetime(data.get("confirmedAt")),
        action=to_text(data.get("action")) or "Fill",
        raw_in=to_int(data.get("rawInputAmount")),
        raw_out=to_int(data.get("rawOutputAmount")),
        raw_fee=to_int(data.get("rawFeeAmount")),
        in_amount=to_decimal(data.get("inputAmount")),
        out_amount=to_decimal(data.get("outputAmount")),
        fee_amount=to_decimal(data.get("feeAmount")),
        fee_mint=to_text(data.get("feeMint")),
        keeper=to_text(data.get("keeper")),
    )


def parse_order(data: dict[str, Any], status: str) -> Order:
    """One order; `MissingKey` (a ValueError) naming the first of ORDER_REQUIRED it lacks."""
    frequency = to_int(data.get("cycleFrequency"))
    if frequency is None and isinstance(data.get("cycleFrequency"), float):
        frequency = int(data["cycleFrequency"])
    for key in ORDER_REQUIRED:
        readable = frequency is not None if key == "cycleFrequency" else bool(to_text(data.get(key)))
        if not readable:
            raise MissingKey(key)
    trades = data.get("trades") or []
    if not isinstance(trades, list):
        raise ValueError("trades is not a list")
    return Order(
        order_key=data["orderKey"],
        user=to_text(data.get("userPubkey")),
        input_mint=to_text(data.get("inputMint")),
        output_mint=to_text(data.get("outputMint")),
        status=status,
        recurring_type=to_text(data.get("recurringType")) or "time",
        cycle_frequency=frequency,
        raw_in_deposited=to_int(data.get("rawInDeposited")),
        raw_in_used=to_int(data.get("rawInUsed")),
        raw_in_withdrawn=to_int(data.get("rawInWithdrawn")),
        raw_in_per_cycle=to_int(data.get("rawInAmountPerCycle")),
        raw_out_received=to_int(data.get("rawOutReceived")),
        raw_out_withdrawn=to_int(data.get("rawOutWithdrawn")),
        raw_min_out=to_int(data.get("rawMinOutAmount")),
        raw_max_out=to_int(data.get("rawMaxOutAmount")),
        in_deposited=to_decimal(data.get("inDeposited")),
        in_used=to_decimal(data.get("inUsed")),
        in_withdrawn=to_decimal(data.get("inWithdrawn")),
        in_per_cycle=to_decimal(data.get("inAmountPerCycle")),
        out_received=to_decimal(data.get("outReceived")),
        out_withdrawn=to_decimal(data.get("outWithdrawn")),
        open_tx=to_text(data.get("openTx")),
        close_tx=to_text(data.get("closeTx")),
        user_closed=data.get("userClosed") is True,
        created_at=to_datetime(data.get("createdAt")),
        updated_at=to_datetime(data.get("updatedAt") or data.get("createdAt")),
        fills=tuple(parse_fill(t) for t in trades if isinstance(t, dict)),
        raw=data,
    )


def parse_orders_page(data: Any, status: str, recurring_type: str) -> OrdersPage:
    """Read `{..., totalPages, page, <type>: [...]}`, or the old nested `<type>: {orders, totalPages,
    page}`. `UnexpectedShape` (naming the key) when the list, `totalPages` or a required key of an
    order is missing — e.g. the early live `{"data": {"time": {"orders": …}}}` — never an empty page."""
    if not isinstance(data, dict):
        raise upstream.unexpected_shape(LIST_ENDPOINT, "a JSON object")
    key = recurring_type if recurring_type in data else "orders"
    if key not in data:
        raise upstream.unexpected_shape(LIST_ENDPOINT, recurring_type)
    listing, meta = data[key], data
    if isinstance(listing, dict):  # very old shape: the list nested with its own paging
        listing, meta, key = listing.get("orders"), listing, f"{key}.orders"
    if not isinstance(listing, list):
        raise upstream.unexpected_shape(LIST_ENDPOINT, f"{key} (a list)")
    total_pages = to_int(meta.get("totalPages"))
    if total_pages is None:
        raise upstream.unexpected_shape(LIST_ENDPOINT, "totalPages")
    page = to_int(meta.get("page")) or 1
    orders = []
    for item in listing:
        if not isinstance(item, dict):
            raise upstream.unexpected_shape(LIST_ENDPOINT, f"{key}[] (objects)")
        try:
            orders.append(parse_order(item, status))
        except MissingKey as exc:
            raise upstream.unexpected_shape(LIST_ENDPOINT, f"{key}[].{exc.key}") from None
    return OrdersPage(orders=tuple(orders), page=page, total_pages=max(total_pages, 1), fetched_at=time.time())


def parse_cancel(data: Any) -> CancelTransaction:
    """`{requestId, transaction}`; the early draft's `{id, tx}` only as a fallback."""
    if not isinstance(data, dict):
        raise JupiterBadResponse(upstream_message="cancelOrder answer is not an object")
    request_id = data.get("requestId") or data.get("id")
    transaction = data.get("transaction") or data.get("tx")
    if not isinstance(request_id, str) or not request_id or not isinstance(transaction, str):
        raise JupiterBadResponse(upstream_message="cancelOrder answer lacks requestId/transaction")
    try:
        raw = encoding.decode_base64(transaction, MAX_TX_BYTES)
    except encoding.Undecodable:
        raise JupiterBadResponse(upstream_message="cancelOrder transaction is not base64 of one transaction") from None
    return CancelTransaction(request_id=request_id, transaction=raw)


def page_pool() -> ThreadPoolExecutor:
    """This process's page-fetching threads, kept between requests (a forked worker makes its
    own): starting twenty threads for every cold list costs, on a busy machine, more than the
    list's own work."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="jupiter-pages")
            _pool_pid = os.getpid()
        return _pool


_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def _ask(get_page: Callable[[int], OrdersPage], numbers: range, asked: list[Future]) -> list[Future]:
    """Submit these pages to the shared pool, at most PAGE_WORKERS of this list in flight at once;
    each future is also added to `asked` (so the caller can wait for all of them)."""
    slots = threading.BoundedSemaphore(PAGE_WORKERS)
    futures = []
    for number in numbers:
        slots.acquire()
        future = page_pool().submit(get_page, number)
        future.add_done_callback(lambda _done: slots.release())
        futures.append(future)
        asked.append(future)
    return futures


def fetch_pages(
    get_page: Callable[[int], OrdersPage], expected: int = 1, meanwhile: Callable[[], None] | None = None
) -> list[OrdersPage]:
    """Every page, returned in order. Page 1 first, then the remaining pages concurrently
    (bounded) — or, when `expected` (the page count last seen) is more than 1, pages 1 to
    `expected` all at once: pages beyond what page 1 now reports are dropped, and any it
    reports beyond `expected` are fetched after it. `meanwhile()` runs in the calling thread
    once page 1 is in, while the other pages are still being fetched. Returns (or raises) only
    once every page asked for has come back or failed."""
    expected = max(1, min(expected, MAX_EXPECTED_PAGES))
    asked: list[Future] = []
    try:
        if expected == 1:
            first = get_page(1)
            others = _ask(get_page, range(2, first.total_pages + 1), asked)
        else:
            futures = _ask(get_page, range(1, expected + 1), asked)
            first = futures[0].result()
            others = futures[1 : first.total_pages]
            others += _ask(get_page, range(expected + 1, first.total_pages + 1), asked)
        if others and meanwhile is not None:
            meanwhile()
        return [first, *(future.result() for future in others)]
    finally:
        wait(asked)


# --- calls --------------------------------------------------------------------------------------


def get_orders(wallet: str, status: str, page: int = 1) -> OrdersPage:
    """One page (10 orders) of a wallet's time-based orders."""
    data = upstream.call(
        "GET",
        f"{settings.JUPITER_API_URL}/getRecurringOrders",
        LIST_ENDPOINT,
        params={
            "user": wallet,
            "orderStatus": status,
            "recurringType": "time",
            "includeFailedTx": "false",
            "page": page,
        },
    )
    try:
        return parse_orders_page(data, status, "time")
    except (ValueError, TypeError, KeyError) as exc:
        raise JupiterBadResponse(upstream_message=str(exc)[:200], retryable=True) from None


def cancel_order(wallet: str, order_key: str) -> CancelTransaction:
    data = upstream.call(
        "POST",
        f"{settings.JUPITER_API_URL}/cancelOrder",
        "cancelOrder",
        json={"order": order_key, "user": wallet, "recurringType": "time"},
    )
    return parse_cancel(data)


def execute(request_id: str, signed_transaction: bytes) -> ExecuteResult:
    """Relay a signed transaction. Never retried: a timeout raises JupiterUnavailable."""
    data = upstream.call(
        "POST",
        f"{settings.JUPITER_API_URL}/execute",
        "execute",
        json={"requestId": request_id, "signedTransaction": base64.b64encode(signed_transaction).decode()},
    )
    if not isinstance(data, dict) or not isinstance(data.get("status"), str):
        raise JupiterBadResponse(upstream_message="execute answer lacks a status")
    error = data.get("error")
    return ExecuteResult(
        signature=to_text(data.get("signature")),
        status=data["status"],
        order=data.get("order") if isinstance(data.get("order"), str) else None,
        error=error if isinstance(error, str) and error else None,
    )
