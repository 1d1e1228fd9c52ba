"""The orders dashboard in real Chromium: figures, history, export, refresh, outages."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from dashboard.models import CancelAttempt
from dashboard.sandbox import control
from tests.browser.flows import known_order, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]


def test_active_orders_show_the_right_figures(page, live_server, install_wallet):
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    card = page.locator(f'[data-order="{key}"]')
    expect(card).to_be_visible()
    expect(card.get_by_role("heading")).to_contain_text("USDC")
    expect(card.get_by_role("heading")).to_contain_text("SOL")
    expect(card).to_contain_text("50 USDC every day")
    expect(card).to_contain_text("2 of 6 buys done (33%)")
    expect(card.locator("dd").nth(0)).to_have_text("100 USDC")
    expect(card.locator("dd").nth(1)).to_have_text("200 USDC")
    expect(card.locator("dd").nth(2)).to_have_text("0.59 SOL")
    expect(card.locator(".figures dd").nth(3)).to_have_text("1 SOL ≈ 169.49 USDC · now 150.28 USDC")
    expect(card).to_contain_text("estimates")
    expect(card.get_by_role("link", name="Order account on Solscan")).to_have_attribute(
        "href", f"https://solscan.io/account/{key}"
    )
    card.get_by_text("Timeline of this order (2 buys)").click()
    rows = card.locator("tbody tr")
    expect(rows).to_have_count(3)  # created, and two buys
    expect(rows.nth(0)).to_contain_text("Bought 0.3 SOL for 50 USDC")
    expect(rows.nth(2)).to_contain_text("Order created: 300 USDC deposited, 50 USDC every day")


def test_history_loads_only_when_asked(page, live_server, install_wallet):
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=2, history=3)
    sign_in(page, live_server, wallet.name)
    expect(page.locator("#active-panel [data-order]")).to_have_count(2)
    assert control.count_calls("getRecurringOrders") == 1
    page.get_by_role("link", name="Show history").click()
    expect(page.locator("#history-panel [data-order]")).to_have_count(3)
    expect(page.locator("#history-panel")).to_contain_text("Cancelled by you")
    assert control.count_calls("getRecurringOrders") == 2


def test_export_csv(page, live_server, install_wallet):
    wallet = install_wallet()
    known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download everything, all years (CSV)").click()
    assert download.value.suggested_filename.startswith(f"jupiter-dca-{wallet.address[:8]}-csv-all-years-")
    raw = Path(download.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheet programs read "→" right
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["kind"], r["in_amount"], r["in_token"], r["out_amount"], r["out_token"]) for r in rows] == [
        ("deposit", "300", "USDC", "", ""),
        ("fill", "50", "USDC", "0.29", "SOL"),
        ("fill", "50", "USDC", "0.3", "SOL"),
    ]
    assert rows[1]["fee_amount"] == "0.00029"
    datetime.strptime(rows[1]["date (UTC, YYYY-MM-DD HH:MM:SS)"], "%Y-%m-%d %H:%M:%S")
    assert [r["price (in price_unit)"] for r in rows[1:]] == ["172.413793103", "166.666666667"]
    assert {r["price_unit"] for r in rows[1:]} == {"USDC per 1 SOL"}  # as the screen reads it
    assert rows[0]["pair"] == "USDC → SOL"


@pytest.mark.parametrize(
    ("label", "fmt", "header"),
    [
        ("Koinly (universal template)", "koinly", "Date,Sent Amount,Sent Currency,Received Amount"),
        ("CoinTracker", "cointracker", "Date,Received Quantity,Received Currency,Sent Quantity"),
        ("Plain CSV for Excel in Germany", "csv-semicolon", "kind;date (UTC, YYYY-MM-DD HH:MM:SS);pair"),
    ],
)
def test_download_for_taxes_in_each_format(page, live_server, install_wallet, label, fmt, header):
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    form = page.get_by_role("form", name="Download for taxes")
    option = form.get_by_label("Format").locator("option", has_text=label)
    form.get_by_label("Format").select_option(option.get_attribute("value"))
    year = form.get_by_label("Tax year").locator("option").nth(1).get_attribute("value")  # the newest year
    form.get_by_label("Tax year").select_option(year)
    with page.expect_download() as download:
        form.get_by_role("button", name="Download for taxes").click()
    assert download.value.suggested_filename.startswith(f"jupiter-dca-{wallet.address[:8]}-{fmt}-{year}-")
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert text.startswith(header)
    order = control.get_order(key)
    moments = [order["createdAt"], *(t["confirmedAt"] for t in order["trades"])]  # the deposit and two fills
    assert len(text.splitlines()) - 1 == sum(moment.startswith(year) for moment in moments)


def test_refresh_reloads_the_panel(page, live_server, install_wallet):
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=1, history=0)
    sign_in(page, live_server, wallet.name)
    expect(page.locator("#active-panel [data-order]")).to_have_count(1)
    control.seed_wallet(wallet.address, active=3, history=0)
    cache.clear()
    page.get_by_role("link", name="Refresh").click()
    expect(page.locator("#active-panel [data-order]")).to_have_count(3)


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_upstream_trouble_shows_last_known_data(page, live_server, install_wallet, fault, settings):
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    expect(page.locator(f'[data-order="{key}"]')).to_be_visible()
    cache.clear()
    if fault == "timeout":
        settings.JUPITER_TIMEOUT_SECONDS = 1.0
        control.inject_fault("getRecurringOrders", "timeout", times=5, seconds=2)
    else:
        control.inject_fault("getRecurringOrders", fault, times=20)
    page.get_by_role("link", name="Refresh").click()
    expect(page.locator(".status.stale")).to_contain_text("Showing what we last saw just now")  # not "0 minutes ago"
    expect(page.locator(".status.stale")).to_contain_text("Jupiter")
    expect(page.locator(f'[data-order="{key}"]')).to_be_visible()


def test_empty_wallet(page, live_server, install_wallet):
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=0, history=0)
    sign_in(page, live_server, wallet.name)
    expect(page.locator("#active-panel")).to_contain_text("No recurring orders yet")


def test_accessibility_and_phone_width(page, live_server, install_wallet):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    wallet = install_wallet()
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    home = axe.run(page)
    known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    expect(page.locator("#active-panel [data-order]")).to_have_count(1)
    dashboard = axe.run(page)
    for result in (home, dashboard):
        serious = [v for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not serious, [(v["id"], v["help"]) for v in serious]
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


BROKEN_WORDS = """(selector) => {
    const broken = [];
    for (const cell of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const m of node.textContent.matchAll(/\\S+/g)) {
                const range = document.createRange();
                range.setStart(node, m.index);
                range.setEnd(node, m.index + m[0].length);
                const rects = [...range.getClientRects()].filter((r) => r.width > 0);
                const lines = new Set(rects.map((r) => Math.round(r.top)));
                if (lines.size > 1) broken.push(m[0]);
            }
        }
    }
    return broken;
}"""


def test_no_table_cell_breaks_inside_a_number_or_word_at_375(page, live_server, install_wallet):
    page.set_viewport_size({"width": 375, "height": 800})
    wallet = install_wallet()
    keys = control.seed_wallet(wallet.address, active=4, history=0)  # includes USDC → BONK
    for n, key in enumerate(keys[:2]):  # cancel requests to list, one order named twice
        for attempt in range(2 - n):
            CancelAttempt.objects.create(
                wallet=wallet.address,
                order_key=key,
                request_id=f"r{n}{attempt}",
                message=b"m",
                issued_at=timezone.now(),
                state=CancelAttempt.State.FAILED,
                outcome="Your wallet does not have enough SOL for the network fee. Add a little SOL and try again.",
            )
    sign_in(page, live_server, wallet.name)
    cards = page.locator("#active-panel [data-order]")
    expect(cards).to_have_count(4)
    summaries = page.locator("#active-panel [data-order] .fills summary")
    for n in range(summaries.count()):  # every order's buys, in a table
        summaries.nth(n).click()
    expect(page.locator("#active-panel .fills-body table")).to_have_count(summaries.count())
    assert summaries.count() >= 3
    expect(page.locator("#attempts-panel table")).to_be_visible()
    cells = "#active-panel td, #active-panel th, #attempts-panel td, #attempts-panel th, .figures dd, .value dd"
    assert page.evaluate(BROKEN_WORDS, cells) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # tables scroll inside


def test_times_are_in_the_traders_time_zone(page, live_server, install_wallet):
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": "Europe/Paris"})
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    card = page.locator(f'[data-order="{key}"]')
    created = card.locator(".meta time")
    expect(created).to_have_text(re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} CES?T$"))
    iso = created.get_attribute("datetime")
    utc = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    local = utc.astimezone(ZoneInfo("Europe/Paris"))
    assert created.text_content() == f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"
    expect(created).to_have_attribute("title", re.compile(r" UTC$"))  # the UTC time stays at hand
    expect(card.locator(".next time").first).to_have_text(re.compile(r"CES?T$"))
    expect(page.locator("#active-panel .status.fresh time")).to_have_text(re.compile(r"^\d{2}:\d{2}:\d{2} CES?T$"))
    card.locator(".fills summary").click()
    expect(card.locator('table.timeline time[data-format="clock"]').first).to_have_text(
        re.compile(r"^\d{2}:\d{2} CES?T$")
    )
    expect(page.locator("#attempts-panel")).to_contain_text("No cancel requests yet")


def test_how_is_my_dca_doing_at_todays_price(page, live_server, install_wallet):
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    card = page.locator(f'[data-order="{key}"]')
    value = card.locator(".value")
    # Spent 100 USDC × $0.99982341 = $99.98; bought 0.59 SOL × $150.2541187355 = $88.6499…;
    # −$11.3324… of $99.982341 = −11.33 %.
    expect(value).to_contain_text("At today's price")
    expect(value.locator("dd")).to_have_text(["$99.98", "$88.65", "−$11.33 (−11.3%)"])
    expect(value.locator("dt").nth(2)).to_have_text("Loss")
    totals = page.locator("#active-panel .totals")
    expect(totals.get_by_role("heading")).to_have_text(
        "Your 1 older order at today's price — connect to include your newer Jupiter DCA orders"
    )
    expect(totals.locator("dd")).to_have_text(["$99.98", "$88.65", "−$11.33 (−11.3%)"])
    # When it ends: 200 USDC left at 50 a day, so 4 more buys.
    expect(card.locator(".next")).to_contain_text("last buy: about")
    expect(card.locator(".next")).to_contain_text("(4 buys left)")


def test_prices_unavailable_are_said_not_guessed(page, live_server, install_wallet):
    """The price service failing is said as such ("prices unavailable right now"), never as
    Jupiter having no price for the tokens (issue 20)."""
    wallet = install_wallet()
    key = known_order(wallet.address)
    control.inject_fault("tokens", "500", times=50)
    sign_in(page, live_server, wallet.name)
    card = page.locator(f'[data-order="{key}"]')
    expect(card.locator(".value")).to_contain_text("Prices unavailable right now, so we do not guess its value")
    expect(card.locator(".value")).not_to_contain_text("Jupiter has no price")
    expect(card.locator(".value dd")).to_have_count(0)
    expect(card.locator(".figures dd").nth(3)).to_have_text("1 SOL ≈ 169.49 USDC")  # no "now"
    expect(page.locator(".totals")).to_contain_text("Prices are unavailable right now, so no total is shown")


def test_big_amounts_are_readable_with_every_digit_in_a_tooltip(page, live_server, install_wallet):
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=4, history=0)
    sign_in(page, live_server, wallet.name)
    bonk = page.locator("#active-panel [data-order]").filter(has=page.get_by_role("heading", name="USDC to Bonk"))
    received = bonk.locator(".figures dd").nth(2).locator(".amount")
    text = received.text_content()
    assert re.fullmatch(r"[\d,]+ Bonk", text), text  # millions of Bonk: no decimals on screen
    exact = received.get_attribute("title")
    assert re.fullmatch(r"[\d,]+\.\d+ Bonk", exact), exact
    assert exact.split(".")[0] == text.split(" ")[0] or int(exact.split(".")[0].replace(",", "")) + 1 == int(
        text.split(" ")[0].replace(",", "")
    )


def test_a_periodic_refresh_keeps_the_traders_place(page, live_server, install_wallet):
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    card = page.locator(f'#active-panel [data-order="{key}"]')
    card.locator(".fills summary").click()
    expect(card.locator(".fills-body table")).to_be_visible()
    card.locator("details.mint").nth(1).locator("summary").click()  # the SOL mint, shown
    card.get_by_role("button", name="Cancel this order").focus()
    card.evaluate("(el) => { el.dataset.before = '1'; }")
    page.evaluate("window.htmx.trigger(document.body, 'refresh-orders')")  # what the 60 s timer does
    expect(card).not_to_have_attribute("data-before", "1")  # the list was replaced
    expect(card.locator("details.fills")).to_have_attribute("open", "")  # the timeline stays open
    expect(card.locator("details.mint").nth(1)).to_have_attribute("open", "")  # so does the mint shown
    expect(card.locator("details.mint").nth(0)).not_to_have_attribute("open", "")
    expect(card.locator(".fills-body table")).to_be_visible()
    expect(card.get_by_role("button", name="Cancel this order")).to_be_focused()  # and so does the focus
