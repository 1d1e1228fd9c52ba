"""A wallet's orders as the dashboard shows them: cached, single-flight, and never lost.

Pages of `getRecurringOrders` are cached per (wallet, status, page) in the shared
cache for a short time, with one upstream fetch per key at a time. Every order
seen is recorded (`TrackedOrder`), so when Jupiter fails or rate-limits, the
dashboard shows the last known data with its age instead of an error.

Jupiter's newer DCA orders (Trigger API v2) are listed the same way — the whole list per
(wallet, list) cached, single-flight, recorded, last-known on failure — and `list_board` fetches
the v1 pages and the v2 list concurrently: a failure of one never hides the other. The number
of v1 pages a list had is remembered, so a repeat visit asks for all of them at once.

No copy from a cache ever makes a list older or brings back an order we saw close
(`freshness`): cached pages are stamped with the moment their request was sent, and checked
against the list's marks before they are served.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connections, router, transaction
from django.utils import timezone as dj_timezone

from dashboard import budget, dca_orders, freshness, recurring, tokens, trigger, upstream
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
    cause: str = ""  # what the problem is, as a code (the failure's kind): one failure, one banner
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
    def fetched(self) -> list[Listing]:
        """The lists of this board fetched from Jupiter (not the v2 list of a wallet that is not
        connected, nor a v1 list Jupiter switched off: those are as last seen)."""
        return [x for x in (self.v1, self.v2) if x.as_of is not None and not x.needs_connect and not x.retired]

    @property
    def as_of(self) -> datetime | None:
        """When the oldest of the data fetched for this board left Jupiter."""
        return min((x.as_of for x in self.fetched), default=None)


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


def _page_key(wallet: str, status: str, page: int, version: int | None = None) -> str:
    """The cache key of one page (`version`: the list's current counter, when already read)."""
    return f"orders:{wallet}:{version or _version(wallet, status)}:{status}:{page}"


def _dca_key(wallet: str, status: str) -> str:
    version = cache.get_or_set(_counter("dca", wallet, status), 1, None)
    return f"dca:{wallet}:{version}:{status}"


def _pages_seen_key(wallet: str, status: str) -> str:
    return f"pages-seen:{wallet}:{status}"


def panel_key(wallet: str, status: str, dca_state: str, marks: dict[str, freshness.Mark]) -> str:
    """Where the rendered list fragment is kept; a new key whenever its pages change, here or (by
    the list's `marks`) in any worker. Wallets see another fragment depending on their connection
    to Jupiter's DCA ("connected", "offer", "ended": `dca_auth.Access.state`)."""
    counters = [_counter(kind, wallet, status) for kind in ("orders", "dca")]
    versions = cache.get_many(counters)
    pages, dca = (versions.get(counter, 1) for counter in counters)
    return f"panel:{wallet}:{status}:{pages}:{dca}:{freshness.version(marks)}:{dca_state}"


def cached_panel(key: str, marks: dict[str, freshness.Mark]) -> bytes | None:
    """The rendered list kept at `key`, unless a list in it is older than what was shown since."""
    hit = cache.get(key)
    if hit is None:
        return None
    moments, content = hit
    if all(marks[system].accepts(moment) for system, moment in moments.items()):
        return content
    return None


def store_panel(key: str, board: Board, content: bytes) -> None:
    """Keep a rendered list of live data for as long as the pages it shows stay fresh."""
    if not board.live or board.as_of is None:
        return
    remaining = PAGE_TTL - (time.time() - board.as_of.timestamp())
    moments = {x.system: x.as_of.timestamp() for x in board.fetched if x.as_of is not None}
    if remaining >= 1:
        cache.set(key, (moments, content), int(remaining))


def invalidate(wallet: str) -> None:
    """Forget every cached page of this wallet (both systems)."""
    for status in STATUSES:
        expire(wallet, status)
        expire_dca(wallet, status)


def expire(wallet: str, status: str) -> None:
    """Forget the cached pages of one of this wallet's v1 lists (in every worker)."""
    _bump("orders", wallet, status)
    freshness.changed(wallet, System.RECURRING, [status])


def expire_dca(wallet: str, status: str) -> None:
    """Forget the cached v2 list of this wallet ("active" or "history"), in every worker."""
    _bump("dca", wallet, status)
    freshness.changed(wallet, System.DCA, [status])


def forget(wallet: str, order_key: str) -> None:
    """A cancel went through: the order leaves the active list at once, in every worker's cached
    copy fetched before now (no refetch needed to show the list without it), and the history,
    which now includes it, is fetched again."""
    row = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key).values_list("system", flat=True).first()
    freshness.closed(wallet, order_key, row or System.RECURRING)
    _bump("orders", wallet, "history")
    _bump("dca", wallet, "history")


def single_flight(
    key: str, fetch: Callable[[], T], recorded: Callable[[T], None], accepts: Callable[[T], bool] = bool
) -> T:
    """The value at `key` in the shared cache when fresh (and `accepts` it); otherwise one
    `fetch()` per key at a time (others wait for it), stored for PAGE_TTL and then `recorded` (in
    the fetching thread)."""
    deadline = time.monotonic() + WAIT_FOR_OTHER
    while True:
        hit = cache.get(key)
        if hit is not None and accepts(hit):
            return hit
        if cache.add(f"{key}:lock", 1, LOCK_TTL):
            try:
                # Another fetch may have stored it between our look and our lock.
                hit = cache.get(key)
                if hit is not None and accepts(hit):
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


def sent_now(fetch: Callable[[], T]) -> T:
    """`fetch()`'s answer stamped with the moment its request was sent (`fetched_at`): an answer
    that left Jupiter before a cancel went through never counts as newer than it."""
    sent = time.time()
    return dataclasses.replace(fetch(), fetched_at=sent)


def cached_page(
    wallet: str,
    status: str,
    page: int,
    recorded: Callable[[recurring.OrdersPage], None] | None = None,
    mark: freshness.Mark | None = None,
    version: int | None = None,
) -> recurring.OrdersPage:
    """One page, from the shared cache when fresh and not older than the list's `mark`; one
    upstream call per key at a time. A page fetched from Jupiter is handed to `recorded`, else
    recorded at once (in the fetching thread). `version`: the list's cache counter, when the
    caller read it already (once per list)."""
    mark = mark or freshness.Mark()
    return single_flight(
        _page_key(wallet, status, page, version),
        lambda: sent_now(lambda: recurring.get_orders(wallet, status, page)),
        recorded or (lambda fresh: record(wallet, status, fresh)),
        lambda hit: mark.accepts(hit.fetched_at),
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


def list_orders(wallet: str, status: str, mark: freshness.Mark | None = None) -> Listing:
    """The wallet's v1 orders in one list ("active" or "history"), live or last-known. All the
    pages the list had last time are asked for at once."""
    mark = mark or freshness.marks(wallet, status)[System.RECURRING]
    seen_key = _pages_seen_key(wallet, status)
    expected = cache.get(seen_key) or 1
    recorder = PageRecorder(wallet, status)
    version = _version(wallet, status)  # once for every page of the list
    get_page = in_own_thread(lambda number: cached_page(wallet, status, number, recorder.add, mark, version))
    try:
        pages = recurring.fetch_pages(get_page, expected=expected, meanwhile=recorder.flush)
    except upstream.JupiterError as exc:
        recorder.flush()  # what did arrive is kept as last-known, even though another page failed
        if exc.status in RETIRED_STATUSES:
            # Its orders as last seen stay listed (the page says what that means), never dropped.
            logger.info("recurring v1 answers %s: listed as switched off", exc.status)
            return dataclasses.replace(last_known(wallet, status, ""), retired=True)
        return _limited(last_known(wallet, status, exc.user_message), exc)
    recorder.flush()
    if pages[0].total_pages != expected:
        cache.set(seen_key, pages[0].total_pages, PAGES_SEEN_TTL)
    orders = [order for page in pages for order in page.orders]
    as_of = datetime.fromtimestamp(min(page.fetched_at for page in pages), tz=dt_timezone.utc)
    if status == "active":
        retire(wallet, [o.order_key for o in orders], as_of, System.RECURRING)
        batches = [(page.fetched_at, list(page.orders)) for page in pages]
        orders = freshness.without_closed(wallet, System.RECURRING, mark, batches, lambda o: o.order_key)
    freshness.saw(wallet, System.RECURRING, status, as_of, mark)
    return Listing(orders=orders, as_of=as_of)


def cached_dca(wallet: str, status: str, token: str, mark: freshness.Mark | None = None) -> dca_orders.DcaListing:
    """The whole v2 list, from the shared cache when fresh and not older than the list's `mark`;
    one upstream fetch at a time."""
    mark = mark or freshness.Mark()
    return single_flight(
        _dca_key(wallet, status),
        lambda: sent_now(lambda: trigger.list_orders(token, status)),
        lambda fresh: record_dca(wallet, status, fresh),
        lambda hit: mark.accepts(hit.fetched_at),
    )


def list_dca(wallet: str, status: str, token: str | None, mark: freshness.Mark | None = None) -> Listing:
    """The wallet's v2 orders in one list ("active" or "history"): live with a token, else (or
    when Jupiter fails or refuses the token) as last seen."""
    if not token:
        return dataclasses.replace(last_known(wallet, status, "", System.DCA), needs_connect=True)
    mark = mark or freshness.marks(wallet, status)[System.DCA]
    try:
        listing = cached_dca(wallet, status, token, mark)
    except upstream.JupiterUnauthorized as exc:
        return dataclasses.replace(last_known(wallet, status, exc.user_message, System.DCA), needs_connect=True)
    except upstream.JupiterError as exc:
        return _limited(last_known(wallet, status, exc.user_message, System.DCA), exc)
    orders = [order for order in listing.orders if order.user in ("", wallet)]
    as_of = datetime.fromtimestamp(listing.fetched_at, tz=dt_timezone.utc)
    if status == "active":
        if not listing.unreadable:  # retire only on a wholly readable answer
            retire(wallet, [o.id for o in orders], as_of, System.DCA)
        orders = freshness.without_closed(wallet, System.DCA, mark, [(listing.fetched_at, orders)], lambda o: o.id)
    freshness.saw(wallet, System.DCA, status, as_of, mark)
    return Listing(orders=orders, as_of=as_of, system=System.DCA, unreadable=listing.unreadable)


def _limited(listing: Listing, exc: upstream.JupiterError) -> Listing:
    """A last-known listing, marked when the limit (ours or Jupiter's) is why it is not live, with
    the failure's code as its cause."""
    return dataclasses.replace(listing, rate_limited=isinstance(exc, upstream.JupiterRateLimited), cause=exc.code)


def list_board(wallet: str, status: str, token: str | None, marks: dict[str, freshness.Mark] | None = None) -> Board:
    """Both systems' orders of one list, the v1 pages and the v2 list fetched at the same time
    (`marks`: the list's, when the caller has read them already)."""
    marks = marks or freshness.marks(wallet, status)
    if not token:  # nothing to fetch for v2: its last-known orders come from the database
        return Board(list_orders(wallet, status, marks[System.RECURRING]), list_dca(wallet, status, None))
    with ThreadPoolExecutor(max_workers=1) as pool:
        v2 = pool.submit(in_own_thread(list_dca), wallet, status, token, marks[System.DCA])
        v1 = list_orders(wallet, status, marks[System.RECURRING])
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
    v2 = last_known(wallet, status, problem if connected else "", System.DCA, cause=LIMITED)
    v1 = last_known(wallet, status, problem, cause=LIMITED)
    return Board(v1, v2 if connected else dataclasses.replace(v2, needs_connect=True))


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


UPSERT_COLUMNS = ("wallet", "order_key", "system", "status", "first_seen", "last_seen", "snapshot")
UPSERT_ROWS = 500  # rows per statement (7 parameters each: far below SQLite's and PostgreSQL's limits)


def _record(wallet: str, status: str, system: str, snapshots: list[tuple[str, dict, datetime]]) -> None:
    """One upsert of these orders' snapshots (nothing when there are none): what
    `bulk_create(update_conflicts=True)` writes, as one `INSERT … ON CONFLICT (wallet, order_key) DO
    UPDATE` that SQLite and PostgreSQL both run, with the parameters adapted by the database's own
    operations but without a model instance, its signals and its field-by-field preparation per
    order (most of the cost of recording a long list). An order listed twice (pages that shifted
    while they were read) is written once, as last seen."""
    latest = {key: (raw, seen) for key, raw, seen in snapshots}
    if not latest:
        return
    connection = connections[router.db_for_write(TrackedOrder)]
    ops = connection.ops
    now = ops.adapt_datetimefield_value(dj_timezone.now())
    moments: dict[datetime, Any] = {}  # a page's orders share the moment it arrived
    rows = [
        (
            wallet,
            key,
            system,
            status,
            now,
            moments.get(seen) or moments.setdefault(seen, ops.adapt_datetimefield_value(seen)),
            ops.adapt_json_value(raw, None),
        )
        for key, (raw, seen) in latest.items()
    ]
    table = ops.quote_name(TrackedOrder._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in UPSERT_COLUMNS)
    updated = ", ".join(
        f"{ops.quote_name(c)} = excluded.{ops.quote_name(c)}" for c in UPSERT_COLUMNS[2:] if c != "first_seen"
    )
    one = "(" + ", ".join(["%s"] * len(UPSERT_COLUMNS)) + ")"
    batches = len(rows) > UPSERT_ROWS  # all of them or none, as bulk_create
    atomic = transaction.atomic(using=connection.alias, savepoint=False) if batches else nullcontext()
    with atomic, connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_ROWS):
            batch = rows[start : start + UPSERT_ROWS]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(batch))} "  # noqa: S608 - names only
                f"ON CONFLICT ({ops.quote_name('wallet')}, {ops.quote_name('order_key')}) DO UPDATE SET {updated}",
                [value for row in batch for value in row],
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


LIMITED = "lists_limited"  # the cause of last-known lists shown because the trader refreshed too often


def last_known(wallet: str, status: str, problem: str, system: str = System.RECURRING, cause: str = "") -> Listing:
    """The orders of one list as last seen, with `problem` saying why they are not live ("": no
    fetch was tried) and `cause` what kind of failure it is."""
    tracked = list(TrackedOrder.objects.filter(wallet=wallet, system=system, status=status).order_by("-last_seen"))
    orders = []
    for row in tracked:
        try:
            orders.append(parse_snapshot(row))
        except ValueError:
            logger.warning("unreadable snapshot of order %s", row.order_key)
    orders.sort(key=lambda o: o.created_at, reverse=True)
    as_of = max((row.last_seen for row in tracked), default=None)
    return Listing(orders=orders, as_of=as_of, problem=problem, system=system, cause=cause)


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
