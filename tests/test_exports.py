"""The exports for taxes through the view, against the sandbox over real HTTP: each format parsed
back and held to the seeded orders (both systems, active and closed) and to the figures the screen
shows; the year filter; refusals; the limit."""

from __future__ import annotations

import base64
import csv
import io
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


def test_the_plain_file_balances_with_the_screen(trader, wallet, both):
    """Per order: what was spent, bought and paid in fees adds up to the figures on the screen, and
    deposit − fills − refunds is what the order still holds (zero once closed), to the base unit."""
    screen = {}
    for status in ("active", "history"):
        for view in trader.get(f"/orders/{status}", **HTMX).context_data["orders"]:
            screen[view.order_key] = view
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
        for row in mine:  # dates in the stated format, system as on the screen
            datetime.strptime(row[DATE], "%Y-%m-%d %H:%M:%S")
            assert row["system"] == view.system.label


def test_the_year_filter_includes_exactly_that_years_rows(trader, wallet, both):
    _, text = download(trader)
    every = parse(text)
    years = {row[DATE][:4] for row in every}
    for year in years:
        _, text = download(trader, year=year)
        assert parse(text) == [row for row in every if row[DATE].startswith(f"{year}-")]
    response, text = download(trader, year="2023")
    if "2023" not in years:
        assert parse(text) == []
    assert "-csv-2023-" in response["Content-Disposition"]


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
