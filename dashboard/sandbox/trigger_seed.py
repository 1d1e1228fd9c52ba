"""Deterministic Trigger API v2 DCA orders for any wallet: one in each state, and then some.

Every wallet the v2 endpoints see gets, once, the STANDARD set: an order in each state (depositing,
active, executing, withdrawing, completed, cancelled, deposit_failed), plus active orders with a price
band, with "Earn While You Wait", with a Token-2022 input (PYUSD) and with SOL as the input (its
refund gives SOL back). Ids, amounts and signatures follow from the wallet (the same wallet always
gets the same orders); times are placed relative to the moment of seeding (fills before now, the
next round after it). The v1 orders of seed.py are left alone.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard.sandbox import keys, seed, tokens
from dashboard.sandbox.models import DcaOrder, DcaSeededWallet
from dashboard.sandbox.seed import DAY, HOUR, WEEK
from dashboard.sandbox.trigger_orders import iso, retry_window

State = DcaOrder.State
FEE_BPS = 10  # the swap fee, already deducted from each round's output


@dataclass(frozen=True)
class Spec:
    """The shape of one seeded order; `per_round` in human units of the input token."""

    name: str
    state: str
    input_mint: str
    output_mint: str
    per_round: Decimal
    rounds: int
    interval: int
    filled: int
    order_type: str = "time_based"
    min_price_usd: Decimal | None = None
    max_price_usd: Decimal | None = None
    jl_yield_usd: Decimal | None = None  # set: an "Earn While You Wait" order
    dust: int = 0  # base units beyond rounds x per_round; the last round takes them
    failed_round: int = 0  # a round that failed (3 attempts), was rescheduled and then filled


STANDARD = (
    Spec("depositing", State.DEPOSITING, tokens.USDC, tokens.SOL, Decimal(25), 4, DAY, 0),
    Spec("active", State.ACTIVE, tokens.USDC, tokens.SOL, Decimal(50), 10, DAY, 3, failed_round=2),
    Spec(
        "price-band",
        State.ACTIVE,
        tokens.USDC,
        tokens.SOL,
        Decimal(50),
        4,
        12 * HOUR,
        1,
        order_type="price_conditional",
        min_price_usd=Decimal(50),
        max_price_usd=Decimal(1000),
    ),
    Spec("earn", State.ACTIVE, tokens.USDC, tokens.JUP, Decimal(50), 6, WEEK, 2, jl_yield_usd=Decimal("0.4213")),
    Spec("token-2022", State.ACTIVE, tokens.PYUSD, tokens.SOL, Decimal(30), 4, DAY, 1),
    Spec("executing", State.EXECUTING, tokens.SOL, tokens.USDC, Decimal("0.25"), 8, 4 * HOUR, 5),
    Spec("withdrawing", State.WITHDRAWING, tokens.USDC, tokens.FAKE_WIF, Decimal(50), 3, DAY, 1),  # a look-alike
    Spec("completed", State.COMPLETED, tokens.USDC, tokens.SOL, Decimal(50), 2, DAY, 2, dust=1),
    Spec("cancelled", State.CANCELLED, tokens.USDC, tokens.JUP, Decimal(50), 4, DAY, 1),
    Spec("deposit-failed", State.DEPOSIT_FAILED, tokens.SOL, tokens.USDC, Decimal("0.5"), 2, DAY, 0),
    # Last, so the orders above keep the figures they had before it came.
    Spec("sol-input", State.ACTIVE, tokens.SOL, tokens.USDC, Decimal("0.25"), 8, DAY, 3),
)
# The shape of extra active orders (seed_wallet(extra_active=N)): plain ones a trader can cancel.
EXTRA_ACTIVE = Spec("more", State.ACTIVE, tokens.USDC, tokens.SOL, Decimal(10), 5, DAY, 1)
# Shapes of extra closed orders (seed_wallet(extra_past=N)), used in turn.
EXTRA_PAST = (
    Spec("past", State.COMPLETED, tokens.USDC, tokens.SOL, Decimal(20), 3, DAY, 3),
    Spec("past", State.CANCELLED, tokens.SOL, tokens.USDC, Decimal("0.1"), 5, HOUR, 2),
    Spec("past", State.COMPLETED, tokens.USDC, tokens.BONK, Decimal(15), 2, WEEK, 2),
)


def order_uuid(*parts: str) -> str:
    """A UUID (version 7 layout, like Jupiter's order ids) determined by the parts."""
    raw = bytearray(keys.digest("sandbox-trigger-id", *parts)[:16])
    raw[6] = 0x70 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    return str(uuid.UUID(bytes=bytes(raw)))


def order_id(wallet: str, name: str) -> str:
    """The id of a wallet's seeded order called `name` (see STANDARD)."""
    return order_uuid(wallet, name)


def millis(moment: datetime, rng: random.Random) -> datetime:
    return moment.replace(microsecond=rng.randint(0, 999) * 1000)


def round_output(spec: Spec, raw_in: int, rng: random.Random) -> int:
    """Output of one round after the swap fee, at catalogue prices with a little market noise."""
    plan = seed.Plan(spec.input_mint, spec.output_mint, spec.per_round, spec.rounds, spec.interval)
    gross = seed.swap_output(raw_in, plan, rng)
    return gross - gross * FEE_BPS // 10_000


def build(wallet: str, spec: Spec, key: str, now: datetime, rng: random.Random) -> DcaOrder:
    """One order of `wallet` shaped by `spec`; `key` makes its id and signatures unique."""
    per_round = seed.to_raw(spec.per_round, spec.input_mint)
    initial = per_round * spec.rounds + spec.dust
    slots = spec.filled + (1 if spec.failed_round else 0)  # a failed round costs one interval
    closed = None
    if spec.state in (State.COMPLETED, State.CANCELLED, State.DEPOSIT_FAILED):
        closed = millis(now - timedelta(days=rng.randint(2, 60), seconds=rng.randint(0, DAY)), rng)
        last_slot = closed - timedelta(seconds=rng.randint(2, 30) if spec.state == State.COMPLETED else HOUR)
    elif spec.state == State.EXECUTING:
        last_slot = now - timedelta(seconds=spec.interval + rng.randint(5, 20))
    else:
        last_slot = now - timedelta(seconds=spec.interval * rng.randint(10, 90) // 100)
    if spec.state == State.DEPOSITING:
        created = millis(now - timedelta(seconds=rng.randint(5, 30)), rng)
        begin = created + timedelta(seconds=60)
    elif spec.state == State.DEPOSIT_FAILED:
        created = millis(closed - timedelta(seconds=rng.randint(20, 60)), rng)
        begin = created + timedelta(seconds=60)
    else:
        begin = millis(last_slot - timedelta(seconds=spec.interval * max(0, slots - 1)), rng)
        created = millis(begin - timedelta(seconds=rng.randint(5, 60)), rng)

    def signature(*parts: str) -> str:
        return keys.signature(wallet, "trigger", key, *parts)

    deposit_state = {State.DEPOSITING: "pending", State.DEPOSIT_FAILED: "failed"}.get(spec.state, "success")
    deposited = created + timedelta(milliseconds=rng.randint(800, 2500))
    events: list[dict] = [
        {
            "type": "deposit",
            "timestamp": iso(deposited),
            "txSignature": signature("deposit"),
            "inputAmount": str(initial),
            "state": deposit_state,
        }
    ]
    used = received = 0
    last_fill = None
    slot = 0
    for round_number in range(1, spec.filled + 1):
        moment = begin + timedelta(seconds=slot * spec.interval)
        if round_number == spec.failed_round:
            for attempt in (1, 2, 3):
                events.append(
                    {
                        "type": "fill",
                        "timestamp": iso(moment + timedelta(seconds=attempt * 20)),
                        "txSignature": signature("failed", str(round_number), str(attempt)),
                        "roundNumber": round_number,
                        "inputAmount": str(per_round),
                        "state": "failed",
                        "attemptCount": attempt,
                    }
                )
            events.append(
                {
                    "type": "fill",
                    "timestamp": iso(moment + timedelta(seconds=retry_window(spec.interval))),
                    "txSignature": None,  # nothing was sent: the round moved to the next interval
                    "roundNumber": round_number,
                    "state": "rescheduled",
                    "attemptCount": 3,
                }
            )
            slot += 1
            moment = begin + timedelta(seconds=slot * spec.interval)
        raw_in = per_round + (spec.dust if round_number == spec.rounds else 0)
        raw_out = round_output(spec, raw_in, rng)
        last_fill = millis(moment + timedelta(seconds=rng.randint(1, 9)), rng)
        events.append(
            {
                "type": "fill",
                "timestamp": iso(last_fill),
                "txSignature": signature("fill", str(round_number)),
                "roundNumber": round_number,
                "inputAmount": str(raw_in),
                "outputAmount": str(raw_out),
                "state": "success",
                "attemptCount": 1,
            }
        )
        used += raw_in
        received += raw_out
        slot += 1
    remaining = initial - used
    next_fill = begin + timedelta(seconds=slot * spec.interval)
    updated = last_fill or deposited
    if spec.state == State.EXECUTING:
        next_fill = millis(now - timedelta(seconds=rng.randint(3, 8)), rng)
        events.append(
            {
                "type": "fill",
                "timestamp": iso(next_fill + timedelta(seconds=1)),
                "txSignature": signature("fill", str(spec.filled + 1)),
                "roundNumber": spec.filled + 1,
                "inputAmount": str(per_round),
                "state": "pending",
                "attemptCount": 1,
            }
        )
        updated = next_fill + timedelta(seconds=1)
    elif spec.state == State.WITHDRAWING:
        updated = millis(now - timedelta(minutes=rng.randint(3, 50)), rng)  # cancelled, never signed
    elif spec.state == State.COMPLETED:
        next_fill, updated = last_fill, last_fill
    elif spec.state == State.CANCELLED:
        events.append(
            {
                "type": "withdrawal",
                "timestamp": iso(closed),
                "txSignature": signature("withdrawal"),
                "inputAmount": str(remaining),
                "state": "success",
            }
        )
        updated = closed
    elif spec.state == State.DEPOSIT_FAILED:
        updated = closed
    elif spec.state == State.DEPOSITING:
        next_fill = begin
    return DcaOrder(
        order_id=order_uuid(wallet, key),
        request_id=order_uuid(wallet, key, "request"),
        user=wallet,
        vault=str(keys.vault_keypair(wallet).pubkey()),
        input_mint=spec.input_mint,
        output_mint=spec.output_mint,
        input_amount_initial=initial,
        # Not zeroed after a cancel (Jupiter's behaviour); a failed deposit never left the wallet.
        input_amount_remaining=remaining,
        amount_per_round=per_round,
        input_amount_used=used,
        output_amount_total=received,
        number_of_rounds=spec.rounds,
        rounds_filled=spec.filled,
        interval_seconds=spec.interval,
        begin_fill_at=begin,
        next_fill_at=next_fill,
        last_fill_at=last_fill,
        order_type=spec.order_type,
        min_price_usd=spec.min_price_usd,
        max_price_usd=spec.max_price_usd,
        trigger_mint=spec.output_mint if spec.order_type == "price_conditional" else None,
        jl_enabled=spec.jl_yield_usd is not None,
        jl_yield_usd=spec.jl_yield_usd,
        state=spec.state,
        created_at=created,
        updated_at=updated,
        events=events,
    )


def build_orders(
    wallet: str, now: datetime, standard: bool = True, extra_past: int = 0, extra_active: int = 0
) -> list[DcaOrder]:
    """Unsaved orders for a wallet: the STANDARD set, `extra_past` more closed ones and
    `extra_active` more active ones."""
    rng = seed.wallet_rng(wallet, "trigger-orders")
    built = [build(wallet, spec, spec.name, now, rng) for spec in STANDARD] if standard else []
    built += [build(wallet, EXTRA_PAST[n % len(EXTRA_PAST)], f"past-{n}", now, rng) for n in range(extra_past)]
    built += [build(wallet, EXTRA_ACTIVE, f"more-{n}", now, rng) for n in range(extra_active)]
    return built


def seed_wallet(
    wallet: str, standard: bool = True, extra_past: int = 0, now: datetime | None = None, extra_active: int = 0
) -> list[DcaOrder]:
    """Replace a wallet's v2 orders (and their issued withdrawals) with freshly built ones."""
    if keys.parse_pubkey(wallet) is None:
        raise ValueError(f"not a Solana public key: {wallet!r}")
    orders = build_orders(wallet, now or timezone.now(), standard, extra_past, extra_active)
    with transaction.atomic():
        DcaOrder.objects.filter(user=wallet).delete()
        DcaSeededWallet.objects.get_or_create(wallet=wallet)
        DcaOrder.objects.bulk_create(orders)
    return orders


def ensure_seeded(wallet: str) -> None:
    """Give a wallet its STANDARD orders the first time the v2 API sees it (safe under concurrency)."""
    if DcaSeededWallet.objects.filter(wallet=wallet).exists():
        return
    orders = build_orders(wallet, timezone.now())
    try:
        with transaction.atomic():
            DcaSeededWallet.objects.create(wallet=wallet)
            DcaOrder.objects.bulk_create(orders)
    except IntegrityError:
        return  # another request seeded it first
