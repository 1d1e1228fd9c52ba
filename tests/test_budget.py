"""dashboard/budget.py: the shared call budget and circuit breaker in front of Jupiter.

Behaviour is checked by counting the calls the sandbox upstream answered (its call log),
never by timing. The window is a minute and the budget small, so a test never lives long
enough for a slot to free up on its own. Every test runs against the in-process state and,
when REDIS_URL is set, against Redis (shared by every worker and instance).
"""

from __future__ import annotations

import json
import os
import time

import pytest
import redis
import requests
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client
from solders.keypair import Keypair

from dashboard import budget, recurring, tokens, tracking, upstream
from dashboard.sandbox import control
from tests.wallet import b64, sign_transaction

REDIS_URL = os.environ.get("REDIS_URL", "")
WINDOW = 60.0
CAPACITY = 10  # calls a window: 7 for lists (70 %), the rest for cancelling
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(params=["local", "redis"])
def guards(request, settings):
    """Budget and breaker switched on (they are off against the sandbox by default), clean."""
    if request.param == "redis":
        if not REDIS_URL:
            reason = "Needs Redis: set REDIS_URL=redis://… to run the shared variant."
            if os.environ.get("CI") == "true" and os.environ.get("DATABASE_URL", "").startswith("postgres"):
                pytest.fail(reason)  # the PostgreSQL + Redis CI pass must run it
            pytest.skip(reason)
        settings.REDIS_URL = REDIS_URL
    else:
        settings.REDIS_URL = ""
    settings.JUPITER_RATE_LIMIT_ENABLED = True
    settings.JUPITER_RATE_LIMIT_RPS = CAPACITY / WINDOW
    settings.JUPITER_RATE_WINDOW_SECONDS = WINDOW
    settings.JUPITER_RATE_LIST_SHARE = 0.7
    settings.JUPITER_RATE_MAX_WAIT = 2.0
    settings.JUPITER_BREAKER_ENABLED = True
    settings.JUPITER_BREAKER_FAILURES = 3
    settings.JUPITER_BREAKER_COOLDOWN = 600.0
    budget.reset()
    yield request.param
    budget.reset()


def listed(wallet: str) -> int:
    return control.count_calls("getRecurringOrders", user=wallet)


def try_list(wallet: str) -> type[upstream.JupiterError] | None:
    try:
        recurring.get_orders(wallet, "active")
    except upstream.JupiterError as exc:
        return type(exc)
    return None


def test_off_by_default_against_the_sandbox():
    if os.environ.get("JUPITER_RATE_LIMIT_RPS") or os.environ.get("JUPITER_BREAKER_FAILURES"):
        pytest.skip("The guards were switched on explicitly in this environment.")
    assert django_settings.SANDBOX
    assert not django_settings.JUPITER_RATE_LIMIT_ENABLED
    assert not django_settings.JUPITER_BREAKER_ENABLED


def test_capacities_follow_settings(settings):
    settings.JUPITER_RATE_LIMIT_RPS = 0.5
    settings.JUPITER_RATE_WINDOW_SECONDS = 60.0
    settings.JUPITER_RATE_LIST_SHARE = 0.7
    assert budget.capacities() == (30, 21)
    settings.JUPITER_RATE_LIMIT_RPS = 1.0
    assert budget.capacities() == (60, 42)
    settings.JUPITER_RATE_LIMIT_RPS = 0.001
    assert budget.capacities() == (1, 1)


# --- the call budget ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_list_calls_stop_at_their_share(guards, sandbox_upstream, wallet):
    outcomes = [try_list(wallet) for _ in range(CAPACITY + 2)]
    assert outcomes.count(None) == 7
    assert outcomes[7:] == [upstream.JupiterRateLimited] * 5
    assert listed(wallet) == 7  # held-back calls never reached Jupiter


@pytest.mark.django_db(transaction=True)
def test_cancel_borrows_the_reserve_and_execute_is_never_held(guards, sandbox_upstream, wallet):
    keys = control.seed_wallet(wallet, active=5, history=0)
    for _ in range(7):
        recurring.get_orders(wallet, "active")
    issued = []
    for key in keys[:4]:
        try:
            issued.append(recurring.cancel_order(wallet, key))
        except upstream.JupiterRateLimited:
            issued.append(None)
    assert [c is not None for c in issued] == [True, True, True, False]
    assert control.count_calls("cancelOrder", user=wallet) == 3
    assert try_list(wallet) is upstream.JupiterRateLimited
    # The budget is spent, yet a signed transaction still goes out (here one the sandbox refuses).
    with pytest.raises(upstream.JupiterRejected):
        recurring.execute(issued[0].request_id, b"not a transaction")
    assert control.count_calls("execute") == 1


@pytest.mark.django_db(transaction=True)
def test_dashboard_shows_last_known_orders_when_the_budget_is_spent(guards, sandbox_upstream, wallet):
    live = tracking.list_orders(wallet, "active")
    assert not live.stale and live.orders
    while try_list(wallet) is None:
        pass
    tracking.invalidate(wallet)  # no fresh page in the cache either
    before = listed(wallet)
    shown = tracking.list_orders(wallet, "active")
    assert shown.stale
    assert "too many requests" in shown.problem
    assert [o.order_key for o in shown.orders] == [o.order_key for o in live.orders]
    assert listed(wallet) == before


# --- fair shares of the list budget ---------------------------------------------------------------


def viewer(wallet: str, address: str) -> Client:
    """A signed-in browser of `wallet` at client address `address`."""
    client = Client(REMOTE_ADDR=address)
    client.force_login(get_user_model().objects.get_or_create(username=wallet)[0])
    return client


def list_calls() -> int:
    return control.count_calls("getRecurringOrders") + control.count_calls("tokens")


def test_share_capacity_follows_settings(settings):
    settings.JUPITER_RATE_LIMIT_RPS = 0.5
    settings.JUPITER_RATE_WINDOW_SECONDS = 60.0
    settings.JUPITER_RATE_LIST_SHARE = 0.7
    settings.JUPITER_RATE_FAIR_SHARE = 0.5
    assert budget.share_capacity() == 10  # of 21 list calls a minute
    settings.JUPITER_RATE_FAIR_SHARE = 0.01
    assert budget.share_capacity() == 1


@pytest.mark.django_db(transaction=True)
def test_throwaway_wallets_from_one_client_leave_the_list_budget_to_others(guards, sandbox_upstream, settings):
    settings.JUPITER_RATE_FAIR_SHARE = 0.5
    assert budget.share_capacity() == 3  # of the 7 list calls a window
    for _ in range(8):  # fresh wallets, one client address
        viewer(str(Keypair().pubkey()), "10.66.0.1").get("/orders/active", **HTMX)
    assert list_calls() == 3  # that client's share, and no more
    held = viewer(str(Keypair().pubkey()), "10.66.0.1").get("/orders/active", **HTMX)
    assert "loaded very often in the last minute" in held.text
    newcomer = viewer(str(Keypair().pubkey()), "10.77.0.1").get("/orders/active", **HTMX)
    assert "Up to date" in newcomer.text
    assert newcomer.text.count("data-order=") >= 1


@pytest.mark.django_db(transaction=True)
def test_one_wallet_viewed_from_many_clients_leaves_the_list_budget_to_others(guards, sandbox_upstream, settings):
    settings.JUPITER_RATE_FAIR_SHARE = 0.5
    busy = str(Keypair().pubkey())
    for n in range(8):
        tracking.invalidate(busy)  # nothing cached: every view asks Jupiter
        viewer(busy, f"10.88.0.{n}").get("/orders/active", **HTMX)
    assert list_calls() == 3
    newcomer = viewer(str(Keypair().pubkey()), "10.99.0.1").get("/orders/active", **HTMX)
    assert "Up to date" in newcomer.text


def connect_calls() -> int:
    return control.count_calls("dca-challenge") + control.count_calls("dca-verify")


def hammer_connect(client: Client, keypair: Keypair) -> None:
    """One throwaway wallet asks for Jupiter's challenge and verifies it, as connect.js does."""
    asked = client.post("/orders/dca/challenge", json.dumps({"type": "message"}), content_type="application/json")
    if asked.status_code != 200:
        return
    text = asked.json()["challenge"].encode()
    body = {"type": "message", "signedMessage": b64(text), "signature": b64(bytes(keypair.sign_message(text)))}
    client.post("/orders/dca/verify", json.dumps(body), content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_throwaway_wallets_connecting_leave_a_victims_cancel_working(guards, sandbox_upstream, settings):
    """The connect-drain attack: signing in with a throwaway key is free, and each connect costs
    Jupiter calls. They are charged to the list budget and the fair shares, never to the reserve."""
    settings.JUPITER_RATE_FAIR_SHARE = 0.5  # 3 of the 7 list calls a window per wallet or client
    victim = Keypair()
    keys = control.seed_wallet(str(victim.pubkey()), active=2, history=0)
    trader = viewer(str(victim.pubkey()), "10.55.0.1")
    assert "Up to date" in trader.get("/orders/active", **HTMX).text
    before = list_calls()
    for n in range(12):  # fresh wallets from two client addresses, each connecting
        throwaway = Keypair()
        hammer_connect(viewer(str(throwaway.pubkey()), f"10.66.0.{n % 2}"), throwaway)
    assert before == 2 and connect_calls() == 7 - before  # the rest of the list budget, no more
    assert control.count_calls("dca-challenge") <= 2 * 3  # at most each client's share
    started = trader.post(f"/orders/{keys[0]}/cancel/start")
    assert started.status_code == 200, started.json()
    answer = trader.post(
        started.json()["submit_url"], {"signed_transaction": sign_transaction(started.json()["transaction"], victim)}
    )
    assert answer.json()["state"] == "succeeded"


def test_shares_are_per_requester_and_never_hold_cancels(guards):
    shared = budget.budget()
    for _ in range(3):
        assert shared.try_take(budget.Ask(WINDOW, CAPACITY, 7, True, False, ("wallet:a", "client:x"), 3)) == (0, False)
    wait, share = shared.try_take(budget.Ask(WINDOW, CAPACITY, 7, True, False, ("wallet:b", "client:x"), 3))
    assert wait > 0 and share
    assert shared.try_take(budget.Ask(WINDOW, CAPACITY, 7, True, False, ("wallet:b", "client:y"), 3)) == (0, False)
    cancel = budget.Ask(WINDOW, CAPACITY, 7, False, False, ("wallet:a", "client:x"), 3)
    assert shared.try_take(cancel) == (0, False)
    for newcomer in ("c", "d", "e"):  # 4 of the 7 list calls used: room for newcomers
        assert shared.try_take(budget.Ask(WINDOW, CAPACITY, 7, True, False, (f"wallet:{newcomer}",), 3)) == (0, False)
    wait, share = shared.try_take(budget.Ask(WINDOW, CAPACITY, 7, True, False, ("wallet:f", "client:u"), 3))
    assert wait > 0 and not share  # the list budget itself is spent


def test_concurrent_takers_never_exceed_the_budget(guards, settings, at_once):
    capacity, list_capacity = budget.capacities()

    def take() -> bool:
        return budget.budget().try_take(budget.Ask(WINDOW, capacity, list_capacity, False, False))[0] == 0

    taken = at_once(25, take)
    assert taken.count(True) == capacity
    assert len(taken) == 25


def test_held_back_call_reports_when_a_slot_frees(guards):
    shared = budget.budget()
    assert shared.try_take(budget.Ask(WINDOW, 1, 1, True, False))[0] == 0
    wait = shared.try_take(budget.Ask(WINDOW, 1, 1, True, False))[0]
    assert 0 < wait <= WINDOW


@pytest.mark.parametrize("guards", ["redis"], indirect=True)  # only Redis is shared between processes
def test_redis_budget_is_shared_between_instances(guards, settings):
    other = budget.RedisBudget(redis.Redis.from_url(REDIS_URL))  # as another instance would hold it
    for _ in range(7):
        assert other.try_take(budget.Ask(WINDOW, CAPACITY, 7, True, False))[0] == 0
    assert budget.budget().try_take(budget.Ask(WINDOW, CAPACITY, 7, True, False))[0] > 0
    assert budget.budget().try_take(budget.Ask(WINDOW, CAPACITY, 7, False, False))[0] == 0


def test_redis_outage_lets_calls_through(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.JUPITER_RATE_LIMIT_ENABLED = True
    settings.JUPITER_BREAKER_ENABLED = True
    budget.before_call("getRecurringOrders")
    budget.after_call("getRecurringOrders", False)
    assert "unavailable" in caplog.text


# --- the circuit breaker ------------------------------------------------------------------------


def open_breaker(wallet: str) -> None:
    """Three failed list calls in a row (each retried twice by the client on 5xx)."""
    control.inject_fault("getRecurringOrders", "500", times=9)
    for _ in range(3):
        assert try_list(wallet) is upstream.JupiterUnavailable


@pytest.mark.django_db(transaction=True)
def test_breaker_opens_after_consecutive_failures(guards, sandbox_upstream, wallet, settings):
    settings.JUPITER_RATE_LIMIT_ENABLED = False  # the budget is not under test here
    control.inject_fault("getRecurringOrders", "500", times=6)
    for _ in range(2):
        assert try_list(wallet) is upstream.JupiterUnavailable
    assert try_list(wallet) is None  # a success in between: the count starts again
    open_breaker(wallet)
    assert listed(wallet) == 6 + 1 + 9
    assert budget.breaker().is_open()
    assert try_list(wallet) is upstream.JupiterUnavailable  # fails fast
    assert tokens.get_tokens(["So11111111111111111111111111111111111111112"])  # built-in table
    assert listed(wallet) == 16
    assert control.count_calls("tokens") == 0


@pytest.mark.django_db(transaction=True)
def test_open_breaker_serves_last_known_and_never_blocks_cancel(guards, sandbox_upstream, wallet, settings):
    settings.JUPITER_RATE_LIMIT_ENABLED = False
    live = tracking.list_orders(wallet, "active")
    open_breaker(wallet)
    tracking.invalidate(wallet)
    shown = tracking.list_orders(wallet, "active")
    assert shown.stale and "not answering" in shown.problem
    assert [o.order_key for o in shown.orders] == [o.order_key for o in live.orders]
    issued = recurring.cancel_order(wallet, live.orders[0].order_key)
    with pytest.raises(upstream.JupiterRejected):
        recurring.execute(issued.request_id, b"not a transaction")
    assert control.count_calls("cancelOrder", user=wallet) == 1
    assert control.count_calls("execute") == 1


def wait_until_closed() -> None:
    deadline = time.monotonic() + 10
    while budget.breaker().is_open():
        assert time.monotonic() < deadline, "the breaker never closed"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_after_the_cool_down_one_failure_reopens(guards, sandbox_upstream, wallet, settings):
    settings.JUPITER_RATE_LIMIT_ENABLED = False
    settings.JUPITER_BREAKER_COOLDOWN = 0.3
    open_breaker(wallet)
    wait_until_closed()
    control.inject_fault("getRecurringOrders", "500", times=3)
    assert try_list(wallet) is upstream.JupiterUnavailable
    assert budget.breaker().is_open()
    before = listed(wallet)
    assert try_list(wallet) is upstream.JupiterUnavailable
    assert listed(wallet) == before


@pytest.mark.django_db(transaction=True)
def test_after_the_cool_down_one_success_closes(guards, sandbox_upstream, wallet, settings):
    settings.JUPITER_RATE_LIMIT_ENABLED = False
    settings.JUPITER_BREAKER_COOLDOWN = 0.3
    open_breaker(wallet)
    wait_until_closed()
    assert try_list(wallet) is None
    control.inject_fault("getRecurringOrders", "500", times=6)
    for _ in range(2):
        assert try_list(wallet) is upstream.JupiterUnavailable
    assert not budget.breaker().is_open()


# --- Jupiter's own numbers (x-ratelimit-* headers) ------------------------------------------------

SOL = "So11111111111111111111111111111111111111112"


def try_cancel(wallet: str, key: str) -> recurring.CancelTransaction | None:
    try:
        return recurring.cancel_order(wallet, key)
    except upstream.JupiterRateLimited:
        return None


@pytest.mark.django_db(transaction=True)
def test_calls_slow_to_what_jupiter_says_is_left(guards, sandbox_upstream, wallet):
    control.set_rate_limit("0.1")  # Jupiter allows this organisation 6 calls a minute, fewer than our 10
    keys = control.seed_wallet(wallet, active=3, history=0)
    outcomes = [try_list(wallet) for _ in range(6)]
    # Lists take Jupiter's list share of its own 6 (4), leaving 2 for cancels — not our configured 7.
    assert outcomes == [None] * 4 + [upstream.JupiterRateLimited] * 2
    assert listed(wallet) == 4
    issued = [try_cancel(wallet, key) for key in keys]
    assert [c is not None for c in issued] == [True, True, False]  # cancels use what is left, to 0
    assert control.count_calls("cancelOrder", user=wallet) == 2
    # Jupiter said 0 left until its reset (a minute away): nothing more goes out before it.
    assert try_list(wallet) is upstream.JupiterRateLimited
    assert listed(wallet) == 4
    assert control.count_calls(status=429) == 0  # Jupiter never had to refuse a call
    # A signed transaction is still never held back (here one the sandbox refuses).
    with pytest.raises(upstream.JupiterRejected):
        recurring.execute(issued[0].request_id, b"not a transaction")
    assert control.count_calls("execute") == 1


@pytest.mark.django_db(transaction=True)
def test_after_a_429_nothing_goes_out_before_jupiters_reset(guards, sandbox_upstream, wallet):
    control.set_rate_limit("0.05")  # 3 calls a minute
    for _ in range(3):  # another application of the same organisation spends them
        requests.get(f"{sandbox_upstream.url}/sandbox/tokens/v2/search", params={"query": SOL}, timeout=10)
    assert try_list(wallet) is upstream.JupiterRateLimited
    assert control.count_calls("getRecurringOrders", status=429) == 1
    key = control.seed_wallet(wallet, active=1, history=0)[0]
    assert [try_list(wallet) for _ in range(3)] == [upstream.JupiterRateLimited] * 3
    assert try_cancel(wallet, key) is None
    assert listed(wallet) == 1  # only the call Jupiter refused: the others were held back here
    assert control.count_calls("cancelOrder") == 0


@pytest.mark.django_db(transaction=True)
def test_the_configured_rate_stays_the_ceiling(guards, sandbox_upstream, wallet):
    control.set_rate_limit(100)  # Jupiter would allow 6,000 a minute
    outcomes = [try_list(wallet) for _ in range(9)]
    assert outcomes.count(None) == 7  # our own list share of 10, as without Jupiter's numbers
    assert listed(wallet) == 7


def test_jupiters_numbers_are_shared_and_the_latest_wins(guards):
    now = time.time()
    budget.observe(0, now + 30, 10)  # as another worker or instance saw it (the shared cache)
    assert budget.take_told(is_list=True, force=False)[0] > 0
    assert budget.take_told(is_list=False, force=False)[0] > 0  # no room for a cancel either
    assert budget.take_told(is_list=False, force=True)[0] == 0  # a signed transaction goes
    budget.observe(5, now + 30, 5)  # a newer answer: 5 left of 10, 3 of them kept for cancels
    assert [budget.take_told(True, False)[0] == 0 for _ in range(3)] == [True, True, False]
    assert [budget.take_told(False, False)[0] == 0 for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize("reset_in", [-1.0, 0.0, 3600.0])
def test_a_reset_past_or_implausibly_far_is_not_believed(guards, reset_in):
    budget.observe(0, time.time() + reset_in, 10)
    assert budget.take_told(is_list=True, force=False) == (0.0, "")
