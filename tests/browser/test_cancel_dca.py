"""Cancelling a Jupiter DCA (Trigger API v2) order in real Chromium with the test wallet, which
records every call: final from the first click, the refund checked before the wallet is asked,
confirmed once; declining, a running buy, a harmful refund and a lost answer."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dashboard import messages, withdrawal
from dashboard.models import CancelAttempt
from dashboard.sandbox import control, trigger_seed
from tests.browser.flows import screenshot, sign_in

CANCELLED = "Order cancelled. 350 USDC not yet spent and about 0.002 SOL of account rent are back in your wallet."
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]


def signed_transactions(page) -> int:
    return page.evaluate("window.__testWallet.calls").count("signTransaction")


def expect_refusals_logged(page, status: str) -> None:
    """The browser logs the server's refusal (an HTTP error) as a failed load; that one is expected here."""
    assert any(status in text for text, _url in page.errors), page.errors
    page.errors[:] = [(text, url) for text, url in page.errors if status not in text]


def connected(page, live_server, install_wallet, **options):
    """Signed in with no v1 orders, connected to Jupiter's DCA (its seeded v2 orders listed)."""
    wallet = install_wallet(**options)
    control.seed_wallet(wallet.address, active=0, history=0)
    sign_in(page, live_server, wallet.name)
    page.get_by_role("button", name="Show my DCA orders").click()
    expect(page.locator("#active-panel [data-system='v2']").first).to_be_visible()
    return wallet


def card(page, wallet, name: str = "active"):
    return page.locator(f'#active-panel [data-order="{trigger_seed.order_id(wallet.address, name)}"]')


def open_confirmation(page, wallet, name: str = "active"):
    order = card(page, wallet, name)
    order.get_by_role("button", name="Cancel this order").click()
    confirm = order.locator(".confirm")
    expect(confirm).to_contain_text(
        "Jupiter stops this order as soon as you confirm, even if you then decline in your wallet; "
        "the refund needs one approval."
    )
    return confirm


def test_the_whole_cancel(page, live_server, install_wallet):
    wallet = connected(page, live_server, install_wallet)
    confirm = open_confirmation(page, wallet)
    expect(confirm).to_contain_text("The remaining 7 buys stop.")
    # 350 × 0.99982341 (the sandbox's USDC price) = 349.94
    expect(confirm.locator("ul.refund li").first).to_have_text("350 USDC not yet spent ≈ $349.94")
    expect(confirm.locator(".in-wallet")).to_contain_text("Already in your wallet, and it stays there:")
    expect(confirm).to_contain_text("network fee of about 0.000015 SOL")
    assert control.count_calls("dca-cancel") == 0  # nothing asked of Jupiter yet
    page.set_viewport_size({"width": 1280, "height": 900})
    confirm.scroll_into_view_if_needed()
    screenshot(page, "dca-cancel-confirm-1280.png")
    confirm.get_by_role("button", name="Confirm cancel").click()
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_contain_text(CANCELLED)
    key = trigger_seed.order_id(wallet.address, "active")
    (refund,) = control.dca_withdrawals(key)
    expect(outcome.get_by_role("link", name="View the transaction on Solscan")).to_have_attribute(
        "href", f"https://solscan.io/tx/{refund['txSignature']}"
    )
    expect(card(page, wallet)).to_have_count(0)
    expect(page.locator("#attempts-panel")).to_contain_text("Jupiter DCA")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "dca-cancelled-1280.png")
    assert control.count_calls("dca-confirm") == 1
    assert signed_transactions(page) == 1
    assert control.get_dca_order(key)["state"] == "cancelled"


def test_declining_leaves_it_stopped_and_finish_completes_it(page, live_server, install_wallet):
    wallet = connected(page, live_server, install_wallet)
    confirm = open_confirmation(page, wallet)
    page.evaluate("window.__testWallet.decline = true")
    confirm.get_by_role("button", name="Confirm cancel").click()
    status = confirm.locator(".cancel-status")
    expect(status).to_contain_text("the refund still needs your approval")
    expect(confirm.get_by_role("button", name="Finish the refund")).to_be_enabled()
    expect(confirm.get_by_role("button", name="Keep this order")).to_be_hidden()  # it is stopped already
    key = trigger_seed.order_id(wallet.address, "active")
    assert control.get_dca_order(key)["state"] == "withdrawing"
    assert control.count_calls("dca-confirm") == 0

    page.reload()  # later, or in another tab: the card itself offers to finish
    order = card(page, wallet)
    expect(order).to_contain_text("Cancelling — the refund still needs your approval")
    page.set_viewport_size({"width": 1280, "height": 900})
    order.scroll_into_view_if_needed()
    screenshot(page, "dca-withdrawing-1280.png")
    order.get_by_role("button", name="Finish the refund").click()
    expect(page.locator("#cancel-outcome")).to_contain_text(CANCELLED)
    expect(order).to_have_count(0)
    assert control.count_calls("dca-confirm") == 1
    assert [w["confirmed"] for w in control.dca_withdrawals(key)] == [False, True]


def test_executing_says_so_and_nothing_is_signed(page, live_server, install_wallet):
    wallet = connected(page, live_server, install_wallet)
    confirm = open_confirmation(page, wallet)
    control.set_dca_state(trigger_seed.order_id(wallet.address, "active"), "executing")
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_have_text(messages.words("order_executing"))
    expect(confirm.get_by_role("button", name="Try again")).to_be_enabled()
    assert signed_transactions(page) == 0
    assert CancelAttempt.objects.count() == 0
    expect_refusals_logged(page, "502 (Bad Gateway)")


@pytest.mark.parametrize("mode", ["refund_elsewhere", "huge_fee", "lend"])
def test_a_harmful_refund_never_reaches_the_wallet(page, live_server, install_wallet, mode):
    wallet = connected(page, live_server, install_wallet)
    control.set_dca_withdrawal_mode(mode)
    confirm = open_confirmation(page, wallet)
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(page.locator("#cancel-outcome")).to_contain_text(
        messages.words("refund_refused", detail=withdrawal.UNVERIFIED)
    )
    # the order is stopped: its card now waits for a refund we can verify
    expect(card(page, wallet)).to_contain_text("Cancelling — the refund still needs your approval")
    if mode == "refund_elsewhere":
        page.set_viewport_size({"width": 1280, "height": 900})
        page.locator("#cancel-outcome").scroll_into_view_if_needed()
        screenshot(page, "dca-refund-refused-1280.png")
    assert signed_transactions(page) == 0
    assert control.count_calls("dca-confirm") == 0
    expect_refusals_logged(page, "502 (Bad Gateway)")


def test_a_lost_confirm_answer_is_pending_then_settled_from_the_order(page, live_server, install_wallet, settings):
    settings.JUPITER_TIMEOUT_SECONDS = 1.0
    wallet = connected(page, live_server, install_wallet)
    confirm = open_confirmation(page, wallet)
    control.inject_fault("dca-confirm", "timeout", seconds=2)
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_contain_text("Still confirming — don't send it again")
    expect(confirm.get_by_role("button")).to_have_count(0)  # signed: nothing left to press
    screenshot(page, "dca-still-confirming-1280.png")
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled.", timeout=15000)
    assert control.count_calls("dca-confirm") == 1  # settled by reading the order
    assert control.count_calls("dca-order") >= 1
    attempt = CancelAttempt.objects.get()
    assert attempt.state == CancelAttempt.State.SUCCEEDED
    assert attempt.code == "cancelled"
