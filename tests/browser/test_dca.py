"""Jupiter's newer DCA orders (Trigger API v2) in real Chromium with the test wallet: connect with
one signature, both kinds in one list, declining, expiry, and either system failing."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from dashboard import messages
from dashboard.models import DcaConnection
from dashboard.sandbox import control, trigger_seed
from tests.browser.flows import known_order, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

OFFER = "Show my DCA orders"


def v2_card(page, wallet: str, name: str):
    return page.locator(f'[data-order="{trigger_seed.order_id(wallet, name)}"]')


def connect(page) -> None:
    page.get_by_role("button", name=OFFER).click()
    expect(page.locator("#active-panel [data-system='v2']").first).to_be_visible()


def signing_calls(page) -> list[str]:
    return [c for c in page.evaluate("window.__testWallet.calls") if c.startswith("sign")]


def test_connect_once_and_both_kinds_are_listed_with_their_figures(page, live_server, install_wallet):
    wallet = install_wallet()
    v1_key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    v1 = page.locator(f'[data-order="{v1_key}"]')
    expect(v1).to_contain_text("2 of 6 buys done (33%)")
    offer = page.locator("[data-dca-offer]")
    expect(offer).to_contain_text("It is free, sends nothing, and lasts 24 hours for this wallet")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "dca-offer-1280.png", full_page=True)

    connect(page)
    assert signing_calls(page) == ["signMessage"]  # on this page: one signature for Jupiter, nothing sent
    expect(page.locator("#active-panel [data-system='v2']")).to_have_count(8)
    expect(offer).to_have_count(0)
    expect(v1).to_contain_text("1 SOL ≈ 169.49 USDC")  # the v1 order is still there, same figures

    band = v2_card(page, wallet.address, "price-band")
    expect(band).to_contain_text("Only buys while SOL is between $50 and $1,000.")
    expect(band).to_contain_text("Jupiter's own schedule")
    expect(band).to_contain_text("Jupiter DCA")
    active = v2_card(page, wallet.address, "active")
    expect(active).to_contain_text("50 USDC every day")
    expect(active).to_contain_text("3 of 10 buys done (30%)")
    expect(active.locator("dd").nth(0)).to_have_text("150 USDC")
    expect(active.locator("dd").nth(1)).to_have_text("350 USDC")
    expect(active).to_contain_text("Round 2 failed after 3 attempts and was moved to the next interval")
    active.get_by_text("Timeline of this order (3 buys)").click()
    expect(active.locator("tbody tr.buy")).to_have_count(3)  # and the deposit, the moved round, the creation
    expect(v2_card(page, wallet.address, "earn")).to_contain_text("Earn While You Wait is on")
    expect(v2_card(page, wallet.address, "executing")).to_contain_text("Buying now")
    expect(v2_card(page, wallet.address, "depositing")).to_contain_text("Starting")
    expect(v2_card(page, wallet.address, "withdrawing")).to_contain_text(
        "Cancelling — the refund still needs your approval"
    )
    screenshot(page, "dca-both-1280.png", full_page=True)
    page.get_by_role("link", name="Show history").click()
    expect(page.locator("#history-panel [data-system='v2']")).to_have_count(3)
    expect(v2_card(page, wallet.address, "deposit-failed")).to_contain_text("The deposit failed; nothing was bought")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_hardware_wallet_signs_in_connects_and_lists_its_newer_orders(page, live_server, install_wallet):
    """A wallet that can sign transactions only (a Ledger through its app): our sign-in text and
    Jupiter's challenge each come as a memo transaction, signed and never sent."""
    wallet = install_wallet(name="Ledger", sign_in=False, without=("solana:signIn", "solana:signMessage"))
    v1_key = known_order(wallet.address)
    proofs: list[dict] = []
    page.on("request", lambda r: proofs.append(r.post_data_json) if r.url.endswith("/sign-in/verify") else None)
    sign_in(page, live_server, wallet.name)
    [proof] = proofs
    assert set(proof) == {"address", "nonce", "signedTransaction"}  # the sign-in text in a memo transaction
    expect(page.locator(f'[data-order="{v1_key}"]')).to_contain_text("2 of 6 buys done (33%)")
    connect(page)
    assert signing_calls(page) == ["signTransaction"]  # on this page: Jupiter's challenge, nothing sent
    [sheet] = page.evaluate("window.__testWallet.requests")
    assert any(line.startswith("Memo: “Sign this message to authenticate with Jupiter") for line in sheet["lines"])
    assert control.count_calls("dca-challenge") == 1  # asked for the transaction at once
    expect(page.locator("#active-panel [data-system='v2']")).to_have_count(8)
    expect(v2_card(page, wallet.address, "active")).to_contain_text("3 of 10 buys done (30%)")
    expect(page.locator(f'[data-order="{v1_key}"]')).to_be_visible()
    assert DcaConnection.objects.filter(wallet=wallet.address).exclude(token="").count() == 1


def test_declining_keeps_v1_listed_and_the_offer(page, live_server, install_wallet):
    wallet = install_wallet()
    v1_key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    page.evaluate("window.__testWallet.decline = true")  # from now on the wallet refuses to sign
    page.get_by_role("button", name=OFFER).click()
    status = page.locator(".dca-status")
    expect(status).to_contain_text("You declined in your wallet, so nothing was shared with Jupiter.")
    expect(page.locator(f'[data-order="{v1_key}"]')).to_be_visible()
    expect(page.get_by_role("button", name=OFFER)).to_be_enabled()
    assert control.count_calls("dca-verify") == 0
    assert not DcaConnection.objects.exclude(token="").exists()
    page.evaluate("window.__testWallet.decline = false")  # later, the trader changes their mind
    connect(page)
    expect(page.locator(f'[data-order="{v1_key}"]')).to_be_visible()


def test_jupiter_not_knowing_its_challenge_offers_to_sign_again(page, live_server, install_wallet):
    wallet = install_wallet()
    v1_key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    control.set_dca_challenge_lifetime(0)  # Jupiter has forgotten the message by the time it is signed
    page.get_by_role("button", name=OFFER).click()
    expect(page.locator(".dca-status")).to_have_text(messages.words("challenge_not_found"))
    again = page.get_by_role("button", name="Sign again")
    expect(again).to_be_enabled()
    expect(page.locator(f'[data-order="{v1_key}"]')).to_be_visible()
    assert not DcaConnection.objects.exclude(token="").exists()
    # Jupiter did not match the signature: a 400 (what was sent is not acceptable), not a 502.
    assert [url for text, url in page.errors if "400 (Bad Request)" in text] == [live_server.url + "/orders/dca/verify"]
    page.errors.clear()  # the browser logs the refusal as a failed load: expected here
    control.set_dca_challenge_lifetime(300)
    again.click()  # a fresh message from Jupiter, signed once more
    expect(page.locator("#active-panel [data-system='v2']")).to_have_count(8)
    assert signing_calls(page) == ["signMessage", "signMessage"]


def test_token_expiry_asks_again_and_keeps_the_list(page, live_server, install_wallet):
    wallet = install_wallet()
    v1_key = known_order(wallet.address)
    sign_in(page, live_server, wallet.name)
    connect(page)
    expect(page.locator("#active-panel [data-system='v2']")).to_have_count(8)
    control.expire_dca_tokens()  # Jupiter answers 401 from now on
    cache.clear()
    page.get_by_role("link", name="Refresh").click()
    expect(page.locator("[data-dca-offer]")).to_contain_text("Your connection to Jupiter's DCA has ended.")
    expect(page.locator("#active-panel [data-system='v2']")).to_have_count(8)  # as last seen
    expect(page.locator(f'[data-order="{v1_key}"]')).to_be_visible()  # the v1 list stays
    page.get_by_role("button", name="Connect again").click()
    expect(page.locator("[data-dca-offer]")).to_have_count(0)
    assert signing_calls(page) == ["signMessage", "signMessage"]


def test_v2_down_lists_v1_and_says_why(page, live_server, install_wallet):
    wallet = install_wallet()
    v1_key = known_order(wallet.address)
    control.inject_fault("dca-list", "502", times=50)
    sign_in(page, live_server, wallet.name)
    page.get_by_role("button", name=OFFER).click()
    expect(page.locator("#active-panel .status.error")).to_contain_text(
        "Your Jupiter DCA orders could not be loaded — Jupiter is not answering right now"
    )
    expect(page.locator(f'[data-order="{v1_key}"]')).to_contain_text("2 of 6 buys done (33%)")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "dca-v2-down-1280.png", full_page=True)


def test_v1_gone_lists_v2(page, live_server, install_wallet):
    wallet = install_wallet()
    known_order(wallet.address)
    control.switch_off_v1(410)
    sign_in(page, live_server, wallet.name)
    expect(page.locator("#active-panel .status.calm")).to_contain_text(
        "Jupiter has switched off its older recurring-order system (v1)"
    )
    connect(page)
    expect(page.locator("#active-panel [data-system='v2']")).to_have_count(8)
    expect(page.locator("#active-panel [data-system='v1']")).to_have_count(0)
    expect(page.locator("#active-panel .status.error, #active-panel .status.stale")).to_have_count(0)
