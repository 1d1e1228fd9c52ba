"""Trigger API v2 authentication: challenges to sign, their single-use redemption, and real JWTs.

A challenge is either the text "Sign this message to authenticate with Jupiter Trigger Order API:
<nonce>" (signed with `solana:signMessage`) or a memo-only legacy transaction carrying that text, paid
and signed by the wallet alone and never sent (for wallets that can only sign transactions). What the
wallet must sign is stored byte for byte; /auth/verify accepts a signature over exactly those bytes,
once, within the challenge lifetime (5 minutes unless the control says otherwise).

Tokens are HS256 JWTs signed with a key derived from the Django secret key: `sub` is the wallet,
`iat`/`exp` Unix seconds, `jti` random, and `gen` the knob generation they were issued in (the
control can expire every token at once by bumping it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from solders.message import Message, to_bytes_versioned
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard.sandbox import keys, trigger_transactions
from dashboard.sandbox.models import DcaChallenge

CHALLENGE_PREFIX = "Sign this message to authenticate with Jupiter Trigger Order API: "
MESSAGE, TRANSACTION = "message", "transaction"
KINDS = (MESSAGE, TRANSACTION)
MAX_PENDING = 20  # unused challenges of one wallet looked at by /auth/verify, newest first
MAX_TOKEN_CHARS = 4096
BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")


# --- challenges --------------------------------------------------------------------------------


def issue_challenge(wallet: str, kind: str, now: datetime) -> DcaChallenge:
    """Store and return a fresh challenge of `kind` for `wallet`."""
    nonce = secrets.token_hex(16)
    text = CHALLENGE_PREFIX + nonce
    if kind == MESSAGE:
        payload = text.encode()
    else:
        payload = to_bytes_versioned(trigger_transactions.build_challenge(Pubkey.from_string(wallet), text, nonce))
    return DcaChallenge.objects.create(nonce=nonce, wallet=wallet, kind=kind, payload=payload, created_at=now)


def challenge_to_api(challenge: DcaChallenge) -> dict:
    """The /auth/challenge answer: the text, or the unsigned memo transaction in base64."""
    payload = bytes(challenge.payload)
    if challenge.kind == MESSAGE:
        return {"type": MESSAGE, "challenge": payload.decode()}
    message = Message.from_bytes(payload)
    tx = VersionedTransaction(message, [NullSigner(message.account_keys[0])])
    return {"type": TRANSACTION, "transaction": base64.b64encode(bytes(tx)).decode()}


def pending(wallet: str, kind: str, now: datetime, lifetime_seconds: int) -> list[DcaChallenge]:
    """The wallet's unused, unexpired challenges of `kind`, newest first."""
    rows = DcaChallenge.objects.filter(
        wallet=wallet, kind=kind, used_at__isnull=True, created_at__gt=now - timedelta(seconds=lifetime_seconds)
    )
    return list(rows.order_by("-created_at", "-id")[:MAX_PENDING])


def claim(challenge: DcaChallenge, now: datetime) -> bool:
    """Use a challenge up, atomically: True for exactly one caller."""
    return DcaChallenge.objects.filter(pk=challenge.pk, used_at__isnull=True).update(used_at=now) == 1


def redeem_message(wallet: str, signature: Signature, now: datetime, lifetime_seconds: int) -> bool:
    """True when `signature` is the wallet's over the exact text of one of its pending challenges (now used)."""
    pubkey = Pubkey.from_string(wallet)
    for challenge in pending(wallet, MESSAGE, now, lifetime_seconds):
        if signature.verify(pubkey, bytes(challenge.payload)):
            return claim(challenge, now)
    return False


def redeem_transaction(wallet: str, tx: VersionedTransaction, now: datetime, lifetime_seconds: int) -> bool:
    """True when `tx` is one of the wallet's pending memo challenges, unchanged, signed by the wallet only."""
    message_bytes = to_bytes_versioned(tx.message)
    if tx.message.header.num_required_signatures != 1 or len(tx.signatures) != 1:
        return False
    if not tx.signatures[0].verify(Pubkey.from_string(wallet), message_bytes):
        return False
    for challenge in pending(wallet, TRANSACTION, now, lifetime_seconds):
        if bytes(challenge.payload) == message_bytes:
            return claim(challenge, now)
    return False


# --- tokens ------------------------------------------------------------------------------------


def signing_key() -> bytes:
    """The sandbox's JWT key, derived from the Django secret key (the same in every worker)."""
    return hmac.new(settings.SECRET_KEY.encode(), b"sandbox-trigger-jwt", hashlib.sha256).digest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Strict base64url without padding; ValueError otherwise."""
    if not BASE64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


def sign(signing_input: str) -> str:
    return b64url(hmac.new(signing_key(), signing_input.encode(), hashlib.sha256).digest())


def issue_token(wallet: str, now: float, lifetime_seconds: int, generation: int) -> str:
    """An HS256 JWT for `wallet`, expiring `lifetime_seconds` after `now` (Unix seconds)."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    issued = int(now)
    claims = {
        "sub": wallet,
        "iat": issued,
        "exp": issued + lifetime_seconds,
        "jti": uuid.uuid4().hex,
        "gen": generation,
    }
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{sign(f'{header}.{payload}')}"


def read_token(token: str, now: float, generation: int) -> str | None:
    """The wallet a token was issued to, or None when it is malformed, forged, expired or revoked."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        return None
    header_part, payload_part, signature_part = token.split(".")
    try:
        header = json.loads(unb64url(header_part))
        claims = json.loads(unb64url(payload_part))
        unb64url(signature_part)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        return None
    if not hmac.compare_digest(sign(f"{header_part}.{payload_part}"), signature_part):
        return None
    wallet, expires = claims.get("sub"), claims.get("exp")
    if not isinstance(expires, int) or isinstance(expires, bool) or now >= expires:
        return None
    if claims.get("gen") != generation or keys.parse_pubkey(wallet) is None:
        return None
    return wallet
