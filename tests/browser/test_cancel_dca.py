"""Cancelling a Jupiter DCA (Trigger API v2) order in real Chromium with the test wallet, which
records every call: final from the first click, the refund checked before the wallet is asked,
confirmed once; declining, a running buy, a harmful refund and a lost answer."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from dashboard import messages, solana_rpc, token_instructions
from dashboard.models import CancelAttempt
from dashboard.sandbox import control, trigger_orders, trigger_seed
from dashboard.sandbox.models import DcaOrder
from dashboard.sandbox.tokens import PYUSD
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
    # The answer carries the list: the message above it, the stopped order first with its refund.
    key = trigger_seed.order_id(wallet.address, "active")
    expect(page.locator("#cancel-outcome")).to_contain_text("the refund still needs your approval")
    finish = page.locator(f'#active-panel .stopped [data-refund-of="{key}"] [data-cancel-start]')
    expect(finish).to_be_enabled()
    expect(page.locator("#active-panel .stopped")).to_contain_text("2 orders are stopped")
    expect(card(page, wallet).get_by_role("button", name="Keep this order")).to_have_count(0)  # stopped already
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


@pytest.mark.parametrize("mode", ["refund_elsewhere", "huge_fee", "short_refund"])
def test_a_harmful_or_short_refund_never_reaches_the_wallet(page, live_server, install_wallet, mode):
    wallet = connected(page, live_server, install_wallet)
    control.set_dca_withdrawal_mode(mode)
    confirm = open_confirmation(page, wallet)
    confirm.get_by_role("button", name="Confirm cancel").click()
    expect(page.locator("#cancel-outcome")).to_contain_text(messages.words("refund_refused"))
    # the order is stopped: its card says so, that nothing left the wallet, and offers Try again
    order = card(page, wallet)
    expect(order).to_contain_text(messages.words("refund_refused_card"))
    expect(order.get_by_role("button", name="Try again")).to_be_enabled()
    expect(order.get_by_role("link", name="Open jup.ag")).to_have_attribute("href", "https://jup.ag/")
    if mode == "refund_elsewhere":
        page.set_viewport_size({"width": 1280, "height": 900})
        page.locator("#cancel-outcome").scroll_into_view_if_needed()
        screenshot(page, "dca-refund-refused-1280.png")
    assert signed_transactions(page) == 0
    assert control.count_calls("dca-confirm") == 0
    expect_refusals_logged(page, "502 (Bad Gateway)")


def test_a_refused_refund_shows_the_recoverable_state_and_try_again_works(page, live_server, install_wallet):
    wallet = connected(page, live_server, install_wallet)
    control.set_dca_withdrawal_mode("refund_elsewhere")
    open_confirmation(page, wallet).get_by_role("button", name="Confirm cancel").click()
    order = card(page, wallet)
    expect(order).to_contain_text(messages.words("refund_refused_card"))
    expect_refusals_logged(page, "502 (Bad Gateway)")
    page.reload()  # later, or in another tab: the card still says where things stand
    expect(order).to_contain_text("Cancelling — the refund still needs your approval")
    expect(order).to_contain_text(messages.words("refund_refused_card"))
    page.set_viewport_size({"width": 1280, "height": 900})
    order.scroll_into_view_if_needed()
    screenshot(page, "dca-refund-try-again-1280.png")
    control.set_dca_withdrawal_mode("normal")  # Jupiter builds a fresh refund each time
    order.get_by_role("button", name="Try again").click()
    expect(page.locator("#cancel-outcome")).to_contain_text(CANCELLED)
    expect(order).to_have_count(0)
    key = trigger_seed.order_id(wallet.address, "active")
    assert control.count_calls("dca-confirm") == 1
    assert signed_transactions(page) == 1
    assert [w["confirmed"] for w in control.dca_withdrawals(key)] == [False, True]


def named_then_landed(page, wallet, name: str) -> tuple[str, VersionedTransaction]:
    """Cancel `name` with the wallet holding its answer: (what the page named while the wallet
    asked, the refund transaction that landed)."""
    page.evaluate("window.__testWallet.mode = 'hold'")
    confirm = open_confirmation(page, wallet, name)
    confirm.get_by_role("button", name="Confirm cancel").click()
    page.evaluate("window.__testWallet.asked('signTransaction')")
    status = confirm.locator(".cancel-status")
    expect(status).to_contain_text("Approve the refund in your wallet: you receive ")
    named = status.inner_text()
    page.set_viewport_size({"width": 1280, "height": 900})
    confirm.scroll_into_view_if_needed()
    screenshot(page, f"dca-approve-{name}-1280.png")
    page.evaluate("window.__testWallet.answer(true)")
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled")
    key = trigger_seed.order_id(wallet.address, name)
    (refund,) = control.dca_withdrawals(key)
    assert control.count_calls("dca-confirm") == 1  # exactly one confirm-cancel
    assert signed_transactions(page) == 1
    return named, VersionedTransaction.from_bytes(base64.b64decode(refund["landed"]))


def test_a_sol_order_is_cancelled_end_to_end_and_gets_what_was_named(
    page, live_server, install_wallet, settings, sandbox_upstream
):
    settings.SOLANA_RPC_URL = f"{sandbox_upstream.url}/sandbox/solana-rpc"
    wallet = connected(page, live_server, install_wallet)
    key = trigger_seed.order_id(wallet.address, "sol-input")
    deposit = str(trigger_orders.refund_of(DcaOrder.objects.get(order_id=key)).source)
    held = solana_rpc.get_token_account(deposit)  # what the deposit account holds before it is closed
    named, landed = named_then_landed(page, wallet, "sol-input")
    assert named.endswith("you receive 1.25 SOL.")
    assert held.amount == 1_250_000_000 and held.native and held.owner == control.get_dca_order(key)["vaultPubkey"]
    # The landed refund closes exactly that account, straight to the wallet: all of it comes back as SOL.
    keys = [str(k) for k in landed.message.account_keys]
    (close,) = [
        ix for ix in landed.message.instructions if keys[ix.program_id_index] == str(token_instructions.TOKEN_PROGRAM)
    ]
    assert bytes(close.data) == bytes([9])
    assert [keys[i] for i in bytes(close.accounts)][:2] == [deposit, wallet.address]
    expect(page.locator("#cancel-outcome")).to_contain_text(
        "Order cancelled. 1.25 SOL not yet sold and about 0.002 SOL of account rent are back in your wallet."
    )
    assert control.get_dca_order(key)["state"] == "cancelled"


def test_a_token_2022_order_is_cancelled_end_to_end_and_gets_what_was_named(page, live_server, install_wallet):
    wallet = connected(page, live_server, install_wallet)
    control.set_dca_withdrawal_mode("transfer_fee")  # PYUSD naming a transfer fee
    named, landed = named_then_landed(page, wallet, "token-2022")
    assert named.endswith("you receive about 89.73 PYUSD after the token's own transfer fee.")
    keys = [str(k) for k in landed.message.account_keys]
    program = str(token_instructions.TOKEN_2022_PROGRAM)
    (move,) = [
        ix for ix in landed.message.instructions if keys[ix.program_id_index] == program and bytes(ix.data)[0] == 26
    ]
    data = bytes(move.data)
    amount, fee = int.from_bytes(data[2:10], "little"), int.from_bytes(data[11:19], "little")
    assert (amount - fee) == 89_730_000  # what was named, in PYUSD's base units (6 decimals)
    assert keys[bytes(move.accounts)[2]] == str(
        token_instructions.associated_token_address(
            Pubkey.from_string(wallet.address), Pubkey.from_string(PYUSD), token_instructions.TOKEN_2022_PROGRAM
        )
    )
    expect(page.locator("#cancel-outcome")).to_contain_text(
        "you received about 89.73 PYUSD after the token's own transfer fee"
    )


def test_an_earn_while_you_wait_order_cannot_reach_jupiters_cancel_by_any_url(page, live_server, install_wallet):
    wallet = connected(page, live_server, install_wallet)
    earn = card(page, wallet, "earn")
    expect(earn).to_contain_text(messages.words("earn_not_here"))
    expect(earn.get_by_role("button", name="Cancel this order")).to_have_count(0)
    key = trigger_seed.order_id(wallet.address, "earn")
    # A direct link to its confirmation: the same words, nothing to press.
    page.goto(f"{live_server.url}/orders/{key}/cancel")
    expect(page.locator(".confirm")).to_contain_text(messages.words("earn_not_here"))
    expect(page.locator("[data-cancel-start]")).to_have_count(0)
    screenshot(page, "dca-earn-not-here-1280.png")
    # A forged start from the page, with its CSRF token (a stale page would send the same).
    answer = page.evaluate(
        """async (url) => {
             const token = document.body.dataset.csrf;
             const r = await fetch(url, {method: 'POST', headers: {'X-CSRFToken': token}});
             return [r.status, (await r.json()).code];
           }""",
        f"{live_server.url}/orders/{key}/cancel/start",
    )
    assert answer == [409, "earn_refused"]
    expect_refusals_logged(page, "409 (Conflict)")
    assert control.count_calls("dca-cancel") == 0  # Jupiter was never asked to stop it
    assert signed_transactions(page) == 0
    assert control.get_dca_order(key)["state"] == "active"


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
