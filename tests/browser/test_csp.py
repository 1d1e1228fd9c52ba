"""The Content-Security-Policy holds in a real browser: sign-in, the orders dashboard and a
cancel run in headless Chromium with zero CSP violations and zero console errors (the
`page` fixture of conftest.py records both and fails the test on any)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dashboard.models import CancelAttempt
from dashboard.sandbox import control

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_dashboard_and_cancel_without_csp_violations(page, live_server, install_wallet):
    wallet = install_wallet()
    responses = []
    page.on("response", lambda r: responses.append(r) if r.url.startswith(live_server.url) else None)

    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name=wallet.name).click()
    page.wait_for_url(live_server.url + "/orders/")

    active = page.locator("#active-panel")
    cancel_link = active.get_by_role("button", name="Cancel this order").first
    expect(cancel_link).to_be_visible()
    cancel_link.click()
    page.get_by_role("button", name="Confirm cancel").click()
    expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled")

    attempt = CancelAttempt.objects.get(wallet=wallet.address)
    assert attempt.state == CancelAttempt.State.SUCCEEDED
    assert control.count_calls("execute", user=wallet.address) == 1

    # Every page and fragment carried the policy, and nothing in it allows inline code.
    html = [r for r in responses if r.headers.get("content-type", "").startswith("text/html")]
    assert html
    for response in html:
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, response.url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert page.errors == []


def test_the_policy_blocks_inline_code_and_the_check_sees_it(page, live_server):
    """Guards the test above: an inline script is refused and reported as a violation."""
    page.goto(live_server.url + "/")
    page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.textContent = 'window.__inlineRan = true;';
            document.body.append(s);
        }"""
    )
    assert page.evaluate("window.__inlineRan === undefined")
    for _ in range(50):  # the violation is reported asynchronously
        if any("CSP violation: script-src" in text for text, _ in page.errors):
            break
        page.wait_for_timeout(100)
    assert any("CSP violation: script-src" in text for text, _ in page.errors), page.errors
    page.errors.clear()  # expected here; the fixture fails the test on any error left
