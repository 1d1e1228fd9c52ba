"""What an order list may show after what it already showed: the page never contradicts itself.

The lists are cached (pages, the v2 list, the rendered panel), and a cache may be per worker
(local memory) or shared (Redis); a fetch may start before a cancel and arrive after it. Three
rules keep every answer, from any worker, at least as true as the last one:

1. **"As of" never moves backwards.** Each list ("active" or "history" of one system) remembers
   the newest "as of" it was shown with. A cached copy fetched before that is never served over
   it: it is fetched again.
2. **What we changed is not hidden by older copies.** When our own action changes a list (an
   order Jupiter stopped for its refund, a cancel that makes the history grow, an answer saying
   an order is gone), copies fetched before that moment are fetched again.
3. **An order we saw close stays closed** until Jupiter's own list, fetched (sent) after the
   close, says otherwise: a copy fetched before the close is shown without it, and is not
   recorded as making it active again.

The marks live in the database (`models.ListMark`, `TrackedOrder.closed_at`), which every worker
and instance shares whatever the cache, and are read once per list (one query for both systems).
"Fetched" means the moment the request to Jupiter was sent (`tracking` stamps it), so an answer
that left Jupiter before a close never counts as after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import TypeVar

from django.db.models import Q
from django.utils import timezone

from dashboard.models import ListMark, TrackedOrder

T = TypeVar("T")
SYSTEMS = tuple(TrackedOrder.System.values)
TOLERANCE = 0.001  # seconds: a time read back from the database may differ by its rounding


@dataclass(frozen=True)
class Mark:
    """What one list last showed, and the moments that make older copies of it wrong."""

    as_of: datetime | None = None  # the newest "as of" it was shown with
    changed_at: datetime | None = None  # our own change: copies fetched before are fetched again
    closed_at: datetime | None = None  # an order of it closed: copies fetched before drop it
    stored: bool = False  # whether the database has a row for it yet

    @property
    def floor(self) -> float:
        """Unix time before which a cached copy of this list is not served."""
        moments = [m.timestamp() for m in (self.as_of, self.changed_at) if m is not None]
        return max(moments, default=0.0)

    def accepts(self, fetched_at: float) -> bool:
        """Whether a copy fetched (sent) at `fetched_at` may be served."""
        return fetched_at >= self.floor - TOLERANCE

    @property
    def version(self) -> str:
        """Changes whenever a rendered copy of the list must not be reused (rules 2 and 3)."""
        return ".".join(f"{m.timestamp():.6f}" if m else "-" for m in (self.changed_at, self.closed_at))


def marks(wallet: str, status: str) -> dict[str, Mark]:
    """Both systems' marks of one of the wallet's lists, in one query."""
    found = {
        row.system: Mark(row.as_of, row.changed_at, row.closed_at, stored=True)
        for row in ListMark.objects.filter(wallet=wallet, status=status)
    }
    return {system: found.get(system, Mark()) for system in SYSTEMS}


def version(found: dict[str, Mark]) -> str:
    """For the key of a rendered list: both systems' versions."""
    return ":".join(found[system].version for system in SYSTEMS)


def saw(wallet: str, system: str, status: str, as_of: datetime | None, mark: Mark) -> None:
    """The list is being shown as of `as_of`: remember it when newer than what was shown (rule 1).
    Written only when it moves forward, at most once per fresh fetch."""
    if as_of is None or (mark.as_of is not None and as_of <= mark.as_of):
        return
    if mark.stored:
        ListMark.objects.filter(wallet=wallet, system=system, status=status).filter(
            Q(as_of__isnull=True) | Q(as_of__lt=as_of)
        ).update(as_of=as_of)
    else:
        ListMark.objects.bulk_create(
            [ListMark(wallet=wallet, system=system, status=status, as_of=as_of)], ignore_conflicts=True
        )


def _stamp(wallet: str, lists: Iterable[tuple[str, str]], field: str, when: datetime) -> None:
    ListMark.objects.bulk_create(
        [ListMark(wallet=wallet, system=system, status=status, **{field: when}) for system, status in lists],
        update_conflicts=True,
        unique_fields=["wallet", "system", "status"],
        update_fields=[field],
    )


def changed(wallet: str, system: str, statuses: Iterable[str]) -> None:
    """Our own action changed these lists of one system just now (rule 2)."""
    _stamp(wallet, [(system, status) for status in statuses], "changed_at", timezone.now())


def closed(wallet: str, order_key: str, system: str) -> None:
    """We saw this order close just now (its cancel went through): it leaves every copy of the
    active list fetched before now (rule 3), and the history is fetched again (rule 2)."""
    now = timezone.now()
    TrackedOrder.objects.filter(wallet=wallet, order_key=order_key).update(status="closed", closed_at=now)
    _stamp(wallet, [(system, "active")], "closed_at", now)
    _stamp(wallet, [(system, "history")], "changed_at", now)


def without_closed(
    wallet: str, system: str, mark: Mark, batches: Iterable[tuple[float, list[T]]], key: Callable[[T], str]
) -> list[T]:
    """The orders of these batches (each: when it was fetched, its orders), less those we saw
    close after their batch was fetched (rule 3). Such orders recorded as active again by a fetch
    sent before their close are closed again. Costs nothing unless a close came after a batch."""
    batches = list(batches)
    oldest = min((fetched for fetched, _ in batches), default=None)
    if mark.closed_at is None or oldest is None or mark.closed_at.timestamp() < oldest - TOLERANCE:
        return [order for _, orders in batches for order in orders]
    since = datetime.fromtimestamp(oldest - TOLERANCE, tz=dt_timezone.utc)
    rows = TrackedOrder.objects.filter(wallet=wallet, system=system, closed_at__gte=since)
    closes = {order_key: when.timestamp() for order_key, when in rows.values_list("order_key", "closed_at")}
    kept = []
    for fetched, orders in batches:
        kept += [order for order in orders if closes.get(key(order), 0.0) < fetched - TOLERANCE]
    dropped = {key(order) for _, orders in batches for order in orders} - {key(order) for order in kept}
    if dropped:
        TrackedOrder.objects.filter(wallet=wallet, order_key__in=dropped, status="active").update(status="closed")
    return kept
