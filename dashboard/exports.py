"""The exports for taxes: every deposit, fill and refund of a wallet's orders, in the formats tax
tools import without editing, and a plain CSV that says what the screen says.

The whole rule, before the code:

- **Rows.** One per deposit into an order, per fill (a trade), per withdrawal out of it (the
  tokens bought, sent on to the wallet) and per refund out of it (what a cancel gave back unspent),
  oldest first, from the `OrderView`s the screen shows (both systems, active and closed). Each
  system's withdrawals as they really happen: a Jupiter DCA (v2) round sends what it bought
  straight to the wallet (a withdrawal right after its fill, same transaction); a Recurring (v1)
  order holds what it bought until it sends it on (`outWithdrawn`: at its close, with the closing
  transaction). Per order, in the input token deposit − the fills' input − refunds, and in the
  output token the fills' output − withdrawals, is what the order still holds: zero once it is
  closed, to the base unit.
- **The order's account and the wallet's.** The files describe the orders' account; what the
  wallet pays itself is not on its rows: the network fee of a cancel (signed and paid by the
  wallet, in SOL) is said in words (Koinly's description) or in a column of its own (the plain
  CSV's `network_fee_sol (paid by your wallet)`), never as a fee of the order.
- **Formats** (`FORMATS`): Koinly's universal template and CoinTracker's CSV, with the columns and
  date formats their help pages publish (`KOINLY_HELP`, `COINTRACKER_HELP`), in which the orders
  are one account of their own: deposits come into it from the trader's wallet and withdrawals and
  refunds go back (transfers, so no tag: the tools match them with the wallet's side), fills are
  trades whose `Received` is what was bought before Jupiter's fee and whose fee column is that fee
  (the tools take a fee from the balance on top of the amounts, so the account gains what Jupiter
  really left it); and
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
  tools' formats, with the words in Koinly's description). The wallet's network fee of a cancel
  is known when the cancel was relayed by this dashboard; a deposit's never is.
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

DEPOSIT, FILL, WITHDRAWAL, REFUND = "deposit", "fill", "withdrawal", "refund"
_KIND_ORDER = {DEPOSIT: 0, FILL: 1, WITHDRAWAL: 2, REFUND: 3}  # same moment: a fill before its withdrawal
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
    "network_fee_sol (paid by your wallet)",
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
    fill, refunded), `output` its output token moved (bought by the fill, after Jupiter's fee;
    withdrawn to the wallet); `fee` is Jupiter's fee of a fill (None: unknown, or not a fill);
    `network_fee` the SOL the wallet paid for this row's transaction (None: unknown or none)."""

    kind: str
    when: datetime  # UTC
    view: OrderView
    input: Amount | None
    output: Amount | None
    fee: Amount | None
    tx_id: str
    network_fee: Amount | None = None

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


def ledger(views: Iterable[OrderView], cancel_fees: dict[str, Amount], year: int | None = None) -> list[Row]:
    """Every deposit, fill, withdrawal and refund of these orders, oldest first; only those of
    `year` (UTC) when given. The wallet's network fee of an order's cancel goes with its last
    refund (the cancel's transaction)."""
    rows = []
    for view in views:
        refunds = [t for t in view.transfers if t.kind == REFUND]
        for transfer in view.transfers:
            when = _utc(transfer.when)
            if transfer.kind == WITHDRAWAL:
                rows.append(Row(WITHDRAWAL, when, view, None, transfer.amount, None, transfer.tx_id))
                continue
            network_fee = cancel_fees.get(view.order_key) if refunds and transfer is refunds[-1] else None
            rows.append(Row(transfer.kind, when, view, transfer.amount, None, None, transfer.tx_id, network_fee))
        for fill in view.fills:
            rows.append(Row(FILL, _utc(fill.confirmed_at), view, fill.spent, fill.received, fill.fee, fill.tx_id))
    if year is not None:
        rows = [row for row in rows if row.when.year == year]
    rows.sort(key=lambda r: (r.when, r.view.order_key, _KIND_ORDER[r.kind], r.tx_id))
    return rows


def years(rows: Iterable[Row]) -> list[int]:
    """The (UTC) years these rows fall in, newest first."""
    return sorted({row.when.year for row in rows}, reverse=True)


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
    tokens = [side.token for side in (row.input, row.output) if side is not None]
    return "; ".join(f"{currency(t)} mint {t.mint}" for t in tokens)


def _describe(row: Row) -> str:
    """Koinly's Description: what happened, which order, the mints, an unknown fee and the
    wallet's network fee in words."""
    order = f"Jupiter order {row.view.order_key} ({row.view.system.label})"
    if row.kind == DEPOSIT:
        what = f"Deposit from your wallet into {order}"
    elif row.kind == REFUND:
        what = f"Refund of the unspent deposit from {order} to your wallet"
    elif row.kind == WITHDRAWAL:
        what = f"Tokens bought, sent from {order} to your wallet"
    else:
        what = f"DCA buy of {order}"
    if row.kind == FILL and row.fee is None:
        what += "; Jupiter's fee: unknown (Jupiter did not report it; already taken from the amount received)"
    if row.network_fee is not None:
        paid = f"{row.network_fee.number} {currency(row.network_fee.token)}"
        what += f"; network fee of the cancel, paid by your wallet (not by the order): {paid}"
    return f"{what}; {_mints(row)}"


def _bought_before_fee(row: Row) -> Amount | None:
    """A fill's output before Jupiter's fee, when the fee is known and in the output token (the
    tax tools take the fee column from the balance on top of the amounts)."""
    if row.output is None or row.fee is None or row.fee.token.mint != row.output.token.mint:
        return row.output
    return Amount(CONTEXT.add(row.output.value, row.fee.value), row.output.token)


def plain_price(row: Row) -> tuple[str, str]:
    """(price, its unit) in the screen's direction: ("152.61…", "USDC per 1 SOL")."""
    if row.input is None or row.output is None:
        return "", ""
    quoted = price_quote(row.input, row.output)
    if quoted is None:
        return "", ""
    ratio, base, quote = quoted
    return plain(round_significant(ratio, PRICE_DIGITS)), f"{currency(quote)} per 1 {currency(base)}"


def koinly_row(row: Row) -> list[str]:
    """Koinly's universal template; the orders as one account (deposits in, withdrawals and
    refunds out, fills as trades with Jupiter's fee on top of what was left to the order)."""
    date = row.when.strftime("%Y-%m-%d %H:%M:%S UTC")
    sent = received = None
    if row.kind == DEPOSIT:
        received = row.input
    elif row.kind == REFUND:
        sent = row.input
    elif row.kind == WITHDRAWAL:
        sent = row.output
    else:
        sent, received = row.input, _bought_before_fee(row)
    usd = next(
        (side.value for side in (sent, received) if side is not None and side.token.mint in USD_STABLECOINS), None
    )
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
    fee = fee_token = ""  # Jupiter takes a fee only from a fill
    if row.fee is not None:
        fee, fee_token = row.fee.number, currency(row.fee.token)
    elif row.kind == FILL:  # taken from what it bought, not reported
        fee, fee_token = UNKNOWN, currency(view.output_token)
    cells = [
        row.kind,
        row.when.strftime("%Y-%m-%d %H:%M:%S"),
        view.pair,
        _number(row.input),
        currency(row.input.token) if row.input else "",
        row.input.token.mint if row.input else "",
        _number(row.output),
        currency(row.output.token) if row.output else "",
        row.output.token.mint if row.output else "",
        fee,
        fee_token,
        _network_fee(row),
        price,
        unit,
        _number(row.usd_value),
        row.tx_id,
        view.order_key,
        view.system.label,
    ]
    if decimal_mark != ".":
        for index in _PLAIN_NUMBERS:
            cells[index] = cells[index].replace(".", decimal_mark)
    return cells


_PLAIN_NUMBERS = [
    PLAIN_COLUMNS.index(name)
    for name in (
        "in_amount",
        "out_amount",
        "fee_amount",
        "network_fee_sol (paid by your wallet)",
        "price (in price_unit)",
        "value_usd_at_the_time",
    )
]


def _network_fee(row: Row) -> str:
    """What the wallet paid in SOL for this row's transaction: known for a cancel relayed here,
    `unknown` for a deposit and another refund (the wallet signed them), none ("") for fills and
    withdrawals (Jupiter's keepers send those)."""
    if row.network_fee is not None:
        return row.network_fee.number
    return UNKNOWN if row.kind in (DEPOSIT, REFUND) else ""


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
