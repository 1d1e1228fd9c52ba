"""The sandbox's Solana JSON-RPC, mounted at /sandbox/solana-rpc: `getAccountInfo` (base64) and
`getBalance` of the token accounts the simulated Jupiter DCA orders hold their deposits in.

Just enough of a Solana RPC node for the dashboard's optional reading of a refund's balance
(`SOLANA_RPC_URL`): each order's per-order deposit account (owned by the order's vault, holding
`inputAmountRemaining` until the order is cancelled or done, then closed), beside a SOL order's
deposit the nearly empty account a short refund closes instead, and each vault itself (a plain
system account). Any other account does not exist (`"value": null`); any other method answers
JSON-RPC's "Method not found".
"""

from __future__ import annotations

import base64
import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from solders.pubkey import Pubkey
from solders.token.state import TokenAccount, TokenAccountState

from dashboard.sandbox import keys, trigger_orders
from dashboard.sandbox.models import DcaOrder
from dashboard.sandbox.views import sandbox_endpoint

TOKEN_ACCOUNT_BYTES = 165
RENT_EXEMPT_LAMPORTS = 2_039_280  # a 165-byte account, as on mainnet
SLOT = 312_000_000
SYSTEM_ACCOUNT_LAMPORTS = 1_000_000
HOLDING = (DcaOrder.State.DEPOSITING, DcaOrder.State.ACTIVE, DcaOrder.State.EXECUTING, DcaOrder.State.WITHDRAWING)


def find_account(address: Pubkey) -> tuple[Pubkey, bytes, int] | None:
    """(owner program, data, lamports) of a deposit account the sandbox's orders hold, or of a
    vault (a system account), or None."""
    if DcaOrder.objects.filter(vault=str(address)).exists():
        return keys.SYSTEM_PROGRAM, b"", SYSTEM_ACCOUNT_LAMPORTS
    for order in DcaOrder.objects.filter(state__in=HOLDING).only(
        "order_id", "user", "vault", "input_mint", "input_amount_remaining", "jl_enabled", "state"
    ):
        refund = trigger_orders.refund_of(order)
        for account, amount in ((refund.source, refund.amount), (refund.dust_account, 1)):
            if account != address or (account == refund.dust_account and not refund.native):
                continue
            native = RENT_EXEMPT_LAMPORTS if refund.native else None
            state = TokenAccount(
                refund.mint, refund.vault, amount, None, TokenAccountState.Initialized, native, 0, None
            )
            return refund.program, bytes(state), RENT_EXEMPT_LAMPORTS + (amount if refund.native else 0)
    return None


def answer(request_id: object, result: object = None, error: dict | None = None) -> JsonResponse:
    body: dict = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        body["error"] = error
    else:
        body["result"] = result
    return JsonResponse(body)


@sandbox_endpoint("solana-rpc", ("POST",))
def rpc(request: HttpRequest) -> HttpResponse:
    """One JSON-RPC 2.0 call: getAccountInfo [address, {"encoding": "base64"}] or getBalance [address]."""
    try:
        call = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return answer(None, error={"code": -32700, "message": "Parse error"})
    if not isinstance(call, dict) or call.get("jsonrpc") != "2.0" or not isinstance(call.get("method"), str):
        return answer(None, error={"code": -32600, "message": "Invalid request"})
    request_id, method, params = call.get("id"), call["method"], call.get("params")
    if method not in ("getAccountInfo", "getBalance"):
        return answer(request_id, error={"code": -32601, "message": "Method not found"})
    address = keys.parse_pubkey(params[0]) if isinstance(params, list) and params else None
    if address is None:
        return answer(request_id, error={"code": -32602, "message": "Invalid param: Invalid"})
    found = find_account(address)
    context = {"slot": SLOT, "apiVersion": "2.2.0"}
    if method == "getBalance":
        return answer(request_id, {"context": context, "value": found[2] if found else 0})
    options = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
    if options.get("encoding", "base64") != "base64":
        return answer(request_id, error={"code": -32602, "message": "Invalid param: only base64 is served here"})
    if found is None:
        return answer(request_id, {"context": context, "value": None})
    program, data, lamports = found
    value = {
        "data": [base64.b64encode(data).decode(), "base64"],
        "executable": False,
        "lamports": lamports,
        "owner": str(program),
        "rentEpoch": 18446744073709551615,
        "space": len(data),
    }
    return answer(request_id, {"context": context, "value": value})
