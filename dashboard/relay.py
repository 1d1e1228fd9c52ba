"""Cancelling an order: check what Jupiter issues, check what the wallet signed, relay once.

Both systems share one lifecycle (`CancelAttempt`, claimed atomically, finished field by field,
settled by re-reading): Recurring v1 relays the signed cancel with `execute`; Jupiter's DCA
(Trigger API v2) has already stopped the order when it issues the refund (withdrawal) transaction,
which is checked by `dashboard.withdrawal` and relayed with `confirm-cancel`.

The server only ever forwards a transaction it issued for this wallet's order,
signed by this wallet, while still fresh — and claims the attempt in the database
before relaying, so double clicks, retries, several workers or several servers
never send it twice. A relay whose answer is lost is reconciled by re-reading the
order, never by posting again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from solders.message import MessageV0, from_bytes_versioned, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard import recurring, tokens, tracking, transactions, trigger, upstream, withdrawal
from dashboard.models import ATTEMPT_LIFETIME, CancelAttempt, TrackedOrder
from dashboard.transactions import COMPUTE_BUDGET, MAX_TX_BYTES, read_message

logger = logging.getLogger(__name__)

LAMPORTS_PER_SOL = 1_000_000_000
DCA_PROGRAM = Pubkey.from_string("DCA265Vj8a9CEuX1eb1LWRnDT7uK6q1xMipnNyatn23M")
CLOSE_DCA = bytes.fromhex("16072162a8b722f3")  # the DCA program's close instruction (it takes no arguments)
LIGHTHOUSE = Pubkey.from_string("L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95")
WALLET_INSERTED = {COMPUTE_BUDGET, LIGHTHOUSE}  # programs wallets may legitimately add

BLOCKHASH_LIFETIME = timedelta(seconds=150)  # after this a lost transaction can no longer land
SENDING_STUCK = timedelta(seconds=30)  # longer than any relay call may take (the read timeout)
RECHECK_SECONDS = 10  # a pending attempt re-reads the order at most this often

A = CancelAttempt.State

EXPIRED = upstream.TRANSACTION_EXPIRED  # the same words whether we or Jupiter noticed
STILL_CONFIRMING = "Still confirming — don't send it again. We are checking the order's status."
NOT_CANCELLED = (
    "Jupiter could not cancel the order, so nothing changed: your order is still active. Try again in a minute."
)
ALREADY_CANCELLED = "This order is already cancelled (by another cancel request), so this one was not sent."
NOT_NEEDED = "Not sent: the order was already cancelled by another cancel request."
IN_FLIGHT = (
    "Another cancel request for this order is still being confirmed, so this one was not sent. "
    "See how it ends under Recent cancel requests."
)
ENDED_ON_ITS_OWN = (
    "This order ended on its own (its buys were done, or it was closed elsewhere) before the cancel "
    "went through, so there was nothing left to cancel. See it under History."
)
NEVER_LANDED = "The cancel did not go through and can no longer land. Your order is still active — you can try again."
NOT_FOUND = (
    "The cancel can no longer land, and Jupiter lists this order neither as active nor in your history. "
    "Nothing more will be sent; refresh the list to see where it stands."
)
# Jupiter's DCA (Trigger API v2): the order stops when the refund is issued; only the refund is left.
V1, V2 = TrackedOrder.System.RECURRING, TrackedOrder.System.DCA
BASE_FEE_LAMPORTS = 5000  # per signature; the wallet pays for all three of a refund's signatures
REFUND_SIGNATURES = 3
STOPPED = "Cancelling — the refund still needs your approval."
DECLINED = "You declined in your wallet, so nothing was sent. Your order keeps running."
V2_DECLINED = (
    "You declined in your wallet. Jupiter has already stopped this order, so no more buys happen, "
    "but the refund still needs your approval: press “Finish the refund” when you are ready."
)
STOPPED_WAITING = "Jupiter has already stopped this order (no more buys); its refund waits in your list."
V2_NEVER_LANDED = (
    "The refund did not go through and can no longer land. Jupiter has stopped this order: "
    "press “Finish the refund” for a fresh refund transaction."
)
V2_NOT_FOUND = "This is not one of your Jupiter DCA orders, or it is already gone. The list will refresh."
V2_CONNECT = (
    "Your connection to Jupiter's DCA has ended. Connect again with the button above your orders "
    "(your list stays), then try again. Nothing was sent."
)
V2_IN_FLIGHT = "A refund for this order is still being confirmed — don't send it again. See Recent cancel requests."
UNAUTHORIZED = "Unauthorized"  # upstream_status of an attempt Jupiter refused for the session's token
SENT = (A.SENDING,)  # what a relay's answer may settle
UNSETTLED = (A.PENDING, A.SENDING)  # what re-reading the order may settle


class CancelRefused(Exception):
    """A cancel step refused with a message a trader understands. Nothing was relayed.

    `reason`: "invalid" (what the browser sent does not check out), "not_found" (no such order or
    attempt for this wallet), "conflict" (already used, sent, closed or expired), "disconnected"
    (Jupiter's DCA needs the wallet's signature again) or "upstream" (Jupiter failed, or offered
    something we cannot vouch for). `next_step`: "retry" when a fresh attempt may succeed,
    "finish" when a v2 order is stopped and a fresh refund may succeed, "refresh" when the list is
    out of date, "connect" when the session must connect to Jupiter's DCA again, else None.
    """

    def __init__(self, message: str, *, reason: str, next_step: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.next_step = next_step


# --- checking transactions ----------------------------------------------------------------------


def parse_transaction(raw: bytes) -> VersionedTransaction:
    try:
        return transactions.parse_transaction(raw)
    except transactions.InvalidTransaction as exc:
        raise CancelRefused(exc.message, reason="invalid") from None


def decode_base64(text: str) -> bytes:
    try:
        return transactions.decode_base64(text, MAX_TX_BYTES, "signed transaction")
    except transactions.InvalidTransaction as exc:
        raise CancelRefused(exc.message, reason="invalid") from None


def check_issued(raw: bytes, wallet: str, order_key: str) -> bytes:
    """Check Jupiter's unsigned cancel transaction; return the message bytes the wallet will sign."""
    bad = CancelRefused(
        "Jupiter offered a cancel transaction we cannot vouch for, so we stopped. Nothing was sent.", reason="upstream"
    )
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
        or dca[0].data != CLOSE_DCA
        or len(dca[0].accounts) < 2
        or dca[0].accounts[0] != (wallet, True, True)
        or dca[0].accounts[1][:1] != (order_key,)
        or any(sig != Signature.default() for sig in tx.signatures)
    ):
        logger.warning("refused an issued cancel transaction for order %s", order_key)
        raise bad
    try:
        fee = transactions.priority_fee_lamports(reading)
    except ValueError:
        raise bad from None
    if fee > settings.MAX_PRIORITY_FEE_LAMPORTS:
        logger.warning("refused an issued cancel transaction for order %s: priority fee %s lamports", order_key, fee)
        raise CancelRefused(fee_too_high("Jupiter offered a cancel transaction"), reason="upstream") from None
    return to_bytes_versioned(tx.message)


def fee_too_high(what: str) -> str:
    ceiling = Decimal(settings.MAX_PRIORITY_FEE_LAMPORTS) / LAMPORTS_PER_SOL
    return (
        f"{what} with a network fee above this site's limit of {ceiling.normalize():f} SOL, "
        "so we did not send it. Nothing was sent."
    )


def check_signed(issued: bytes, tx: VersionedTransaction, wallet: str) -> bytes:
    """The signed message is the issued one, or differs only by what wallets legitimately insert."""
    message = to_bytes_versioned(tx.message)
    user = Pubkey.from_string(wallet)
    if list(tx.message.account_keys[:1]) != [user] or tx.message.header.num_required_signatures != 1:
        raise CancelRefused("This transaction is not signed by your wallet alone. Nothing was sent.", reason="invalid")
    if len(tx.signatures) != 1 or not tx.signatures[0].verify(user, message):
        raise CancelRefused(
            "Your wallet's signature does not match this transaction (was another account selected?). "
            "Nothing was sent.",
            reason="invalid",
        )
    if message == issued:
        return message
    changed = CancelRefused(
        "The transaction your wallet signed is not the one we prepared, so we did not send it. "
        "Nothing was sent — please try again.",
        reason="invalid",
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
    # The wallet may set its own priority fee, up to the site's ceiling.
    try:
        fee = transactions.priority_fee_lamports(after)
    except ValueError:
        raise changed from None
    if fee > settings.MAX_PRIORITY_FEE_LAMPORTS:
        logger.warning("refused a signed cancel transaction: priority fee %s lamports", fee)
        raise CancelRefused(fee_too_high("Your wallet changed the transaction"), reason="invalid")
    return message


# --- the attempt's life -------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    attempt: CancelAttempt
    transaction: bytes


def cancellable(wallet: str, order_key: str) -> TrackedOrder:
    """The wallet's active order as last seen; refused (no upstream call) otherwise."""
    tracked = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key, system="v1").first()
    if tracked is None or tracked.status != "active":
        raise CancelRefused(
            "This order is not one of your active orders. Refresh the list and try again.",
            reason="not_found",
            next_step="refresh",
        )
    return tracked


def start(wallet: str, order_key: str, cancelled_text: str = "", token: str | None = None) -> Issued:
    """Ask Jupiter for the cancel transaction, check it, and record the attempt (`cancelled_text`
    is what the trader will read if it goes through; see `orders.OrderView.cancelled_text`).
    An order of Jupiter's DCA (v2) goes to `start_dca` with the session's `token`."""
    if TrackedOrder.objects.filter(wallet=wallet, order_key=order_key, system=V2).exists():
        return start_dca(wallet, order_key, token, cancelled_text)
    cancellable(wallet, order_key)
    try:
        issued = recurring.cancel_order(wallet, order_key)
    except upstream.OrderNotFound as exc:
        tracking.invalidate(wallet)
        closed = exc.user_message + " The list will refresh."
        raise CancelRefused(closed, reason="conflict", next_step="refresh") from None
    except upstream.JupiterError as exc:
        # Nothing was signed or sent: when Jupiter is not answering (a timeout too), a fresh
        # try is safe and is what the message asks for.
        retry = exc.retryable or isinstance(exc, (upstream.JupiterUnavailable, upstream.JupiterRateLimited))
        raise CancelRefused(exc.user_message, reason="upstream", next_step="retry" if retry else None) from None
    message = check_issued(issued.transaction, wallet, order_key)
    attempt = CancelAttempt.objects.create(
        wallet=wallet,
        order_key=order_key,
        request_id=issued.request_id,
        message=message,
        issued_at=timezone.now(),
        cancelled_text=cancelled_text,
    )
    return Issued(attempt=attempt, transaction=issued.transaction)


def find(wallet: str, attempt_id: int) -> CancelAttempt:
    attempt = CancelAttempt.objects.filter(pk=attempt_id, wallet=wallet).first()
    if attempt is None:
        raise CancelRefused(
            "We could not find that cancel request for your wallet. Nothing was sent.", reason="not_found"
        )
    return attempt


def submit(wallet: str, attempt_id: int, signed_base64: str, token: str | None = None) -> CancelAttempt:
    """Check the signed transaction and relay it to Jupiter exactly once (a v2 refund with the
    session's `token`)."""
    attempt = find(wallet, attempt_id)
    if attempt.state != A.ISSUED:
        raise CancelRefused(
            "This cancel request was already used. Start again if the order is still active.", reason="conflict"
        )
    if timezone.now() - attempt.issued_at > ATTEMPT_LIFETIME:
        CancelAttempt.objects.filter(pk=attempt.pk, state=A.ISSUED).update(
            state=A.EXPIRED, finished_at=timezone.now(), outcome=EXPIRED
        )
        raise CancelRefused(EXPIRED, reason="conflict", next_step="finish" if attempt.system == V2 else "retry")
    raw = decode_base64(signed_base64)
    if attempt.system == V2:
        return submit_dca(attempt, raw, token)
    tx = parse_transaction(raw)
    check_signed(bytes(attempt.message), tx, wallet)
    claim(attempt, str(tx.signatures[0]))
    try:
        result = recurring.execute(attempt.request_id, raw)
    except (upstream.JupiterUnavailable, upstream.JupiterBadResponse) as exc:
        # No answer we can read: the transaction may or may not have landed. Never re-post.
        return finish(attempt, A.PENDING, STILL_CONFIRMING, expected=SENT, error=str(exc))
    except upstream.JupiterError as exc:
        return finish(attempt, A.FAILED, exc.user_message, expected=SENT, error=str(exc))
    if result.succeeded:
        return succeed(attempt, result.signature, result.status, expected=SENT)
    tracking.invalidate(wallet)
    return finish(
        attempt,
        A.FAILED,
        upstream.plain_words(result.error or "") or NOT_CANCELLED,
        expected=SENT,
        error=result.error or "",
        upstream_status=result.status,
    )


def claim(attempt: CancelAttempt, signature: str) -> None:
    """Claim the attempt for relaying: of all concurrent submissions of this order's attempts,
    exactly one gets past this, and none once another one is on its way or has cancelled it."""
    now = timezone.now()
    refusal = ""
    with transaction.atomic():
        # One claim per order at a time: PostgreSQL locks the order's row, SQLite's write
        # transaction (IMMEDIATE) serialises on its own.
        TrackedOrder.objects.select_for_update().filter(wallet=attempt.wallet, order_key=attempt.order_key).first()
        others = CancelAttempt.objects.filter(wallet=attempt.wallet, order_key=attempt.order_key).exclude(pk=attempt.pk)
        states = set(others.filter(state__in=(A.SUCCEEDED, A.SENDING, A.PENDING)).values_list("state", flat=True))
        if A.SUCCEEDED in states:
            close_others(attempt.wallet, attempt.order_key, but=None, now=now)  # this one too
            refusal = ALREADY_CANCELLED
        elif states:
            refusal = IN_FLIGHT
        elif not CancelAttempt.objects.filter(pk=attempt.pk, state=A.ISSUED).update(
            state=A.SENDING, claimed_at=now, signature=signature
        ):
            refusal = "This cancel request was already sent. We are not sending it twice."
    if refusal:
        raise CancelRefused(refusal, reason="conflict")
    attempt.state, attempt.signature, attempt.claimed_at = A.SENDING, signature, now


def close_others(wallet: str, order_key: str, *, but: int | None, now: datetime) -> None:
    """The order is cancelled: its attempts still waiting for the wallet are closed, never sent."""
    CancelAttempt.objects.filter(wallet=wallet, order_key=order_key, state=A.ISSUED).exclude(pk=but).update(
        state=A.REFUSED, finished_at=now, outcome=NOT_NEEDED
    )


def succeed(
    attempt: CancelAttempt, signature: str, upstream_status: str, *, expected: tuple[str, ...]
) -> CancelAttempt:
    """The order is cancelled: one commit records it, drops the order from the cached lists and
    closes the order's other open attempts."""
    with transaction.atomic():
        tracking.forget(attempt.wallet, attempt.order_key)
        if attempt.system == V2:
            for status in tracking.STATUSES:
                tracking.expire_dca(attempt.wallet, status)
        settled = finish(
            attempt,
            A.SUCCEEDED,
            success_text(attempt),
            expected=expected,
            upstream_status=upstream_status,
            signature=signature,
        )
        close_others(attempt.wallet, attempt.order_key, but=attempt.pk, now=timezone.now())
    return settled


def decline(wallet: str, attempt_id: int) -> CancelAttempt:
    """The trader declined in the wallet: the attempt ends, nothing was signed or sent (a v2 order
    stays stopped, waiting for its refund)."""
    attempt = find(wallet, attempt_id)
    declined = V2_DECLINED if attempt.system == V2 else DECLINED
    CancelAttempt.objects.filter(pk=attempt.pk, state=A.ISSUED).update(
        state=A.FAILED, finished_at=timezone.now(), outcome=declined
    )
    attempt.refresh_from_db()
    return attempt


def reconcile(wallet: str, attempt_id: int, token: str | None = None) -> CancelAttempt:
    """Where one attempt stands, after settling the wallet's unsettled attempts (`settle`)."""
    find(wallet, attempt_id)
    settle(wallet, token)
    return find(wallet, attempt_id)


def unsettled(wallet: str, now: datetime) -> list[CancelAttempt]:
    """Attempts whose relay answer was lost, or whose worker died while sending."""
    stuck = Q(state=A.SENDING, claimed_at__lt=now - SENDING_STUCK)
    return list(CancelAttempt.objects.filter(Q(state=A.PENDING) | stuck, wallet=wallet))


def settle(wallet: str, token: str | None = None) -> int:
    """Settle the wallet's unsettled attempts by re-reading its orders, never by sending again;
    how many ended. v1 attempts: `settle_recurring`; v2 attempts: `settle_dca`, one read of the
    order each with the session's `token` (without one they stay pending).
    """
    now = timezone.now()
    attempts = unsettled(wallet, now)
    if not attempts or not cache.add(f"settle:{wallet}", 1, RECHECK_SECONDS):
        return 0
    recurring_attempts = [a for a in attempts if a.system != V2]
    ended = settle_recurring(wallet, recurring_attempts, now) if recurring_attempts else 0
    for attempt in attempts:
        if attempt.system == V2 and settle_dca(attempt, token, now).state not in UNSETTLED:
            ended += 1
    return ended


def settle_recurring(wallet: str, attempts: list[CancelAttempt], now: datetime) -> int:
    """Settle v1 attempts by re-reading the wallet's v1 lists.

    The history list is read once for all of them, and the active list once more when one is
    past its blockhash lifetime; at most once per wallet every RECHECK_SECONDS, however often
    the browser asks. An order closed by the wallet means the cancel succeeded; closed otherwise,
    it ended on its own; once the blockhash has expired, still active means the cancel never
    landed, and in neither list means it cannot be found. Every attempt ends in one of these
    states; while Jupiter cannot be read it stays pending.
    """
    tracking.expire(wallet, "history")
    history = tracking.list_orders(wallet, "history")
    if history.stale:
        return 0
    closed = {order.order_key: order for order in history.orders}
    ended, late = [], []
    for attempt in attempts:
        order = closed.get(attempt.order_key)
        if order is not None and order.user_closed:
            ended.append(succeed(attempt, order.close_tx, "Reconciled", expected=UNSETTLED))
        elif order is not None:
            ended.append(finish(attempt, A.FAILED, ENDED_ON_ITS_OWN, expected=UNSETTLED, upstream_status="Reconciled"))
        elif now - attempt.issued_at > BLOCKHASH_LIFETIME:
            late.append(attempt)
    if late:
        tracking.expire(wallet, "active")
        active = tracking.list_orders(wallet, "active")
        live = {order.order_key for order in active.orders}
        for attempt in late if not active.stale else ():
            outcome = NEVER_LANDED if attempt.order_key in live else NOT_FOUND
            ended.append(finish(attempt, A.FAILED, outcome, expected=UNSETTLED, upstream_status="Reconciled"))
    return len(ended)


def finish(
    attempt: CancelAttempt,
    state: str,
    outcome: str,
    *,
    expected: tuple[str, ...],
    error: str = "",
    upstream_status: str = "",
    signature: str = "",
) -> CancelAttempt:
    """Record an attempt's outcome field by field, only while it is still in one of the
    `expected` states: a concurrent settle, and the claim's own fields, are never overwritten.
    The attempt as it now stands in the database."""
    fields: dict[str, object] = {
        "state": state,
        "outcome": outcome,
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
        logger.info("cancel attempt %s for order %s: %s", attempt.pk, attempt.order_key, state)
    else:
        logger.info("cancel attempt %s was settled meanwhile (%s); left as it is", attempt.pk, current.state)
    return current


def next_step(attempt: CancelAttempt) -> str | None:
    """What the trader can do about this attempt now: "connect" (Jupiter's DCA refused the
    session's token), "finish" (a v2 order is stopped and waits for a fresh refund), "retry" (a
    v1 order is still active), "wait" (the outcome is not known yet), else None."""
    if attempt.state in UNSETTLED:
        return "wait"
    if attempt.system == V2 and attempt.state == A.FAILED and attempt.upstream_status == UNAUTHORIZED:
        return "connect"
    if attempt.system == V2 and attempt.outcome == V2_NOT_FOUND:
        return "refresh"
    if retry_helps(attempt):
        return "finish" if attempt.system == V2 else "retry"
    return None


def retry_helps(attempt: CancelAttempt) -> bool:
    """Whether a fresh attempt could succeed: this one failed or expired, and the order is
    still one of the wallet's active orders as last seen."""
    return (
        attempt.state in (A.EXPIRED, A.FAILED)
        and TrackedOrder.objects.filter(wallet=attempt.wallet, order_key=attempt.order_key, status="active").exists()
    )


def success_text(attempt: CancelAttempt) -> str:
    return attempt.cancelled_text or "Order cancelled."


# --- Jupiter's DCA (Trigger API v2): stop, check the refund, confirm it once -------------------


def refund_fee_lamports() -> tuple[int, int]:
    """What the wallet pays for a refund transaction, in lamports: (without a priority fee, at
    most). The wallet pays all three signatures; the priority fee never passes the ceiling."""
    base = BASE_FEE_LAMPORTS * REFUND_SIGNATURES
    return base, base + settings.MAX_PRIORITY_FEE_LAMPORTS


def stoppable(wallet: str, order_key: str) -> trigger.DcaOrder:
    """The wallet's active v2 order as last seen; refused (no upstream call) otherwise, or while
    one of its refunds is still being confirmed."""
    row = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key, system=V2, status="active").first()
    order = None
    if row is not None:
        try:
            order = tracking.parse_snapshot(row)
        except ValueError:
            order = None
    if not isinstance(order, trigger.DcaOrder):
        raise CancelRefused(
            "This order is not one of your active orders. Refresh the list and try again.",
            reason="not_found",
            next_step="refresh",
        )
    if CancelAttempt.objects.filter(wallet=wallet, order_key=order_key, state__in=UNSETTLED).exists():
        raise CancelRefused(V2_IN_FLIGHT, reason="conflict", next_step="wait")
    return order


def mark_stopped(wallet: str, order_key: str) -> None:
    """Jupiter has stopped the order (it is `withdrawing` now and never goes back): the lists are
    read again, and the last-known copy says so too."""
    row = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key, system=V2).first()
    if row is not None and isinstance(row.snapshot, dict) and row.snapshot.get("state") != "withdrawing":
        row.snapshot = {**row.snapshot, "state": "withdrawing", "displayState": "pending_withdraw"}
        row.save(update_fields=["snapshot"])
    for status in tracking.STATUSES:
        tracking.expire_dca(wallet, status)


def start_dca(wallet: str, order_key: str, token: str | None, cancelled_text: str = "") -> Issued:
    """Stop the order and get its refund transaction (`POST /orders/dca/cancel/{id}`; called for an
    order already `withdrawing`, a fresh one), check the refund before the wallet sees it, and
    record the attempt. A refund we cannot verify is recorded as refused and logged with
    Jupiter's request ids and the reason (never the token)."""
    order = stoppable(wallet, order_key)
    if not token:
        raise CancelRefused(V2_CONNECT, reason="disconnected", next_step="connect")
    try:
        issued = trigger.cancel(token, order_key)
    except upstream.JupiterUnauthorized:
        raise CancelRefused(V2_CONNECT, reason="disconnected", next_step="connect") from None
    except upstream.OrderNotFound:
        tracking.invalidate(wallet)
        raise CancelRefused(V2_NOT_FOUND, reason="not_found", next_step="refresh") from None
    except upstream.JupiterError as exc:
        # The order may be stopped even so (a lost answer): the lists are read again, and a fresh
        # try asks for a fresh refund, which is safe.
        if isinstance(exc, upstream.JupiterUnavailable):
            mark_stopped(wallet, order_key)
        busy = exc.user_message == upstream.DCA_EXECUTING
        retry = busy or exc.retryable or isinstance(exc, (upstream.JupiterUnavailable, upstream.JupiterRateLimited))
        gone = exc.user_message in (upstream.DCA_NOT_NOW, upstream.DCA_NOTHING_LEFT)
        if gone:
            tracking.invalidate(wallet)
        next_step = "retry" if retry else "refresh" if gone else None
        raise CancelRefused(exc.user_message, reason="upstream", next_step=next_step) from None
    gateway = upstream.last_gateway_request_id()
    mark_stopped(wallet, order_key)
    now = timezone.now()
    try:
        if order.user not in ("", wallet):
            raise withdrawal.WithdrawalRefused(
                withdrawal.UNVERIFIED, code=withdrawal.ORDER, reason="the order's userPubkey is another wallet"
            )
        input_token = tokens.get_tokens([order.input_mint]).get(order.input_mint)
        checked = withdrawal.check_withdrawal(
            issued.transaction,
            withdrawal.RefundOrder(
                wallet=wallet,
                vault=order.vault,
                input_mint=order.input_mint,
                remaining=order.raw_in_remaining,
                initial=order.raw_in_initial,
                used=order.raw_in_used,
                refund_amount=issued.refund_amount,
                input_token_program=(input_token.token_program or None) if input_token else None,
                input_decimals=input_token.decimals if input_token else None,
            ),
            max_priority_fee_lamports=settings.MAX_PRIORITY_FEE_LAMPORTS,
        )
        message = checked.message
    except withdrawal.WithdrawalRefused as refused:
        logger.warning(
            "refused the refund transaction of DCA order %s (cancel request %s, gateway request id %s): %s: %s; "
            "instructions: %s",
            order_key,
            issued.request_id,
            gateway,
            refused.code,
            refused.reason,
            json.dumps(refused.instructions),
        )
        CancelAttempt.objects.create(
            wallet=wallet,
            order_key=order_key,
            system=V2,
            request_id=issued.request_id,
            message=b"",
            issued_at=now,
            state=A.REFUSED,
            finished_at=now,
            outcome=f"{refused.message} {STOPPED_WAITING}",
            error=f"{refused.code}: {refused.reason}"[:2000],
            cancelled_text=cancelled_text,
        )
        raise CancelRefused(f"{refused.message} {STOPPED_WAITING}", reason="upstream", next_step="refresh") from None
    attempt = CancelAttempt.objects.create(
        wallet=wallet,
        order_key=order_key,
        system=V2,
        request_id=issued.request_id,
        message=message,
        issued_at=now,
        cancelled_text=cancelled_text,
    )
    return Issued(attempt=attempt, transaction=issued.transaction)


def submit_dca(attempt: CancelAttempt, raw: bytes, token: str | None) -> CancelAttempt:
    """Check the signed refund (the wallet's own signature over exactly the issued message, the
    fee within the ceiling) and confirm it with Jupiter once. A lost answer leaves the attempt
    pending, settled by `settle_dca`; a refusal leaves the order stopped, with "finish" to get a
    fresh refund."""
    if not token:
        raise CancelRefused(V2_CONNECT, reason="disconnected", next_step="connect")
    try:
        checked = withdrawal.check_signed_withdrawal(
            bytes(attempt.message), raw, attempt.wallet, max_priority_fee_lamports=settings.MAX_PRIORITY_FEE_LAMPORTS
        )
    except withdrawal.WithdrawalRefused as refused:
        logger.info("refused a signed refund for cancel attempt %s: %s", attempt.pk, refused.reason)
        raise CancelRefused(refused.message, reason="invalid") from None
    # check_withdrawal made the wallet the fee payer: its signature is the first.
    claim(attempt, str(VersionedTransaction.from_bytes(checked).signatures[0]))
    try:
        confirmed = trigger.confirm_cancel(token, attempt.order_key, checked, attempt.request_id)
    except (upstream.JupiterUnavailable, upstream.JupiterBadResponse) as exc:
        return finish(attempt, A.PENDING, STILL_CONFIRMING, expected=SENT, error=str(exc))
    except upstream.JupiterUnauthorized as exc:
        # Refused for the token before Jupiter looked at the refund: nothing landed.
        return finish(attempt, A.FAILED, V2_CONNECT, expected=SENT, error=str(exc), upstream_status=UNAUTHORIZED)
    except upstream.OrderNotFound as exc:
        tracking.invalidate(attempt.wallet)
        return finish(attempt, A.FAILED, V2_NOT_FOUND, expected=SENT, error=str(exc))
    except upstream.JupiterError as exc:
        if exc.user_message == upstream.DCA_NOT_CANCELLING:
            # Cancelled meanwhile (another confirm, or jup.ag), or never stopped: read the order.
            pending = finish(attempt, A.PENDING, STILL_CONFIRMING, expected=SENT, error=str(exc))
            return settle_dca(pending, token, timezone.now())
        return finish(attempt, A.FAILED, exc.user_message, expected=SENT, error=str(exc))
    return succeed(attempt, confirmed.tx_signature, "Confirmed", expected=SENT)


def refund_signature(order: trigger.DcaOrder) -> str:
    """The signature of the order's successful withdrawal (refund), the latest if several."""
    refunds = [e for e in order.events if e.type == "withdrawal" and e.state == "success" and e.tx_signature]
    return refunds[-1].tx_signature if refunds else ""


def settle_dca(attempt: CancelAttempt, token: str | None, now: datetime) -> CancelAttempt:
    """Settle one v2 attempt by reading its order (`GET /orders/history/dca/{id}`), never by
    confirming again: `cancelled` → done, with the signature of its withdrawal; `withdrawing` → once
    the refund transaction has expired it can no longer land ("finish" offers a fresh one);
    completed or failed → it ended on its own. Without a token, or while Jupiter cannot be read,
    it stays pending."""
    if not token:
        return attempt
    late = now - attempt.issued_at > BLOCKHASH_LIFETIME
    try:
        order = trigger.get_order(token, attempt.order_key)
    except upstream.OrderNotFound:
        if not late:
            return attempt
        return finish(attempt, A.FAILED, NOT_FOUND, expected=UNSETTLED, upstream_status="Reconciled")
    except upstream.JupiterError:
        return attempt
    if order.state == "cancelled":
        signature = refund_signature(order) or attempt.signature
        return succeed(attempt, signature, "Reconciled", expected=UNSETTLED)
    if order.state in trigger.PAST_STATES:
        return finish(attempt, A.FAILED, ENDED_ON_ITS_OWN, expected=UNSETTLED, upstream_status="Reconciled")
    if not late:
        return attempt
    return finish(attempt, A.FAILED, V2_NEVER_LANDED, expected=UNSETTLED, upstream_status="Reconciled")
