"""Cancelling an order, as the views ask for it: a thin dispatcher on the order's system.

Recurring v1 orders are cancelled by `recurring_cancel` (its transaction checks in
`recurring_check`); Jupiter's DCA (Trigger API v2) orders by `dca_cancel` (its refund check in
`withdrawal`); both on one attempt lifecycle (`attempts`). The server only ever forwards a
transaction it issued for this wallet's order, signed by this wallet, while still fresh — and
claims the attempt in the database before relaying, so double clicks, retries, several workers or
several servers never send it twice. A relay whose answer is lost is reconciled by re-reading
the order, never by posting again.
"""

from __future__ import annotations

from django.utils import timezone

from dashboard import attempts, dca_cancel, recurring_cancel
from dashboard.attempts import LAMPORTS_PER_SOL, UNSETTLED, CancelRefused, Issued
from dashboard.models import CancelAttempt, TrackedOrder

__all__ = [
    "LAMPORTS_PER_SOL",
    "CancelRefused",
    "Issued",
    "decline",
    "find",
    "next_step",
    "reconcile",
    "refund_fee_lamports",
    "refused_refunds",
    "settle",
    "start",
    "submit",
]

System = TrackedOrder.System
refund_fee_lamports = dca_cancel.refund_fee_lamports
refused_refunds = dca_cancel.refused_refunds


def start(wallet: str, order_key: str, cancelled_text: str = "", token: str | None = None) -> Issued:
    """Ask Jupiter for the order's cancel (a v2 order: stop it and get its refund, with the
    session's `token`), check it, and record the attempt."""
    if TrackedOrder.objects.filter(wallet=wallet, order_key=order_key, system=System.DCA).exists():
        return dca_cancel.start(wallet, order_key, token, cancelled_text)
    return recurring_cancel.start(wallet, order_key, cancelled_text)


def submit(wallet: str, attempt_id: int, signed_base64: str, token: str | None = None) -> CancelAttempt:
    """Check the signed transaction and relay it to Jupiter exactly once (a v2 refund with the
    session's `token`)."""
    attempt = attempts.find(wallet, attempt_id)
    if attempt.system == System.DCA:
        return dca_cancel.submit(attempt, signed_base64, token)
    return recurring_cancel.submit(attempt, signed_base64)


def find(wallet: str, attempt_id: int) -> CancelAttempt:
    """The wallet's attempt as recorded (no upstream call); refused when it is not the wallet's."""
    return attempts.find(wallet, attempt_id)


def decline(wallet: str, attempt_id: int) -> CancelAttempt:
    """The trader declined in the wallet: the attempt ends, nothing was signed or sent."""
    attempt = attempts.find(wallet, attempt_id)
    if attempt.system == System.DCA:
        return dca_cancel.decline(attempt)
    return recurring_cancel.decline(attempt)


def next_step(attempt: CancelAttempt) -> str | None:
    """What the trader can do about this attempt now (see `attempts.next_step`)."""
    if attempt.system == System.DCA:
        return dca_cancel.next_step(attempt)
    return recurring_cancel.next_step(attempt)


def reconcile(wallet: str, attempt_id: int, token: str | None = None) -> CancelAttempt:
    """Where one attempt stands, after settling the wallet's unsettled attempts (`settle`)."""
    attempts.find(wallet, attempt_id)
    settle(wallet, token)
    return attempts.find(wallet, attempt_id)


def settle(wallet: str, token: str | None = None) -> int:
    """Settle the wallet's unsettled attempts by re-reading its orders, never by sending again
    (at most once per wallet every `attempts.RECHECK_SECONDS`); how many ended. v1 attempts
    together (`recurring_cancel.settle`); v2 attempts one read of the order each with the
    session's `token` (`dca_cancel.settle`; without one they stay pending)."""
    now = timezone.now()
    due = attempts.due_for_settling(wallet, now)
    recurring_attempts = [a for a in due if a.system != System.DCA]
    ended = recurring_cancel.settle(wallet, recurring_attempts, now) if recurring_attempts else 0
    for attempt in due:
        if attempt.system == System.DCA and dca_cancel.settle(attempt, token, now).state not in UNSETTLED:
            ended += 1
    return ended
