"""HTTP face of the simulated Trigger API v2 (DCA), mounted at /sandbox/trigger/v2/.

It follows Jupiter's documented and live behaviour (../shared/reference/jupiter-dca-v2-api.md):
product errors are `{"error": ...}`, validation errors add `{"details": {field: message}}` with
zod's wording, paths take no trailing slash (anything else under the prefix, and a wrong method,
answers Hono's plain-text "404 Not Found"), and every order call needs `Authorization: Bearer
<JWT>` from /auth/verify. Latency, rate limit, faults, the gateway request id and the call log come
from `views.sandbox_endpoint`, exactly as for v1.
"""

from __future__ import annotations

import math
import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from solders.message import to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature

from dashboard.sandbox import control, keys, transactions, trigger_auth, trigger_orders, trigger_seed
from dashboard.sandbox import trigger_transactions as withdrawals
from dashboard.sandbox.views import json_object, sandbox_endpoint

UNAUTHORIZED = "Unauthorized"
FORBIDDEN_USER = "Forbidden: userPubkey must match authenticated user"
VALIDATION_FAILED = "Request validation failed"
MALFORMED_JSON = "Malformed JSON in request body"
# The spec says 401 for a bad signature; the live API answers 400 "Challenge not found", as here.
CHALLENGE_NOT_FOUND = "Challenge not found"
ORDER_NOT_FOUND = "Order not found"
DCA_NOT_FOUND = "DCA order not found or you do not own it"
NOT_IN_CANCELLATION = "DCA order not in cancellation state"
NOT_IN_CACHE = "Withdrawal transaction not found in cache. Please initiate cancel again."
INVALID_FORMAT = "Invalid transaction format"
SIGNERS_MODIFIED = "Invalid withdrawal transaction: Transaction signers modified"
SIGNATURE_FAILED = "Invalid withdrawal transaction: Transaction signature verification failure"
NOT_FOUND_TEXT = "404 Not Found"
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_QUERY_DIGITS = 12


# --- responses -------------------------------------------------------------------------------


def error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def invalid(details: dict[str, str]) -> JsonResponse:
    return JsonResponse({"error": VALIDATION_FAILED, "details": details}, status=400)


def not_found_text(*_: object) -> HttpResponse:
    """Hono's default answer for a path (or method) it has no route for."""
    return HttpResponse(NOT_FOUND_TEXT, status=404, content_type="text/plain; charset=UTF-8")


def js_type(value: object, present: bool = True) -> str:
    """How zod names the type it received."""
    if not present:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "string"


def expect_string(body: dict, name: str, details: dict[str, str]) -> str | None:
    """A required string field, or None with zod's message recorded in `details`."""
    value = body.get(name)
    if isinstance(value, str):
        return value
    details[name] = f"Invalid input: expected string, received {js_type(value, name in body)}"
    return None


def expect_option(value: object, name: str, options: tuple[str, ...], details: dict[str, str]) -> str | None:
    if isinstance(value, str) and value in options:
        return value
    details[name] = "Invalid option: expected one of " + "|".join(f'"{o}"' for o in options)
    return None


def expect_wallet(body: dict, details: dict[str, str]) -> str | None:
    wallet = expect_string(body, "walletPubkey", details)
    if wallet is not None and keys.parse_pubkey(wallet) is None:
        details["walletPubkey"] = "Invalid Solana public key"
        return None
    return wallet


def query_number(raw: str | None, name: str, default: int, low: int, high: int | None, details: dict) -> int:
    """A query number coerced like `z.coerce.number().int().min(low).max(high)`."""
    if raw is None:
        return default
    text = raw.strip()
    try:
        value = float(text) if text else 0.0
    except ValueError:
        value = float("nan")
    if value != value or len(text) > MAX_QUERY_DIGITS:  # NaN, or absurdly long
        details[name] = "Invalid input: expected number, received NaN"
    elif not math.isfinite(value):
        details[name] = "Invalid input: expected number, received Infinity"
    elif value != int(value):
        details[name] = "Invalid input: expected int, received number"
    elif value < low:
        details[name] = f"Too small: expected number to be >={low}"
    elif high is not None and value > high:
        details[name] = f"Too big: expected number to be <={high}"
    else:
        return int(value)
    return default


# --- authentication ----------------------------------------------------------------------------


def authenticated_wallet(request: HttpRequest) -> str | None:
    """The wallet of a valid `Authorization: Bearer <JWT>`, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    knobs = control.knobs()
    return trigger_auth.read_token(token.strip(), time.time(), knobs.dca_token_generation)


def asked_for_someone_else(request: HttpRequest, wallet: str, body: dict | None = None) -> bool:
    """True when the request names a `userPubkey` that is not the token's wallet."""
    asked = request.GET.get("userPubkey")
    if asked is None and body is not None and isinstance(body.get("userPubkey"), str):
        asked = body["userPubkey"]
    return asked is not None and asked != wallet


def with_wallet(request: HttpRequest, body: dict | None = None) -> tuple[str | None, JsonResponse | None]:
    """The token's wallet (seeded with its orders on first sight), or the 401/403 to answer."""
    wallet = authenticated_wallet(request)
    if wallet is None:
        return None, error(UNAUTHORIZED, 401)
    request.sandbox_call["user"] = wallet
    if asked_for_someone_else(request, wallet, body):
        return None, error(FORBIDDEN_USER, 403)
    trigger_seed.ensure_seeded(wallet)
    return wallet, None


# --- auth ------------------------------------------------------------------------------------


@sandbox_endpoint("dca-challenge", ("POST",), wrong_method=not_found_text)
def auth_challenge(request: HttpRequest) -> HttpResponse:
    """A challenge for the wallet to sign: a message, or a memo-only transaction (never sent)."""
    body = json_object(request)
    if body is None:
        return error(MALFORMED_JSON)
    details: dict[str, str] = {}
    wallet = expect_wallet(body, details)
    kind = expect_option(body.get("type"), "type", trigger_auth.KINDS, details)
    if details or wallet is None or kind is None:
        return invalid(details)
    request.sandbox_call["user"] = wallet
    challenge = trigger_auth.issue_challenge(wallet, kind, timezone.now())
    return JsonResponse(trigger_auth.challenge_to_api(challenge))


@sandbox_endpoint("dca-verify", ("POST",), wrong_method=not_found_text)
def auth_verify(request: HttpRequest) -> HttpResponse:
    """A JWT for a wallet that signed one of its pending challenges, exactly; each challenge works once."""
    body = json_object(request)
    if body is None:
        return error(MALFORMED_JSON)
    details: dict[str, str] = {}
    kind = expect_option(body.get("type"), "type", trigger_auth.KINDS, details)
    wallet = expect_wallet(body, details)
    proof = None
    if kind == trigger_auth.MESSAGE:
        proof = expect_string(body, "signature", details)
    elif kind == trigger_auth.TRANSACTION:
        proof = expect_string(body, "signedTransaction", details)
    if details or wallet is None or proof is None:
        return invalid(details)
    request.sandbox_call["user"] = wallet
    knobs = control.knobs()
    now = timezone.now()
    if kind == trigger_auth.MESSAGE:
        signature = parse_signature(proof)
        redeemed = signature is not None and trigger_auth.redeem_message(
            wallet, signature, now, knobs.dca_challenge_seconds
        )
    else:
        try:
            tx = transactions.parse_signed(proof)
        except transactions.MalformedTransaction:
            return error(INVALID_FORMAT)
        redeemed = trigger_auth.redeem_transaction(wallet, tx, now, knobs.dca_challenge_seconds)
    if not redeemed:
        return error(CHALLENGE_NOT_FOUND)
    trigger_seed.ensure_seeded(wallet)
    token = trigger_auth.issue_token(wallet, time.time(), knobs.dca_token_seconds, knobs.dca_token_generation)
    return JsonResponse({"token": token})


def parse_signature(text: str) -> Signature | None:
    """A base58 64-byte ed25519 signature, or None."""
    if not 64 <= len(text) <= 88:
        return None
    try:
        return Signature.from_string(text)
    except (ValueError, TypeError):
        return None


# --- orders ----------------------------------------------------------------------------------


@sandbox_endpoint("dca-list", ("GET",), wrong_method=not_found_text)
def list_orders(request: HttpRequest) -> HttpResponse:
    """The token wallet's DCA orders: state=active|past, mint, limit 1-100, offset, sort, dir."""
    wallet, refused = with_wallet(request)
    if refused is not None:
        return refused
    query = request.GET
    details: dict[str, str] = {}
    group = query.get("state")
    if group is not None:
        group = expect_option(group, "state", tuple(trigger_orders.STATE_GROUPS), details)
    limit = query_number(query.get("limit"), "limit", 20, 1, 100, details)
    offset = query_number(query.get("offset"), "offset", 0, 0, None, details)
    sort = expect_option(query.get("sort", "updated_at"), "sort", tuple(trigger_orders.SORT_FIELDS), details)
    direction = expect_option(query.get("dir", "desc"), "dir", ("asc", "desc"), details)
    if details or sort is None or direction is None:
        return invalid(details)
    listing = trigger_orders.list_orders(wallet, group, query.get("mint") or None, limit, offset, sort, direction)
    drift = control.drift()
    return JsonResponse(
        {
            # A drifted list comes under another key ("v2_list"), or with every order's id renamed ("v2_order").
            "data" if drift == "v2_list" else "orders": [
                drifted(trigger_orders.order_to_api(o), drift) for o in listing.orders
            ],
            "pagination": {"total": listing.total, "limit": limit, "offset": offset},
        }
    )


def drifted(order: dict, drift: str) -> dict:
    """An order as the sandbox answers it: `id` renamed `orderId` when drifting "v2_order"."""
    if drift != "v2_order":
        return order
    return {("orderId" if name == "id" else name): value for name, value in order.items()}


@sandbox_endpoint("dca-order", ("GET",), wrong_method=not_found_text)
def get_order(request: HttpRequest, order_id: str) -> HttpResponse:
    """One of the token wallet's DCA orders, with its events."""
    request.sandbox_call["order"] = order_id
    wallet, refused = with_wallet(request)
    if refused is not None:
        return refused
    order = trigger_orders.find(order_id, wallet)
    if order is None:
        return error(ORDER_NOT_FOUND, 404)
    return JsonResponse(drifted(trigger_orders.order_to_api(order), control.drift()))


@sandbox_endpoint("dca-cancel", ("POST",), wrong_method=not_found_text)
def cancel_order(request: HttpRequest, order_id: str) -> HttpResponse:
    """Step 1: stop the order now (-> withdrawing) and issue its unsigned withdrawal transaction."""
    request.sandbox_call["order"] = order_id
    wallet, refused = with_wallet(request)
    if refused is not None:
        return refused
    order = trigger_orders.find(order_id, wallet)
    if order is None:
        return error(DCA_NOT_FOUND, 404)
    try:
        issued = trigger_orders.start_cancel(order, control.knobs().dca_withdrawal_mode, timezone.now())
    except trigger_orders.CancelRefused as exc:
        return error(str(exc))
    request.sandbox_call["requestId"] = issued.withdrawal.request_id
    return JsonResponse(
        {
            "id": issued.order.order_id,
            "roundsRemaining": issued.order.number_of_rounds - issued.order.rounds_filled,
            "refundAmount": str(issued.withdrawal.refund_amount),
            "transaction": withdrawals.unsigned(issued.message),
            "requestId": issued.withdrawal.request_id,
        }
    )


@sandbox_endpoint("dca-confirm", ("POST",), wrong_method=not_found_text)
def confirm_cancel(request: HttpRequest, order_id: str) -> HttpResponse:
    """Step 2: check the wallet's signature over exactly the issued withdrawal, add the vault's and the
    co-signer's, "land" it, and cancel the order with a `withdrawal` event.

    Once the order is cancelled, confirming again (even with the same request id and transaction)
    answers 400 "DCA order not in cancellation state", as the live API does for a cancelled order:
    re-read the order to learn the withdrawal's signature.
    """
    request.sandbox_call["order"] = order_id
    body = json_object(request)
    wallet, refused = with_wallet(request, body)
    if refused is not None:
        return refused
    if body is None:
        return error(MALFORMED_JSON)
    details: dict[str, str] = {}
    signed = expect_string(body, "signedTransaction", details)
    request_id = expect_string(body, "cancelRequestId", details)
    if details or signed is None or request_id is None:
        return invalid(details)
    request.sandbox_call["requestId"] = request_id
    order = trigger_orders.find(order_id, wallet)
    if order is None:
        return error(DCA_NOT_FOUND, 404)
    if order.state != trigger_orders.State.WITHDRAWING:
        return error(NOT_IN_CANCELLATION)
    now = timezone.now()
    withdrawal = trigger_orders.issued_withdrawal(order, request_id, now, control.expiry_seconds())
    if withdrawal is None:
        return error(NOT_IN_CACHE)
    if withdrawal.confirmed_at is not None:
        return error(NOT_IN_CANCELLATION)  # a concurrent confirm has just cancelled the order
    try:
        tx = transactions.parse_signed(signed)
    except transactions.MalformedTransaction:
        return error(INVALID_FORMAT)
    message = tx.message
    if len(tx.signatures) != message.header.num_required_signatures:
        return error(INVALID_FORMAT)
    issued = bytes(withdrawal.message)
    if to_bytes_versioned(message) != issued:
        return error(SIGNERS_MODIFIED)
    user = Pubkey.from_string(wallet)
    if not tx.signatures[0].verify(user, issued):
        return error(SIGNATURE_FAILED)
    landed = withdrawals.countersign(message, user, tx.signatures[0], withdrawals.sandbox_signers(wallet))
    tx_signature = str(tx.signatures[0])
    if not trigger_orders.finish_cancel(withdrawal, landed, tx_signature, now):
        return error(NOT_IN_CANCELLATION)  # a concurrent confirm won
    return JsonResponse({"id": order.order_id, "txSignature": tx_signature})


@sandbox_endpoint("dca-notfound", ALL_METHODS, wrong_method=not_found_text)
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other path under the prefix, e.g. with a trailing slash: the gateway's plain 404."""
    return not_found_text()
