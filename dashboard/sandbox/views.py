"""HTTP face of the sandbox: Recurring API v1, Tokens API v2 search, and the control endpoint
(the Trigger API v2 lives in trigger_views.py).

Every API view runs inside `sandbox_endpoint`, which applies the shared knobs (latency, rate
limit, injected faults), stamps `x-api-gateway-request-id` and writes the call log.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from solders.message import to_bytes_versioned

from dashboard import encoding
from dashboard.sandbox import control, keys, orders, seed, tokens, transactions, trigger_orders
from dashboard.sandbox.models import CancelRequest

logger = logging.getLogger(__name__)

NOT_CANCELLABLE = "Failed to deserialize account data: failed to fill whole buffer"
INSUFFICIENT_FUNDS = "Insufficient funds for the operation requested."
ALREADY_PROCESSED = "This transaction has already been processed"
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NON_JSON_BODY = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"
MAX_PAGE_DIGITS = 9

View = Callable[..., HttpResponse]


# --- responses -------------------------------------------------------------------------------


def bad_request(message: str) -> JsonResponse:
    return JsonResponse({"code": 400, "error": message, "status": "Bad Request"}, status=400)


def too_many_requests(headers: dict[str, str]) -> JsonResponse:
    response = JsonResponse({"code": 429, "message": "Too many requests"}, status=429)
    for name, value in headers.items():
        response[name] = value
    return response


def method_not_allowed(allowed: tuple[str, ...]) -> JsonResponse:
    response = JsonResponse({"code": 405, "error": "Method Not Allowed", "status": "Method Not Allowed"}, status=405)
    response["Allow"] = ", ".join(allowed)
    return response


def server_error() -> JsonResponse:
    return JsonResponse({"code": 500, "error": "Internal Server Error", "status": "Internal Server Error"}, status=500)


def gateway_fault(kind: str, seconds: float | None = None) -> HttpResponse:
    """The answer for an injected gateway fault ("500", "502", "403", "429" or "nonjson"). A 429
    carries Jupiter's rate-limit headers, its window resetting in `seconds` (default 1)."""
    if kind == "500":
        return server_error()
    if kind == "502":
        return HttpResponse(BAD_GATEWAY_HTML, status=502, content_type="text/html")
    if kind == "403":
        return JsonResponse({"code": 403, "message": "Forbidden"}, status=403)
    if kind == "429":
        return too_many_requests(
            {
                "x-ratelimit-remaining": "0",
                "x-ratelimit-current": "1",
                "x-ratelimit-reset": str(math.ceil(time.time() + (1 if seconds is None else seconds))),
            }
        )
    return HttpResponse(NON_JSON_BODY, status=200, content_type="text/html")


# --- request parsing -------------------------------------------------------------------------


MAX_JSON_DEPTH = 8  # every body the sandbox reads is a flat object


def json_object(request: HttpRequest) -> dict | None:
    """The request body as a JSON object, or None when it is not one (or nests too deeply to be one)."""
    if encoding.nesting_depth(request.body) > MAX_JSON_DEPTH:
        return None
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def call_details(request: HttpRequest) -> dict[str, str]:
    """user / order / requestId of a request, for the call log."""
    source: dict = dict(request.GET.items())
    if request.method == "POST":
        source = json_object(request) or {}
    return {k: v for k in ("user", "order", "requestId") if isinstance(v := source.get(k), str)}


def parse_page(raw: str) -> int | None:
    """A 1-based page number, or None when not a positive integer."""
    if not raw.isdigit() or len(raw) > MAX_PAGE_DIGITS or int(raw) < 1:
        return None
    return int(raw)


def missing_field(body: dict, names: tuple[str, ...]) -> str | None:
    """The first required field absent (or not a non-empty string) from a JSON body."""
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            return name
    return None


# --- the gateway wrapper ---------------------------------------------------------------------


def v1_gone(status: int) -> JsonResponse:
    """What the gateway answers once the Recurring API v1 is switched off (see control.switch_off_v1)."""
    return JsonResponse({"code": status, "message": "Gone" if status == 410 else "Not Found"}, status=status)


def sandbox_endpoint(
    endpoint: str, methods: tuple[str, ...], wrong_method: Callable[[tuple[str, ...]], HttpResponse] | None = None
) -> Callable[[View], View]:
    """Apply latency, rate limit and faults, stamp the gateway request id, log the call.

    `wrong_method` answers a method the endpoint does not take (default: a JSON 405).
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            details = call_details(request)
            request.sandbox_call = details  # views add what they learn (user, order, fault)
            knobs = control.knobs()
            if knobs.latency_ms:
                time.sleep(knobs.latency_ms / 1000)
            fault_kind = ""
            delay = 0.0
            if knobs.v1_status and endpoint in control.V1_ENDPOINTS:
                response: HttpResponse = v1_gone(knobs.v1_status)
                fault_kind = "v1_off"
            elif request.method not in methods:
                response = (wrong_method or method_not_allowed)(methods)
            else:
                decision = control.check_rate_limit(endpoint)
                fault = None if decision.limited else control.take_fault(endpoint, control.GATEWAY_FAULTS)
                if fault is not None:
                    fault_kind = fault.kind
                if decision.limited:
                    response = too_many_requests(decision.headers)
                elif fault is not None and fault.kind != "timeout":
                    response = gateway_fault(fault.kind, fault.seconds)
                else:
                    if fault is not None:
                        delay = control.DEFAULT_TIMEOUT_SECONDS if fault.seconds is None else fault.seconds
                    response = run_view(view, request, *args, **kwargs)
                for name, value in decision.headers.items():
                    response[name] = value
            response["x-api-gateway-request-id"] = uuid.uuid4().hex
            fault_kind = fault_kind or details.pop("fault", "")
            control.record_call(endpoint, request.method or "", response.status_code, details, fault_kind)
            if delay:
                time.sleep(delay)  # the work is done; only the answer is late
            return response

        return csrf_exempt(wrapper)

    return decorate


def run_view(view: View, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """Run an endpoint; an unexpected bug answers a JSON 500 rather than an HTML page."""
    try:
        return view(request, *args, **kwargs)
    except Exception:
        logger.exception("sandbox endpoint failed")
        return server_error()


# --- Recurring API v1 ------------------------------------------------------------------------


@sandbox_endpoint("getRecurringOrders", ("GET",))
def get_recurring_orders(request: HttpRequest) -> HttpResponse:
    """A page of a wallet's orders, seeding the wallet the first time it is seen."""
    query = request.GET
    for name in ("user", "orderStatus", "recurringType", "includeFailedTx"):
        if not query.get(name):
            return bad_request(f"Missing required query parameter: {name}")
    user, status, recurring_type = query["user"], query["orderStatus"], query["recurringType"]
    if keys.parse_pubkey(user) is None:
        return bad_request(f"Invalid user public key: {user}")
    if status not in ("active", "history"):
        return bad_request("Invalid orderStatus: must be one of active, history")
    if recurring_type not in ("time", "price", "all"):
        return bad_request("Invalid recurringType: must be one of time, price, all")
    if query["includeFailedTx"].lower() not in ("true", "false"):
        return bad_request("Invalid includeFailedTx: must be true or false")
    page = parse_page(query.get("page", "1"))
    if page is None:
        return bad_request("Invalid page: must be a positive integer")
    mint = query.get("mint") or None
    if mint is not None and keys.parse_pubkey(mint) is None:
        return bad_request(f"Invalid mint public key: {mint}")

    seed.ensure_seeded(user)
    items: list[dict] = []
    total_pages = 1
    if recurring_type != "price":  # the sandbox has no (deprecated) price orders
        found = orders.list_orders(user, status, page, mint)
        items = [orders.order_to_api(o, with_type=recurring_type == "all") for o in found.orders]
        total_pages = found.total_pages
    if control.drift() == "v1_list":  # the early live shape: the nested list, wrapped in "data"
        return JsonResponse({"data": {recurring_type: {"orders": items, "totalPages": total_pages, "page": page}}})
    return JsonResponse(
        {"user": user, "orderStatus": status, "totalPages": total_pages, "page": page, recurring_type: items}
    )


@sandbox_endpoint("cancelOrder", ("POST",))
def cancel_order(request: HttpRequest) -> HttpResponse:
    """Issue an unsigned transaction closing one of the wallet's active orders."""
    body = json_object(request)
    if body is None:
        return bad_request("Invalid request body: expected a JSON object")
    missing = missing_field(body, ("order", "user", "recurringType"))
    if missing:
        return bad_request(f"Missing required field: {missing}")
    user, order_key, recurring_type = body["user"], body["order"], body["recurringType"]
    if keys.parse_pubkey(user) is None:
        return bad_request(f"Invalid user public key: {user}")
    if keys.parse_pubkey(order_key) is None:
        return bad_request(f"Invalid order public key: {order_key}")
    if recurring_type not in ("time", "price"):
        return bad_request("Invalid recurringType: must be one of time, price")
    order = orders.find_cancellable(order_key, user) if recurring_type == "time" else None
    if order is None:
        return bad_request(NOT_CANCELLABLE)

    message = transactions.build_cancel_message(user, order.order_key, order.input_mint, order.output_mint)
    cancel = CancelRequest.objects.create(
        request_id=str(uuid.uuid4()),
        user=user,
        order_key=order.order_key,
        message=to_bytes_versioned(message),
        created_at=timezone.now(),
    )
    return JsonResponse({"requestId": cancel.request_id, "transaction": transactions.unsigned_transaction(message)})


@sandbox_endpoint("execute", ("POST",))
def execute(request: HttpRequest) -> HttpResponse:
    """Check a signed cancel transaction against the issued one and, if good, close the order."""
    body = json_object(request)
    if body is None:
        return bad_request("Invalid request body: expected a JSON object")
    missing = missing_field(body, ("requestId", "signedTransaction"))
    if missing:
        return bad_request(f"Missing required field: {missing}")
    cancel = CancelRequest.objects.filter(request_id=body["requestId"]).first()
    if cancel is None:
        return bad_request(f"Invalid requestId: {body['requestId']}")
    request.sandbox_call.update(user=cancel.user, order=cancel.order_key)
    try:
        tx = transactions.parse_signed(body["signedTransaction"])
    except transactions.MalformedTransaction as exc:
        return bad_request(str(exc))

    check = transactions.check_signed(tx, bytes(cancel.message), cancel.user)

    def failed(error: str) -> JsonResponse:
        return JsonResponse({"signature": check.signature, "status": "Failed", "order": None, "error": error})

    if cancel.executed_at is not None:
        return failed(ALREADY_PROCESSED)
    if not check.matches_issued:
        return failed("Transaction does not match the transaction issued for this requestId")
    if not check.user_signed:
        return failed("Transaction signature verification failure")
    age = (timezone.now() - cancel.created_at).total_seconds()
    if age > control.expiry_seconds():
        return failed("Blockhash not found")
    fault = control.take_fault("execute", control.EXECUTE_FAULTS)
    if fault is not None:
        request.sandbox_call["fault"] = fault.kind
        return failed(INSUFFICIENT_FUNDS if fault.kind == "insufficient_funds" else "Simulation failed")

    closed = orders.close_by_request(cancel, check.signature)
    if closed is None:
        cancel.refresh_from_db()
        if cancel.executed_at is not None:
            return failed(ALREADY_PROCESSED)
        return failed("Simulation failed: the order account is already closed (AccountNotInitialized)")
    return JsonResponse({"signature": check.signature, "status": "Success", "order": closed.order_key, "error": None})


# --- Tokens API v2 ---------------------------------------------------------------------------


@sandbox_endpoint("tokens", ("GET",))
def tokens_search(request: HttpRequest) -> HttpResponse:
    """Token metadata and prices for a comma-separated list of mints (unknown mints omitted)."""
    query = request.GET.get("query")
    if query is None:
        return bad_request("Missing required query parameter: query")
    found = tokens.search(query)
    if control.drift() == "tokens":  # `id` renamed, as the Tokens API v1 named it
        found = [{("address" if name == "id" else name): value for name, value in t.items()} for t in found]
    return JsonResponse(found, safe=False)


def token_accounts(request: HttpRequest) -> HttpResponse:
    """`GET ?wallet=…&address=…&address=…`: the sandbox wallet's stand-in for the RPC a real wallet
    reads while it shows a transaction (see `trigger_orders.token_accounts`). Not a Jupiter API."""
    if request.method != "GET":
        return method_not_allowed(("GET",))
    addresses = request.GET.getlist("address")[:32]
    return JsonResponse(trigger_orders.token_accounts(request.GET.get("wallet", ""), addresses))


# --- control (sandbox mode only, like the whole app) -----------------------------------------


def control_error(message: str) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message}, status=400)


def run_control_action(body: dict) -> dict:
    """Dispatch one control action to the Python API; raises ValueError/TypeError/KeyError on bad input."""
    action = body.get("action")
    if action == "reset":
        control.reset()
        return {}
    if action == "latency":
        control.set_latency(int(body["ms"]))
        return {}
    if action == "rate_limit":
        control.set_rate_limit(body.get("rps"))
        return {}
    if action == "expiry":
        control.set_expiry(int(body["seconds"]))
        return {}
    if action == "fault":
        control.inject_fault(str(body["endpoint"]), str(body["kind"]), int(body.get("times", 1)), body.get("seconds"))
        return {}
    if action == "seed":
        keys_ = control.seed_wallet(
            str(body["wallet"]),
            int(body.get("active", seed.DEFAULT_ACTIVE)),
            int(body.get("history", seed.DEFAULT_HISTORY)),
        )
        return {"orders": keys_}
    if action == "order":
        return {"order": control.get_order(str(body["order"]))}
    return run_trigger_action(action, body)


def run_trigger_action(action: object, body: dict) -> dict:
    """The Trigger API v2 (and v1 switch) control actions."""
    if action == "v1_off":
        control.switch_off_v1(body.get("status", 404))
        return {}
    if action == "dca_seed":
        seeded = control.seed_dca_wallet(
            str(body["wallet"]),
            bool(body.get("standard", True)),
            int(body.get("extra_past", 0)),
            int(body.get("extra_active", 0)),
        )
        return {"orders": seeded}
    if action == "dca_order":
        return {
            "order": control.get_dca_order(str(body["id"])),
            "withdrawals": control.dca_withdrawals(str(body["id"])),
        }
    if action == "dca_state":
        control.set_dca_state(str(body["id"]), str(body["state"]))
        return {}
    if action == "dca_withdrawal":
        control.set_dca_withdrawal_mode(str(body["mode"]))
        return {}
    if action == "dca_token_lifetime":
        control.set_dca_token_lifetime(int(body["seconds"]))
        return {}
    if action == "dca_challenge_lifetime":
        control.set_dca_challenge_lifetime(int(body["seconds"]))
        return {}
    if action == "drift":
        control.set_drift(body.get("shape"))
        return {}
    if action == "dca_expire_tokens":
        control.expire_dca_tokens()
        return {}
    raise ValueError(f"unknown action {action!r}")


@csrf_exempt
def control_view(request: HttpRequest) -> HttpResponse:
    """POST {"action": "reset"|"latency"|"rate_limit"|"expiry"|"fault"|"seed"|"order"|"v1_off"|"dca_seed"|
    "dca_order"|"dca_state"|"dca_withdrawal"|"dca_token_lifetime"|"dca_challenge_lifetime"|"dca_expire_tokens"|
    "drift", ...}."""
    if request.method != "POST":
        return method_not_allowed(("POST",))
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        # Exempt from CSRF for curl and tests, but never driven by another site's page.
        return JsonResponse({"ok": False, "error": "the sandbox control answers this site and curl only"}, status=403)
    body = json_object(request)
    if body is None:
        return control_error("expected a JSON object")
    try:
        result = run_control_action(body)
    except KeyError as exc:
        return control_error(f"missing field {exc.args[0]!r}")
    except (ValueError, TypeError, OverflowError) as exc:
        return control_error(f"a field has the wrong type or size ({type(exc).__name__}: {str(exc)[:80]})")
    return JsonResponse({"ok": True, **result})


@csrf_exempt
def control_calls(request: HttpRequest) -> HttpResponse:
    """GET ?endpoint=…[&user=…][&status=…]: how many calls the sandbox answered, per endpoint."""
    if request.method != "GET":
        return method_not_allowed(("GET",))
    filters: dict[str, object] = {}
    if user := request.GET.get("user"):
        filters["user"] = user
    if status := request.GET.get("status"):
        if not status.isdigit():
            return control_error("status must be an HTTP status code")
        filters["status"] = int(status)
    endpoint = request.GET.get("endpoint") or None
    by_endpoint = {name: control.count_calls(name, **filters) for name in control.ENDPOINTS}
    return JsonResponse(
        {"endpoint": endpoint, "count": control.count_calls(endpoint, **filters), "byEndpoint": by_endpoint}
    )
