"""Jupiter's messages as codes, how long it asks us to wait, and reading its JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from dashboard import messages, upstream


@pytest.mark.parametrize(
    ("jupiter_says", "kind", "code"),
    [
        ("Failed to fill whole buffer", upstream.OrderNotFound, "not_found"),
        ("Insufficient funds for the operation requested.", upstream.JupiterRejected, "insufficient_funds"),
        ("Blockhash not found", None, "transaction_expired"),
        ("Transaction expired", None, "transaction_expired"),
        ("Transaction has already been processed", None, "already_closed"),
        ("Too many requests", None, "rate_limited"),
        # Trigger API v2 (DCA) answers, word for word as Jupiter documents them (or sends them)
        ("Challenge not found", None, "challenge_not_found"),
        ("Cannot cancel DCA order in 'executing' state", None, "order_executing"),
        ("Cannot cancel DCA order in 'completed' state", None, "cannot_cancel_now"),
        ("Withdrawal transaction not found in cache. Please initiate cancel again.", None, "withdrawal_not_in_cache"),
        ("DCA order not in cancellation state", None, "not_cancelling"),
        ("No remaining funds to withdraw", None, "nothing_left"),
        ("Invalid withdrawal transaction: Transaction signers modified", None, "refund_signature_refused"),
    ],
)
def test_known_messages_have_codes(jupiter_says, kind, code):
    assert upstream.known_message(jupiter_says) == (kind, code)
    assert upstream.known_code(jupiter_says) == code


def test_an_unknown_message_has_no_code():
    assert upstream.known_message("Simulation failed") == (None, "")


def test_every_row_is_lowercase_and_its_code_has_words():
    for needle, kind, code in upstream.KNOWN_MESSAGES:
        assert needle == needle.lower()  # matched against the lowered message
        error = (kind or upstream.JupiterError)(code)
        assert (error.code, error.user_message) == (code, messages.words(code))


def test_every_error_class_has_a_code_with_words():
    classes = [upstream.JupiterError, *upstream.JupiterError.__subclasses__(), upstream.JupiterUnauthorized]
    for kind in classes:
        error = kind()
        assert error.code == kind.code
        assert error.user_message  # its words, from dashboard.messages
    assert upstream.JupiterRejected(upstream_message="Bad thing").user_message == (
        messages.words("rejected", detail="Bad thing")
    )


def answered(status: int, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response._content = b'{"code": 429, "message": "Too many requests"}'
    return response


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7),
        ({"Retry-After": "0"}, 1),  # at least a second
        ({"Retry-After": "3600"}, 60),  # never past Jupiter's one-minute window
        ({"Retry-After": "7", "x-ratelimit-reset": "0"}, 7),  # Retry-After first
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1),  # an HTTP date, already past
        ({"x-ratelimit-reset": "0"}, 1),  # already past
        ({"x-ratelimit-reset": "nonsense"}, 60),
        ({"Retry-After": "soon"}, 60),
        ({}, 60),  # not said: Jupiter's whole window
    ],
)
def test_how_long_jupiter_asks_us_to_wait(headers, seconds):
    assert upstream.retry_after_seconds(answered(429, **headers)) == seconds


def test_a_429_is_rate_limited_with_the_wait_in_its_words():
    error = upstream.error_for(answered(429, **{"Retry-After": "12"}))
    assert isinstance(error, upstream.JupiterRateLimited)
    assert (error.code, error.retry_after, error.retryable) == ("rate_limited", 12, True)
    assert error.user_message == messages.rate_limited_words(12)


@pytest.mark.parametrize(
    ("value", "number"),
    [("12", 12), (" 7 ", 7), (3, 3), (True, None), ("1.5", None), (None, None), ("", None), ("\u00b2", None)],
)
def test_to_int(value, number):
    assert upstream.to_int(value) == number


@pytest.mark.parametrize(
    ("value", "number"),
    [("0.1", Decimal("0.1")), (2, Decimal(2)), (0.1, None), ("nan", None), ("x", None), (None, None), (False, None)],
)
def test_to_decimal_never_takes_floats(value, number):
    assert upstream.to_decimal(value) == number
