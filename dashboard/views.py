"""Thin function views of the pages and lists: home, the orders page, its active and history
panels, an order's fills, the health check, and the page for a stale form."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_ratelimit.decorators import ratelimit

from dashboard import dca_auth, exports, freshness, relay, tracking
from dashboard.answers import HtmxHttpRequest, refused, render_panel, wallet_required
from dashboard.formatting import Amount, usd_text
from dashboard.forms import export_years
from dashboard.models import TrackedOrder
from dashboard.orders import OrderView, total_value

logger = logging.getLogger(__name__)
System = TrackedOrder.System


def home(request: HttpRequest) -> TemplateResponse:
    response = TemplateResponse(request, "home.html")
    if request.user.is_authenticated:  # the page names the wallet: never kept by a cache
        patch_cache_control(response, no_store=True, private=True)
    return response


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the database and the cache answer, else 503 naming the failed part."""
    failed = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.exception("health check: database unreachable")
        failed.append("database")
    try:
        cache.set("healthz", 1, 10)
        if cache.get("healthz") != 1:
            raise RuntimeError("cache did not keep a value")
    except Exception:
        logger.exception("health check: cache unreachable")
        failed.append("cache")
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed}, status=503)
    return JsonResponse({"status": "ok"})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the bridge's requests (they carry X-CSRFToken) get the one JSON shape
    saying the page is stale, not an HTML page it would read as "signed out"; a form (Sign out
    from a tab opened before a sign-in elsewhere) gets a plain page saying so, with a working
    Sign out or Sign in (its form carries the browser's current token). Nothing was done."""
    if "X-CSRFToken" in request.headers:
        return refused("stale_page", next_step="reload", status=403)
    return render(request, "stale_page.html", status=403)


@wallet_required
def orders(request: HtmxHttpRequest) -> TemplateResponse:
    context = {"export_formats": exports.FORMATS.items(), "export_years": export_years(timezone.now().date())}
    return TemplateResponse(request, "orders/page.html", context)


# Views of the order lists, per client address and per wallet (settings RATELIMIT_LISTS): past
# the limit they show what was last seen, without calling Jupiter.
LISTS_LIMITED = (
    "You refreshed your orders very often in the last minute. This shows what we last saw; "
    "fresh data will be back in a moment."
)


def lists_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    view = ratelimit(group="lists", key="dashboard.limits.wallet_key", rate="dashboard.limits.lists_rate", block=False)(
        view
    )
    return ratelimit(group="lists", key="ip", rate="dashboard.limits.lists_rate", block=False)(view)


def board_for(
    request: HttpRequest, status: str, access: dca_auth.Access, marks: dict[str, freshness.Mark] | None = None
) -> tracking.Board:
    """Both systems' lists (v2 only with the wallet's token), live or last-known; last-known
    only once the request is over the limit."""
    wallet = request.user.username
    if getattr(request, "limited", False):
        return tracking.last_known_board(wallet, status, LISTS_LIMITED, access.connected)
    return tracking.list_board(wallet, status, access.token or None, marks)


@wallet_required
@vary_on_headers("HX-Request")
@lists_limited
def orders_active(request: HtmxHttpRequest) -> HttpResponse:
    return orders_panel(request, "active", "orders/active.html")


@wallet_required
@vary_on_headers("HX-Request")
@lists_limited
def orders_history(request: HtmxHttpRequest) -> HttpResponse:
    return orders_panel(request, "history", "orders/history.html")


def orders_panel(request: HtmxHttpRequest, status: str, template: str) -> HttpResponse:
    """One list of the wallet's orders, Recurring v1 and DCA v2 together. The htmx fragment of
    live data is kept rendered while its pages are fresh, so repeat views cost neither upstream
    calls nor template work."""
    wallet = request.user.username
    access = dca_auth.access(wallet)
    marks = freshness.marks(wallet, status)
    key = tracking.panel_key(wallet, status, access.state, marks)
    if request.htmx and (cached := tracking.cached_panel(key, marks)) is not None:
        return HttpResponse(cached)
    board = board_for(request, status, access, marks)
    limited = getattr(request, "limited", False) and not request.htmx  # htmx shows a 200's body only
    context = panel_context(request, status, board, access)
    response = render_panel(request, template, context, status=429 if limited else 200)
    if request.htmx:
        response.add_post_render_callback(lambda r: tracking.store_panel(key, board, r.content))
    return response


def panel_context(request: HttpRequest, status: str, board: tracking.Board, access: dca_auth.Access) -> dict[str, Any]:
    """What a list's panel reads (after forgetting a token Jupiter refused)."""
    context = board_context(board, dca_access_after(request, board, access))
    # Stopped orders whose latest refund we refused: their cards say so and offer to try again.
    context["refund_refused"] = relay.refused_refunds(request.user.username) if status == "active" else set()
    # "No active orders" rather than "none yet" once this wallet was seen with closed ones.
    context["has_closed"] = (
        status == "active" and not context["orders"] and tracking.has_closed_orders(request.user.username)
    )
    return context


def active_panel(request: HttpRequest) -> str:
    """The active list's panel as it is now, for a JSON answer after which the page must show it
    at once (an order cancelled, or stopped with its refund waiting): built like the list's own
    view (same caches and marks), never older than what it showed."""
    wallet = request.user.username
    access = dca_auth.access(wallet)
    board = board_for(request, "active", access, freshness.marks(wallet, "active"))
    return render_to_string("orders/active.html#panel", panel_context(request, "active", board, access), request)


def dca_access_after(request: HttpRequest, board: tracking.Board, access: dca_auth.Access) -> dca_auth.Access:
    """When Jupiter refused the wallet's token, forget it: the page asks for the signature again."""
    if access.connected and board.v2.needs_connect:
        dca_auth.end(request.user.username)
        return dca_auth.Access("ended")
    return access


STOPPED = "withdrawing"  # a v2 order Jupiter stopped, its refund waiting for the wallet's approval


def board_context(board: tracking.Board, access: dca_auth.Access) -> dict[str, Any]:
    """What the list templates read. The token itself never enters a template context.

    Stopped orders (their refund waiting) are named first and left out of the totals; the totals
    cover what is live for this wallet — the older (v1) orders unless Jupiter switched them off,
    the newer (v2) ones once connected — and say so (`cover`)."""
    views = tracking.describe(board.orders)
    stopped = [v for v in views if v.dca is not None and v.dca.state == STOPPED]
    covered = {System.RECURRING: not board.v1.retired, System.DCA: access.connected}
    counted = [v for v in views if covered[v.system] and v not in stopped]
    shared = bool(board.v1.problem and board.v2.problem and access.connected and board.v1.cause == board.v2.cause)
    return {
        "listing": board.v1,
        "dca": board.v2,
        "dca_state": access.state,
        "dca_expires": access.expires_at,
        "orders": views,
        "totals": total_value(counted),
        "cover": {
            "count": len(counted),
            "newer_missing": not access.connected,
            "older_retired": board.v1.retired,
            "left_out": len(views) - len(counted) - len(stopped),
            "prices_down": any(v.input_token.price_unavailable or v.output_token.price_unavailable for v in counted),
        },
        "stopped": stopped,
        "waiting": waiting_refunds(stopped),
        # One failure, one banner: both lists last-known for the same cause say it once.
        "one_banner": shared,
        "last_seen": min((x.as_of for x in (board.v1, board.v2) if x.as_of), default=None) if shared else None,
    }


def waiting_refunds(stopped: list[OrderView]) -> dict[str, Any]:
    """What the stopped orders' refunds give back, per token, and its worth in USD when every
    price is known ("190 USDC (≈ $190.00)")."""
    sums: dict[str, Amount] = {}
    unknown = 0
    for view in stopped:
        remaining = view.funds.remaining
        if remaining is None:
            unknown += 1
            continue
        before = sums.get(remaining.token.mint)
        sums[remaining.token.mint] = Amount(remaining.value + (before.value if before else 0), remaining.token)
    worth = [a.usd for a in sums.values()]
    known = not unknown and sums and all(w is not None for w in worth)
    return {"amounts": list(sums.values()), "unknown": unknown, "usd": usd_text(sum(worth)) if known else ""}


@wallet_required
@vary_on_headers("HX-Request")
def order_fills(request: HtmxHttpRequest, order_key: str) -> TemplateResponse:
    """Every fill of one of the wallet's orders (either system), as last seen (no upstream call)."""
    order = tracking.tracked_order(request.user.username, order_key, any_status=True, system=None)
    context = {"o": tracking.describe([order])[0] if order else None}
    return render_panel(request, "orders/fills.html", context)
