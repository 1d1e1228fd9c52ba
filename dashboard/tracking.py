"""A wallet's orders as the dashboard shows them: cached, single-flight, and never lost.

Pages of `getRecurringOrders` are cached per (wallet, status, page) in the shared
cache for a short time, with one upstream fetch per key at a time. Every order
seen is recorded (`TrackedOrder`), so when Jupiter fails or rate-limits, the
dashboard shows the last known data with its age instead of an error.

Jupiter's newer DCA orders (Trigger API v2) are listed the same way — the whole list per
(wallet, list) cached, single-flight, recorded, last-known on failure — and `list_board` fetches
the v1 pages and the v2 list concurrently: a failure of one never hides the other. The number
of v1 pages a list had is remembered, so a repeat visit asks for all of them at once.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connections
from django.utils import timezone as dj_timezone

from dashboard import budget, dca_orders, recurring, tokens, trigger, upstream
from dashboard.dca_view import describe_dca
from dashboard.models import TrackedOrder
from dashboard.orders import OrderView
from dashboard.recurring_view import describe as describe_order

logger = logging.getLogger(__name__)

STATUSES = ("active", "history")
PAGE_TTL = 30  # seconds an order-list page stays fresh
LOCK_TTL = 30  # seconds a fetch may hold the single-flight lock
WAIT_FOR_OTHER = 12.0  # seconds a request waits for another's fetch of the same page
PAGES_SEEN_TTL = 7 * 24 * 3600  # how long the page count of a wallet's list is remembered
RETIRED_STATUSES = (404, 410)  # every v1 call answering these: Jupiter switched the v1 API off
System = TrackedOrder.System

T = TypeVar("T")
AnyOrder = recurring.Order | dca_orders.DcaOrder


@dataclass(frozen=True)
class Listing:
    orders: list[Any]  # recurring.Order (System.RECURRING) or dca_orders.DcaOrder (System.DCA)
    as_of: datetime | None  # when the data left Jupiter
    problem: str = ""  # plain words when this is last-known data, or nothing could be loaded
    system: str = System.RECURRING
    retired: bool = False  # v1 only: Jupiter answers 404/410, the v1 API is switched off
    needs_connect: bool = False  # v2 only: no token, or Jupiter refused it (the wallet must sign again)
    unreadable: int = 0  # v2 only: orders Jupiter sent that we could not read
    rate_limited: bool = False  # not live because the outbound budget or Jupiter's rate limit said wait

    @property
    def stale(self) -> bool:
        return bool(self.problem)


@dataclass(frozen=True)
class Board:
    """Both lists of one kind ("active" or "history"): Recurring v1 and DCA v2."""

    v1: Listing
    v2: Listing

    @property
    def orders(self) -> list[Any]:
        """Every order of both, newest first."""
        return sorted([*self.v1.orders, *self.v2.orders], key=lambda o: o.created_at, reverse=True)

    @property
    def live(self) -> bool:
        """Nothing on either side is last-known data because of a failure (a v2 list this session
        cannot read yet is not a failure: it shows what was last seen, and the offer to connect)."""
        return not self.v1.stale and not self.v2.stale

    @property
    def as_of(self) -> datetime | None:
        """When the oldest of the data fetched for this board left Jupiter."""
        moments = [x.as_of for x in (self.v1, self.v2) if x.as_of is not None and not x.needs_connect]
        return min(moments, default=None)


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


def _dca_key(wallet: str, status: str) -> str:
    version = cache.get_or_set(_counter("dca", wallet, status), 1, None)
    return f"dca:{wallet}:{version}:{status}"


def _pages_seen_key(wallet: str, status: str) -> str:
    return f"pages-seen:{wallet}:{status}"


def panel_key(wallet: str, status: str, dca_state: str = "offer") -> str:
    """Where the rendered list fragment is kept; a new key whenever its pages change. Sessions
    see another fragment depending on their connection to Jupiter's DCA ("connected", "offer",
    "ended": `dca_auth.Access.state`)."""
    counters = [_counter(kind, wallet, status) for kind in ("orders", "panel", "dca")]
    versions = cache.get_many(counters)
    pages, edits, dca = (versions.get(counter, 1) for counter in counters)
    return f"panel:{wallet}:{status}:{pages}:{edits}:{dca}:{dca_state}"


def cached_panel(key: str) -> bytes | None:
    return cache.get(key)


def store_panel(key: str, listing: Listing | Board, content: bytes) -> None:
    """Keep a rendered list of live data for as long as the pages it shows stay fresh."""
    live = listing.live if isinstance(listing, Board) else not listing.stale
    if not live or listing.as_of is None:
        return
    remaining = PAGE_TTL - (time.time() - listing.as_of.timestamp())
    if remaining >= 1:
        cache.set(key, content, int(remaining))


def invalidate(wallet: str) -> None:
    """Forget every cached page of this wallet (both systems)."""
    for status in STATUSES:
        expire(wallet, status)
        expire_dca(wallet, status)


def expire(wallet: str, status: str) -> None:
    """Forget the cached pages of one of this wallet's v1 lists."""
    _bump("orders", wallet, status)


def expire_dca(wallet: str, status: str) -> None:
    """Forget the cached v2 list of this wallet ("active" or "history")."""
    _bump("dca", wallet, status)


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


def single_flight(key: str, fetch: Callable[[], T], recorded: Callable[[T], None]) -> T:
    """The value at `key` in the shared cache when fresh; otherwise one `fetch()` per key at a
    time (others wait for it), stored for PAGE_TTL and then `recorded` (in the fetching thread)."""
    deadline = time.monotonic() + WAIT_FOR_OTHER
    while True:
        hit = cache.get(key)
        if hit is not None:
            return hit
        if cache.add(f"{key}:lock", 1, LOCK_TTL):
            try:
                # Another fetch may have stored it between our look and our lock.
                hit = cache.get(key)
                if hit is not None:
                    return hit
                fresh = fetch()
                cache.set(key, fresh, PAGE_TTL)
            finally:
                cache.delete(f"{key}:lock")
            recorded(fresh)
            return fresh
        if time.monotonic() > deadline:
            # The other fetch is taking too long; ask ourselves rather than fail.
            return fetch()
        time.sleep(0.02)


def cached_page(
    wallet: str, status: str, page: int, recorded: Callable[[recurring.OrdersPage], None] | None = None
) -> recurring.OrdersPage:
    """One page, from the shared cache when fresh; one upstream call per key at a time.
    A page fetched from Jupiter is handed to `recorded`, else recorded at once (in the fetching
    thread)."""
    return single_flight(
        _page_key(wallet, status, page),
        lambda: recurring.get_orders(wallet, status, page),
        recorded or (lambda fresh: record(wallet, status, fresh)),
    )


class PageRecorder:
    """The pages one listing fetched from Jupiter, written to the database by the request's own
    thread, one statement per `flush`: page 1 while the other pages are still in flight, the
    rest together once they are in. Page threads then never wait for the database (SQLite has
    one writer at a time) nor open a connection of their own."""

    def __init__(self, wallet: str, status: str) -> None:
        self.wallet, self.status = wallet, status
        self.pending: list[recurring.OrdersPage] = []
        self.lock = threading.Lock()

    def add(self, page: recurring.OrdersPage) -> None:
        with self.lock:
            self.pending.append(page)

    def flush(self) -> None:
        with self.lock:
            pages, self.pending = self.pending, []
        if pages:
            record(self.wallet, self.status, *pages)


def in_own_thread(work: Callable[..., T]) -> Callable[..., T]:
    """`work` for a pool thread: its list calls are charged to the request's requesters (pool
    threads start without the request's context), and it closes the thread's own database
    connection when done."""
    caller = threading.current_thread()
    charged = budget.requesters()

    def run(*args: Any) -> T:
        try:
            with budget.charged_to(*charged):
                return work(*args)
        finally:
            if threading.current_thread() is not caller:
                connections.close_all()

    return run


def list_orders(wallet: str, status: str) -> Listing:
    """The wallet's v1 orders in one list ("active" or "history"), live or last-known. All the
    pages the list had last time are asked for at once."""
    seen_key = _pages_seen_key(wallet, status)
    expected = cache.get(seen_key) or 1
    recorder = PageRecorder(wallet, status)
    get_page = in_own_thread(lambda number: cached_page(wallet, status, number, recorder.add))
    try:
        pages = recurring.fetch_pages(get_page, expected=expected, meanwhile=recorder.flush)
    except upstream.JupiterError as exc:
        recorder.flush()  # what did arrive is kept as last-known, even though another page failed
        if exc.status in RETIRED_STATUSES:
            logger.info("recurring v1 answers %s: listed as switched off", exc.status)
            return Listing(orders=[], as_of=None, retired=True)
        return _limited(last_known(wallet, status, exc.user_message), exc)
    recorder.flush()
    if pages[0].total_pages != expected:
        cache.set(seen_key, pages[0].total_pages, PAGES_SEEN_TTL)
    orders = [order for page in pages for order in page.orders]
    as_of = datetime.fromtimestamp(min(page.fetched_at for page in pages), tz=dt_timezone.utc)
    if status == "active":
        retire(wallet, [o.order_key for o in orders], as_of, System.RECURRING)
    return Listing(orders=orders, as_of=as_of)


def cached_dca(wallet: str, status: str, token: str) -> dca_orders.DcaListing:
    """The whole v2 list, from the shared cache when fresh; one upstream fetch at a time."""
    return single_flight(
        _dca_key(wallet, status),
        lambda: trigger.list_orders(token, status),
        lambda fresh: record_dca(wallet, status, fresh),
    )


def list_dca(wallet: str, status: str, token: str | None) -> Listing:
    """The wallet's v2 orders in one list ("active" or "history"): live with a token, else (or
    when Jupiter fails or refuses the token) as last seen."""
    if not token:
        return dataclasses.replace(last_known(wallet, status, "", System.DCA), needs_connect=True)
    try:
        listing = cached_dca(wallet, status, token)
    except upstream.JupiterUnauthorized as exc:
        return dataclasses.replace(last_known(wallet, status, exc.user_message, System.DCA), needs_connect=True)
    except upstream.JupiterError as exc:
        return _limited(last_known(wallet, status, exc.user_message, System.DCA), exc)
    orders = [order for order in listing.orders if order.user in ("", wallet)]
    as_of = datetime.fromtimestamp(listing.fetched_at, tz=dt_timezone.utc)
    if status == "active" and not listing.unreadable:  # retire only on a wholly readable answer
        retire(wallet, [o.id for o in orders], as_of, System.DCA)
    return Listing(orders=orders, as_of=as_of, system=System.DCA, unreadable=listing.unreadable)


def _limited(listing: Listing, exc: upstream.JupiterError) -> Listing:
    """A last-known listing, marked when the limit (ours or Jupiter's) is why it is not live."""
    return dataclasses.replace(listing, rate_limited=isinstance(exc, upstream.JupiterRateLimited))


def list_board(wallet: str, status: str, token: str | None) -> Board:
    """Both systems' orders of one list, the v1 pages and the v2 list fetched at the same time."""
    if not token:  # nothing to fetch for v2: its last-known orders come from the database
        return Board(list_orders(wallet, status), list_dca(wallet, status, None))
    with ThreadPoolExecutor(max_workers=1) as pool:
        v2 = pool.submit(in_own_thread(list_dca), wallet, status, token)
        v1 = list_orders(wallet, status)
        return Board(v1, v2.result())


def list_boards(wallet: str, token: str | None) -> list[Board]:
    """Every list of the wallet (active and history, both systems) for the exports: the two
    boards fetched at the same time, each as `list_board` (all pages at once), every call within
    the same outbound budget and fair shares as the lists."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        history = pool.submit(in_own_thread(list_board), wallet, "history", token)
        return [list_board(wallet, "active", token), history.result()]


def last_known_board(wallet: str, status: str, problem: str, connected: bool) -> Board:
    """Both lists as last seen, without calling Jupiter (`problem` says why); the v2 list of a
    session that is not connected is marked so, as `list_board` does."""
    v2 = last_known(wallet, status, problem if connected else "", System.DCA)
    return Board(last_known(wallet, status, problem), v2 if connected else dataclasses.replace(v2, needs_connect=True))


def record(wallet: str, status: str, *pages: recurring.OrdersPage) -> None:
    """Remember the orders of pages just read from Jupiter, as their last-known state, in one
    statement (each order seen when its own page arrived)."""
    rows = [
        (o.order_key, o.raw, datetime.fromtimestamp(page.fetched_at, tz=dt_timezone.utc))
        for page in pages
        for o in page.orders
        if o.user in ("", wallet)
    ]
    _record(wallet, status, System.RECURRING, rows)


def record_dca(wallet: str, status: str, listing: dca_orders.DcaListing) -> None:
    seen = datetime.fromtimestamp(listing.fetched_at, tz=dt_timezone.utc)
    _record(wallet, status, System.DCA, [(o.id, o.raw, seen) for o in listing.orders if o.user in ("", wallet)])


def _record(wallet: str, status: str, system: str, snapshots: list[tuple[str, dict, datetime]]) -> None:
    """One upsert of these orders' snapshots (nothing when there are none)."""
    if not snapshots:
        return
    TrackedOrder.objects.bulk_create(
        [
            TrackedOrder(wallet=wallet, order_key=key, system=system, status=status, last_seen=seen, snapshot=raw)
            for key, raw, seen in snapshots
        ],
        update_conflicts=True,
        unique_fields=["wallet", "order_key"],
        update_fields=["system", "status", "last_seen", "snapshot"],
    )


def retire(wallet: str, active: list[str], seen: datetime, system: str = System.RECURRING) -> None:
    """Orders tracked as active that this listing no longer shows have left the active list.
    Called only with a well-formed answer: a drifted shape raises `UnexpectedShape` before, and a
    v2 list with orders we could not read retires nothing."""
    marker = f"retired:{system}:{wallet}:{seen.timestamp()}"
    if cache.add(marker, 1, PAGE_TTL * 2):  # once per listing, not on every cached view
        TrackedOrder.objects.filter(wallet=wallet, system=system, status="active", last_seen__lt=seen).exclude(
            order_key__in=active
        ).update(status="closed")


def parse_snapshot(row: TrackedOrder) -> AnyOrder:
    """A tracked order's last snapshot as the dataclass of its system; ValueError if unreadable."""
    listed = "active" if row.status == "active" else "history"
    try:
        if row.system == System.DCA:
            return dca_orders.parse_order(row.snapshot, listed)
        return recurring.parse_order(row.snapshot, listed)
    except (TypeError, KeyError) as exc:
        raise ValueError(str(exc)) from None


def last_known(wallet: str, status: str, problem: str, system: str = System.RECURRING) -> Listing:
    """The orders of one list as last seen, with `problem` saying why they are not live ("": no
    fetch was tried)."""
    tracked = list(TrackedOrder.objects.filter(wallet=wallet, system=system, status=status).order_by("-last_seen"))
    orders = []
    for row in tracked:
        try:
            orders.append(parse_snapshot(row))
        except ValueError:
            logger.warning("unreadable snapshot of order %s", row.order_key)
    orders.sort(key=lambda o: o.created_at, reverse=True)
    as_of = max((row.last_seen for row in tracked), default=None)
    return Listing(orders=orders, as_of=as_of, problem=problem, system=system)


def describe(orders: list[AnyOrder]) -> list[OrderView]:
    """The trader-facing figures of these orders (either system), with token symbols and decimals."""
    mints = {m for o in orders for m in (o.input_mint, o.output_mint)}
    mints |= {o.trigger_mint for o in orders if isinstance(o, dca_orders.DcaOrder) and o.trigger_mint}
    known = tokens.get_tokens(mints)
    now = dj_timezone.now()
    return [
        describe_dca(order, known, now) if isinstance(order, dca_orders.DcaOrder) else describe_order(order, known, now)
        for order in orders
    ]


def has_closed_orders(wallet: str) -> bool:
    """Whether any order of this wallet was seen closed (completed or cancelled) — no upstream call."""
    return TrackedOrder.objects.filter(wallet=wallet).exclude(status="active").exists()


def tracked_orders(wallet: str, order_keys: list[str]) -> dict[str, AnyOrder]:
    """These orders of this wallet (either system) as last seen, in any list; unknown or
    unreadable ones left out."""
    found = {}
    for row in TrackedOrder.objects.filter(wallet=wallet, order_key__in=order_keys):
        try:
            found[row.order_key] = parse_snapshot(row)
        except ValueError:
            logger.warning("unreadable snapshot of order %s", row.order_key)
    return found


def tracked_order(
    wallet: str, order_key: str, *, any_status: bool = False, system: str | None = System.RECURRING
) -> AnyOrder | None:
    """This wallet's order as last seen in its active list (or in any list), or None. `system`:
    only an order of that system (Recurring v1 by default: what the v1 cancel can act on), None for either."""
    rows = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key)
    if system is not None:
        rows = rows.filter(system=system)
    row = rows.first() if any_status else rows.filter(status="active").first()
    if row is None:
        return None
    try:
        return parse_snapshot(row)
    except ValueError:
        return None
