"""The screen itself, in real Chromium: nothing scrolls sideways on a phone (every timeline and the
cancel requests reflow into labelled rows, figures never overlap), the focus lands on what changed
after each step with a polite live region saying it, buttons are named with their order's pair,
and each token shows its mint (copyable) and Jupiter's "unverified" flag."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from solders.keypair import Keypair

from dashboard.models import CancelAttempt
from dashboard.sandbox import control, tokens, trigger_seed
from tests.browser.flows import active_element, known_order, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

# Every element's right edge within the viewport (a few px of rounding allowed), and the page no wider.
TOO_WIDE = """() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > window.innerWidth + 1)
    .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""
# Pairs of figures on one card whose boxes overlap.
OVERLAPS = """() => {
    const found = [];
    for (const list of document.querySelectorAll('.figures, .value-figures')) {
        const boxes = [...list.children].map((c) => [c.textContent.trim(), c.getBoundingClientRect()]);
        boxes.forEach(([a, r], i) => boxes.slice(i + 1).forEach(([b, s]) => {
            const across = r.left < s.right - 1 && s.left < r.right - 1;
            if (across && r.top < s.bottom - 1 && s.top < r.bottom - 1) found.push([a, b]);
        }));
        for (const dd of list.querySelectorAll('dd')) {
            if (dd.scrollWidth > dd.clientWidth + 1) found.push([dd.textContent.trim(), 'wider than its box']);
        }
    }
    return found;
}"""
LABELS = """(table) => [...table.querySelector('tbody tr:has(td)').querySelectorAll('td')]
    .map((td) => getComputedStyle(td, '::before').content)"""


def connect(page) -> None:
    page.get_by_role("button", name="Show my DCA orders").click()
    expect(page.locator("#active-panel [data-system='v2']").first).to_be_visible()


def v2_card(page, wallet: str, name: str):
    return page.locator(f'#active-panel [data-order="{trigger_seed.order_id(wallet, name)}"]')


# --- 375 px: nothing sideways, every column shown, figures never overlap --------------------------


def test_nothing_is_wider_than_a_phone_with_every_timeline_open(page, live_server, install_wallet):
    page.set_viewport_size({"width": 375, "height": 800})
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=4, history=3)  # Bonk amounts among them
    for n in range(3):
        CancelAttempt.objects.create(
            wallet=wallet.address,
            order_key=str(Keypair().pubkey()),
            request_id=f"r{n}",
            message=b"m",
            issued_at=timezone.now(),
            state=CancelAttempt.State.FAILED,
            outcome="Your wallet does not have enough SOL for the network fee. Add a little SOL and try again.",
        )
    sign_in(page, live_server, wallet.name)
    connect(page)
    page.get_by_role("link", name="Show history").click()
    expect(page.locator("#history-panel [data-order]").first).to_be_visible()
    for summary in page.locator("[data-order] .fills summary").all():
        summary.click()
    for summary in page.locator("[data-order] details.mint summary").all():
        summary.click()
    timelines = page.locator("table.timeline")
    expect(timelines).to_have_count(page.locator("[data-order] .fills").count())
    expect(page.locator("#attempts-panel table.attempts tr[data-attempt]")).to_have_count(3)

    assert page.evaluate(TOO_WIDE) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate(OVERLAPS) == []
    # Stacked rows: each cell shows its column's name, so no column is out of sight.
    labels = page.evaluate(LABELS, timelines.first.element_handle())
    assert labels[:2] == ['"When"', '"What happened"']
    assert page.evaluate(LABELS, page.locator("table.attempts").element_handle()) == [
        '"When"',
        '"Outcome"',
        '"Transaction"',
    ]
    bonk = page.locator("#active-panel [data-order]").filter(has=page.get_by_role("heading", name="USDC to Bonk")).first
    expect(bonk.locator("table.timeline td[data-label='Price']").first).to_be_visible()
    expect(bonk.locator("table.timeline td[data-label='Transaction'] a").first).to_be_visible()

    page.set_viewport_size({"width": 1280, "height": 900})  # wide again: a table with its header row
    expect(timelines.first.locator("thead th").first).to_be_visible()
    assert page.evaluate(LABELS, timelines.first.element_handle())[0] in ("none", "normal")


# --- focus and announcements after each step ------------------------------------------------------


def test_declining_the_sign_in_keeps_the_focus_on_what_it_says(page, live_server, install_wallet):
    wallet = install_wallet(decline=True)
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name=wallet.name).click()
    status = page.locator("[data-status]")
    expect(status).to_contain_text("You declined the request in your wallet, so you are still signed out.")
    expect(status).to_be_focused()
    expect(status).to_have_attribute("aria-live", "polite")


def test_declining_and_approving_the_jupiter_connect(page, live_server, install_wallet):
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=1, history=0)
    sign_in(page, live_server, wallet.name)
    page.evaluate("window.__testWallet.mode = 'decline'")
    page.get_by_role("button", name="Show my DCA orders").click()
    status = page.locator(".dca-status")
    expect(status).to_contain_text("You declined in your wallet, so nothing was shared with Jupiter.")
    expect(status).to_be_focused()
    expect(status).to_have_attribute("aria-live", "polite")

    page.evaluate("window.__testWallet.mode = 'approve'")
    page.get_by_role("button", name="Show my DCA orders").click()
    expect(page.locator("#active-panel [data-system='v2']").first).to_be_visible()
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_have_attribute("aria-live", "polite")
    expect(outcome).not_to_be_empty()  # the server's words for a connection that worked
    expect(outcome).to_be_focused()
    expect(outcome).to_have_class("outcome success")


def test_show_history_focuses_the_list_and_says_it(page, live_server, install_wallet):
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=1, history=3)
    sign_in(page, live_server, wallet.name)
    page.get_by_role("link", name="Show history").click()
    history = page.locator("#history-panel .history-list")
    expect(history.locator("[data-order]")).to_have_count(3)
    expect(history).to_be_focused()
    expect(page.get_by_role("region", name="Order history")).to_be_visible()
    expect(page.locator("#announce")).to_have_text("History shown: 3 completed or cancelled orders.")
    expect(page.locator("#announce")).to_have_attribute("aria-live", "polite")


def test_finish_the_refund_keeps_the_focus_while_preparing_and_sending(page, live_server, install_wallet):
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=0, history=0)
    sign_in(page, live_server, wallet.name)
    connect(page)
    stopped = v2_card(page, wallet.address, "withdrawing")
    page.evaluate("window.__testWallet.mode = 'hold'")  # the wallet waits, like a popup being read
    stopped.get_by_role("button", name="Finish the refund").click()
    status = stopped.locator(".finish .cancel-status")
    expect(status).not_to_be_empty()
    expect(status).to_be_focused()  # not the top of the page
    assert active_element(page)["className"].startswith("cancel-status")
    page.evaluate("window.__testWallet.asked('signTransaction')")  # the refund was checked and shown
    page.evaluate("window.__testWallet.answer(true)")
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_have_class("outcome success", timeout=20_000)  # the refund went through
    expect(outcome).to_be_focused()  # and it is said there
    assert control.get_dca_order(trigger_seed.order_id(wallet.address, "withdrawing"))["state"] == "cancelled"


# --- buttons named with their order ----------------------------------------------------------------


def test_cancel_and_finish_buttons_are_named_with_the_pair(page, live_server, install_wallet):
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    connect(page)
    named = "Cancel this order: USDC → SOL, 50 USDC every day"
    v1 = page.locator(f'[data-order="{key}"]').get_by_role("button", name=named, exact=True)
    expect(v1).to_have_text("Cancel this order")  # the words on the button start its name
    # The v1 order and the seeded v2 "active" order share pair and schedule: both buttons say so.
    expect(page.get_by_role("button", name=named, exact=True)).to_have_count(2)
    finish = page.get_by_role("button", name="Finish the refund: USDC → $WIF, 50 USDC every day", exact=True)
    expect(finish).to_have_count(1)
    names = page.locator("#active-panel button.danger").evaluate_all(
        "(bs) => bs.map((b) => b.getAttribute('aria-label'))"
    )
    assert names and all(n.startswith("Cancel this order: ") and " → " in n for n in names)


# --- token identity ------------------------------------------------------------------------------


def test_a_look_alike_token_is_marked_and_its_mint_can_be_copied(page, live_server, install_wallet):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=1, history=0)
    sign_in(page, live_server, wallet.name)
    connect(page)
    fake = v2_card(page, wallet.address, "withdrawing")
    mark = fake.locator(".pair .unverified")
    expect(mark).to_have_text("unverified token")
    expect(mark).to_be_visible()
    expect(page.locator("#active-panel .pair .unverified")).to_have_count(1)  # the real tokens are verified
    symbol = fake.locator(".pair .symbol").nth(1)
    expect(symbol).to_have_attribute("title", f"Mint {tokens.FAKE_WIF}")  # the tooltip

    mint = fake.locator("details.mint").nth(1)
    mint.locator("summary").click()  # the tap
    expect(mint.locator(".mint-address")).to_have_text(tokens.FAKE_WIF)
    expect(mint).to_contain_text("Jupiter has not verified this token")
    expect(mint.get_by_role("link", name="Token page on Solscan")).to_have_attribute(
        "href", f"https://solscan.io/account/{tokens.FAKE_WIF}"
    )
    mint.get_by_role("button", name="Copy address").click()
    expect(page.locator("#announce")).to_have_text("$WIF mint address copied.")
    assert page.evaluate("navigator.clipboard.readText()") == tokens.FAKE_WIF
    for width, height in ((1280, 900), (375, 800)):  # `make screenshots`: the README's picture
        page.set_viewport_size({"width": width, "height": height})
        fake.evaluate("(el) => el.scrollIntoView({block: 'start'})")
        screenshot(page, f"token-identity-{width}.png")
