"""The exports for taxes through the view, against the sandbox over real HTTP: each format parsed
back and held to the seeded orders (both systems, active and closed) and to the figures the screen
shows; the year filter; refusals; the limit."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from solders.keypair import Keypair

from dashboard import exports
from dashboard.models import TrackedOrder
from dashboard.sandbox import control, tokens

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

HTMX = {"HTTP_HX_REQUEST": "true"}
DATE = "date (UTC, YYYY-MM-DD HH:MM:SS)"


@pytest.fixture
def keypair() -> Keypair:
    return Keypair()


@pytest.fixture
def wallet(keypair) -> str:
    return str(keypair.pubkey())


@pytest.fixture
def trader(client, wallet):
    client.force_login(get_user_model().objects.create_user(username=wallet))
    return client


def connect(trader, keypair) -> None:
    text = trader.post("/orders/dca/challenge", {"type": "message"}, content_type="application/json")
    message = text.json()["challenge"].encode()
    answer = trader.post(
        "/orders/dca/verify",
        {
            "type": "message",
            "signedMessage": base64.b64encode(message).decode(),
            "signature": base64.b64encode(bytes(keypair.sign_message(message))).decode(),
        },
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content


def download(trader, **query) -> tuple[object, str]:
    response = trader.get("/orders/export.csv", query)
    assert response.status_code == 200, response
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())  # UTF-8 with a byte order mark
    return response, raw.decode("utf-8-sig")


def parse(text: str, fmt: str = exports.PLAIN) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=";" if fmt == exports.PLAIN_SEMICOLON else ","))


def seeded_fills(wallet: str, v1_keys: list[str]) -> set[str]:
    """Every fill's signature the sandbox holds for this wallet, v1 and v2."""
    v1 = {t["txId"] for key in v1_keys for t in control.get_order(key)["trades"] if t["action"] == "Fill"}
    v2 = {
        e["txSignature"]
        for seeded in control.seed_dca_wallet(wallet)
        for e in control.get_dca_order(seeded["id"])["events"]
        if e["type"] == "fill" and e["state"] == "success"
    }
    return v1 | v2


@pytest.fixture
def both(trader, keypair, wallet) -> set[str]:
    """A wallet with v1 orders (2 active, 3 closed) and the standard v2 orders, connected; the
    signatures of all their fills."""
    keys = control.seed_wallet(wallet, active=2, history=3)
    connect(trader, keypair)
    return seeded_fills(wallet, keys)


@pytest.mark.parametrize(
    ("fmt", "tx_column", "is_fill"),
    [
        (exports.PLAIN, "signature", lambda r: r["kind"] == "fill"),
        (exports.PLAIN_SEMICOLON, "signature", lambda r: r["kind"] == "fill"),
        (exports.KOINLY, "TxHash", lambda r: r["Sent Amount"] != "" and r["Received Amount"] != ""),
        (exports.COINTRACKER, None, lambda r: r["Sent Quantity"] != "" and r["Received Quantity"] != ""),
    ],
)
def test_every_fill_of_both_systems_appears_once_in_every_format(trader, wallet, both, fmt, tx_column, is_fill):
    response, text = download(trader, format=fmt)
    assert f"-{fmt}-all-years-" in response["Content-Disposition"] and wallet[:8] in response["Content-Disposition"]
    rows = parse(text, fmt)
    fills = [r for r in rows if is_fill(r)]
    assert len(fills) == len(both)
    if tx_column:
        assert sorted(r[tx_column] for r in fills) == sorted(both)  # each once


def on_screen(trader) -> dict:
    screen = {}
    for status in ("active", "history"):
        for view in trader.get(f"/orders/{status}", **HTMX).context_data["orders"]:
            screen[view.order_key] = view
    return screen


def test_the_plain_file_balances_with_the_screen(trader, wallet, both):
    """Per order: what was spent, bought and paid in fees adds up to the figures on the screen;
    deposit − fills − refunds is what the order still holds of its input (zero once closed), and
    bought − withdrawn what it still holds of what it bought, to the base unit."""
    screen = on_screen(trader)
    _, text = download(trader)
    rows = parse(text)
    in_file = {r["order"] for r in rows}
    assert {k for k, v in screen.items() if v.fills} <= in_file <= set(screen)
    # an order whose deposit never landed (starting, or failed) has nothing to export
    assert set(screen) - in_file == {
        k for k, v in screen.items() if v.dca and v.dca.state in ("depositing", "deposit_failed")
    }
    for key, view in screen.items():
        mine = [r for r in rows if r["order"] == key]
        fills = [r for r in mine if r["kind"] == "fill"]
        decimals = view.input_token.decimals

        units = {
            kind: sum(int(Decimal(r["in_amount"]).scaleb(decimals)) for r in mine if r["kind"] == kind)
            for kind in ("deposit", "fill", "refund")
        }

        if view.funds.spent is not None:
            assert sum(Decimal(r["in_amount"]) for r in fills) == view.funds.spent.value, key
        if view.funds.received is not None:
            assert sum(Decimal(r["out_amount"]) for r in fills) == view.funds.received.value, key
        known_fees = [f.fee.value for f in view.fills if f.fee is not None]
        assert sum(Decimal(r["fee_amount"]) for r in fills if r["fee_amount"] != "unknown") == sum(known_fees)
        assert sum(r["fee_amount"] == "unknown" for r in fills) == sum(f.fee is None for f in view.fills)
        landed = not (view.dca and view.dca.state in ("depositing", "deposit_failed"))
        if landed and None not in (view.funds.deposited, view.funds.remaining, view.funds.spent):
            held = int(view.funds.remaining.value.scaleb(decimals)) if view.is_active else 0
            assert units["deposit"] - units["fill"] - units["refund"] == held, key
        out_decimals = view.output_token.decimals
        bought = sum(int(Decimal(r["out_amount"]).scaleb(out_decimals)) for r in fills)
        withdrawn = sum(int(Decimal(r["out_amount"]).scaleb(out_decimals)) for r in mine if r["kind"] == "withdrawal")
        assert bought - withdrawn == int(view.funds.unwithdrawn_out.value.scaleb(out_decimals)), key
        if not view.is_active or view.system == TrackedOrder.System.DCA:
            assert bought == withdrawn, key  # closed, or a v2 round: everything bought is in the wallet
        if view.system == TrackedOrder.System.DCA:  # each round's output, sent on in its own transaction
            assert [r["signature"] for r in mine if r["kind"] == "withdrawal"] == [r["signature"] for r in fills]
        assert all(r["fee_token"] in ("", r["out_token"]) for r in mine), key  # only Jupiter's fee, in what it bought
        for row in mine:  # dates in the stated format, system as on the screen
            datetime.strptime(row[DATE], "%Y-%m-%d %H:%M:%S")
            assert row["system"] == view.system.label


def test_the_tax_tools_files_leave_every_order_holding_what_it_holds(trader, wallet, both):
    """Koinly's file, read back order by order (the order is in each row's description), and
    CoinTracker's, read back whole (it has no room for the order): received − sent − fee per
    currency is what the orders still hold, in each token, to the base unit; no SOL fee on the
    orders' rows unless an order buys SOL."""
    screen = on_screen(trader)
    expected: dict[str, dict[str, Decimal]] = {}
    for key, view in screen.items():
        held = expected.setdefault(key, {})
        if view.is_active and view.funds.remaining is not None:
            held[exports.currency(view.input_token)] = view.funds.remaining.value
        if view.funds.unwithdrawn_out is not None:
            out = exports.currency(view.output_token)
            held[out] = held.get(out, Decimal(0)) + view.funds.unwithdrawn_out.value
    _, text = download(trader, format=exports.KOINLY)
    koinly: dict[str, dict[str, Decimal]] = {}
    for row in parse(text):
        key = re.search(r"Jupiter order (\S+) \(", row["Description"]).group(1)
        view = screen[key]
        assert row["Fee Currency"] in ("", exports.currency(view.output_token)), key
        held = koinly.setdefault(key, {})
        for currency, amount in (
            (row["Received Currency"], row["Received Amount"]),
            (row["Sent Currency"], f"-{row['Sent Amount']}"),
            (row["Fee Currency"], f"-{row['Fee Amount']}"),
        ):
            if currency:
                held[currency] = held.get(currency, Decimal(0)) + Decimal(amount)
    landed = {k for k, v in screen.items() if not (v.dca and v.dca.state in ("depositing", "deposit_failed"))}
    for key in landed:
        assert {c: a for c, a in koinly.get(key, {}).items() if a} == {c: a for c, a in expected[key].items() if a}, key

    _, text = download(trader, format=exports.COINTRACKER)
    whole: dict[str, Decimal] = {}
    for row in parse(text, exports.COINTRACKER):
        for currency, amount in (
            (row["Received Currency"], row["Received Quantity"]),
            (row["Sent Currency"], f"-{row['Sent Quantity']}"),
            (row["Fee Currency"], f"-{row['Fee Amount']}"),
        ):
            if currency:
                whole[currency] = whole.get(currency, Decimal(0)) + Decimal(amount)
    total: dict[str, Decimal] = {}
    for key in landed:
        for currency, amount in expected[key].items():
            total[currency] = total.get(currency, Decimal(0)) + amount
    assert {c: a for c, a in whole.items() if a} == {c: a for c, a in total.items() if a}


def test_the_year_filter_includes_exactly_that_years_rows(trader, wallet, both):
    _, text = download(trader)
    every = parse(text)
    years = {row[DATE][:4] for row in every}
    for year in years:
        _, text = download(trader, year=year)
        assert parse(text) == [row for row in every if row[DATE].startswith(f"{year}-")]


def test_a_year_without_rows_is_said_not_downloaded_empty(trader, wallet, both):
    _, text = download(trader)
    years = sorted({row[DATE][:4] for row in parse(text)}, reverse=True)
    empty = next(str(y) for y in range(int(years[0]), 2022, -1) if str(y) not in years)
    response = trader.get("/orders/export.csv", {"year": empty, "format": exports.KOINLY})
    assert response.status_code == 200 and "text/html" in response["Content-Type"]
    assert response.template_name == "orders/export_empty.html"
    assert response.context_data["years"] == [int(y) for y in years]
    page = response.content.decode()
    assert 'data-code="export_year_empty"' in page
    for year in years:  # a download for each year that has rows, in the chosen format
        assert f"?format=koinly&amp;year={year}" in page


def test_usd_value_only_where_a_side_is_a_usd_stablecoin(trader, wallet, both):
    _, text = download(trader)
    for row in parse(text):
        stable = {row["in_mint"], row["out_mint"]} & set(exports.USD_STABLECOINS)
        if not stable:
            assert row["value_usd_at_the_time"] == ""
        elif row["in_mint"] in exports.USD_STABLECOINS:
            assert row["value_usd_at_the_time"] == row["in_amount"]
        else:
            assert row["value_usd_at_the_time"] == row["out_amount"]
    assert any(row["in_mint"] == tokens.PYUSD and row["value_usd_at_the_time"] for row in parse(text))


@pytest.mark.parametrize(
    ("query", "words"),
    [({"format": "excel"}, "We do not offer that export format."), ({"year": "1999"}, "Choose a year")],
)
def test_bad_choices_are_refused_plainly_and_ask_jupiter_nothing(trader, wallet, query, words):
    control.seed_wallet(wallet, active=1, history=1)
    response = trader.get("/orders/export.csv", query)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert control.count_calls("getRecurringOrders") == 0


def test_the_limit_starving_an_export_with_nothing_known_answers_429_with_retry_after(trader, wallet):
    control.seed_wallet(wallet, active=1, history=1)
    control.inject_fault("getRecurringOrders", "429", times=50)
    response = trader.get("/orders/export.csv")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "text/csv" not in response["Content-Type"]


def test_jupiter_down_with_nothing_known_is_503(trader, wallet):
    control.seed_wallet(wallet, active=1, history=1)
    control.inject_fault("getRecurringOrders", "500", times=50)
    assert trader.get("/orders/export.csv").status_code == 503


def test_last_known_data_says_so_in_the_name_and_the_plain_files_first_line(trader, wallet):
    keys = control.seed_wallet(wallet, active=2, history=1)
    trader.get("/orders/active", **HTMX)
    trader.get("/orders/history", **HTMX)  # both lists seen
    cache.clear()
    control.inject_fault("getRecurringOrders", "500", times=50)
    response, text = download(trader)
    assert "-last-known-as-of-" in response["Content-Disposition"]
    note, body = text.split("\r\n", 1)
    assert note.startswith("# Last-known orders as of ") and "Jupiter is not answering right now" in note
    fills = [r for r in parse(body) if r["kind"] == "fill"]
    assert {r["signature"] for r in fills} == seeded_fills_v1(keys)
    response, text = download(trader, format=exports.KOINLY)
    assert "-last-known-as-of-" in response["Content-Disposition"]
    assert text.startswith("Date,Sent Amount,")  # Koinly reads the first line as its header


def seeded_fills_v1(keys: list[str]) -> set[str]:
    return {t["txId"] for key in keys for t in control.get_order(key)["trades"] if t["action"] == "Fill"}


def test_an_export_reads_every_page_of_both_lists(trader, wallet):
    control.seed_wallet(wallet, active=3, history=25)  # history: 3 pages
    _, text = download(trader)
    assert control.count_calls("getRecurringOrders") == 4  # active: 1 page; history: 3
    assert len({r["order"] for r in parse(text)}) == 28
    assert TrackedOrder.objects.filter(wallet=wallet).count() == 28
