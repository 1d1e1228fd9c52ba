"""A wallet in Python, for the tests and the bench: builds and signs Sign-In With Solana text and
signs transactions with a solders Keypair, and signs in through the real endpoints as
static/js/bridge.js does."""

from __future__ import annotations

import base64
import json
from typing import Any

import requests
from solders.keypair import Keypair
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.transaction import VersionedTransaction

from dashboard import siws

CHALLENGE = "/sign-in/challenge"
VERIFY = "/sign-in/verify"
TIMEOUT = (3.05, 30.0)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sign_in_text(challenge: dict, address: str, **changes: str) -> str:
    """The SIWS text as a wallet builds it from the challenge (optionally altered)."""
    fields = {
        "domain": challenge["domain"],
        "address": address,
        "statement": challenge["statement"],
        "uri": challenge["uri"],
        "version": challenge["version"],
        "chain_id": challenge["chainId"],
        "nonce": challenge["nonce"],
        "issued_at": challenge["issuedAt"],
        "expiration_time": challenge["expirationTime"],
    }
    return siws.format_message(siws.SignInFields(**{**fields, **changes}))


def sign_in_body(kp: Keypair, text: str | bytes, nonce: str, address: str | None = None) -> dict[str, str]:
    """What the bridge posts to /sign-in/verify once the wallet signed `text`."""
    raw = text.encode() if isinstance(text, str) else text
    return {
        "address": address or str(kp.pubkey()),
        "signedMessage": b64(raw),
        "signature": b64(bytes(kp.sign_message(raw))),
        "nonce": nonce,
    }


def signed(message: Message | MessageV0, kp: Keypair) -> VersionedTransaction:
    """The transaction of `message` with the one signature a wallet adds (the fee payer's)."""
    return VersionedTransaction.populate(message, [kp.sign_message(to_bytes_versioned(message))])


def sign_transaction(transaction_b64: str, kp: Keypair) -> str:
    """Sign the fee payer's slot of a base64 wire transaction, as a wallet does."""
    return b64(bytes(signed(VersionedTransaction.from_bytes(base64.b64decode(transaction_b64)).message, kp)))


def csrf_headers(http: requests.Session, base: str = "") -> dict[str, str]:
    headers = {"X-CSRFToken": http.cookies.get("csrftoken", "")}
    return {**headers, "Referer": f"{base}/"} if base else headers


def sign_in(http: Any, kp: Keypair, base: str = "", **extra: Any) -> None:
    """Sign in through the real SIWS endpoints, as the bridge does: with Django's test `Client`
    (`extra` goes to its requests, e.g. secure=True), or with a `requests.Session` against the
    server at `base`."""
    if isinstance(http, requests.Session):
        assert http.get(f"{base}/", timeout=TIMEOUT).status_code == 200  # the CSRF cookie

        def post(path: str, body: dict) -> Any:
            return http.post(f"{base}{path}", json=body, headers=csrf_headers(http, base), timeout=TIMEOUT)
    else:

        def post(path: str, body: dict) -> Any:
            return http.post(path, json.dumps(body), content_type="application/json", **extra)

    challenge = post(CHALLENGE, {})
    assert challenge.status_code == 200, challenge.content
    data = challenge.json()
    verified = post(VERIFY, sign_in_body(kp, sign_in_text(data, str(kp.pubkey())), data["nonce"]))
    assert verified.status_code == 200, verified.content
    assert verified.json()["address"] == str(kp.pubkey())
