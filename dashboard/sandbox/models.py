"""State of the simulated Jupiter upstream: orders, issued cancel transactions, knobs, call log.

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
    expiry_seconds = models.PositiveIntegerField(default=90)

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
