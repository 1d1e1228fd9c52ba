"""Jupiter's messages in plain words, and reading its JSON: one table, one set of helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard import upstream


@pytest.mark.parametrize(
    ("jupiter_says", "kind", "words"),
    [
        ("Failed to fill whole buffer", upstream.OrderNotFound, "already closed or could not be found"),
        ("Insufficient funds for the operation requested.", upstream.JupiterRejected, "enough SOL for the network fee"),
        ("Blockhash not found", None, "expired"),
        ("Transaction expired", None, "expired"),
        ("Transaction has already been processed", None, "already closed"),
        ("Too many requests", None, "too many requests"),
        # Trigger API v2 (DCA) cancel answers, word for word as Jupiter documents them
        ("Cannot cancel DCA order in 'executing' state", None, "A buy is running right now; try again in a minute"),
        ("Cannot cancel DCA order in 'completed' state", None, "cannot cancel this order in its current state"),
        ("Withdrawal transaction not found in cache. Please initiate cancel again.", None, "Finish the refund"),
        ("DCA order not in cancellation state", None, "not waiting for its refund"),
        ("No remaining funds to withdraw", None, "Nothing is left in this order to refund"),
        ("Invalid withdrawal transaction: Transaction signers modified", None, "did not accept your wallet"),
    ],
)
def test_known_messages_have_plain_words(jupiter_says, kind, words):
    found_kind, found_words = upstream.known_message(jupiter_says)
    assert found_kind is kind
    assert words in found_words
    assert upstream.plain_words(jupiter_says) == found_words


def test_an_unknown_message_has_no_words():
    assert upstream.known_message("Simulation failed") == (None, "")


def test_every_row_has_a_sentence():
    for needle, _kind, words in upstream.KNOWN_MESSAGES:
        assert needle == needle.lower()  # matched against the lowered message
        assert words.endswith((".", "again.", "try again.")) and words[0].isupper()


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
