"""dashboard/trigger.py against the sandbox's Trigger API v2 over real HTTP on loopback."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard import dca_auth, trigger, upstream
from dashboard.sandbox import control, trigger_seed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]


def connect(keypair: Keypair) -> trigger.AccessToken:
    """The message challenge, signed by the wallet, exchanged for a token."""
    challenge = trigger.request_challenge(str(keypair.pubkey()), trigger.MESSAGE)
    signature = keypair.sign_message(challenge.message.encode())
    return trigger.verify(str(keypair.pubkey()), signature=str(signature))


def test_message_challenge_and_verify_give_a_token_that_lasts_at_most_a_day(keypair, wallet):
    challenge = trigger.request_challenge(wallet, trigger.MESSAGE)
    assert dca_auth.check_challenge_text(challenge.message) == challenge.message
    before = datetime.now(timezone.utc)
    token = trigger.verify(wallet, signature=str(keypair.sign_message(challenge.message.encode())))
    assert token.value.count(".") == 2
    assert before + timedelta(hours=23) < token.expires_at <= datetime.now(timezone.utc) + timedelta(hours=24)
    assert control.count_calls("dca-challenge") == 1 and control.count_calls("dca-verify") == 1


def test_transaction_challenge_is_a_memo_with_a_compute_unit_price_and_its_signed_copy_gives_a_token(keypair, wallet):
    challenge = trigger.request_challenge(wallet, trigger.TRANSACTION)
    message_bytes = dca_auth.check_memo_transaction(challenge.transaction, wallet)
    tx = VersionedTransaction.from_bytes(challenge.transaction)
    signed = VersionedTransaction.populate(tx.message, [keypair.sign_message(message_bytes)])
    token = trigger.verify(wallet, signed_transaction=bytes(signed))
    assert token.expires_at > datetime.now(timezone.utc)


def test_a_wrong_signature_is_refused_by_jupiter_too(wallet):
    trigger.request_challenge(wallet, trigger.MESSAGE)
    with pytest.raises(upstream.JupiterRejected) as refused:
        trigger.verify(wallet, signature=str(Keypair().sign_message(b"something else")))
    assert not isinstance(refused.value, upstream.JupiterUnauthorized)  # no token was sent: not "connect again"
    # Jupiter's 400 "Challenge not found", as a code: the trader signs again.
    assert (refused.value.status, refused.value.code) == (400, "challenge_not_found")


def test_active_and_past_lists_hold_every_state(keypair, wallet):
    token = connect(keypair)
    active = trigger.list_orders(token.value, "active")
    past = trigger.list_orders(token.value, "history")
    assert {o.state for o in active.orders} == {"depositing", "active", "executing", "withdrawing"}
    assert {o.state for o in past.orders} == {"completed", "cancelled", "deposit_failed"}
    assert len(active.orders) == active.total == 8 and len(past.orders) == 3
    assert {o.listed for o in active.orders} == {"active"} and {o.listed for o in past.orders} == {"history"}
    assert all(o.user == wallet for o in (*active.orders, *past.orders))
    assert active.unreadable == past.unreadable == 0
    assert control.count_calls("dca-list") == 2  # limit=100: one call per list


def test_pagination_is_followed_with_every_order_once(keypair, wallet):
    token = connect(keypair)
    control.seed_dca_wallet(wallet, standard=True, extra_past=230)
    listing = trigger.list_orders(token.value, "history")
    assert len(listing.orders) == listing.total == 233
    assert len({o.id for o in listing.orders}) == 233
    assert control.count_calls("dca-list") == 3  # offsets 0, 100, 200
    small = trigger.list_orders(token.value, "history", limit=50, offset=100)
    assert len(small.orders) == 133
    assert control.count_calls("dca-list") == 3 + 3


def test_one_order_and_an_unknown_one(keypair, wallet):
    token = connect(keypair)
    order_id = trigger_seed.order_id(wallet, "price-band")
    order = trigger.get_order(token.value, order_id)
    assert order.id == order_id and order.order_type == "price_conditional" and order.listed == "active"
    with pytest.raises(upstream.OrderNotFound):
        trigger.get_order(token.value, "019f0530-0000-7000-8000-000000000000")
    with pytest.raises(upstream.OrderNotFound):  # refused before any call: not an order id
        trigger.get_order(token.value, "../auth/challenge")
    # Another wallet's order is not found either.
    other = connect(Keypair())
    with pytest.raises(upstream.OrderNotFound):
        trigger.get_order(other.value, order_id)


def test_an_expired_token_is_unauthorized(keypair):
    token = connect(keypair)
    control.expire_dca_tokens()
    with pytest.raises(upstream.JupiterUnauthorized) as refused:
        trigger.list_orders(token.value, "active")
    assert refused.value.status == 401
    assert refused.value.code == "token_refused"


def test_cancel_then_confirm_with_the_wallets_signature(keypair, wallet):
    token = connect(keypair)
    order_id = trigger_seed.order_id(wallet, "active")
    issued = trigger.cancel(token.value, order_id)
    assert issued.order_id == order_id and issued.request_id and issued.refund_amount > 0
    assert trigger.get_order(token.value, order_id).state == "withdrawing"  # final from step 1
    tx = VersionedTransaction.from_bytes(issued.transaction)
    signers = tx.message.account_keys[: tx.message.header.num_required_signatures]
    signatures = [
        keypair.sign_message(to_bytes_versioned(tx.message)) if key == keypair.pubkey() else Signature.default()
        for key in signers
    ]
    signed = VersionedTransaction.populate(tx.message, signatures)
    confirmed = trigger.confirm_cancel(token.value, order_id, bytes(signed), issued.request_id)
    assert confirmed.order_id == order_id and confirmed.tx_signature
    assert trigger.get_order(token.value, order_id).state == "cancelled"
    assert control.count_calls("dca-confirm") == 1


def test_cancelling_a_running_round_is_refused_with_jupiters_words(keypair, wallet):
    token = connect(keypair)
    with pytest.raises(upstream.JupiterRejected) as refused:
        trigger.cancel(token.value, trigger_seed.order_id(wallet, "executing"))
    assert "executing" in refused.value.upstream_message


def test_the_token_is_never_logged(keypair, caplog):
    caplog.set_level(logging.DEBUG)
    token = connect(keypair)
    trigger.list_orders(token.value, "active")
    control.expire_dca_tokens()
    with pytest.raises(upstream.JupiterUnauthorized):
        trigger.list_orders(token.value, "history")
    assert caplog.records
    assert all(token.value not in record.getMessage() for record in caplog.records)
