"""Jupiter's Tokens API: symbol, name, decimals, logo and verification flag of a mint (cached for
hours), and its current USD price (`usdPrice`, cached for a minute).

A symbol proves nothing on Solana (anyone can mint a "$WIF"): the page names each token with its
mint and Jupiter's `isVerified`. `verified` is True or False only as Jupiter sent it, None when it
did not say (or the built-in table stands in), and only False is shown as "unverified token".

Falls back to a built-in table of well-known mints, then to the mint's short form, so pages read
well when the API is unavailable; a price that cannot be had is `None` ("price unknown"), never
a guess — and `price_unavailable` says when that is because the price service failed ("prices
unavailable right now") rather than because Jupiter has no price for the token. An answer that
is not a list of tokens each with its `id` is `UnexpectedShape` (Jupiter changed its shape): the
page keeps the metadata it has, and the log names the missing key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache

from dashboard import upstream
from dashboard.encoding import short_address

logger = logging.getLogger(__name__)

TOKEN_CACHE_SECONDS = 6 * 3600  # metadata: symbols, decimals and logos change rarely
PRICE_CACHE_SECONDS = 60  # prices: "today's price" may be a minute old, no more
MAX_TOKENS_PER_CALL = 100
MAX_USD_PRICE = Decimal(10) ** 12  # anything above is not a token price we can believe
NO_PRICE = ""  # cached for a mint whose price is unknown, so it is not asked again at once
PRICES_DOWN = "down"  # cached instead when the Tokens API failed: prices unavailable right now
# What the dashboard reads of each token the search answers (`manage.py jupiter_check` reports
# each as present or missing); without its `id` a token cannot be matched to a mint at all.
TOKEN_FIELDS = ("id", "symbol", "name", "decimals", "icon", "usdPrice", "tokenProgram", "isVerified")
# The Token-2022 program: a mint it owns may charge its own fee on every transfer (a refund too).
SPL_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"


@dataclass(frozen=True)
class Token:
    mint: str
    symbol: str
    name: str
    decimals: int | None
    icon: str = ""  # only ever an https: URL, else empty
    usd_price: Decimal | None = None  # USD for one whole token, as of the last minute; None: unknown
    token_program: str = ""  # the mint's owner program (SPL Token or Token-2022) when the API says
    price_unavailable: bool = False  # no price because the Tokens API failed just now (not: Jupiter has none)
    verified: bool | None = None  # Jupiter's `isVerified`; None when it did not say

    @property
    def may_charge_transfer_fee(self) -> bool:
        """A Token-2022 mint may keep a fee out of every transfer: what arrives is less than what
        is sent (the Tokens API does not say whether this one does)."""
        return self.token_program == SPL_2022_PROGRAM


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
            "GET",
            f"{settings.JUPITER_TOKENS_URL}/search",
            "tokens",
            exact_numbers=True,
            params={"query": ",".join(chunk)},
        )
        for token in parse_search(data):
            if token.mint in chunk:
                found[token.mint] = token
    return found


def parse_search(data: Any) -> list[Token]:
    """The tokens of a search answer; `UnexpectedShape` unless it is a list of objects with an `id`."""
    if not isinstance(data, list):
        raise upstream.unexpected_shape("tokens", "a JSON list")
    found = []
    for item in data:
        token = parse_token(item)
        if token is None:
            raise upstream.unexpected_shape("tokens", "[].id")
        found.append(token)
    return found


def parse_token(item: Any) -> Token | None:
    """One token, or None when it is not an object with a string `id`."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    decimals = item.get("decimals")
    icon = upstream.to_text(item.get("icon"))
    verified = item.get("isVerified")
    return Token(
        mint=item["id"],
        symbol=upstream.to_text(item.get("symbol"))[:16],
        name=upstream.to_text(item.get("name"))[:64],
        decimals=decimals if isinstance(decimals, int) and 0 <= decimals <= 18 else None,
        icon=icon if icon.startswith("https://") else "",
        usd_price=parse_price(item.get("usdPrice")),
        token_program=upstream.to_text(item.get("tokenProgram"))[:64],
        verified=verified if isinstance(verified, bool) else None,
    )


def parse_price(value: Any) -> Decimal | None:
    """`usdPrice` as an exact Decimal (the JSON number's own digits), or None when it is absent,
    not a number, not positive or absurdly large. Never a float."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        return None
    price = upstream.to_decimal(value)
    if price is None or not 0 < price < MAX_USD_PRICE:
        return None
    return price


def _meta_key(mint: str) -> str:
    return f"token-meta:{mint}"


def _price_key(mint: str) -> str:
    return f"token-price:{mint}"


def get_tokens(mints: Iterable[str]) -> dict[str, Token]:
    """Tokens for these mints with their current USD price (None when unknown).

    Metadata is cached for hours (built-in table as the fallback), prices for a minute; one call
    to the Tokens API fetches whatever is missing of either. A failed call leaves prices unknown
    for a minute rather than asking again on every page.
    """
    wanted = set(mints)
    cached = cache.get_many([key for m in wanted for key in (_meta_key(m), _price_key(m))])
    tokens = {m: cached[_meta_key(m)] for m in wanted if _meta_key(m) in cached}
    prices: dict[str, Decimal | str] = {m: cached[_price_key(m)] for m in wanted if _price_key(m) in cached}
    missing = (wanted - tokens.keys()) | (wanted - prices.keys())
    if missing:
        failed = False
        try:
            fetched = fetch_tokens(missing)
        except upstream.JupiterError as exc:
            logger.warning("token metadata and prices unavailable: %s", exc)
            fetched, failed = {}, True
        cache.set_many({_meta_key(m): replace(t, usd_price=None) for m, t in fetched.items()}, TOKEN_CACHE_SECONDS)
        # Mints the API did not describe (or could not, just now) read from the fallback for a
        # minute, then are asked again.
        fallback = {m: _fallback(m) for m in wanted - tokens.keys() - fetched.keys()}
        cache.set_many({_meta_key(m): t for m, t in fallback.items()}, PRICE_CACHE_SECONDS)
        unknown = PRICES_DOWN if failed else NO_PRICE
        new_prices = {m: _price_of(fetched.get(m), unknown) for m in wanted - prices.keys()}
        cache.set_many({_price_key(m): price for m, price in new_prices.items()}, PRICE_CACHE_SECONDS)
        tokens.update(fetched)
        tokens.update(fallback)
        prices.update(new_prices)
    return {mint: _priced(token, prices.get(mint, NO_PRICE)) for mint, token in tokens.items()}


def _price_of(token: Token | None, unknown: str) -> Decimal | str:
    """What is cached for a mint's price: the price, else why there is none."""
    return token.usd_price if token is not None and token.usd_price is not None else unknown


def _priced(token: Token, price: Decimal | str) -> Token:
    if isinstance(price, Decimal):
        return replace(token, usd_price=price, price_unavailable=False)
    return replace(token, usd_price=None, price_unavailable=price == PRICES_DOWN)


def _fallback(mint: str) -> Token:
    """The built-in table's token, else the mint's short form with unknown decimals."""
    return KNOWN_TOKENS.get(mint) or Token(mint, short_address(mint), "", None)
