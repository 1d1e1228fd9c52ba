"""Cancelling an order in real Chromium: confirmation, wallet signature, relay, outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import expect

from dashboard.models import CancelAttempt
from dashboard.sandbox import control
from tests.browser.flows import known_order, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]


def expect_refusals_logged(page, status: str = "409 (Conflict)") -> None:
    """The browser logs the server's refusal (an HTTP error) as a failed load; that one is expected here."""
    assert any(status in text for text, _url in page.errors), page.errors
    page.errors[:] = [(text, url) for text, url in page.errors if status not in text]


def open_confirmation(page, live_server, wallet):
    key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    card = page.locator(f'[data-order="{key}"]')
    card.get_by_role("button", name="Cancel this order").click()
    confirm = card.locator(".confirm")
    expect(confirm).to_contain_text("200 USDC and 0.59 SOL")
    expect(confirm).to_contain_text("cannot be undone or paused")
    return key, confirm


def test_happy_path(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    confirm.get_by_role("button", name="Confirm cancel").click()
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_contain_text("Order cancelled. 200 USDC and 0.59 SOL are back in your wallet.")
    attempt = CancelAttempt.objects.get(order_key=key)
    expect(outcome.get_by_role("link", name="View the transaction on Solscan")).to_have_attribute(
        "href", f"https://solscan.io/tx/{attempt.signature}"
    )
    expect(page.locator(f'#active-panel [data-order="{key}"]')).to_have_count(0)
    expect(page.locator("#attempts-panel")).to_contain_text("Order cancelled")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "cancelled-1280.png")
    closed = control.get_order(key)
    assert closed["status"] == "history"
    assert closed["closeTx"] == attempt.signature
    assert control.count_calls("execute") == 1
    assert page.evaluate("window.__testWallet.calls").count("signTransaction") == 1


def test_wallet_declines(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    page.evaluate("window.__testWallet.decline = true")
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_contain_text("You declined in your wallet, so nothing was sent")
    assert control.count_calls("execute") == 0
    assert control.get_order(key)["status"] == "active"


@pytest.mark.parametrize(
    ("tamper", "words"),
    [("blockhash", "not the one we prepared"), ("wrongKey", "signature does not match")],
)
def test_misbehaving_wallet_is_refused_and_nothing_relayed(page, live_server, install_wallet, tamper, words):
    wallet = install_wallet(tamper=tamper)
    key, confirm = open_confirmation(page, live_server, wallet)
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_contain_text(words)
    assert control.count_calls("execute") == 0
    assert control.get_order(key)["status"] == "active"
    expect_refusals_logged(page, "400 (Bad Request)")


def test_expired_attempt_offers_a_fresh_one(page, live_server, install_wallet):
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
    expect(confirm.locator(".cancel-status")).to_contain_text("That took too long and the transaction expired")
    assert control.count_calls("execute") == 0
    expect_refusals_logged(page)
    page.unroute("**/cancels/*/submit")
    retry = confirm.get_by_role("button", name="Try again")
    retry.click()
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled.")
    assert control.count_calls("execute") == 1


def test_execute_answers_failed(page, live_server, install_wallet):
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    control.inject_fault("execute", "insufficient_funds")
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_contain_text("does not have enough SOL for the network fee")
    assert control.get_order(key)["status"] == "active"
    expect(page.locator(f'#active-panel [data-order="{key}"]')).to_be_visible()
    expect(page.locator("#attempts-panel")).to_contain_text("enough SOL")
    expect(confirm.get_by_role("button", name="Try again")).to_be_enabled()


def test_execute_times_out_then_is_reconciled(page, live_server, install_wallet, settings):
    settings.JUPITER_TIMEOUT_SECONDS = 1.0
    wallet = install_wallet()
    key, confirm = open_confirmation(page, live_server, wallet)
    control.inject_fault("execute", "timeout", seconds=2)
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(confirm.locator(".cancel-status")).to_contain_text("Still confirming — don't send it again")
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled.", timeout=15_000)
    attempt = CancelAttempt.objects.get(order_key=key)
    assert attempt.state == CancelAttempt.State.SUCCEEDED
    assert attempt.signature == control.get_order(key)["closeTx"]
    assert control.count_calls("execute") == 1


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
        ("session", "You were signed out — sign in again."),  # the dashboard's JSON answer
        ("csrf", "This page is out of date or you were signed out. Reload the page and sign in again."),  # a 403 page
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
