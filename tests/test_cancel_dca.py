"""Cancelling a Jupiter DCA (Trigger API v2) order through the views, against the sandbox over
real HTTP: the refund is checked before the wallet sees it, confirmed once, and lost answers are
settled by reading the order (the sandbox's call log says which upstream calls were made)."""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone
from django.utils.html import escape
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction

from dashboard import messages, trigger
from dashboard.models import CancelAttempt, DcaConnection, TrackedOrder
from dashboard.sandbox import control, trigger_seed
from dashboard.sandbox.trigger_transactions import HARMFUL_MODES

CANCELLED = "Order cancelled. 350 USDC not yet spent and about 0.002 SOL of account rent are back in your wallet."
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

A = CancelAttempt.State
HTMX = {"HTTP_HX_REQUEST": "true"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def trader(trader, keypair):
    """Signed in (the shared `trader`), connected to Jupiter's DCA with one signature, and the
    active list seen once."""
    text = trader.post("/orders/dca/challenge", {"type": "message"}, content_type="application/json").json()
    raw = text["challenge"].encode()
    answer = trader.post(
        "/orders/dca/verify",
        {"type": "message", "signedMessage": b64(raw), "signature": b64(bytes(keypair.sign_message(raw)))},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert trader.get("/orders/active", **HTMX).status_code == 200
    return trader


def order_id(wallet: str, name: str = "active") -> str:
    return trigger_seed.order_id(wallet, name)


def sign_own_slot(transaction_b64: str, keypair: Keypair, signer: Keypair | None = None) -> str:
    """What `solana:signTransaction` returns for a multi-signer transaction: only the wallet's slot
    filled (by `signer` instead, for a wallet signing with another key)."""
    tx = VersionedTransaction.from_bytes(base64.b64decode(transaction_b64))
    keys = list(tx.message.account_keys)
    slots = list(tx.signatures)
    slots[keys.index(keypair.pubkey())] = (signer or keypair).sign_message(to_bytes_versioned(tx.message))
    return b64(bytes(VersionedTransaction.populate(tx.message, slots)))


def start(trader, key: str):
    return trader.post(f"/orders/{key}/cancel/start")


def submit(trader, started: dict, signed: str):
    return trader.post(started["submit_url"], {"signed_transaction": signed})


def active_ids(trader) -> set[str]:
    return {o.order_key for o in trader.get("/orders/active", **HTMX).context_data["orders"]}


# --- the confirmation, before any call to Jupiter -------------------------------------------------


def test_the_confirmation_says_it_is_final_and_what_comes_back_before_any_call(trader, wallet):
    before = control.count_calls()
    page = trader.get(f"/orders/{order_id(wallet)}/cancel", **HTMX)
    text = " ".join(page.content.decode().split())
    assert "Jupiter stops this order as soon as you confirm, even if you then decline in your wallet" in text
    assert "the refund needs one approval" in text
    assert "Cancel this USDC → SOL DCA order (50 USDC every day)?" in text
    assert "The remaining 7 buys stop." in text
    assert "Back to your wallet with the cancel:" in text
    assert '<strong><span class="amount">350 USDC</span></strong> not yet spent' in text
    assert "Already in your wallet, and it stays there:" in text
    assert "network fee of about 0.000015 SOL (never more than 0.000215 SOL)" in text
    assert control.count_calls() == before  # reading it costs Jupiter nothing


# --- the whole cancel ----------------------------------------------------------------------------


def test_the_whole_cancel_confirms_once_and_the_order_leaves_the_list(trader, wallet, keypair):
    key = order_id(wallet)
    response = start(trader, key)
    assert response.status_code == 200, response.content
    started = response.json()
    assert started["system"] == "v2"
    assert started["code"] == "approve_refund"
    assert control.get_dca_order(key)["state"] == "withdrawing"  # stopped by the first call
    answer = submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()
    assert (answer["state"], answer["code"]) == ("succeeded", "cancelled"), answer
    assert answer["message"] == CANCELLED  # the card's own figures: what comes back
    (issued,) = control.dca_withdrawals(key)
    assert issued["confirmed"]
    assert answer["explorer_url"].endswith(issued["txSignature"])
    assert control.count_calls("dca-confirm") == 1
    assert control.get_dca_order(key)["state"] == "cancelled"
    assert key not in active_ids(trader)
    again = submit(trader, started, sign_own_slot(started["transaction"], keypair))
    assert again.status_code == 409
    assert control.count_calls("dca-confirm") == 1
    # the recent cancel requests and the CSV include it
    attempts = trader.get("/orders/cancels", **HTMX).content.decode()
    assert "Jupiter DCA" in attempts and "350 USDC not yet spent" in attempts
    export = b"".join(trader.get("/orders/export.csv").streaming_content).decode("utf-8-sig")
    rows = [row for row in csv.DictReader(io.StringIO(export)) if row["order"] == key]
    assert rows and {row["system"] for row in rows} == {TrackedOrder.System.DCA.label}
    # the refund's network fee is what the signed refund pays (three signatures and its priority fee),
    # the wallet's own cost in its column of its own, never a fee of the order
    (refund,) = [row for row in rows if row["kind"] == "refund"]
    # (the wallet's, in its own column since the exports' fix; the order's fee columns stay empty)
    fee = Decimal(refund["network_fee_sol (paid by your wallet)"])
    assert refund["fee_amount"] == "" and Decimal("0.000015") < fee <= Decimal("0.000015") + Decimal("0.0002")


@pytest.mark.parametrize("mode", ["transfer_checked"])
def test_a_good_transfer_checked_refund_goes_through(trader, wallet, keypair, mode):
    control.set_dca_withdrawal_mode(mode)
    started = start(trader, order_id(wallet, "token-2022")).json()
    answer = submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()
    assert answer["state"] == "succeeded", answer


def cancel_through(trader, keypair, key: str) -> tuple[dict, dict]:
    """(what start said before the wallet signed, what submit said once it was done)."""
    response = start(trader, key)
    assert response.status_code == 200, response.content
    started = response.json()
    answer = submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()
    assert (answer["state"], answer["code"]) == ("succeeded", "cancelled"), answer
    return started, answer


# Each benign shape, and what the trader reads before signing and after: built from the checked refund.
SHAPES = [
    ("active", "normal", False, "you receive 350 USDC.", CANCELLED),
    (
        "sol-input",
        "normal",
        False,
        "you receive about 1.25 SOL, Jupiter's figure.",
        "Order cancelled: you received about 1.25 SOL, Jupiter's figure, and about 0.002 SOL of account rent.",
    ),
    (
        "sol-input",
        "normal",
        True,  # a Solana RPC reads the wrapped-SOL account before the wallet signs
        "you receive 1.25 SOL.",
        "Order cancelled. 1.25 SOL not yet sold and about 0.002 SOL of account rent are back in your wallet.",
    ),
    (
        "sol-input",
        "sol_unwrap",
        False,
        "you receive 1.25 SOL.",
        "Order cancelled. 1.25 SOL not yet sold and about 0.002 SOL of account rent are back in your wallet.",
    ),
    (
        "token-2022",
        "normal",
        False,
        "you receive 90 PYUSD, less any transfer fee the token itself charges.",
        "Order cancelled: you received 90 PYUSD, less any transfer fee the token itself charges, "
        "and about 0.002 SOL of account rent.",
    ),
    (
        "token-2022",
        "transfer_fee",
        False,
        "you receive about 89.73 PYUSD after the token's own transfer fee.",
        "Order cancelled: you received about 89.73 PYUSD after the token's own transfer fee, "
        "and about 0.002 SOL of account rent.",
    ),
]


@pytest.mark.parametrize(("name", "mode", "rpc", "before", "after"), SHAPES)
def test_every_benign_refund_shape_is_cancelled_and_named_as_checked(
    trader, wallet, keypair, settings, sandbox_upstream, name, mode, rpc, before, after
):
    settings.SOLANA_RPC_URL = f"{sandbox_upstream.url}/sandbox/solana-rpc" if rpc else ""
    control.set_dca_withdrawal_mode(mode)
    key = order_id(wallet, name)
    started, answer = cancel_through(trader, keypair, key)
    assert started["message"] == f"Jupiter has stopped this order. Approve the refund in your wallet: {before}"
    assert answer["message"] == after
    (withdrawn,) = control.dca_withdrawals(key)
    assert withdrawn["confirmed"] and withdrawn["mode"] == mode
    assert control.count_calls("dca-confirm") == 1
    assert control.count_calls("solana-rpc") == (1 if rpc else 0)
    assert control.get_dca_order(key)["state"] == "cancelled"


def test_a_solana_rpc_not_answering_leaves_jupiters_figure_named_as_such(trader, wallet, settings, sandbox_upstream):
    settings.SOLANA_RPC_URL = f"{sandbox_upstream.url}/sandbox/solana-rpc"
    control.inject_fault("solana-rpc", "500")
    started = start(trader, order_id(wallet, "sol-input")).json()
    assert started["message"].endswith("you receive about 1.25 SOL, Jupiter's figure.")


def test_a_listing_older_than_the_last_buy_is_read_again_before_refusing(trader, wallet, keypair):
    # Our copy of the order predates its latest buy: more seemed to be left than Jupiter refunds.
    key = order_id(wallet)
    row = TrackedOrder.objects.get(order_key=key)
    per_round = int(row.snapshot["amountPerRound"])
    row.snapshot = {
        **row.snapshot,
        "inputAmountRemaining": str(int(row.snapshot["inputAmountRemaining"]) + per_round),
        "inputAmountUsed": str(int(row.snapshot["inputAmountUsed"]) - per_round),
    }
    row.save()
    before = control.count_calls("dca-order")
    _started, answer = cancel_through(trader, keypair, key)
    assert control.count_calls("dca-order") == before + 1  # read once more, now that it is stopped
    assert answer["message"] == CANCELLED  # the figure Jupiter's own order gives, as checked


# --- refusals before the wallet sees anything ------------------------------------------------------


@pytest.mark.parametrize("mode", HARMFUL_MODES)
def test_a_harmful_refund_is_refused_logged_and_never_offered(trader, wallet, mode, caplog):
    control.set_dca_withdrawal_mode(mode)
    key = order_id(wallet)
    with caplog.at_level(logging.INFO):
        response = start(trader, key)
    assert response.status_code == 502
    answer = response.json()
    assert answer["code"] == "refund_refused"
    assert "transaction" not in answer
    assert answer["next"] == "refresh"  # the order is stopped: the list shows it waiting for its refund
    (attempt,) = CancelAttempt.objects.all()
    assert (attempt.state, attempt.system, attempt.code) == (A.REFUSED, TrackedOrder.System.DCA, "refund_refused")
    (issued,) = control.dca_withdrawals(key)
    refusal = next(r for r in caplog.records if "refused the refund transaction" in r.getMessage())
    assert issued["requestId"] in refusal.getMessage()
    assert "gateway request id " in refusal.getMessage() and attempt.error in refusal.getMessage()
    token = DcaConnection.objects.get().token
    assert all(token not in r.getMessage() for r in caplog.records)
    assert control.count_calls("dca-confirm") == 0


@pytest.mark.parametrize("state", ["active", "withdrawing"])
def test_an_earn_while_you_wait_order_never_reaches_jupiters_cancel_by_any_url(trader, wallet, keypair, state):
    """Its refund carries Jupiter Lend instructions we cannot verify: refused on the server before any
    call to Jupiter, on every path (the confirmation, start, a finish of a stopped one), with the card's words."""
    key = order_id(wallet, "earn")
    if state == "withdrawing":  # stopped elsewhere (jup.ag), and listed so
        control.set_dca_state(key, "withdrawing")
        cache.clear()
        assert trader.get("/orders/active", **HTMX).status_code == 200
    earn = messages.words("earn_not_here")
    page = " ".join(trader.get(f"/orders/{key}/cancel", **HTMX).content.decode().split())
    assert escape(earn) in page and "jup.ag" in page
    assert "data-cancel-start" not in page  # nothing to press
    for _ in range(2):  # a stale page, a double click, a direct link: the same answer
        response = start(trader, key)
        assert response.status_code == 409
        answer = response.json()
        assert (answer["code"], answer["next"]) == ("earn_refused", None)
        assert answer["message"] == messages.words("earn_refused", earn=earn)
        assert "transaction" not in answer
    # No attempt exists to submit, decline or ask about: made-up ones are not this wallet's.
    for url in ("/cancels/1/submit", "/cancels/1/decline", "/cancels/1/status"):
        assert trader.post(url, {"signed_transaction": b64(b"x" * 64)}).status_code == 404
    assert CancelAttempt.objects.count() == 0
    assert control.count_calls("dca-cancel") == 0 and control.count_calls("dca-confirm") == 0
    assert control.get_dca_order(key)["state"] == state  # Jupiter never stopped it


def test_executing_is_a_plain_message_and_nothing_is_issued(trader, wallet):
    key = order_id(wallet)
    control.set_dca_state(key, "executing")
    response = start(trader, key)
    assert response.status_code == 502
    assert (response.json()["code"], response.json()["next"]) == ("order_executing", "retry")
    assert CancelAttempt.objects.count() == 0


def test_jupiter_not_knowing_the_order_refreshes_the_list(trader, wallet):
    stranger = str(Keypair().pubkey())
    trigger_seed.seed_wallet(stranger)
    foreign = order_id(stranger)
    row = TrackedOrder.objects.get(order_key=order_id(wallet))
    TrackedOrder.objects.create(
        wallet=wallet, order_key=foreign, system="v2", status="active", last_seen=row.last_seen, snapshot=row.snapshot
    )
    response = start(trader, foreign)
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["next"]) == ("dca_not_found", "refresh")
    assert control.get_dca_order(foreign)["state"] == "active"


def test_an_ended_connection_asks_to_connect_again_and_keeps_the_list(trader, wallet):
    (v1_key,) = control.seed_wallet(wallet, active=1, history=0)
    control.expire_dca_tokens()
    response = start(trader, order_id(wallet))
    assert response.status_code == 403
    assert (response.json()["code"], response.json()["next"]) == ("disconnected", "connect")
    assert DcaConnection.objects.get().token == ""  # forgotten: the page offers to connect again
    page = trader.get("/orders/active", **HTMX).content.decode()
    assert "Connect again" in page and order_id(wallet) in page  # the last-known orders stay listed
    assert f'data-order="{v1_key}"' in page  # and the v1 list, live


def test_not_one_of_the_wallets_active_orders_costs_no_call(trader, wallet):
    trader.get("/orders/history", **HTMX)  # seen, but in the history
    before = control.count_calls()
    response = start(trader, order_id(wallet, "cancelled"))
    assert response.status_code == 404
    assert control.count_calls() == before


# --- what the wallet signed -------------------------------------------------------------------------


def test_a_changed_or_foreign_signature_is_refused_before_jupiter(trader, wallet, keypair):
    started = start(trader, order_id(wallet)).json()
    other = submit(trader, started, sign_own_slot(started["transaction"], keypair, signer=Keypair()))
    assert other.status_code == 400
    tx = VersionedTransaction.from_bytes(base64.b64decode(started["transaction"]))
    slots = [keypair.sign_message(b"something else"), *list(tx.signatures)[1:]]
    forged = submit(trader, started, b64(bytes(VersionedTransaction.populate(tx.message, slots))))
    assert forged.status_code == 400
    assert submit(trader, started, "not base64!").status_code == 400
    assert control.count_calls("dca-confirm") == 0
    assert CancelAttempt.objects.get(pk=started["attempt"]).state == A.ISSUED


def test_a_stale_attempt_is_not_confirmed_and_offers_a_fresh_refund(trader, wallet, keypair):
    started = start(trader, order_id(wallet)).json()
    CancelAttempt.objects.filter(pk=started["attempt"]).update(issued_at=timezone.now() - timedelta(minutes=5))
    response = submit(trader, started, sign_own_slot(started["transaction"], keypair))
    assert response.status_code == 409
    assert response.json()["next"] == "finish"
    assert control.count_calls("dca-confirm") == 0


# --- stopped but not refunded ------------------------------------------------------------------------


def test_declining_leaves_it_stopped_and_finish_completes_it(trader, wallet, keypair):
    key = order_id(wallet)
    first = start(trader, key).json()
    declined = trader.post(first["decline_url"]).json()
    assert (declined["state"], declined["code"], declined["next"]) == ("failed", "refund_declined", "finish")
    page = trader.get("/orders/active", **HTMX).content.decode()
    assert "Cancelling — the refund still needs your approval" in page and "Finish the refund" in page
    second = start(trader, key).json()  # a fresh refund for the stopped order
    assert second["attempt"] != first["attempt"]
    answer = submit(trader, second, sign_own_slot(second["transaction"], keypair)).json()
    assert answer["state"] == "succeeded"
    assert [w["confirmed"] for w in control.dca_withdrawals(key)] == [False, True]


def test_a_refund_jupiter_no_longer_has_offers_a_fresh_one(trader, wallet, keypair):
    started = start(trader, order_id(wallet)).json()
    control.set_expiry(0)
    answer = submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()
    assert (answer["state"], answer["code"], answer["next"]) == ("failed", "withdrawal_not_in_cache", "finish")
    assert answer["explorer_url"] == ""  # it never landed: nothing to see on an explorer


def test_an_order_already_cancelled_elsewhere_is_read_not_guessed(trader, wallet, keypair):
    key = order_id(wallet)
    mine = start(trader, key).json()
    # jup.ag in another tab: a refund of its own, confirmed first, not through us
    token = DcaConnection.objects.get().token
    elsewhere = trigger.cancel(token, key)
    signed = base64.b64decode(sign_own_slot(b64(elsewhere.transaction), keypair))
    landed = trigger.confirm_cancel(token, key, signed, elsewhere.request_id)
    answer = submit(trader, mine, sign_own_slot(mine["transaction"], keypair)).json()
    assert answer["state"] == "succeeded"  # Jupiter said "not in cancellation state"; the order says cancelled
    assert answer["explorer_url"].endswith(landed.tx_signature)
    assert control.count_calls("dca-order") == 1


# --- lost answers ---------------------------------------------------------------------------------


def test_a_lost_confirm_answer_is_pending_then_settled_from_the_order(trader, wallet, keypair, settings):
    settings.JUPITER_TIMEOUT_SECONDS = 1.0
    key = order_id(wallet)
    started = start(trader, key).json()
    control.inject_fault("dca-confirm", "timeout", seconds=2)
    answer = submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()
    assert (answer["state"], answer["code"]) == ("pending", "still_confirming")
    status = trader.post(started["status_url"]).json()
    assert status["state"] == "succeeded"
    assert status["explorer_url"].endswith(control.dca_withdrawals(key)[0]["txSignature"])
    assert control.count_calls("dca-confirm") == 1  # settled by reading the order, never by posting again
    assert control.count_calls("dca-order") == 1


def test_a_lost_answer_of_a_refund_that_never_landed_offers_finish_once_expired(trader, wallet, keypair, settings):
    key = order_id(wallet)
    started = start(trader, key).json()
    control.inject_fault("dca-confirm", "502")
    answer = submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()
    assert answer["state"] == "pending"
    assert trader.post(started["status_url"]).json()["state"] == "pending"  # still withdrawing, not expired yet
    CancelAttempt.objects.filter(pk=started["attempt"]).update(issued_at=timezone.now() - timedelta(minutes=5))
    cache.delete(f"settle:{wallet}")
    settled = trader.post(started["status_url"]).json()
    assert (settled["state"], settled["code"], settled["next"]) == ("failed", "refund_never_landed", "finish")
    assert control.count_calls("dca-confirm") == 1


# --- concurrency ------------------------------------------------------------------------------------


def test_ten_concurrent_submissions_of_one_attempt_confirm_once(sandbox_upstream, trader, wallet, keypair, at_once):
    started = start(trader, order_id(wallet)).json()
    signed = sign_own_slot(started["transaction"], keypair)
    session = requests.Session()
    session.cookies.update({k: v.value for k, v in trader.cookies.items()})
    token = trader.get("/orders/").cookies.get("csrftoken") or trader.cookies.get("csrftoken")
    session.cookies.set("csrftoken", token.value)

    def post() -> int:
        reply = session.post(
            f"{sandbox_upstream.url}{started['submit_url']}",
            data={"signed_transaction": signed},
            headers={"X-CSRFToken": token.value, "Referer": sandbox_upstream.url},
            timeout=30,
        )
        return reply.status_code

    answers = at_once(10, post)
    assert sorted(answers) == [200] + [409] * 9
    assert control.count_calls("dca-confirm") == 1
    assert CancelAttempt.objects.get(pk=started["attempt"]).state == A.SUCCEEDED


def test_a_second_start_while_one_is_confirming_is_refused(trader, wallet, keypair, settings):
    key = order_id(wallet)
    started = start(trader, key).json()
    control.inject_fault("dca-confirm", "502")
    assert submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()["state"] == "pending"
    before = control.count_calls("dca-cancel")
    again = start(trader, key)
    assert again.status_code == 409 and again.json()["next"] == "wait"
    assert control.count_calls("dca-cancel") == before


# --- the rest of what Jupiter, the session or the order may answer ---------------------------------


def lose_the_answer(trader, wallet, keypair) -> dict:
    """A started and submitted refund whose confirm answer was lost (a 502): pending."""
    started = start(trader, order_id(wallet)).json()
    control.inject_fault("dca-confirm", "502")
    assert submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()["state"] == "pending"
    return started


def settle_now(trader, wallet, started: dict) -> dict:
    cache.delete(f"settle:{wallet}")  # past the 10-second pause between two reads
    return trader.post(started["status_url"]).json()


def make_late(started: dict) -> None:
    CancelAttempt.objects.filter(pk=started["attempt"]).update(issued_at=timezone.now() - timedelta(minutes=5))


def test_without_a_connection_nothing_is_asked_of_jupiter(trader, wallet, keypair):
    started = start(trader, order_id(wallet)).json()
    DcaConnection.objects.update(token="", ended="expired")
    before = control.count_calls()
    refused = submit(trader, started, sign_own_slot(started["transaction"], keypair))
    assert refused.status_code == 403 and refused.json()["next"] == "connect"
    again = start(trader, order_id(wallet, "price-band"))
    assert again.status_code == 403 and again.json()["next"] == "connect"
    assert control.count_calls() == before


def test_a_token_refused_at_confirm_asks_to_connect_again(trader, wallet, keypair):
    started = start(trader, order_id(wallet)).json()
    control.expire_dca_tokens()
    answer = submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()
    assert answer["state"] == "failed" and answer["next"] == "connect"
    assert DcaConnection.objects.get().token == ""
    assert control.get_dca_order(order_id(wallet))["state"] == "withdrawing"


def test_jupiter_busy_when_asked_to_stop_is_a_503_with_its_wait(trader, wallet, caplog):
    control.inject_fault("dca-cancel", "429", seconds=15)
    with caplog.at_level(logging.INFO):
        response = start(trader, order_id(wallet))
    answer = response.json()
    assert (response.status_code, answer["code"], answer["next"]) == (503, "rate_limited", "retry")
    assert 13 <= int(response["Retry-After"]) <= 16  # Jupiter's window resets 15 s ahead
    assert CancelAttempt.objects.count() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # logged at WARNING


def test_jupiter_busy_at_confirm_is_a_503_and_finish_offers_a_fresh_refund(trader, wallet, keypair, caplog):
    key = order_id(wallet)
    started = start(trader, key).json()
    control.inject_fault("dca-confirm", "429", seconds=15)
    with caplog.at_level(logging.INFO):
        response = submit(trader, started, sign_own_slot(started["transaction"], keypair))
    answer = response.json()
    assert (response.status_code, answer["state"], answer["code"], answer["next"]) == (
        503,
        "failed",
        "rate_limited",
        "finish",
    )
    assert 13 <= int(response["Retry-After"]) <= 16
    assert answer["explorer_url"] == ""  # nothing landed
    assert control.get_dca_order(key)["state"] == "withdrawing"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # the recent cancel requests say what happened; asking where it stands is an ordinary answer
    status = trader.post(started["status_url"])
    assert (status.status_code, status.json()["code"]) == (200, "rate_limited")


def test_jupiter_not_answering_the_cancel_offers_a_fresh_try(trader, wallet):
    control.inject_fault("dca-cancel", "502")
    response = start(trader, order_id(wallet))
    assert response.status_code == 502 and response.json()["next"] == "retry"
    row = TrackedOrder.objects.get(order_key=order_id(wallet))
    assert row.snapshot["state"] == "withdrawing"  # it may have stopped: the list says so until read again


@pytest.mark.parametrize("name", ["active", "sol-input"])
def test_a_short_refund_whose_numbers_agree_is_never_offered(trader, wallet, name, settings, sandbox_upstream):
    settings.SOLANA_RPC_URL = f"{sandbox_upstream.url}/sandbox/solana-rpc"
    control.set_dca_withdrawal_mode("short_refund")
    response = start(trader, order_id(wallet, name))
    assert (response.status_code, response.json()["code"]) == (502, "refund_refused")
    (attempt,) = CancelAttempt.objects.all()
    assert attempt.error.startswith("refund_amount: ")
    assert control.count_calls("dca-confirm") == 0


def test_a_refused_refund_is_a_clear_recoverable_state_and_try_again_finishes_it(trader, wallet, keypair, caplog):
    key = order_id(wallet)
    control.set_dca_withdrawal_mode("refund_elsewhere")
    with caplog.at_level(logging.WARNING):
        response = start(trader, key)
    answer = response.json()
    assert (response.status_code, answer["code"], answer["next"]) == (502, "refund_refused", "refresh")
    assert answer["message"] == messages.words("refund_refused")
    # The server log holds Jupiter's request id and the decoded instructions, for an operator to report.
    (issued,) = control.dca_withdrawals(key)
    (line,) = [r.getMessage() for r in caplog.records if "refused the refund transaction" in r.getMessage()]
    assert issued["requestId"] in line and ": refund_destination: refund to another account" in line
    decoded = json.loads(line.split("; instructions: ", 1)[1])
    assert [ix["instruction"] for ix in decoded][2:] == ["Transfer", "CloseAccount"]
    assert any("(wallet)" in account for account in decoded[3]["accounts"])
    # The card: stopped, nothing left the wallet, the deposit in Jupiter's vault, Try again, jup.ag.
    panel = " ".join(trader.get("/orders/active", **HTMX).content.decode().split())
    card = panel.split(f'data-order="{key}"', 1)[1].split("</article>", 1)[0]
    assert escape(messages.words("refund_refused_card")) in card
    assert ">Try again</button>" in card and f"/orders/{key}/cancel/start" in card
    assert 'href="https://jup.ag/"' in card
    assert control.get_dca_order(key)["state"] == "withdrawing"
    # Jupiter builds a fresh refund each time: once it is one we can verify, Try again finishes it.
    control.set_dca_withdrawal_mode("normal")
    _started, done = cancel_through(trader, keypair, key)
    assert done["message"] == CANCELLED
    assert key not in active_ids(trader)
    assert [w["confirmed"] for w in control.dca_withdrawals(key)] == [False, True]


def test_an_order_that_has_ended_refreshes_the_list(trader, wallet):
    control.set_dca_state(order_id(wallet), "completed")
    response = start(trader, order_id(wallet))
    assert response.status_code == 502
    assert (response.json()["code"], response.json()["next"]) == ("cannot_cancel_now", "refresh")


def test_an_order_listed_for_another_wallet_is_never_offered(trader, wallet):
    row = TrackedOrder.objects.get(order_key=order_id(wallet))
    row.snapshot = {**row.snapshot, "userPubkey": str(Keypair().pubkey())}
    row.save()
    response = start(trader, order_id(wallet))
    assert (response.status_code, response.json()["code"]) == (502, "refund_refused")


def test_an_order_gone_at_confirm_refreshes_the_list(trader, wallet, keypair):
    from dashboard.sandbox.models import DcaOrder

    started = start(trader, order_id(wallet)).json()
    DcaOrder.objects.filter(order_id=order_id(wallet)).delete()
    answer = submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()
    assert (answer["state"], answer["code"], answer["next"]) == ("failed", "dca_not_found", "refresh")


def test_settling_waits_without_a_token_or_an_answer(trader, wallet, keypair):
    started = lose_the_answer(trader, wallet, keypair)
    control.inject_fault("dca-order", "500", times=3)
    assert settle_now(trader, wallet, started)["state"] == "pending"  # Jupiter not answering
    DcaConnection.objects.update(token="", ended="expired")
    before = control.count_calls("dca-order")
    assert settle_now(trader, wallet, started)["state"] == "pending"  # cannot read v2 orders now
    assert control.count_calls("dca-order") == before


def test_settling_an_order_that_is_gone_or_ended(trader, wallet, keypair):
    from dashboard.sandbox.models import DcaOrder

    started = lose_the_answer(trader, wallet, keypair)
    control.set_dca_state(order_id(wallet), "completed")
    assert settle_now(trader, wallet, started)["code"] == "ended_on_its_own"

    other = start(trader, order_id(wallet, "price-band")).json()
    control.inject_fault("dca-confirm", "502")
    assert submit(trader, other, sign_own_slot(other["transaction"], keypair)).json()["state"] == "pending"
    DcaOrder.objects.filter(order_id=order_id(wallet, "price-band")).delete()
    assert settle_now(trader, wallet, other)["state"] == "pending"  # not found, but it could still land
    make_late(other)
    assert settle_now(trader, wallet, other)["code"] == "not_listed"


def test_an_earn_while_you_wait_order_is_not_offered_a_cancel_that_would_strand_its_refund(trader, wallet):
    """Its refund always carries Jupiter Lend instructions, which we cannot verify: offering Cancel
    would let Jupiter stop the order and then leave the refund to jup.ag. Say so before any call."""
    panel = trader.get("/orders/active", **HTMX).content.decode()
    earn = order_id(wallet, "earn")
    card = panel.split(f'data-order="{earn}"', 1)[1].split("</article>", 1)[0]
    assert "we do not cancel it here" in card
    assert f"/orders/{earn}/cancel" not in card
    active = order_id(wallet, "active")
    assert f"/orders/{active}/cancel" in panel  # the others keep their button
    assert control.count_calls("dca-cancel") == 0


def test_a_refund_that_is_not_the_listed_remainder_is_refused_when_the_order_cannot_be_read_again(trader, wallet):
    key = order_id(wallet)
    row = TrackedOrder.objects.get(order_key=key)
    row.snapshot = {**row.snapshot, "inputAmountRemaining": "1", "inputAmountInitial": None, "inputAmountUsed": None}
    row.save()
    control.inject_fault("dca-order", "500", times=3)
    response = start(trader, key)
    assert (response.status_code, response.json()["code"]) == (502, "refund_refused")
    assert CancelAttempt.objects.get().error.startswith("refund_amount: ")


def test_an_unreadable_listing_is_not_cancelled(trader, wallet):
    key = order_id(wallet)
    TrackedOrder.objects.filter(order_key=key).update(snapshot={"id": key})
    response = start(trader, key)
    assert (response.status_code, response.json()["code"]) == (404, "not_active")
    assert control.count_calls("dca-cancel") == 0


def test_a_token_we_know_nothing_about_is_refunded_without_a_figure(trader, wallet, keypair):
    from dashboard.sandbox.models import DcaOrder

    unknown = str(Keypair().pubkey())  # neither in the Tokens API nor in our own table
    key = order_id(wallet)
    DcaOrder.objects.filter(order_id=key).update(input_mint=unknown)
    row = TrackedOrder.objects.get(order_key=key)
    row.snapshot = {**row.snapshot, "inputMint": unknown}
    row.save()
    started, answer = cancel_through(trader, keypair, key)
    assert started["message"] == messages.words("approve_refund")
    assert answer["message"] == messages.words("cancelled")


# --- issue 20: the answer carries the list; stopped money first ----------------------------------


def panel_orders(html: str) -> list[str]:
    """The order cards of a rendered active list, in order."""
    return re.findall(r'<article class="order[^"]*" data-order="([^"]+)"', html)


def stopped_refunds(html: str) -> list[str]:
    """The orders the "stopped" line at the top offers to finish."""
    return re.findall(r'data-refund-of="([^"]+)"', html)


def counted(html: str) -> int:
    found = re.search(r'data-counted="(\d+)"', html)
    return int(found.group(1)) if found else 0


def test_a_stopped_order_comes_first_leaves_the_totals_and_shows_no_next_buy(trader, wallet):
    stopped = order_id(wallet, "withdrawing")
    response = trader.get("/orders/active")  # the page itself (htmx's copy may come from the cache)
    html = response.content.decode().split('<div class="panel-body">')[1]
    assert [v.order_key for v in response.context_data["stopped"]] == [stopped]
    assert stopped_refunds(html) == [stopped]
    assert html.index("data-stopped-count") < html.index('<article class="order')  # before every card
    assert f'data-cancel-start="/orders/{stopped}/cancel/start"' in html.split("<article")[0]
    assert counted(html) == len(panel_orders(html)) - 1  # every live order but the stopped one
    card = html.split(f'data-order="{stopped}"')[1].split("</article>")[0]
    assert "Next buy" not in card


def test_declining_the_refund_answers_with_the_list_naming_the_waiting_money(trader, wallet):
    key = order_id(wallet)
    before = counted(trader.get("/orders/active", **HTMX).content.decode())
    first = start(trader, key).json()
    declined = trader.post(first["decline_url"]).json()
    assert declined["state"] == "failed" and declined["next"] == "finish"
    assert set(stopped_refunds(declined["panel"])) == {key, order_id(wallet, "withdrawing")}
    assert key in panel_orders(declined["panel"])  # still listed, as stopped
    assert counted(declined["panel"]) == before - 1
    words = " ".join(re.sub(r"<[^>]+>", "", declined["panel"]).split())
    assert re.search(r"2 orders are stopped: 450 USDC \(≈ \$4\d\d\.\d\d\) waits for your approval\.", words)


def test_a_confirmed_cancel_answers_with_the_list_without_it(trader, wallet, keypair):
    key = order_id(wallet)
    before = trader.get("/orders/active", **HTMX).content.decode()
    started = start(trader, key).json()
    answer = submit(trader, started, sign_own_slot(started["transaction"], keypair)).json()
    assert answer["state"] == "succeeded"
    assert key not in panel_orders(answer["panel"])
    assert set(panel_orders(answer["panel"])) == set(panel_orders(before)) - {key}
    assert counted(answer["panel"]) == counted(before) - 1
    assert key not in active_ids(trader)  # and the list's own view agrees


def test_answers_that_change_nothing_carry_no_list(trader, wallet):
    control.set_dca_state(order_id(wallet), "executing")
    refused = start(trader, order_id(wallet))
    assert refused.status_code == 502 and "panel" not in refused.json()
