"""Connecting to Jupiter's DCA and the lists with v2 orders, through the views, against the
sandbox over real HTTP (its call log says which upstream calls were made)."""

from __future__ import annotations

import base64
import csv
import io
import logging
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction

from dashboard import dca_auth, tracking, trigger
from dashboard.models import DcaConnection, TrackedOrder
from dashboard.sandbox import control, trigger_seed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

HTMX = {"HTTP_HX_REQUEST": "true"}
ACTIVE_V2 = ("depositing", "active", "price-band", "earn", "token-2022", "executing", "withdrawing", "sol-input")
PAST_V2 = ("completed", "cancelled", "deposit-failed")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def challenge(trader, kind: str = "message"):
    return trader.post("/orders/dca/challenge", {"type": kind}, content_type="application/json")


def verify(trader, **answer):
    return trader.post("/orders/dca/verify", answer, content_type="application/json")


def connect(trader, keypair) -> dict:
    text = challenge(trader).json()["challenge"].encode()
    answer = verify(trader, type="message", signedMessage=b64(text), signature=b64(bytes(keypair.sign_message(text))))
    assert answer.status_code == 200, answer.content
    return answer.json()


def v2_id(wallet: str, name: str) -> str:
    return trigger_seed.order_id(wallet, name)


def stored_token(trader) -> str:
    wallet = get_user_model().objects.get(pk=trader.session["_auth_user_id"]).username
    return DcaConnection.objects.get(wallet=wallet).token


# --- connecting ----------------------------------------------------------------------------------


def test_connect_with_one_signature_then_both_kinds_are_listed(trader, keypair, wallet):
    v1_keys = control.seed_wallet(wallet, active=2, history=1)
    before = trader.get("/orders/active", **HTMX)
    assert "Show your newer Jupiter DCA orders" in before.text
    assert 'data-system="v2"' not in before.text
    assert control.count_calls("dca-list") == 0  # nothing is asked of Jupiter's DCA before connecting

    answer = connect(trader, keypair)
    assert answer["state"] == "connected" and answer["next"] == "refresh" and "token" not in answer
    assert control.count_calls("dca-challenge") == 1 and control.count_calls("dca-verify") == 1

    panel = trader.get("/orders/active", **HTMX)
    for key in v1_keys[:2]:
        assert f'data-order="{key}" data-system="v1"' in panel.text
    for name in ACTIVE_V2:
        assert f'data-order="{v2_id(wallet, name)}" data-system="v2"' in panel.text
    assert "Show your newer Jupiter DCA orders" not in panel.text
    views = {v.order_key: v for v in panel.context_data["orders"]}
    assert views[v2_id(wallet, "executing")].status_words == "Buying now"
    assert views[v2_id(wallet, "depositing")].status_words == "Starting"
    assert "Cancelling — the refund still needs your approval" in panel.text
    assert "Only buys while SOL is between $50 and $1,000" in panel.text
    assert "Earn While You Wait is on" in panel.text
    assert "Round 2 failed after 3 attempts and was moved to the next interval; it was filled later" in panel.text
    assert "Jupiter's own schedule" in panel.text
    assert control.count_calls("dca-list") == 1
    # v1 and v2 orders are tracked apart, so each system's cancel only ever sees its own orders.
    assert TrackedOrder.objects.filter(wallet=wallet, system="v2", status="active").count() == 8
    assert TrackedOrder.objects.filter(wallet=wallet, system="v1", status="active").count() == 2


def test_a_round_under_way_is_not_listed_among_rounds_that_did_not_fill(trader, keypair, wallet):
    connect(trader, keypair)
    panel = trader.get("/orders/active", **HTMX)
    executing = v2_id(wallet, "executing")
    card = panel.text[panel.text.index(f'data-order="{executing}"') :]
    card = card[: card.index("</article>")]
    views = {v.order_key: v for v in panel.context_data["orders"]}
    (running,) = views[executing].dca.running
    assert views[executing].dca.off_plan == ()
    assert f'<p class="round-running">{running.words}' in card
    assert 'aria-label="Rounds that did not fill as planned"' not in card


def test_hardware_wallets_connect_with_the_memo_transaction_never_sent(trader, keypair, wallet):
    issued = challenge(trader, "transaction").json()
    tx = VersionedTransaction.from_bytes(base64.b64decode(issued["transaction"]))
    signed = VersionedTransaction.populate(tx.message, [keypair.sign_message(to_bytes_versioned(tx.message))])
    answer = verify(trader, type="transaction", signedTransaction=b64(bytes(signed)))
    assert answer.status_code == 200, answer.content
    assert stored_token(trader)


def refused_without_upstream_call(answer, code: str, status: int = 400) -> None:
    assert answer.status_code == status, answer.content
    assert (answer.json()["state"], answer.json()["code"], answer.json()["next"]) == ("refused", code, "retry")
    assert answer.json()["message"]
    assert control.count_calls("dca-verify") == 0


def test_another_wallets_signature_is_refused_without_asking_jupiter(trader):
    text = challenge(trader).json()["challenge"].encode()
    stranger = Keypair()
    answer = verify(trader, type="message", signedMessage=b64(text), signature=b64(bytes(stranger.sign_message(text))))
    refused_without_upstream_call(answer, "connect_signature_invalid")
    assert answer.json()["field"] == "signature"


def test_a_different_text_is_refused_without_asking_jupiter(trader, keypair):
    challenge(trader)
    text = (dca_auth.CHALLENGE_PREFIX + "a-nonce-of-our-own").encode()
    answer = verify(trader, type="message", signedMessage=b64(text), signature=b64(bytes(keypair.sign_message(text))))
    refused_without_upstream_call(answer, "connect_text_changed")


def test_a_signature_over_something_else_is_refused_without_asking_jupiter(trader, keypair):
    text = challenge(trader).json()["challenge"].encode()
    other = keypair.sign_message(b"localhost wants you to sign in with your Solana account")
    answer = verify(trader, type="message", signedMessage=b64(text), signature=b64(bytes(other)))
    refused_without_upstream_call(answer, "connect_signature_invalid")


def test_a_stale_challenge_is_refused_without_asking_jupiter(trader, keypair):
    text = challenge(trader).json()["challenge"].encode()
    DcaConnection.objects.update(challenge_issued_at=timezone.now() - timedelta(minutes=5, seconds=1))
    answer = verify(trader, type="message", signedMessage=b64(text), signature=b64(bytes(keypair.sign_message(text))))
    refused_without_upstream_call(answer, "connect_expired", 409)


def test_the_wallets_latest_challenge_is_the_one_accepted_from_any_of_its_browsers(trader, keypair, wallet):
    from django.test import Client

    other = Client()
    other.force_login(get_user_model().objects.get(username=wallet))  # the same wallet, another browser
    first = challenge(trader).json()["challenge"].encode()
    latest = challenge(other).json()["challenge"].encode()
    assert first != latest
    answer = verify(trader, type="message", signedMessage=b64(first), signature=b64(bytes(keypair.sign_message(first))))
    refused_without_upstream_call(answer, "connect_text_changed", 400)
    answer = verify(
        trader, type="message", signedMessage=b64(latest), signature=b64(bytes(keypair.sign_message(latest)))
    )
    assert answer.status_code == 200 and answer.json()["state"] == "connected"


def test_a_signature_is_used_once(trader, keypair):
    text = challenge(trader).json()["challenge"].encode()
    answer = {"type": "message", "signedMessage": b64(text), "signature": b64(bytes(keypair.sign_message(text)))}
    assert verify(trader, **answer).status_code == 200
    again = verify(trader, **answer)
    assert (again.status_code, again.json()["code"], again.json()["next"]) == (409, "no_connect_request", "retry")
    assert control.count_calls("dca-verify") == 1


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"type": "message"}, "connect_answer_incomplete", None),
        (
            {"type": "message", "signedMessage": "not base64!", "signature": "AAAA"},
            "connect_answer_garbled",
            "signedMessage",
        ),
        ({"type": "sms", "signedMessage": "AAAA", "signature": "AAAA"}, "connect_kind_unknown", "type"),
        ({"type": "transaction", "signedTransaction": "A" * 5000}, "connect_answer_too_large", "signedTransaction"),
    ],
)
def test_unreadable_answers_are_refused_plainly(trader, body, code, field):
    challenge(trader)
    answer = verify(trader, **body)
    assert answer.status_code == 400
    assert (answer.json()["code"], answer.json().get("field")) == (code, field)
    assert answer.json()["message"]
    assert control.count_calls("dca-verify") == 0


def test_an_unreadable_body_is_refused_plainly(trader):
    answer = trader.post("/orders/dca/verify", "not json", content_type="application/json")
    assert (answer.status_code, answer.json()["code"], answer.json()["next"]) == (400, "connect_bad_request", "retry")
    assert control.count_calls("dca-verify") == 0


def test_signed_out_visitors_cannot_connect(client):
    answer = client.post("/orders/dca/challenge", {"type": "message"}, content_type="application/json")
    assert answer.status_code == 403 and answer.json()["next"] == "sign_in"
    assert control.count_calls("dca-challenge") == 0


# --- the token's life ----------------------------------------------------------------------------


def test_the_connection_belongs_to_the_wallet_not_to_the_session(trader, keypair, wallet):
    """Signing out of one browser keeps it; a new session of the same wallet (any sign-in) uses
    it without a second signature; sessions ending change nothing about it."""
    from django.contrib.sessions.models import Session
    from django.core.management import call_command
    from django.test import Client

    connect(trader, keypair)
    trader.post("/sign-out")
    assert DcaConnection.objects.exclude(token="").count() == 1
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    call_command("clearsessions")
    assert DcaConnection.objects.exclude(token="").count() == 1
    again = Client()
    again.force_login(get_user_model().objects.get(username=wallet))
    calls = control.count_calls("dca-challenge"), control.count_calls("dca-verify")
    panel = again.get("/orders/active", **HTMX).text
    assert 'data-system="v2"' in panel and "Show your newer Jupiter DCA orders" not in panel
    assert (control.count_calls("dca-challenge"), control.count_calls("dca-verify")) == calls


def test_disconnect_forgets_the_connection_at_once(trader, keypair, wallet):
    connect(trader, keypair)
    assert 'data-system="v2"' in trader.get("/orders/active", **HTMX).text
    assert trader.get("/orders/dca/disconnect").status_code == 405  # a POST, with its CSRF token
    answer = trader.post("/orders/dca/disconnect", **HTMX)
    assert answer.status_code == 200 and "Show your newer Jupiter DCA orders" in answer.text  # the list, at once
    assert f'data-order="{v2_id(wallet, "active")}"' in answer.text  # its DCA orders as last seen
    assert not DcaConnection.objects.exists()
    assert trader.post("/orders/dca/disconnect")["Location"] == "/orders/"  # without htmx: back to the page
    calls = control.count_calls("dca-list")
    tracking.expire_dca(wallet, "active")
    assert "Show your newer Jupiter DCA orders" in trader.get("/orders/active", **HTMX).text
    assert control.count_calls("dca-list") == calls  # no token: Jupiter is not asked


def test_sign_out_everywhere_ends_every_session_of_the_wallet_and_the_connection(trader, keypair, wallet):
    from django.test import Client

    other = Client()  # the same wallet on another device
    other.force_login(get_user_model().objects.get(username=wallet))
    bystander = Client()  # another wallet: untouched
    bystander.force_login(get_user_model().objects.create_user(username=str(Keypair().pubkey())))
    connect(trader, keypair)
    assert other.get("/orders/").status_code == 200
    trader.post("/sign-out", {"everywhere": "1"})
    assert not DcaConnection.objects.exists()
    assert other.get("/orders/")["Location"] == "/"  # signed out there too
    assert bystander.get("/orders/").status_code == 200


def test_cleanup_deletes_connections_that_ended(trader, keypair, wallet):
    connect(trader, keypair)
    assert dca_auth.clear_expired() == 0
    DcaConnection.objects.update(token_expires_at=timezone.now() - timedelta(seconds=1))
    assert dca_auth.clear_expired() == 1
    assert dca_auth.access(wallet).state == "offer"


def test_at_its_own_expiry_the_page_asks_again_without_calling_jupiter(trader, keypair, wallet):
    connect(trader, keypair)
    trader.get("/orders/active", **HTMX)
    calls = control.count_calls("dca-list")
    DcaConnection.objects.update(token_expires_at=timezone.now() - timedelta(seconds=1))
    tracking.expire_dca(wallet, "active")
    panel = trader.get("/orders/active", **HTMX)
    assert "Your connection to Jupiter's DCA has ended" in panel.text
    assert "Connect again" in panel.text
    assert f'data-order="{v2_id(wallet, "active")}"' in panel.text  # the list stays, as last seen
    assert control.count_calls("dca-list") == calls
    assert DcaConnection.objects.get().token == ""  # dropped at once


def test_a_401_asks_again_without_losing_the_list(trader, keypair, wallet):
    control.seed_wallet(wallet, active=1, history=0)
    connect(trader, keypair)
    trader.get("/orders/active", **HTMX)
    control.expire_dca_tokens()
    tracking.expire_dca(wallet, "active")
    panel = trader.get("/orders/active", **HTMX)
    assert panel.status_code == 200
    assert "Connect again" in panel.text
    assert f'data-order="{v2_id(wallet, "price-band")}"' in panel.text
    assert panel.text.count('data-system="v1"') == 1
    assert DcaConnection.objects.get().token == ""
    connect(trader, keypair)  # one more signature and the list is live again
    assert "Connect again" not in trader.get("/orders/active", **HTMX).text


def test_the_token_never_reaches_the_browser_or_the_logs(trader, keypair, wallet, caplog):
    caplog.set_level(logging.DEBUG)
    control.seed_wallet(wallet, active=2, history=2)
    responses = [challenge(trader)]
    text = responses[0].json()["challenge"].encode()
    responses.append(
        verify(trader, type="message", signedMessage=b64(text), signature=b64(bytes(keypair.sign_message(text))))
    )
    token = stored_token(trader)
    assert token.count(".") == 2
    responses += [
        trader.get("/orders/"),
        trader.get("/orders/active", **HTMX),
        trader.get("/orders/active"),
        trader.get("/orders/history", **HTMX),
        trader.get(f"/orders/{v2_id(wallet, 'active')}/fills", **HTMX),
        trader.get("/orders/export.csv"),
    ]
    control.expire_dca_tokens()
    tracking.invalidate(wallet)
    responses.append(trader.get("/orders/active", **HTMX))  # the 401 path
    for response in responses:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert token not in body.decode("utf-8-sig"), response
        assert all(token not in value for value in response.headers.values())
        assert all(token not in morsel.value for morsel in response.cookies.values())
    assert all(token not in morsel.value for morsel in trader.cookies.values())
    assert all(token not in str(value) for value in trader.session.values())
    # Our own log lines (the sandbox, playing Jupiter, is another service: its lines are not ours).
    ours = [r for r in caplog.records if not r.name.startswith("dashboard.sandbox")]
    assert ours
    assert all(token not in r.getMessage() and token not in str(r.args) for r in ours)


# --- failures on one side never hide the other -----------------------------------------------------


def test_v2_down_lists_v1_and_says_why(trader, keypair, wallet):
    keys = control.seed_wallet(wallet, active=2, history=0)
    connect(trader, keypair)
    control.inject_fault("dca-list", "502", times=20)
    panel = trader.get("/orders/active", **HTMX)
    assert panel.status_code == 200
    assert all(f'data-order="{k}"' in panel.text for k in keys)
    assert "Your Jupiter DCA orders could not be loaded — Jupiter is not answering right now" in panel.text


def test_v2_down_after_a_visit_shows_the_last_known_v2_orders(trader, keypair, wallet):
    connect(trader, keypair)
    trader.get("/orders/active", **HTMX)
    control.inject_fault("dca-list", "500", times=20)
    tracking.expire_dca(wallet, "active")
    panel = trader.get("/orders/active", **HTMX)
    assert "Your Jupiter DCA orders: showing what we last saw" in panel.text
    assert f'data-order="{v2_id(wallet, "earn")}"' in panel.text


def test_v1_down_still_lists_v2(trader, keypair, wallet):
    connect(trader, keypair)
    control.inject_fault("getRecurringOrders", "502", times=20)
    panel = trader.get("/orders/active", **HTMX)
    assert "Jupiter is not answering right now" in panel.text
    assert panel.text.count('data-system="v2"') == 8


@pytest.mark.parametrize("status", [404, 410])
def test_v1_switched_off_lists_v2_with_one_calm_sentence(trader, keypair, wallet, status):
    control.seed_wallet(wallet, active=2, history=1)
    control.switch_off_v1(status)
    connect(trader, keypair)
    panel = trader.get("/orders/active", **HTMX)
    assert panel.status_code == 200
    assert panel.text.count('data-system="v2"') == 8 and 'data-system="v1"' not in panel.text
    assert "switched off its older recurring-order system" in panel.text
    assert 'role="alert"' not in panel.text and "status stale" not in panel.text
    history = trader.get("/orders/history", **HTMX)
    assert history.text.count('data-system="v2"') == 3
    export = trader.get("/orders/export.csv")
    assert export.status_code == 200
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert {row["system"] for row in csv.DictReader(io.StringIO(text))} == {TrackedOrder.System.DCA.label}


def test_v1_switched_off_and_not_connected_offers_to_connect(trader, wallet):
    control.switch_off_v1(410)
    panel = trader.get("/orders/active", **HTMX)
    assert "switched off its older recurring-order system" in panel.text
    assert "Show your newer Jupiter DCA orders" in panel.text


# --- history and CSV -----------------------------------------------------------------------------


def test_history_and_csv_include_v2_orders_and_fills(trader, keypair, wallet):
    v1_keys = control.seed_wallet(wallet, active=1, history=2)
    connect(trader, keypair)
    history = trader.get("/orders/history", **HTMX)
    for name in PAST_V2:
        assert f'data-order="{v2_id(wallet, name)}" data-system="v2"' in history.text
    for key in v1_keys[1:]:
        assert f'data-order="{key}" data-system="v1"' in history.text
    assert "The deposit failed; nothing was bought" in history.text

    export = b"".join(trader.get("/orders/export.csv").streaming_content).decode("utf-8-sig")
    rows = [r for r in csv.DictReader(io.StringIO(export)) if r["kind"] == "fill"]
    v2_rows = [r for r in rows if r["system"] == TrackedOrder.System.DCA.label]
    v2_fills = [
        e
        for name in (*ACTIVE_V2, *PAST_V2)
        for e in control.get_dca_order(v2_id(wallet, name))["events"]
        if e["type"] == "fill" and e["state"] == "success"
    ]
    assert {r["signature"] for r in v2_rows} == {e["txSignature"] for e in v2_fills}
    assert {r["system"] for r in rows} == {TrackedOrder.System.DCA.label, TrackedOrder.System.RECURRING.label}


def test_v2_fills_open_from_the_card(trader, keypair, wallet):
    connect(trader, keypair)
    trader.get("/orders/active", **HTMX)
    fills = trader.get(f"/orders/{v2_id(wallet, 'active')}/fills", **HTMX)
    assert fills.status_code == 200
    assert fills.text.count('class="event buy"') == 3  # the three filled rounds
    assert fills.text.count('class="event deposit"') == 1
    assert 'class="event round"' in fills.text  # round 2 failed three times and was moved
    events = fills.context_data["o"].events
    assert fills.text.count("View on Solscan") == sum(1 for e in events if e.tx_url)


def test_a_v2_order_is_never_handed_to_the_v1_cancel(trader, keypair, wallet):
    connect(trader, keypair)
    trader.get("/orders/active", **HTMX)
    order_id = v2_id(wallet, "active")
    answer = trader.post(f"/orders/{order_id}/cancel/start")
    assert answer.status_code == 200
    assert answer.json()["system"] == "v2"  # Jupiter's DCA cancel (tests/test_cancel_dca.py), never v1's
    assert control.count_calls("cancelOrder") == 0
    assert control.count_calls("dca-cancel") == 1


def test_the_rendered_panel_is_kept_per_connection_state(trader, keypair, wallet):
    from django.test import Client

    other = Client()  # the same wallet in another browser: the connection is the wallet's
    other.force_login(get_user_model().objects.get(username=wallet))
    assert "Show your newer Jupiter DCA orders" in other.get("/orders/active", **HTMX).text
    connect(trader, keypair)
    assert 'data-system="v2"' in trader.get("/orders/active", **HTMX).text
    assert 'data-system="v2"' in other.get("/orders/active", **HTMX).text
    DcaConnection.objects.filter(wallet=wallet).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    assert "has ended" in trader.get("/orders/active", **HTMX).text
    assert "has ended" in other.get("/orders/active", **HTMX).text


def test_past_the_list_limit_both_systems_show_what_was_last_seen(trader, keypair, wallet, settings):
    keys = control.seed_wallet(wallet, active=1, history=0)
    connect(trader, keypair)
    settings.RATELIMIT_LISTS = "1/d"  # a long period: no window boundary during the test
    trader.get("/orders/active", **HTMX)
    calls = control.count_calls("dca-list"), control.count_calls("getRecurringOrders")
    limited = trader.get("/orders/active")  # over the limit: no htmx, no rendered-panel cache
    assert limited.status_code == 429
    assert (control.count_calls("dca-list"), control.count_calls("getRecurringOrders")) == calls
    assert f'data-order="{keys[0]}"' in limited.text
    assert limited.text.count('data-system="v2"') == 8
    assert "You refreshed your orders very often" in limited.text


def assert_sign_again(answer, caplog) -> None:
    """Jupiter's 400 "Challenge not found": the trader's signature did not match what Jupiter
    holds — a 400 saying "sign again", logged below ERROR (it is no fault of ours or Jupiter's)."""
    assert answer.status_code == 400, answer.content
    assert (answer.json()["code"], answer.json()["next"]) == ("challenge_not_found", "retry")  # sign again
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(r.levelno == logging.INFO and "challenge_not_found" in r.getMessage() for r in caplog.records)


def test_jupiter_refusing_the_signature_is_said_plainly_and_nothing_is_kept(trader, keypair, caplog):
    control.set_dca_challenge_lifetime(0)  # Jupiter has forgotten its challenge; ours is fresh
    text = challenge(trader).json()["challenge"].encode()
    with caplog.at_level(logging.INFO):
        answer = verify(
            trader, type="message", signedMessage=b64(text), signature=b64(bytes(keypair.sign_message(text)))
        )
    assert_sign_again(answer, caplog)
    assert control.count_calls("dca-verify") == 1
    assert stored_token(trader) == ""
    control.set_dca_challenge_lifetime(300)
    connect(trader, keypair)  # a fresh challenge, signed again, connects
    assert stored_token(trader)


def test_a_signature_jupiter_does_not_match_is_a_400_saying_sign_again(trader, keypair, wallet, caplog):
    """The signature reaches Jupiter's /auth/verify (over HTTP, the sandbox) after Jupiter's
    challenge was used up elsewhere: for Jupiter it is a bad signature, "Challenge not found"."""
    text = challenge(trader).json()["challenge"].encode()
    signature = keypair.sign_message(text)
    trigger.verify(wallet, signature=str(signature))  # the same signature, redeemed at Jupiter first
    with caplog.at_level(logging.INFO):
        answer = verify(trader, type="message", signedMessage=b64(text), signature=b64(bytes(signature)))
    assert_sign_again(answer, caplog)
    assert control.count_calls("dca-verify") == 2
    assert stored_token(trader) == ""
    connect(trader, keypair)  # signed again: connected
    assert stored_token(trader)


@pytest.mark.parametrize("endpoint", ["dca-challenge", "dca-verify"])
def test_jupiter_busy_while_connecting_is_a_503_with_its_wait(trader, keypair, endpoint, caplog):
    text = challenge(trader).json()["challenge"].encode() if endpoint == "dca-verify" else b""
    control.inject_fault(endpoint, "429", seconds=25)
    with caplog.at_level(logging.INFO):
        if endpoint == "dca-verify":
            answer = verify(
                trader, type="message", signedMessage=b64(text), signature=b64(bytes(keypair.sign_message(text)))
            )
        else:
            answer = challenge(trader)
    assert (answer.status_code, answer.json()["code"], answer.json()["next"]) == (503, "rate_limited", "retry")
    assert 23 <= int(answer["Retry-After"]) <= 26  # Jupiter's window resets 25 s ahead
    assert f"Try again in {answer['Retry-After']} seconds" in answer.json()["message"]
    assert not DcaConnection.objects.exclude(token="").exists()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a busy Jupiter is a WARNING


def test_jupiter_down_when_asked_for_a_challenge(trader):
    control.inject_fault("dca-challenge", "502", times=5)
    answer = challenge(trader)
    assert answer.status_code == 502
    assert "Jupiter is not answering" in answer.json()["message"]
    assert not DcaConnection.objects.exists()


def test_a_challenge_without_its_signature_still_offers_to_connect(trader):
    challenge(trader)
    assert "Show your newer Jupiter DCA orders" in trader.get("/orders/active", **HTMX).text


def test_unknown_kinds_and_unknown_wallets_are_refused_or_ignored(trader, wallet):
    with pytest.raises(dca_auth.ConnectRefused):
        dca_auth.issue(wallet, "sms")
    with pytest.raises(dca_auth.ConnectRefused):
        dca_auth.connect(wallet, kind="sms")
    dca_auth.end(wallet)  # no connection: nothing to end
    assert dca_auth.access(wallet).state == "offer"
    assert dca_auth.access("").state == "offer"
    assert control.count_calls("dca-challenge") == 0


def test_two_submissions_of_one_signature_reach_jupiter_once(trader, keypair, wallet, at_once):
    text = challenge(trader).json()["challenge"].encode()
    body = {"signed_message": text, "signature": bytes(keypair.sign_message(text))}

    def submit() -> str:
        try:
            dca_auth.connect(wallet, kind="message", **body)
        except dca_auth.ConnectRefused as refused:
            return refused.reason
        return "connected"

    outcomes = at_once(2, submit)
    assert sorted(outcomes) == ["conflict", "connected"]
    assert control.count_calls("dca-verify") == 1


# --- issue 20: the page says what it covers, once, and keeps what it last saw ----------------------


def cover(html: str) -> tuple[str, int]:
    found = re.search(r'data-counted="(\d+)" data-cover="(\w+)"', html)
    assert found, "no totals"
    return found.group(2), int(found.group(1))


def test_totals_cover_the_older_orders_until_connected_then_all(trader, keypair, wallet):
    control.seed_wallet(wallet, active=3, history=0)
    panel = trader.get("/orders/active", **HTMX).text
    assert cover(panel) == ("older", 3)
    words = " ".join(re.sub(r"<[^>]+>", "", panel).split())
    assert "Your 3 older orders at today's price — connect to include your newer Jupiter DCA orders" in words
    connect(trader, keypair)
    # Every live order of both systems but the stopped one (its refund waits: named above, not counted).
    assert cover(trader.get("/orders/active", **HTMX).text) == ("all", 3 + len(ACTIVE_V2) - 1)


def test_every_card_names_its_system_in_the_models_words(trader, keypair, wallet):
    control.seed_wallet(wallet, active=2, history=0)
    connect(trader, keypair)
    panel = trader.get("/orders/active", **HTMX).text
    labels = [label.strip() for label in re.findall(r'<p class="system-label">([^<·]+)', panel)]
    expected = {TrackedOrder.System.RECURRING.label: 2, TrackedOrder.System.DCA.label: len(ACTIVE_V2)}
    assert {label: labels.count(label) for label in labels} == expected


def test_one_failure_of_both_lists_is_said_once(trader, keypair, wallet):
    control.seed_wallet(wallet, active=2, history=0)
    connect(trader, keypair)
    trader.get("/orders/active", **HTMX)
    control.inject_fault("getRecurringOrders", "500", times=20)
    control.inject_fault("dca-list", "500", times=20)
    tracking.invalidate(wallet)
    panel = trader.get("/orders/active", **HTMX).text
    assert panel.count("status stale") == 1 and 'role="alert"' not in panel
    assert panel.count('data-system="v1"') == 2 and panel.count('data-system="v2"') == len(ACTIVE_V2)


def test_different_failures_of_the_two_lists_are_each_said(trader, keypair, wallet):
    control.seed_wallet(wallet, active=2, history=0)
    connect(trader, keypair)
    trader.get("/orders/active", **HTMX)
    control.inject_fault("getRecurringOrders", "500", times=20)
    control.inject_fault("dca-list", "429", times=20)
    tracking.invalidate(wallet)
    assert trader.get("/orders/active", **HTMX).text.count("status stale") == 2


def test_a_next_buy_already_due_reads_due_now(trader, keypair, wallet):
    from dashboard.sandbox.models import DcaOrder

    connect(trader, keypair)
    key = v2_id(wallet, "active")
    DcaOrder.objects.filter(order_id=key).update(next_fill_at=timezone.now() - timedelta(minutes=5))
    tracking.expire_dca(wallet, "active")
    card = trader.get("/orders/active", **HTMX).text.split(f'data-order="{key}"')[1].split("</article>")[0]
    assert "Next buy: due now" in card
    assert "<time" not in card.split("Next buy:")[1].split("</p>")[0].split("last buy")[0]


def test_v1_switched_off_after_a_visit_keeps_its_orders_as_last_seen(trader, keypair, wallet):
    keys = control.seed_wallet(wallet, active=2, history=0)
    connect(trader, keypair)
    trader.get("/orders/active", **HTMX)
    control.switch_off_v1(410)
    tracking.invalidate(wallet)
    panel = trader.get("/orders/active", **HTMX).text
    assert all(f'data-order="{k}"' in panel for k in keys)  # never silently dropped
    assert not any(f"/orders/{k}/cancel" in panel for k in keys)  # nothing to cancel them with here
    assert "status stale" not in panel and 'role="alert"' not in panel
    assert cover(panel) == ("all", len(ACTIVE_V2) - 1)  # what is live: the v2 orders
    words = " ".join(re.sub(r"<[^>]+>", "", panel).split())
    assert "The 2 older orders below are shown as we last saw them" in words and "jup.ag" in words


def test_a_disconnect_while_jupiter_checks_the_signature_keeps_nothing(trader, keypair, wallet, monkeypatch):
    from dashboard import trigger

    verify_with_jupiter = trigger.verify

    def disconnected_meanwhile(*args, **kwargs):
        token = verify_with_jupiter(*args, **kwargs)
        trader.post("/orders/dca/disconnect")  # pressed in another tab while Jupiter answered
        return token

    monkeypatch.setattr(trigger, "verify", disconnected_meanwhile)
    text = challenge(trader).json()["challenge"].encode()
    answer = verify(trader, type="message", signedMessage=b64(text), signature=b64(bytes(keypair.sign_message(text))))
    assert answer.status_code == 409 and answer.json()["state"] == "refused"
    assert not DcaConnection.objects.exists()
