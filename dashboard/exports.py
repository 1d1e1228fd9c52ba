"""The CSV export of an order list's fills, for taxes: columns, rows, and cells spreadsheets read safely."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from dashboard.formatting import CONTEXT, Amount, plain, round_significant
from dashboard.orders import OrderView

CSV_PRICE_DIGITS = 12  # significant digits of the CSV's price column

PRICE_COLUMN = "price (in_token per 1 out_token)"
FILL_COLUMNS = (
    "date (UTC)",
    "pair",
    "in_amount",
    "in_token",
    "out_amount",
    "out_token",
    "fee_amount",
    "fee_token",
    PRICE_COLUMN,
    "signature",
    "order",
    "system",
)
USD_COLUMN = "value_usd_at_fill"  # added only when the upstream gives a fill's USD value


def price_number(spent: Amount, received: Amount) -> str:
    """Input paid per 1 output token, as a plain number for the CSV (12 significant digits)."""
    if received.value <= 0 or spent.value <= 0:
        return ""
    ratio = CONTEXT.divide(spent.value, received.value)
    return plain(round_significant(ratio, CSV_PRICE_DIGITS))


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Token symbols are untrusted: keep spreadsheets from reading a cell as a formula."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def fill_columns(views: Iterable[OrderView]) -> tuple[str, ...]:
    """`FILL_COLUMNS`, plus the USD value at fill time when the upstream gave one for any fill."""
    if any(fill.usd_value is not None for view in views for fill in view.fills):
        return (*FILL_COLUMNS, USD_COLUMN)
    return FILL_COLUMNS


def fill_rows(views: Iterable[OrderView]) -> list[dict[str, str]]:
    """One row per fill (columns `fill_columns(views)`), oldest first; dates ISO 8601 in UTC;
    amounts and the price as plain numbers (the units are in the token columns and the header)."""
    views = list(views)
    with_usd = USD_COLUMN in fill_columns(views)
    rows: list[tuple[datetime, str, dict[str, str]]] = []
    for view in views:
        for fill in view.fills:
            when = fill.confirmed_at.astimezone(timezone.utc)
            row = {
                "date (UTC)": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "pair": view.pair,
                "in_amount": fill.spent.number,
                "in_token": fill.spent.token.symbol,
                "out_amount": fill.received.number,
                "out_token": fill.received.token.symbol,
                "fee_amount": fill.fee.number if fill.fee is not None else "",
                "fee_token": fill.fee.token.symbol if fill.fee is not None else "",
                PRICE_COLUMN: price_number(fill.spent, fill.received),
                "signature": fill.tx_id,
                "order": view.order_key,
                "system": view.system.label,  # "Jupiter Recurring" or "Jupiter DCA": the model's names
            }
            if with_usd:
                row[USD_COLUMN] = plain(fill.usd_value) if fill.usd_value is not None else ""
            rows.append((when, fill.tx_id, {key: _cell(value) for key, value in row.items()}))
    rows.sort(key=lambda item: (item[0], item[1]))
    return [row for _, _, row in rows]
