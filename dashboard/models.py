"""What the dashboard itself remembers: sign-in challenges, orders seen, cancel attempts, what
each list last showed, and wallets' connections to Jupiter's DCA."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from dashboard import messages

# A cancel transaction's blockhash lives ~60-90 s: a signed one older than this is not relayed.
ATTEMPT_LIFETIME = timedelta(seconds=75)


class SignInChallenge(models.Model):
    """A Sign-In With Solana input issued to one browser session; its nonce is used once."""

    nonce = models.CharField(max_length=64, unique=True)
    session_key = models.CharField(max_length=64, db_index=True)
    domain = models.CharField(max_length=255)
    uri = models.CharField(max_length=512)
    statement = models.CharField(max_length=512)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # For wallets without solana:signIn: the address they connected and the exact text sent.
    address = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sign-in {self.nonce}"


class TrackedOrder(models.Model):
    """Every order seen upstream, with its last snapshot, so pages survive an upstream outage."""

    class System(models.TextChoices):
        # The labels are the words every card, table and file uses to name an order's system.
        RECURRING = "v1", "Jupiter Recurring"
        DCA = "v2", "Jupiter DCA"

    wallet = models.CharField(max_length=64)
    # The v1 order key (base58), or the v2 order id (a UUID): they never collide.
    order_key = models.CharField(max_length=64)
    system = models.CharField(max_length=2, choices=System.choices, default=System.RECURRING)
    status = models.CharField(max_length=16)  # "active", "history", or "closed" (left the active list)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()
    # When we saw it close (its cancel went through, or an active list no longer showed it): a
    # list fetched before that moment never shows it active again (`freshness`).
    closed_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.JSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["wallet", "order_key"], name="tracked_order_unique")]
        indexes = [models.Index(fields=["wallet", "status"])]

    def __str__(self) -> str:
        return self.order_key


class CancelAttempt(models.Model):
    """One cancel transaction issued for one wallet's order, and what became of it."""

    class State(models.TextChoices):
        ISSUED = "issued", "Waiting for the wallet"
        SENDING = "sending", "Sending"
        PENDING = "pending", "Still confirming"
        SUCCEEDED = "succeeded", "Cancelled"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"  # closed unsent (attempts.close_others), or its refund failed the check
        EXPIRED = "expired", "Expired"

    wallet = models.CharField(max_length=64, db_index=True)
    order_key = models.CharField(max_length=64)
    # System.RECURRING: a Recurring API cancel (request_id: cancelOrder's requestId, relayed with execute);
    # System.DCA: a Trigger API v2 DCA refund (request_id: the cancel's requestId, relayed with
    # confirm-cancel). In both, `message` holds the exact message bytes the wallet was asked to sign.
    system = models.CharField(max_length=2, choices=TrackedOrder.System.choices, default=TrackedOrder.System.RECURRING)
    request_id = models.CharField(max_length=128)
    message = models.BinaryField()
    issued_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.ISSUED)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    signature = models.CharField(max_length=128, blank=True)
    upstream_status = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    # What became of it: a stable code (`dashboard.messages`; what behaviour reads) and the words
    # the trader was told (`outcome`, kept as said then).
    code = models.CharField(max_length=40, blank=True)
    outcome = models.TextField(blank=True)
    # What the trader reads if it goes through, e.g. "Order cancelled. 45 USDC and 0.12 SOL are back in your wallet."
    cancelled_text = models.CharField(max_length=300, blank=True)
    # What the signed transaction pays the network (signatures and priority fee), recorded when it
    # is relayed; the tax exports give it as the cancel's network fee once the cancel succeeded.
    network_fee_lamports = models.PositiveBigIntegerField(null=True, blank=True)

    # Not stored: the seconds Jupiter asked us to wait when this request's relay met its rate
    # limit (the answer's Retry-After); None otherwise.
    retry_after: int | None = None

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"cancel {self.order_key} ({self.state})"

    @property
    def summary(self) -> str:
        """What became of this attempt, in plain words."""
        if self.outcome:
            return self.outcome
        if self.state == self.State.ISSUED and timezone.now() - self.issued_at > ATTEMPT_LIFETIME:
            if self.system == TrackedOrder.System.DCA:
                return messages.words("refund_expired_unsigned")
            return messages.words("expired_unsigned")
        return self.get_state_display()

    @property
    def explorer_url(self) -> str:
        """A link only for a transaction that landed, or may have (sending, still confirming):
        a failed, expired or declined one never reached the chain, so there is nothing to see."""
        if not self.signature or self.state not in (self.State.SUCCEEDED, self.State.PENDING, self.State.SENDING):
            return ""
        return settings.EXPLORER_TX_URL.format(self.signature)


class ListMark(models.Model):
    """What one of a wallet's lists ("active" or "history" of one system) last showed, shared by
    every worker and instance through the database, so no worker serves an older copy of it
    (see `dashboard/freshness.py`)."""

    wallet = models.CharField(max_length=64)
    system = models.CharField(max_length=2, choices=TrackedOrder.System.choices)
    status = models.CharField(max_length=16)  # "active" or "history"
    as_of = models.DateTimeField(null=True, blank=True)  # the newest "as of" shown: never go back
    changed_at = models.DateTimeField(null=True, blank=True)  # we changed it (a stop): older copies are refetched
    closed_at = models.DateTimeField(null=True, blank=True)  # an order of it closed: older copies drop it

    class Meta:
        constraints = [models.UniqueConstraint(fields=["wallet", "system", "status"], name="list_mark_unique")]

    def __str__(self) -> str:
        return f"{self.wallet} {self.system} {self.status}"


class DcaConnection(models.Model):
    """A wallet's connection to Jupiter's DCA (Trigger API v2), one per wallet.

    Holds the challenge Jupiter issued for the wallet (until the wallet's signature is checked and
    it is used once) and then the wallet's token, for as long as Jupiter gives it (at most 24
    hours). It belongs to the wallet, not to one browser session: any session signed in with that
    wallet (each with its own Sign-In With Solana proof) uses it, so signing in again finds it.
    The token lives only here, on the server: never in a cookie, a page, a JSON answer or a log
    line. It ends at its own expiry, on Jupiter's first 401, when the trader presses Disconnect,
    or when they sign out everywhere.
    """

    wallet = models.CharField(max_length=64, unique=True)
    challenge_type = models.CharField(max_length=16, blank=True)  # "message" or "transaction"
    challenge = models.TextField(blank=True)  # the exact text, or the memo message bytes in base64
    challenge_issued_at = models.DateTimeField(null=True, blank=True)
    token = models.TextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)  # the last successful connect
    ended = models.CharField(max_length=16, blank=True)  # "expired" or "refused": why the token went

    def __repr__(self) -> str:
        return f"<DcaConnection {self.wallet} {'connected' if self.token else 'not connected'}>"

    def __str__(self) -> str:
        return f"DCA connection of {self.wallet}"
