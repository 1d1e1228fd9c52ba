"""Cancelling: what Jupiter issues is checked, what the wallet signed is checked, relayed once."""

from __future__ import annotations

import base64
import logging
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.db import connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from dashboard import messages, recurring, relay
from dashboard.models import CancelAttempt
from dashboard.sandbox import control
from dashboard.sandbox.models import SandboxOrder
from dashboard.transactions import COMPUTE_BUDGET, read_message
from tests.wallet import sign_transaction, signed

A = CancelAttempt.State
HTMX = {"HTTP_HX_REQUEST": "true"}


# --- the whole cancel over HTTP endpoints, against the sandbox -----------------------------------


@pytest.fixture
def trader(sandbox_upstream, trader):
    """The shared `trader` (signed in as `wallet`), its Jupiter the sandbox."""
    return trader


@pytest.fixture
def order_key(trader, keypair):
    keys = control.seed_wallet(str(keypair.pubkey()), active=2, history=0)
    trader.get("/orders/active", **HTMX)  # the dashboard has seen the order
    return keys[0]


def start(client: Client, order_key: str) -> dict:
    response = client.post(f"/orders/{order_key}/cancel/start")
    return response.json()


def attempt_text(order_key: str) -> str:
    """What the order's card said a cancel would bring back (the attempt's `cancelled_text`)."""
    return CancelAttempt.objects.filter(order_key=order_key).latest("issued_at").cancelled_text


def submit(client: Client, started: dict, signed_b64: str):
    return client.post(started["submit_url"], {"signed_transaction": signed_b64})


pytestmark_http = pytest.mark.django_db(transaction=True)


@pytestmark_http
def test_happy_path_relays_once_and_closes_the_order(trader, keypair, order_key):
    started = start(trader, order_key)
    assert set(started) >= {"attempt", "transaction", "submit_url"}
    response = submit(trader, started, sign_transaction(started["transaction"], keypair))
    answer = response.json()
    assert response.status_code == 200
    assert (answer["state"], answer["code"]) == ("succeeded", "cancelled")
    assert answer["message"] == attempt_text(order_key) != ""  # the words the card promised: what comes back
    attempt = CancelAttempt.objects.get(pk=started["attempt"])
    assert attempt.signature in answer["explorer_url"]
    assert attempt.claimed_at is not None  # the outcome is written field by field, after the claim
    assert attempt.claimed_at <= attempt.finished_at
    assert control.count_calls("execute") == 1
    closed = control.get_order(order_key)
    assert closed["status"] == "history"
    assert closed["userClosed"] is True
    assert closed["closeTx"] == attempt.signature
    # The list no longer shows it: the wallet's cached pages were invalidated.
    active = trader.get("/orders/active", **HTMX)
    assert f'data-order="{order_key}"' not in active.text


@pytestmark_http
def test_replays_are_refused_and_never_relayed(trader, keypair, order_key):
    started = start(trader, order_key)
    signed_b64 = sign_transaction(started["transaction"], keypair)
    assert submit(trader, started, signed_b64).json()["state"] == "succeeded"
    again = submit(trader, started, signed_b64)
    assert (again.status_code, again.json()["code"]) == (409, "attempt_used")
    # A different valid signature over an allowed variant (the wallet changed the priority fee).
    reading = read_message(VersionedTransaction.from_bytes(base64.b64decode(started["transaction"])).message)
    kept = [
        Instruction(ix.program, ix.data, [AccountMeta(Pubkey.from_string(a), s, w) for a, s, w in ix.accounts])
        for ix in reading.instructions
        if ix.program != COMPUTE_BUDGET
    ]
    variant = Message.new_with_blockhash(
        [set_compute_unit_limit(90_000), set_compute_unit_price(1), *kept], keypair.pubkey(), reading.blockhash
    )
    other = base64.b64encode(bytes(signed(variant, keypair))).decode()
    assert submit(trader, started, other).status_code == 409
    assert control.count_calls("execute") == 1


@pytestmark_http
def test_another_wallets_order_is_refused_before_any_upstream_call(trader):
    other = str(Keypair().pubkey())
    keys = control.seed_wallet(other, active=1, history=0)
    response = trader.post(f"/orders/{keys[0]}/cancel/start")
    assert response.status_code == 404  # the answer a made-up order gets
    assert (response.json()["code"], response.json()["next"]) == ("not_active", "refresh")
    assert control.count_calls("cancelOrder") == 0


@pytestmark_http
def test_an_order_closed_elsewhere_meanwhile_is_refused_and_the_list_refreshes(trader, keypair, order_key):
    wallet = str(keypair.pubkey())
    closed_elsewhere = recurring.cancel_order(wallet, order_key)  # the trader cancelled it on jup.ag
    signed_b64 = sign_transaction(base64.b64encode(closed_elsewhere.transaction).decode(), keypair)
    assert recurring.execute(closed_elsewhere.request_id, base64.b64decode(signed_b64)).succeeded
    response = trader.post(f"/orders/{order_key}/cancel/start")
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["next"]) == ("not_found", "refresh")
    assert f'data-order="{order_key}"' not in trader.get("/orders/active", **HTMX).text


@pytestmark_http
def test_jupiter_busy_at_execute_is_a_503_with_its_wait_and_nothing_relayed(trader, keypair, order_key, caplog):
    started = start(trader, order_key)
    control.inject_fault("execute", "429", seconds=30)  # Jupiter's window resets in 30 s
    with caplog.at_level(logging.INFO):
        response = submit(trader, started, sign_transaction(started["transaction"], keypair))
    answer = response.json()
    assert (response.status_code, answer["state"], answer["code"], answer["next"]) == (
        503,
        "failed",
        "rate_limited",
        "retry",
    )
    assert 28 <= int(response["Retry-After"]) <= 31  # from Jupiter's x-ratelimit-reset, 30 s ahead
    assert f"Try again in {response['Retry-After']} seconds" in answer["message"]
    assert control.get_order(order_key)["status"] == "active"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a busy Jupiter is a WARNING
    assert any(r.levelno == logging.WARNING and r.name == "django.request" for r in caplog.records)
    fresh = start(trader, order_key)  # and a fresh try goes through
    assert submit(trader, fresh, sign_transaction(fresh["transaction"], keypair)).json()["state"] == "succeeded"


@pytestmark_http
def test_jupiter_busy_at_cancel_order_is_a_503_with_its_wait(trader, order_key, caplog):
    control.inject_fault("cancelOrder", "429", seconds=20)
    with caplog.at_level(logging.INFO):
        response = trader.post(f"/orders/{order_key}/cancel/start")
    answer = response.json()
    assert (response.status_code, answer["state"], answer["code"], answer["next"]) == (
        503,
        "refused",
        "rate_limited",
        "retry",
    )
    assert 18 <= int(response["Retry-After"]) <= 21  # 20 s ahead
    assert CancelAttempt.objects.count() == 0  # nothing issued, nothing to sign
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytestmark_http
def test_another_wallets_attempt_is_refused(trader, keypair, order_key, django_user_model):
    started = start(trader, order_key)
    signed_b64 = sign_transaction(started["transaction"], keypair)
    intruder = Client()
    intruder.force_login(django_user_model.objects.create_user(username=str(Keypair().pubkey())))
    response = submit(intruder, started, signed_b64)
    assert response.status_code == 404  # the answer a made-up attempt gets
    assert response.json()["code"] == "attempt_not_found"
    assert control.count_calls("execute") == 0


@pytestmark_http
@pytest.mark.parametrize("step", ["start", "submit", "decline", "status"])
def test_missing_csrf_token_is_refused(trader, keypair, order_key, django_user_model, step):
    started = start(trader, order_key)
    url = {"start": f"/orders/{order_key}/cancel/start"}.get(step) or started[f"{step}_url"]
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(django_user_model.objects.get(username=str(keypair.pubkey())))
    response = strict.post(url, {"signed_transaction": sign_transaction(started["transaction"], keypair)})
    assert response.status_code == 403
    assert control.count_calls("cancelOrder") == 1  # only the attempt made above
    assert control.count_calls("execute") == 0
    assert CancelAttempt.objects.get(pk=started["attempt"]).state == A.ISSUED


@pytestmark_http
@pytest.mark.parametrize("step", ["start", "submit", "decline", "status"])
def test_a_session_that_ended_is_told_to_sign_in_again(trader, keypair, order_key, step):
    started = start(trader, order_key)
    assert (started["state"], started["next"]) == ("issued", None)
    url = {"start": f"/orders/{order_key}/cancel/start"}.get(step) or started[f"{step}_url"]
    trader.logout()
    response = trader.post(url, {"signed_transaction": sign_transaction(started["transaction"], keypair)})
    assert response.status_code == 403
    assert response.json() == {
        "state": "signed_out",
        "code": "signed_out",
        "message": messages.words("signed_out"),
        "next": "sign_in",
    }
    assert "no-store" in response["Cache-Control"]
    assert CancelAttempt.objects.get(pk=started["attempt"]).state == A.ISSUED
    assert control.count_calls("execute") == 0


@pytestmark_http
def test_changed_blockhash_or_wrong_key_is_refused_and_not_relayed(trader, keypair, order_key):
    started = start(trader, order_key)
    tx = VersionedTransaction.from_bytes(base64.b64decode(started["transaction"]))
    wrong_key = base64.b64encode(bytes(signed(tx.message, Keypair()))).decode()
    answer = submit(trader, started, wrong_key)
    assert answer.status_code == 400
    assert answer.json()["code"] == "signature_mismatch"
    assert control.count_calls("execute") == 0
    # The attempt is still usable with the right signature.
    assert submit(trader, started, sign_transaction(started["transaction"], keypair)).json()["state"] == "succeeded"


@pytestmark_http
def test_expired_attempt_offers_a_fresh_one(trader, keypair, order_key):
    started = start(trader, order_key)
    CancelAttempt.objects.filter(pk=started["attempt"]).update(issued_at=timezone.now() - timedelta(seconds=80))
    response = submit(trader, started, sign_transaction(started["transaction"], keypair))
    answer = response.json()
    assert response.status_code == 409
    assert (answer["code"], answer["next"]) == ("transaction_expired", "retry")
    assert control.count_calls("execute") == 0
    fresh = start(trader, order_key)
    assert submit(trader, fresh, sign_transaction(fresh["transaction"], keypair)).json()["state"] == "succeeded"


@pytestmark_http
@pytest.mark.parametrize(
    ("fault", "code"),
    [("failed", "cancel_failed"), ("insufficient_funds", "insufficient_funds")],
)
def test_execute_answering_failed_is_a_failure(trader, keypair, order_key, fault, code):
    started = start(trader, order_key)
    control.inject_fault("execute", fault)
    answer = submit(trader, started, sign_transaction(started["transaction"], keypair)).json()
    assert (answer["state"], answer["code"], answer["next"]) == ("failed", code, "retry")
    assert control.get_order(order_key)["status"] == "active"


@pytestmark_http
def test_execute_timeout_is_pending_then_reconciled(trader, keypair, order_key, settings):
    settings.JUPITER_TIMEOUT_SECONDS = 1.0
    started = start(trader, order_key)
    control.inject_fault("execute", "timeout", seconds=2)
    answer = submit(trader, started, sign_transaction(started["transaction"], keypair)).json()
    assert (answer["state"], answer["code"]) == ("pending", "still_confirming")
    status = trader.post(f"/cancels/{started['attempt']}/status").json()
    assert status["state"] == "succeeded"
    assert control.count_calls("execute") == 1
    attempt = CancelAttempt.objects.get(pk=started["attempt"])
    assert attempt.signature == control.get_order(order_key)["closeTx"]


@pytestmark_http
def test_cancel_order_timeout_offers_a_fresh_try(trader, order_key, settings):
    settings.JUPITER_TIMEOUT_SECONDS = 1.0
    control.inject_fault("cancelOrder", "timeout", seconds=2)
    response = trader.post(f"/orders/{order_key}/cancel/start")
    assert response.status_code == 502
    answer = response.json()
    assert (answer["code"], answer["next"]) == ("unavailable", "retry")  # nothing signed or sent: a fresh try is safe
    assert CancelAttempt.objects.count() == 0


@pytestmark_http
def test_declining_in_the_wallet_ends_the_attempt(trader, order_key):
    started = start(trader, order_key)
    answer = trader.post(started["decline_url"]).json()
    assert (answer["state"], answer["code"], answer["next"]) == ("failed", "declined", "retry")
    assert CancelAttempt.objects.get(pk=started["attempt"]).state == A.FAILED
    assert control.count_calls("execute") == 0


@pytestmark_http
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.one_of(st.text(max_size=3000), st.binary(max_size=1400).map(lambda b: base64.b64encode(b).decode())))
def test_fuzzed_submissions_never_500_and_never_relay(trader, order_key, payload):
    started = start(trader, order_key)
    response = submit(trader, started, payload)
    assert response.status_code == 400
    assert response.json()["state"] == "refused"
    assert control.count_calls("execute") == 0


@pytestmark_http
@pytest.mark.parametrize(
    ("payload", "code"), [("", "signed_transaction_missing"), ("A" * 5000, "signed_transaction_too_large")]
)
def test_a_form_the_bridge_cannot_have_sent_is_refused_by_its_code(trader, order_key, payload, code):
    started = start(trader, order_key)
    response = submit(trader, started, payload)
    assert (response.status_code, response.json()["state"], response.json()["code"]) == (400, "refused", code)
    assert control.count_calls("execute") == 0


@pytestmark_http
def test_concurrent_submissions_of_one_attempt_relay_exactly_once(
    sandbox_upstream, keypair, order_key, client, at_once
):
    """Ten browsers' worth of submissions at once, through the threaded live server."""
    started = start(client, order_key)
    signed_b64 = sign_transaction(started["transaction"], keypair)
    session = requests.Session()
    session.cookies.update({k: v.value for k, v in client.cookies.items()})
    csrf = client.get("/orders/").cookies.get("csrftoken") or client.cookies.get("csrftoken")
    token = csrf.value
    session.cookies.set("csrftoken", token)

    def post() -> int:
        reply = session.post(
            f"{sandbox_upstream.url}{started['submit_url']}",
            data={"signed_transaction": signed_b64},
            headers={"X-CSRFToken": token, "Referer": sandbox_upstream.url},
            timeout=30,
        )
        return reply.status_code

    answers = at_once(10, post)
    assert sorted(answers) == [200] + [409] * 9
    assert control.count_calls("execute") == 1
    assert CancelAttempt.objects.get(pk=started["attempt"]).state == A.SUCCEEDED


@pytestmark_http
@pytest.mark.parametrize("count", [1, 25])
def test_a_visit_view_cancel_view_costs_at_most_ceil_n_over_10_plus_3_calls(trader, keypair, count):
    control.seed_wallet(str(keypair.pubkey()), active=count, history=0)
    first = trader.get("/orders/active", **HTMX)
    key = first.context_data["orders"][0].order_key
    started = start(trader, key)
    assert submit(trader, started, sign_transaction(started["transaction"], keypair)).json()["state"] == "succeeded"
    again = trader.get("/orders/active", **HTMX)
    assert len(again.context_data["orders"]) == count - 1
    assert key not in {o.order_key for o in again.context_data["orders"]}
    assert control.count_calls() <= -(-count // 10) + 3


@pytestmark_http
def test_unreadable_execute_answer_is_pending_never_a_failure(trader, keypair, order_key):
    started = start(trader, order_key)
    control.inject_fault("execute", "nonjson")
    answer = submit(trader, started, sign_transaction(started["transaction"], keypair)).json()
    assert answer["state"] == "pending"
    assert answer["next"] == "wait"  # never "retry": it may have landed
    assert control.count_calls("execute") == 1
    # Still within the blockhash's life and not closed: it stays pending, and nothing is re-sent.
    assert trader.post(started["status_url"]).json()["state"] == "pending"
    assert control.count_calls("execute") == 1


@pytestmark_http
def test_attempt_left_sending_by_a_dead_worker_is_settled(trader, keypair, order_key):
    started = start(trader, order_key)
    signed_b64 = sign_transaction(started["transaction"], keypair)
    attempt = CancelAttempt.objects.get(pk=started["attempt"])
    # The worker relayed it, then died before writing the answer down.
    reply = requests.post(
        f"{control_url()}/sandbox/recurring/v1/execute",
        json={"requestId": attempt.request_id, "signedTransaction": signed_b64},
        timeout=10,
    ).json()
    assert reply["status"] == "Success"
    CancelAttempt.objects.filter(pk=attempt.pk).update(
        state=A.SENDING, claimed_at=timezone.now() - timedelta(minutes=1)
    )
    answer = trader.post(started["status_url"]).json()
    assert answer["state"] == "succeeded"
    assert CancelAttempt.objects.get(pk=attempt.pk).signature == reply["signature"]
    # The recent-cancels list shows the settled outcome too.
    assert "Order cancelled" in trader.get("/orders/cancels", **HTMX).text


def control_url() -> str:
    from django.conf import settings as django_settings

    return django_settings.JUPITER_API_URL.removesuffix("/sandbox/recurring/v1")


# --- one cancel per order -----------------------------------------------------------------------


@pytestmark_http
def test_once_an_order_is_cancelled_its_other_attempts_are_closed_and_never_relayed(trader, keypair, order_key):
    first, second = start(trader, order_key), start(trader, order_key)  # two tabs, say
    assert submit(trader, first, sign_transaction(first["transaction"], keypair)).json()["state"] == "succeeded"
    closed = CancelAttempt.objects.get(pk=second["attempt"])
    assert (closed.state, closed.code) == (A.REFUSED, "not_needed")
    assert trader.post(second["status_url"]).json()["next"] == "refresh"  # the page's list is out of date
    late = submit(trader, second, sign_transaction(second["transaction"], keypair))
    assert late.status_code == 409
    assert control.count_calls("execute") == 1


@pytestmark_http
def test_an_attempt_for_an_order_cancelled_by_another_is_refused_at_submit(trader, keypair, order_key):
    first, second = start(trader, order_key), start(trader, order_key)
    assert submit(trader, first, sign_transaction(first["transaction"], keypair)).json()["state"] == "succeeded"
    # Left open (as by a version that did not close it): the submission itself refuses it.
    CancelAttempt.objects.filter(pk=second["attempt"]).update(state=A.ISSUED, outcome="", finished_at=None)
    late = submit(trader, second, sign_transaction(second["transaction"], keypair))
    assert late.status_code == 409
    assert (late.json()["code"], late.json()["next"]) == ("already_cancelled", "refresh")
    assert CancelAttempt.objects.get(pk=second["attempt"]).state == A.REFUSED
    assert control.count_calls("execute") == 1


@pytestmark_http
def test_an_attempt_is_not_relayed_while_another_for_its_order_is_confirming(trader, keypair, order_key):
    first, second = start(trader, order_key), start(trader, order_key)
    control.inject_fault("execute", "nonjson")  # the first one's answer is lost
    assert submit(trader, first, sign_transaction(first["transaction"], keypair)).json()["state"] == "pending"
    refused = submit(trader, second, sign_transaction(second["transaction"], keypair))
    assert refused.status_code == 409
    assert refused.json()["code"] == "in_flight"
    assert CancelAttempt.objects.get(pk=second["attempt"]).state == A.ISSUED
    assert control.count_calls("execute") == 1


def http_session(client: Client) -> tuple[requests.Session, str]:
    """A requests session carrying the test client's session cookie and a CSRF token."""
    session = requests.Session()
    session.cookies.update({k: v.value for k, v in client.cookies.items()})
    token = (client.get("/orders/").cookies.get("csrftoken") or client.cookies.get("csrftoken")).value
    session.cookies.set("csrftoken", token)
    return session, token


@pytestmark_http
def test_concurrent_submissions_of_two_attempts_for_one_order_relay_once(
    sandbox_upstream, keypair, order_key, client, at_once
):
    attempts = [start(client, order_key), start(client, order_key)]
    signed_b64 = {a["submit_url"]: sign_transaction(a["transaction"], keypair) for a in attempts}
    session, token = http_session(client)

    def post(thread: int) -> str:
        url = attempts[thread % 2]["submit_url"]  # five threads for each attempt
        reply = session.post(
            f"{sandbox_upstream.url}{url}",
            data={"signed_transaction": signed_b64[url]},
            headers={"X-CSRFToken": token, "Referer": sandbox_upstream.url},
            timeout=30,
        )
        return reply.json()["state"]

    states = at_once(10, post, numbered=True)
    assert sorted(states) == ["refused"] * 9 + ["succeeded"]
    assert control.count_calls("execute") == 1


# --- recording outcomes -------------------------------------------------------------------------


@pytestmark_http
def test_a_settle_made_while_the_relay_waits_is_never_overwritten(trader, keypair, order_key):
    started = start(trader, order_key)
    signed_b64 = sign_transaction(started["transaction"], keypair)
    control.inject_fault("execute", "timeout", seconds=2)  # the answer comes 2 s late, within the timeout
    answered: list[CancelAttempt] = []

    def relay_it() -> None:
        try:
            answered.append(relay.submit(str(keypair.pubkey()), started["attempt"], signed_b64))
        finally:
            connections.close_all()

    thread = threading.Thread(target=relay_it)
    thread.start()
    deadline = time.monotonic() + 20
    while control.count_calls("execute") == 0:  # logged before the late answer
        assert time.monotonic() < deadline, "execute was never called"
        time.sleep(0.05)
    # Meanwhile another worker settles it (as reconciling a stuck attempt would).
    CancelAttempt.objects.filter(pk=started["attempt"]).update(
        state=A.SUCCEEDED, outcome="Settled meanwhile.", upstream_status="Reconciled", finished_at=timezone.now()
    )
    thread.join(timeout=30)
    kept = CancelAttempt.objects.get(pk=started["attempt"])
    assert (kept.outcome, kept.upstream_status) == ("Settled meanwhile.", "Reconciled")
    assert kept.claimed_at is not None
    assert answered[0].outcome == "Settled meanwhile."  # the answer says what the database holds


# --- settling attempts whose answer was lost ----------------------------------------------------


def lost(wallet: str, order_key: str, *, age: int) -> CancelAttempt:
    """An attempt relayed `age` seconds ago whose answer never came."""
    issued = timezone.now() - timedelta(seconds=age)
    return CancelAttempt.objects.create(
        wallet=wallet,
        order_key=order_key,
        request_id=f"lost-{order_key[:8]}",
        message=b"",
        issued_at=issued,
        claimed_at=issued,
        state=A.PENDING,
        code="still_confirming",
    )


def close_upstream(order_key: str, *, by_user: bool) -> str:
    signature = str(Keypair().sign_message(order_key.encode()))
    SandboxOrder.objects.filter(order_key=order_key).update(
        status=SandboxOrder.Status.HISTORY, user_closed=by_user, close_tx=signature
    )
    return signature


@pytestmark_http
def test_every_lost_answer_ends_in_a_final_state_reading_each_list_once(trader, keypair):
    wallet = str(keypair.pubkey())
    cancelled, ended, running, gone = control.seed_wallet(wallet, active=4, history=0)
    trader.get("/orders/active", **HTMX)
    attempts = {key: lost(wallet, key, age=200) for key in (cancelled, ended, running, gone)}
    signature = close_upstream(cancelled, by_user=True)
    close_upstream(ended, by_user=False)
    SandboxOrder.objects.filter(order_key=gone).delete()
    before = control.count_calls("getRecurringOrders")
    answer = trader.post(f"/cancels/{attempts[running].pk}/status").json()
    assert control.count_calls("getRecurringOrders") - before == 2  # the history once, the active list once
    assert (answer["state"], answer["code"], answer["next"]) == ("failed", "never_landed", "retry")
    settled = {a.order_key: a for a in CancelAttempt.objects.filter(wallet=wallet)}
    assert settled[cancelled].state == A.SUCCEEDED
    assert settled[cancelled].signature == signature
    assert (settled[ended].state, settled[ended].code) == (A.FAILED, "ended_on_its_own")
    assert (settled[gone].state, settled[gone].code) == (A.FAILED, "not_listed")
    assert all(a.finished_at is not None for a in settled.values())
    assert trader.post(f"/cancels/{attempts[ended].pk}/status").json()["next"] is None  # nothing to cancel


@pytestmark_http
def test_a_lost_answer_within_the_blockhash_life_stays_pending(trader, keypair, order_key):
    attempt = lost(str(keypair.pubkey()), order_key, age=20)
    assert trader.post(f"/cancels/{attempt.pk}/status").json()["state"] == "pending"  # it may still land


@pytestmark_http
def test_the_recent_cancels_list_settles_only_on_post(trader, keypair, order_key):
    attempt = lost(str(keypair.pubkey()), order_key, age=200)
    close_upstream(order_key, by_user=True)
    before = control.count_calls()
    listed = trader.get("/orders/cancels", **HTMX)
    assert control.count_calls() == before  # a GET never asks Jupiter
    assert CancelAttempt.objects.get(pk=attempt.pk).state == A.PENDING
    assert 'hx-post="/orders/cancels/settle"' in listed.text  # the panel asks by POST
    settled = trader.post("/orders/cancels/settle", **HTMX)
    assert "Order cancelled" in settled.text
    assert "hx-post" not in settled.text  # nothing left to settle: the panel stops asking
    assert "orders-changed" in settled["HX-Trigger"]  # and the page's order lists refresh
    assert CancelAttempt.objects.get(pk=attempt.pk).state == A.SUCCEEDED
    assert trader.post("/orders/cancels/settle").url == "/orders/cancels"  # without htmx: back to the list
    assert trader.get("/orders/cancels/settle").status_code == 405
