"""A page for the browser tests (Chromium itself is the `browser` fixture of tests/conftest.py)
that records console errors and CSP violations, and `install_wallet` to inject the Wallet
Standard test wallet (wallet.js)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect
from solders.keypair import Keypair

from dashboard.encoding import short_address

WALLET_JS = Path(__file__).with_name("wallet.js")
# The sandbox wallet's signing core: one implementation for the sandbox wallet and the test wallet.
WALLET_CORE_JS = Path(__file__).parents[2] / "dashboard" / "sandbox" / "static" / "sandbox" / "wallet-core.js"
# DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows.
PKCS8_ED25519_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
# How long an expectation waits for the page to reach its state (Playwright's default is 5 s):
# the same as an action's, so a loaded two-core machine (CI runs two database passes) is not a
# failure. The expectations are of states, never of how fast they come.
expect.set_options(timeout=10_000)
REPORT_CSP = """
document.addEventListener('securitypolicyviolation', (e) =>
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline code'}`));
"""


@pytest.fixture
def page(browser, sandbox_upstream) -> Iterator:
    """A fresh browser context on the live server (its Jupiter client on the sandbox)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[tuple[str, str]] = []
    page.on(
        "console",
        lambda m: errors.append((m.text, m.location.get("url", ""))) if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: errors.append((f"Uncaught: {exc}", "")))
    page.add_init_script(REPORT_CSP)
    page.errors = errors
    yield page
    context.close()
    # Chromium asks for /favicon.ico on its own; the page never references it.
    unexpected = [f"{text} ({url})" for text, url in errors if not url.endswith("/favicon.ico")]
    assert not unexpected, "Console errors or CSP violations: " + "; ".join(unexpected)


def wallet_account(keypair: Keypair) -> dict[str, str]:
    return {
        "address": str(keypair.pubkey()),
        "publicKey": base64.b64encode(bytes(keypair.pubkey())).decode(),
        "pkcs8": base64.b64encode(PKCS8_ED25519_PREFIX + keypair.secret()).decode(),
    }


@dataclass(frozen=True)
class TestWallet:
    name: str
    keypair: Keypair
    other: Keypair  # the account `switchAccount()` changes to

    @property
    def address(self) -> str:
        return str(self.keypair.pubkey())

    @property
    def short(self) -> str:
        return short_address(self.address)


@pytest.fixture
def install_wallet(page) -> Callable[..., TestWallet]:
    """`install_wallet(name=, sign_in=, decline=, mode=, keypair=, ...)` injects the sandbox
    wallet's signing core and the test wallet (wallet.js) into `page` (before any page script) and
    returns the TestWallet. sign_in=False leaves out `solana:signIn` (the bridge falls back to
    signMessage); decline=True (or mode="decline") makes every signing call throw code 4001 with
    `decline_message` ("User rejected the request."); mode="hold" waits for
    `__testWallet.answer(bool)`; hang=True (or mode="never") never answers a signing call.
    tamper="blockhash" changes the blockhash before signing a transaction; tamper="wrongKey"
    signs it with the other key. without=(feature, ...) leaves features out; versions=[...] sets
    the supportedTransactionVersions of solana:signTransaction (default ['legacy', 0])."""

    def install(
        *,
        name: str = "Test Wallet",
        sign_in: bool = True,
        decline: bool = False,
        mode: str = "approve",
        decline_message: str = "",
        keypair: Keypair | None = None,
        tamper: str = "",
        hang: bool = False,
        without: tuple[str, ...] = (),
        versions: list | None = None,
    ) -> TestWallet:
        wallet = TestWallet(name=name, keypair=keypair or Keypair(), other=Keypair())
        options = {
            "name": name,
            "signIn": sign_in,
            "decline": decline,
            "mode": mode,
            "declineMessage": decline_message,
            "tamper": tamper,
            "hang": hang,
            "without": list(without),
            "versions": versions,
            "accounts": [wallet_account(wallet.keypair), wallet_account(wallet.other)],
        }
        page.add_init_script(f"window.__testWallet = {json.dumps(options)};")
        page.add_init_script(path=WALLET_CORE_JS)
        page.add_init_script(path=WALLET_JS)
        return wallet

    return install
