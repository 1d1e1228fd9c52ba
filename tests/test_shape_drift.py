"""Shape drift: an answer of Jupiter's without a key we rely on is an error, never an empty list.

Against the sandbox over real HTTP, in its "drift" mode (`control.set_drift`): each drifted shape
leaves the tracked orders active, shows the last-known orders with the usual banner, and names
the missing key in the log. Before this was so, the early live v1 shape read as "no orders" and
retired every tracked order.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from solders.keypair import Keypair

from dashboard import tokens, tracking, trigger, upstream
from dashboard.models import TrackedOrder
from dashboard.sandbox import control
from dashboard.sandbox import trigger_views as sandbox_trigger_views

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

BONK = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"
WIF = "EKpQGSJtjMFqKZ9KQanSqYXRcF8fBopzLHYxdM65zcjm"


@pytest.fixture(autouse=True)
def logged(caplog):
    caplog.set_level(logging.INFO, logger="dashboard")
    return caplog


def active_keys(wallet: str, system: str) -> set[str]:
    return set(
        TrackedOrder.objects.filter(wallet=wallet, system=system, status="active").values_list("order_key", flat=True)
    )


def connected_wallet() -> tuple[str, str]:
    keypair = Keypair()
    wallet = str(keypair.pubkey())
    challenge = trigger.request_challenge(wallet)
    token = trigger.verify(wallet, signature=str(keypair.sign_message(challenge.message.encode())))
    return wallet, token.value


def test_the_early_live_v1_shape_keeps_the_orders_and_shows_last_known(logged):
    wallet = str(Keypair().pubkey())
    seeded = control.seed_wallet(wallet, active=12, history=0)
    live = tracking.list_orders(wallet, "active")
    assert {o.order_key for o in live.orders} == set(seeded) == active_keys(wallet, "v1")

    control.set_drift("v1_list")
    tracking.invalidate(wallet)
    shown = tracking.list_orders(wallet, "active")
    assert shown.stale
    assert {o.order_key for o in shown.orders} == set(seeded)
    assert active_keys(wallet, "v1") == set(seeded)  # nothing retired
    assert "getRecurringOrders answer has an unexpected shape: time is missing" in logged.text


def test_the_page_shows_last_known_orders_with_the_banner_on_v1_drift():
    wallet = str(Keypair().pubkey())
    seeded = control.seed_wallet(wallet, active=3, history=0)
    client = Client()
    client.force_login(get_user_model().objects.get_or_create(username=wallet)[0])
    assert client.get("/orders/active", HTTP_HX_REQUEST="true").status_code == 200

    control.set_drift("v1_list")
    tracking.invalidate(wallet)
    page = client.get("/orders/active", HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert 'class="status stale"' in page.text
    assert all(f'data-order="{key}"' in page.text for key in seeded)
    assert active_keys(wallet, "v1") == set(seeded)


@pytest.mark.parametrize(("drift", "missing"), [("v2_list", "orders"), ("v2_order", "orders[].id")])
def test_a_drifted_v2_list_keeps_the_orders_and_shows_last_known(drift, missing, logged):
    wallet, token = connected_wallet()
    live = tracking.list_dca(wallet, "active", token)
    tracked = active_keys(wallet, "v2")
    assert len(tracked) == 8 and {o.id for o in live.orders} == tracked

    control.set_drift(drift)
    tracking.expire_dca(wallet, "active")
    shown = tracking.list_dca(wallet, "active", token)
    assert shown.stale and not shown.needs_connect
    assert {o.id for o in shown.orders} == tracked
    assert active_keys(wallet, "v2") == tracked
    assert f"dca-list answer has an unexpected shape: {missing} is missing" in logged.text


def test_one_v2_order_with_a_renamed_key_retires_nothing(monkeypatch):
    wallet, token = connected_wallet()
    tracking.list_dca(wallet, "active", token)
    tracked = active_keys(wallet, "v2")
    real = sandbox_trigger_views.drifted
    odd: list[str] = []

    def one_odd(order: dict, drift: str) -> dict:  # the sandbox sends one order without its createdAt
        if not odd:
            odd.append(order["id"])
            return {k: v for k, v in order.items() if k != "createdAt"}
        return real(order, drift)

    monkeypatch.setattr(sandbox_trigger_views, "drifted", one_odd)
    tracking.expire_dca(wallet, "active")
    shown = tracking.list_dca(wallet, "active", token)
    assert shown.unreadable == 1 and len(shown.orders) == 7
    assert odd[0] not in {o.id for o in shown.orders}
    assert active_keys(wallet, "v2") == tracked  # the unreadable one is not taken for gone


def test_one_v2_order_of_a_drifted_shape_is_an_error():
    wallet, token = connected_wallet()
    order_id = tracking.list_dca(wallet, "active", token).orders[0].id
    control.set_drift("v2_order")
    with pytest.raises(upstream.UnexpectedShape) as raised:
        trigger.get_order(token, order_id)
    assert raised.value.missing == "id"


def test_a_drifted_tokens_answer_keeps_the_last_known_metadata(logged):
    first = tokens.get_tokens([BONK, WIF])
    assert (first[BONK].symbol, first[WIF].symbol) == ("Bonk", "$WIF")  # the sandbox's, not the built-in table's
    assert first[BONK].usd_price is not None
    cache.delete_many([f"token-price:{BONK}", f"token-price:{WIF}"])  # a minute later: prices are asked again

    control.set_drift("tokens")
    with pytest.raises(upstream.UnexpectedShape):
        tokens.fetch_tokens([BONK])
    shown = tokens.get_tokens([BONK, WIF])
    assert (shown[BONK].symbol, shown[WIF].symbol) == ("Bonk", "$WIF")  # last seen, kept
    assert shown[BONK].usd_price is None  # "price unknown", never a guess
    assert "tokens answer has an unexpected shape: [].id is missing" in logged.text


def test_the_drift_knob_is_checked_and_reset():
    with pytest.raises(ValueError, match="unknown drift"):
        control.set_drift("sideways")
    control.set_drift("tokens")
    assert control.drift() == "tokens"
    control.reset()
    assert control.drift() == ""
