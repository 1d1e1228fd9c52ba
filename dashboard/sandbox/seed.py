"""Deterministic, realistic orders for any wallet.

A wallet's orders are generated from a `random.Random` seeded with the wallet string, so the
same wallet always gets the same pairs, amounts, keys and signatures (timestamps are placed
relative to the moment of seeding: fills end before now and the next cycle is in the future).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from dashboard.sandbox import keys, tokens
from dashboard.sandbox.models import SandboxOrder, SeededWallet

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
FEE_BPS = 10  # keepers take 0.1 % of the output
DEFAULT_ACTIVE = 4
DEFAULT_HISTORY = 3


@dataclass(frozen=True)
class Plan:
    """The shape of an order: pair, human amount per cycle, number of cycles, seconds per cycle."""

    input_mint: str
    output_mint: str
    per_cycle: Decimal
    cycles: int
    frequency: int


ACTIVE_PLANS = (
    Plan(tokens.USDC, tokens.SOL, Decimal(50), 10, DAY),
    Plan(tokens.USDC, tokens.JUP, Decimal(10), 24, HOUR),
    Plan(tokens.SOL, tokens.USDC, Decimal("0.5"), 8, WEEK),
    Plan(tokens.USDC, tokens.BONK, Decimal(25), 12, 4 * HOUR),
    Plan(tokens.USDT, tokens.WIF, Decimal(20), 6, DAY),
    Plan(tokens.USDC, tokens.JITOSOL, Decimal(100), 5, WEEK),
    Plan(tokens.SOL, tokens.JUP, Decimal("0.25"), 12, 12 * HOUR),
    Plan(tokens.USDC, tokens.MSOL, Decimal(60), 4, 2 * DAY),
)
HISTORY_PLANS = (
    Plan(tokens.USDC, tokens.SOL, Decimal(100), 5, DAY),
    Plan(tokens.SOL, tokens.USDC, Decimal(1), 4, WEEK),
    Plan(tokens.USDC, tokens.JUP, Decimal(20), 6, HOUR),
)
# Progress of the default active orders: from none filled to most done.
DEFAULT_PROGRESS = (Decimal(0), Decimal("0.3"), Decimal("0.6"), Decimal("0.9"))


def wallet_rng(wallet: str, purpose: str) -> random.Random:
    """A random generator determined by the wallet (and what it is used for)."""
    return random.Random(keys.digest("sandbox-seed", purpose, wallet))


def to_raw(amount: Decimal, mint: str) -> int:
    """Human amount -> integer base units."""
    return int(amount.scaleb(tokens.get_token(mint).decimals).to_integral_value(rounding=ROUND_DOWN))


def swap_output(raw_in: int, plan: Plan, rng: random.Random, drift: Decimal = Decimal(0)) -> int:
    """Gross base units of output for `raw_in` of input at catalogue prices, ±3 % of market noise;
    `drift` moves the output token's price away from today's (0.1: it cost 10 % more then)."""
    src, dst = tokens.get_token(plan.input_mint), tokens.get_token(plan.output_mint)
    noise = Decimal(1) + Decimal(rng.randint(-300, 300)) / Decimal(10_000)
    value = Decimal(raw_in).scaleb(-src.decimals) * src.usd_price / (dst.usd_price * (1 + drift)) * noise
    return int(value.scaleb(dst.decimals).to_integral_value(rounding=ROUND_DOWN))


def truncate(moment: datetime, millis: bool, rng: random.Random) -> datetime:
    """A timestamp with random milliseconds, or whole seconds when the order omits them."""
    return moment.replace(microsecond=rng.randint(0, 999) * 1000 if millis else 0)


def iso(moment: datetime, millis: bool) -> str:
    """ISO 8601 in UTC with a Z, with or without milliseconds."""
    text = moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if millis else f"{text}Z"


def make_fills(
    wallet: str, salt: str, plan: Plan, per_cycle_raw: int, times: list[datetime], millis: bool, rng: random.Random
) -> list[dict]:
    """Fill records (oldest first) for the given fill times. The output token's price drifts
    towards today's catalogue price (by up to ±15 % for the oldest fill), so orders show real
    gains and losses at today's price."""
    trend = Decimal(rng.randint(-150, 150)) / Decimal(1000)
    fills = []
    for n, moment in enumerate(times):
        age = Decimal(len(times) - n) / Decimal(len(times))  # 1 for the oldest fill, 1/len for the newest
        gross = swap_output(per_cycle_raw, plan, rng, trend * age)
        fee = gross * FEE_BPS // 10_000
        fills.append(
            {
                "rawInputAmount": str(per_cycle_raw),
                "rawOutputAmount": str(gross - fee),
                "rawFeeAmount": str(fee),
                "txId": keys.signature(wallet, salt, "fill", str(n)),
                "confirmedAt": iso(moment, millis),
                "keeper": keys.keeper(rng.randint(0, 2)),
            }
        )
    return fills


def fill_times(last: datetime, count: int, frequency: int, millis: bool, rng: random.Random) -> list[datetime]:
    """`count` fill times spaced by the frequency, the last one at `last`, with small jitter."""
    jitter_max = min(frequency // 20, 90)
    times = [
        truncate(last - timedelta(seconds=(count - 1 - n) * frequency - rng.randint(0, jitter_max)), millis, rng)
        for n in range(count - 1)
    ]
    if count:
        times.append(truncate(last, millis, rng))
    return times


def scaled_plan(plan: Plan, index: int, rng: random.Random) -> Plan:
    """The plan itself for the first use, a plan with a varied amount for repeats."""
    if index < len(ACTIVE_PLANS):
        return plan
    factor = Decimal(rng.choice((1, 2, 3, 4, 5))) / Decimal(2)
    return Plan(plan.input_mint, plan.output_mint, plan.per_cycle * factor, plan.cycles, plan.frequency)


def build_active(wallet: str, index: int, rng: random.Random, now: datetime) -> SandboxOrder:
    """The index-th active order of a wallet, partially filled, next cycle in the future."""
    plan = scaled_plan(ACTIVE_PLANS[index % len(ACTIVE_PLANS)], index, rng)
    salt = f"active-{index}"
    millis = index % 2 == 0
    if index < len(DEFAULT_PROGRESS):
        done = min(int(DEFAULT_PROGRESS[index] * plan.cycles), plan.cycles - 1)
    else:
        done = rng.randint(0, plan.cycles - 1)
    # The last fill (or the creation, with no fill yet) lies 10-90 % of a cycle before now.
    since_last = timedelta(seconds=plan.frequency * rng.randint(10, 90) // 100)
    times = fill_times(now - since_last, done, plan.frequency, millis, rng)
    first_event = times[0] if times else now - since_last
    created = truncate(first_event - timedelta(seconds=rng.randint(5, 60) if times else 0), millis, rng)
    per_cycle_raw = to_raw(plan.per_cycle, plan.input_mint)
    fills = make_fills(wallet, salt, plan, per_cycle_raw, times, millis, rng)
    min_out = 0
    if rng.random() < 0.25:
        min_out = swap_output(per_cycle_raw, plan, rng) * 8 // 10
    return SandboxOrder(
        order_key=keys.order_key(wallet, plan.input_mint, plan.output_mint, salt),
        user=wallet,
        input_mint=plan.input_mint,
        output_mint=plan.output_mint,
        status=SandboxOrder.Status.ACTIVE,
        raw_in_deposited=per_cycle_raw * plan.cycles,
        raw_in_used=sum(int(f["rawInputAmount"]) for f in fills),
        raw_in_amount_per_cycle=per_cycle_raw,
        raw_out_received=sum(int(f["rawOutputAmount"]) for f in fills),
        # Recurring v1 sends what each fill bought to the wallet at once ("after each successful
        # trade, purchased tokens are automatically transferred to your wallet", Jupiter's guide):
        # an active order holds none of it, and its cancel gives back only the unspent deposit.
        raw_out_withdrawn=sum(int(f["rawOutputAmount"]) for f in fills),
        raw_min_out_amount=min_out,
        cycle_frequency=plan.frequency,
        frequency_as_string=index % 3 != 1,
        open_tx=keys.signature(wallet, salt, "open"),
        close_tx="" if index % 2 == 0 else None,
        created_at=created,
        updated_at=times[-1] if times else created,
        millis=millis,
        fills=fills,
    )


def build_history(wallet: str, index: int, rng: random.Random, now: datetime) -> SandboxOrder:
    """The index-th closed order of a wallet: even indexes completed, odd ones cancelled by the user."""
    plan = scaled_plan(HISTORY_PLANS[index % len(HISTORY_PLANS)], index + len(ACTIVE_PLANS), rng)
    salt = f"history-{index}"
    millis = index % 2 == 1
    completed = index % 2 == 0
    done = plan.cycles if completed else rng.randint(1, plan.cycles - 1)
    closed = now - timedelta(days=rng.randint(2, 60), seconds=rng.randint(0, DAY))
    if completed:
        last_fill = closed - timedelta(seconds=rng.randint(2, 30))
    else:
        last_fill = closed - timedelta(seconds=plan.frequency * rng.randint(10, 90) // 100)
    times = fill_times(last_fill, done, plan.frequency, millis, rng)
    created = truncate(times[0] - timedelta(seconds=rng.randint(5, 60)), millis, rng)
    per_cycle_raw = to_raw(plan.per_cycle, plan.input_mint)
    fills = make_fills(wallet, salt, plan, per_cycle_raw, times, millis, rng)
    deposited = per_cycle_raw * plan.cycles
    used = sum(int(f["rawInputAmount"]) for f in fills)
    received = sum(int(f["rawOutputAmount"]) for f in fills)
    return SandboxOrder(
        order_key=keys.order_key(wallet, plan.input_mint, plan.output_mint, salt),
        user=wallet,
        input_mint=plan.input_mint,
        output_mint=plan.output_mint,
        status=SandboxOrder.Status.HISTORY,
        raw_in_deposited=deposited,
        raw_in_used=used,
        raw_in_withdrawn=deposited - used,
        raw_in_amount_per_cycle=per_cycle_raw,
        raw_out_received=received,
        raw_out_withdrawn=received,
        cycle_frequency=plan.frequency,
        frequency_as_string=index % 2 == 0,
        open_tx=keys.signature(wallet, salt, "open"),
        close_tx=keys.signature(wallet, salt, "close"),
        user_closed=not completed,
        created_at=created,
        updated_at=truncate(closed, millis, rng),
        millis=millis,
        fills=fills,
    )


def build_orders(wallet: str, active: int, history: int, now: datetime) -> list[SandboxOrder]:
    """Unsaved orders for a wallet; the same wallet always yields the same orders (up to `now`)."""
    rng = wallet_rng(wallet, "orders")
    built = [build_active(wallet, i, rng, now) for i in range(active)]
    built += [build_history(wallet, i, rng, now) for i in range(history)]
    return built


def seed_wallet(
    wallet: str, active: int = DEFAULT_ACTIVE, history: int = DEFAULT_HISTORY, now: datetime | None = None
) -> list[SandboxOrder]:
    """Replace a wallet's orders with `active` active and `history` closed ones."""
    if keys.parse_pubkey(wallet) is None:
        raise ValueError(f"not a Solana public key: {wallet!r}")
    orders = build_orders(wallet, active, history, now or timezone.now())
    with transaction.atomic():
        SandboxOrder.objects.filter(user=wallet).delete()
        SeededWallet.objects.get_or_create(wallet=wallet)
        SandboxOrder.objects.bulk_create(orders)
    return orders


def ensure_seeded(wallet: str) -> None:
    """Give a wallet its default orders the first time it is seen (safe under concurrency)."""
    if SeededWallet.objects.filter(wallet=wallet).exists():
        return
    orders = build_orders(wallet, DEFAULT_ACTIVE, DEFAULT_HISTORY, timezone.now())
    try:
        with transaction.atomic():
            SeededWallet.objects.create(wallet=wallet)
            SandboxOrder.objects.bulk_create(orders)
    except IntegrityError:
        return  # another thread seeded it first
