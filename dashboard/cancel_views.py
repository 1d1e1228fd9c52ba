"""Cancelling an order: the confirmation, the JSON steps static/js/orders.js drives (start,
submit, decline, status) and the wallet's recent cancel requests."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from dashboard import dca_auth, messages, relay, tracking
from dashboard.answers import HtmxHttpRequest, answer, json_endpoint, jupiter_busy, render_panel, wallet_required
from dashboard.forms import SignedTransactionForm
from dashboard.models import CancelAttempt, TrackedOrder
from dashboard.orders import ACCOUNT_RENT_WORDS
from dashboard.views import active_panel

System = TrackedOrder.System


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
