"""dashboard/trigger.py's own answers (challenge, token, cancel, confirm-cancel): pure parsing, every shape
Jupiter might send (beta API). The orders' are in test_dca_orders.py; the calls, against the sandbox, in
tests/test_trigger.py."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from dashboard import trigger
from dashboard.upstream import JupiterBadResponse

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=timezone.utc)


def jwt(payload: bytes) -> str:
    return f"eyJhbGciOiJIUzI1NiJ9.{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}.c2ln"


def test_the_message_challenge():
    text = "Sign this message to authenticate with Jupiter Trigger Order API: abc"
    assert trigger.parse_challenge({"type": "message", "challenge": text}, "message").message == text


def test_the_transaction_challenge():
    raw = bytes(range(40))
    assert trigger.parse_challenge({"transaction": base64.b64encode(raw).decode()}, "transaction").transaction == raw


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ([], "message"),
        ({"challenge": ""}, "message"),
        ({"challenge": 5}, "message"),
        ({"transaction": "not base64!"}, "transaction"),
        ({"transaction": ""}, "transaction"),
        ({"challenge": "text only"}, "transaction"),
    ],
)
def test_unreadable_challenges(data, kind):
    with pytest.raises(JupiterBadResponse):
        trigger.parse_challenge(data, kind)


def test_tokens():
    exp = int((NOW + timedelta(hours=3)).timestamp())
    token = trigger.parse_token({"token": jwt(f'{{"exp": {exp}}}'.encode())}, NOW)
    assert token.expires_at == NOW + timedelta(hours=3)
    for data in ({}, {"token": ""}, {"token": 42}, "eyJ"):
        with pytest.raises(JupiterBadResponse):
            trigger.parse_token(data, NOW)
    # A claim that cannot be a date falls back to the documented 24 hours.
    assert trigger.token_expiry(jwt(b'{"exp": 99999999999999999}'), NOW) == NOW + timedelta(hours=24)
    assert trigger.token_expiry(jwt(b"[1, 2]"), NOW) == NOW + timedelta(hours=24)


def test_cancel_answers():
    tx = base64.b64encode(b"\x01" * 10).decode()
    issued = trigger.parse_cancel(
        {"requestId": "r", "transaction": tx, "refundAmount": "90", "roundsRemaining": 2}, "o"
    )
    assert (issued.order_id, issued.request_id, issued.refund_amount, issued.rounds_remaining) == ("o", "r", 90, 2)
    assert issued.transaction == b"\x01" * 10
    for data in (None, {"transaction": tx}, {"requestId": "r"}, {"requestId": "r", "transaction": "%%%"}):
        with pytest.raises(JupiterBadResponse):
            trigger.parse_cancel(data, "o")


def test_confirm_answers():
    assert trigger.parse_confirmed({"id": "x", "txSignature": "sig"}, "o") == trigger.CancelConfirmed("x", "sig")
    assert trigger.parse_confirmed({"txSignature": "sig"}, "o").order_id == "o"
    for data in ({}, {"txSignature": ""}, ["sig"]):
        with pytest.raises(JupiterBadResponse):
            trigger.parse_confirmed(data, "o")


def test_requests_that_cannot_be_made():
    with pytest.raises(ValueError):
        trigger.request_challenge("wallet", "sms")
    with pytest.raises(ValueError):
        trigger.verify("wallet")
