"""Orders, fills and tokens the figure tests describe (tests/unit/test_formatting.py,
test_orders.py, test_recurring_view.py, test_dca_view.py, test_exports.py): v1 orders built field
by field, v2 orders from Jupiter's published spec (tests/fixtures/jupiter-dca-v2-orders.json)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from dashboard import dca_orders
from dashboard.dca_view import describe_dca
from dashboard.orders import OrderView
from dashboard.recurring import Fill, Order
from dashboard.tokens import Token

SOL_MINT = "So11111111111111111111111111111111111111112"
USDC_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
USDT_MINT = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"
BONK_MINT = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"
JUP_MINT = "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"
WBTC_MINT = "3NZ9JMVBmGAqocybic2c7LQCJScmgsAZ6vQqTDzcqmJh"
ODD_MINT = "Tok3nMintWithUnknownDecimals1111111111111"  # not in the built-in table

SOL = Token(SOL_MINT, "SOL", "Wrapped SOL", 9)
USDC = Token(USDC_MINT, "USDC", "USD Coin", 6)
USDT = Token(USDT_MINT, "USDT", "USDT", 6)
BONK = Token(BONK_MINT, "BONK", "Bonk", 5)
JUP = Token(JUP_MINT, "JUP", "Jupiter", 6)
WBTC = Token(WBTC_MINT, "WBTC", "Wrapped BTC (Portal)", 8)
ODD = Token(ODD_MINT, "ODD", "Odd token", None)

DAY = 86400


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 1, day, hour, minute, second, tzinfo=timezone.utc)


def make_fill(
    when: datetime,
    raw_in: int | None,
    raw_out: int | None,
    *,
    tx: str = "",
    raw_fee: int | None = None,
    fee_mint: str = "",
    action: str = "Fill",
    in_amount: str | None = None,
    out_amount: str | None = None,
    fee_amount: str | None = None,
) -> Fill:
    return Fill(
        tx_id=tx,
        confirmed_at=when,
        action=action,
        raw_in=raw_in,
        raw_out=raw_out,
        raw_fee=raw_fee,
        in_amount=None if in_amount is None else Decimal(in_amount),
        out_amount=None if out_amount is None else Decimal(out_amount),
        fee_amount=None if fee_amount is None else Decimal(fee_amount),
        fee_mint=fee_mint,
        keeper="keeper",
    )


FILL_1 = make_fill(
    at(1, 0, 0, 30), 50_000_000, 290_000_000, tx="sig1", raw_fee=290_000, fee_mint=SOL_MINT
)  # 50 USDC → 0.29 SOL, fee 0.00029 SOL
FILL_2 = make_fill(at(2, 0, 0, 40), 50_000_000, 250_000_000, tx="sig2")  # 50 USDC → 0.25 SOL


def make_order(**changes: object) -> Order:
    """An active daily order: 150 USDC deposited, 50 USDC a cycle, two cycles done (0.54 SOL)."""
    order = Order(
        order_key="ORDER1",
        user="WALLET1",
        input_mint=USDC_MINT,
        output_mint=SOL_MINT,
        status="active",
        recurring_type="time",
        cycle_frequency=DAY,
        raw_in_deposited=150_000_000,
        raw_in_used=100_000_000,
        raw_in_withdrawn=0,
        raw_in_per_cycle=50_000_000,
        raw_out_received=540_000_000,
        raw_out_withdrawn=0,
        raw_min_out=0,
        raw_max_out=0,
        in_deposited=None,
        in_used=None,
        in_withdrawn=None,
        in_per_cycle=None,
        out_received=None,
        out_withdrawn=None,
        open_tx="openSig",
        close_tx="",
        user_closed=False,
        created_at=at(1),
        updated_at=at(2, 0, 0, 40),
        fills=(FILL_1, FILL_2),
    )
    return replace(order, **changes)


def make_sell_order(fill: Fill, **changes: object) -> Order:
    """A sell order: 2 SOL deposited, 0.5 SOL a cycle, one cycle sold (`fill`: 0.5 SOL for 86.2 USDC)."""
    return make_order(
        input_mint=SOL_MINT,
        output_mint=USDC_MINT,
        raw_in_deposited=2_000_000_000,
        raw_in_per_cycle=500_000_000,
        raw_in_used=500_000_000,
        raw_out_received=86_200_000,
        fills=(fill,),
        **changes,
    )


def priced(token: Token, usd: str | None) -> Token:
    return replace(token, usd_price=None if usd is None else Decimal(usd))


# --- Jupiter DCA (Trigger API v2) orders ----------------------------------------------------------

SPEC = json.loads((Path(__file__).parents[1] / "fixtures" / "jupiter-dca-v2-orders.json").read_text())
TOKENS = {SOL_MINT: SOL, USDC_MINT: USDC, JUP_MINT: JUP}
NOW = datetime(2026, 6, 26, 19, 0, tzinfo=timezone.utc)


def spec_list_order() -> dict:
    return copy.deepcopy(SPEC["list"]["orders"][0])


def spec_order() -> dict:
    return copy.deepcopy(SPEC["order"])


def dca_view(data: dict, listed: str = "active", tokens: dict | None = None) -> OrderView:
    return describe_dca(dca_orders.parse_order(data, listed), TOKENS if tokens is None else tokens, NOW)


def event(kind: str, state: str, at: str, **fields: object) -> dict:
    return {"type": kind, "state": state, "timestamp": f"2026-06-{at}Z", **fields}
