"""A wallet's orders as the dashboard shows them: cached, single-flight, and never lost.

Pages of `getRecurringOrders` are cached per (wallet, status, page) in the shared
cache for a short time, with one upstream fetch per key at a time. Every order
seen is recorded (`TrackedOrder`), so when Jupiter fails or rate-limits, the
dashboard shows the last known data with its age instead of an error.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone

from django.core.cache import cache
from django.db import connections
from django.utils import timezone as dj_timezone

from dashboard import budget, recurring, tokens, upstream
from dashboard.models import TrackedOrder
from dashboard.orders import OrderView
from dashboard.orders import describe as describe_order

logger = logging.getLogger(__name__)

STATUSES = ("active", "history")
PAGE_TTL = 30  # seconds an order-list page stays fresh
LOCK_TTL = 30  # seconds a fetch may hold the single-flight lock
WAIT_FOR_OTHER = 12.0  # seconds a request waits for another's fetch of the same page


@dataclass(frozen=True)
class Listing:
    orders: list[recurring.Order]
    as_of: datetime | None  # when the data left Jupiter
    problem: str = ""  # plain words when this is last-known data, or nothing could be loaded

    @property
    def stale(self) -> bool:
        return bool(self.problem)


def _counter(kind: str, wallet: str, status: str) -> str:
    """A cache counter that is part of every key of one list's pages ("orders") or its
    rendered fragment ("panel"): bumping it makes all of them unreachable at once."""
    return f"{kind}-version:{wallet}:{status}"


def _bump(kind: str, wallet: str, status: str) -> None:
    try:
        cache.incr(_counter(kind, wallet, status))
    except ValueError:  # not set yet (version 1 is the default)
        cache.set(_counter(kind, wallet, status), 2, None)


def _version(wallet: str, status: str) -> int:
    return cache.get_or_set(_counter("orders", wallet, status), 1, None)


def _page_key(wallet: str, status: str, page: int) -> str:
    return f"orders:{wallet}:{_version(wallet, status)}:{status}:{page}"


def panel_key(wallet: str, status: str) -> str:
    """Where the rendered list fragment is kept; a new key whenever its pages change."""
    counters = [_counter("orders", wallet, status), _counter("panel", wallet, status)]
    versions = cache.get_many(counters)
    pages, edits = (versions.get(counter, 1) for counter in counters)
    return f"panel:{wallet}:{status}:{pages}:{edits}"


def cached_panel(key: str) -> bytes | None:
    return cache.get(key)


def store_panel(key: str, listing: Listing, content: bytes) -> None:
    """Keep a rendered list of live data for as long as the pages it shows stay fresh."""
    if listing.stale or listing.as_of is None:
        return
    remaining = PAGE_TTL - (time.time() - listing.as_of.timestamp())
    if remaining >= 1:
        cache.set(key, content, int(remaining))


def invalidate(wallet: str) -> None:
    """Forget every cached page of this wallet."""
    for status in STATUSES:
        expire(wallet, status)


def expire(wallet: str, status: str) -> None:
    """Forget the cached pages of one of this wallet's lists."""
    _bump("orders", wallet, status)


def forget(wallet: str, order_key: str) -> None:
    """A cancel went through: drop the order from the cached active pages (no refetch needed
    to show the list without it) and forget the cached history, which now includes it."""
    first = cache.get(_page_key(wallet, "active", 1))
    if first is None:
        expire(wallet, "active")
    else:
        for number in range(1, first.total_pages + 1):
            key = _page_key(wallet, "active", number)
            page = cache.get(key)
            if page is not None and any(o.order_key == order_key for o in page.orders):
                kept = tuple(o for o in page.orders if o.order_key != order_key)
                cache.set(key, dataclasses.replace(page, orders=kept), PAGE_TTL)
    _bump("panel", wallet, "active")
    expire(wallet, "history")
    TrackedOrder.objects.filter(wallet=wallet, order_key=order_key).update(status="closed")


def cached_page(wallet: str, status: str, page: int) -> recurring.OrdersPage:
    """One page, from the shared cache when fresh; one upstream call per key at a time.
    A page fetched from Jupiter is recorded at once (in the fetching thread)."""
    key = _page_key(wallet, status, page)
    deadline = time.monotonic() + WAIT_FOR_OTHER
    while True:
        hit = cache.get(key)
        if hit is not None:
            return hit
        if cache.add(f"{key}:lock", 1, LOCK_TTL):
            try:
                # Another fetch may have stored the page between our look and our lock.
                hit = cache.get(key)
                if hit is not None:
                    return hit
                fresh = recurring.get_orders(wallet, status, page)
                cache.set(key, fresh, PAGE_TTL)
            finally:
                cache.delete(f"{key}:lock")
            record(wallet, status, fresh)
            return fresh
        if time.monotonic() > deadline:
            # The other fetch is taking too long; ask ourselves rather than fail.
            return recurring.get_orders(wallet, status, page)
        time.sleep(0.02)


def list_orders(wallet: str, status: str) -> Listing:
    """The wallet's orders in one list ("active" or "history"), live or last-known."""
    caller = threading.current_thread()

    charged = budget.requesters()

    def get_page(number: int) -> recurring.OrdersPage:
        try:
            with budget.charged_to(*charged):  # pool threads start without the request's context
                return cached_page(wallet, status, number)
        finally:
            if threading.current_thread() is not caller:
                connections.close_all()  # a pool thread's own database connection

    try:
        pages = recurring.fetch_pages(get_page)
    except upstream.JupiterError as exc:
        return last_known(wallet, status, exc.user_message)
    orders = [order for page in pages for order in page.orders]
    as_of = datetime.fromtimestamp(min(page.fetched_at for page in pages), tz=dt_timezone.utc)
    if status == "active":
        retire(wallet, orders, as_of)
    return Listing(orders=orders, as_of=as_of)


def record(wallet: str, status: str, page: recurring.OrdersPage) -> None:
    """Remember the orders of a page just read from Jupiter, as their last-known state."""
    seen = datetime.fromtimestamp(page.fetched_at, tz=dt_timezone.utc)
    TrackedOrder.objects.bulk_create(
        [
            TrackedOrder(wallet=wallet, order_key=o.order_key, status=status, last_seen=seen, snapshot=o.raw)
            for o in page.orders
            if o.user in ("", wallet)
        ],
        update_conflicts=True,
        unique_fields=["wallet", "order_key"],
        update_fields=["status", "last_seen", "snapshot"],
    )


def retire(wallet: str, active: list[recurring.Order], seen: datetime) -> None:
    """Orders tracked as active that this listing no longer shows have left the active list."""
    marker = f"retired:{wallet}:{seen.timestamp()}"
    if cache.add(marker, 1, PAGE_TTL * 2):  # once per listing, not on every cached view
        TrackedOrder.objects.filter(wallet=wallet, status="active", last_seen__lt=seen).exclude(
            order_key__in=[o.order_key for o in active]
        ).update(status="closed")


def last_known(wallet: str, status: str, problem: str) -> Listing:
    """The orders of one list as last seen, with `problem` saying why they are not live."""
    tracked = list(TrackedOrder.objects.filter(wallet=wallet, status=status).order_by("-last_seen"))
    orders = []
    for row in tracked:
        try:
            orders.append(recurring.parse_order(row.snapshot, status))
        except (ValueError, TypeError, KeyError):
            logger.warning("unreadable snapshot of order %s", row.order_key)
    orders.sort(key=lambda o: o.created_at, reverse=True)
    as_of = max((row.last_seen for row in tracked), default=None)
    return Listing(orders=orders, as_of=as_of, problem=problem)


def describe(orders: list[recurring.Order]) -> list[OrderView]:
    """The trader-facing figures of these orders, with token symbols and decimals."""
    known = tokens.get_tokens({m for o in orders for m in (o.input_mint, o.output_mint)})
    now = dj_timezone.now()
    return [describe_order(order, known, now) for order in orders]


def has_closed_orders(wallet: str) -> bool:
    """Whether any order of this wallet was seen closed (completed or cancelled) — no upstream call."""
    return TrackedOrder.objects.filter(wallet=wallet).exclude(status="active").exists()


def tracked_orders(wallet: str, order_keys: list[str]) -> dict[str, recurring.Order]:
    """These orders of this wallet as last seen, in any list; unknown or unreadable ones left out."""
    found = {}
    for row in TrackedOrder.objects.filter(wallet=wallet, order_key__in=order_keys):
        try:
            found[row.order_key] = recurring.parse_order(
                row.snapshot, "active" if row.status == "active" else "history"
            )
        except (ValueError, TypeError, KeyError):
            logger.warning("unreadable snapshot of order %s", row.order_key)
    return found


def tracked_order(wallet: str, order_key: str, *, any_status: bool = False) -> recurring.Order | None:
    """This wallet's order as last seen in its active list (or in any list), or None."""
    rows = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key)
    row = rows.first() if any_status else rows.filter(status="active").first()
    if row is None:
        return None
    try:
        return recurring.parse_order(row.snapshot, "active" if row.status == "active" else "history")
    except (ValueError, TypeError, KeyError):
        return None
