"""The orders dashboard in real Chromium: figures, history, export, refresh, outages."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from dashboard.sandbox import control
from tests.browser.flows import known_order, screenshot, sign_in

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
    expect(card.locator("dd").nth(3)).to_have_text("1 SOL ≈ 169.49 USDC")
    expect(card).to_contain_text("an estimate")
    expect(card.get_by_role("link", name="Order account on Solscan")).to_have_attribute(
        "href", f"https://solscan.io/account/{key}"
    )
    card.get_by_text("2 fills").click()
    expect(card.locator("tbody tr")).to_have_count(2)
    expect(card.locator("tbody tr").first).to_contain_text("50 USDC → 0.3 SOL")


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
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "history-1280.png", full_page=True)


def test_export_csv(page, live_server, install_wallet):
    wallet = install_wallet()
    known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download all fills (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["in_amount"], r["in_token"], r["out_amount"], r["out_token"]) for r in rows] == [
        ("50", "USDC", "0.29", "SOL"),
        ("50", "USDC", "0.3", "SOL"),
    ]
    assert rows[0]["fee_amount"] == "0.00029"


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
    expect(page.locator(".status.stale")).to_contain_text("as of")
    expect(page.locator(".status.stale")).to_contain_text("Jupiter")
    expect(page.locator(f'[data-order="{key}"]')).to_be_visible()


def test_empty_wallet(page, live_server, install_wallet):
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=0, history=0)
    sign_in(page, live_server, wallet.name)
    expect(page.locator("#active-panel")).to_contain_text("No recurring orders yet")


def test_accessibility_and_screenshots(page, live_server, install_wallet):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    wallet = install_wallet()
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    home = axe.run(page)
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "home-1280.png")
    known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    expect(page.locator("#active-panel [data-order]")).to_have_count(1)
    dashboard = axe.run(page)
    for result in (home, dashboard):
        serious = [v for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not serious, [(v["id"], v["help"]) for v in serious]
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "dashboard-1280.png", full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "dashboard-375.png", full_page=True)
