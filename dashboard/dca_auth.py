"""Connecting a signed-in wallet to Jupiter's DCA (Trigger API v2): one signature a day.

Reading v2 orders needs a token Jupiter gives for the wallet's signature over its challenge.
The server does every step that matters, in this order:

1. `issue`: ask Jupiter's `/auth/challenge` for the *session's* wallet, check what came back
   (the documented text; or, for wallets that can only sign transactions, a memo transaction —
   nothing but memos and capped compute-budget settings — whose only signer and fee payer is the
   wallet), and store it for that wallet.
2. The bridge has the wallet sign it (`solana:signMessage`, or `solana:signTransaction` without
   sending) and posts the signature back.
3. `connect`: before any call to Jupiter, check that the signature is the session wallet's over
   exactly the challenge stored for the wallet less than 5 minutes ago (the transaction
   unchanged); use the challenge up atomically; only then call `/auth/verify`. Anything else is
   refused with a stable code (its words in `dashboard.messages`) and no upstream call. Jupiter
   saying "Challenge not found" there (`challenge_not_found`) is the trader's signature not
   matching the challenge Jupiter holds: a refusal of what was sent (sign again), not a failure.
4. The token is kept for the wallet (`models.DcaConnection`), not for one browser session:
   signing in again with the same wallet — a fresh Sign-In With Solana proof, nothing weaker —
   finds it. It is never sent to the browser and never logged; it ends at its own expiry (at
   most 24 hours), on Jupiter's first 401, at "Disconnect" (`forget`) or when the trader signs
   out everywhere, whichever comes first.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone
from solders.message import to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature

from dashboard import messages, transactions, trigger, upstream
from dashboard.models import DcaConnection

logger = logging.getLogger(__name__)

CHALLENGE_LIFETIME = timedelta(minutes=5)  # Jupiter's; a challenge older than this is not sent
CHALLENGE_PREFIX = "Sign this message to authenticate with Jupiter Trigger Order API: "
MAX_CHALLENGE_CHARS = 512
MAX_SIGNED_MESSAGE_BYTES = 1024
SIGNATURE_BYTES = 64


class ConnectRefused(Exception):
    """A refused connect. `code`: what happened — one of `dashboard.messages`' (its words are
    `message`, unless given), Jupiter's error code when Jupiter refused or failed
    (`upstream.JupiterError.code`, e.g. `challenge_not_found`: sign again). `reason`: "invalid"
    (what the browser sent is not acceptable, or Jupiter did not accept the signature),
    "conflict" (no fresh, unused challenge of this wallet), "upstream" (Jupiter failed, or sent
    something we cannot vouch for) or "signed_out". `field`: the field of the browser's answer at
    fault, when one is; `retry_after`: the seconds Jupiter asked us to wait (it was busy), else None."""

    def __init__(
        self,
        code: str,
        *,
        reason: str = "invalid",
        retry: bool = True,
        message: str = "",
        field: str = "",
        retry_after: int | None = None,
        **params: str,
    ) -> None:
        self.code = code
        self.message = message or messages.words(code, **params)
        super().__init__(self.message)
        self.reason = reason
        self.retry = retry
        self.field = field
        self.retry_after = retry_after

    @classmethod
    def by_jupiter(
        cls, exc: upstream.JupiterError, *, reason: str = "upstream", retry: bool | None = None
    ) -> ConnectRefused:
        """Jupiter's error as a refusal: its code and words, and how long it asked us to wait."""
        retry = exc.retryable if retry is None else retry
        return cls(exc.code, reason=reason, retry=retry, message=exc.user_message, retry_after=exc.retry_after)


@dataclass(frozen=True)
class Pending:
    """The challenge stored for a wallet: what it must sign, and when it was fetched."""

    wallet: str
    type: str  # trigger.MESSAGE or trigger.TRANSACTION
    signed_bytes: bytes  # the text's UTF-8 bytes, or the memo transaction's message bytes
    issued_at: datetime


@dataclass(frozen=True)
class Access:
    """What a wallet may do with Jupiter's DCA right now.

    state: "connected" (a token that has not expired), "offer" (not connected, or disconnected)
    or "ended" (the token expired or Jupiter refused it: ask again)."""

    state: str
    token: str = field(default="", repr=False)
    expires_at: datetime | None = None

    @property
    def connected(self) -> bool:
        return self.state == "connected"


# --- checks (pure: no database, no network) -------------------------------------------------------


def check_challenge_text(text: str) -> str:
    """Jupiter's challenge text, as documented: its fixed prefix, one short printable line."""
    if (
        not text.startswith(CHALLENGE_PREFIX)
        or len(text) > MAX_CHALLENGE_CHARS
        or len(text) == len(CHALLENGE_PREFIX)
        or not text.isprintable()
    ):
        raise ConnectRefused("unexpected_challenge", reason="upstream", retry=False)
    return text


def check_memo_transaction(raw: bytes, wallet: str) -> bytes:
    """A challenge transaction: memo instructions, and at most a SetComputeUnitLimit and a
    SetComputeUnitPrice without accounts (the live API adds one) whose priority fee is within
    `DASHBOARD_MAX_PRIORITY_FEE_LAMPORTS`; the wallet its fee payer and only signer; no address
    tables (`transactions.memo_notes`). Returns the exact message bytes the wallet signs."""
    try:
        tx = transactions.parse_transaction(raw)
        transactions.memo_notes(
            transactions.read_message(tx.message), Pubkey.from_string(wallet), settings.MAX_PRIORITY_FEE_LAMPORTS
        )
    except (transactions.InvalidTransaction, ValueError):
        raise ConnectRefused("challenge_does_more", reason="upstream", retry=False) from None
    return to_bytes_versioned(tx.message)


def _check_fresh(pending: Pending | None, wallet: str, kind: str, now: datetime) -> Pending:
    if pending is None or not pending.signed_bytes or pending.issued_at is None:
        raise ConnectRefused("no_connect_request", reason="conflict")
    if pending.wallet != wallet:
        raise ConnectRefused("connect_other_wallet", reason="conflict")
    if pending.type != kind:
        raise ConnectRefused("connect_wrong_kind", field="type")
    if now - pending.issued_at >= CHALLENGE_LIFETIME or now < pending.issued_at:
        raise ConnectRefused("connect_expired", reason="conflict")
    return pending


def check_signed_message(
    pending: Pending | None, wallet: str, signed_message: bytes, signature: bytes, now: datetime
) -> Signature:
    """The wallet's signature over exactly the text fetched for this wallet < 5 minutes ago."""
    pending = _check_fresh(pending, wallet, trigger.MESSAGE, now)
    if signed_message != pending.signed_bytes:
        raise ConnectRefused("connect_text_changed", field="signedMessage")
    if len(signature) != SIGNATURE_BYTES:
        raise ConnectRefused("connect_signature_unreadable", field="signature")
    signed = Signature.from_bytes(signature)
    if not signed.verify(Pubkey.from_string(wallet), pending.signed_bytes):
        raise ConnectRefused("connect_signature_invalid", field="signature")
    return signed


def check_signed_transaction(pending: Pending | None, wallet: str, signed: bytes, now: datetime) -> bytes:
    """The memo challenge transaction fetched for this wallet < 5 minutes ago, unchanged, signed
    by the wallet (its only signer). Returns the exact bytes to hand to Jupiter (never sent on chain)."""
    pending = _check_fresh(pending, wallet, trigger.TRANSACTION, now)
    try:
        tx = transactions.parse_transaction(signed)
    except transactions.InvalidTransaction as exc:
        raise ConnectRefused("connect_transaction_unreadable", field="signedTransaction", detail=exc.message) from None
    message = to_bytes_versioned(tx.message)
    if message != pending.signed_bytes:
        raise ConnectRefused("connect_transaction_changed", field="signedTransaction")
    check_memo_transaction(signed, wallet)  # the same message: still memo-only, the wallet alone
    if len(tx.signatures) != 1 or not tx.signatures[0].verify(Pubkey.from_string(wallet), message):
        raise ConnectRefused("connect_not_signed", field="signedTransaction")
    return signed


# --- the wallet's connection -----------------------------------------------------------------------


def pending_of(row: DcaConnection | None) -> Pending | None:
    if row is None or not row.challenge or row.challenge_issued_at is None:
        return None
    text = row.challenge
    signed_bytes = text.encode() if row.challenge_type == trigger.MESSAGE else base64.b64decode(text)
    return Pending(row.wallet, row.challenge_type, signed_bytes, row.challenge_issued_at)


def issue(wallet: str, kind: str) -> trigger.Challenge:
    """Fetch and check Jupiter's challenge for the session's wallet, and store it for that wallet
    (replacing any earlier one; a token it has is kept until a new one comes)."""
    if kind not in trigger.CHALLENGE_TYPES:
        raise ConnectRefused("connect_kind_unknown", field="type")
    try:
        challenge = trigger.request_challenge(wallet, kind)
    except upstream.JupiterError as exc:
        raise ConnectRefused.by_jupiter(exc) from None
    if kind == trigger.MESSAGE:
        stored = check_challenge_text(challenge.message)
    else:
        stored = base64.b64encode(check_memo_transaction(challenge.transaction, wallet)).decode()
    fields = {"challenge_type": kind, "challenge": stored, "challenge_issued_at": timezone.now()}
    if not DcaConnection.objects.filter(wallet=wallet).update(**fields):
        try:
            DcaConnection.objects.create(wallet=wallet, **fields)
        except IntegrityError:  # another request created the row meanwhile
            DcaConnection.objects.filter(wallet=wallet).update(**fields)
    return challenge


def connect(
    wallet: str,
    *,
    kind: str,
    signed_message: bytes = b"",
    signature: bytes = b"",
    signed_transaction: bytes = b"",
) -> datetime:
    """Check the wallet's answer against the challenge stored for it, use the challenge up, get
    the token from Jupiter and keep it for the wallet; when it expires."""
    now = timezone.now()
    row = DcaConnection.objects.filter(wallet=wallet).first()
    pending = pending_of(row)
    if kind == trigger.MESSAGE:
        answer = {"signature": str(check_signed_message(pending, wallet, signed_message, signature, now))}
    elif kind == trigger.TRANSACTION:
        answer = {"signed_transaction": check_signed_transaction(pending, wallet, signed_transaction, now)}
    else:
        raise ConnectRefused("connect_kind_unknown", field="type")
    assert row is not None and pending is not None  # the checks above refuse otherwise
    # Use the challenge up before calling Jupiter: a double click or a replay gets nowhere.
    used = DcaConnection.objects.filter(
        pk=row.pk, challenge=row.challenge, challenge_issued_at=pending.issued_at
    ).update(challenge="", challenge_type="", challenge_issued_at=None)
    if not used:
        raise ConnectRefused("signature_used", reason="conflict")
    try:
        token = trigger.verify(wallet, **answer)
    except upstream.JupiterError as exc:
        logger.info("dca connect refused by jupiter: status=%s code=%s", exc.status, exc.code)
        # "Challenge not found": the signature does not match what Jupiter holds (or it forgot
        # it), a refusal of what was sent — sign again. Anything else is Jupiter's failure.
        reason = "invalid" if exc.code == "challenge_not_found" else "upstream"
        raise ConnectRefused.by_jupiter(exc, reason=reason, retry=True) from None
    kept = DcaConnection.objects.filter(pk=row.pk, wallet=wallet).update(
        token=token.value, token_expires_at=token.expires_at, connected_at=now, ended=""
    )
    if not kept:  # forgotten meanwhile (Disconnect, or signed out everywhere)
        raise ConnectRefused("disconnected_meanwhile", reason="conflict")
    logger.info("dca connected: wallet=%s expires=%s", wallet, token.expires_at.isoformat())
    return token.expires_at


def access(wallet: str) -> Access:
    """The signed-in wallet's access to its v2 orders; an expired token is dropped here."""
    row = DcaConnection.objects.filter(wallet=wallet).first() if wallet else None
    if row is None:
        return Access("offer")
    if row.token and row.token_expires_at and row.token_expires_at > timezone.now():
        return Access("connected", token=row.token, expires_at=row.token_expires_at)
    if row.token:
        end(wallet, "expired")
        return Access("ended")
    return Access("ended" if row.ended else "offer")


def end(wallet: str, reason: str = "refused") -> None:
    """Drop the wallet's token (Jupiter refused it, or it expired); the page asks again."""
    DcaConnection.objects.filter(wallet=wallet).exclude(token="").update(token="", token_expires_at=None, ended=reason)


def forget(wallet: str) -> None:
    """Forget the wallet's connection at once ("Disconnect", or signing out everywhere)."""
    DcaConnection.objects.filter(wallet=wallet).delete()


def clear_expired(now: datetime | None = None) -> int:
    """Delete connections that can no longer be used (no live token, no fresh challenge); how many."""
    now = now or timezone.now()
    usable = Q(token_expires_at__gt=now) & ~Q(token="") | Q(challenge_issued_at__gt=now - CHALLENGE_LIFETIME)
    return DcaConnection.objects.exclude(usable).delete()[0]
