"""The wallet's account: signing in with Solana, signing out (here or everywhere), and connecting
to Jupiter's DCA (challenge, verify, disconnect)."""

from __future__ import annotations

import base64
from functools import wraps
from typing import Any

from django.contrib.auth import get_user_model, login, logout
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_ratelimit.decorators import ratelimit

from dashboard import dca_auth, limits, messages, siws, tracking, trigger
from dashboard.answers import (
    HtmxHttpRequest,
    View,
    answer,
    body_limit,
    json_body,
    json_endpoint,
    jupiter_busy,
    slow_down,
    wallet_required,
)
from dashboard.forms import (
    DcaForm,
    DcaVerifyForm,
    Refusal,
    SignInChallengeForm,
    SignInTransactionForm,
    SignInVerifyForm,
)
from dashboard.middleware import mark_signed_in
from dashboard.views import orders_panel

# --- Sign-In With Solana ---


def _refuse(refusal: siws.SignInError | Refusal, status: int = 400) -> JsonResponse:
    """A refused sign-in: its code, its words, the field at fault when one is; start again."""
    field = {"field": refusal.field} if refusal.field else {}
    return answer("refused", refusal.message, code=refusal.code, next_step="retry", status=status, **field)


CLEANUP_SECONDS = 3600  # expired sessions and challenges are deleted at most this often by sign-ins


def sign_in_endpoint(view: View) -> View:
    """A sign-in step: POST only, a JSON body of at most `siws.MAX_BODY_BYTES`, limited per client
    address (django-ratelimit); past the limit it answers `slow_down` and does nothing."""

    @wraps(view)
    def within_limit(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "limited", False):
            return slow_down()
        return view(request, *args, **kwargs)

    limited = ratelimit(group="sign-in", key="ip", rate="dashboard.limits.sign_in_rate", block=False)(within_limit)
    return body_limit(siws.MAX_BODY_BYTES)(require_POST(limited))


@sign_in_endpoint
def sign_in_challenge(request: HttpRequest) -> JsonResponse:
    data = json_body(request)
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


@sign_in_endpoint
def sign_in_verify(request: HttpRequest) -> JsonResponse:
    data = json_body(request)
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


@body_limit(siws.MAX_BODY_BYTES)
@json_endpoint(limit=("dca-connect", "dashboard.limits.sign_in_rate"))
def dca_challenge(request: HtmxHttpRequest) -> JsonResponse:
    """Jupiter's challenge for the session's wallet, checked and kept for this session; the bridge
    has the wallet sign exactly this (`challenge`: the text, or `transaction`: the memo transaction)."""
    data = json_body(request)
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


@body_limit(siws.MAX_BODY_BYTES)
@json_endpoint(limit=("dca-connect", "dashboard.limits.sign_in_rate"))
def dca_verify(request: HtmxHttpRequest) -> JsonResponse:
    """Check the wallet's signature of its challenge, then get and keep the token for the wallet
    (server-side only: the answer says when it ends, never what it is)."""
    data = json_body(request)
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
