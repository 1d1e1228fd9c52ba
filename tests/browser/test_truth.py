"""After every action the page tells the truth at once (issue 20), in real Chromium with the test
wallet: a cancelled order leaves the list, the totals and every count in the very answer that
says it was cancelled — ten times in a row, both systems, on one gunicorn worker and on two (each
with its own local-memory cache, the harshest case: nothing but the database is shared); a
declined refund puts the waiting money on the first screen; the Jupiter connection survives
signing out and in, and Disconnect forgets it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from solders.keypair import Keypair

from dashboard.sandbox import control, trigger_seed
from tests.browser.conftest import REPORT_CSP, WALLET_CORE_JS, WALLET_JS, wallet_account
from tests.browser.flows import screenshot, sign_in
from tests.servers import Gunicorn, clean_env, migrate

pytestmark = [pytest.mark.browser]
HTTP_TIMEOUT = 30.0
CANCELS = 10

# Installed in the page: at the moment the outcome line turns to "success", what the list shows.
# A MutationObserver runs right after the script that changed the page, before any other request
# could answer: it sees the list exactly as the trader sees it next to the success message.
WATCH = """() => {
  window.__atSuccess = [];
  const outcome = document.getElementById('cancel-outcome');
  new MutationObserver(() => {
    if (!outcome.classList.contains('success') || outcome.dataset.watched === outcome.textContent) return;
    outcome.dataset.watched = outcome.textContent;
    const panel = document.getElementById('active-panel');
    window.__atSuccess.push({
      orders: [...panel.querySelectorAll('article[data-order]')].map((a) => a.dataset.order),
      counted: Number(panel.querySelector('[data-counted]')?.dataset.counted || 0),
      asOf: panel.querySelector('.status.fresh time')?.getAttribute('datetime') || '',
    });
  }).observe(outcome, { attributes: true, childList: true, subtree: true, characterData: true });
}"""


@pytest.fixture(scope="module", params=[1, 2], ids=["one-worker", "two-workers"])
def server(request, tmp_path_factory) -> Iterator[Gunicorn]:
    """The dashboard on its own sandbox under gunicorn with `param` workers, on a fresh SQLite
    file, without Redis (each worker caches on its own), no keep-alive: each request may go to
    either worker. Its access log names the worker (pid) of every request."""
    folder = tmp_path_factory.mktemp(f"truth-{request.param}")
    env = clean_env(
        DASHBOARD_SANDBOX="1", DJANGO_ALLOW_PLAIN_HTTP="1", DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}"
    )
    migrate(env)
    args = ["dashboard.wsgi", "-k", "gthread", "--threads", "8", "--workers", str(request.param)]
    args += ["--keep-alive", "0", "--access-logfile", "-", "--access-logformat", "%(p)s %(m)s %(U)s %(s)s"]
    with Gunicorn(args, env, log_dir=folder, start_timeout=90) as running:
        running.workers = request.param
        yield running


def control_action(server: Gunicorn, action: str, **fields: object) -> dict:
    reply = requests.post(f"{server.url}/sandbox/control", json={"action": action, **fields}, timeout=HTTP_TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json()


def jupiter_calls(server: Gunicorn, endpoint: str, wallet: str) -> int:
    """How many calls of `endpoint` the sandbox answered for this wallet."""
    reply = requests.get(
        f"{server.url}/sandbox/control/calls", params={"endpoint": endpoint, "user": wallet}, timeout=HTTP_TIMEOUT
    )
    return reply.json()["count"]


@pytest.fixture
def open_page(browser) -> Iterator[Callable[..., object]]:
    """`open_page(keypair)`: a fresh page with the test wallet of `keypair`, console errors and
    CSP violations failing the test."""
    contexts, errors = [], []

    def make(keypair: Keypair, width: int = 1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on(
            "console",
            lambda m: errors.append(f"{m.text} ({m.location.get('url', '')})") if m.type == "error" else None,
        )
        page.on("pageerror", lambda exc: errors.append(f"Uncaught: {exc}"))
        page.add_init_script(REPORT_CSP)
        options = {"name": "Test Wallet", "signIn": True, "decline": False, "mode": "approve", "tamper": ""}
        options["accounts"] = [wallet_account(keypair), wallet_account(Keypair())]
        page.add_init_script(f"window.__testWallet = {json.dumps(options)};")
        page.add_init_script(path=str(WALLET_CORE_JS))
        page.add_init_script(path=str(WALLET_JS))
        return page

    yield make
    for context in contexts:
        context.close()
    # Chromium asks for /favicon.ico on its own; the page never references it.
    unexpected = [error for error in errors if "/favicon.ico" not in error]
    assert not unexpected, unexpected


def signed_in_and_connected(page, base: str) -> None:
    page.goto(f"{base}/")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name="Test Wallet").click()
    page.wait_for_url(f"{base}/orders/")
    page.get_by_role("button", name="Show my DCA orders").click()
    expect(page.locator("#active-panel [data-system='v2']").first).to_be_visible()


def test_ten_cancels_in_a_row_each_leave_the_list_and_the_totals_at_once(server, open_page):
    keypair = Keypair()
    wallet = str(keypair.pubkey())
    v1 = control_action(server, "seed", wallet=wallet, active=CANCELS // 2, history=0)["orders"]
    seeded = control_action(server, "dca_seed", wallet=wallet, standard=False, extra_active=CANCELS // 2)["orders"]
    v2 = [order["id"] for order in seeded]
    page = open_page(keypair)
    signed_in_and_connected(page, server.url)
    expect(page.locator("#active-panel article[data-order]")).to_have_count(CANCELS)
    page.evaluate(WATCH)
    order = [key for pair in zip(v1, v2, strict=True) for key in pair]  # v1, v2, v1, v2, …
    for done, key in enumerate(order, start=1):
        card = page.locator(f'#active-panel [data-order="{key}"]')
        card.locator("form.cancel-open button").click()
        card.locator(".confirm [data-cancel-start]").click()
        expect(page.locator("#cancel-outcome.success")).to_contain_text("Order cancelled")
        seen = page.evaluate("window.__atSuccess")
        assert len(seen) == done
        left = CANCELS - done
        assert key not in seen[-1]["orders"], f"cancel {done}: the order was still listed beside its success"
        assert len(seen[-1]["orders"]) == left
        assert seen[-1]["counted"] == left  # the totals count it no more
        if done > 1 and seen[-1]["asOf"] and seen[-2]["asOf"]:
            assert seen[-1]["asOf"] >= seen[-2]["asOf"]  # "as of" never moves backwards
        # and no later refresh brings it back (waiting until the refreshed list has replaced this one)
        page.evaluate("document.querySelectorAll('#active-panel > *').forEach((e) => { e.dataset.before = 1; })")
        page.get_by_role("link", name="Refresh").click()
        expect(page.locator("#active-panel [data-before]")).to_have_count(0)
        expect(page.locator("#active-panel article[data-order]")).to_have_count(left)
        expect(page.locator(f'#active-panel [data-order="{key}"]')).to_have_count(0)
    assert sum(control_action(server, "order", order=key)["order"]["status"] == "history" for key in v1) == len(v1)
    assert {control_action(server, "dca_order", id=key)["order"]["state"] for key in v2} == {"cancelled"}
    if server.workers == 2:  # the requests really went to both workers
        served = re.findall(r"^<(\d+)> (?:GET|POST) /orders/", Path(server.log_path).read_text(), re.M)
        assert len(set(served)) == 2, set(served)


def test_a_declined_refund_puts_the_waiting_money_on_the_first_screen(server, open_page):
    keypair = Keypair()
    wallet = str(keypair.pubkey())
    control_action(server, "seed", wallet=wallet, active=2, history=0)
    control_action(server, "dca_seed", wallet=wallet)  # the standard set: one already stopped (100 USDC)
    key = trigger_seed.order_id(wallet, "active")
    page = open_page(keypair)
    signed_in_and_connected(page, server.url)
    page.evaluate("window.__testWallet.mode = 'decline'")
    card = page.locator(f'#active-panel [data-order="{key}"]')
    card.locator("form.cancel-open button").click()
    card.locator(".confirm [data-cancel-start]").click()
    stopped = page.locator("#active-panel .stopped")
    expect(stopped).to_have_attribute("data-stopped-count", "2")
    expect(stopped.locator("h3")).to_contain_text("2 orders are stopped: 450 USDC")
    expect(stopped.locator("h3")).to_contain_text("waits for your approval")
    expect(stopped.get_by_role("button", name=re.compile("^Finish the refund"))).to_have_count(2)
    for width in (1280, 375):
        fresh = open_page(keypair, width)  # another browser: a sign-in, and the wallet's connection
        fresh.goto(f"{server.url}/")
        fresh.get_by_role("button", name="Connect wallet").click()
        fresh.get_by_role("button", name="Test Wallet").click()
        fresh.wait_for_url(f"{server.url}/orders/")
        line = fresh.locator("#active-panel .stopped h3")
        expect(line).to_contain_text("450 USDC")
        top = fresh.evaluate("() => document.querySelector('#active-panel .stopped h3').getBoundingClientRect().bottom")
        assert top <= fresh.viewport_size["height"], f"not on the first screen at {width} px"
        screenshot(fresh, f"truth-stopped-{width}.png")
        card = fresh.locator(f'#active-panel [data-order="{key}"]')
        expect(card).not_to_contain_text("Next buy")


def test_signing_out_and_in_keeps_the_connection_and_disconnect_forgets_it(server, open_page):
    keypair = Keypair()
    wallet = str(keypair.pubkey())
    control_action(server, "seed", wallet=wallet, active=2, history=0)
    page = open_page(keypair)
    signed_in_and_connected(page, server.url)
    assert jupiter_calls(server, "dca-verify", wallet) == 1  # one signature of Jupiter's message
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url(f"{server.url}/")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name="Test Wallet").click()  # a fresh sign-in proof
    page.wait_for_url(f"{server.url}/orders/")
    expect(page.locator("#active-panel [data-system='v2']").first).to_be_visible()
    expect(page.locator("#active-panel [data-dca-connect]")).to_have_count(0)
    assert jupiter_calls(server, "dca-verify", wallet) == 1  # no second signature
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"truth-connected-{width}.png")
    page.get_by_role("button", name="Disconnect").click()
    expect(page.locator("#active-panel [data-dca-connect]")).to_be_visible()
    expect(page.locator("#active-panel [data-system='v2']").first).to_be_visible()  # as last seen
    expect(page.locator("#active-panel .totals")).to_have_attribute("data-cover", "older")
    expect(page.locator("#active-panel .totals h3")).to_contain_text(
        "Your 2 older orders at today's price — connect to include your newer Jupiter DCA orders"
    )
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"truth-older-only-{width}.png")
    control_action(server, "seed", wallet=wallet, active=2, history=0)  # no cached answer helps: still asks
    page.get_by_role("link", name="Refresh").click()
    expect(page.locator("#active-panel [data-dca-connect]")).to_be_visible()


def test_sign_out_everywhere_ends_the_other_browsers_session(server, open_page):
    keypair = Keypair()
    wallet = str(keypair.pubkey())
    control_action(server, "seed", wallet=wallet, active=1, history=0)
    first, second = open_page(keypair), open_page(keypair)
    signed_in_and_connected(first, server.url)
    second.goto(f"{server.url}/")
    second.get_by_role("button", name="Connect wallet").click()
    second.get_by_role("button", name="Test Wallet").click()
    second.wait_for_url(f"{server.url}/orders/")
    expect(second.locator("#active-panel [data-system='v2']").first).to_be_visible()  # the wallet's connection
    first.get_by_role("button", name="Sign out everywhere").click()
    first.wait_for_url(f"{server.url}/")
    second.goto(f"{server.url}/orders/")
    second.wait_for_url(f"{server.url}/")  # signed out there too
    sign_in_again = second.get_by_role("button", name="Connect wallet")
    expect(sign_in_again).to_be_visible()
    sign_in_again.click()
    second.get_by_role("button", name="Test Wallet").click()
    second.wait_for_url(f"{server.url}/orders/")
    expect(second.locator("#active-panel [data-dca-connect]")).to_be_visible()  # the connection was forgotten


@pytest.mark.django_db(transaction=True)
def test_v1_switched_off_keeps_its_orders_as_last_seen(page, live_server, install_wallet):
    wallet = install_wallet()
    keys = control.seed_wallet(wallet.address, active=2, history=0)
    sign_in(page, live_server, wallet.name)
    expect(page.locator("#active-panel article[data-order]")).to_have_count(2)
    control.switch_off_v1(410)
    from dashboard import tracking

    tracking.invalidate(wallet.address)
    page.get_by_role("link", name="Refresh").click()
    expect(page.locator("#active-panel .status.calm")).to_contain_text("The 2 older orders below are shown as we last")
    for key in keys:
        card = page.locator(f'#active-panel [data-order="{key}"]')
        expect(card).to_contain_text("as last seen")
        expect(card.locator("form.cancel-open")).to_have_count(0)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"truth-v1-off-{width}.png")
