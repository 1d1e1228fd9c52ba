"""Thin function views: validate, call one domain function, render."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model, login, logout
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.log import log_response
from django.views import csrf
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event
from django_htmx.middleware import HtmxDetails
from django_ratelimit.decorators import ratelimit

from dashboard import budget, dca_auth, encoding, exports, freshness, limits, messages, relay, siws, tracking, trigger
from dashboard.formatting import Amount, usd_text
from dashboard.forms import (
    DcaForm,
    DcaVerifyForm,
    ExportForm,
    Refusal,
    SignedTransactionForm,
    SignInChallengeForm,
    SignInTransactionForm,
    SignInVerifyForm,
    export_years,
)
from dashboard.middleware import mark_signed_in
from dashboard.models import CancelAttempt, TrackedOrder
from dashboard.orders import ACCOUNT_RENT_WORDS, OrderView, total_value

logger = logging.getLogger(__name__)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


View = Callable[..., HttpResponse]
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


# --- the JSON answers static/js/bridge.js reads (sign-in, and orders.js's cancel steps through it) ---
#
# One shape: {"state": what happened, "code": a stable code for it (`dashboard.messages`; null when
# there is nothing more to say than the state), "message": plain words for the trader, "next": what
# the trader can do now ("retry", "refresh", "sign_in", "wait", "finish" — a stopped DCA v2 order
# waits for a fresh refund — "connect" — connect to Jupiter's DCA again — or null), ...payload}.
# The browser decides on `state`, `code` and `next`, never on the words. HTTP statuses: 200 done;
# 400 what was sent is not acceptable; 403 not allowed (the session ended: "next": "sign_in", or a
# sign-in proof for another site or key); 404 not found for this wallet — another wallet's order or
# cancel attempt gets the very answer a made-up one gets, so ids reveal nothing; 409 a conflict
# with what already happened (used, sent, closed, expired); 429 slow down, with Retry-After
# (inbound rate limits: settings RATELIMIT_SIGN_IN, RATELIMIT_CANCEL); 502 Jupiter failed or
# offered something we cannot vouch for; 503 Jupiter is busy (its rate limit): nothing was sent,
# with Retry-After as Jupiter said.

SLOW_DOWN_SECONDS = 60  # the rate windows are per minute, and the message says "a minute"


def answer(
    state: str,
    message: str = "",
    *,
    code: str | None = None,
    next_step: str | None = None,
    status: int = 200,
    **payload: Any,
) -> JsonResponse:
    """Every JSON answer the bridge reads, in its one shape."""
    return JsonResponse(
        {"state": state, "code": code or None, "message": message, "next": next_step, **payload}, status=status
    )


def refused(code: str, *, next_step: str | None = None, status: int = 400) -> JsonResponse:
    """A refusal of ours, in its words (`dashboard.messages`)."""
    return answer("refused", messages.words(code), code=code, next_step=next_step, status=status)


def slow_down() -> JsonResponse:
    """The answer to a rate-limited JSON request."""
    response = refused("slow_down", next_step="wait", status=429)
    response["Retry-After"] = str(SLOW_DOWN_SECONDS)
    return response


def jupiter_busy(request: HttpRequest, response: JsonResponse, retry_after: int) -> JsonResponse:
    """Jupiter answered 429 (nothing was sent): 503 with Jupiter's own wait as Retry-After, logged
    at WARNING — a busy Jupiter is not a fault of the dashboard's."""
    response.status_code = 503
    response["Retry-After"] = str(retry_after)
    log_response("Jupiter is busy: %s", request.path, response=response, request=request, level="warning")
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the bridge's requests (they carry X-CSRFToken) get the one JSON shape
    saying the page is stale, not an HTML page it would read as "signed out"; forms get Django's."""
    if "X-CSRFToken" in request.headers:
        return refused("stale_page", next_step="reload", status=403)
    return csrf.csrf_failure(request, reason)


# --- Sign-In With Solana ---


def _refuse(refusal: siws.SignInError | Refusal, status: int = 400) -> JsonResponse:
    """A refused sign-in: its code, its words, the field at fault when one is; start again."""
    field = {"field": refusal.field} if refusal.field else {}
    return answer("refused", refusal.message, code=refusal.code, next_step="retry", status=status, **field)


CLEANUP_SECONDS = 3600  # expired sessions and challenges are deleted at most this often by sign-ins
MAX_JSON_DEPTH = 4  # the sign-in bodies are flat objects


def _json_body(request: HttpRequest) -> dict | None:
    """The request's JSON object, or None when it is too large, too deep or not a JSON object."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if declared > siws.MAX_BODY_BYTES or len(request.body) > siws.MAX_BODY_BYTES:
        return None
    if encoding.nesting_depth(request.body) > MAX_JSON_DEPTH:
        return None
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@require_POST
@ratelimit(group="sign-in", key="ip", rate="dashboard.limits.sign_in_rate", block=False)
def sign_in_challenge(request: HttpRequest) -> JsonResponse:
    if getattr(request, "limited", False):
        return slow_down()
    data = _json_body(request)
    form = SignInChallengeForm(data)
    if data is None or not form.is_valid():
        return _refuse(form.refusal())
    request.session["sign_in_started"] = True  # marks the session modified so its cookie is sent
    if not request.session.session_key:
        request.session.save()
    challenge = siws.issue_challenge(
        request.session.session_key,
        domain=request.get_host(),
        uri=request.build_absolute_uri("/"),
        address=form.cleaned_data["address"],
    )
    data = siws.challenge_input(challenge)
    if form.cleaned_data["type"] == "transaction":  # wallets that cannot sign messages
        data["transaction"] = base64.b64encode(siws.challenge_transaction(challenge)).decode()
    return answer("challenge", messages.words("approve_sign_in"), code="approve_sign_in", **data)


@require_POST
@ratelimit(group="sign-in", key="ip", rate="dashboard.limits.sign_in_rate", block=False)
def sign_in_verify(request: HttpRequest) -> JsonResponse:
    if getattr(request, "limited", False):
        return slow_down()
    data = _json_body(request)
    if data is None:
        return _refuse(Refusal("bad_request"))
    by_transaction = "signedTransaction" in data  # a wallet that cannot sign messages
    form = SignInTransactionForm(data) if by_transaction else SignInVerifyForm(data)
    if not form.is_valid():
        return _refuse(form.refusal())
    signed = form.cleaned_data
    session = {"session_key": request.session.session_key or "", "host": request.get_host()}
    try:
        if by_transaction:
            address = siws.verify_sign_in_transaction(
                **session,
                address=signed["address"],
                signed_transaction=signed["signedTransaction"],
                nonce=signed["nonce"],
            )
        else:
            address = siws.verify_sign_in(
                **session,
                address=signed["address"],
                signed_message=signed["signedMessage"],
                signature=signed["signature"],
                nonce=signed["nonce"],
            )
    except siws.SignInError as exc:
        return _refuse(exc, exc.status)
    # Counted per wallet only now, with the wallet's own signature verified: refused requests
    # naming someone else's address can never use up that wallet's sign-ins.
    if limits.wallet_signed_in_too_often(request, address):
        return slow_down()
    login(request, siws.get_wallet_user(address))
    mark_signed_in(request)
    if cache.add("cleanup", 1, CLEANUP_SECONDS):  # `manage.py cleanup` as well, at most hourly
        siws.clear_expired()
        dca_auth.clear_expired()
    return answer("signed_in", messages.words("signed_in"), code="signed_in", address=address)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponseRedirect:
    """Sign this browser out; with `everywhere`, end every session of the wallet (on any device)
    and forget its connection to Jupiter's DCA as well."""
    if request.POST.get("everywhere") and request.user.is_authenticated:
        wallet = request.user.username
        dca_auth.forget(wallet)
        connection_changed(wallet)
        # Django ends a session whose stored hash no longer matches the user's: a new unusable
        # password changes it for every session of this wallet at once.
        user = get_user_model().objects.get(pk=request.user.pk)
        user.set_unusable_password()
        user.save(update_fields=["password"])
    logout(request)
    return redirect("home")


# --- the orders dashboard ---


def wallet_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in wallets only; htmx requests are sent to the home page as a whole."""

    def signed_out(request: HtmxHttpRequest) -> HttpResponse:
        return HttpResponseClientRedirect(reverse("home")) if request.htmx else redirect("home")

    return _signed_in_only(view, signed_out)


def wallet_required_json(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in wallets only, for the JSON endpoints: the bridge reads why and says so."""
    return _signed_in_only(
        view,
        lambda request: answer(
            "signed_out", messages.words("signed_out"), code="signed_out", next_step="sign_in", status=403
        ),
    )


def _signed_in_only(
    view: Callable[..., HttpResponse], signed_out: Callable[[HtmxHttpRequest], HttpResponse]
) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            response = signed_out(request)
        else:
            # Jupiter list calls made for this request count against the wallet's and the client's
            # fair share of the list budget.
            client = limits.client_address(request)
            with budget.charged_to(f"wallet:{request.user.username}", f"client:{client}"):
                response = view(request, *args, **kwargs)
        patch_cache_control(response, no_store=True, private=True)
        return response

    return wrapper


def json_endpoint(*, limit: tuple[str, str] | None = None, refuse_past_limit: bool = True) -> Callable[[View], View]:
    """A signed-in JSON endpoint: POST only, signed-in wallets only (else the one "signed out"
    answer), and with `limit=(group, rate)` limited per client address and per wallet (both
    counted, django-ratelimit); past either it answers `slow_down` and does nothing — or, with
    `refuse_past_limit=False`, the view reads `request.limited` and answers itself."""

    def decorate(view: View) -> View:
        @wraps(view)
        def within_limits(request: HtmxHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if refuse_past_limit and getattr(request, "limited", False):
                return slow_down()
            return view(request, *args, **kwargs)

        inner: View = within_limits
        if limit is not None:
            group, rate = limit
            inner = ratelimit(group=group, key="dashboard.limits.wallet_key", rate=rate, block=False)(inner)
            inner = ratelimit(group=group, key="ip", rate=rate, block=False)(inner)
        return require_POST(wallet_required_json(inner))

    return decorate


def render_panel(request: HtmxHttpRequest, template: str, context: dict[str, Any], **kwargs: Any) -> TemplateResponse:
    """The template's `panel` partial alone for htmx, else the whole page around it (every
    fragment URL works without htmx)."""
    return TemplateResponse(request, f"{template}#panel" if request.htmx else template, context, **kwargs)


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


@wallet_required
@lists_limited
def orders_export(request: HtmxHttpRequest) -> HttpResponse:
    """Every deposit, fill and refund of the wallet's orders (both systems, active and closed) as
    one file: plain CSV (also `;`-separated), Koinly or CoinTracker, all years or one (UTC),
    streamed. Past the list limit, or while Jupiter fails, what was last seen, said in the file
    name (and the plain CSV's first line); when nothing is known of a list, no file: 429 with
    Retry-After when the limit starved it, else 503."""
    wallet = request.user.username
    form = ExportForm(request.GET, today=timezone.now().date())
    if not form.is_valid():
        return TemplateResponse(request, "orders/export_unavailable.html", {"message": form.first_error()}, status=400)
    fmt, year = form.cleaned_data["format"], form.cleaned_data["year"]
    access = dca_auth.access(wallet)
    if getattr(request, "limited", False):
        boards = [board_for(request, status, access) for status in tracking.STATUSES]
    else:
        boards = tracking.list_boards(wallet, access.token or None)
    for board in boards:
        access = dca_access_after(request, board, access)
    # v2 lists this session cannot read (not connected, or Jupiter refused the token) add what was
    # last seen of them, if anything; the others must be known.
    listings = [listing for board in boards for listing in (board.v1, board.v2)]
    unknown = [listing for listing in listings if listing.problem and not listing.as_of and not listing.needs_connect]
    if unknown:  # nothing known about one of the lists: an export would be incomplete
        limited = any(listing.rate_limited for listing in unknown)
        response = TemplateResponse(
            request, "orders/export_unavailable.html", {"listing": unknown[0]}, status=429 if limited else 503
        )
        if limited:
            response["Retry-After"] = str(SLOW_DOWN_SECONDS)
        return response
    views = tracking.describe([o for board in boards for o in board.orders])
    every = exports.ledger(views, exports.cancel_fees(wallet))
    rows = [row for row in every if year is None or row.when.year == year]
    if year is not None and not rows:  # an empty year gets words, not a file with a header alone
        context = {"year": year, "years": exports.years(every), "fmt": fmt}
        return TemplateResponse(request, "orders/export_empty.html", context)
    stale = [listing for listing in listings if listing.problem and listing.as_of]
    as_of = min((listing.as_of for listing in stale), default=None)
    note = export_note(as_of, stale[0].problem) if as_of is not None else ""
    response = StreamingHttpResponse(exports.lines(fmt, rows, note), content_type="text/csv; charset=utf-8")
    name = exports.file_name(wallet, fmt, year, timezone.now(), as_of)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def export_note(as_of: datetime, problem: str) -> str:
    """The first line of a plain export made from last-known data, in plain words."""
    return (
        f"# Last-known orders as of {as_of.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M} UTC. {problem} "
        "Anything after that time is missing: download again later for a complete file."
    )


# --- connecting to Jupiter's DCA (JSON endpoints used by static/js/connect.js) ---

CONNECT_STATUS = {"invalid": 400, "signed_out": 403, "conflict": 409, "upstream": 502}


def connect_refusal(request: HttpRequest, refusal: dca_auth.ConnectRefused) -> JsonResponse:
    """Nothing was sent to Jupiter (or Jupiter refused); the message says why, `next` what helps."""
    next_step = "sign_in" if refusal.reason == "signed_out" else "retry" if refusal.retry else None
    field = {"field": refusal.field} if refusal.field else {}
    response = answer(
        "refused",
        refusal.message,
        code=refusal.code,
        next_step=next_step,
        status=CONNECT_STATUS[refusal.reason],
        **field,
    )
    if refusal.retry_after is not None:
        return jupiter_busy(request, response, refusal.retry_after)
    return response


def form_refused(refusal: Refusal) -> dca_auth.ConnectRefused:
    return dca_auth.ConnectRefused(refusal.code, message=refusal.message, field=refusal.field)


@json_endpoint(limit=("dca-connect", "dashboard.limits.sign_in_rate"))
def dca_challenge(request: HtmxHttpRequest) -> JsonResponse:
    """Jupiter's challenge for the session's wallet, checked and kept for this session; the bridge
    has the wallet sign exactly this (`challenge`: the text, or `transaction`: the memo transaction)."""
    data = _json_body(request)
    form = DcaForm(data)
    if data is None or not form.is_valid():
        return connect_refusal(request, form_refused(form.refusal()))
    try:
        challenge = dca_auth.issue(request.user.username, form.cleaned_data["type"])
    except dca_auth.ConnectRefused as refusal:
        return connect_refusal(request, refusal)
    words = messages.words("approve_connect")
    data = {"type": challenge.type, "code": "approve_connect"}
    if challenge.type == trigger.MESSAGE:
        return answer("challenge", words, challenge=challenge.message, **data)
    return answer("challenge", words, transaction=base64.b64encode(challenge.transaction).decode(), **data)


@json_endpoint(limit=("dca-connect", "dashboard.limits.sign_in_rate"))
def dca_verify(request: HtmxHttpRequest) -> JsonResponse:
    """Check the wallet's signature of its challenge, then get and keep the token for the wallet
    (server-side only: the answer says when it ends, never what it is)."""
    data = _json_body(request)
    form = DcaVerifyForm(data)
    if data is None or not form.is_valid():
        return connect_refusal(request, form_refused(form.refusal()))
    signed = form.cleaned_data
    try:
        expires = dca_auth.connect(
            request.user.username,
            kind=signed["type"],
            signed_message=signed["signedMessage"],
            signature=signed["signature"],
            signed_transaction=signed["signedTransaction"],
        )
    except dca_auth.ConnectRefused as refusal:
        return connect_refusal(request, refusal)
    connection_changed(request.user.username)
    hours = int((expires - timezone.now()).total_seconds() // 3600)
    code = "connected" if hours > 1 else "connected_briefly"
    return answer("connected", messages.words(code, hours=hours), code=code, next_step="refresh")


def connection_changed(wallet: str) -> None:
    """The wallet's v2 lists are read another way now (live, or as last seen): no list rendered
    before may be shown again."""
    for status in tracking.STATUSES:
        tracking.expire_dca(wallet, status)


@require_POST
@wallet_required
@vary_on_headers("HX-Request")
def dca_disconnect(request: HtmxHttpRequest) -> HttpResponse:
    """Forget the wallet's connection to Jupiter's DCA at once; its newer orders show as last seen
    until the trader connects again. htmx gets the active list as it is now."""
    dca_auth.forget(request.user.username)
    connection_changed(request.user.username)
    if request.htmx:
        return orders_panel(request, "active", "orders/active.html")
    return redirect("orders")


# --- cancelling an order (the confirmation, and JSON endpoints used by static/js/orders.js) ---


@wallet_required
def cancel_confirm(request: HtmxHttpRequest, order_key: str) -> TemplateResponse:
    """What cancelling this order does, in plain words, with the button that starts it — said
    before any call to Jupiter (for a v2 order: that it is final from the moment of confirming)."""
    order = tracking.tracked_order(request.user.username, order_key, system=None)
    view = tracking.describe([order])[0] if order else None
    context: dict[str, Any] = {"o": view, "rent_words": ACCOUNT_RENT_WORDS}
    if view is not None and view.dca is not None:
        base, most = relay.refund_fee_lamports()
        context |= {
            "rounds_left": max(view.progress.total - view.progress.done, 0),
            "fee_sol": lamports_in_sol(base),
            "fee_most_sol": lamports_in_sol(most),
            "dca_state": dca_auth.access(request.user.username).state,
        }
    return render_panel(request, "orders/cancel_confirm.html", context)


def lamports_in_sol(lamports: int) -> str:
    return f"{(Decimal(lamports) / relay.LAMPORTS_PER_SOL).normalize():f}"


REFUSAL_STATUS = {"invalid": 400, "disconnected": 403, "not_found": 404, "conflict": 409, "upstream": 502}


def refusal(request: HttpRequest, refused: relay.CancelRefused) -> JsonResponse:
    """Nothing was relayed; the message says why, `next` whether a fresh try or the list can help.
    When Jupiter's DCA refused the wallet's token, the token is forgotten (connect again)."""
    if refused.reason == "disconnected":
        dca_auth.end(request.user.username)
    response = answer(
        "refused",
        refused.message,
        code=refused.code,
        next_step=refused.next_step,
        status=REFUSAL_STATUS[refused.reason],
    )
    if refused.retry_after is not None:
        return jupiter_busy(request, response, refused.retry_after)
    return response


ENDED = (CancelAttempt.State.FAILED, CancelAttempt.State.EXPIRED, CancelAttempt.State.REFUSED)


def cancel_answer(request: HttpRequest, attempt: CancelAttempt) -> JsonResponse:
    """Where an attempt stands (its state and code), in plain words, and what the trader can do
    now. When the list changed with it — the order cancelled, or a DCA order left stopped with its
    refund waiting — the answer carries the active list as it is now (`panel`), so the page shows
    both at once."""
    next_step = relay.next_step(attempt)
    if next_step == "connect":
        dca_auth.end(request.user.username)
    changed = attempt.state == CancelAttempt.State.SUCCEEDED or (
        attempt.system == System.DCA and attempt.state in ENDED
    )
    response = answer(
        attempt.state,
        attempt.outcome,
        code=attempt.code,
        next_step=next_step,
        attempt=attempt.pk,
        system=attempt.system,
        explorer_url=attempt.explorer_url,
        **({"panel": active_panel(request)} if changed else {}),
    )
    if attempt.retry_after is not None:
        return jupiter_busy(request, response, attempt.retry_after)
    return response


def dca_token(request: HttpRequest) -> str | None:
    """The wallet's Jupiter DCA token for the server's own calls (never sent to the browser)."""
    return dca_auth.access(request.user.username).token or None


@json_endpoint(limit=("cancel", "dashboard.limits.cancel_rate"))
def cancel_start(request: HtmxHttpRequest, order_key: str) -> JsonResponse:
    wallet = request.user.username
    order = tracking.tracked_order(wallet, order_key, system=None)
    cancelled_text = tracking.describe([order])[0].cancelled_text if order else ""
    try:
        issued = relay.start(wallet, order_key, cancelled_text, dca_token(request))
    except relay.CancelRefused as refused:
        return refusal(request, refused)
    code = "approve_refund" if issued.attempt.system == System.DCA else "approve_cancel"
    return answer(
        CancelAttempt.State.ISSUED,
        issued.words or messages.words(code),  # a v2 refund names what it gives back, as checked
        code=code,
        attempt=issued.attempt.pk,
        system=issued.attempt.system,
        transaction=base64.b64encode(issued.transaction).decode(),
        submit_url=reverse("cancel_submit", args=[issued.attempt.pk]),
        decline_url=reverse("cancel_decline", args=[issued.attempt.pk]),
        status_url=reverse("cancel_status", args=[issued.attempt.pk]),
    )


@json_endpoint(limit=("cancel", "dashboard.limits.cancel_rate"))
def cancel_submit(request: HtmxHttpRequest, attempt_id: int) -> JsonResponse:
    form = SignedTransactionForm(request.POST)
    if not form.is_valid():
        return refusal(request, relay.CancelRefused(form.refusal().code, reason="invalid"))
    try:
        attempt = relay.submit(
            request.user.username, attempt_id, form.cleaned_data["signed_transaction"], dca_token(request)
        )
    except relay.CancelRefused as refused:
        return refusal(request, refused)
    return cancel_answer(request, attempt)


@json_endpoint(limit=("cancel-status", "dashboard.limits.cancel_status_rate"))
def cancel_decline(request: HtmxHttpRequest, attempt_id: int) -> JsonResponse:
    """The trader declined in the wallet: the attempt ends, nothing was signed or sent."""
    try:
        return cancel_answer(request, relay.decline(request.user.username, attempt_id))
    except relay.CancelRefused as refused:
        return refusal(request, refused)


@json_endpoint(limit=("cancel-status", "dashboard.limits.cancel_status_rate"), refuse_past_limit=False)
def cancel_status(request: HtmxHttpRequest, attempt_id: int) -> JsonResponse:
    """Where a relayed cancel stands; settles a pending one by re-reading the order. Past the
    limit, where it stood when last known, without asking Jupiter."""
    try:
        if getattr(request, "limited", False):
            return cancel_answer(request, relay.find(request.user.username, attempt_id))
        return cancel_answer(request, relay.reconcile(request.user.username, attempt_id, dca_token(request)))
    except relay.CancelRefused as refused:
        return refusal(request, refused)


@wallet_required
@vary_on_headers("HX-Request")
def cancel_attempts(request: HtmxHttpRequest) -> TemplateResponse:
    """The wallet's recent cancel requests as recorded (a GET never calls Jupiter), grouped by
    order (the order of its latest attempt first), each named by its pair and schedule. While one
    is still confirming, the panel asks `settle_cancels` to settle it."""
    wallet = request.user.username
    attempts = list(CancelAttempt.objects.filter(wallet=wallet)[:10])
    unsettled = any(a.state in (CancelAttempt.State.PENDING, CancelAttempt.State.SENDING) for a in attempts)
    keys = list(dict.fromkeys(a.order_key for a in attempts))
    known = tracking.tracked_orders(wallet, keys)
    views = {v.order_key: v for v in tracking.describe(list(known.values()))}
    groups = [
        {"order_key": key, "order": views.get(key), "attempts": [a for a in attempts if a.order_key == key]}
        for key in keys
    ]
    return render_panel(request, "orders/attempts.html", {"groups": groups, "unsettled": unsettled})


@require_POST
@wallet_required
@vary_on_headers("HX-Request")
def settle_cancels(request: HtmxHttpRequest) -> HttpResponse:
    """Settle the wallet's cancels whose answer was lost, by re-reading its orders; then the list."""
    settled = relay.settle(request.user.username, dca_token(request))
    if not request.htmx:
        return redirect("cancel_attempts")
    response = cancel_attempts(request)
    if settled:  # the order lists on the page may have changed too
        trigger_client_event(response, "orders-changed")
    return response
