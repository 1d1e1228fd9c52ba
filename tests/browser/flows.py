"""Steps the browser tests share: signing in, and a hand-made order with known figures."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from solders.keypair import Keypair

from dashboard.sandbox import control
from dashboard.sandbox.models import SandboxOrder

USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
SOL = "So11111111111111111111111111111111111111112"


def screenshot(page, name: str, *, full_page: bool = False) -> None:
    """Save a screenshot for the README when SCREENSHOTS_DIR is set (`make screenshots`)."""
    folder = os.environ.get("SCREENSHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)


def active_element(page) -> dict:
    """Where the keyboard focus is: tag, id, class and text of document.activeElement."""
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return {tag: e.tagName, id: e.id, className: e.className, text: e.textContent.trim()}; }"""
    )


def in_view(page, selector: str) -> bool:
    """Whether the element is wholly inside the viewport (and not empty)."""
    return page.evaluate(
        """(s) => { const r = document.querySelector(s).getBoundingClientRect();
                    return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }""",
        selector,
    )


def _rgb(css: str) -> tuple[float, ...]:
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    return tuple(numbers[:3]) + ((numbers[3],) if len(numbers) > 3 else (1.0,))


def contrast(foreground: str, background: str, alpha: float = 1.0) -> float:
    """WCAG 2 contrast ratio of a CSS rgb()/rgba() colour (times `alpha`, e.g. an opacity) drawn
    over an opaque background."""
    fr, fg, fb, fa = _rgb(foreground)
    br, bg, bb, _ = _rgb(background)
    a = fa * alpha
    mixed = [f * a + b * (1 - a) for f, b in ((fr, br), (fg, bg), (fb, bb))]

    def luminance(rgb: list[float] | tuple[float, ...]) -> float:
        def channel(c: float) -> float:
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(c) for c in rgb[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(mixed), luminance((br, bg, bb))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def sign_in(page, live_server, wallet_name: str) -> None:
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="Connect wallet").click()
    page.get_by_role("button", name=wallet_name).click()
    page.wait_for_url(live_server.url + "/orders/")


def known_order(wallet: str) -> str:
    """300 USDC → SOL, 50 USDC a day; two fills: 50 USDC → 0.29 SOL and 50 USDC → 0.3 SOL.

    By hand: 2 of 6 buys (33%), spent 100 USDC, remaining 200 USDC, received 0.59 SOL,
    average 100 / 0.59 = 169.4915… → "1 SOL ≈ 169.49 USDC"; cancelling returns 200 USDC not yet
    spent, the 0.59 SOL bought and the account rent.
    """
    control.seed_wallet(wallet, active=0, history=0)
    now = timezone.now().replace(microsecond=0)
    key = str(Keypair().pubkey())
    fills = [
        {
            "rawInputAmount": "50000000",
            "rawOutputAmount": out,
            "rawFeeAmount": fee,
            "txId": str(Keypair().sign_message(out.encode())),
            "confirmedAt": (now - timedelta(days=days)).isoformat().replace("+00:00", "Z"),
            "keeper": str(Keypair().pubkey()),
        }
        for days, out, fee in ((2, "290000000", "290000"), (1, "300000000", "300000"))
    ]
    SandboxOrder.objects.create(
        order_key=key,
        user=wallet,
        input_mint=USDC,
        output_mint=SOL,
        raw_in_deposited=300_000_000,
        raw_in_used=100_000_000,
        raw_in_amount_per_cycle=50_000_000,
        raw_out_received=590_000_000,
        cycle_frequency=86400,
        open_tx=str(Keypair().sign_message(b"open")),
        close_tx="",
        created_at=now - timedelta(days=2, hours=1),
        updated_at=now - timedelta(days=1),
        fills=fills,
    )
    return key
