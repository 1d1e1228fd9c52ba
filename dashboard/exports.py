"""The exports for taxes: every deposit, fill and refund of a wallet's orders, in the formats tax
tools import without editing, and a plain CSV that says what the screen says.

The whole rule, before the code:

- **Rows.** One per deposit into an order, per fill (a trade) and per refund out of it (what a
  cancel gave back unspent), oldest first, from the `OrderView`s the screen shows (both systems,
  active and closed). Per order, deposit − the fills' input − refunds is what the order still
  holds: zero once it is closed, to the base unit.
- **Formats** (`FORMATS`): Koinly's universal template and CoinTracker's CSV, with the columns and
  date formats their help pages publish (`KOINLY_HELP`, `COINTRACKER_HELP`), in which the orders
  are one account of their own: deposits come into it from the trader's wallet and refunds go
  back (transfers, so no tag: the tools match them with the wallet's side), fills are trades; and
  the plain CSV, in the trader's words: `kind`, the price in the screen's direction and unit
  ("USDC per 1 SOL"), the fee as a number or `unknown`, the system named as on screen. A `;`
  variant of the plain CSV, with decimal commas, is for spreadsheets set to a language whose
  decimal mark is a comma; every other format writes numbers with a dot and no grouping.
- **Currencies.** The symbol the Tokens API gives, and the mint beside it (a column in the plain
  CSV, the description in Koinly's; CoinTracker's fixed columns have no room for it). A token the
  Tokens API does not know is written as its mint.
- **USD value at the time** only when one side is a USD stablecoin (`USD_STABLECOINS`, by mint):
  that side's amount. Otherwise empty, which the tools read as "look it up": never today's price.
- **Fees as they are.** A v1 fill's fee as Jupiter reports it (in the output token); a v2 fill's
  fee is not reported (Jupiter deducts it from what was bought), so it is `unknown` (empty in the
  tools' formats, with the words in Koinly's description). A refund's network fee is known when
  the cancel was relayed by this dashboard; a deposit's never is.
- **Times** in UTC, said in each header or cell; a tax year is a UTC calendar year.
- **Cells** a spreadsheet could run as a formula (token symbols are untrusted) start with `'`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from dashboard.encoding import short_address
from dashboard.formatting import CONTEXT, Amount, plain, price_quote, round_significant
from dashboard.models import CancelAttempt
from dashboard.orders import OrderView
from dashboard.tokens import KNOWN_TOKENS, Token

KOINLY_HELP = "https://support.koinly.io/en/articles/9489976-how-to-create-a-custom-csv-file-with-your-data"
KOINLY_TAGS_HELP = "https://support.koinly.io/en/articles/9490023-what-are-tags"
COINTRACKER_HELP = (
    "https://support.cointracker.io/hc/en-us/articles/4413071299729-Convert-your-transaction-history-to-CoinTracker-CSV"
)

# USD stablecoins on Solana, by mint: a fill with one of these on one side has a USD value at the
# time of the fill without guessing (that side's amount).
USD_STABLECOINS: dict[str, str] = {
    "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v": "USDC",
    "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB": "USDT",
    "2b1kV6DkPAnxd5ixfnxCpjxmKwqjjaYmCZfHsFu24GXo": "PYUSD",
    "2u1tszSeqZ3qBWF3uNGPFc8TzMk2tdiwknnRMWGWjGWH": "USDG",
}
SOL = KNOWN_TOKENS["So11111111111111111111111111111111111111112"]
LAMPORTS_PER_SOL = 1_000_000_000

DEPOSIT, FILL, REFUND = "deposit", "fill", "refund"
_KIND_ORDER = {DEPOSIT: 0, FILL: 1, REFUND: 2}
UNKNOWN = "unknown"
PRICE_DIGITS = 12  # significant digits of the plain CSV's price

KOINLY, COINTRACKER, PLAIN, PLAIN_SEMICOLON = "koinly", "cointracker", "csv", "csv-semicolon"
FORMATS: dict[str, str] = {  # name → what the page offers
    PLAIN: "Plain CSV (a spreadsheet, in the screen's words)",
    PLAIN_SEMICOLON: "Plain CSV for Excel in Germany, France, Italy, Spain, … (; between columns, decimal commas)",
    KOINLY: "Koinly (universal template)",
    COINTRACKER: "CoinTracker",
}

KOINLY_COLUMNS = (
    "Date",
    "Sent Amount",
    "Sent Currency",
    "Received Amount",
    "Received Currency",
    "Fee Amount",
    "Fee Currency",
    "Net Worth Amount",
    "Net Worth Currency",
    "Label",
    "Description",
    "TxHash",
)
COINTRACKER_COLUMNS = (
    "Date",
    "Received Quantity",
    "Received Currency",
    "Sent Quantity",
    "Sent Currency",
    "Fee Amount",
    "Fee Currency",
    "Tag",
)
PLAIN_COLUMNS = (
    "kind",
    "date (UTC, YYYY-MM-DD HH:MM:SS)",
    "pair",
    "in_amount",
    "in_token",
    "in_mint",
    "out_amount",
    "out_token",
    "out_mint",
    "fee_amount",
    "fee_token",
    "price (in price_unit)",
    "price_unit",
    "value_usd_at_the_time",
    "signature",
    "order",
    "system",
)


@dataclass(frozen=True)
class Row:
    """One line of the ledger. `input` is the order's input token moved (deposited, spent by the
    fill, refunded), `output` what a fill bought (after Jupiter's fee); `fee` None is unknown."""

    kind: str
    when: datetime  # UTC
    view: OrderView
    input: Amount
    output: Amount | None
    fee: Amount | None
    tx_id: str

    @property
    def usd_value(self) -> Decimal | None:
        """The row's worth in USD at its time, only when one side is a USD stablecoin."""
        for side in (self.input, self.output):
            if side is not None and side.token.mint in USD_STABLECOINS:
                return side.value
        return None


def cancel_fees(wallet: str) -> dict[str, Amount]:
    """The network fee of each of this wallet's cancels that went through this dashboard, by order."""
    fees = {}
    attempts = CancelAttempt.objects.filter(
        wallet=wallet, state=CancelAttempt.State.SUCCEEDED, network_fee_lamports__isnull=False
    ).values_list("order_key", "network_fee_lamports")
    for order_key, lamports in attempts:
        fees[order_key] = Amount(Decimal(lamports).scaleb(-9, context=CONTEXT), SOL)
    return fees


def ledger(views: Iterable[OrderView], refund_fees: dict[str, Amount], year: int | None = None) -> list[Row]:
    """Every deposit, fill and refund of these orders, oldest first; only those of `year` (UTC)
    when given. The network fee of an order's cancel goes with its last refund."""
    rows = []
    for view in views:
        refunds = [t for t in view.transfers if t.kind == REFUND]
        for transfer in view.transfers:
            fee = refund_fees.get(view.order_key) if transfer is (refunds[-1] if refunds else None) else None
            rows.append(Row(transfer.kind, _utc(transfer.when), view, transfer.amount, None, fee, transfer.tx_id))
        for fill in view.fills:
            rows.append(Row(FILL, _utc(fill.confirmed_at), view, fill.spent, fill.received, fill.fee, fill.tx_id))
    if year is not None:
        rows = [row for row in rows if row.when.year == year]
    rows.sort(key=lambda r: (r.when, r.view.order_key, _KIND_ORDER[r.kind], r.tx_id))
    return rows


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


# --- cells ---------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """Token symbols are untrusted: keep spreadsheets from reading a cell as a formula."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def currency(token: Token) -> str:
    """The symbol the Tokens API gives; the mint itself for a token it does not know."""
    if not token.symbol or token.symbol == short_address(token.mint):
        return token.mint
    return token.symbol


def _number(value: Amount | Decimal | None) -> str:
    if value is None:
        return ""
    return value.number if isinstance(value, Amount) else plain(value)


def _mints(row: Row) -> str:
    tokens = [row.input.token] + ([row.output.token] if row.output is not None else [])
    return "; ".join(f"{currency(t)} mint {t.mint}" for t in tokens)


def _describe(row: Row) -> str:
    """Koinly's Description: what happened, which order, the mints, an unknown fee in words."""
    order = f"Jupiter order {row.view.order_key} ({row.view.system.label})"
    if row.kind == DEPOSIT:
        what = f"Deposit from your wallet into {order}"
    elif row.kind == REFUND:
        what = f"Refund of the unspent deposit from {order} to your wallet"
    else:
        what = f"DCA buy of {order}"
    if row.kind == FILL and row.fee is None:
        what += "; Jupiter's fee: unknown (Jupiter did not report it; already taken from the amount received)"
    return f"{what}; {_mints(row)}"


def plain_price(row: Row) -> tuple[str, str]:
    """(price, its unit) in the screen's direction: ("152.61…", "USDC per 1 SOL")."""
    if row.output is None:
        return "", ""
    quoted = price_quote(row.input, row.output)
    if quoted is None:
        return "", ""
    ratio, base, quote = quoted
    return plain(round_significant(ratio, PRICE_DIGITS)), f"{currency(quote)} per 1 {currency(base)}"


def koinly_row(row: Row) -> list[str]:
    """Koinly's universal template; the orders as one account (deposits in, refunds out)."""
    date = row.when.strftime("%Y-%m-%d %H:%M:%S UTC")
    sent = received = None
    if row.kind == DEPOSIT:
        received = row.input
    elif row.kind == REFUND:
        sent = row.input
    else:
        sent, received = row.input, row.output
    usd = row.usd_value
    return [
        date,
        _number(sent),
        currency(sent.token) if sent else "",
        _number(received),
        currency(received.token) if received else "",
        _number(row.fee),
        currency(row.fee.token) if row.fee else "",
        _number(usd),
        "USD" if usd is not None else "",
        "",  # transfers and trades take no tag
        _describe(row),
        row.tx_id,
    ]


def cointracker_row(row: Row) -> list[str]:
    """CoinTracker's CSV: the same rows, its column order and US date (UTC)."""
    koinly = koinly_row(row)
    date = row.when.strftime("%m/%d/%Y %H:%M:%S")
    return [date, koinly[3], koinly[4], koinly[1], koinly[2], koinly[5], koinly[6], ""]


def plain_row(row: Row, decimal_mark: str = ".") -> list[str]:
    """The plain CSV in the trader's words; `decimal_mark` "," for the semicolon variant."""
    view = row.view
    price, unit = plain_price(row)
    if row.fee is not None:
        fee, fee_token = row.fee.number, currency(row.fee.token)
    else:  # a fill's fee is taken from what it bought; network fees are paid in SOL
        fee, fee_token = UNKNOWN, currency(view.output_token) if row.kind == FILL else SOL.symbol
    cells = [
        row.kind,
        row.when.strftime("%Y-%m-%d %H:%M:%S"),
        view.pair,
        row.input.number,
        currency(row.input.token),
        row.input.token.mint,
        _number(row.output),
        currency(row.output.token) if row.output else "",
        row.output.token.mint if row.output else "",
        fee,
        fee_token,
        price,
        unit,
        _number(row.usd_value),
        row.tx_id,
        view.order_key,
        view.system.label,
    ]
    if decimal_mark != ".":
        for index in (3, 6, 9, 11, 13):
            cells[index] = cells[index].replace(".", decimal_mark)
    return cells


# --- files ---------------------------------------------------------------------------------------


def columns(fmt: str) -> tuple[str, ...]:
    return {KOINLY: KOINLY_COLUMNS, COINTRACKER: COINTRACKER_COLUMNS}.get(fmt, PLAIN_COLUMNS)


def cells(fmt: str, row: Row) -> list[str]:
    if fmt == KOINLY:
        values = koinly_row(row)
    elif fmt == COINTRACKER:
        values = cointracker_row(row)
    else:
        values = plain_row(row, "," if fmt == PLAIN_SEMICOLON else ".")
    return [_cell(value) for value in values]


class _Line:
    """csv.writer's file: hands back each line written."""

    def write(self, text: str) -> str:
        return text


def lines(fmt: str, rows: Iterable[Row], note: str = "") -> Iterator[str]:
    """The file, line by line: a UTF-8 byte order mark, the note (plain formats only: the tax
    tools' importers read the first line as the header), the header, then every row."""
    writer = csv.writer(_Line(), delimiter=";" if fmt == PLAIN_SEMICOLON else ",")
    yield "\ufeff"
    if note and fmt in (PLAIN, PLAIN_SEMICOLON):
        yield writer.writerow([note])
    yield writer.writerow(columns(fmt))
    for row in rows:
        yield writer.writerow(cells(fmt, row))


def file_name(wallet: str, fmt: str, year: int | None, today: datetime, last_known_as_of: datetime | None) -> str:
    """ "jupiter-dca-7Xk2Lm9f-koinly-2025-made-2026-03-01.csv", with "-last-known-as-of-…-UTC"
    when the data is what was last seen."""
    name = f"jupiter-dca-{wallet[:8]}-{fmt}-{year or 'all-years'}-made-{today:%Y-%m-%d}"
    if last_known_as_of is not None:
        name += f"-last-known-as-of-{_utc(last_known_as_of):%Y-%m-%d-%H%M}-UTC"
    return f"{name}.csv"
