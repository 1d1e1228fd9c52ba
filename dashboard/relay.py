"""Cancelling an order: check what Jupiter issues, check what the wallet signed, relay once.

The server only ever forwards a transaction it issued for this wallet's order,
signed by this wallet, while still fresh — and claims the attempt in the database
before relaying, so double clicks, retries, several workers or several servers
never send it twice. A relay whose answer is lost is reconciled by re-reading the
order, never by posting again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from solders.message import MessageV0, from_bytes_versioned, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard import recurring, tracking, transactions, upstream
from dashboard.models import ATTEMPT_LIFETIME, CancelAttempt, TrackedOrder
from dashboard.transactions import COMPUTE_BUDGET, MAX_TX_BYTES, read_message

logger = logging.getLogger(__name__)

DCA_PROGRAM = Pubkey.from_string("DCA265Vj8a9CEuX1eb1LWRnDT7uK6q1xMipnNyatn23M")
LIGHTHOUSE = Pubkey.from_string("L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95")
WALLET_INSERTED = {COMPUTE_BUDGET, LIGHTHOUSE}  # programs wallets may legitimately add

BLOCKHASH_LIFETIME = timedelta(seconds=150)  # after this a lost transaction can no longer land
SENDING_STUCK = timedelta(seconds=30)  # longer than any relay call may take (the read timeout)
RECHECK_SECONDS = 10  # a pending attempt re-reads the order at most this often

A = CancelAttempt.State

EXPIRED = "That took too long and the transaction expired — try again."
STILL_CONFIRMING = "Still confirming — don't send it again. We are checking the order's status."


class CancelRefused(Exception):
    """A cancel step refused with a message a trader understands. Nothing was relayed."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry  # a fresh attempt may succeed


# --- checking transactions ----------------------------------------------------------------------


def parse_transaction(raw: bytes) -> VersionedTransaction:
    try:
        return transactions.parse_transaction(raw)
    except transactions.InvalidTransaction as exc:
        raise CancelRefused(exc.message) from None


def decode_base64(text: str) -> bytes:
    try:
        return transactions.decode_base64(text, MAX_TX_BYTES, "signed transaction")
    except transactions.InvalidTransaction as exc:
        raise CancelRefused(exc.message) from None


def check_issued(raw: bytes, wallet: str, order_key: str) -> bytes:
    """Check Jupiter's unsigned cancel transaction; return the message bytes the wallet will sign."""
    bad = CancelRefused("Jupiter offered a cancel transaction we cannot vouch for, so we stopped. Nothing was sent.")
    try:
        tx = parse_transaction(raw)
        reading = read_message(tx.message)
    except (CancelRefused, ValueError):
        raise bad from None
    user = Pubkey.from_string(wallet)
    dca = [ix for ix in reading.instructions if ix.program == DCA_PROGRAM]
    if (
        reading.fee_payer != user
        or reading.signers != (user,)
        or any(ix.program not in (DCA_PROGRAM, COMPUTE_BUDGET) for ix in reading.instructions)
        or len(dca) != 1
        or len(dca[0].accounts) < 2
        or dca[0].accounts[0] != (wallet, True, True)
        or dca[0].accounts[1][:1] != (order_key,)
        or any(sig != Signature.default() for sig in tx.signatures)
    ):
        logger.warning("refused an issued cancel transaction for order %s", order_key)
        raise bad
    return to_bytes_versioned(tx.message)


def check_signed(issued: bytes, tx: VersionedTransaction, wallet: str) -> bytes:
    """The signed message is the issued one, or differs only by what wallets legitimately insert."""
    message = to_bytes_versioned(tx.message)
    user = Pubkey.from_string(wallet)
    if list(tx.message.account_keys[:1]) != [user] or tx.message.header.num_required_signatures != 1:
        raise CancelRefused("This transaction is not signed by your wallet alone. Nothing was sent.")
    if len(tx.signatures) != 1 or not tx.signatures[0].verify(user, message):
        raise CancelRefused(
            "Your wallet's signature does not match this transaction (was another account selected?). Nothing was sent."
        )
    if message == issued:
        return message
    changed = CancelRefused(
        "The transaction your wallet signed is not the one we prepared, so we did not send it. "
        "Nothing was sent — please try again."
    )
    try:
        before = read_message(from_bytes_versioned(issued))
        after = read_message(tx.message)
    except ValueError:
        raise changed from None
    if (
        after.fee_payer != before.fee_payer
        or after.signers != before.signers
        or after.blockhash != before.blockhash
        or after.lookups != before.lookups
        or isinstance(tx.message, MessageV0) != (issued[:1] == b"\x80")
    ):
        raise changed
    # Every issued instruction (compute-budget settings aside) is there, unchanged and in order;
    # anything added is a compute-budget or Lighthouse guard instruction.
    essential = [ix for ix in before.instructions if ix.program != COMPUTE_BUDGET]
    kept = [ix for ix in after.instructions if ix.program not in WALLET_INSERTED]
    if kept != essential:
        raise changed
    return message


# --- the attempt's life -------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    attempt: CancelAttempt
    transaction: bytes


def cancellable(wallet: str, order_key: str) -> TrackedOrder:
    """The wallet's active order as last seen; refused (no upstream call) otherwise."""
    tracked = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key).first()
    if tracked is None or tracked.status != "active":
        raise CancelRefused("This order is not one of your active orders. Refresh the list and try again.")
    return tracked


def start(wallet: str, order_key: str, refund_text: str = "") -> Issued:
    """Ask Jupiter for the cancel transaction, check it, and record the attempt."""
    cancellable(wallet, order_key)
    try:
        issued = recurring.cancel_order(wallet, order_key)
    except upstream.OrderNotFound as exc:
        tracking.invalidate(wallet)
        raise CancelRefused(exc.user_message + " The list will refresh.") from None
    except upstream.JupiterError as exc:
        raise CancelRefused(exc.user_message, retry=exc.retryable) from None
    message = check_issued(issued.transaction, wallet, order_key)
    attempt = CancelAttempt.objects.create(
        wallet=wallet,
        order_key=order_key,
        request_id=issued.request_id,
        message=message,
        issued_at=timezone.now(),
        refund=refund_text,
    )
    return Issued(attempt=attempt, transaction=issued.transaction)


def find(wallet: str, attempt_id: int) -> CancelAttempt:
    attempt = CancelAttempt.objects.filter(pk=attempt_id, wallet=wallet).first()
    if attempt is None:
        raise CancelRefused("We could not find that cancel request for your wallet. Nothing was sent.")
    return attempt


def submit(wallet: str, attempt_id: int, signed_base64: str) -> CancelAttempt:
    """Check the signed transaction and relay it to Jupiter exactly once."""
    attempt = find(wallet, attempt_id)
    if attempt.state != A.ISSUED:
        raise CancelRefused("This cancel request was already used. Start again if the order is still active.")
    if timezone.now() - attempt.issued_at > ATTEMPT_LIFETIME:
        CancelAttempt.objects.filter(pk=attempt.pk, state=A.ISSUED).update(
            state=A.EXPIRED, finished_at=timezone.now(), outcome=EXPIRED
        )
        raise CancelRefused(EXPIRED, retry=True)
    raw = decode_base64(signed_base64)
    tx = parse_transaction(raw)
    check_signed(bytes(attempt.message), tx, wallet)

    # Claim the attempt: of all concurrent submissions, exactly one gets past this line.
    claimed = CancelAttempt.objects.filter(pk=attempt.pk, state=A.ISSUED).update(
        state=A.SENDING, claimed_at=timezone.now(), signature=str(tx.signatures[0])
    )
    if claimed != 1:
        raise CancelRefused("This cancel request was already sent. We are not sending it twice.")
    attempt.state, attempt.signature = A.SENDING, str(tx.signatures[0])
    try:
        result = recurring.execute(attempt.request_id, raw)
    except (upstream.JupiterUnavailable, upstream.JupiterBadResponse) as exc:
        # No answer we can read: the transaction may or may not have landed. Never re-post.
        return finish(attempt, A.PENDING, STILL_CONFIRMING, error=str(exc))
    except upstream.JupiterError as exc:
        return finish(attempt, A.FAILED, failure_text(exc.upstream_message, exc.user_message), error=str(exc))
    if result.succeeded:
        attempt.signature = result.signature or attempt.signature
        with transaction.atomic():  # one commit for the outcome and the order leaving the list
            tracking.forget(wallet, attempt.order_key)
            return finish(attempt, A.SUCCEEDED, success_text(attempt), upstream_status=result.status)
    tracking.invalidate(wallet)
    return finish(
        attempt,
        A.FAILED,
        failure_text(result.error or "", ""),
        error=result.error or "",
        upstream_status=result.status,
    )


def decline(wallet: str, attempt_id: int) -> CancelAttempt:
    """The trader declined in the wallet: the attempt ends, nothing was signed or sent."""
    attempt = find(wallet, attempt_id)
    CancelAttempt.objects.filter(pk=attempt.pk, state=A.ISSUED).update(
        state=A.FAILED,
        finished_at=timezone.now(),
        outcome="You declined in your wallet, so nothing was sent. Your order keeps running.",
    )
    attempt.refresh_from_db()
    return attempt


def reconcile(wallet: str, attempt_id: int) -> CancelAttempt:
    """Settle an attempt whose relay answer was lost, by re-reading the order's status.

    Also settles one left "sending" by a worker that died after claiming it. Reads Jupiter
    at most once per attempt every RECHECK_SECONDS, however often the browser asks.
    """
    attempt = find(wallet, attempt_id)
    now = timezone.now()
    stuck = attempt.state == A.SENDING and attempt.claimed_at and now - attempt.claimed_at > SENDING_STUCK
    if attempt.state != A.PENDING and not stuck:
        return attempt
    if not cache.add(f"reconcile:{attempt.pk}", 1, RECHECK_SECONDS):
        return attempt
    tracking.expire(wallet, "history")
    history = tracking.list_orders(wallet, "history")
    if history.stale:
        return attempt
    closed = next((o for o in history.orders if o.order_key == attempt.order_key), None)
    if closed is not None and closed.user_closed:
        attempt.signature = closed.close_tx or attempt.signature
        with transaction.atomic():
            tracking.forget(wallet, attempt.order_key)
            return finish(attempt, A.SUCCEEDED, success_text(attempt), upstream_status="Reconciled")
    if closed is None and now - attempt.issued_at > BLOCKHASH_LIFETIME:
        # Not closed, and its blockhash has expired: it can no longer land.
        tracking.expire(wallet, "active")
        return finish(
            attempt,
            A.FAILED,
            "The cancel did not go through and can no longer land. Your order is still active — you can try again.",
            upstream_status="Reconciled",
        )
    return attempt


def finish(
    attempt: CancelAttempt, state: str, outcome: str, *, error: str = "", upstream_status: str = ""
) -> CancelAttempt:
    with transaction.atomic():
        attempt.state = state
        attempt.outcome = outcome
        attempt.error = error[:2000]
        attempt.upstream_status = upstream_status
        if state != A.PENDING:
            attempt.finished_at = timezone.now()
        attempt.save()
    logger.info("cancel attempt %s for order %s: %s", attempt.pk, attempt.order_key, state)
    return attempt


def success_text(attempt: CancelAttempt) -> str:
    back = f" {attempt.refund} {'is' if ' and ' not in attempt.refund else 'are'} back in your wallet."
    return "Order cancelled." + (back if attempt.refund and attempt.refund != "nothing" else "")


FAILURES = (
    (
        "insufficient funds",
        "Your wallet does not have enough SOL for the network fee. Add a little SOL and try again.",
    ),
    ("blockhash not found", EXPIRED),
    ("expired", EXPIRED),
    ("already", "This order was already closed. The list will refresh."),
    (
        "failed to fill whole buffer",
        "This order was already closed or could not be found. The list will refresh.",
    ),
    ("too many requests", "Jupiter is busy right now. Nothing was cancelled — wait a minute and try again."),
)


def failure_text(upstream_error: str, fallback: str) -> str:
    lowered = upstream_error.lower()
    for needle, text in FAILURES:
        if needle in lowered:
            return text
    return fallback or (
        "Jupiter could not cancel the order, so nothing changed: your order is still active. Try again in a minute."
    )
