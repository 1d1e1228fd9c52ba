"""The sandbox's token catalogue: what `/sandbox/tokens/v2/search` knows about each mint."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SOL = "So11111111111111111111111111111111111111112"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
JUP = "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"
BONK = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"
MSOL = "mSoLzYCxHdYgdzU16g5QSh3i5K3z3KZK7ytfqcJm7So"
JITOSOL = "J1toso1uCk3RLmjorhTtrVwY9HJ7X8V9yYac6Y7kGCPn"
WIF = "EKpQGSJtjMFqKZ9KQanSqYXRcF8fBopzLHYxdM65zcjm"
# A look-alike of $WIF, as scammers mint them: the same symbol and name, a mint that even starts
# the same, not verified by Jupiter. Its key is made up (sha256 of "sandbox-lookalike-wif-139215").
FAKE_WIF = "EKpoZBbTqotit7duLsvE5mGyKYrjuvJD2kmiCJddBJin"
PYUSD = "2b1kV6DkPAnxd5ixfnxCpjxmKwqjjaYmCZfHsFu24GXo"  # a Token-2022 mint

SPL_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
SPL_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"

MAX_QUERY_MINTS = 100


@dataclass(frozen=True)
class Token:
    mint: str
    name: str
    symbol: str
    decimals: int
    usd_price: Decimal
    token_program: str = SPL_PROGRAM
    verified: bool = True  # Jupiter's `isVerified`

    def to_api(self) -> dict:
        """The token as the Tokens API v2 lists it; `icon` is null so nothing loads from the internet."""
        return {
            "id": self.mint,
            "name": self.name,
            "symbol": self.symbol,
            "icon": None,
            "decimals": self.decimals,
            # Upstream sends a JSON number with many digits (e.g. 162.30418745); a float's repr
            # gives back exactly the catalogue's digits, which the dashboard reads as a Decimal.
            "usdPrice": float(self.usd_price),
            "tokenProgram": self.token_program,
            "isVerified": self.verified,
        }


TOKENS: dict[str, Token] = {
    t.mint: t
    for t in (
        Token(SOL, "Wrapped SOL", "SOL", 9, Decimal("150.2541187355")),
        Token(USDC, "USD Coin", "USDC", 6, Decimal("0.99982341")),
        Token(USDT, "USDT", "USDT", 6, Decimal("1.00012087")),
        Token(JUP, "Jupiter", "JUP", 6, Decimal("0.8213304712")),
        Token(BONK, "Bonk", "Bonk", 5, Decimal("0.0000213417802")),
        Token(MSOL, "Marinade staked SOL (mSOL)", "mSOL", 9, Decimal("187.4022317541")),
        Token(JITOSOL, "Jito Staked SOL", "JitoSOL", 9, Decimal("181.9547712301")),
        Token(WIF, "dogwifhat", "$WIF", 6, Decimal("1.5707931284")),
        Token(PYUSD, "PayPal USD", "PYUSD", 6, Decimal("0.99991203"), SPL_2022_PROGRAM),
        Token(FAKE_WIF, "dogwifhat", "$WIF", 6, Decimal("0.0004172218"), verified=False),
    )
}


def get_token(mint: str) -> Token:
    """The catalogue entry for a mint (KeyError for unknown mints)."""
    return TOKENS[mint]


def search(query: str) -> list[dict]:
    """Tokens for a comma-separated list of mints, in query order, unknown mints skipped."""
    seen: set[str] = set()
    found: list[dict] = []
    for raw in query.split(",")[:MAX_QUERY_MINTS]:
        mint = raw.strip()
        token = TOKENS.get(mint)
        if token is not None and mint not in seen:
            seen.add(mint)
            found.append(token.to_api())
    return found
