"""Knobs, injected faults and the call log of the sandbox, shared through the database.

Tests and demos drive the sandbox with these functions (in-process) or through
`POST /sandbox/control` (out-of-process servers such as gunicorn in benchmarks).
"""

from __future__ import annotations

import base64
import math
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from dashboard.sandbox import keys, orders, seed, trigger_auth, trigger_orders, trigger_seed, trigger_transactions
from dashboard.sandbox.models import Call, DcaOrder, DcaWithdrawal, Fault, Knobs, RateHit, SandboxOrder

V1_ENDPOINTS = ("getRecurringOrders", "cancelOrder", "execute")
# Trigger API v2 (DCA); "dca-notfound" is any other path under /sandbox/trigger/v2/ (trailing slashes…).
V2_ENDPOINTS = ("dca-challenge", "dca-verify", "dca-list", "dca-order", "dca-cancel", "dca-confirm", "dca-notfound")
ENDPOINTS = (*V1_ENDPOINTS, "tokens", *V2_ENDPOINTS, "solana-rpc")  # solana-rpc: the optional Solana RPC
ANY_ENDPOINT = "*"
# Faults answered by the "gateway" before the endpoint runs (timeout: after it, late).
GATEWAY_FAULTS = ("500", "502", "403", "429", "timeout", "nonjson")
# Faults only `execute` can have: the transaction is refused after the request is validated.
EXECUTE_FAULTS = ("failed", "insufficient_funds")
FAULT_KINDS = GATEWAY_FAULTS + EXECUTE_FAULTS
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_EXPIRY_SECONDS = 90
WINDOW_SECONDS = 60
# Endpoints counted against the rate limit. `execute` is not: a signed transaction is never
# bounced by the limiter (the doc names getRecurringOrders and cancelOrder as counted). Jupiter
# counts every Trigger v2 call against the same per-organisation limit, confirm-cancel included.
RATE_LIMITED_ENDPOINTS = ("getRecurringOrders", "cancelOrder", "tokens", *V2_ENDPOINTS)
V1_OFF_STATUSES = (404, 410)
# Shapes the sandbox can drift to, as the live API has (or might): the early live v1 list
# `{"data": {"time": {"orders": …}}}`; the v2 list under another key; every v2 order's `id`
# renamed; the Tokens API's `id` renamed `address` (as in its v1).
DRIFTS = ("v1_list", "v2_list", "v2_order", "tokens")
DEFAULT_CHALLENGE_SECONDS = 300
DEFAULT_TOKEN_SECONDS = 24 * 3600


def knobs() -> Knobs:
    """The shared knob row, created with defaults on first use."""
    try:
        return Knobs.objects.get(pk=1)
    except Knobs.DoesNotExist:
        try:
            with transaction.atomic():
                return Knobs.objects.create(pk=1)
        except IntegrityError:
            return Knobs.objects.get(pk=1)


def reset() -> None:
    """Clear knobs, faults, the rate-limit window and the call log (orders are kept)."""
    with transaction.atomic():
        Fault.objects.all().delete()
        Call.objects.all().delete()
        RateHit.objects.all().delete()
        # The token generation is not reset: tokens expired by expire_dca_tokens() stay expired.
        Knobs.objects.update_or_create(
            pk=1,
            defaults={
                "latency_ms": 0,
                "rate_limit_rps": None,
                "expiry_seconds": DEFAULT_EXPIRY_SECONDS,
                "v1_status": None,
                "dca_challenge_seconds": DEFAULT_CHALLENGE_SECONDS,
                "dca_token_seconds": DEFAULT_TOKEN_SECONDS,
                "dca_withdrawal_mode": trigger_transactions.NORMAL,
                "drift": "",
            },
        )


def set_latency(ms: int) -> None:
    """Delay every sandbox answer by `ms` milliseconds."""
    if int(ms) < 0:
        raise ValueError("latency must be >= 0 ms")
    knobs()
    Knobs.objects.filter(pk=1).update(latency_ms=int(ms))


def set_rate_limit(rps: Decimal | float | int | str | None) -> None:
    """Limit counted endpoints to `rps` requests a second over a sliding 60 s window (None: no limit)."""
    value = None
    if rps is not None:
        try:
            value = Decimal(str(rps))
        except InvalidOperation:
            raise ValueError(f"rate limit must be a number, got {rps!r}") from None
        if not value.is_finite() or value <= 0:
            raise ValueError("rate limit must be greater than zero")
    knobs()
    with transaction.atomic():
        Knobs.objects.filter(pk=1).update(rate_limit_rps=value)
        RateHit.objects.all().delete()


def set_expiry(seconds: int) -> None:
    """How long an issued cancel (v1) or withdrawal (v2) transaction stays valid (its blockhash lifetime)."""
    if int(seconds) < 0:
        raise ValueError("expiry must be >= 0 seconds")
    knobs()
    Knobs.objects.filter(pk=1).update(expiry_seconds=int(seconds))


def inject_fault(endpoint: str, kind: str, times: int = 1, seconds: float | None = None) -> None:
    """Make the next `times` calls of `endpoint` ("*" for any) fail with `kind`.

    Kinds: "500", "502", "403" (gateway refusal), "429" (its `x-ratelimit-reset` `seconds` from now,
    default 1), "timeout" (answer after `seconds`, default 30; the work is done, e.g. execute still
    closes the order and dca-confirm still cancels it),
    "nonjson", and for execute only "failed" and "insufficient_funds".
    """
    kind = str(kind)
    if endpoint not in (*ENDPOINTS, ANY_ENDPOINT):
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)} or *")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    if int(times) < 1:
        raise ValueError("times must be >= 1")
    if seconds is not None and float(seconds) < 0:
        raise ValueError("seconds must be >= 0")
    Fault.objects.create(
        endpoint=endpoint, kind=kind, remaining=int(times), seconds=None if seconds is None else float(seconds)
    )


def calls(endpoint: str | None = None) -> list[dict]:
    """The call log, oldest first, optionally for one endpoint."""
    rows = Call.objects.all() if endpoint is None else Call.objects.filter(endpoint=endpoint)
    return list(rows.values("endpoint", "method", "user", "order_key", "request_id", "status", "fault", "at"))


def count_calls(endpoint: str | None = None, **filters: object) -> int:
    """How many calls were logged, e.g. `count_calls("execute", status=200, user=wallet)`."""
    rows = Call.objects.filter(**filters)
    if endpoint is not None:
        rows = rows.filter(endpoint=endpoint)
    return rows.count()


def seed_wallet(wallet: str, active: int = seed.DEFAULT_ACTIVE, history: int = seed.DEFAULT_HISTORY) -> list[str]:
    """Replace a wallet's orders with `active` active and `history` closed ones; their keys."""
    if int(active) < 0 or int(history) < 0:
        raise ValueError("active and history must be >= 0")
    return [o.order_key for o in seed.seed_wallet(wallet, int(active), int(history))]


def get_order(order_key: str) -> dict | None:
    """The sandbox's current view of an order (API shape plus "status"), or None."""
    order = SandboxOrder.objects.filter(order_key=order_key).first()
    if order is None:
        return None
    return {**orders.order_to_api(order), "status": order.status}


# --- Trigger API v2 (DCA) and the v1 switch ----------------------------------------------------


def switch_off_v1(status: int | None = 404) -> None:
    """Make every Recurring API v1 endpoint answer `status` (404 or 410); None switches v1 back on."""
    if status is not None and int(status) not in V1_OFF_STATUSES:
        raise ValueError("status must be 404, 410 or null")
    knobs()
    Knobs.objects.filter(pk=1).update(v1_status=None if status is None else int(status))


def set_dca_withdrawal_mode(mode: str) -> None:
    """The shape of the withdrawal transactions issued from now on (trigger_transactions.MODES):
    benign ones — "normal" (a SOL order's deposit closed straight to the wallet), "transfer_checked",
    "sol_unwrap" (a SOL refund moved into the wallet's wrapped-SOL account, which it closes to itself),
    "transfer_fee" (Token-2022 refunds name a 0.3 % transfer fee) — or harmful ones such as
    "refund_elsewhere", "huge_fee" or "short_refund" (1 base unit, and refundAmount says 1)."""
    if mode not in trigger_transactions.MODES:
        raise ValueError(f"unknown withdrawal mode {mode!r}; expected one of {', '.join(trigger_transactions.MODES)}")
    knobs()
    Knobs.objects.filter(pk=1).update(dca_withdrawal_mode=mode)


def set_drift(shape: str | None) -> None:
    """Answer in a drifted shape from now on (one of DRIFTS), or as documented again (None or "")."""
    if shape and shape not in DRIFTS:
        raise ValueError(f"unknown drift {shape!r}; expected one of {', '.join(DRIFTS)} or null")
    knobs()
    Knobs.objects.filter(pk=1).update(drift=shape or "")


def drift() -> str:
    """The drifted shape the sandbox answers in ("" when none)."""
    return knobs().drift


def set_dca_token_lifetime(seconds: int) -> None:
    """The lifetime of JWTs issued from now on (default 24 h; 0 issues tokens that are already expired)."""
    if int(seconds) < 0:
        raise ValueError("token lifetime must be >= 0 seconds")
    knobs()
    Knobs.objects.filter(pk=1).update(dca_token_seconds=int(seconds))


def set_dca_challenge_lifetime(seconds: int) -> None:
    """How long an auth challenge can be redeemed (default 300 s), for challenges old and new."""
    if int(seconds) < 0:
        raise ValueError("challenge lifetime must be >= 0 seconds")
    knobs()
    Knobs.objects.filter(pk=1).update(dca_challenge_seconds=int(seconds))


def expire_dca_tokens() -> None:
    """Every JWT issued so far answers 401 from now on (as if they had all expired)."""
    knobs()
    Knobs.objects.filter(pk=1).update(dca_token_generation=F("dca_token_generation") + 1)


def issue_dca_token(wallet: str) -> str:
    """A valid JWT for `wallet` without the challenge (tests of code that only reads orders)."""
    if keys.parse_pubkey(wallet) is None:
        raise ValueError(f"not a Solana public key: {wallet!r}")
    current = knobs()
    trigger_seed.ensure_seeded(wallet)
    return trigger_auth.issue_token(wallet, time.time(), current.dca_token_seconds, current.dca_token_generation)


def seed_dca_wallet(wallet: str, standard: bool = True, extra_past: int = 0, extra_active: int = 0) -> list[dict]:
    """Replace a wallet's v2 orders: the standard set (one per state…) unless `standard` is False,
    plus `extra_past` closed ones and `extra_active` plain active ones. Returns [{"id", "name",
    "state"}] in seeding order."""
    if int(extra_past) < 0 or int(extra_active) < 0:
        raise ValueError("extra_past and extra_active must be >= 0")
    built = trigger_seed.seed_wallet(wallet, bool(standard), int(extra_past), extra_active=int(extra_active))
    names = [spec.name for spec in trigger_seed.STANDARD] if standard else []
    names += [f"past-{n}" for n in range(int(extra_past))]
    names += [f"more-{n}" for n in range(int(extra_active))]
    return [{"id": o.order_id, "name": name, "state": o.state} for o, name in zip(built, names, strict=True)]


def set_dca_state(order_id: str, state: str) -> None:
    """Put a v2 order in `state` (e.g. "executing": a round is running, so cancel is refused)."""
    if state not in DcaOrder.State.values:
        raise ValueError(f"unknown state {state!r}; expected one of {', '.join(DcaOrder.State.values)}")
    if not DcaOrder.objects.filter(order_id=order_id).update(state=state, updated_at=timezone.now()):
        raise ValueError(f"no DCA order {order_id!r}")


def get_dca_order(order_id: str) -> dict | None:
    """The sandbox's current view of a v2 order (the API shape), or None."""
    order = DcaOrder.objects.filter(order_id=order_id).first()
    return None if order is None else trigger_orders.order_to_api(order)


def dca_withdrawals(order_id: str) -> list[dict]:
    """The withdrawals issued for a v2 order, oldest first: request id, mode, refund, whether and how
    it was confirmed (`landed`: the fully signed transaction in base64, after confirm-cancel)."""
    rows = DcaWithdrawal.objects.filter(order__order_id=order_id).order_by("id")
    return [
        {
            "requestId": w.request_id,
            "mode": w.mode,
            "refundAmount": str(w.refund_amount),
            "confirmed": w.confirmed_at is not None,
            "txSignature": w.tx_signature or None,
            "landed": base64.b64encode(bytes(w.landed)).decode() if w.landed else None,
        }
        for w in rows
    ]


# --- used by the views -------------------------------------------------------------------------


def take_fault(endpoint: str, kinds: tuple[str, ...]) -> Fault | None:
    """Consume one pending fault of the given kinds for this endpoint (oldest first), atomically."""
    while True:
        fault = (
            Fault.objects.filter(endpoint__in=(endpoint, ANY_ENDPOINT), kind__in=kinds, remaining__gt=0)
            .order_by("id")
            .first()
        )
        if fault is None:
            return None
        taken = Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(remaining=F("remaining") - 1)
        if taken:
            Fault.objects.filter(pk=fault.pk, remaining=0).delete()
            return fault
        # Another thread took the last use of it; look again.


@dataclass(frozen=True)
class RateDecision:
    limited: bool
    headers: dict[str, str] = field(default_factory=dict)


def check_rate_limit(endpoint: str) -> RateDecision:
    """Count this request in the sliding window; limited when the window is already full."""
    rps = knobs().rate_limit_rps
    if rps is None or endpoint not in RATE_LIMITED_ENDPOINTS:
        return RateDecision(limited=False)
    limit = max(1, int(rps * WINDOW_SECONDS))
    now = time.time()
    with transaction.atomic():
        Knobs.objects.select_for_update().get(pk=1)  # one counter at a time
        RateHit.objects.filter(at__lte=now - WINDOW_SECONDS).delete()
        current = RateHit.objects.count()
        limited = current >= limit
        if not limited:
            RateHit.objects.create(at=now)
            current += 1
        oldest = RateHit.objects.order_by("at").values_list("at", flat=True).first() or now
    return RateDecision(
        limited=limited,
        headers={
            "x-ratelimit-remaining": str(max(0, limit - current)),
            "x-ratelimit-current": str(current),
            "x-ratelimit-reset": str(math.ceil(oldest + WINDOW_SECONDS)),
        },
    )


def expiry_seconds() -> int:
    return knobs().expiry_seconds


def record_call(endpoint: str, method: str, status: int, details: dict[str, str], fault: str = "") -> None:
    """Append one answered request to the call log."""
    Call.objects.create(
        endpoint=endpoint,
        method=method[:8],
        user=details.get("user", "")[:64],
        order_key=details.get("order", "")[:64],
        request_id=details.get("requestId", "")[:64],
        status=status,
        fault=fault,
        at=timezone.now(),
    )
