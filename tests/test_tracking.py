"""Caching of order lists and token metadata, against the sandbox upstream over real HTTP.

Every assertion is about upstream calls (the sandbox's call log), never about elapsed time.
"""

from __future__ import annotations

import base64
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction

from dashboard import recurring, tokens, tracking
from dashboard.models import TrackedOrder
from dashboard.sandbox import control

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]


def new_wallet(active: int, history: int = 0) -> tuple[str, list[str]]:
    wallet = str(Keypair().pubkey())
    return wallet, control.seed_wallet(wallet, active=active, history=history)


def list_calls() -> int:
    return control.count_calls("getRecurringOrders")


def keys(listing: tracking.Listing) -> list[str]:
    return [o.order_key for o in listing.orders]


# --- cached per (wallet, status, page), shared ---------------------------------------------------


def test_each_page_is_fetched_once_and_then_served_from_the_cache():
    wallet, seeded = new_wallet(active=25, history=3)
    first = tracking.list_orders(wallet, "active")
    assert len(first.orders) == 25
    assert set(keys(first)) <= set(seeded)
    assert list_calls() == 3  # pages 1, 2, 3
    assert not first.stale

    again = tracking.list_orders(wallet, "active")
    assert keys(again) == keys(first)
    assert list_calls() == 3  # all three pages from the cache


def test_pages_are_keyed_by_wallet_status_and_page():
    wallet, _ = new_wallet(active=15, history=3)
    other, _ = new_wallet(active=5)
    tracking.list_orders(wallet, "active")
    assert list_calls() == 2

    tracking.list_orders(wallet, "history")  # another status: its own page
    assert list_calls() == 3
    tracking.list_orders(other, "active")  # another wallet: its own page
    assert list_calls() == 4

    # Each page on its own is the same cache entry the listing filled.
    assert tracking.cached_page(wallet, "active", 2).page == 2
    assert tracking.cached_page(wallet, "history", 1).page == 1
    assert list_calls() == 4
    control.seed_wallet(other, active=0)
    assert len(tracking.list_orders(other, "active").orders) == 5  # still the cached page
    assert list_calls() == 4


def test_the_cache_is_shared_between_requests_in_other_threads(at_once):
    wallet, _ = new_wallet(active=12)
    tracking.list_orders(wallet, "active")
    assert list_calls() == 2
    listings = at_once(4, lambda: tracking.list_orders(wallet, "active"))
    assert {len(listing.orders) for listing in listings} == {12}
    assert list_calls() == 2


def test_a_page_is_fetched_again_once_its_time_is_up(monkeypatch):
    # Whole seconds: Django's Redis cache truncates a timeout to an integer (0.2 s would be 0,
    # nothing cached at all).
    monkeypatch.setattr(tracking, "PAGE_TTL", 2)
    wallet, _ = new_wallet(active=3)
    tracking.list_orders(wallet, "active")
    tracking.list_orders(wallet, "active")
    assert list_calls() == 1  # kept while fresh
    page = tracking._page_key(wallet, "active", 1)
    deadline = time.monotonic() + 15
    while cache.get(page) is not None:  # the cache drops it on its own once its time is up
        assert time.monotonic() < deadline, "the page never expired"
        time.sleep(0.1)
    tracking.list_orders(wallet, "active")
    assert list_calls() == 2


# --- single flight -------------------------------------------------------------------------------


def test_one_upstream_call_for_many_requests_of_the_same_cold_page(at_once):
    wallet, _ = new_wallet(active=5)
    control.set_latency(300)  # wide enough that every thread asks while the first fetch runs
    pages = at_once(8, lambda: tracking.cached_page(wallet, "active", 1))
    assert control.count_calls("getRecurringOrders") == 1
    assert {tuple(o.order_key for o in page.orders) for page in pages} == {tuple(o.order_key for o in pages[0].orders)}


def test_one_upstream_call_per_page_when_many_requests_list_a_cold_wallet(at_once):
    wallet, _ = new_wallet(active=30)
    control.set_latency(300)
    listings = at_once(8, lambda: tracking.list_orders(wallet, "active"))
    assert list_calls() == 3
    assert {len(listing.orders) for listing in listings} == {30}
    assert not any(listing.stale for listing in listings)


# --- invalidation after the wallet cancels --------------------------------------------------------


def test_forget_drops_the_order_from_cached_pages_without_calling_upstream():
    wallet, _ = new_wallet(active=25, history=3)
    active = tracking.list_orders(wallet, "active")
    history = tracking.list_orders(wallet, "history")
    cancelled = active.orders[12].order_key  # on page 2
    before = list_calls()

    tracking.forget(wallet, cancelled)
    after = tracking.list_orders(wallet, "active")
    assert list_calls() == before  # the cached pages serve, less the closed order: not refetched
    assert keys(after) == [k for k in keys(active) if k != cancelled]
    assert TrackedOrder.objects.get(wallet=wallet, order_key=cancelled).status == "closed"

    again = tracking.list_orders(wallet, "history")
    assert list_calls() == before + 1  # history now includes the cancel: fetched again
    assert len(again.orders) == len(history.orders)


def test_forget_without_cached_active_pages_refetches_them():
    wallet, seeded = new_wallet(active=5)
    tracking.list_orders(wallet, "active")
    cache.clear()  # e.g. the pages expired before the cancel went through
    tracking.forget(wallet, seeded[0])
    tracking.list_orders(wallet, "active")
    assert list_calls() == 2


def test_cancel_over_http_uses_the_cache_and_forgets_the_order(client):
    """Sign-in aside, a visit, a cancel and a second visit, counting every upstream call."""
    keypair = Keypair()
    wallet = str(keypair.pubkey())
    keys_ = control.seed_wallet(wallet, active=25, history=0)
    client.force_login(get_user_model().objects.create_user(username=wallet))
    htmx = {"HTTP_HX_REQUEST": "true"}
    assert client.get("/orders/active", **htmx).status_code == 200
    assert list_calls() == 3
    started = client.post(f"/orders/{keys_[0]}/cancel/start").json()
    unsigned = VersionedTransaction.from_bytes(base64.b64decode(started["transaction"]))
    signed = VersionedTransaction.populate(
        unsigned.message, [keypair.sign_message(to_bytes_versioned(unsigned.message))]
    )
    answer = client.post(started["submit_url"], {"signed_transaction": base64.b64encode(bytes(signed)).decode()})
    assert answer.json()["state"] == "succeeded"
    after = client.get("/orders/active", **htmx)
    assert keys_[0] not in {o.order_key for o in after.context_data["orders"]}
    assert len(after.context_data["orders"]) == 24
    assert list_calls() == 3  # the second view came from the cache, less the cancelled order


def test_invalidate_forces_both_lists_to_be_fetched_again():
    wallet, _ = new_wallet(active=15, history=12)
    tracking.list_orders(wallet, "active")
    tracking.list_orders(wallet, "history")
    assert list_calls() == 4
    tracking.invalidate(wallet)
    tracking.list_orders(wallet, "active")
    tracking.list_orders(wallet, "history")
    assert list_calls() == 8


def test_invalidate_touches_only_that_wallet():
    wallet, _ = new_wallet(active=3)
    other, _ = new_wallet(active=3)
    tracking.list_orders(wallet, "active")
    tracking.list_orders(other, "active")
    tracking.invalidate(wallet)
    tracking.list_orders(other, "active")
    assert list_calls() == 2
    tracking.list_orders(wallet, "active")
    assert list_calls() == 3


# --- token metadata ------------------------------------------------------------------------------


def test_token_metadata_is_cached():
    wallet, _ = new_wallet(active=8)
    orders = tracking.list_orders(wallet, "active").orders
    mints = {m for o in orders for m in (o.input_mint, o.output_mint)}
    first = tokens.get_tokens(mints)
    assert control.count_calls("tokens") == 1
    second = tokens.get_tokens(mints)
    assert control.count_calls("tokens") == 1
    assert second == first
    assert {t.symbol for t in first.values()} >= {"USDC"}


def test_a_visit_after_the_first_asks_no_token_metadata(client):
    wallet, _ = new_wallet(active=8)
    client.force_login(get_user_model().objects.create_user(username=wallet))
    client.get("/orders/active", HTTP_HX_REQUEST="true")
    assert control.count_calls("tokens") == 1
    tracking.invalidate(wallet)
    client.get("/orders/active", HTTP_HX_REQUEST="true")
    assert control.count_calls("tokens") == 1
    assert list_calls() == 2


# --- last-known fallback -------------------------------------------------------------------------


def test_when_jupiter_fails_the_last_known_orders_are_shown():
    wallet, _ = new_wallet(active=12)
    live = tracking.list_orders(wallet, "active")
    tracking.invalidate(wallet)
    control.inject_fault("getRecurringOrders", "500", times=20)

    fallback = tracking.list_orders(wallet, "active")
    assert fallback.stale
    assert fallback.problem
    assert sorted(keys(fallback)) == sorted(keys(live))
    assert fallback.as_of is not None


def test_when_jupiter_rate_limits_the_last_known_orders_are_shown():
    wallet, _ = new_wallet(active=4)
    live = tracking.list_orders(wallet, "active")
    tracking.invalidate(wallet)
    control.set_rate_limit("0.001")  # one request a minute: the next ones are refused
    recurring.get_orders(wallet, "active", 1)  # spends the single slot
    fallback = tracking.list_orders(wallet, "active")
    assert fallback.stale
    assert sorted(keys(fallback)) == sorted(keys(live))


def test_with_nothing_known_the_failure_is_reported_not_hidden():
    wallet, _ = new_wallet(active=4)
    control.inject_fault("getRecurringOrders", "500", times=20)
    listing = tracking.list_orders(wallet, "active")
    assert listing.stale
    assert listing.orders == []
    assert listing.as_of is None


def test_the_fallback_is_not_cached_and_live_data_returns():
    wallet, _ = new_wallet(active=4)
    tracking.list_orders(wallet, "active")
    tracking.invalidate(wallet)
    control.inject_fault("getRecurringOrders", "502", times=3)  # one call's worth with its retries
    assert tracking.list_orders(wallet, "active").stale
    live = tracking.list_orders(wallet, "active")
    assert not live.stale
    assert len(live.orders) == 4
