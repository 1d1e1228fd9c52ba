"""An optional Solana JSON-RPC node (`SOLANA_RPC_URL`): the state of one token account.

Used for one thing: a SOL order's refund that closes the vault's wrapped-SOL account straight to
the wallet pays out that account's whole balance, which the transaction does not state. With an
RPC configured, the account is read (`getAccountInfo`, base64) before the wallet is asked to sign,
and the refund is checked against it (`withdrawal.confirm_balance`); without one, the dashboard
names Jupiter's figure as such. The request and answer are built and read with solders
(`solders.rpc`, `solders.token.state.TokenAccount`); whatever the node sends is untrusted.

RPC URLs often carry a provider's API key: the URL is never logged, only its host.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from solders.account_decoder import UiAccountEncoding
from solders.pubkey import Pubkey
from solders.rpc.config import RpcAccountInfoConfig
from solders.rpc.requests import GetAccountInfo
from solders.rpc.responses import GetAccountInfoResp
from solders.token.state import TokenAccount

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 5.0
TOKEN_ACCOUNT_BYTES = 165  # the base layout; Token-2022 accounts may carry extensions after it
TOKEN_PROGRAMS = (
    Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"),
    Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"),
)
MAX_ANSWER_BYTES = 64 * 1024


class RpcUnavailable(Exception):
    """The node did not answer, or answered something we cannot read."""


@dataclass(frozen=True)
class TokenAccountState:
    address: str
    program: str  # the token program that owns the account
    mint: str
    owner: str  # the token account's owner (authority)
    amount: int  # base units
    lamports: int
    native: bool  # a wrapped-SOL account


_local = threading.local()


def configured() -> bool:
    return bool(settings.SOLANA_RPC_URL)


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.max_redirects = 0
        _local.session = session
    return session


def get_token_account(address: str) -> TokenAccountState | None:
    """The token account at `address` as the node sees it (its default commitment), or None when it does not
    exist. RpcUnavailable on any failure, and for an account that is not a token account."""
    host = urlsplit(settings.SOLANA_RPC_URL).hostname or "?"
    try:
        key = Pubkey.from_string(address)
    except ValueError:
        raise RpcUnavailable("not an address") from None
    body = GetAccountInfo(key, RpcAccountInfoConfig(encoding=UiAccountEncoding.Base64)).to_json()
    try:
        response = _session().post(
            settings.SOLANA_RPC_URL,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        logger.warning("Solana RPC at %s did not answer: %s", host, type(exc).__name__)
        raise RpcUnavailable("no answer") from None
    if response.status_code != 200 or len(response.content) > MAX_ANSWER_BYTES:
        logger.warning("Solana RPC at %s answered HTTP %s", host, response.status_code)
        raise RpcUnavailable(f"HTTP {response.status_code}")
    try:
        parsed = GetAccountInfoResp.from_json(response.text)
    except Exception:  # solders raises its own error types for JSON it cannot read
        logger.warning("Solana RPC at %s answered something unreadable", host)
        raise RpcUnavailable("unreadable answer") from None
    if not isinstance(parsed, GetAccountInfoResp):  # a JSON-RPC error object
        logger.warning("Solana RPC at %s refused getAccountInfo: %s", host, str(parsed)[:200])
        raise RpcUnavailable("RPC error")
    account = parsed.value
    if account is None:
        return None
    data = bytes(account.data)
    if account.owner not in TOKEN_PROGRAMS or len(data) < TOKEN_ACCOUNT_BYTES:
        raise RpcUnavailable("not a token account")
    try:
        state = TokenAccount.from_bytes(data[:TOKEN_ACCOUNT_BYTES])
    except Exception:  # solders.SerdeJSONError and kin
        raise RpcUnavailable("not a token account") from None
    return TokenAccountState(
        address=address,
        program=str(account.owner),
        mint=str(state.mint),
        owner=str(state.owner),
        amount=state.amount,
        lamports=account.lamports,
        native=state.is_native is not None,
    )
