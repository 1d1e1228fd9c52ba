"""The shared part of a cancel, the pure part: what helps after Jupiter refused to issue one,
and refusals that carry their code, words and Jupiter's wait."""

from __future__ import annotations

import pytest

from dashboard import attempts, messages, upstream


@pytest.mark.parametrize(
    ("error", "step"),
    [
        (upstream.JupiterRejected("already_closed"), "refresh"),  # closed meanwhile: the list is out of date
        (upstream.OrderNotFound(), "refresh"),
        (upstream.JupiterRateLimited(retry_after=9), "retry"),  # nothing was signed or sent
        (upstream.JupiterUnavailable(), "retry"),
        (upstream.JupiterBadResponse(retryable=True), "retry"),
        (upstream.JupiterRejected("insufficient_funds"), None),
        (upstream.JupiterRejected(upstream_message="Bad order"), None),
    ],
)
def test_what_helps_after_jupiter_refused_to_issue_a_cancel(error, step):
    assert attempts.jupiter_step(error) == step


def test_a_refusal_by_jupiter_keeps_its_code_words_and_wait():
    refused = attempts.refused_by_jupiter(upstream.JupiterRateLimited(retry_after=9), "retry")
    assert (refused.code, refused.reason, refused.next_step, refused.retry_after) == (
        "rate_limited",
        "upstream",
        "retry",
        9,
    )
    assert refused.message == messages.rate_limited_words(9)


def test_a_refusal_of_ours_has_its_words_from_the_table():
    refused = attempts.CancelRefused("attempt_used", reason="conflict")
    assert (refused.message, refused.retry_after, refused.next_step) == (messages.words("attempt_used"), None, None)


def test_the_fee_ceiling_in_sol(settings):
    settings.MAX_PRIORITY_FEE_LAMPORTS = 17_000
    assert attempts.ceiling_sol() == "0.000017"
