"""Jupiter's Tokens API: symbol, name, decimals and logo of a mint, cached for hours.

Falls back to a built-in table of well-known mints, then to the mint's short form, so pages read
well when the API is unavailable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from dashboard import upstream
from dashboard.encoding import short_address

logger = logging.getLogger(__name__)

TOKEN_CACHE_SECONDS = 6 * 3600
MAX_TOKENS_PER_CALL = 100


@dataclass(frozen=True)
class Token:
    mint: str
    symbol: str
    name: str
    decimals: int | None
    icon: str = ""  # only ever an https: URL, else empty


# Well-known mints, so pages read well when the tokens API is unavailable.
KNOWN_TOKENS: dict[str, Token] = {
    t.mint: t
    for t in (
        Token("So11111111111111111111111111111111111111112", "SOL", "Wrapped SOL", 9),
        Token("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "USDC", "USD Coin", 6),
        Token("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", "USDT", "USDT", 6),
        Token("JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN", "JUP", "Jupiter", 6),
        Token("DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263", "BONK", "Bonk", 5),
        Token("EKpQGSJtjMFqKZ9KQanSqYXRcF8fBopzLHYxdM65zcjm", "WIF", "dogwifhat", 6),
        Token("mSoLzYCxHdYgdzU16g5QSh3i5K3z3KZK7ytfqcJm7So", "mSOL", "Marinade staked SOL", 9),
        Token("J1toso1uCk3RLmjorhTtrVwY9HJ7X8V9yYac6Y7kGCPn", "JitoSOL", "Jito Staked SOL", 9),
        Token("jupSoLaHXQiZZTSfEWMTRRgpnyFm8f6sZdosWBjx93v", "JupSOL", "Jupiter Staked SOL", 9),
        Token("4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R", "RAY", "Raydium", 6),
        Token("7vfCXTUXx5WJV5JADk17DUJ4ksgau7utNKj4b963voxs", "ETH", "Ether (Portal)", 8),
        Token("3NZ9JMVBmGAqocybic2c7LQCJScmgsAZ6vQqTDzcqmJh", "WBTC", "Wrapped BTC (Portal)", 8),
        Token("cbbtcf3aa214zXHbiAZQwf4122FBYbraNdFqgw4iMij", "cbBTC", "Coinbase Wrapped BTC", 8),
        Token("HZ1JovNiVvGrGNiiYvEozEVgZ58xaU3RKwX8eACQBCt3", "PYTH", "Pyth Network", 6),
    )
}


def fetch_tokens(mints: Iterable[str]) -> dict[str, Token]:
    """Metadata of these mints straight from the Tokens API (100 a call); unknown mints are left out."""
    wanted = sorted(set(mints))
    found: dict[str, Token] = {}
    for start in range(0, len(wanted), MAX_TOKENS_PER_CALL):
        chunk = wanted[start : start + MAX_TOKENS_PER_CALL]
        data = upstream.call(
            "GET", f"{settings.JUPITER_TOKENS_URL}/search", "tokens", params={"query": ",".join(chunk)}
        )
        if not isinstance(data, list):
            raise upstream.JupiterBadResponse(upstream_message="tokens answer is not a list")
        for item in data:
            token = parse_token(item)
            if token is not None and token.mint in chunk:
                found[token.mint] = token
    return found


def parse_token(item: Any) -> Token | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    decimals = item.get("decimals")
    icon = upstream.to_text(item.get("icon"))
    return Token(
        mint=item["id"],
        symbol=upstream.to_text(item.get("symbol"))[:16],
        name=upstream.to_text(item.get("name"))[:64],
        decimals=decimals if isinstance(decimals, int) and 0 <= decimals <= 18 else None,
        icon=icon if icon.startswith("https://") else "",
    )


def get_tokens(mints: Iterable[str]) -> dict[str, Token]:
    """Token metadata for these mints: cached for hours, built-in table as the fallback."""
    wanted = set(mints)
    cached = cache.get_many([f"token:{m}" for m in wanted])
    tokens = {key.removeprefix("token:"): value for key, value in cached.items()}
    missing = wanted - tokens.keys()
    if missing:
        try:
            fetched = fetch_tokens(missing)
        except upstream.JupiterError as exc:
            logger.warning("token metadata unavailable: %s", exc)
            fetched = {}
        cache.set_many({f"token:{m}": t for m, t in fetched.items()}, TOKEN_CACHE_SECONDS)
        tokens.update(fetched)
    for mint in wanted - tokens.keys():
        tokens[mint] = KNOWN_TOKENS.get(mint) or Token(mint, short_address(mint), "", None)
    return tokens
