"""Sign-In With Solana: issue a one-time challenge, then verify what the wallet signed.

The wallet turns the challenge into the standard SIWS text and signs it. Verification
follows a fixed order (the one Phantom's Sign-In With Solana specification sets out): strict decoding,
size limits, canonical text, every field against the challenge *stored* for this
session, the host, the time window, the ed25519 signature, the claimed address, and
finally the nonce, consumed once and atomically. Every refusal is a `SignInError` carrying a
stable code (`signature_invalid`, `challenge_expired`, `nonce_used`, `domain_mismatch`, …);
its words, which a non-technical user can act on, are in `dashboard.messages`.

Wallets that cannot sign messages (hardware wallets: no `solana:signIn`, no
`solana:signMessage`) sign a transaction instead, the fallback Jupiter uses: a memo carrying
this site's exact sign-in text, the wallet its fee payer and only signer, and a blockhash derived
from the nonce (not a real one, so it can never land; it is never sent). `verify_sign_in_transaction`
accepts nothing but that memo, unchanged, beside at most capped compute-unit settings a wallet
may add (`transactions.memo_notes`), the blockhash as issued and the wallet's signature over the
whole message; then the text goes through every check of the message path, and the nonce is used once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone as dj_timezone
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.message import Message, to_bytes_versioned
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard import encoding, messages, transactions
from dashboard.models import SignInChallenge

STATEMENT = (
    "Sign in to the DCA Dashboard to see and cancel your Jupiter recurring orders. "
    "This does not send a transaction or cost anything."
)
VERSION = "1"
CHAIN_ID = "mainnet"
CHALLENGE_LIFETIME = timedelta(minutes=5)
CLOCK_SKEW = timedelta(minutes=10)
MAX_BODY_BYTES = 8 * 1024
MAX_MESSAGE_BYTES = 2048


class SignInError(Exception):
    """A refused sign-in: `code` (what the browser decides on), its words (`message`, from
    `dashboard.messages`, filled in with `params`), the HTTP status to answer with, and the field
    of the wallet's answer at fault, when one is."""

    def __init__(self, code: str, status: int = 400, *, field: str = "", **params: str) -> None:
        if field in messages.FIELDS:
            params["what"] = messages.FIELDS[field]
        self.code = code
        self.message = messages.words(code, **params)
        super().__init__(self.message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class SignInFields:
    """The parts of a SIWS message, as text, in their fixed order."""

    domain: str
    address: str
    statement: str | None = None
    uri: str | None = None
    version: str | None = None
    chain_id: str | None = None
    nonce: str | None = None
    issued_at: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()


_LABELS = {
    "uri": "URI",
    "version": "Version",
    "chain_id": "Chain ID",
    "nonce": "Nonce",
    "issued_at": "Issued At",
    "expiration_time": "Expiration Time",
    "not_before": "Not Before",
    "request_id": "Request ID",
}
_HEADER = " wants you to sign in with your Solana account:"
_MESSAGE = re.compile(
    r"(?P<domain>[^\s]+)" + re.escape(_HEADER) + r"\n(?P<address>[1-9A-HJ-NP-Za-km-z]{32,44})"
    r"(?:\n\n(?P<statement>[^\n]+))?(?:\n\n(?P<fields>.+))?\Z",
    re.DOTALL,
)


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def format_message(f: SignInFields) -> str:
    """The SIWS text exactly as wallets build it (Phantom's reference serialiser)."""
    text = f"{f.domain}{_HEADER}\n{f.address}"
    if f.statement:
        text += f"\n\n{f.statement}"
    lines = [f"{label}: {getattr(f, name)}" for name, label in _LABELS.items() if getattr(f, name)]
    if f.resources:
        lines.append("Resources:" + "".join(f"\n- {r}" for r in f.resources))
    if lines:
        text += "\n\n" + "\n".join(lines)
    return text


def parse_message(text: str) -> SignInFields:
    """Parse SIWS text; refuse anything that does not re-serialise to the same text."""
    not_standard = SignInError("not_sign_in_text")
    match = _MESSAGE.match(text)
    if not match:
        raise not_standard
    values: dict[str, str] = {}
    resources: list[str] = []
    lines = match["fields"].split("\n") if match["fields"] else []
    labels = iter(_LABELS.items())
    while lines and not lines[0].startswith("Resources:"):
        line = lines.pop(0)
        for name, label in labels:
            if line.startswith(label + ": "):
                values[name] = line[len(label) + 2 :]
                break
        else:
            raise not_standard
    if lines:
        if lines.pop(0) != "Resources:" or not all(line.startswith("- ") for line in lines):
            raise not_standard
        resources = [line[2:] for line in lines]
    parsed = SignInFields(
        domain=match["domain"],
        address=match["address"],
        statement=match["statement"],
        resources=tuple(resources),
        **values,
    )
    parts = [v for v in (getattr(parsed, f.name) for f in fields(parsed)) if isinstance(v, str)]
    if format_message(parsed) != text or any(p != p.strip() or not p for p in parts):
        raise not_standard
    return parsed


def check_address(address: str) -> str:
    """A valid base58 Solana address, or a SignInError."""
    try:
        Pubkey.from_string(address)
    except ValueError:
        raise SignInError("bad_address", field="address") from None
    return address


def decode_base64(value: str, field: str, max_bytes: int) -> bytes:
    """Strict base64 (`encoding.decode_base64`) of 1 to `max_bytes` bytes of the wallet's answer's
    `field`, refused as a sign-in."""
    try:
        return encoding.decode_base64(value, max_bytes)
    except encoding.Undecodable as exc:
        code = "wrong_size_from_wallet" if exc.too_large else "unreadable_from_wallet"
        raise SignInError(code, field=field) from None


def challenge_fields(challenge: SignInChallenge, address: str) -> SignInFields:
    return SignInFields(
        domain=challenge.domain,
        address=address,
        statement=challenge.statement,
        uri=challenge.uri,
        version=VERSION,
        chain_id=CHAIN_ID,
        nonce=challenge.nonce,
        issued_at=format_time(challenge.issued_at),
        expiration_time=format_time(challenge.expires_at),
    )


def challenge_input(challenge: SignInChallenge) -> dict[str, str]:
    """The `solana:signIn` input (plus, for signMessage wallets, the full `text` to sign)."""
    data = {
        "domain": challenge.domain,
        "statement": challenge.statement,
        "uri": challenge.uri,
        "version": VERSION,
        "chainId": CHAIN_ID,
        "nonce": challenge.nonce,
        "issuedAt": format_time(challenge.issued_at),
        "expirationTime": format_time(challenge.expires_at),
    }
    if challenge.message:
        data["address"] = challenge.address
        data["text"] = challenge.message
    return data


def issue_challenge(
    session_key: str, domain: str, uri: str, address: str = "", now: datetime | None = None
) -> SignInChallenge:
    """Store a fresh challenge for this session. With an address, also the exact text to sign."""
    now = (now or dj_timezone.now()).replace(microsecond=0)
    SignInChallenge.objects.filter(
        Q(expires_at__lt=now - CLOCK_SKEW) | Q(session_key=session_key, consumed_at__isnull=True)
    ).delete()
    challenge = SignInChallenge(
        nonce=secrets.token_hex(16),
        session_key=session_key,
        domain=domain,
        uri=uri,
        statement=STATEMENT,
        issued_at=now,
        expires_at=now + CHALLENGE_LIFETIME,
    )
    if address:
        challenge.address = check_address(address)
        challenge.message = format_message(challenge_fields(challenge, address))
    challenge.save()
    return challenge


MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")  # SPL Memo v2


def challenge_blockhash(challenge: SignInChallenge) -> Hash:
    """The sign-in transaction's blockhash: derived from the nonce, never a real one."""
    return Hash(hashlib.sha256(f"dca-dashboard sign-in {challenge.nonce}".encode()).digest())


def challenge_transaction(challenge: SignInChallenge) -> bytes:
    """For wallets that can only sign transactions: the unsigned memo transaction carrying the
    exact sign-in text (a challenge issued with the wallet's address)."""
    wallet = Pubkey.from_string(challenge.address)
    memo = Instruction(MEMO_PROGRAM, challenge.message.encode(), [AccountMeta(wallet, True, False)])
    message = Message.new_with_blockhash([memo], wallet, challenge_blockhash(challenge))
    return bytes(VersionedTransaction(message, [NullSigner(wallet)]))


def _waiting_challenge(session_key: str, nonce: str) -> SignInChallenge:
    challenge = SignInChallenge.objects.filter(nonce=nonce, session_key=session_key).first()
    if challenge is None or challenge.consumed_at is not None:
        raise SignInError("nonce_unknown")
    return challenge


def verify_sign_in_transaction(
    *, session_key: str, host: str, address: str, signed_transaction: bytes, nonce: str, now: datetime | None = None
) -> str:
    """Check a signed sign-in transaction (never sent) and consume its nonce; return the wallet address."""
    now = now or dj_timezone.now()
    challenge = _waiting_challenge(session_key, nonce)
    if not challenge.message or challenge.address != address:
        raise SignInError("other_account", 403)
    try:
        tx = transactions.parse_transaction(signed_transaction)
        reading = transactions.read_message(tx.message)
    except (transactions.InvalidTransaction, ValueError):
        raise SignInError("sign_in_transaction_unreadable", field="signedTransaction") from None
    wallet = Pubkey.from_string(address)
    try:
        notes = transactions.memo_notes(reading, wallet, settings.MAX_PRIORITY_FEE_LAMPORTS)
    except ValueError:
        raise SignInError("sign_in_transaction_does_more") from None
    if len(notes) != 1 or reading.blockhash != challenge_blockhash(challenge):
        raise SignInError("sign_in_transaction_changed")
    _check_text(challenge, notes[0], host, now)
    message = to_bytes_versioned(tx.message)
    if len(tx.signatures) != 1 or not tx.signatures[0].verify(wallet, message):
        raise SignInError("signature_invalid", 403)
    _consume(challenge, session_key, now)
    return address


def verify_sign_in(
    *,
    session_key: str,
    host: str,
    address: str,
    signed_message: bytes,
    signature: bytes,
    nonce: str,
    now: datetime | None = None,
) -> str:
    """Check a signed sign-in message and consume its nonce; return the wallet address."""
    now = now or dj_timezone.now()
    challenge = _waiting_challenge(session_key, nonce)
    if len(signature) != 64:
        raise SignInError("wrong_size_from_wallet", field="signature")
    signed = _check_text(challenge, signed_message, host, now)
    try:
        valid = Signature.from_bytes(signature).verify(Pubkey.from_string(signed.address), signed_message)
    except ValueError:
        valid = False
    if not valid:
        raise SignInError("signature_invalid", 403)
    if signed.address != address or (challenge.address and challenge.address != address):
        raise SignInError("other_account", 403)
    _consume(challenge, session_key, now)
    return address


def _check_text(challenge: SignInChallenge, signed_message: bytes, host: str, now: datetime) -> SignInFields:
    """The signed text, read strictly, against every field this server stored for this session,
    the host the browser used and the time window."""
    try:
        text = signed_message.decode("utf-8")
    except UnicodeDecodeError:
        raise SignInError("not_sign_in_text") from None
    signed = parse_message(text)

    # Every field against what this server stored for this session.
    expected = challenge_fields(challenge, signed.address)
    if challenge.message and signed_message != challenge.message.encode():
        raise SignInError("sign_in_text_changed")
    if signed.domain != challenge.domain:
        raise SignInError("domain_mismatch", 403, domain=signed.domain)
    same_text = ("statement", "uri", "version", "chain_id", "nonce", "not_before", "request_id")
    same_time = ("issued_at", "expiration_time")
    if (
        signed.resources
        or any(getattr(signed, name) != getattr(expected, name) for name in same_text)
        or any(parse_time(getattr(signed, t)) != parse_time(getattr(expected, t)) for t in same_time)
    ):
        raise SignInError("fields_mismatch")
    if challenge.domain != host:
        raise SignInError("host_mismatch", 403, host=host)

    if now >= challenge.expires_at:
        raise SignInError("challenge_expired")
    if abs(now - challenge.issued_at) > CLOCK_SKEW:
        raise SignInError("clock_skew")
    return signed


def _consume(challenge: SignInChallenge, session_key: str, now: datetime) -> None:
    """Use the nonce up, atomically: exactly one request gets through."""
    consumed = SignInChallenge.objects.filter(
        pk=challenge.pk, session_key=session_key, consumed_at__isnull=True
    ).update(consumed_at=now)
    if consumed != 1:
        raise SignInError("nonce_used")


def clear_expired(now: datetime | None = None) -> tuple[int, int]:
    """Delete expired sessions (Django's `clearsessions`) and sign-in challenges that can no
    longer be used; the numbers deleted (sessions, challenges)."""
    now = now or dj_timezone.now()
    sessions = Session.objects.filter(expire_date__lt=now).delete()[0]
    challenges = SignInChallenge.objects.filter(expires_at__lt=now - CLOCK_SKEW).delete()[0]
    return sessions, challenges


def get_wallet_user(address: str) -> User:
    """The Django user for a wallet (username = the address, no password)."""
    try:
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=address)
    except IntegrityError:  # two first sign-ins of one wallet at once
        return User.objects.get(username=address)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
