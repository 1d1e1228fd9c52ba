"""Cancelling a Recurring v1 order: ask Jupiter for the cancel, check it, relay the signed one once.

`start` asks `cancelOrder` for the wallet's active order and checks what Jupiter issues
(`recurring_check.check_issued`) before the wallet sees it; `submit` checks what the wallet signed
(`recurring_check.check_signed`), claims the attempt (`attempts.claim`) and relays it with
`execute` exactly once. An answer that is lost or unreadable leaves the attempt pending: `settle`
reconciles it by re-reading the wallet's lists, never by posting again. The order keeps running
until the signed cancel lands, so a failed or declined attempt can simply be tried again.
"""

from __future__ import annotations

from datetime import datetime

from dashboard import attempts, recurring, tracking, transactions, upstream
from dashboard.attempts import SENT, UNSETTLED, CancelRefused, Issued
from dashboard.models import CancelAttempt, TrackedOrder
from dashboard.recurring_check import check_issued, check_signed, parse_transaction

A = CancelAttempt.State
SYSTEM = TrackedOrder.System.RECURRING


def cancellable(wallet: str, order_key: str) -> TrackedOrder:
    """The wallet's active order as last seen; refused (no upstream call) otherwise."""
    tracked = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key, system=SYSTEM).first()
    if tracked is None or tracked.status != "active":
        raise CancelRefused("not_active", reason="not_found", next_step="refresh")
    return tracked


def start(wallet: str, order_key: str, cancelled_text: str = "") -> Issued:
    """Ask Jupiter for the cancel transaction, check it, and record the attempt (`cancelled_text`
    is what the trader will read if it goes through; see `orders.OrderView.cancelled_text`)."""
    cancellable(wallet, order_key)
    try:
        issued = recurring.cancel_order(wallet, order_key)
    except upstream.OrderNotFound as exc:
        tracking.invalidate(wallet)
        raise CancelRefused(exc.code, reason="conflict", next_step="refresh") from None
    except upstream.JupiterError as exc:
        # Nothing was signed or sent: when Jupiter is busy or not answering (a timeout too), a
        # fresh try is safe and is what the message asks for.
        raise attempts.refused_by_jupiter(exc, attempts.jupiter_step(exc)) from None
    message = check_issued(issued.transaction, wallet, order_key)
    attempt = attempts.record_issued(wallet, order_key, SYSTEM, issued.request_id, message, cancelled_text)
    return Issued(attempt=attempt, transaction=issued.transaction)


def submit(attempt: CancelAttempt, signed_base64: str) -> CancelAttempt:
    """Check the signed transaction and relay it to Jupiter exactly once."""
    attempts.check_unused(attempt, expired_step="retry")
    raw = attempts.decode_base64(signed_base64)
    tx = parse_transaction(raw)
    check_signed(bytes(attempt.message), tx, attempt.wallet)
    attempts.claim(attempt, str(tx.signatures[0]), transactions.network_fee_lamports(tx.message))
    try:
        result = recurring.execute(attempt.request_id, raw)
    except (upstream.JupiterUnavailable, upstream.JupiterBadResponse) as exc:
        # No answer we can read: the transaction may or may not have landed. Never re-post.
        return attempts.finish(attempt, A.PENDING, "still_confirming", expected=SENT, error=str(exc))
    except upstream.JupiterError as exc:
        return attempts.failed_at_jupiter(attempt, exc)
    if result.succeeded:
        return attempts.succeed(attempt, result.signature, result.status, expected=SENT)
    tracking.invalidate(attempt.wallet)
    return attempts.finish(
        attempt,
        A.FAILED,
        upstream.known_code(result.error or "") or "cancel_failed",
        expected=SENT,
        error=result.error or "",
        upstream_status=result.status,
    )


def decline(attempt: CancelAttempt) -> CancelAttempt:
    """The trader declined in the wallet: nothing was signed or sent; the order keeps running."""
    return attempts.decline(attempt, "declined")


def next_step(attempt: CancelAttempt) -> str | None:
    """What the trader can do now; "retry" when the order is still active."""
    return attempts.next_step(attempt, "retry")


def settle(wallet: str, unsettled: list[CancelAttempt], now: datetime) -> int:
    """Settle v1 attempts by re-reading the wallet's v1 lists; how many ended.

    The history list is read once for all of them, and the active list once more when one is
    past its blockhash lifetime. An order closed by the wallet means the cancel succeeded; closed
    otherwise, it ended on its own; once the blockhash has expired, still active means the cancel
    never landed, and in neither list means it cannot be found. Every attempt ends in one of
    these states; while Jupiter cannot be read it stays pending.
    """
    tracking.expire(wallet, "history")
    history = tracking.list_orders(wallet, "history")
    if history.stale:
        return 0
    closed = {order.order_key: order for order in history.orders}
    ended, late = [], []
    for attempt in unsettled:
        order = closed.get(attempt.order_key)
        if order is not None and order.user_closed:
            ended.append(attempts.succeed(attempt, order.close_tx, "Reconciled", expected=UNSETTLED))
        elif order is not None:
            ended.append(
                attempts.finish(attempt, A.FAILED, "ended_on_its_own", expected=UNSETTLED, upstream_status="Reconciled")
            )
        elif now - attempt.issued_at > attempts.BLOCKHASH_LIFETIME:
            late.append(attempt)
    if late:
        tracking.expire(wallet, "active")
        active = tracking.list_orders(wallet, "active")
        live = {order.order_key for order in active.orders}
        for attempt in late if not active.stale else ():
            code = "never_landed" if attempt.order_key in live else "not_listed"
            ended.append(attempts.finish(attempt, A.FAILED, code, expected=UNSETTLED, upstream_status="Reconciled"))
    return len(ended)
