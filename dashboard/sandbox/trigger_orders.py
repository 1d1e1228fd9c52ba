"""Trigger API v2 DCA orders as Jupiter shows them: the DcaOrder shape, listing, and the two cancel steps."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Q
from solders.message import Message, to_bytes_versioned
from solders.pubkey import Pubkey

from dashboard.sandbox import keys, tokens, trigger_transactions
from dashboard.sandbox.models import DcaOrder, DcaWithdrawal

State = DcaOrder.State
DISPLAY_STATE = {
    State.DEPOSITING: "pending",
    State.ACTIVE: "active",
    State.EXECUTING: "executing",
    State.WITHDRAWING: "pending_withdraw",
    State.COMPLETED: "completed",
    State.CANCELLED: "cancelled",
    State.DEPOSIT_FAILED: "failed",
}
STATE_GROUPS = {
    "active": (State.DEPOSITING, State.ACTIVE, State.EXECUTING, State.WITHDRAWING),
    "past": (State.COMPLETED, State.CANCELLED, State.DEPOSIT_FAILED),
}
CANCELLABLE = (State.ACTIVE, State.WITHDRAWING)
SORT_FIELDS = {"updated_at": "updated_at", "created_at": "created_at", "next_fill_at": "next_fill_at"}


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a Z, like Jupiter's; None stays None."""
    if moment is None:
        return None
    text = moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z"


def number(value: Decimal | float | None) -> int | float | None:
    """A JSON number as JavaScript prints it: 50 rather than 50.0."""
    if value is None:
        return None
    value = Decimal(str(value))
    return int(value) if value == value.to_integral_value() else float(value)


def retry_window(interval_seconds: int) -> int:
    """How long a round may be retried: clamp(interval / 2, 30, 7200)."""
    return min(max(30, interval_seconds // 2), 7200)


def order_to_api(order: DcaOrder) -> dict:
    """A DcaHistoryItem: amounts as base-unit strings, ISO times, events newest first."""
    return {
        "id": order.order_id,
        "requestId": order.request_id,
        "userPubkey": order.user,
        "vaultPubkey": order.vault,
        "inputMint": order.input_mint,
        "outputMint": order.output_mint,
        "inputAmountInitial": str(order.input_amount_initial),
        # Like Jupiter's, not zeroed after a cancel: `state` and `events` say what happened.
        "inputAmountRemaining": str(order.input_amount_remaining),
        "amountPerRound": str(order.amount_per_round),
        "outputAmountTotal": str(order.output_amount_total),
        "inputAmountUsed": str(order.input_amount_used),
        "orderType": order.order_type,
        "minPriceUsd": number(order.min_price_usd),
        "maxPriceUsd": number(order.max_price_usd),
        "triggerMint": order.trigger_mint,
        "retryWindowSeconds": retry_window(order.interval_seconds),
        "jlEnabled": order.jl_enabled,
        "jlYieldUsd": number(order.jl_yield_usd),
        "numberOfRounds": order.number_of_rounds,
        "intervalSeconds": order.interval_seconds,
        "beginFillAt": iso(order.begin_fill_at),
        "nextFillAt": iso(order.next_fill_at),
        "lastFillAt": iso(order.last_fill_at),
        "roundsFilled": order.rounds_filled,
        "fillPercent": number(Decimal(order.rounds_filled) / Decimal(order.number_of_rounds)),
        "state": order.state,
        "displayState": DISPLAY_STATE.get(order.state, order.state),
        "createdAt": iso(order.created_at),
        "updatedAt": iso(order.updated_at),
        "events": list(reversed(order.events)),
    }


@dataclass(frozen=True)
class Listing:
    orders: list[DcaOrder]
    total: int


def list_orders(
    user: str, group: str | None, mint: str | None, limit: int, offset: int, sort: str, direction: str
) -> Listing:
    """One page of a wallet's orders. Sorting puts missing times first when descending, last when
    ascending (PostgreSQL's default, which Jupiter's database has), then newest id first."""
    rows = DcaOrder.objects.filter(user=user)
    if group:
        rows = rows.filter(state__in=STATE_GROUPS[group])
    if mint:
        rows = rows.filter(Q(input_mint=mint) | Q(output_mint=mint))
    field = F(SORT_FIELDS[sort])
    if direction == "desc":
        ordering = [field.desc(nulls_first=True), F("order_id").desc()]
    else:
        ordering = [field.asc(nulls_last=True), F("order_id").asc()]
    total = rows.count()
    return Listing(
        orders=list(rows.order_by(*ordering)[offset : offset + limit]) if offset < total else [], total=total
    )


def find(order_id: str, user: str) -> DcaOrder | None:
    """The wallet's order with this id, or None (unknown or someone else's)."""
    return DcaOrder.objects.filter(order_id=order_id, user=user).first()


class CancelRefused(Exception):
    """The order cannot be cancelled now; the message is Jupiter's."""


def refund_of(order: DcaOrder) -> trigger_transactions.Refund:
    """What a withdrawal of this order moves back to the wallet: everything left in the vault."""
    token = tokens.TOKENS.get(order.input_mint)
    program = Pubkey.from_string(token.token_program if token else tokens.SPL_PROGRAM)
    vault = Pubkey.from_string(order.vault)
    return trigger_transactions.Refund(
        user=Pubkey.from_string(order.user),
        vault=vault,
        cosigner=keys.cosigner_keypair().pubkey(),
        mint=Pubkey.from_string(order.input_mint),
        decimals=token.decimals if token else 0,
        program=program,
        source=keys.order_token_account(vault, order.order_id, program),
        amount=order.input_amount_remaining,
        jl_enabled=order.jl_enabled,
    )


@dataclass(frozen=True)
class IssuedWithdrawal:
    order: DcaOrder
    withdrawal: DcaWithdrawal
    message: Message


def start_cancel(order: DcaOrder, mode: str, now: datetime) -> IssuedWithdrawal:
    """Step 1: stop the order (active -> withdrawing, at once and for good) and issue a withdrawal.

    Called again in `withdrawing` it issues a fresh transaction with a new request id.
    Raises CancelRefused in any other state, or when nothing is left to refund.
    """
    with transaction.atomic():
        order = DcaOrder.objects.select_for_update().get(pk=order.pk)
        if order.state not in CANCELLABLE:
            raise CancelRefused(f"Cannot cancel DCA order in '{order.state}' state")
        if order.input_amount_remaining <= 0:
            raise CancelRefused("No remaining funds to withdraw")
        if order.state == State.ACTIVE:
            order.state = State.WITHDRAWING
            order.updated_at = now
            order.save(update_fields=["state", "updated_at"])
        refund = refund_of(order)
        message = trigger_transactions.build_withdrawal(refund, mode)
        withdrawal = DcaWithdrawal.objects.create(
            request_id=str(uuid.uuid4()),
            order=order,
            message=to_bytes_versioned(message),
            refund_amount=trigger_transactions.refund_amount(refund, mode),
            mode=mode,
            created_at=now,
        )
    return IssuedWithdrawal(order=order, withdrawal=withdrawal, message=message)


def issued_withdrawal(order: DcaOrder, request_id: str, now: datetime, lifetime_seconds: int) -> DcaWithdrawal | None:
    """The unexpired withdrawal issued for this order under `request_id` (confirmed or not), or None."""
    return DcaWithdrawal.objects.filter(
        order=order, request_id=request_id, created_at__gt=now - dt.timedelta(seconds=lifetime_seconds)
    ).first()


def finish_cancel(withdrawal: DcaWithdrawal, landed: bytes, tx_signature: str, now: datetime) -> bool:
    """Step 2, once: withdrawing -> cancelled with a `withdrawal` event. False when another request won."""
    with transaction.atomic():
        claimed = DcaOrder.objects.filter(pk=withdrawal.order_id, state=State.WITHDRAWING).update(
            state=State.CANCELLED, updated_at=now
        )
        if not claimed:
            return False
        DcaWithdrawal.objects.filter(pk=withdrawal.pk).update(
            confirmed_at=now, tx_signature=tx_signature, landed=landed
        )
        order = DcaOrder.objects.select_for_update().get(pk=withdrawal.order_id)
        event = {
            "type": "withdrawal",
            "timestamp": iso(now),
            "txSignature": tx_signature,
            "inputAmount": str(withdrawal.refund_amount),
            "state": "success",
        }
        order.events = [*order.events, event]
        order.save(update_fields=["events"])
    return True


def token_accounts(wallet: str, addresses: list[str]) -> dict[str, dict]:
    """What a wallet's RPC would say of these accounts, so the sandbox wallet can name what a
    transaction moves ("150 USDC", not base units): each address that is a catalogue mint, an
    associated token account of the wallet or of its vault, or one of its DCA orders' deposit
    accounts, as {mint, symbol, decimals, owner} (owner "" for a mint). Others are left out."""
    user = keys.parse_pubkey(wallet)
    if user is None:
        return {}
    vault = keys.vault_keypair(wallet).pubkey()
    wanted = set(addresses)
    found: dict[str, dict] = {}

    def add(address: Pubkey | str, token: tokens.Token, owner: str) -> None:
        if str(address) in wanted:
            found[str(address)] = {
                "mint": token.mint,
                "symbol": token.symbol,
                "decimals": token.decimals,
                "owner": owner,
            }

    for token in tokens.TOKENS.values():
        add(token.mint, token, "")
        program = Pubkey.from_string(token.token_program)
        for owner in (user, vault):
            add(keys.associated_token_account(owner, Pubkey.from_string(token.mint), program), token, str(owner))
    for order in DcaOrder.objects.filter(user=wallet).only("order_id", "input_mint"):
        token = tokens.TOKENS.get(order.input_mint)
        if token is not None:
            program = Pubkey.from_string(token.token_program)
            add(keys.order_token_account(vault, order.order_id, program), token, str(vault))
    return found
