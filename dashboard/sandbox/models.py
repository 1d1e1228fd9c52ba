"""State of the simulated Jupiter upstream: v1 and v2 orders, issued transactions, knobs, call log.

Everything lives in the database so several threads or worker processes (live_server, gunicorn
gthread) share one view of the sandbox, and the state survives restarts.
"""

from __future__ import annotations

from django.db import models


class SandboxOrder(models.Model):
    """One recurring (time-based DCA) order, amounts in integer base units."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        HISTORY = "history", "History"

    order_key = models.CharField(max_length=64, unique=True)
    user = models.CharField(max_length=64)
    input_mint = models.CharField(max_length=64)
    output_mint = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    raw_in_deposited = models.BigIntegerField()
    raw_in_used = models.BigIntegerField(default=0)
    raw_in_withdrawn = models.BigIntegerField(default=0)
    raw_in_amount_per_cycle = models.BigIntegerField()
    raw_out_received = models.BigIntegerField(default=0)
    raw_out_withdrawn = models.BigIntegerField(default=0)
    raw_min_out_amount = models.BigIntegerField(default=0)
    raw_max_out_amount = models.BigIntegerField(default=0)
    cycle_frequency = models.PositiveIntegerField()
    # Upstream emits cycleFrequency sometimes as a string, sometimes as a number.
    frequency_as_string = models.BooleanField(default=True)
    open_tx = models.CharField(max_length=100)
    # None -> JSON null, "" -> JSON "" (both seen upstream for active orders).
    close_tx = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    user_closed = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Timestamps are rendered with milliseconds for some orders, without for others.
    millis = models.BooleanField(default=True)
    # Fills: [{"rawInputAmount", "rawOutputAmount", "rawFeeAmount", "txId", "confirmedAt", "keeper"}]
    # with raw amounts as strings and confirmedAt as an ISO string; oldest first.
    fills = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["user", "status", "-created_at"])]

    def __str__(self) -> str:
        return self.order_key


class SeededWallet(models.Model):
    """Marks a wallet whose default orders have been generated (seeding happens once)."""

    wallet = models.CharField(max_length=64, unique=True)
    seeded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.wallet


class CancelRequest(models.Model):
    """A cancel transaction issued by cancelOrder, awaiting its signed copy at execute."""

    request_id = models.CharField(max_length=64, unique=True)
    user = models.CharField(max_length=64)
    order_key = models.CharField(max_length=64)
    message = models.BinaryField()
    created_at = models.DateTimeField()
    executed_at = models.DateTimeField(null=True, blank=True)
    signature = models.CharField(max_length=100, blank=True)

    def __str__(self) -> str:
        return f"cancel {self.order_key} ({self.request_id})"


class Knobs(models.Model):
    """The single row (pk=1) of tunable behaviour shared by every thread and process."""

    latency_ms = models.PositiveIntegerField(default=0)
    rate_limit_rps = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    # How long an issued cancel (v1) or withdrawal (v2) transaction stays valid: its blockhash lifetime.
    expiry_seconds = models.PositiveIntegerField(default=90)
    # Recurring API v1 switched off: every v1 endpoint answers this status (404 or 410); None: on.
    v1_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # Trigger API v2: lifetimes of auth challenges and of the JWTs /auth/verify issues.
    dca_challenge_seconds = models.PositiveIntegerField(default=300)
    dca_token_seconds = models.PositiveIntegerField(default=24 * 3600)
    # Tokens carry the generation they were issued in; bumping it expires every token issued so far.
    dca_token_generation = models.PositiveIntegerField(default=0)
    # The shape of the withdrawal transactions /orders/dca/cancel issues ("normal" or a harmful variant).
    dca_withdrawal_mode = models.CharField(max_length=32, default="normal")
    # A drifted answer shape (control.DRIFTS: "v1_list", "v2_list", "v2_order", "tokens"); "": as documented.
    drift = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return "sandbox knobs"


class Fault(models.Model):
    """A failure to inject into the next `remaining` calls of an endpoint ("*" = any)."""

    endpoint = models.CharField(max_length=32)
    kind = models.CharField(max_length=32)
    remaining = models.PositiveIntegerField(default=1)
    seconds = models.FloatField(null=True, blank=True)  # only for "timeout"; a delay, not money

    def __str__(self) -> str:
        return f"{self.kind} on {self.endpoint} x{self.remaining}"


class RateHit(models.Model):
    """One request counted against the sliding 60-second rate-limit window."""

    at = models.FloatField(db_index=True)  # Unix time with sub-second precision

    def __str__(self) -> str:
        return f"hit at {self.at}"


class Call(models.Model):
    """One request the sandbox answered, so tests can count upstream calls."""

    endpoint = models.CharField(max_length=32, db_index=True)
    method = models.CharField(max_length=8)
    user = models.CharField(max_length=64, blank=True)
    order_key = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    status = models.PositiveSmallIntegerField()
    fault = models.CharField(max_length=32, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} -> {self.status}"


class DcaOrder(models.Model):
    """One Trigger API v2 DCA order, amounts in integer base units (see trigger_orders.order_to_api)."""

    class State(models.TextChoices):
        DEPOSITING = "depositing"
        ACTIVE = "active"
        EXECUTING = "executing"
        WITHDRAWING = "withdrawing"
        COMPLETED = "completed"
        CANCELLED = "cancelled"
        DEPOSIT_FAILED = "deposit_failed"

    order_id = models.CharField(max_length=36, unique=True)
    request_id = models.CharField(max_length=36)
    user = models.CharField(max_length=64)
    vault = models.CharField(max_length=64)
    input_mint = models.CharField(max_length=64)
    output_mint = models.CharField(max_length=64)
    input_amount_initial = models.BigIntegerField()
    input_amount_remaining = models.BigIntegerField()
    amount_per_round = models.BigIntegerField()
    input_amount_used = models.BigIntegerField(default=0)
    output_amount_total = models.BigIntegerField(default=0)
    number_of_rounds = models.PositiveIntegerField()
    rounds_filled = models.PositiveIntegerField(default=0)
    interval_seconds = models.PositiveIntegerField()
    begin_fill_at = models.DateTimeField()
    next_fill_at = models.DateTimeField(null=True, blank=True)
    last_fill_at = models.DateTimeField(null=True, blank=True)
    order_type = models.CharField(max_length=32, default="time_based")
    min_price_usd = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    max_price_usd = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    # None -> JSON null (time-based orders have no trigger mint).
    trigger_mint = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    jl_enabled = models.BooleanField(default=False)
    jl_yield_usd = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # [{"type", "timestamp" (ISO), "txSignature", "state", "roundNumber"?, "inputAmount"?, ...}], oldest first.
    events = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["user", "state"])]

    def __str__(self) -> str:
        return f"DCA {self.order_id} ({self.state})"


class DcaSeededWallet(models.Model):
    """Marks a wallet whose default Trigger v2 DCA orders have been generated (once)."""

    wallet = models.CharField(max_length=64, unique=True)
    seeded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.wallet


class DcaChallenge(models.Model):
    """A challenge issued by /auth/challenge: the exact bytes the wallet must sign, used once."""

    nonce = models.CharField(max_length=64, unique=True)
    wallet = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)  # "message" or "transaction"
    payload = models.BinaryField()  # the challenge text (UTF-8) or the memo transaction's message
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["wallet", "kind", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} challenge for {self.wallet}"


class DcaWithdrawal(models.Model):
    """A withdrawal transaction issued by /orders/dca/cancel, awaiting its signed copy at confirm-cancel."""

    request_id = models.CharField(max_length=36, unique=True)
    order = models.ForeignKey(DcaOrder, on_delete=models.CASCADE, related_name="withdrawals")
    message = models.BinaryField()  # the issued message, exactly as the wallet must sign it
    refund_amount = models.BigIntegerField()
    mode = models.CharField(max_length=32, default="normal")
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    tx_signature = models.CharField(max_length=100, blank=True)
    landed = models.BinaryField(null=True, blank=True)  # the fully signed transaction, after confirm

    def __str__(self) -> str:
        return f"withdrawal {self.request_id} of {self.order_id}"
