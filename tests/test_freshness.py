"""What a list may show after what it showed (`dashboard/freshness.py`), through `tracking`
against the sandbox over real HTTP: an older cached copy — what another worker's own cache holds,
or a fetch that left before a cancel — never makes a list older, never brings back an order we
saw close, and a list Jupiter sends after the close is believed.

"Another worker's cache" is made here by putting the older copy back where the cache keeps it:
every worker reads the marks from the database, so one process shows the rule. The browser tests
run the same with two gunicorn workers (tests/browser/test_truth.py)."""

from __future__ import annotations

import time
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.core.cache import cache
from solders.keypair import Keypair

from dashboard import freshness, tracking
from dashboard.models import ListMark, TrackedOrder
from dashboard.sandbox import control, trigger_seed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

V1, V2 = TrackedOrder.System.RECURRING.value, TrackedOrder.System.DCA.value


def new_wallet(active: int, history: int = 0) -> tuple[str, list[str]]:
    wallet = str(Keypair().pubkey())
    return wallet, control.seed_wallet(wallet, active=active, history=history)


def list_calls() -> int:
    return control.count_calls("getRecurringOrders")


def keys(listing: tracking.Listing) -> list[str]:
    return [o.order_key for o in listing.orders]


def later_fetch(wallet: str) -> tracking.Listing:
    """The list fetched again (what another worker does once its pages expire)."""
    tracking.expire(wallet, "active")
    return tracking.list_orders(wallet, "active")


# --- rule 1: "as of" never moves backwards --------------------------------------------------------


def test_an_older_cached_page_is_never_served_over_a_newer_one():
    wallet, _ = new_wallet(active=3)
    first = tracking.list_orders(wallet, "active")
    older_page = cache.get(tracking._page_key(wallet, "active", 1))
    time.sleep(0.01)
    newer = later_fetch(wallet)
    assert newer.as_of > first.as_of
    calls = list_calls()
    cache.set(tracking._page_key(wallet, "active", 1), older_page, tracking.PAGE_TTL)  # another worker's copy
    shown = tracking.list_orders(wallet, "active")
    assert shown.as_of >= newer.as_of
    assert list_calls() == calls + 1  # fetched again rather than shown older


def test_the_newest_as_of_is_kept_in_the_database_and_only_moves_forward():
    wallet, _ = new_wallet(active=2)
    listing = tracking.list_orders(wallet, "active")
    mark = ListMark.objects.get(wallet=wallet, system=V1, status="active")
    assert mark.as_of == listing.as_of
    freshness.saw(wallet, V1, "active", datetime(2020, 1, 1, tzinfo=dt_timezone.utc), freshness.Mark())
    freshness.saw(
        wallet, V1, "active", datetime(2020, 1, 1, tzinfo=dt_timezone.utc), freshness.marks(wallet, "active")[V1]
    )
    assert ListMark.objects.get(pk=mark.pk).as_of == listing.as_of


def test_a_page_is_stamped_with_the_moment_its_request_left():
    wallet, _ = new_wallet(active=1)
    control.set_latency(300)
    before = time.time()
    page = tracking.cached_page(wallet, "active", 1)
    assert before <= page.fetched_at < before + 0.25  # sent then, not when the answer came


# --- rule 3: an order seen closed stays closed -----------------------------------------------------


def test_a_cancelled_order_leaves_every_older_copy_without_a_refetch():
    wallet, _ = new_wallet(active=12)
    listing = tracking.list_orders(wallet, "active")
    gone = listing.orders[11].order_key  # on page 2
    older = {n: cache.get(tracking._page_key(wallet, "active", n)) for n in (1, 2)}
    calls = list_calls()
    tracking.forget(wallet, gone)
    for number, page in older.items():  # another worker's cache still lists it
        cache.set(tracking._page_key(wallet, "active", number), page, tracking.PAGE_TTL)
    after = tracking.list_orders(wallet, "active")
    assert gone not in keys(after) and len(after.orders) == 11
    assert list_calls() == calls
    assert TrackedOrder.objects.get(wallet=wallet, order_key=gone).status == "closed"
    assert after.as_of == listing.as_of  # the same copy, as of the same moment


def test_jupiters_own_list_fetched_after_the_close_is_believed():
    wallet, seeded = new_wallet(active=3)
    tracking.list_orders(wallet, "active")
    kept = seeded[0]  # the sandbox still lists it: its cancel never reached Jupiter
    tracking.forget(wallet, kept)
    assert kept not in keys(tracking.list_orders(wallet, "active"))
    time.sleep(0.01)
    assert kept in keys(later_fetch(wallet))
    assert TrackedOrder.objects.get(wallet=wallet, order_key=kept).status == "active"


def test_a_fetch_sent_before_the_close_does_not_reopen_the_order():
    wallet, seeded = new_wallet(active=2)
    tracking.list_orders(wallet, "active")
    page = cache.get(tracking._page_key(wallet, "active", 1))
    tracking.forget(wallet, seeded[0])
    # The answer of a request sent before the close, recorded after it (as the fetching thread does).
    tracking.record(wallet, "active", page)
    assert TrackedOrder.objects.get(wallet=wallet, order_key=seeded[0]).status == "active"
    mark = freshness.marks(wallet, "active")[V1]
    kept = freshness.without_closed(wallet, V1, mark, [(page.fetched_at, list(page.orders))], lambda o: o.order_key)
    assert seeded[0] not in [o.order_key for o in kept]
    assert TrackedOrder.objects.get(wallet=wallet, order_key=seeded[0]).status == "closed"
    assert seeded[0] not in keys(tracking.last_known(wallet, "active", "down"))


def test_no_close_costs_no_query(django_assert_num_queries):
    mark = freshness.Mark()
    with django_assert_num_queries(0):
        assert freshness.without_closed("w", V1, mark, [(time.time(), ["a", "b"])], str) == ["a", "b"]


def test_the_history_is_fetched_again_after_a_close_in_any_worker():
    wallet, seeded = new_wallet(active=3, history=2)
    tracking.list_orders(wallet, "active")
    tracking.list_orders(wallet, "history")
    older = cache.get(tracking._page_key(wallet, "history", 1))
    tracking.forget(wallet, seeded[0])
    cache.set(tracking._page_key(wallet, "history", 1), older, tracking.PAGE_TTL)  # another worker's copy
    calls = list_calls()
    tracking.list_orders(wallet, "history")
    assert list_calls() == calls + 1


# --- Jupiter's DCA (v2) -------------------------------------------------------------------------


def test_a_v2_list_copied_before_a_stop_or_a_close_is_not_shown(wallet_token):
    wallet, token = wallet_token
    listing = tracking.list_dca(wallet, "active", token)
    older = cache.get(tracking._dca_key(wallet, "active"))
    calls = control.count_calls("dca-list")
    tracking.expire_dca(wallet, "active")  # what marking an order stopped does, in every worker
    cache.set(tracking._dca_key(wallet, "active"), older, tracking.PAGE_TTL)  # another worker's copy
    tracking.list_dca(wallet, "active", token)
    assert control.count_calls("dca-list") == calls + 1  # fetched again, not the copy from before the stop
    gone = trigger_seed.order_id(wallet, "price-band")
    tracking.forget(wallet, gone)  # its cancel went through: the cached copy still lists it
    after = tracking.list_dca(wallet, "active", token)
    assert control.count_calls("dca-list") == calls + 1
    assert [o.id for o in after.orders] == [o.id for o in listing.orders if o.id != gone]


@pytest.fixture
def wallet_token() -> tuple[str, str]:
    wallet = str(Keypair().pubkey())
    control.seed_dca_wallet(wallet)
    return wallet, control.issue_dca_token(wallet)


# --- the rendered panel ---------------------------------------------------------------------------


def test_a_rendered_panel_is_not_reused_after_a_close_or_once_newer_data_was_shown():
    wallet, seeded = new_wallet(active=2)
    board = tracking.list_board(wallet, "active", None)
    marks = freshness.marks(wallet, "active")
    key = tracking.panel_key(wallet, "active", "offer", marks)
    tracking.store_panel(key, board, b"rendered")
    assert tracking.cached_panel(key, marks) == b"rendered"
    tracking.forget(wallet, seeded[0])
    assert tracking.panel_key(wallet, "active", "offer", freshness.marks(wallet, "active")) != key
    time.sleep(0.01)
    later_fetch(wallet)  # newer data shown (say, by another worker)
    assert tracking.cached_panel(key, freshness.marks(wallet, "active")) is None
