"""How the dashboard answers: the one JSON shape the wallet bridge reads, the signed-in gate
(`wallet_required`, `json_endpoint`), the request's JSON body, and a panel or its page."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.log import log_response
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails
from django_ratelimit.decorators import ratelimit

from dashboard import budget, encoding, limits, messages, siws


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


View = Callable[..., HttpResponse]


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


MAX_JSON_DEPTH = 4  # the sign-in bodies are flat objects
DISCARD_CHUNK = 64 * 1024


def body_limit(max_bytes: int) -> Callable[[View], View]:
    """This view takes a body of at most `max_bytes` (declared Content-Length); a larger one is
    refused before anything reads it (`dashboard.middleware.body_limit`). Without it a view takes
    up to `DATA_UPLOAD_MAX_MEMORY_SIZE`. Put it outermost, so the URL resolver sees it."""

    def mark(view: View) -> View:
        view.body_limit = max_bytes  # type: ignore[attr-defined]
        return view

    return mark


def declared_length(request: HttpRequest) -> int:
    """The request's Content-Length, 0 when missing or unreadable (as Django reads it)."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def too_large(request: HttpRequest, limit: int) -> JsonResponse:
    """A body over the limit: read to its end and dropped (the connection stays usable for the
    next request), refused as `too_large` (413) in the one JSON shape, logged as one WARNING line
    (no traceback: anyone may send one)."""
    declared = declared_length(request)
    while request.read(DISCARD_CHUNK):
        pass
    response = refused("too_large", status=413)
    log_response(
        "Request body too large (%s bytes, at most %s): %s",
        declared,
        limit,
        request.path,
        response=response,
        request=request,
        level="warning",
    )
    return response


def json_body(request: HttpRequest) -> dict | None:
    """The request's JSON object, or None when it is too deep or not a JSON object (its size is
    held to the view's `body_limit` before the view runs)."""
    if len(request.body) > siws.MAX_BODY_BYTES:
        return None
    if encoding.nesting_depth(request.body) > MAX_JSON_DEPTH:
        return None
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


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
