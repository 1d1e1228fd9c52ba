"""Cancelling an order in real Chromium: confirmation, wallet signature, relay, outcome — and
what the trader sees, where the focus goes and what stays possible at every step."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import expect

from dashboard import messages
from dashboard.models import CancelAttempt
from dashboard.sandbox import control
from dashboard.sandbox.models import SandboxOrder
from tests.browser.flows import (
    active_element,
    contrast,
    in_view,
    known_order,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

ORDER_NAME = "USDC → SOL · 50 USDC every day"
SUCCESS = (
    "Order cancelled. 200 USDC not yet spent, 0.59 SOL bought so far and about 0.002 SOL of account rent "
    "are back in your wallet."
)


def expect_refusals_logged(page, status: str = "409 (Conflict)") -> None:
    """The browser logs the server's refusal (an HTTP error) as a failed load; that one is expected here."""
    assert any(status in text for text, _url in page.errors), page.errors
    page.errors[:] = [(text, url) for text, url in page.errors if status not in text]


def open_confirmation(page, live_server, wallet, key=None):
    key = key or known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    card = page.locator(f'[data-order="{key}"]')
    card.get_by_role("button", name="Cancel this order").click()
    confirm = card.locator(".confirm")
    expect(confirm).to_be_visible()
    return key, confirm


def test_happy_path(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    confirm.get_by_role("button", name="Confirm cancel").click()
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_contain_text(ORDER_NAME)  # the message names the order
    expect(outcome).to_contain_text(SUCCESS)
    attempt = CancelAttempt.objects.get(order_key=key)
    expect(outcome.get_by_role("link", name="View the transaction on Solscan")).to_have_attribute(
        "href", f"https://solscan.io/tx/{attempt.signature}"
    )
    expect(page.locator(f'#active-panel [data-order="{key}"]')).to_have_count(0)
    requests = page.locator("#attempts-panel")
    expect(requests).to_contain_text("Order cancelled")
    expect(requests.get_by_role("rowheader", name=ORDER_NAME)).to_be_visible()  # named by pair, not address
    closed = control.get_order(key)
    assert closed["status"] == "history"
    assert closed["closeTx"] == attempt.signature
    assert control.count_calls("execute") == 1
    assert page.evaluate("window.__testWallet.calls").count("signTransaction") == 1


# The known order never sent what it bought to the wallet (v1 does after each fill, unless the
# wallet has no account for the token): its cancel gives back deposit, bought tokens and rent.
# Valued by hand at the sandbox's prices: 200 × 0.99982341 = 199.96; 0.59 × 150.2541187355 = 88.65.
COMES_BACK = [
    "200 USDC not yet spent ≈ $199.96",
    "0.59 SOL bought so far, which the order still holds ≈ $88.65",
    "About 0.002 SOL of account rent (what Solana kept aside for the order)",
]


def test_the_refund_sentence_separates_deposit_bought_tokens_and_rent(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    expect(confirm).to_contain_text("Cancel this USDC → SOL order (50 USDC every day)?")
    expect(confirm.locator("ul.refund li")).to_have_text(COMES_BACK)
    expect(confirm.locator(".cancel-now")).to_contain_text("In all, $288.61 at today's price comes back.")
    # The card said the same before the confirmation opened (it still does, above it).
    card_says = page.locator(f'[data-order="{key}"] > .cancel-now')
    expect(card_says.locator(".value-title")).to_have_text("If you cancel now")
    expect(card_says.locator("ul.refund li")).to_have_text(COMES_BACK)
    expect(confirm).to_contain_text("cannot be undone or paused")
    card = page.locator("[data-order]").first
    expect(card.locator(".figures")).to_contain_text("Received (after Jupiter's fee)")


# --- 1: "Keep this order" must not suggest it can still keep it ----------------------------------


def test_keep_is_gone_and_confirm_disabled_once_confirm_is_pressed(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    page.evaluate("window.__testWallet.mode = 'hold'")  # the wallet waits, like a popup being read
    keep = confirm.get_by_role("button", name="Keep this order")
    expect(keep).to_be_visible()
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_have_text("Approve in your wallet…")
    expect(keep).to_be_hidden()
    expect(confirm.get_by_role("button", name="Confirm cancel")).to_be_disabled()
    page.evaluate("window.__testWallet.answer(true)")
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled.")
    assert control.get_order(key)["status"] == "history"


def test_keep_comes_back_when_the_wallet_declines(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    page.evaluate("window.__testWallet.mode = 'decline'")
    confirm.get_by_role("button", name="Confirm cancel").click()
    status = confirm.locator(".cancel-status")
    expect(status).to_contain_text("You declined in your wallet, so nothing was sent")
    expect(status.get_by_role("link")).to_have_count(0)  # nothing was sent: nothing to look at
    expect(confirm.get_by_role("button", name="Keep this order")).to_be_visible()
    expect(confirm.get_by_role("button", name="Confirm cancel")).to_be_enabled()
    assert active_element(page)["className"] == "cancel-status error"  # focus on the news
    assert control.count_calls("execute") == 0
    assert control.get_order(key)["status"] == "active"


# --- 2: the success message is in view, and focused ---------------------------------------------


@pytest.mark.parametrize("width", [1280, 375])
def test_success_message_is_in_view_after_cancelling_the_last_card(page, live_server, install_wallet, width):
    page.set_viewport_size({"width": width, "height": 800})
    wallet = install_wallet()
    keys = control.seed_wallet(wallet.address, active=6, history=0)
    sign_in(page, live_server, wallet.name)
    last = page.locator("#active-panel [data-order]").last
    key = last.get_attribute("data-order")
    assert key in keys
    last.get_by_role("button", name="Cancel this order").click()
    last.get_by_role("button", name="Confirm cancel").click()
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_contain_text("Order cancelled.")
    expect(page.locator(f'#active-panel [data-order="{key}"]')).to_have_count(0)
    assert active_element(page)["id"] == "cancel-outcome"
    assert in_view(page, "#cancel-outcome")


# --- 4: history follows; the empty state is right -------------------------------------------------


def test_history_shows_a_cancel_made_after_it_was_opened(page, live_server, install_wallet):
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    page.get_by_role("link", name="Show history").click()
    history = page.locator("#history-panel")
    expect(history).to_contain_text("No completed or cancelled orders yet")
    card = page.locator(f'#active-panel [data-order="{key}"]')
    card.get_by_role("button", name="Cancel this order").click()
    card.get_by_role("button", name="Confirm cancel").click()
    expect(history.locator(f'[data-order="{key}"]')).to_contain_text("Cancelled by you")
    expect(history).not_to_contain_text("No completed or cancelled orders yet")
    active = page.locator("#active-panel")
    expect(active).to_contain_text("No active orders.")
    expect(active).not_to_contain_text("No recurring orders yet")


# --- 5: an already-closed order: the list really refreshes ---------------------------------------


def test_the_list_refreshes_after_an_already_closed_refusal(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    # Closed elsewhere (on jup.ag, another device) while the box was open.
    SandboxOrder.objects.filter(order_key=key).update(status="history", user_closed=True, close_tx="x" * 64)
    confirm.get_by_role("button", name="Confirm cancel").click()
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_contain_text("already closed")
    expect(outcome).to_contain_text(ORDER_NAME)
    expect(page.locator(f'#active-panel [data-order="{key}"]')).to_have_count(0)  # refreshed, really
    expect(page.locator("#active-panel")).to_contain_text("No active orders.")
    assert active_element(page)["id"] == "cancel-outcome"
    assert in_view(page, "#cancel-outcome")
    assert control.count_calls("execute") == 0
    expect_refusals_logged(page)


def test_a_lost_answer_before_signing_leaves_both_choices(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    page.route("**/cancel/start", lambda route: route.abort())  # the connection drops
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_contain_text("The dashboard did not answer")
    expect(confirm.get_by_role("button", name="Confirm cancel")).to_be_enabled()  # nothing was signed
    expect(confirm.get_by_role("button", name="Keep this order")).to_be_visible()
    page.unroute("**/cancel/start")
    page.errors[:] = [(text, url) for text, url in page.errors if "ERR_FAILED" not in text]
    assert control.count_calls("cancelOrder") == 0
    assert control.get_order(key)["status"] == "active"


# --- 6: no explorer link for a transaction that never landed -------------------------------------


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("insufficient_funds", "does not have enough SOL for the network fee"),
        ("failed", "Jupiter could not cancel the order, so nothing changed: your order is still active."),
    ],
)
def test_no_explorer_link_for_a_transaction_that_never_landed(page, live_server, install_wallet, fault, words):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    control.inject_fault("execute", fault)
    confirm.get_by_role("button", name="Confirm cancel").click()
    status = confirm.locator(".cancel-status")
    expect(status).to_contain_text(words)
    expect(status.get_by_role("link")).to_have_count(0)
    expect(status).not_to_contain_text("explorer")
    assert control.get_order(key)["status"] == "active"
    expect(page.locator(f'#active-panel [data-order="{key}"]')).to_be_visible()
    requests = page.locator("#attempts-panel")
    expect(requests).to_contain_text(words)
    expect(requests.get_by_role("link", name="View on Solscan")).to_have_count(0)
    expect(requests).to_contain_text("it never reached the chain")
    expect(confirm.get_by_role("button", name="Try again")).to_be_enabled()
    expect(confirm.get_by_role("button", name="Keep this order")).to_be_visible()


@pytest.mark.parametrize("endpoint", ["cancelOrder", "execute"])
def test_jupiter_busy_says_nothing_was_sent_and_how_long_to_wait(page, live_server, install_wallet, endpoint):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    control.inject_fault(endpoint, "429", seconds=40)
    confirm.get_by_role("button", name="Confirm cancel").click()
    status = confirm.locator(".cancel-status")
    expect(status).to_contain_text(
        re.compile(r"Jupiter is busy right now, so nothing was sent\. Try again in \d+ seconds\.")
    )
    expect(confirm.get_by_role("button", name="Try again")).to_be_enabled()
    expect_refusals_logged(page, "503 (Service Unavailable)")
    assert control.get_order(key)["status"] == "active"
    confirm.get_by_role("button", name="Try again").click()  # once Jupiter has room again
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled.")
    assert control.get_order(key)["status"] == "history"


def test_expired_attempt_offers_a_fresh_one_without_a_link(page, live_server, install_wallet):
    wallet = install_wallet()
    _key, confirm = open_confirmation(page, live_server, wallet)
    # The trader approves only after the blockhash has aged: age the attempt as it is submitted.
    page.route(
        "**/cancels/*/submit",
        lambda route: (
            CancelAttempt.objects.update(issued_at=timezone.now() - timedelta(seconds=90)),
            route.continue_(),
        ),
    )
    confirm.get_by_role("button", name="Confirm cancel").click()
    status = confirm.locator(".cancel-status")
    expect(status).to_contain_text("That took too long and the transaction expired")
    expect(status.get_by_role("link")).to_have_count(0)
    assert control.count_calls("execute") == 0
    expect_refusals_logged(page)
    page.unroute("**/cancels/*/submit")
    confirm.get_by_role("button", name="Try again").click()
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled.")
    assert control.count_calls("execute") == 1
    expect(page.locator("#attempts-panel tbody tr[data-attempt]")).to_have_count(2)
    expect(page.locator("#attempts-panel").get_by_role("rowheader")).to_contain_text("(2 attempts)")  # one group


@pytest.mark.parametrize(
    ("tamper", "words"), [("blockhash", "not the one we prepared"), ("wrongKey", "signature does not match")]
)
def test_misbehaving_wallet_is_refused_and_nothing_relayed(page, live_server, install_wallet, tamper, words):
    wallet = install_wallet(tamper=tamper)
    key, confirm = open_confirmation(page, live_server, wallet)
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_contain_text(words)
    assert control.count_calls("execute") == 0
    assert control.get_order(key)["status"] == "active"
    expect_refusals_logged(page, "400 (Bad Request)")


def test_execute_times_out_then_is_reconciled(page, live_server, install_wallet, settings):
    settings.JUPITER_TIMEOUT_SECONDS = 1.0
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    control.inject_fault("execute", "timeout", seconds=2)
    confirm.get_by_role("button", name="Confirm cancel").click()
    status = confirm.locator(".cancel-status")
    expect(status).to_contain_text("Still confirming — don't send it again")
    expect(status.get_by_role("link", name="View the transaction on Solscan")).to_be_visible()  # it may land
    expect(confirm.get_by_role("button", name="Keep this order")).to_be_hidden()  # nothing to take back
    expect(confirm.locator("[data-cancel-start]")).to_be_hidden()  # nor to send again
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled.", timeout=15_000)
    attempt = CancelAttempt.objects.get(order_key=key)
    assert attempt.state == CancelAttempt.State.SUCCEEDED
    assert attempt.signature == control.get_order(key)["closeTx"]
    assert control.count_calls("execute") == 1


# --- 8: an old success banner does not sit above a later outcome ----------------------------------


def test_a_later_outcome_replaces_an_old_success_banner(page, live_server, install_wallet):
    wallet = install_wallet()
    control.seed_wallet(wallet.address, active=2, history=0)
    sign_in(page, live_server, wallet.name)
    first = page.locator("#active-panel [data-order]").first
    first.get_by_role("button", name="Cancel this order").click()
    first.get_by_role("button", name="Confirm cancel").click()
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_contain_text("Order cancelled.")
    expect(page.locator("#active-panel [data-order]")).to_have_count(1)
    other = page.locator("#active-panel [data-order]").first
    other.get_by_role("button", name="Cancel this order").click()
    expect(outcome).to_be_empty()  # a new decision: the old news goes
    page.evaluate("window.__testWallet.mode = 'decline'")
    other.get_by_role("button", name="Confirm cancel").click()
    expect(other.locator(".cancel-status")).to_contain_text("You declined")
    expect(outcome).to_be_hidden()


# --- 9: keyboard and focus ------------------------------------------------------------------------


def test_keyboard_reaches_confirm_and_keep_right_after_opening_the_box(page, live_server, install_wallet):
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    card = page.locator(f'[data-order="{key}"]')
    opener = card.get_by_role("button", name="Cancel this order")
    assert opener.evaluate("(el) => el.tagName") == "BUTTON"  # Space presses it; no page scroll
    opener.focus()
    page.keyboard.press("Space")
    confirm = card.locator(".confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_be_focused()
    page.keyboard.press("Tab")
    expect(confirm.get_by_role("button", name="Confirm cancel")).to_be_focused()
    page.keyboard.press("Tab")
    keep = confirm.get_by_role("button", name="Keep this order")
    expect(keep).to_be_focused()
    page.keyboard.press("Enter")  # keep: the box closes, focus back on the button that opened it
    expect(confirm).to_have_count(0)
    expect(card.get_by_role("button", name="Cancel this order")).to_be_focused()
    assert control.count_calls("cancelOrder") == 0
    # Enter opens it again; Tab, Enter confirms.
    page.keyboard.press("Enter")
    expect(confirm).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#cancel-outcome")).to_be_focused()
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled.")


def test_focus_ring_and_loading_text_contrast(page, live_server, install_wallet):
    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    button = page.locator(f'[data-order="{key}"]').get_by_role("button", name="Cancel this order")
    button.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible applies
    ring = button.evaluate("(el) => getComputedStyle(el).outlineColor")
    assert contrast(ring, "rgb(255, 255, 255)") >= 3, ring
    # The loading text while a request is in flight (its colour and any fading).
    page.evaluate(
        """() => {
            const panel = document.getElementById('active-panel');
            panel.innerHTML = '<p class="loading">Loading your orders…</p>';
            panel.classList.add('htmx-request');
        }"""
    )
    loading = page.locator("#active-panel .loading")
    color, opacity = loading.evaluate("(el) => [getComputedStyle(el).color, getComputedStyle(el).opacity]")
    panel_opacity = page.locator("#active-panel").evaluate("(el) => getComputedStyle(el).opacity")
    assert contrast(color, "rgb(255, 255, 255)", alpha=float(opacity) * float(panel_opacity)) >= 4.5


def test_recent_cancels_settle_a_lost_answer(page, live_server, install_wallet):
    from dashboard.sandbox.models import SandboxOrder

    wallet = install_wallet()
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    expect(page.locator(f'[data-order="{key}"]')).to_be_visible()
    # A cancel relayed three minutes ago whose answer was lost; it did close the order.
    issued = timezone.now() - timedelta(minutes=3)
    CancelAttempt.objects.create(
        wallet=wallet.address,
        order_key=key,
        request_id="lost",
        message=b"",
        issued_at=issued,
        claimed_at=issued,
        state=CancelAttempt.State.PENDING,
        outcome="Still confirming — don't send it again. We are checking the order's status.",
    )
    SandboxOrder.objects.filter(order_key=key).update(status="history", user_closed=True, close_tx="1" * 64)
    page.reload()
    panel = page.locator("#attempts-panel")
    expect(panel).to_contain_text("A cancel is still confirming")
    panel.get_by_role("button", name="Check now").click()
    expect(panel).to_contain_text("Order cancelled.")
    expect(panel.get_by_role("button", name="Check now")).to_have_count(0)
    expect(page.locator(f'#active-panel [data-order="{key}"]')).to_have_count(0)  # the list follows
    assert CancelAttempt.objects.get(order_key=key).state == CancelAttempt.State.SUCCEEDED


def test_a_refusal_is_known_by_its_code_alone(page, live_server, install_wallet):
    wallet = install_wallet(decline_message="Nope.")  # code 4001, none of the usual words
    key, confirm = open_confirmation(page, live_server, wallet)
    page.evaluate("window.__testWallet.decline = true")
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_contain_text("You declined in your wallet, so nothing was sent")
    assert control.count_calls("execute") == 0
    assert control.get_order(key)["status"] == "active"


def test_a_wallet_that_never_answers_is_given_up_on(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    page.evaluate("window.__testWallet.hang = true")
    page.clock.install()
    button = confirm.get_by_role("button", name="Confirm cancel")
    button.click()
    expect(confirm.locator(".cancel-status")).to_contain_text("Approve in your wallet")
    page.evaluate("window.__testWallet.asked('signTransaction')")  # the bridge's wait has begun
    page.clock.fast_forward("01:01")
    expect(confirm.locator(".cancel-status")).to_contain_text(
        "Your wallet did not answer within 60 seconds. Nothing was sent."
    )
    expect(button).to_be_enabled()  # the trader can start again
    assert control.count_calls("execute") == 0
    assert control.get_order(key)["status"] == "active"


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("session", messages.words("signed_out")),  # the dashboard's JSON answer
        ("csrf", messages.words("stale_page")),  # views.csrf_failure's JSON answer
    ],
)
def test_a_session_that_ended_is_said_plainly(page, live_server, install_wallet, how, words):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    if how == "session":
        Session.objects.all().delete()
    else:
        page.context.clear_cookies(name="csrftoken")
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_contain_text(words)
    expect_refusals_logged(page, "403 (Forbidden)")
    assert control.count_calls("cancelOrder") == 0
    assert control.get_order(key)["status"] == "active"
