"""Every screen of the journey, as a newcomer sees it in sandbox mode with the sandbox wallet and its
approval sheet: axe finds no serious or critical problem (contrast included) on any state of the
cancel flow, and `make screenshots` (SCREENSHOTS_DIR=docs) saves each state at 1280 and 375 px for
the README."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from dashboard.sandbox import control
from dashboard.sandbox.models import SandboxOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

SANDBOX_WALLET = "Sandbox wallet — simulated, no real funds"
WIDTHS = ((1280, 900), (375, 800))


def shoot(page, name: str, focus=None, *, full_page: bool = False, block: str = "center") -> None:
    """`name-1280.png` and `name-375.png` in SCREENSHOTS_DIR, with `focus` scrolled into view
    (its centre in the middle of the screen, or its top at the top with block="start")."""
    folder = os.environ.get("SCREENSHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        if focus is not None:
            focus.evaluate("(el, block) => el.scrollIntoView({block})", block)
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"), full_page=full_page)
    page.set_viewport_size({"width": WIDTHS[0][0], "height": WIDTHS[0][1]})


class Audit:
    """axe on the page as it is now; every serious or critical violation, by state."""

    def __init__(self) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.found: dict[str, list] = {}

    def check(self, page, state: str) -> None:
        for width, height in WIDTHS:  # both layouts: contrast and sizes can differ
            page.set_viewport_size({"width": width, "height": height})
            violations = self.axe.run(page).response["violations"]
            serious = [
                (v["id"], v["help"], [n["target"] for n in v["nodes"]])
                for v in violations
                if v["impact"] in ("serious", "critical")
            ]
            if serious:
                self.found[f"{state} at {width}px"] = serious
        page.set_viewport_size({"width": WIDTHS[0][0], "height": WIDTHS[0][1]})


def sheet(page, title: str):
    dialog = page.get_by_role("dialog", name=title)
    expect(dialog).to_be_visible()
    return dialog


def test_every_state_of_the_journey(page, live_server, settings):
    settings.JUPITER_TIMEOUT_SECONDS = 1.0
    audit = Audit()
    # A trader in Paris: every time on the page reads in their zone ("14:05 CET").
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": "Europe/Paris"})
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    audit.check(page, "home")
    shoot(page, "home")

    # Sign-in: the sandbox wallet asks on its approval sheet.
    page.get_by_role("button", name=SANDBOX_WALLET).click()
    signing_in = sheet(page, f"Sign in to {live_server.url.removeprefix('http://')}")
    audit.check(page, "sign-in sheet")
    shoot(page, "sign-in-sheet")
    signing_in.get_by_role("button", name="Approve").click()
    page.wait_for_url(live_server.url + "/orders/")
    wallet = User.objects.get().username

    cards = page.locator("#active-panel [data-order]")
    expect(cards).to_have_count(4)  # the sandbox's default orders for a new wallet
    audit.check(page, "dashboard")
    shoot(page, "dashboard", full_page=True)

    card = cards.nth(2)  # part-way through, with buys to show
    card.locator(".fills summary").click()
    expect(card.locator("table.timeline")).to_be_visible()
    audit.check(page, "timeline")
    shoot(page, "timeline", card)
    card.locator(".fills summary").click()

    page.get_by_role("link", name="Show history").click()
    expect(page.locator("#history-panel [data-order]")).to_have_count(3)
    audit.check(page, "history")
    shoot(page, "history", page.locator("#history-panel").locator("xpath=.."), block="start")

    # 1. The confirmation (of an order part-way through: deposit left and tokens bought).
    card = cards.filter(has=page.get_by_role("heading", name="USDC to JUP"))
    key = card.get_attribute("data-order")
    card.get_by_role("button", name="Cancel this order").click()
    confirm = card.locator(".confirm")
    expect(confirm).to_be_focused()
    audit.check(page, "confirmation")
    shoot(page, "cancel-1-confirm", confirm)

    # 2. Approving in the wallet: the page says so while the sheet asks.
    confirm.get_by_role("button", name="Confirm cancel").click()
    approving = sheet(page, "Approve a transaction")
    expect(approving).to_contain_text(f"Close DCA order {key[:4]}…{key[-4:]}")
    expect(approving).to_contain_text("Network fee ≈ 0.000005 SOL + priority fee ≈")
    expect(confirm.locator(".cancel-status")).to_have_text("Approve in your wallet…")
    audit.check(page, "approving in the wallet")
    shoot(page, "cancel-2-approve", confirm)

    # 3. Declined.
    approving.get_by_role("button", name="Decline").click()
    status = confirm.locator(".cancel-status")
    expect(status).to_contain_text("You declined in your wallet")
    audit.check(page, "declined")
    shoot(page, "cancel-3-declined", confirm)

    # 4. Failed: not enough SOL for the fee.
    control.inject_fault("execute", "insufficient_funds")
    confirm.get_by_role("button", name="Confirm cancel").click()
    sheet(page, "Approve a transaction").get_by_role("button", name="Approve").click()
    expect(status).to_contain_text("does not have enough SOL")
    audit.check(page, "failed")
    shoot(page, "cancel-4-failed", confirm)

    # 5. Sent, but Jupiter's answer is lost: still confirming; then settled as cancelled.
    control.inject_fault("execute", "timeout", seconds=2)
    confirm.get_by_role("button", name="Try again").click()
    sheet(page, "Approve a transaction").get_by_role("button", name="Approve").click()
    expect(status).to_contain_text("Still confirming")
    audit.check(page, "still confirming")
    shoot(page, "cancel-5-pending", confirm)

    # 6. Cancelled: the message names the order, in view and focused, above the list.
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_contain_text("Order cancelled.", timeout=20_000)
    expect(outcome).to_be_focused()
    expect(page.locator(f'#active-panel [data-order="{key}"]')).to_have_count(0)
    expect(page.locator(f'#history-panel [data-order="{key}"]')).to_contain_text("Cancelled by you")
    audit.check(page, "cancelled")
    shoot(page, "cancel-6-cancelled", outcome)

    # 7. Closed elsewhere while the box was open: said plainly, and the list refreshes.
    card = cards.first
    other = card.get_attribute("data-order")
    card.get_by_role("button", name="Cancel this order").click()
    expect(card.locator(".confirm")).to_be_focused()
    SandboxOrder.objects.filter(order_key=other).update(status="history", user_closed=True, close_tx="1" * 64)
    card.locator(".confirm").get_by_role("button", name="Confirm cancel").click()
    expect(outcome).to_contain_text("already closed")
    expect(page.locator(f'#active-panel [data-order="{other}"]')).to_have_count(0)
    audit.check(page, "already closed")
    shoot(page, "cancel-7-already-closed", outcome)
    page.errors[:] = [(text, url) for text, url in page.errors if "409 (Conflict)" not in text]

    # The cancel requests, by order.
    requests = page.locator("#attempts-panel")
    expect(requests.locator("tr[data-attempt]")).to_have_count(3)
    audit.check(page, "cancel requests")
    shoot(page, "cancel-requests", requests.locator("xpath=.."), block="start")

    assert control.count_calls("execute", user=wallet) == 2
    assert not audit.found, audit.found
