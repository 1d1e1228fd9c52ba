"""The orders dashboard views, against the sandbox upstream over real HTTP."""

from __future__ import annotations

import csv
import io
import math
import secrets
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from solders.keypair import Keypair

from dashboard.models import TrackedOrder
from dashboard.sandbox import control
from dashboard.templatetags.display import amount

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

HTMX = {"HTTP_HX_REQUEST": "true"}


def list_calls() -> int:
    return control.count_calls("getRecurringOrders")


def test_anonymous_visitors_are_sent_home(client):
    assert client.get("/orders/").url == "/"
    response = client.get("/orders/active", **HTMX)
    assert response.headers["HX-Redirect"] == "/"


def test_the_page_shell_costs_no_upstream_call(trader):
    response = trader.get("/orders/")
    assert response.status_code == 200
    assert response.template_name == "orders/page.html"
    assert 'hx-get="/orders/active"' in response.text
    assert "only v1 orders" not in response.text.lower() and "newer DCA system" not in response.text  # issue 12
    assert "js/connect.js" in response.text
    assert list_calls() == 0
    assert "no-store" in response.headers["Cache-Control"]


def test_active_orders_fragment_shows_each_order_and_skips_history(trader, wallet):
    keys = control.seed_wallet(wallet, active=4, history=3)
    response = trader.get("/orders/active", **HTMX)
    assert response.status_code == 200
    assert response.template_name == "orders/active.html#panel"
    assert "<html" not in response.text  # the partial alone, not the page around it
    for key in keys[:4]:
        assert f'data-order="{key}"' in response.text
    assert list_calls() == 1  # active only: history waits until asked for
    views = response.context_data["orders"]
    assert {v.status for v in views} == {"active"}
    assert all(v.schedule and v.frequency.startswith("every") for v in views)


def test_fragment_urls_render_as_full_pages_without_htmx(trader, wallet):
    control.seed_wallet(wallet, active=1, history=1)
    for url, template in (
        ("/orders/active", "orders/active.html"),
        ("/orders/history", "orders/history.html"),
        ("/orders/cancels", "orders/attempts.html"),
    ):
        response = trader.get(url)
        assert response.status_code == 200
        assert response.template_name == template
        assert "<html" in response.text
        assert "Back to your orders" in response.text


@pytest.mark.parametrize("count", [0, 9, 10, 11, 25])
def test_one_view_of_n_orders_costs_at_most_ceil_n_over_10_list_calls(trader, wallet, count):
    control.seed_wallet(wallet, active=count, history=0)
    response = trader.get("/orders/active", **HTMX)
    assert len(response.context_data["orders"]) == count
    assert list_calls() == max(1, math.ceil(count / 10))
    trader.get("/orders/active", **HTMX)  # warm: served from the shared cache
    assert list_calls() == max(1, math.ceil(count / 10))


def test_history_on_demand(trader, wallet):
    control.seed_wallet(wallet, active=1, history=3)
    response = trader.get("/orders/history", **HTMX)
    views = response.context_data["orders"]
    assert len(views) == 3
    assert {v.status_words for v in views} <= {"Completed", "Cancelled by you"}
    assert all(v.fills for v in views)
    assert "View on Solscan" not in response.text  # fills load when the trader opens them
    fills = trader.get(f"/orders/{views[0].order_key}/fills", **HTMX)
    assert fills.template_name == "orders/fills.html#panel"
    assert fills.text.count("View on Solscan") == sum(1 for e in views[0].events if e.tx_url)
    assert fills.text.count('class="event buy"') == len(views[0].fills)
    assert list_calls() == 1  # from what was already seen: no upstream call


def test_fills_of_another_wallets_order_are_not_shown(trader):
    other = str(Keypair().pubkey())
    keys = control.seed_wallet(other, active=1, history=0)
    response = trader.get(f"/orders/{keys[0]}/fills", **HTMX)
    assert "have not seen this order" in response.text
    assert "View on Solscan" not in response.text


def test_empty_wallet(trader, wallet):
    control.seed_wallet(wallet, active=0, history=0)
    response = trader.get("/orders/active", **HTMX)
    assert "No recurring orders yet" in response.text


def test_no_active_orders_but_a_history_is_not_called_no_orders_yet(trader, wallet):
    keys = control.seed_wallet(wallet, active=1, history=0)
    trader.get("/orders/active", **HTMX)
    TrackedOrder.objects.filter(order_key=keys[0]).update(status="closed")  # what a cancel records
    control.seed_wallet(wallet, active=0, history=1)
    cache.clear()
    response = trader.get("/orders/active", **HTMX)
    assert "No active orders." in response.text
    assert "No recurring orders yet" not in response.text
    assert list_calls() == 2  # the history itself was not fetched to say so


@pytest.mark.parametrize("fault", ["500", "429", "nonjson"])
def test_upstream_failure_shows_last_known_data_with_its_age(trader, wallet, fault):
    keys = control.seed_wallet(wallet, active=2, history=0)
    trader.get("/orders/active", **HTMX)
    TrackedOrder.objects.filter(wallet=wallet).update(last_seen=timezone.now() - timedelta(minutes=2))
    cache.clear()
    control.inject_fault("getRecurringOrders", fault, times=20)
    response = trader.get("/orders/active", **HTMX)
    assert response.status_code == 200
    assert "Showing what we last saw 2\xa0minutes ago" in response.text
    assert all(f'data-order="{k}"' in response.text for k in keys)


def test_upstream_failure_with_nothing_known_says_so_plainly(trader, wallet):
    control.inject_fault("getRecurringOrders", "502", times=20)
    response = trader.get("/orders/active", **HTMX)
    assert response.status_code == 200
    assert "Jupiter is not answering right now" in response.text
    assert "Traceback" not in response.text


def signed_in(wallet: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get_or_create(username=wallet)[0])
    return client


def unique_address() -> str:
    return "10.{}.{}.{}".format(*(secrets.randbelow(254) + 1 for _ in range(3)))


def test_list_views_past_the_limit_show_last_known_without_calling_jupiter(wallet, settings):
    settings.RATELIMIT_LISTS = "3/d"  # a long period: no window boundary during the test
    keys = control.seed_wallet(wallet, active=2, history=1)
    client, address = signed_in(wallet), unique_address()
    for url in ("/orders/active", "/orders/history", "/orders/active"):
        assert client.get(url, REMOTE_ADDR=address).status_code == 200
    before = list_calls()
    page = client.get("/orders/active", REMOTE_ADDR=address)
    assert page.status_code == 429
    assert "refreshed your orders very often" in page.text
    assert all(f'data-order="{key}"' in page.text for key in keys[:2])  # what was last seen
    panel = client.get("/orders/history", REMOTE_ADDR=unique_address(), **HTMX)  # the wallet is over, too
    assert panel.status_code == 200  # htmx shows the body of a 200 only
    assert "refreshed your orders very often" in panel.text
    assert f'data-order="{keys[2]}"' in panel.text
    export = client.get("/orders/export.csv", REMOTE_ADDR=unique_address())
    assert export.status_code == 200
    note = next(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert note[0].startswith("# Last-known orders as of ")
    assert "refreshed your orders very often" in note[0]
    assert list_calls() == before
    other = signed_in(str(Keypair().pubkey())).get("/orders/active", REMOTE_ADDR=unique_address())
    assert "Up to date" in other.text


def test_list_views_are_limited_per_client_address(settings):
    settings.RATELIMIT_LISTS = "3/d"
    address = unique_address()
    for _ in range(3):  # three wallets, one address
        assert signed_in(str(Keypair().pubkey())).get("/orders/active", REMOTE_ADDR=address).status_code == 200
    before = list_calls()
    assert signed_in(str(Keypair().pubkey())).get("/orders/active", REMOTE_ADDR=address).status_code == 429
    assert list_calls() == before


def test_cancel_confirmation_says_what_comes_back(trader, wallet):
    keys = control.seed_wallet(wallet, active=2, history=0)  # the second: USDC → JUP, part-way through
    trader.get("/orders/active", **HTMX)
    response = trader.get(f"/orders/{keys[1]}/cancel", **HTMX)
    assert response.status_code == 200
    text = response.text
    assert "Confirm cancel" in text
    assert "cannot be undone or paused" in text
    o = response.context_data["o"]
    assert "If you cancel now" in text
    assert f'<strong><span class="amount">{o.funds.remaining.text}</span></strong> not yet spent' in text
    assert "About 0.002 SOL of account rent" in text
    # Recurring v1 sent what it bought to the wallet after each buy: it stays there.
    assert f"Already in your wallet, and it stays there: <strong>{amount(o.funds.received)}</strong>" in text
    assert o.order_key in text and o.schedule in text


def test_cancel_confirmation_for_someone_elses_order(trader, wallet):
    other = str(Keypair().pubkey())
    keys = control.seed_wallet(other, active=1, history=0)
    response = trader.get(f"/orders/{keys[0]}/cancel", **HTMX)
    assert 'data-code="not_active"' in response.text
    assert "any more" not in response.text  # it never was this wallet's order
    # The same page for an order that does not exist at all: nothing tells the two apart.
    unknown = str(Keypair().pubkey())  # the shape of a Recurring order's key, no such order
    missing = trader.get(f"/orders/{unknown}/cancel", **HTMX)
    assert missing.status_code == response.status_code
    assert missing.text.replace(unknown, keys[0]) == response.text


def test_repeat_views_reuse_the_rendered_panel(trader, wallet):
    control.seed_wallet(wallet, active=3, history=0)
    first = trader.get("/orders/active", **HTMX)
    second = trader.get("/orders/active", **HTMX)
    assert first.template_name == "orders/active.html#panel"
    assert not hasattr(second, "template_name")  # no template work the second time
    assert second.content == first.content
    assert list_calls() == 1


def test_last_known_data_is_never_kept_as_the_rendered_panel(trader, wallet):
    control.seed_wallet(wallet, active=1, history=0)
    control.inject_fault("getRecurringOrders", "500", times=20)
    trader.get("/orders/active", **HTMX)
    control.reset()
    recovered = trader.get("/orders/active", **HTMX)
    assert recovered.template_name == "orders/active.html#panel"
    assert "Up to date" in recovered.text


def test_card_links_match_the_url_conf(trader, wallet):
    from django.urls import reverse

    control.seed_wallet(wallet, active=4, history=0)
    response = trader.get("/orders/active", **HTMX)
    with_fills = [v.order_key for v in response.context_data["orders"] if v.fills]
    assert with_fills  # the seeded wallet has orders part-way through
    for key in (v.order_key for v in response.context_data["orders"]):
        assert f'action="{reverse("cancel_confirm", args=[key])}"' in response.text  # works without JS
    for key in with_fills:
        assert f'hx-get="{reverse("order_fills", args=[key])}"' in response.text


def test_explorer_links_follow_the_configured_explorer(trader, wallet, settings):
    settings.EXPLORER_ACCOUNT_URL = "https://explorer.solana.com/address/{}"
    settings.EXPLORER_NAME = "Solana Explorer"
    keys = control.seed_wallet(wallet, active=1, history=0)
    text = trader.get("/orders/active", **HTMX).text
    assert f'href="https://explorer.solana.com/address/{keys[0]}"' in text
    assert "Order account on Solana Explorer" in text


# --- issue 20: a cancel's answer carries the list; prices unavailable is not "no price" -----------


def test_a_cancel_answers_with_the_list_without_the_order_and_its_totals(trader, wallet):
    import base64
    import re

    from solders.message import to_bytes_versioned
    from solders.transaction import VersionedTransaction

    keypair = Keypair()
    wallet = str(keypair.pubkey())
    keys = control.seed_wallet(wallet, active=12, history=0)
    trader.force_login(get_user_model().objects.create_user(username=wallet))
    before = trader.get("/orders/active", **HTMX).text
    started = trader.post(f"/orders/{keys[0]}/cancel/start").json()
    unsigned = VersionedTransaction.from_bytes(base64.b64decode(started["transaction"]))
    signed = VersionedTransaction.populate(
        unsigned.message, [keypair.sign_message(to_bytes_versioned(unsigned.message))]
    )
    answer = trader.post(started["submit_url"], {"signed_transaction": base64.b64encode(bytes(signed)).decode()}).json()
    assert answer["state"] == "succeeded"
    listed = set(re.findall(r'<article class="order[^"]*" data-order="([^"]+)"', answer["panel"]))
    assert listed == set(re.findall(r'<article class="order[^"]*" data-order="([^"]+)"', before)) - {keys[0]}
    assert 'data-counted="11"' in answer["panel"] and 'data-counted="12"' in before
    assert keys[0] not in trader.get("/orders/active", **HTMX).text  # the list's own view agrees


def test_prices_unavailable_is_said_apart_from_jupiter_having_no_price(trader, wallet):
    control.seed_wallet(wallet, active=2, history=0)
    cache.clear()
    control.inject_fault("tokens", "500", times=20)
    panel = trader.get("/orders/active", **HTMX).text
    assert "Prices unavailable right now" in panel  # on each card that has bought something
    assert "Jupiter has no price" not in panel
    assert "Prices are unavailable right now" in panel  # the totals say why they are missing


def test_a_buy_a_little_late_reads_due_now_never_a_time_gone_by(trader, wallet):
    from dashboard.sandbox.models import SandboxOrder

    keys = control.seed_wallet(wallet, active=1, history=0)
    order = SandboxOrder.objects.get(order_key=keys[0])
    late = timezone.now() - timedelta(seconds=order.cycle_frequency + 300)  # due five minutes ago
    for fill in order.fills:
        fill["confirmedAt"] = late.isoformat().replace("+00:00", "Z")
    order.created_at = late - timedelta(seconds=order.cycle_frequency * len(order.fills))
    order.save()
    card = trader.get("/orders/active", **HTMX).text.split(f'data-order="{keys[0]}"')[1]
    assert "Next buy: due now" in card.split("</article>")[0]


# --- order keys: only the two shapes Jupiter uses reach a view ------------------------------------

ODD_KEYS = [
    "%00",  # a NUL byte: PostgreSQL refuses it in a text query (a 500 before the converter)
    "abc%00def",
    "NoSuchOrder",
    "1" * 31,  # too short for an address
    "0" * 44,  # "0" is not base58
    "z" * 44,  # base58, but more than 32 bytes
    "1111111111111111111111111111111111",  # 34 zero bytes
    "%F0%9F%92%A5" * 10,
    "12345678-1234-1234-1234-1234567890",  # a UUID one digit short
    "..%2F..%2Fetc",
]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_order_keys_are_404_before_any_query(trader, key):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for method, suffix in (("get", "fills"), ("get", "cancel"), ("post", "cancel/start")):
        with CaptureQueriesContext(connection) as queries:
            response = getattr(trader, method)(f"/orders/{key}/{suffix}", **HTMX)
        assert response.status_code == 404, (key, suffix)
        assert not [q for q in queries.captured_queries if "trackedorder" in q["sql"].lower()]
        assert not [q for q in queries.captured_queries if "cancelattempt" in q["sql"].lower()]


def test_both_shapes_of_order_key_reach_the_views(trader):
    address = str(Keypair().pubkey())  # a v1 order's account
    v2_id = "0198c5d2-6a1f-7b3c-8d4e-5f6a7b8c9d0e"
    for key in (address, v2_id, v2_id.upper()):
        response = trader.get(f"/orders/{key}/cancel", **HTMX)
        assert response.status_code == 200  # "we have not seen this order" — a view answered
        assert response.template_name == "orders/cancel_confirm.html#panel"
