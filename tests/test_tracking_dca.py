"""dashboard/tracking.py with Jupiter's newer DCA orders, and the remembered page count; against
the sandbox over real HTTP. Concurrency is shown by rendezvous (work that can only finish when
the other part is in flight at the same time), never by timing."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from solders.keypair import Keypair

from dashboard import dca_orders, recurring, tracking, trigger
from dashboard.models import TrackedOrder
from dashboard.sandbox import control

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]


def connected_wallet() -> tuple[str, str]:
    keypair = Keypair()
    wallet = str(keypair.pubkey())
    challenge = trigger.request_challenge(wallet)
    token = trigger.verify(wallet, signature=str(keypair.sign_message(challenge.message.encode())))
    return wallet, token.value


def test_v1_pages_and_the_v2_list_are_fetched_at_the_same_time(monkeypatch):
    wallet, token = connected_wallet()
    control.seed_wallet(wallet, active=3, history=0)
    v1_started, v2_started = threading.Event(), threading.Event()
    real_v1, real_v2 = tracking.list_orders, tracking.list_dca

    def v1(*args):
        v1_started.set()
        assert v2_started.wait(10), "the v2 list was not asked for while the v1 pages were"
        return real_v1(*args)

    def v2(*args):
        v2_started.set()
        assert v1_started.wait(10), "the v1 pages were not asked for while the v2 list was"
        return real_v2(*args)

    monkeypatch.setattr(tracking, "list_orders", v1)
    monkeypatch.setattr(tracking, "list_dca", v2)
    board = tracking.list_board(wallet, "active", token)
    assert len(board.v1.orders) == 3 and len(board.v2.orders) == 8
    assert board.live and not board.v2.needs_connect
    assert [o.created_at for o in board.orders] == sorted((o.created_at for o in board.orders), reverse=True)


def test_the_v2_list_is_cached_and_single_flight(at_once):
    wallet, token = connected_wallet()
    listings = at_once(4, lambda: tracking.list_dca(wallet, "active", token))
    assert {len(listing.orders) for listing in listings} == {8}
    assert control.count_calls("dca-list") == 1
    tracking.list_dca(wallet, "active", token)
    assert control.count_calls("dca-list") == 1
    tracking.list_dca(wallet, "history", token)  # the other list: its own fetch
    assert control.count_calls("dca-list") == 2
    tracking.expire_dca(wallet, "active")
    tracking.list_dca(wallet, "active", token)
    assert control.count_calls("dca-list") == 3


def test_v2_orders_are_recorded_and_served_as_last_known():
    wallet, token = connected_wallet()
    live = tracking.list_dca(wallet, "active", token)
    assert TrackedOrder.objects.filter(wallet=wallet, system="v2", status="active").count() == 8
    control.inject_fault("dca-list", "502", times=10)
    tracking.expire_dca(wallet, "active")
    shown = tracking.list_dca(wallet, "active", token)
    assert shown.stale and "not answering" in shown.problem
    assert {o.id for o in shown.orders} == {o.id for o in live.orders}
    assert all(isinstance(o, dca_orders.DcaOrder) for o in shown.orders)
    # v1's last-known list never includes v2 orders, and the reverse.
    control.inject_fault("getRecurringOrders", "502", times=10)
    assert tracking.list_orders(wallet, "active").orders == []


def test_without_a_token_v2_is_last_known_and_no_call_is_made():
    wallet, token = connected_wallet()
    tracking.list_dca(wallet, "active", token)
    calls = control.count_calls("dca-list")
    shown = tracking.list_dca(wallet, "active", None)
    assert shown.needs_connect and not shown.stale
    assert len(shown.orders) == 8
    assert control.count_calls("dca-list") == calls


def test_an_order_that_left_the_active_list_is_retired():
    wallet, token = connected_wallet()
    first = tracking.list_dca(wallet, "active", token)
    gone = first.orders[0].id
    control.set_dca_state(gone, "completed")
    tracking.expire_dca(wallet, "active")
    tracking.list_dca(wallet, "active", token)
    assert TrackedOrder.objects.get(wallet=wallet, order_key=gone).status == "closed"


def test_a_refused_token_asks_for_a_new_one_and_keeps_the_list():
    wallet, token = connected_wallet()
    tracking.list_dca(wallet, "active", token)
    control.expire_dca_tokens()
    tracking.expire_dca(wallet, "active")
    shown = tracking.list_dca(wallet, "active", token)
    assert shown.needs_connect and len(shown.orders) == 8


# --- the remembered page count --------------------------------------------------------------------


def test_a_repeat_visit_asks_for_every_remembered_page_at_once(monkeypatch):
    wallet = str(Keypair().pubkey())
    control.seed_wallet(wallet, active=35)
    tracking.list_orders(wallet, "active")
    assert cache.get(f"pages-seen:{wallet}:active") == 4
    tracking.expire(wallet, "active")  # the pages expire, the count stays
    in_flight = threading.Barrier(4, timeout=10)
    real = recurring.get_orders

    def get_orders(w, status, page=1):
        in_flight.wait()  # passes only when all four pages are asked for at the same time
        return real(w, status, page)

    monkeypatch.setattr(recurring, "get_orders", get_orders)
    again = tracking.list_orders(wallet, "active")
    assert len(again.orders) == 35 and not again.stale
    assert control.count_calls("getRecurringOrders") == 8


def fake_pages(total: int, asked: list[int], gate: threading.Barrier | None = None):
    def get_page(number: int) -> recurring.OrdersPage:
        asked.append(number)
        if gate is not None:
            gate.wait()
        return recurring.OrdersPage(orders=(), page=number, total_pages=total)

    return get_page


def test_fetch_pages_with_a_remembered_count_that_shrank_or_grew():
    asked: list[int] = []
    pages = recurring.fetch_pages(fake_pages(2, asked), expected=4)
    assert [p.page for p in pages] == [1, 2]  # pages beyond the new count are dropped
    assert sorted(asked) == [1, 2, 3, 4]
    asked.clear()
    pages = recurring.fetch_pages(fake_pages(6, asked, threading.Barrier(3, timeout=10)), expected=3)
    assert [p.page for p in pages] == [1, 2, 3, 4, 5, 6]  # the first three at once, then the rest
    assert sorted(asked) == [1, 2, 3, 4, 5, 6]


def test_a_list_that_shrank_updates_the_remembered_count():
    wallet = str(Keypair().pubkey())
    control.seed_wallet(wallet, active=25)
    tracking.list_orders(wallet, "active")
    control.seed_wallet(wallet, active=5)
    tracking.expire(wallet, "active")
    assert len(tracking.list_orders(wallet, "active").orders) == 5
    assert cache.get(f"pages-seen:{wallet}:active") == 1


def test_v1_switched_off_is_not_a_failure():
    wallet = str(Keypair().pubkey())
    control.seed_wallet(wallet, active=2)
    control.switch_off_v1(410)
    listing = tracking.list_orders(wallet, "active")
    assert listing.retired and not listing.stale and listing.orders == []
