"""Cancelling a Jupiter DCA (Trigger API v2) order: stop it, check the refund, confirm it once, settle.

Jupiter stops the order the moment it issues the refund (withdrawal) transaction
(`POST /orders/dca/cancel/{id}`): from then on no more buys happen, and only the refund is left.
`start` checks that refund with `dashboard.withdrawal` against the order as Jupiter listed it
before the wallet sees it — an order whose refund we cannot verify at all ("Earn While You Wait")
is refused before any call to Jupiter; a refund we cannot verify is recorded as refused, logged
with its decoded instructions, and the order left stopped, its deposit in Jupiter's vault, for a
fresh try — and names what the checked refund gives back (never an unverified figure); `submit` checks
what the wallet signed and confirms it with `confirm-cancel` exactly once (`attempts.claim`);
`settle` reconciles a lost answer by reading the order, never by confirming again. Every call
carries the session's token; a refused token asks the trader to connect again. A stopped order's
next step is always a fresh refund ("finish").
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from solders.transaction import VersionedTransaction

from dashboard import (
    attempts,
    dca_orders,
    messages,
    solana_rpc,
    tokens,
    tracking,
    transactions,
    trigger,
    upstream,
    withdrawal,
)
from dashboard.attempts import SENT, UNSETTLED, CancelRefused, Issued
from dashboard.encoding import short_address
from dashboard.models import CancelAttempt, TrackedOrder
from dashboard.orders import ACCOUNT_RENT_WORDS, sells

logger = logging.getLogger(__name__)

A = CancelAttempt.State
SYSTEM = TrackedOrder.System.DCA
BASE_FEE_LAMPORTS = 5000  # per signature; the wallet pays for all three of a refund's signatures
REFUND_SIGNATURES = 3
UNAUTHORIZED = "Unauthorized"  # upstream_status of an attempt Jupiter refused for the session's token
GONE_CODES = ("cannot_cancel_now", "nothing_left")  # Jupiter will not stop it: the list is out of date


def refund_fee_lamports() -> tuple[int, int]:
    """What the wallet pays for a refund transaction, in lamports: (without a priority fee, at
    most). The wallet pays all three signatures; the priority fee never passes the ceiling."""
    base = BASE_FEE_LAMPORTS * REFUND_SIGNATURES
    return base, base + settings.MAX_PRIORITY_FEE_LAMPORTS


def stoppable(wallet: str, order_key: str) -> dca_orders.DcaOrder:
    """The wallet's active v2 order as last seen; refused (no upstream call) otherwise, or while
    one of its refunds is still being confirmed."""
    row = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key, system=SYSTEM, status="active").first()
    order = None
    if row is not None:
        try:
            order = tracking.parse_snapshot(row)
        except ValueError:
            order = None
    if not isinstance(order, dca_orders.DcaOrder):
        raise CancelRefused("not_active", reason="not_found", next_step="refresh")
    if order.jl_enabled:
        # "Earn While You Wait": its refund carries Jupiter Lend instructions we cannot verify, and
        # Jupiter would stop the order at the first call. Refused on every path, before any call.
        earn = messages.words("earn_refused", earn=messages.words("earn_not_here"))
        raise CancelRefused("earn_refused", reason="conflict", message=earn)
    if CancelAttempt.objects.filter(wallet=wallet, order_key=order_key, state__in=UNSETTLED).exists():
        raise CancelRefused("refund_in_flight", reason="conflict", next_step="wait")
    return order


def mark_stopped(wallet: str, order_key: str) -> None:
    """Jupiter has stopped the order (it is `withdrawing` now and never goes back): the lists are
    read again, and the last-known copy says so too."""
    row = TrackedOrder.objects.filter(wallet=wallet, order_key=order_key, system=SYSTEM).first()
    if row is not None and isinstance(row.snapshot, dict) and row.snapshot.get("state") != "withdrawing":
        row.snapshot = {**row.snapshot, "state": "withdrawing", "displayState": "pending_withdraw"}
        row.save(update_fields=["snapshot"])
    expire_lists(wallet)


def expire_lists(wallet: str) -> None:
    for status in tracking.STATUSES:
        tracking.expire_dca(wallet, status)


def disconnected() -> CancelRefused:
    return CancelRefused("disconnected", reason="disconnected", next_step="connect")


def start(wallet: str, order_key: str, token: str | None, cancelled_text: str = "") -> Issued:
    """Stop the order and get its refund transaction (called for an order already `withdrawing`,
    a fresh one), check the refund before the wallet sees it, and record the attempt. A refund we
    cannot verify is recorded as refused and logged with Jupiter's request ids and the reason
    (never the token)."""
    order = stoppable(wallet, order_key)
    if not token:
        raise disconnected()
    try:
        issued = trigger.cancel(token, order_key)
    except upstream.JupiterUnauthorized:
        raise disconnected() from None
    except upstream.OrderNotFound:
        tracking.invalidate(wallet)
        raise CancelRefused("dca_not_found", reason="not_found", next_step="refresh") from None
    except upstream.JupiterError as exc:
        # The order may be stopped even so (a lost answer): the lists are read again, and a fresh
        # try asks for a fresh refund, which is safe.
        if isinstance(exc, upstream.JupiterUnavailable):
            mark_stopped(wallet, order_key)
        gone = exc.code in GONE_CODES
        if gone:
            tracking.invalidate(wallet)
        next_step = "retry" if exc.code == "order_executing" else "refresh" if gone else attempts.jupiter_step(exc)
        raise attempts.refused_by_jupiter(exc, next_step) from None
    gateway = upstream.last_gateway_request_id()
    mark_stopped(wallet, order_key)
    now = timezone.now()
    known = tokens.get_tokens([order.input_mint, order.output_mint])
    input_token, output_token = known.get(order.input_mint), known.get(order.output_mint)
    try:
        refund = check_refund(wallet, order, issued, input_token, token)
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
        attempts.record_issued(
            wallet,
            order_key,
            SYSTEM,
            issued.request_id,
            b"",
            cancelled_text,
            at=now,
            state=A.REFUSED,
            finished_at=now,
            code="refund_refused",
            outcome=messages.words("refund_refused"),
            error=f"{refused.code}: {refused.reason}"[:2000],
        )
        raise CancelRefused("refund_refused", reason="upstream", next_step="refresh") from None
    sell = input_token is not None and output_token is not None and sells(input_token, output_token)
    approve, cancelled = refund_words(refund, input_token, sell=sell)
    attempt = attempts.record_issued(wallet, order_key, SYSTEM, issued.request_id, refund.message, cancelled, at=now)
    return Issued(attempt=attempt, transaction=issued.transaction, words=approve)


def refund_order(wallet: str, order: dca_orders.DcaOrder, issued: trigger.DcaCancel, input_token: tokens.Token | None):
    """What the refund is checked against: the order as Jupiter listed it, and its cancel answer."""
    if order.user not in ("", wallet):
        raise withdrawal.WithdrawalRefused(
            withdrawal.UNVERIFIED, code=withdrawal.ORDER, reason="the order's userPubkey is another wallet"
        )
    return withdrawal.RefundOrder(
        wallet=wallet,
        vault=order.vault,
        input_mint=order.input_mint,
        remaining=order.raw_in_remaining,
        initial=order.raw_in_initial,
        used=order.raw_in_used,
        refund_amount=issued.refund_amount,
        input_token_program=(input_token.token_program or None) if input_token else None,
        input_decimals=input_token.decimals if input_token else None,
    )


def check_refund(
    wallet: str,
    order: dca_orders.DcaOrder,
    issued: trigger.DcaCancel,
    input_token: tokens.Token | None,
    token: str,
) -> withdrawal.CheckedRefund:
    """The refund Jupiter issued, checked against the order (`withdrawal.check_withdrawal`).

    The order as last listed may predate its latest buy: when the refund is not its remaining
    deposit, the order is read once more — it is stopped now, so its figures no longer move — and
    the refund checked against that. A wrapped-SOL deposit closed straight to the wallet states no
    amount: with a Solana RPC configured, that account is read and must hold exactly the order's
    remaining deposit; without one (or while it does not answer) the amount is Jupiter's figure,
    and the words say so."""
    ceiling = settings.MAX_PRIORITY_FEE_LAMPORTS
    expected = refund_order(wallet, order, issued, input_token)
    try:
        refund = withdrawal.check_withdrawal(issued.transaction, expected, max_priority_fee_lamports=ceiling)
    except withdrawal.WithdrawalRefused as refused:
        if refused.code not in (withdrawal.REFUND_AMOUNT, withdrawal.ORDER):
            raise
        try:
            fresh = trigger.get_order(token, order.id)
        except upstream.JupiterError:
            raise refused from None
        logger.info("DCA order %s read again to check its refund: %s", order.id, refused.reason)
        expected = refund_order(wallet, fresh, issued, input_token)
        refund = withdrawal.check_withdrawal(issued.transaction, expected, max_priority_fee_lamports=ceiling)
    if refund.shape != withdrawal.SOL_CLOSE or not solana_rpc.configured():
        return refund
    try:
        account = solana_rpc.get_token_account(refund.source)
    except solana_rpc.RpcUnavailable:
        return refund  # Jupiter's figure, named as such
    if account is None:
        raise withdrawal.WithdrawalRefused(
            withdrawal.UNVERIFIED,
            code=withdrawal.BALANCE,
            reason="the closed account does not exist",
            instructions=refund.instructions,
        )
    return withdrawal.confirm_balance(refund, expected, mint=account.mint, owner=account.owner, amount=account.amount)


def refund_words(
    refund: withdrawal.CheckedRefund, input_token: tokens.Token | None, *, sell: bool = False
) -> tuple[str, str]:
    """(what the trader reads while the wallet asks, the sentence once it is done), both built from
    the checked refund; without the token's decimals, no figure at all. A sell order's deposit is
    "not yet sold" (`orders.sells`), a buy order's "not yet spent"."""
    if input_token is None or input_token.decimals is None:
        return messages.words("approve_refund"), messages.words("cancelled")
    symbol = input_token.symbol or short_address(refund.mint)
    received = withdrawal.received_words(refund, decimals=input_token.decimals, symbol=symbol)
    approve = messages.words("approve_refund_amount", received=received)
    if refund.amount_from != withdrawal.FROM_JUPITER and refund.transfer_fee == 0:
        if sell:
            return approve, messages.words("refund_cancelled_sold", amount=received, rent=ACCOUNT_RENT_WORDS)
        return approve, messages.words("refund_cancelled", amount=received, rent=ACCOUNT_RENT_WORDS)
    return approve, messages.words("refund_cancelled_about", received=received, rent=ACCOUNT_RENT_WORDS)


def refused_refunds(wallet: str) -> set[str]:
    """The wallet's stopped v2 orders whose latest refund we refused: their cards say so, and
    offer to try again."""
    latest: dict[str, str] = {}
    rows = CancelAttempt.objects.filter(wallet=wallet, system=SYSTEM).order_by("pk").values_list("order_key", "code")
    for order_key, code in rows:
        latest[order_key] = code
    return {order_key for order_key, code in latest.items() if code == "refund_refused"}


def submit(attempt: CancelAttempt, signed_base64: str, token: str | None) -> CancelAttempt:
    """Check the signed refund (the wallet's own signature over exactly the issued message, the
    fee within the ceiling) and confirm it with Jupiter once. A lost answer leaves the attempt
    pending, settled by `settle`; a refusal leaves the order stopped, with "finish" to get a
    fresh refund."""
    attempts.check_unused(attempt, expired_step="finish")
    raw = attempts.decode_base64(signed_base64)
    if not token:
        raise disconnected()
    try:
        checked = withdrawal.check_signed_withdrawal(
            bytes(attempt.message), raw, attempt.wallet, max_priority_fee_lamports=settings.MAX_PRIORITY_FEE_LAMPORTS
        )
    except withdrawal.WithdrawalRefused as refused:
        logger.info("refused a signed refund for cancel attempt %s: %s", attempt.pk, refused.reason)
        raise CancelRefused("signed_refund_refused", reason="invalid", message=refused.message) from None
    # check_withdrawal made the wallet the fee payer: its signature is the first.
    signed = VersionedTransaction.from_bytes(checked)
    attempts.claim(attempt, str(signed.signatures[0]), transactions.network_fee_lamports(signed.message))
    try:
        confirmed = trigger.confirm_cancel(token, attempt.order_key, checked, attempt.request_id)
    except (upstream.JupiterUnavailable, upstream.JupiterBadResponse) as exc:
        return attempts.finish(attempt, A.PENDING, "still_confirming", expected=SENT, error=str(exc))
    except upstream.JupiterUnauthorized as exc:
        # Refused for the token before Jupiter looked at the refund: nothing landed.
        return attempts.finish(
            attempt, A.FAILED, "disconnected", expected=SENT, error=str(exc), upstream_status=UNAUTHORIZED
        )
    except upstream.OrderNotFound as exc:
        tracking.invalidate(attempt.wallet)
        return attempts.finish(attempt, A.FAILED, "dca_not_found", expected=SENT, error=str(exc))
    except upstream.JupiterError as exc:
        if exc.code == "not_cancelling":
            # Cancelled meanwhile (another confirm, or jup.ag), or never stopped: read the order.
            pending = attempts.finish(attempt, A.PENDING, "still_confirming", expected=SENT, error=str(exc))
            return settle(pending, token, timezone.now())
        return attempts.failed_at_jupiter(attempt, exc)
    return succeed(attempt, confirmed.tx_signature, "Confirmed", expected=SENT)


def succeed(
    attempt: CancelAttempt, signature: str, upstream_status: str, *, expected: tuple[str, ...]
) -> CancelAttempt:
    """The refund landed: the attempt succeeds, and the v2 lists are read again."""
    settled = attempts.succeed(attempt, signature, upstream_status, expected=expected)
    expire_lists(attempt.wallet)
    return settled


def decline(attempt: CancelAttempt) -> CancelAttempt:
    """The trader declined in the wallet: nothing was signed or sent, and the order stays
    stopped, waiting for its refund."""
    return attempts.decline(attempt, "refund_declined")


def next_step(attempt: CancelAttempt) -> str | None:
    """What the trader can do now; "finish" (a fresh refund) while the order is stopped."""
    return attempts.next_step(attempt, "finish")


def refund_signature(order: dca_orders.DcaOrder) -> str:
    """The signature of the order's successful withdrawal (refund), the latest if several."""
    refunds = [e for e in order.events if e.type == "withdrawal" and e.state == "success" and e.tx_signature]
    return refunds[-1].tx_signature if refunds else ""


def settle(attempt: CancelAttempt, token: str | None, now: datetime) -> CancelAttempt:
    """Settle one v2 attempt by reading its order (`GET /orders/history/dca/{id}`), never by
    confirming again: `cancelled` → done, with the signature of its withdrawal; `withdrawing` → once
    the refund transaction has expired it can no longer land ("finish" offers a fresh one);
    completed or failed → it ended on its own. Without a token, or while Jupiter cannot be read,
    it stays pending."""
    if not token:
        return attempt
    late = now - attempt.issued_at > attempts.BLOCKHASH_LIFETIME
    try:
        order = trigger.get_order(token, attempt.order_key)
    except upstream.OrderNotFound:
        if not late:
            return attempt
        return attempts.finish(attempt, A.FAILED, "not_listed", expected=UNSETTLED, upstream_status="Reconciled")
    except upstream.JupiterError:
        return attempt
    if order.state == "cancelled":
        signature = refund_signature(order) or attempt.signature
        return succeed(attempt, signature, "Reconciled", expected=UNSETTLED)
    if order.state in dca_orders.PAST_STATES:
        return attempts.finish(attempt, A.FAILED, "ended_on_its_own", expected=UNSETTLED, upstream_status="Reconciled")
    if not late:
        return attempt
    return attempts.finish(attempt, A.FAILED, "refund_never_landed", expected=UNSETTLED, upstream_status="Reconciled")
