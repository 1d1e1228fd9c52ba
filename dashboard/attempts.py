"""The life of a cancel attempt, the same for both of Jupiter's systems.

A `CancelAttempt` is issued (the transaction the wallet is asked to sign is recorded), then
claimed in the database exactly once before anything is relayed — of all concurrent submissions
of one order's attempts only one gets past `claim`, and none once another is on its way or has
cancelled the order — then finished field by field (`finish`: a concurrent settle is never
overwritten). An order cancelled closes its other open attempts (`succeed`). An attempt whose
relay answer was lost stays unsettled until re-reading the order settles it; how each system
issues, checks, relays and settles lives beside it (`recurring_cancel`, `dca_cancel`), and
`relay` dispatches on the attempt's system.

Outcomes and refusals carry a stable code (`dashboard.messages` has their words); what the
trader can do next is decided on codes and states, never on words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dashboard import messages, tracking, transactions, upstream
from dashboard.models import ATTEMPT_LIFETIME, CancelAttempt, TrackedOrder
from dashboard.transactions import MAX_TX_BYTES

logger = logging.getLogger(__name__)

LAMPORTS_PER_SOL = 1_000_000_000
BLOCKHASH_LIFETIME = timedelta(seconds=150)  # after this a lost transaction can no longer land
SENDING_STUCK = timedelta(seconds=30)  # longer than any relay call may take (the read timeout)
RECHECK_SECONDS = 10  # unsettled attempts re-read their orders at most this often, per wallet

A = CancelAttempt.State
SENT = (A.SENDING,)  # what a relay's answer may settle
UNSETTLED = (A.PENDING, A.SENDING)  # what re-reading the order may settle
# Outcomes after which the list on the page is out of date: the order is closed or gone.
REFRESH_CODES = frozenset({"not_found", "dca_not_found", "already_closed", "already_cancelled", "not_needed"})


class CancelRefused(Exception):
    """A cancel step refused; nothing was relayed. `code`: what happened (`dashboard.messages`
    has its words, `message`). `reason`: "invalid" (what the browser sent does not check out),
    "not_found" (no such order or attempt for this wallet), "conflict" (already used, sent,
    closed or expired), "disconnected" (Jupiter's DCA needs the wallet's signature again) or
    "upstream" (Jupiter failed, or offered something we cannot vouch for). `next_step`: "retry"
    when a fresh attempt may succeed, "finish" when a v2 order is stopped and a fresh refund may
    succeed, "refresh" when the list is out of date, "connect" when the session must connect to
    Jupiter's DCA again, "wait" while another attempt is confirming, else None. `retry_after`:
    the seconds Jupiter asked us to wait (it was busy), when it said."""

    def __init__(
        self,
        code: str,
        *,
        reason: str,
        next_step: str | None = None,
        message: str = "",
        retry_after: int | None = None,
    ) -> None:
        self.code = code
        self.message = message or messages.words(code)
        super().__init__(self.message)
        self.reason = reason
        self.next_step = next_step
        self.retry_after = retry_after


def refused_by_jupiter(exc: upstream.JupiterError, next_step: str | None) -> CancelRefused:
    """Jupiter's error as a refusal: its code and words, and how long it asked us to wait."""
    return CancelRefused(
        exc.code, reason="upstream", next_step=next_step, message=exc.user_message, retry_after=exc.retry_after
    )


def jupiter_step(exc: upstream.JupiterError) -> str | None:
    """What helps after Jupiter refused to issue a cancel (nothing signed or sent): a fresh try
    when it was busy or not answering, a fresh list when the order is closed; else None."""
    if exc.code in REFRESH_CODES:
        return "refresh"
    if exc.retryable or isinstance(exc, (upstream.JupiterUnavailable, upstream.JupiterRateLimited)):
        return "retry"
    return None


def ceiling_sol() -> str:
    """The site's priority-fee ceiling in SOL, as a trader reads it."""
    return f"{(Decimal(settings.MAX_PRIORITY_FEE_LAMPORTS) / LAMPORTS_PER_SOL).normalize():f}"


def decode_base64(text: str) -> bytes:
    """The signed transaction the browser sent, strictly decoded."""
    try:
        return transactions.decode_base64(text, MAX_TX_BYTES, "signed transaction")
    except transactions.InvalidTransaction as exc:
        raise CancelRefused("invalid_transaction", reason="invalid", message=exc.message) from None


@dataclass(frozen=True)
class Issued:
    attempt: CancelAttempt
    transaction: bytes
    words: str = ""  # what the trader reads while the wallet asks, when the system says more than its code


def record_issued(
    wallet: str,
    order_key: str,
    system: str,
    request_id: str,
    message: bytes,
    cancelled_text: str,
    *,
    at: datetime | None = None,
    **ended: object,
) -> CancelAttempt:
    """An attempt begins: the cancel transaction Jupiter issued for the wallet's order (`message`:
    what the wallet will sign), recorded at `at` (now by default); `ended` records one refused at
    once (its state, code, outcome, finished_at, error)."""
    return CancelAttempt.objects.create(
        wallet=wallet,
        order_key=order_key,
        system=system,
        request_id=request_id,
        message=message,
        issued_at=at or timezone.now(),
        cancelled_text=cancelled_text,
        **ended,
    )


def find(wallet: str, attempt_id: int) -> CancelAttempt:
    attempt = CancelAttempt.objects.filter(pk=attempt_id, wallet=wallet).first()
    if attempt is None:
        raise CancelRefused("attempt_not_found", reason="not_found")
    return attempt


def check_unused(attempt: CancelAttempt, *, expired_step: str) -> None:
    """The attempt still waits for the wallet and is fresh; an expired one is ended (its next
    step: `expired_step`)."""
    if attempt.state != A.ISSUED:
        raise CancelRefused("attempt_used", reason="conflict")
    if timezone.now() - attempt.issued_at > ATTEMPT_LIFETIME:
        CancelAttempt.objects.filter(pk=attempt.pk, state=A.ISSUED).update(
            state=A.EXPIRED,
            finished_at=timezone.now(),
            code="transaction_expired",
            outcome=messages.words("transaction_expired"),
        )
        raise CancelRefused("transaction_expired", reason="conflict", next_step=expired_step)


def claim(attempt: CancelAttempt, signature: str, fee_lamports: int | None = None) -> None:
    """Claim the attempt for relaying: of all concurrent submissions of this order's attempts,
    exactly one gets past this, and none once another one is on its way or has cancelled it."""
    now = timezone.now()
    refusal: CancelRefused | None = None
    with transaction.atomic():
        # One claim per order at a time: PostgreSQL locks the order's row, SQLite's write
        # transaction (IMMEDIATE) serialises on its own.
        TrackedOrder.objects.select_for_update().filter(wallet=attempt.wallet, order_key=attempt.order_key).first()
        others = CancelAttempt.objects.filter(wallet=attempt.wallet, order_key=attempt.order_key).exclude(pk=attempt.pk)
        states = set(others.filter(state__in=(A.SUCCEEDED, A.SENDING, A.PENDING)).values_list("state", flat=True))
        if A.SUCCEEDED in states:
            close_others(attempt.wallet, attempt.order_key, but=None, now=now)  # this one too
            refusal = CancelRefused("already_cancelled", reason="conflict", next_step="refresh")
        elif states:
            refusal = CancelRefused("in_flight", reason="conflict")
        elif not CancelAttempt.objects.filter(pk=attempt.pk, state=A.ISSUED).update(
            state=A.SENDING, claimed_at=now, signature=signature, network_fee_lamports=fee_lamports
        ):
            refusal = CancelRefused("already_sent", reason="conflict")
    if refusal is not None:
        raise refusal
    attempt.state, attempt.signature, attempt.claimed_at = A.SENDING, signature, now
    attempt.network_fee_lamports = fee_lamports


def close_others(wallet: str, order_key: str, *, but: int | None, now: datetime) -> None:
    """The order is cancelled: its attempts still waiting for the wallet are closed, never sent."""
    CancelAttempt.objects.filter(wallet=wallet, order_key=order_key, state=A.ISSUED).exclude(pk=but).update(
        state=A.REFUSED, finished_at=now, code="not_needed", outcome=messages.words("not_needed")
    )


def finish(
    attempt: CancelAttempt,
    state: str,
    code: str,
    *,
    expected: tuple[str, ...],
    message: str = "",
    error: str = "",
    upstream_status: str = "",
    signature: str = "",
) -> CancelAttempt:
    """Record an attempt's outcome (`code`, and its words unless `message` gives them) field by
    field, only while it is still in one of the `expected` states: a concurrent settle, and the
    claim's own fields, are never overwritten. The attempt as it now stands in the database."""
    fields: dict[str, object] = {
        "state": state,
        "code": code,
        "outcome": message or messages.words(code),
        "error": error[:2000],
        "upstream_status": upstream_status,
    }
    if state != A.PENDING:
        fields["finished_at"] = timezone.now()
    if signature:
        fields["signature"] = signature
    updated = CancelAttempt.objects.filter(pk=attempt.pk, state__in=expected).update(**fields)
    current = CancelAttempt.objects.get(pk=attempt.pk)
    if updated:
        logger.info("cancel attempt %s for order %s: %s (%s)", attempt.pk, attempt.order_key, state, code)
    else:
        logger.info("cancel attempt %s was settled meanwhile (%s); left as it is", attempt.pk, current.state)
    return current


def failed_at_jupiter(attempt: CancelAttempt, exc: upstream.JupiterError) -> CancelAttempt:
    """Jupiter refused the relay outright (nothing landed): the attempt failed with its code (and
    carries how long Jupiter asked us to wait, if it was busy)."""
    failed = finish(attempt, A.FAILED, exc.code, expected=SENT, message=exc.user_message, error=str(exc))
    if failed.state == A.FAILED and failed.code == exc.code:
        failed.retry_after = exc.retry_after
    return failed


def succeed(
    attempt: CancelAttempt, signature: str, upstream_status: str, *, expected: tuple[str, ...]
) -> CancelAttempt:
    """The order is cancelled: one commit records it, drops the order from the cached lists and
    closes the order's other open attempts."""
    with transaction.atomic():
        tracking.forget(attempt.wallet, attempt.order_key)
        settled = finish(
            attempt,
            A.SUCCEEDED,
            "cancelled",
            expected=expected,
            message=attempt.cancelled_text or messages.words("cancelled"),
            upstream_status=upstream_status,
            signature=signature,
        )
        close_others(attempt.wallet, attempt.order_key, but=attempt.pk, now=timezone.now())
    return settled


def decline(attempt: CancelAttempt, code: str) -> CancelAttempt:
    """The trader declined in the wallet: the attempt ends with `code`; nothing was signed or sent."""
    CancelAttempt.objects.filter(pk=attempt.pk, state=A.ISSUED).update(
        state=A.FAILED, finished_at=timezone.now(), code=code, outcome=messages.words(code)
    )
    attempt.refresh_from_db()
    return attempt


def unsettled(wallet: str, now: datetime) -> list[CancelAttempt]:
    """Attempts whose relay answer was lost, or whose worker died while sending."""
    stuck = Q(state=A.SENDING, claimed_at__lt=now - SENDING_STUCK)
    return list(CancelAttempt.objects.filter(Q(state=A.PENDING) | stuck, wallet=wallet))


def due_for_settling(wallet: str, now: datetime) -> list[CancelAttempt]:
    """The wallet's unsettled attempts, at most once per wallet every RECHECK_SECONDS however
    often the browser asks (else none)."""
    attempts = unsettled(wallet, now)
    if not attempts or not cache.add(f"settle:{wallet}", 1, RECHECK_SECONDS):
        return []
    return attempts


def next_step(attempt: CancelAttempt, retry_step: str) -> str | None:
    """What the trader can do about this attempt now: "wait" (the outcome is not known yet),
    "connect" (Jupiter's DCA refused the session's token), "refresh" (the order is closed or
    gone), `retry_step` when a fresh attempt could succeed, else None."""
    if attempt.state in UNSETTLED:
        return "wait"
    if attempt.code == "disconnected":
        return "connect"
    if attempt.code in REFRESH_CODES:
        return "refresh"
    if retry_helps(attempt):
        return retry_step
    return None


def retry_helps(attempt: CancelAttempt) -> bool:
    """Whether a fresh attempt could succeed: this one failed or expired, and the order is
    still one of the wallet's active orders as last seen."""
    return (
        attempt.state in (A.EXPIRED, A.FAILED)
        and TrackedOrder.objects.filter(wallet=attempt.wallet, order_key=attempt.order_key, status="active").exists()
    )
