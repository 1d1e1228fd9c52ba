"""Sign-in through the wallet bridge, driven in headless Chromium against the live server."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect
from solders.hash import Hash
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from dashboard import messages
from dashboard.encoding import short_address
from tests.browser.flows import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SANDBOX_WALLET = "Sandbox wallet — simulated, no real funds"


def expect_signed_in(page, live_server, short: str) -> None:
    page.goto(live_server.url + "/")
    expect(page.locator(".site-header .account-address")).to_contain_text(short)
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Connect wallet")).to_have_count(0)


def expect_signed_out(page) -> None:
    expect(page.get_by_role("button", name="Connect wallet")).to_be_visible()
    expect(page.locator(".site-header .account-address")).to_have_count(0)


def test_sign_in_with_solana_sign_in(page, live_server, install_wallet):
    wallet = install_wallet()
    sign_in(page, live_server, wallet.name)
    expect_signed_in(page, live_server, wallet.short)
    assert User.objects.filter(username=wallet.address).exists()


def test_sign_in_with_sign_message_fallback(page, live_server, install_wallet):
    wallet = install_wallet(name="Old Wallet", sign_in=False)
    sign_in(page, live_server, wallet.name)
    expect_signed_in(page, live_server, wallet.short)


def test_wallet_icon_and_name_are_shown(page, live_server, install_wallet):
    install_wallet()
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    button = page.get_by_role("button", name="Test Wallet")
    expect(button.locator("img")).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;base64,"))


def test_user_declines(page, live_server, install_wallet):
    wallet = install_wallet(decline=True)
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name=wallet.name).click()
    expect(page.get_by_role("status")).to_contain_text("You declined the request in your wallet")
    expect_signed_out(page)
    assert not User.objects.exists()


@pytest.mark.parametrize("action", ["switchAccount", "disconnect"])
def test_account_switch_or_disconnect_signs_out(page, live_server, install_wallet, action):
    wallet = install_wallet()
    sign_in(page, live_server, wallet.name)
    expect_signed_in(page, live_server, wallet.short)
    # The bridge reconnects silently to follow the wallet's account changes.
    page.wait_for_function("window.__testWallet.calls.includes('connect(silent)')")
    with page.expect_navigation():
        page.evaluate(f"window.__testWallet.{action}()")
    expect_signed_out(page)


SIGN_WITH_BRIDGE = """async (b64) => {
    const { signTransaction } = await import('/static/js/bridge.js');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const signed = await signTransaction(bytes);
    return btoa(String.fromCharCode(...signed));
}"""


def assert_bridge_signs_for(page, payer: Pubkey) -> None:
    """The bridge's exported signTransaction signs the payer's slot of a real transaction."""
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=Pubkey.new_unique(), lamports=1))
    message = Message.new_with_blockhash([ix], payer, Hash.new_unique())
    unsigned = bytes(VersionedTransaction(message, [NullSigner(payer)]))
    signed_b64 = page.evaluate(SIGN_WITH_BRIDGE, base64.b64encode(unsigned).decode())
    tx = VersionedTransaction.from_bytes(base64.b64decode(signed_b64))
    assert tx.signatures[0].verify(payer, to_bytes_versioned(tx.message))


def test_bridge_signs_a_transaction_after_reload(page, live_server, install_wallet):
    wallet = install_wallet()
    sign_in(page, live_server, wallet.name)
    expect_signed_in(page, live_server, wallet.short)
    assert_bridge_signs_for(page, wallet.keypair.pubkey())


def test_no_wallet_installed(page, live_server, settings):
    settings.SANDBOX = False
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("No Solana wallet was found in this browser")
    expect(status).to_contain_text("open this page in your wallet app's own browser")
    for name in ("Phantom", "Solflare", "Backpack"):
        expect(status.get_by_role("link", name=name)).to_be_visible()


def test_only_a_legacy_provider(page, live_server, settings):
    settings.SANDBOX = False
    page.add_init_script("window.solana = { isPhantom: true, connect() {} };")
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.get_by_role("status")).to_contain_text("update it to its latest version")


def sandbox_sheet(page, title: str):
    """The sandbox wallet's approval sheet, open, with this title."""
    sheet = page.get_by_role("dialog", name=title)
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("Sandbox wallet — simulated, no real funds")
    return sheet


def test_sandbox_wallet_signs_in(page, live_server):
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    button = page.get_by_role("button", name=SANDBOX_WALLET)
    expect(button).to_be_visible()
    button.click()
    host = live_server.url.removeprefix("http://")
    sheet = sandbox_sheet(page, f"Sign in to {host}")
    expect(sheet).to_contain_text("It sends nothing and costs nothing")
    sheet.get_by_role("button", name="Approve").click()
    page.wait_for_url(live_server.url + "/orders/")
    user = User.objects.get()
    expect_signed_in(page, live_server, short_address(user.username))
    # Every transaction is shown on the sheet too, in words, before it is signed.
    payer = Pubkey.from_string(user.username)
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=Pubkey.new_unique(), lamports=1))
    unsigned = bytes(
        VersionedTransaction(Message.new_with_blockhash([ix], payer, Hash.new_unique()), [NullSigner(payer)])
    )
    # Not awaited here: the wallet waits for the trader's answer on the sheet.
    page.evaluate(f"() => {{ window.__signed = ({SIGN_WITH_BRIDGE})('{base64.b64encode(unsigned).decode()}'); }}")
    sheet = sandbox_sheet(page, "Approve a transaction")
    expect(sheet).to_contain_text("Run program 1111…1111")
    expect(sheet).to_contain_text("Network fee ≈ 0.000005 SOL")
    sheet.get_by_role("button", name="Approve").click()
    tx = VersionedTransaction.from_bytes(base64.b64decode(page.evaluate("window.__signed")))
    assert tx.signatures[0].verify(payer, to_bytes_versioned(tx.message))
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect_signed_out(page)


def test_sandbox_wallet_decline(page, live_server):
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name=SANDBOX_WALLET).click()
    sheet = sandbox_sheet(page, f"Sign in to {live_server.url.removeprefix('http://')}")
    sheet.get_by_role("button", name="Decline").click()
    expect(sheet).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("You declined the request in your wallet")
    expect_signed_out(page)
    assert not User.objects.exists()


def test_sandbox_wallet_signs_a_message_after_showing_it(page, live_server):
    """`solana:signMessage` (used by the sign-in fallback and Jupiter's v2 login) shows the text."""
    page.goto(live_server.url + "/")
    page.evaluate(
        """() => new Promise((resolve) => dispatchEvent(new CustomEvent('wallet-standard:app-ready', {detail: {
            register: (w) => { if (w.name.startsWith('Sandbox')) window.__sandbox = w; resolve(); }}})))"""
    )
    page.evaluate(
        """() => { window.__answer = (async () => {
            const w = window.__sandbox;
            const [account] = (await w.features['standard:connect'].connect()).accounts;
            const message = new TextEncoder().encode(
                'Sign this message to authenticate with Jupiter Trigger Order API: abc123');
            const [out] = await w.features['solana:signMessage'].signMessage({account, message});
            return {address: account.address, signature: btoa(String.fromCharCode(...out.signature))};
        })(); }"""
    )
    sheet = sandbox_sheet(page, "Sign a message from Jupiter")
    expect(sheet).to_contain_text("authenticate with Jupiter Trigger Order API: abc123")
    sheet.get_by_role("button", name="Approve").click()
    answer = page.evaluate("window.__answer")
    from solders.signature import Signature

    signature = Signature.from_bytes(base64.b64decode(answer["signature"]))
    assert signature.verify(
        Pubkey.from_string(answer["address"]),
        b"Sign this message to authenticate with Jupiter Trigger Order API: abc123",
    )


def test_screenshots(page, live_server, install_wallet, tmp_path):
    """Home page signed out and signed in; SCREENSHOT_DIR=/tmp keeps them for a look."""
    out = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    wallet = install_wallet()
    page.set_viewport_size({"width": 1100, "height": 700})
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    page.screenshot(path=out / "home-signed-out.png", full_page=True)
    page.get_by_role("button", name=wallet.name).click()
    page.wait_for_url(live_server.url + "/orders/")
    expect_signed_in(page, live_server, wallet.short)
    page.screenshot(path=out / "home-signed-in.png", full_page=True)


# --- the bridge's own rules ------------------------------------------------------------------------


def test_a_wallet_lacking_a_feature_is_listed_with_what_it_lacks(page, live_server, install_wallet):
    install_wallet(without=("solana:signTransaction", "standard:events"))
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.locator("[data-wallets]")).to_contain_text(
        "Test Wallet cannot be used here: it does not support telling websites when you switch accounts, "
        "signing transactions."
    )
    expect(page.get_by_role("button", name="Test Wallet")).to_have_count(0)


UNREGISTER = """() => {
    const wallet = (name) => ({
        version: '1.0.0', name, icon: '', chains: ['solana:mainnet'], accounts: [],
        features: { 'standard:connect': {}, 'standard:events': { on: () => () => {} },
                    'solana:signTransaction': {}, 'solana:signMessage': {} },
    });
    const [a, b] = [wallet('Wallet A'), wallet('Wallet B')];
    let unregister;
    const register = (...ws) => window.dispatchEvent(new CustomEvent('wallet-standard:register-wallet',
        { detail: ({ register }) => { unregister = register(...ws); } }));
    register(a);        // the first call adds A
    register(a, b);     // the second adds only B: A was there already
    unregister();       // so it removes B, and leaves A
}"""


def test_unregister_removes_only_what_that_call_added(page, live_server):
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    page.evaluate(UNREGISTER)
    expect(page.get_by_role("button", name="Wallet A")).to_be_visible()
    expect(page.get_by_role("button", name="Wallet B")).to_have_count(0)


def test_a_wallet_that_never_answers_the_sign_in_is_given_up_on(page, live_server, install_wallet):
    wallet = install_wallet(hang=True)
    page.clock.install()
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name=wallet.name).click()
    expect(page.get_by_role("status")).to_contain_text(f"Approve the sign-in in {wallet.name}")
    page.evaluate("window.__testWallet.asked('signIn')")  # the bridge's wait has begun
    page.clock.fast_forward("01:01")
    expect(page.get_by_role("status")).to_contain_text(
        f"{wallet.name} did not answer within 60 seconds. You are still signed out — try again."
    )
    expect(page.get_by_role("button", name=wallet.name)).to_be_enabled()
    expect_signed_out(page)


def test_a_stale_page_says_so_plainly(page, live_server, install_wallet):
    """The CSRF cookie is gone: the 403 answers in the JSON shape (views.csrf_failure), saying the page is stale."""
    wallet = install_wallet()
    page.goto(live_server.url + "/")
    page.context.clear_cookies(name="csrftoken")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name=wallet.name).click()
    expect(page.get_by_role("status")).to_contain_text(messages.words("stale_page"))
    assert any("403 (Forbidden)" in text for text, _url in page.errors)
    page.errors.clear()
    assert not User.objects.exists()


SIGN_V0_WITH_BRIDGE = """async (b64) => {
    const { signTransaction } = await import('/static/js/bridge.js');
    try {
        await signTransaction(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
        return 'signed';
    } catch (error) {
        return error.message;
    }
}"""


def test_the_transaction_version_is_checked_before_asking_the_wallet(page, live_server, install_wallet):
    wallet = install_wallet(versions=["legacy"])
    sign_in(page, live_server, wallet.name)
    payer = wallet.keypair.pubkey()
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=Pubkey.new_unique(), lamports=1))
    v0 = MessageV0.try_compile(payer, [ix], [], Hash.new_unique())
    unsigned = base64.b64encode(bytes(VersionedTransaction(v0, [NullSigner(payer)]))).decode()
    answer = page.evaluate(SIGN_V0_WITH_BRIDGE, unsigned)
    words = "cannot sign version 0 transactions. Nothing was sent — try another wallet."
    assert answer == f"{wallet.name} {words}"
    assert "signTransaction" not in page.evaluate("window.__testWallet.calls")
    assert_bridge_signs_for(page, payer)  # a legacy one it can


WHAT_IS_A_DECLINE = """async () => {
    const { isRejection, plain } = await import('/static/js/bridge.js');
    const error = (message, extra) => Object.assign(new Error(message), extra);
    return [
        isRejection(error('Nope.', { code: 4001 })),  // the code, whatever the words
        isRejection(error('', { name: 'UserRejectedRequestError' })),  // the name
        isRejection(error('User rejected the request.')),  // a wallet with neither: its words
        isRejection(error('User rejected the request.', { code: -32603 })),  // another code: not a decline
        isRejection(plain('You declined in your wallet')),  // our own words never are
        isRejection(error('Transaction simulation failed')),
    ];
}"""


def test_a_decline_is_read_from_the_wallets_code_and_name_before_its_words(page, live_server, install_wallet):
    install_wallet()
    page.goto(live_server.url + "/")
    assert page.evaluate(WHAT_IS_A_DECLINE) == [True, True, True, False, False, False]


def sandbox_sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name=SANDBOX_WALLET).click()
    sandbox_sheet(page, f"Sign in to {live_server.url.removeprefix('http://')}").get_by_role(
        "button", name="Approve"
    ).click()
    page.wait_for_url(live_server.url + "/orders/")


def test_signing_out_from_an_out_of_date_tab(page, live_server):
    """Tab A was opened before tab B signed out and in again (a new CSRF token): A's Sign out is
    refused by CSRF, and says so on a plain page whose own Sign out works (views.csrf_failure)."""
    sandbox_sign_in(page, live_server)
    page.goto(live_server.url + "/")  # tab A: the home page, signed in
    tab_b = page.context.new_page()
    tab_b.goto(live_server.url + "/")
    tab_b.get_by_role("button", name="Sign out", exact=True).click()
    expect_signed_out(tab_b)
    sandbox_sign_in(tab_b, live_server)
    with page.expect_response(lambda r: r.url.endswith("/sign-out")) as refused:
        page.get_by_role("button", name="Sign out", exact=True).click()
    assert refused.value.status == 403
    expect(page.get_by_role("heading", name="This page was out of date")).to_be_visible()
    expect(page.get_by_text("Forbidden")).to_have_count(0)
    expect(page.locator(".site-header .account-address")).to_be_visible()  # still signed in, until…
    page.locator("main").get_by_role("button", name="Sign out", exact=True).click()
    expect_signed_out(page)
    tab_b.reload()
    expect_signed_out(tab_b)  # one browser, one session: signed out in both tabs
    page.errors[:] = [(text, url) for text, url in page.errors if "403 (Forbidden)" not in text]
    tab_b.close()
