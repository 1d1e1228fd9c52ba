"""Cancelling: what Jupiter issues is checked, what the wallet signed is checked, relayed once."""

from __future__ import annotations

import base64
import threading
from datetime import timedelta

import pytest
import requests
from django.contrib.auth import get_user_model
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

from dashboard import recurring, relay
from dashboard.models import CancelAttempt
from dashboard.sandbox import control
from tests.wallet import sign_transaction, signed

A = CancelAttempt.State
HTMX = {"HTTP_HX_REQUEST": "true"}


# --- the whole cancel over HTTP endpoints, against the sandbox -----------------------------------


@pytest.fixture
def keypair():
    return Keypair()


@pytest.fixture
def trader(sandbox_upstream, client, keypair):
    user = get_user_model().objects.create_user(username=str(keypair.pubkey()))
    client.force_login(user)
    return client


@pytest.fixture
def order_key(trader, keypair):
    keys = control.seed_wallet(str(keypair.pubkey()), active=2, history=0)
    trader.get("/orders/active", **HTMX)  # the dashboard has seen the order
    return keys[0]


def start(client: Client, order_key: str) -> dict:
    response = client.post(f"/orders/{order_key}/cancel/start")
    return response.json()


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
    assert answer["state"] == "succeeded"
    assert answer["message"].startswith("Order cancelled.")
    assert "back in your wallet" in answer["message"]
    attempt = CancelAttempt.objects.get(pk=started["attempt"])
    assert attempt.signature in answer["explorer_url"]
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
    assert again.status_code == 409
    assert "already" in again.json()["message"]
    # A different valid signature over an allowed variant (the wallet changed the priority fee).
    reading = relay.read_message(VersionedTransaction.from_bytes(base64.b64decode(started["transaction"])).message)
    kept = [
        Instruction(ix.program, ix.data, [AccountMeta(Pubkey.from_string(a), s, w) for a, s, w in ix.accounts])
        for ix in reading.instructions
        if ix.program != relay.COMPUTE_BUDGET
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
    assert "not one of your active orders" in response.json()["message"]
    assert response.json()["next"] == "refresh"
    assert control.count_calls("cancelOrder") == 0


@pytestmark_http
def test_an_order_closed_elsewhere_meanwhile_is_refused_and_the_list_refreshes(trader, keypair, order_key):
    wallet = str(keypair.pubkey())
    closed_elsewhere = recurring.cancel_order(wallet, order_key)  # the trader cancelled it on jup.ag
    signed_b64 = sign_transaction(base64.b64encode(closed_elsewhere.transaction).decode(), keypair)
    assert recurring.execute(closed_elsewhere.request_id, base64.b64decode(signed_b64)).succeeded
    response = trader.post(f"/orders/{order_key}/cancel/start")
    assert response.status_code == 409
    assert response.json()["message"] == "This order is already closed or could not be found. The list will refresh."
    assert response.json()["next"] == "refresh"
    assert f'data-order="{order_key}"' not in trader.get("/orders/active", **HTMX).text


@pytestmark_http
def test_jupiter_refusing_the_relay_is_a_failure_in_plain_words(trader, keypair, order_key):
    started = start(trader, order_key)
    control.inject_fault("execute", "429")
    response = submit(trader, started, sign_transaction(started["transaction"], keypair))
    answer = response.json()
    assert (response.status_code, answer["state"], answer["next"]) == (200, "failed", "retry")
    assert answer["message"] == "Jupiter is busy right now (too many requests). Please try again in a moment."
    assert control.get_order(order_key)["status"] == "active"


@pytestmark_http
def test_another_wallets_attempt_is_refused(trader, keypair, order_key, django_user_model):
    started = start(trader, order_key)
    signed_b64 = sign_transaction(started["transaction"], keypair)
    intruder = Client()
    intruder.force_login(django_user_model.objects.create_user(username=str(Keypair().pubkey())))
    response = submit(intruder, started, signed_b64)
    assert response.status_code == 404  # the answer a made-up attempt gets
    assert "could not find" in response.json()["message"]
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
        "message": "You were signed out — sign in again.",
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
    assert "signature does not match" in answer.json()["message"]
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
    assert answer["message"] == relay.EXPIRED
    assert answer["next"] == "retry"
    assert control.count_calls("execute") == 0
    fresh = start(trader, order_key)
    assert submit(trader, fresh, sign_transaction(fresh["transaction"], keypair)).json()["state"] == "succeeded"


@pytestmark_http
@pytest.mark.parametrize(
    ("fault", "words"),
    [("failed", "could not cancel"), ("insufficient_funds", "enough SOL")],
)
def test_execute_answering_failed_is_a_failure(trader, keypair, order_key, fault, words):
    started = start(trader, order_key)
    control.inject_fault("execute", fault)
    answer = submit(trader, started, sign_transaction(started["transaction"], keypair)).json()
    assert answer["state"] == "failed"
    assert words in answer["message"]
    assert control.get_order(order_key)["status"] == "active"


@pytestmark_http
def test_execute_timeout_is_pending_then_reconciled(trader, keypair, order_key, settings):
    settings.JUPITER_TIMEOUT_SECONDS = 1.0
    started = start(trader, order_key)
    control.inject_fault("execute", "timeout", seconds=2)
    answer = submit(trader, started, sign_transaction(started["transaction"], keypair)).json()
    assert answer["state"] == "pending"
    assert "don't send it again" in answer["message"]
    status = trader.post(f"/cancels/{started['attempt']}/status").json()
    assert status["state"] == "succeeded"
    assert control.count_calls("execute") <= 1
    attempt = CancelAttempt.objects.get(pk=started["attempt"])
    assert attempt.signature == control.get_order(order_key)["closeTx"]


@pytestmark_http
def test_declining_in_the_wallet_ends_the_attempt(trader, order_key):
    started = start(trader, order_key)
    answer = trader.post(started["decline_url"]).json()
    assert "declined" in answer["message"]
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
def test_concurrent_submissions_of_one_attempt_relay_exactly_once(sandbox_upstream, keypair, order_key, client):
    """Ten browsers' worth of submissions at once, through the threaded live server."""
    started = start(client, order_key)
    signed_b64 = sign_transaction(started["transaction"], keypair)
    session = requests.Session()
    session.cookies.update({k: v.value for k, v in client.cookies.items()})
    csrf = client.get("/orders/").cookies.get("csrftoken") or client.cookies.get("csrftoken")
    token = csrf.value
    session.cookies.set("csrftoken", token)
    barrier = threading.Barrier(10)
    answers: list[int] = []

    def post() -> None:
        barrier.wait(timeout=10)
        reply = session.post(
            f"{sandbox_upstream.url}{started['submit_url']}",
            data={"signed_transaction": signed_b64},
            headers={"X-CSRFToken": token, "Referer": sandbox_upstream.url},
            timeout=30,
        )
        answers.append(reply.status_code)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=40)
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
