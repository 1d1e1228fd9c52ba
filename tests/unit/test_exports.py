"""dashboard/exports.py: the tax exports, parsed back. Every expected cell was worked out by hand;
the Koinly and CoinTracker files are held to the columns and date formats of those tools' help
pages (tests/fixtures/tax/, each naming its source)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard import exports
from dashboard.exports import COINTRACKER, KOINLY, PLAIN, PLAIN_SEMICOLON, ledger, lines
from dashboard.formatting import Amount
from dashboard.models import TrackedOrder
from dashboard.recurring_view import describe
from dashboard.tokens import Token
from tests.unit.figures import (
    JUP_MINT,
    ODD_MINT,
    SOL,
    SOL_MINT,
    USDC_MINT,
    at,
    dca_view,
    event,
    make_fill,
    make_order,
    spec_order,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tax"
UNKNOWN_MINT = "Unkn0wnMint1111111111111111111111111111111"


def read(fmt: str, rows: list[exports.Row], note: str = "") -> list[dict[str, str]]:
    text = "".join(lines(fmt, rows, note))
    assert text.startswith("\ufeff")
    body = text[1:]
    if note and fmt in (PLAIN, PLAIN_SEMICOLON):
        body = body.split("\r\n", 1)[1]
    return list(csv.DictReader(io.StringIO(body), delimiter=";" if fmt == PLAIN_SEMICOLON else ","))


def published(name: str) -> tuple[list[str], list[dict[str, str]]]:
    """A fixture's header and sample rows (its comment lines name the source)."""
    text = "\n".join(line for line in (FIXTURES / name).read_text().splitlines() if not line.startswith("#"))
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def closed_buy():
    """A cancelled daily order: 150 USDC in, two buys of 50 USDC, 50 USDC back at the cancel."""
    return describe(
        make_order(
            status="history",
            user_closed=True,
            raw_in_withdrawn=50_000_000,
            raw_out_withdrawn=540_000_000,
            close_tx="closeSig",
            updated_at=at(3, 9),
        ),
        {},
        now=at(4),
    )


def closed_sell():
    """A completed order selling 1 SOL for USDC in two buys (fees in USDC)."""
    fills = (
        make_fill(at(1, 12), 500_000_000, 86_200_000, tx="sell1", raw_fee=86_200, fee_mint=USDC_MINT),
        make_fill(at(2, 12), 500_000_000, 76_300_000, tx="sell2", raw_fee=76_300, fee_mint=USDC_MINT),
    )
    return describe(
        make_order(
            order_key="SELL1",
            input_mint=SOL_MINT,
            output_mint=USDC_MINT,
            status="history",
            raw_in_deposited=1_000_000_000,
            raw_in_used=1_000_000_000,
            raw_in_per_cycle=500_000_000,
            raw_out_received=162_500_000,
            raw_out_withdrawn=162_500_000,
            fills=fills,
            updated_at=at(2, 12),
        ),
        {},
        now=at(4),
    )


# --- the ledger --------------------------------------------------------------------------------


def test_a_closed_order_is_deposit_fills_withdrawal_refund_and_balances_to_the_base_unit() -> None:
    """A v1 order holds what it bought until its close: the bought SOL leaves it then, with the
    closing transaction, beside the refund of the unspent USDC."""
    view = closed_buy()
    rows = ledger([view], {})
    assert [(r.kind, r.tx_id) for r in rows] == [
        ("deposit", "openSig"),
        ("fill", "sig1"),
        ("fill", "sig2"),
        ("withdrawal", "closeSig"),
        ("refund", "closeSig"),
    ]
    base = 10**6  # USDC
    deposit = sum(int(r.input.value * base) for r in rows if r.kind == "deposit")
    spent = sum(int(r.input.value * base) for r in rows if r.kind == "fill")
    refunded = sum(int(r.input.value * base) for r in rows if r.kind == "refund")
    assert (deposit, spent, refunded) == (150_000_000, 100_000_000, 50_000_000)
    assert deposit - spent - refunded == 0
    lamports = 10**9  # SOL
    bought = sum(int(r.output.value * lamports) for r in rows if r.kind == "fill")
    withdrawn = sum(int(r.output.value * lamports) for r in rows if r.kind == "withdrawal")
    assert (bought, withdrawn) == (540_000_000, 540_000_000)
    assert all(r.input is None for r in rows if r.kind == "withdrawal")


def test_an_active_v1_order_keeps_what_it_bought_until_it_sends_it() -> None:
    held = ledger([describe(make_order(), {}, at(3))], {})
    assert [r.kind for r in held] == ["deposit", "fill", "fill"]  # outWithdrawn 0: still in the order
    partly = ledger([describe(make_order(raw_out_withdrawn=290_000_000), {}, at(3))], {})
    withdrawal = partly[-1]
    assert (withdrawal.kind, withdrawal.output.number, withdrawal.tx_id) == ("withdrawal", "0.29", "")
    assert withdrawal.when == at(2, 0, 0, 40)  # Jupiter gives the total only: when the order last changed


def test_sent_received_and_fees_add_up_to_the_orders_figures() -> None:
    view = closed_sell()
    fills = [r for r in ledger([view], {}) if r.kind == "fill"]
    assert sum(r.input.value for r in fills) == view.funds.spent.value == Decimal(1)
    assert sum(r.output.value for r in fills) == view.funds.received.value == Decimal("162.5")
    assert sum(r.fee.value for r in fills) == sum(f.fee.value for f in view.fills) == Decimal("0.1625")


def test_the_cancels_network_fee_is_the_wallets_not_the_orders() -> None:
    fee = Amount(Decimal("0.000022733"), SOL)
    rows = ledger([closed_buy()], {"ORDER1": fee})
    refund = next(r for r in rows if r.kind == "refund")
    assert (refund.network_fee, refund.fee) == (fee, None)  # with the refund, never as the order's fee
    assert [r.network_fee for r in rows if r.kind != "refund"] == [None] * 4  # a deposit's is never known
    assert {r.kind for r in rows if r.fee is not None} == {"fill"}  # only Jupiter's fees


def test_the_year_filter_keeps_exactly_that_utc_years_rows() -> None:
    new_year = make_fill(datetime(2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc), 50_000_000, 290_000_000, tx="old")
    next_year = make_fill(datetime(2026, 1, 1, 0, 0, 0, tzinfo=timezone.utc), 50_000_000, 290_000_000, tx="new")
    view = describe(
        make_order(created_at=datetime(2025, 12, 1, tzinfo=timezone.utc), fills=(new_year, next_year)), {}, at(3)
    )
    assert [r.tx_id for r in ledger([view], {}, 2025)] == ["openSig", "old"]
    assert [r.tx_id for r in ledger([view], {}, 2026)] == ["new"]
    assert ledger([view], {}, 2024) == []


def test_v2_rows_come_from_jupiters_events() -> None:
    data = spec_order()
    data["state"], data["inputAmountRemaining"] = "cancelled", "10000000"
    data["events"].append(
        event("withdrawal", "success", "26T20:00:00", txSignature="refundSig", inputAmount="10000000")
    )
    view = dca_view(data, "history")
    rows = ledger([view], {})
    assert [(r.kind, r.when.isoformat(), r.tx_id[:8]) for r in rows] == [
        ("deposit", "2026-06-26T18:42:08.880000+00:00", "32hAuVdZ"),
        ("fill", "2026-06-26T18:42:11.469000+00:00", "HuNMpjFk"),
        ("withdrawal", "2026-06-26T18:42:11.469000+00:00", "HuNMpjFk"),  # the round sends it to the wallet
        ("refund", "2026-06-26T20:00:00+00:00", "refundSi"),
    ]
    assert [r.input.number for r in rows if r.input] == ["20", "10", "10"]  # 20 − 10 − 10 = 0
    assert [r.output.number for r in rows if r.output] == ["0.137589159", "0.137589159"]  # bought − sent = 0


# --- the plain CSV ------------------------------------------------------------------------------


def test_plain_csv_says_what_the_screen_says() -> None:
    rows = read(PLAIN, ledger([closed_sell()], {}))
    assert list(rows[0]) == list(exports.PLAIN_COLUMNS)
    fill = rows[1]
    assert fill["kind"] == "fill"
    assert fill["date (UTC, YYYY-MM-DD HH:MM:SS)"] == "2025-01-01 12:00:00"
    assert fill["price_unit"] == "USDC per 1 SOL"  # the screen's direction, not SOL per USDC
    assert fill["price (in price_unit)"] == "172.4"  # 86.2 / 0.5
    assert (fill["in_amount"], fill["in_token"], fill["in_mint"]) == ("0.5", "SOL", SOL_MINT)
    assert (fill["out_amount"], fill["out_token"], fill["out_mint"]) == ("86.2", "USDC", USDC_MINT)
    assert (fill["fee_amount"], fill["fee_token"]) == ("0.0862", "USDC")
    assert fill["value_usd_at_the_time"] == "86.2"  # the USDC side
    assert fill["system"] == TrackedOrder.System.RECURRING.label
    deposit = rows[0]
    assert deposit["kind"] == "deposit" and (deposit["fee_amount"], deposit["fee_token"]) == ("", "")  # no Jupiter fee
    assert deposit["network_fee_sol (paid by your wallet)"] == "unknown"  # the wallet's, never known
    assert fill["network_fee_sol (paid by your wallet)"] == ""  # Jupiter's keeper sends a fill
    withdrawal = rows[3]
    assert (withdrawal["kind"], withdrawal["in_amount"], withdrawal["out_amount"], withdrawal["out_token"]) == (
        "withdrawal",
        "",
        "162.5",
        "USDC",
    )
    assert withdrawal["value_usd_at_the_time"] == "162.5" and withdrawal["price (in price_unit)"] == ""
    for row in rows:
        datetime.strptime(row["date (UTC, YYYY-MM-DD HH:MM:SS)"], "%Y-%m-%d %H:%M:%S")


def test_plain_csv_of_a_v2_order_says_unknown_fee_and_jupiter_dca() -> None:
    (deposit, fill, withdrawal) = read(PLAIN, ledger([dca_view(spec_order())], {}))
    assert (withdrawal["kind"], withdrawal["signature"], withdrawal["out_amount"]) == (
        "withdrawal",
        fill["signature"],
        fill["out_amount"],
    )
    assert (fill["fee_amount"], fill["fee_token"]) == ("unknown", "SOL")  # taken from the SOL bought
    assert fill["system"] == deposit["system"] == TrackedOrder.System.DCA.label
    assert fill["price_unit"] == "USDC per 1 SOL"
    assert fill["price (in price_unit)"] == "72.680144807"  # 10 / 0.137589159, 12 significant digits
    assert fill["value_usd_at_the_time"] == "10"


def test_usd_value_only_with_a_usd_stablecoin_side() -> None:
    view = describe(make_order(input_mint=SOL_MINT, output_mint=JUP_MINT), {}, at(3))
    rows = read(PLAIN, ledger([view], {}))
    assert {r["value_usd_at_the_time"] for r in rows} == {""}  # never today's price
    for mint, symbol in exports.USD_STABLECOINS.items():
        stable = Token(mint, symbol, symbol, 6)
        view = describe(make_order(input_mint=SOL_MINT, output_mint=mint), {mint: stable}, at(3))
        fill = read(PLAIN, ledger([view], {}))[1]
        assert fill["value_usd_at_the_time"] == fill["out_amount"], symbol


def test_a_token_the_tokens_api_does_not_know_is_written_as_its_mint() -> None:
    view = describe(
        make_order(output_mint=UNKNOWN_MINT, fills=(make_fill(at(1), 50_000_000, None, out_amount="12.5"),)),
        {},
        at(3),
    )
    fill = read(PLAIN, ledger([view], {}))[1]
    assert fill["out_token"] == UNKNOWN_MINT and fill["price_unit"] == f"USDC per 1 {UNKNOWN_MINT}"
    koinly = read(KOINLY, ledger([view], {}))[1]
    assert koinly["Received Currency"] == UNKNOWN_MINT
    cointracker = read(COINTRACKER, ledger([view], {}))[1]
    assert cointracker["Received Currency"] == UNKNOWN_MINT


def test_semicolon_variant_for_comma_decimal_spreadsheets() -> None:
    text = "".join(lines(PLAIN_SEMICOLON, ledger([closed_sell()], {})))
    assert text.splitlines()[0].count(";") == len(exports.PLAIN_COLUMNS) - 1
    fill = read(PLAIN_SEMICOLON, ledger([closed_sell()], {}))[1]
    assert (fill["in_amount"], fill["out_amount"], fill["fee_amount"]) == ("0,5", "86,2", "0,0862")
    assert fill["price (in price_unit)"] == "172,4"
    assert fill["date (UTC, YYYY-MM-DD HH:MM:SS)"] == "2025-01-01 12:00:00"


def test_formula_symbols_are_neutralised() -> None:
    evil = Token(ODD_MINT, "=HYPERLINK", "", 6)
    view = describe(make_order(input_mint=ODD_MINT), {ODD_MINT: evil}, now=at(3))
    for fmt, column in ((PLAIN, "in_token"), (KOINLY, "Sent Currency"), (COINTRACKER, "Sent Currency")):
        fill = read(fmt, ledger([view], {}))[1]
        assert fill[column] == "'=HYPERLINK", fmt


def test_the_note_heads_only_the_plain_files() -> None:
    rows = ledger([closed_buy()], {})
    assert "".join(lines(PLAIN, rows, "# Last-known")).startswith("\ufeff# Last-known\r\nkind,")
    assert "".join(lines(KOINLY, rows, "# Last-known")).startswith("\ufeffDate,Sent Amount,")


# --- Koinly and CoinTracker, against their published formats -----------------------------------


def test_koinly_file_has_the_published_columns_and_date_format() -> None:
    header, samples = published("koinly-universal.csv")
    rows = read(KOINLY, ledger([closed_buy(), closed_sell()], {}))
    assert list(rows[0]) == header == list(exports.KOINLY_COLUMNS)
    for row in [*samples, *rows]:  # their samples and our rows read with the same format
        assert datetime.strptime(row["Date"], "%Y-%m-%d %H:%M:%S UTC")
        for column in ("Sent Amount", "Received Amount", "Fee Amount", "Net Worth Amount"):
            assert row[column] == "" or Decimal(row[column]) >= 0
    assert all(row["Label"] == "" for row in rows)  # transfers and trades: no tag


def test_koinly_rows_are_transfers_in_and_out_of_the_order_and_trades() -> None:
    fee = Amount(Decimal("0.000022733"), SOL)
    deposit, buy, _, withdrawal, refund = read(KOINLY, ledger([closed_buy()], {"ORDER1": fee}))
    assert deposit == {
        "Date": "2025-01-01 00:00:00 UTC",
        "Sent Amount": "",
        "Sent Currency": "",
        "Received Amount": "150",
        "Received Currency": "USDC",
        "Fee Amount": "",
        "Fee Currency": "",
        "Net Worth Amount": "150",
        "Net Worth Currency": "USD",
        "Label": "",
        "Description": f"Deposit from your wallet into Jupiter order ORDER1 (Jupiter Recurring); USDC mint {USDC_MINT}",
        "TxHash": "openSig",
    }
    # Received before Jupiter's fee, the fee beside it: the tools take the fee from the balance,
    # so the account gains the 0.29 SOL Jupiter left it.
    assert (buy["Sent Amount"], buy["Sent Currency"], buy["Received Amount"], buy["Received Currency"]) == (
        "50",
        "USDC",
        "0.29029",
        "SOL",
    )
    assert (buy["Fee Amount"], buy["Fee Currency"], buy["Net Worth Amount"]) == ("0.00029", "SOL", "50")
    assert buy["Description"] == (
        f"DCA buy of Jupiter order ORDER1 (Jupiter Recurring); USDC mint {USDC_MINT}; SOL mint {SOL_MINT}"
    )
    assert withdrawal == {
        "Date": "2025-01-03 09:00:00 UTC",
        "Sent Amount": "0.54",
        "Sent Currency": "SOL",
        "Received Amount": "",
        "Received Currency": "",
        "Fee Amount": "",
        "Fee Currency": "",
        "Net Worth Amount": "",
        "Net Worth Currency": "",
        "Label": "",
        "Description": (
            f"Tokens bought, sent from Jupiter order ORDER1 (Jupiter Recurring) to your wallet; SOL mint {SOL_MINT}"
        ),
        "TxHash": "closeSig",
    }
    # the cancel's network fee is the wallet's: in words, not in the order's fee cells
    assert (refund["Sent Amount"], refund["Received Amount"], refund["Fee Amount"], refund["Fee Currency"]) == (
        "50",
        "",
        "",
        "",
    )
    assert "network fee of the cancel, paid by your wallet (not by the order): 0.000022733 SOL" in refund["Description"]


def test_koinly_says_an_unknown_v2_fee_in_words() -> None:
    buy = read(KOINLY, ledger([dca_view(spec_order())], {}))[1]
    assert buy["Fee Amount"] == "" and buy["Fee Currency"] == ""
    assert "Jupiter's fee: unknown" in buy["Description"]


def test_cointracker_file_has_the_published_columns_and_date_format() -> None:
    header, samples = published("cointracker.csv")
    rows = read(COINTRACKER, ledger([closed_buy(), dca_view(spec_order())], {}))
    assert list(rows[0]) == header == list(exports.COINTRACKER_COLUMNS)
    for row in [*samples, *rows]:
        assert datetime.strptime(row["Date"], "%m/%d/%Y %H:%M:%S")
    deposit, buy = rows[0], rows[1]
    assert (deposit["Received Quantity"], deposit["Received Currency"], deposit["Sent Quantity"]) == ("150", "USDC", "")
    assert deposit["Date"] == "01/01/2025 00:00:00"
    assert (buy["Sent Quantity"], buy["Sent Currency"], buy["Received Quantity"], buy["Received Currency"]) == (
        "50",
        "USDC",
        "0.29029",  # before Jupiter's fee, which is beside it
        "SOL",
    )
    assert (buy["Fee Amount"], buy["Fee Currency"]) == ("0.00029", "SOL")
    assert all(row["Tag"] == "" for row in rows)


# --- each file parsed back as its tool reads it: the order's account holds what it holds ---------

CANCEL_FEE = Amount(Decimal("0.000022733"), SOL)


def cancelled_usdc_to_jup():
    """The reviewer's case: USDC → JUP, cancelled through this dashboard (its network fee known)."""
    fills = (
        make_fill(at(1, 1), 10_000_000, 12_466_927, tx="jup1", raw_fee=12_479, fee_mint=JUP_MINT),
        make_fill(at(1, 2), 10_000_000, 12_216_979, tx="jup2", raw_fee=12_229, fee_mint=JUP_MINT),
    )
    return describe(
        make_order(
            order_key="JUPORDER",
            output_mint=JUP_MINT,
            status="history",
            user_closed=True,
            raw_in_deposited=240_000_000,
            raw_in_used=20_000_000,
            raw_in_withdrawn=220_000_000,
            raw_out_received=24_683_906,
            raw_out_withdrawn=24_683_906,
            fills=fills,
            close_tx="cancelSig",
            updated_at=at(1, 3),
        ),
        {},
        now=at(4),
    )


def cancelled_v2():
    data = spec_order()
    data["state"], data["inputAmountRemaining"] = "cancelled", "10000000"
    data["events"].append(
        event("withdrawal", "success", "26T20:00:00", txSignature="refundSig", inputAmount="10000000")
    )
    return dca_view(data, "history")


ORDERS = {
    "v1 cancelled, bought SOL": closed_buy,
    "v1 completed, fees in USDC": closed_sell,
    "v1 cancelled USDC → JUP": cancelled_usdc_to_jup,
    "v1 active, holding what it bought": lambda: describe(make_order(), {}, at(3)),
    "v1 active, part sent on": lambda: describe(make_order(raw_out_withdrawn=290_000_000), {}, at(3)),
    "v2 active": lambda: dca_view(spec_order()),
    "v2 cancelled": cancelled_v2,
}


def number(cell: str) -> Decimal:
    return Decimal(cell.replace(",", ".")) if cell else Decimal(0)


def account(fmt: str, rows: list[dict[str, str]]) -> dict[str, Decimal]:
    """The balance per currency of the account a file describes, as the tool reads it: Koinly and
    CoinTracker add what is received and take what is sent and the fee; the plain CSV's rows move
    the order's tokens by kind (its out_amount is after Jupiter's fee; the network fee column is
    the wallet's)."""
    held: dict[str, Decimal] = {}

    def move(currency: str, amount: Decimal) -> None:
        if currency:
            held[currency] = held.get(currency, Decimal(0)) + amount

    for row in rows:
        if fmt in (KOINLY, COINTRACKER):
            got, given = ("Received Amount", "Sent Amount") if fmt == KOINLY else ("Received Quantity", "Sent Quantity")
            move(row[got.replace("Amount", "Currency").replace("Quantity", "Currency")], number(row[got]))
            move(row[given.replace("Amount", "Currency").replace("Quantity", "Currency")], -number(row[given]))
            move(row["Fee Currency"], -number(row["Fee Amount"]))
        else:
            sign = {"deposit": 1, "fill": -1, "refund": -1, "withdrawal": 0}[row["kind"]]
            move(row["in_token"], sign * number(row["in_amount"]))
            move(row["out_token"], (-1 if row["kind"] == "withdrawal" else 1) * number(row["out_amount"]))
    return held


@pytest.mark.parametrize("fmt", [KOINLY, COINTRACKER, PLAIN, PLAIN_SEMICOLON])
@pytest.mark.parametrize("name", list(ORDERS))
def test_each_file_leaves_the_order_holding_what_it_holds(fmt, name) -> None:
    """Per order and token, the account's balance read back from the file is what the order still
    holds — zero once it is closed — in the input token and in the token it buys."""
    view = ORDERS[name]()
    rows = read(fmt, ledger([view], {view.order_key: CANCEL_FEE}))
    held = account(fmt, rows)
    still_in = view.funds.remaining.value if view.is_active else Decimal(0)
    assert held.get(exports.currency(view.input_token), Decimal(0)) == still_in
    assert held.get(exports.currency(view.output_token), Decimal(0)) == view.funds.unwithdrawn_out.value
    assert set(held) <= {exports.currency(view.input_token), exports.currency(view.output_token)}
    if not view.is_active:
        assert view.funds.unwithdrawn_out.is_zero  # closed: everything bought reached the wallet


@pytest.mark.parametrize("fmt", [KOINLY, COINTRACKER])
def test_no_sol_on_a_usdc_orders_account(fmt) -> None:
    """The cancel's network fee is paid by the wallet, not the USDC → JUP order: no SOL on its rows."""
    rows = read(fmt, ledger([cancelled_usdc_to_jup()], {"JUPORDER": CANCEL_FEE}))
    currencies = {row[c] for row in rows for c in row if c.endswith("Currency") and c != "Net Worth Currency"}
    assert currencies - {""} == {"USDC", "JUP"}
    assert {row["Fee Currency"] for row in rows} == {"", "JUP"}  # Jupiter's fee, in the token bought


def test_the_plain_file_names_the_wallets_network_fee_apart() -> None:
    rows = read(PLAIN, ledger([cancelled_usdc_to_jup()], {"JUPORDER": CANCEL_FEE}))
    column = "network_fee_sol (paid by your wallet)"
    assert [(r["kind"], r[column]) for r in rows] == [
        ("deposit", "unknown"),
        ("fill", ""),
        ("fill", ""),
        ("withdrawal", ""),
        ("refund", "0.000022733"),
    ]
    assert {r["fee_token"] for r in rows} == {"", "JUP"}


@pytest.mark.parametrize(
    ("fmt", "year", "as_of", "name"),
    [
        ("koinly", 2025, None, "jupiter-dca-WALLET12-koinly-2025-made-2026-03-01.csv"),
        (
            "csv",
            None,
            datetime(2026, 2, 28, 23, 5, tzinfo=timezone.utc),
            "jupiter-dca-WALLET12-csv-all-years-made-2026-03-01-last-known-as-of-2026-02-28-2305-UTC.csv",
        ),
    ],
)
def test_file_names_say_wallet_format_year_and_last_known(fmt, year, as_of, name) -> None:
    made = datetime(2026, 3, 1, 10, tzinfo=timezone.utc)
    assert exports.file_name("WALLET123456", fmt, year, made, as_of) == name


def test_currency_keeps_a_known_symbol() -> None:
    assert exports.currency(SOL) == "SOL"
    assert exports.currency(replace(SOL, symbol="")) == SOL_MINT


def test_a_fill_that_received_nothing_has_no_price() -> None:
    empty = make_fill(at(1), 50_000_000, 0, tx="empty")
    view = describe(make_order(fills=(empty,)), {}, at(3))
    fill = read(PLAIN, ledger([view], {}))[1]
    assert (fill["price (in price_unit)"], fill["price_unit"], fill["out_amount"]) == ("", "", "0")


@pytest.mark.parametrize(
    ("state", "events", "kinds"),
    [
        ("depositing", [], []),  # the deposit has not landed: nothing to export yet
        ("deposit_failed", [event("deposit", "failed", "26T18:42:08")], []),
        ("cancelled", [], [("deposit", "20"), ("refund", "20")]),  # no events: the order's own figures
    ],
)
def test_v2_orders_without_events_export_what_jupiters_figures_say(state, events, kinds) -> None:
    data = spec_order()
    data.update(state=state, events=events, inputAmountUsed="0", outputAmountTotal="0", roundsFilled=0)
    data["inputAmountRemaining"] = "20000000"
    view = dca_view(data, "active" if state == "depositing" else "history")
    rows = ledger([view], {})
    assert [(r.kind, r.input.number) for r in rows] == kinds
    assert all(r.tx_id == "" for r in rows)
