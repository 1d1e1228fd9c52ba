"""The simulated Jupiter Recurring API v1 (dashboard.sandbox): shapes, validation, cancel flow, knobs."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests
from django.urls import include, path
from django.utils import timezone
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard.sandbox import control, seed, tokens
from dashboard.sandbox.models import CancelRequest, SandboxOrder, SeededWallet

# The sandbox's own URLs only, so these tests do not depend on the rest of the site.
urlpatterns = [path("sandbox/", include("dashboard.sandbox.urls"))]
pytestmark = pytest.mark.urls(__name__)

API = "/sandbox/recurring/v1"
NOT_CANCELLABLE = "Failed to deserialize account data: failed to fill whole buffer"
DCA_PROGRAM = "DCA265Vj8a9CEuX1eb1LWRnDT7uK6q1xMipnNyatn23M"
COMPUTE_BUDGET = "ComputeBudget111111111111111111111111111111"
AMOUNT_FIELDS = (
    "InDeposited",
    "InUsed",
    "InWithdrawn",
    "InAmountPerCycle",
    "OutReceived",
    "OutWithdrawn",
    "MinOutAmount",
    "MaxOutAmount",
)


def seeded_keypair(n: int) -> Keypair:
    return Keypair.from_seed(bytes([n]) * 32)


ALICE = seeded_keypair(1)
BOB = seeded_keypair(2)
ALICE_WALLET = str(ALICE.pubkey())
BOB_WALLET = str(BOB.pubkey())


def list_params(user: str = ALICE_WALLET, **extra: str) -> dict[str, str]:
    params = {"user": user, "orderStatus": "active", "recurringType": "time", "includeFailedTx": "false"}
    params.update(extra)
    return params


def get_orders(client, user: str = ALICE_WALLET, **extra: str):
    return client.get(f"{API}/getRecurringOrders", list_params(user, **extra))


def post(client, endpoint: str, body: dict):
    return client.post(f"{API}/{endpoint}", body, content_type="application/json")


def sign(tx_b64: str, signer: Keypair, message: Message | None = None) -> str:
    """Sign an issued transaction's message (or a replacement message) like a wallet would."""
    msg = message or VersionedTransaction.from_bytes(base64.b64decode(tx_b64)).message
    signed = VersionedTransaction.populate(msg, [signer.sign_message(to_bytes_versioned(msg))])
    return base64.b64encode(bytes(signed)).decode()


def first_active_key(client, user: str = ALICE_WALLET) -> str:
    return get_orders(client, user).json()["time"][0]["orderKey"]


def issue_cancel(client, order_key: str, user: str = ALICE_WALLET) -> dict:
    response = post(client, "cancelOrder", {"order": order_key, "user": user, "recurringType": "time"})
    assert response.status_code == 200, response.content
    return response.json()


def parse_iso(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text[:-1] + "+00:00")


def snapshot(orders: list[dict]) -> list[tuple]:
    """What must not change between two seedings of one wallet (timestamps aside)."""
    return [
        (o["orderKey"], o["inputMint"], o["outputMint"], o["rawInDeposited"], o["rawInUsed"], o["rawOutReceived"])
        for o in orders
    ]


# --- seeding ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_seeding_is_deterministic_per_wallet(client):
    first = get_orders(client).json()["time"]
    history = get_orders(client, orderStatus="history").json()["time"]
    assert len(first) == seed.DEFAULT_ACTIVE
    assert len(history) == seed.DEFAULT_HISTORY

    SandboxOrder.objects.all().delete()
    SeededWallet.objects.all().delete()
    again = get_orders(client).json()["time"]
    assert snapshot(again) == snapshot(first)
    assert {o["txId"] for o in again[0]["trades"]} == {o["txId"] for o in first[0]["trades"]}

    other = get_orders(client, BOB_WALLET).json()["time"]
    assert not {o["orderKey"] for o in other} & {o["orderKey"] for o in first}


@pytest.mark.django_db
def test_seed_builds_identical_orders_for_the_same_moment():
    now = timezone.now()
    one = seed.build_orders(ALICE_WALLET, 6, 4, now)
    two = seed.build_orders(ALICE_WALLET, 6, 4, now)
    fields = ("order_key", "raw_in_deposited", "raw_out_received", "created_at", "updated_at", "fills")
    assert [[getattr(o, f) for f in fields] for o in one] == [[getattr(o, f) for f in fields] for o in two]


@pytest.mark.django_db
def test_default_active_orders_are_realistic(client):
    now = timezone.now()
    orders = get_orders(client).json()["time"]
    assert len({(o["inputMint"], o["outputMint"]) for o in orders}) == 4
    progress = sorted(
        Decimal(len(o["trades"])) / (int(o["rawInDeposited"]) // int(o["rawInAmountPerCycle"])) for o in orders
    )
    assert progress[0] == 0
    assert progress[-1] >= Decimal("0.8")
    assert {type(o["cycleFrequency"]) for o in orders} == {str, int}
    assert {o["closeTx"] for o in orders} == {"", None}
    assert {"." in o["createdAt"] for o in orders} == {True, False}
    for o in orders:
        assert o["userPubkey"] == ALICE_WALLET
        assert o["userClosed"] is False
        assert parse_iso(o["createdAt"]) < now
        assert int(o["rawInUsed"]) == sum(int(t["rawInputAmount"]) for t in o["trades"])
        assert int(o["rawOutReceived"]) == sum(int(t["rawOutputAmount"]) for t in o["trades"])
        assert int(o["rawInUsed"]) < int(o["rawInDeposited"])
        last = max([parse_iso(t["confirmedAt"]) for t in o["trades"]] or [parse_iso(o["createdAt"])])
        assert last < now < last + timedelta(seconds=int(o["cycleFrequency"]))
        assert_amounts_consistent(o)
        for trade in o["trades"]:
            assert trade["action"] == "Fill"
            assert trade["feeMint"] == o["outputMint"]
            assert len(bytes(Signature.from_string(trade["txId"]))) == 64
            Pubkey.from_string(trade["keeper"])


def assert_amounts_consistent(order: dict) -> None:
    """Every amount is a string and the human value equals the raw one in token units."""
    in_dec = tokens.get_token(order["inputMint"]).decimals
    out_dec = tokens.get_token(order["outputMint"]).decimals
    for name in AMOUNT_FIELDS:
        human, raw = order[name[0].lower() + name[1:]], order["raw" + name]
        assert isinstance(human, str)
        assert isinstance(raw, str)
        assert raw.isdigit()
        decimals = in_dec if name.startswith("In") else out_dec
        assert Decimal(human) == Decimal(raw).scaleb(-decimals)
    for trade in order["trades"]:
        assert Decimal(trade["inputAmount"]) == Decimal(trade["rawInputAmount"]).scaleb(-in_dec)
        assert Decimal(trade["outputAmount"]) == Decimal(trade["rawOutputAmount"]).scaleb(-out_dec)
        assert Decimal(trade["feeAmount"]) == Decimal(trade["rawFeeAmount"]).scaleb(-out_dec)


@pytest.mark.django_db
def test_default_history_has_completed_and_cancelled_orders(client):
    orders = get_orders(client, orderStatus="history").json()["time"]
    assert {o["userClosed"] for o in orders} == {True, False}
    for o in orders:
        assert o["trades"]
        assert Signature.from_string(o["closeTx"])
        assert o["rawOutWithdrawn"] == o["rawOutReceived"]
        if o["userClosed"]:
            assert int(o["rawInWithdrawn"]) == int(o["rawInDeposited"]) - int(o["rawInUsed"])
        else:
            assert o["rawInUsed"] == o["rawInDeposited"]
        assert_amounts_consistent(o)


# --- listing ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pagination_of_25_active_orders(client):
    control.seed_wallet(ALICE_WALLET, active=25, history=0)
    pages = [get_orders(client, page=str(n)).json() for n in (1, 2, 3, 4)]
    assert [len(p["time"]) for p in pages] == [10, 10, 5, 0]
    assert {p["totalPages"] for p in pages} == {3}
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    created = [parse_iso(o["createdAt"]) for p in pages for o in p["time"]]
    assert created == sorted(created, reverse=True)
    assert len({o["orderKey"] for p in pages for o in p["time"]}) == 25


@pytest.mark.django_db
def test_empty_wallet_has_one_page(client):
    control.seed_wallet(ALICE_WALLET, active=0, history=0)
    body = get_orders(client).json()
    assert body == {"user": ALICE_WALLET, "orderStatus": "active", "totalPages": 1, "page": 1, "time": []}


@pytest.mark.django_db
def test_all_type_lists_under_all_with_recurring_type(client):
    body = get_orders(client, recurringType="all").json()
    assert "time" not in body
    assert len(body["all"]) == 4
    assert {o["recurringType"] for o in body["all"]} == {"time"}
    assert get_orders(client, recurringType="price").json()["price"] == []


@pytest.mark.django_db
def test_mint_filter_matches_input_or_output(client):
    control.seed_wallet(ALICE_WALLET, active=8, history=0)
    sol = get_orders(client, mint=tokens.SOL).json()["time"]
    assert sol
    assert all(tokens.SOL in (o["inputMint"], o["outputMint"]) for o in sol)
    assert any(o["inputMint"] == tokens.SOL for o in sol)
    assert any(o["outputMint"] == tokens.SOL for o in sol)
    assert get_orders(client, mint=tokens.USDT).json()["time"][0]["inputMint"] == tokens.USDT


# --- validation -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"user": None}, "Missing required query parameter: user"),
        ({"orderStatus": None}, "Missing required query parameter: orderStatus"),
        ({"recurringType": None}, "Missing required query parameter: recurringType"),
        ({"includeFailedTx": None}, "Missing required query parameter: includeFailedTx"),
        ({"orderStatus": "open"}, "Invalid orderStatus: must be one of active, history"),
        ({"recurringType": "dca"}, "Invalid recurringType: must be one of time, price, all"),
        ({"includeFailedTx": "maybe"}, "Invalid includeFailedTx: must be true or false"),
        ({"page": "0"}, "Invalid page: must be a positive integer"),
        ({"page": "two"}, "Invalid page: must be a positive integer"),
        ({"page": "-1"}, "Invalid page: must be a positive integer"),
        ({"user": "not-a-key"}, "Invalid user public key: not-a-key"),
        ({"user": "0" * 44}, "Invalid user public key: " + "0" * 44),
        ({"mint": "xyz"}, "Invalid mint public key: xyz"),
    ],
)
def test_get_orders_validation(client, params, message):
    query = {k: v for k, v in {**list_params(), **params}.items() if v is not None}
    response = client.get(f"{API}/getRecurringOrders", query)
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error": message, "status": "Bad Request"}
    assert response["x-api-gateway-request-id"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "Invalid request body: expected a JSON object"),
        ([1, 2], "Invalid request body: expected a JSON object"),
        ({"user": ALICE_WALLET, "recurringType": "time"}, "Missing required field: order"),
        ({"order": ALICE_WALLET, "recurringType": "time"}, "Missing required field: user"),
        ({"order": ALICE_WALLET, "user": ALICE_WALLET}, "Missing required field: recurringType"),
        ({"order": ALICE_WALLET, "user": "bad", "recurringType": "time"}, "Invalid user public key: bad"),
        ({"order": "bad", "user": ALICE_WALLET, "recurringType": "time"}, "Invalid order public key: bad"),
        (
            {"order": ALICE_WALLET, "user": ALICE_WALLET, "recurringType": "x"},
            "Invalid recurringType: must be one of time, price",
        ),
    ],
)
def test_cancel_order_validation(client, body, message):
    response = client.post(f"{API}/cancelOrder", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error": message, "status": "Bad Request"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{", "Invalid request body: expected a JSON object"),
        ({"signedTransaction": "AA=="}, "Missing required field: requestId"),
        ({"requestId": "x"}, "Missing required field: signedTransaction"),
        ({"requestId": "nope", "signedTransaction": "AA=="}, "Invalid requestId: nope"),
    ],
)
def test_execute_validation(client, body, message):
    response = client.post(f"{API}/execute", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"code": 400, "error": message, "status": "Bad Request"}


@pytest.mark.django_db
@pytest.mark.parametrize("signed", ["!!!not base64", base64.b64encode(b"\x01garbage").decode()])
def test_execute_rejects_malformed_transactions(client, signed):
    issued = issue_cancel(client, first_active_key(client))
    response = post(client, "execute", {"requestId": issued["requestId"], "signedTransaction": signed})
    assert response.status_code == 400
    assert response.json()["code"] == 400


@pytest.mark.django_db
def test_execute_rejects_trailing_bytes(client):
    issued = issue_cancel(client, first_active_key(client))
    signed = base64.b64decode(sign(issued["transaction"], ALICE)) + b"\x00"
    body = {"requestId": issued["requestId"], "signedTransaction": base64.b64encode(signed).decode()}
    assert post(client, "execute", body).status_code == 400


@pytest.mark.django_db
def test_wrong_methods_answer_json_405(client):
    response = client.post(f"{API}/getRecurringOrders")
    assert response.status_code == 405
    assert response.json()["code"] == 405
    assert client.get(f"{API}/execute").status_code == 405


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_tokens_search_returns_known_mints_without_icons(client):
    query = f"{tokens.SOL},{tokens.USDC},unknown,{tokens.BONK}"
    response = client.get("/sandbox/tokens/v2/search", {"query": query})
    assert response.status_code == 200
    found = response.json()
    assert [t["symbol"] for t in found] == ["SOL", "USDC", "Bonk"]
    assert [t["decimals"] for t in found] == [9, 6, 5]
    assert all(t["icon"] is None and t["usdPrice"] > 0 for t in found)
    assert set(found[0]) == {"id", "name", "symbol", "icon", "decimals", "usdPrice", "tokenProgram", "isVerified"}
    assert {t["tokenProgram"] for t in found} == {"TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"}
    assert all(t["isVerified"] is True for t in found)
    # A look-alike: the same symbol and name as dogwifhat, another mint, not verified by Jupiter.
    wifs = client.get("/sandbox/tokens/v2/search", {"query": f"{tokens.WIF},{tokens.FAKE_WIF}"}).json()
    assert [(t["symbol"], t["name"], t["isVerified"]) for t in wifs] == [
        ("$WIF", "dogwifhat", True),
        ("$WIF", "dogwifhat", False),
    ]
    pyusd = client.get("/sandbox/tokens/v2/search", {"query": tokens.PYUSD}).json()
    assert pyusd[0]["tokenProgram"] == "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"  # Token-2022
    assert client.get("/sandbox/tokens/v2/search").status_code == 400


# --- cancelOrder ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cancel_order_returns_jupiter_shaped_unsigned_transaction(client):
    order = get_orders(client).json()["time"][0]
    issued = issue_cancel(client, order["orderKey"])
    assert set(issued) == {"requestId", "transaction"}
    tx = VersionedTransaction.from_bytes(base64.b64decode(issued["transaction"]))
    msg = tx.message
    keys_ = [str(k) for k in msg.account_keys]
    assert isinstance(msg, Message)  # legacy, like both fixtures
    assert keys_[0] == ALICE_WALLET
    assert msg.header.num_required_signatures == 1
    assert list(tx.signatures) == [Signature.default()]
    programs = [keys_[ix.program_id_index] for ix in msg.instructions]
    assert programs == [COMPUTE_BUDGET, COMPUTE_BUDGET, DCA_PROGRAM]
    assert [bytes(ix.data)[0] for ix in msg.instructions[:2]] == [2, 3]
    dca = msg.instructions[2]
    assert bytes(dca.data).hex() == "16072162a8b722f3"
    accounts = [keys_[i] for i in dca.accounts]
    assert accounts[:4] == [ALICE_WALLET, order["orderKey"], order["inputMint"], order["outputMint"]]
    assert accounts[8:11] == [
        "11111111111111111111111111111111",
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
        "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
    ]
    assert accounts[-1] == DCA_PROGRAM
    # Legacy layout: signers first, then writable unsigned keys, then read-only unsigned keys.
    first_readonly = len(keys_) - msg.header.num_readonly_unsigned_accounts
    writable = set(keys_[1:first_readonly])
    assert order["orderKey"] in writable
    assert set(accounts[4:8]) <= writable
    assert not {order["inputMint"], order["outputMint"], DCA_PROGRAM} & writable

    stored = CancelRequest.objects.get(request_id=issued["requestId"])
    assert bytes(stored.message) == to_bytes_versioned(msg)
    assert stored.order_key == order["orderKey"]
    again = issue_cancel(client, order["orderKey"])
    assert again["requestId"] != issued["requestId"]
    assert again["transaction"] != issued["transaction"]  # fresh blockhash


@pytest.mark.django_db
def test_cancel_order_tolerates_the_draft_params_key(client):
    body = {"order": first_active_key(client), "user": ALICE_WALLET, "recurringType": "time", "params": "x"}
    assert post(client, "cancelOrder", body).status_code == 200


@pytest.mark.django_db
def test_cancel_order_refuses_closed_unknown_and_foreign_orders(client):
    closed = get_orders(client, orderStatus="history").json()["time"][0]["orderKey"]
    bobs = first_active_key(client, BOB_WALLET)
    for user, order_key, kind in (
        (ALICE_WALLET, closed, "time"),
        (ALICE_WALLET, str(Keypair().pubkey()), "time"),
        (ALICE_WALLET, bobs, "time"),
        (BOB_WALLET, bobs, "price"),
    ):
        response = post(client, "cancelOrder", {"order": order_key, "user": user, "recurringType": kind})
        assert response.status_code == 400
        assert response.json() == {"code": 400, "error": NOT_CANCELLABLE, "status": "Bad Request"}


# --- execute ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_execute_with_the_users_signature_closes_the_order(client):
    order_key = first_active_key(client)
    before = control.get_order(order_key)
    issued = issue_cancel(client, order_key)
    signed = sign(issued["transaction"], ALICE)
    response = post(client, "execute", {"requestId": issued["requestId"], "signedTransaction": signed})
    assert response.status_code == 200
    result = response.json()
    expected_sig = str(VersionedTransaction.from_bytes(base64.b64decode(signed)).signatures[0])
    assert result == {"signature": expected_sig, "status": "Success", "order": order_key, "error": None}

    after = control.get_order(order_key)
    assert after["status"] == "history"
    assert after["userClosed"] is True
    assert after["closeTx"] == expected_sig
    assert int(after["rawInWithdrawn"]) == int(before["rawInDeposited"]) - int(before["rawInUsed"])
    assert after["rawOutWithdrawn"] == after["rawOutReceived"]
    assert parse_iso(after["updatedAt"]) > parse_iso(before["updatedAt"])
    assert order_key not in {o["orderKey"] for o in get_orders(client).json()["time"]}
    assert order_key in {o["orderKey"] for o in get_orders(client, orderStatus="history").json()["time"]}

    # Posting the same request again fails; so does a cancel for the now closed order.
    again = post(client, "execute", {"requestId": issued["requestId"], "signedTransaction": signed}).json()
    assert again["status"] == "Failed"
    assert again["error"] == "This transaction has already been processed"
    refused = post(client, "cancelOrder", {"order": order_key, "user": ALICE_WALLET, "recurringType": "time"})
    assert refused.json()["error"] == NOT_CANCELLABLE


def tampered_message(tx_b64: str) -> Message:
    """The issued message with a different recent blockhash."""
    msg = VersionedTransaction.from_bytes(base64.b64decode(tx_b64)).message
    return Message.new_with_compiled_instructions(
        msg.header.num_required_signatures,
        msg.header.num_readonly_signed_accounts,
        msg.header.num_readonly_unsigned_accounts,
        list(msg.account_keys),
        Hash.new_unique(),
        list(msg.instructions),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("tamper", ["blockhash", "other_signer", "unsigned"])
def test_execute_refuses_tampered_transactions(client, tamper):
    order_key = first_active_key(client)
    issued = issue_cancel(client, order_key)
    if tamper == "blockhash":
        signed = sign(issued["transaction"], ALICE, tampered_message(issued["transaction"]))
        error = "Transaction does not match the transaction issued for this requestId"
    elif tamper == "other_signer":
        signed = sign(issued["transaction"], BOB)
        error = "Transaction signature verification failure"
    else:
        signed = issued["transaction"]
        error = "Transaction signature verification failure"
    result = post(client, "execute", {"requestId": issued["requestId"], "signedTransaction": signed}).json()
    assert result["status"] == "Failed"
    assert result["order"] is None
    assert result["error"] == error
    assert control.get_order(order_key)["status"] == "active"


@pytest.mark.django_db
def test_execute_after_expiry_fails_with_blockhash_not_found(client):
    order_key = first_active_key(client)
    issued = issue_cancel(client, order_key)
    CancelRequest.objects.filter(request_id=issued["requestId"]).update(
        created_at=timezone.now() - timedelta(seconds=91)
    )
    body = {"requestId": issued["requestId"], "signedTransaction": sign(issued["transaction"], ALICE)}
    result = post(client, "execute", body).json()
    assert (result["status"], result["error"]) == ("Failed", "Blockhash not found")
    assert control.get_order(order_key)["status"] == "active"

    control.set_expiry(0)
    issued = issue_cancel(client, order_key)
    time.sleep(0.01)
    body = {"requestId": issued["requestId"], "signedTransaction": sign(issued["transaction"], ALICE)}
    assert post(client, "execute", body).json()["error"] == "Blockhash not found"


@pytest.mark.django_db
def test_execute_of_a_second_request_for_a_closed_order_fails(client):
    order_key = first_active_key(client)
    one, two = issue_cancel(client, order_key), issue_cancel(client, order_key)
    ok = post(client, "execute", {"requestId": one["requestId"], "signedTransaction": sign(one["transaction"], ALICE)})
    assert ok.json()["status"] == "Success"
    late = post(
        client, "execute", {"requestId": two["requestId"], "signedTransaction": sign(two["transaction"], ALICE)}
    )
    assert late.json()["status"] == "Failed"
    assert "already closed" in late.json()["error"]


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ["getRecurringOrders", "*"])
def test_gateway_faults(client, endpoint):
    control.inject_fault(endpoint, "500")
    control.inject_fault(endpoint, "502")
    control.inject_fault(endpoint, "429")
    control.inject_fault(endpoint, "nonjson")
    r500, r502, r429, nonjson, ok = (get_orders(client) for _ in range(5))
    assert r500.status_code == 500
    assert r500.json()["code"] == 500
    assert r502.status_code == 502
    assert r502["Content-Type"].startswith("text/html")
    assert b"502 Bad Gateway" in r502.content
    assert r429.status_code == 429
    assert r429.json() == {"code": 429, "message": "Too many requests"}
    assert int(r429["x-ratelimit-reset"]) > time.time() - 1
    assert nonjson.status_code == 200
    with pytest.raises(ValueError):
        nonjson.json()
    assert ok.status_code == 200
    assert all(r["x-api-gateway-request-id"] for r in (r500, r502, r429, nonjson, ok))
    assert [c["fault"] for c in control.calls("getRecurringOrders")] == ["500", "502", "429", "nonjson", ""]


@pytest.mark.django_db
def test_fault_for_one_endpoint_spares_the_others_and_counts_down(client):
    control.inject_fault("cancelOrder", "500", times=2)
    assert get_orders(client).status_code == 200
    order_key = first_active_key(client)
    body = {"order": order_key, "user": ALICE_WALLET, "recurringType": "time"}
    assert [post(client, "cancelOrder", body).status_code for _ in range(3)] == [500, 500, 200]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "error"),
    [("failed", "Simulation failed"), ("insufficient_funds", "Insufficient funds for the operation requested.")],
)
def test_execute_faults_fail_and_leave_the_order_active(client, kind, error):
    control.inject_fault("execute", kind)
    order_key = first_active_key(client)
    issued = issue_cancel(client, order_key)
    body = {"requestId": issued["requestId"], "signedTransaction": sign(issued["transaction"], ALICE)}
    response = post(client, "execute", body)
    assert response.status_code == 200
    assert response.json()["status"] == "Failed"
    assert response.json()["error"] == error
    assert control.get_order(order_key)["status"] == "active"
    # The fault was used up: the same request now succeeds.
    assert post(client, "execute", body).json()["status"] == "Success"


@pytest.mark.django_db
def test_execute_faults_do_not_touch_other_endpoints(client):
    control.inject_fault("*", "insufficient_funds")
    assert get_orders(client).status_code == 200
    issued = issue_cancel(client, first_active_key(client))
    body = {"requestId": issued["requestId"], "signedTransaction": sign(issued["transaction"], ALICE)}
    assert post(client, "execute", body).json()["error"] == "Insufficient funds for the operation requested."


def test_inject_fault_rejects_unknown_endpoints_and_kinds(db):
    with pytest.raises(ValueError, match="unknown endpoint"):
        control.inject_fault("getOrders", "500")
    with pytest.raises(ValueError, match="unknown fault"):
        control.inject_fault("execute", "explode")


# --- over real HTTP (threaded live server) -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_cancel_flow_over_http(live_server):
    base = f"{live_server.url}{API}"
    listed = requests.get(f"{base}/getRecurringOrders", params=list_params(), timeout=10)
    assert listed.status_code == 200
    assert listed.headers["x-api-gateway-request-id"]
    order_key = listed.json()["time"][0]["orderKey"]
    body = {"order": order_key, "user": ALICE_WALLET, "recurringType": "time"}
    issued = requests.post(f"{base}/cancelOrder", json=body, timeout=10).json()
    signed = sign(issued["transaction"], ALICE)
    result = requests.post(
        f"{base}/execute", json={"requestId": issued["requestId"], "signedTransaction": signed}, timeout=10
    ).json()
    assert result["status"] == "Success"
    history = requests.get(f"{base}/getRecurringOrders", params=list_params(orderStatus="history"), timeout=10)
    closed = next(o for o in history.json()["time"] if o["orderKey"] == order_key)
    assert closed["closeTx"] == result["signature"]
    assert closed["userClosed"] is True
    assert control.count_calls("execute") == 1
    assert control.count_calls("getRecurringOrders", user=ALICE_WALLET) == 2
    assert control.count_calls("cancelOrder", status=200) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_executes_of_one_request_close_the_order_once(live_server, at_once):
    control.seed_wallet(ALICE_WALLET, active=1, history=0)
    order_key = SandboxOrder.objects.get(user=ALICE_WALLET).order_key
    base = f"{live_server.url}{API}"
    body = {"order": order_key, "user": ALICE_WALLET, "recurringType": "time"}
    issued = requests.post(f"{base}/cancelOrder", json=body, timeout=10).json()
    payload = {"requestId": issued["requestId"], "signedTransaction": sign(issued["transaction"], ALICE)}

    def execute() -> str:
        return requests.post(f"{base}/execute", json=payload, timeout=30).json()["status"]

    results = at_once(4, execute)
    assert sorted(results) == ["Failed", "Failed", "Failed", "Success"]
    assert control.get_order(order_key)["status"] == "history"


@pytest.mark.django_db(transaction=True)
def test_rate_limit_answers_429_with_headers(live_server):
    control.set_rate_limit(Decimal("0.05"))  # 3 requests per 60-second window
    url = f"{live_server.url}{API}/getRecurringOrders"
    answers = [requests.get(url, params=list_params(), timeout=10) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert [r.headers["x-ratelimit-current"] for r in answers] == ["1", "2", "3", "3"]
    limited = answers[-1]
    assert limited.json() == {"code": 429, "message": "Too many requests"}
    assert time.time() < int(limited.headers["x-ratelimit-reset"]) <= time.time() + 61
    assert limited.headers["x-api-gateway-request-id"]
    control.set_rate_limit(None)
    assert "x-ratelimit-remaining" not in requests.get(url, params=list_params(), timeout=10).headers


@pytest.mark.django_db(transaction=True)
def test_latency_knob_delays_answers(live_server):
    url = f"{live_server.url}/sandbox/tokens/v2/search"
    control.set_latency(300)
    started = time.monotonic()
    assert requests.get(url, params={"query": tokens.SOL}, timeout=10).status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.django_db(transaction=True)
def test_execute_timeout_still_closes_the_order(live_server):
    base = f"{live_server.url}{API}"
    order_key = requests.get(f"{base}/getRecurringOrders", params=list_params(), timeout=10).json()["time"][0][
        "orderKey"
    ]
    body = {"order": order_key, "user": ALICE_WALLET, "recurringType": "time"}
    issued = requests.post(f"{base}/cancelOrder", json=body, timeout=10).json()
    control.inject_fault("execute", "timeout", seconds=1.5)
    payload = {"requestId": issued["requestId"], "signedTransaction": sign(issued["transaction"], ALICE)}
    with pytest.raises(requests.Timeout):
        requests.post(f"{base}/execute", json=payload, timeout=0.5)
    # The client gave up, but the work is done: re-reading the order reconciles.
    deadline = time.monotonic() + 5
    while control.get_order(order_key)["status"] != "history" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert control.get_order(order_key)["closeTx"] == str(
        VersionedTransaction.from_bytes(base64.b64decode(payload["signedTransaction"])).signatures[0]
    )
    assert control.count_calls("execute", fault="timeout") == 1
    time.sleep(1.2)  # let the late answer finish before the database is flushed


@pytest.mark.django_db(transaction=True)
def test_control_endpoint_over_http(live_server):
    url = f"{live_server.url}/sandbox/control"
    seeded = requests.post(url, json={"action": "seed", "wallet": BOB_WALLET, "active": 12, "history": 2}, timeout=10)
    assert seeded.status_code == 200
    assert len(seeded.json()["orders"]) == 14
    assert requests.post(url, json={"action": "fault", "endpoint": "tokens", "kind": "502"}, timeout=10).ok
    assert requests.post(url, json={"action": "latency", "ms": 0}, timeout=10).ok
    assert requests.post(url, json={"action": "rate_limit", "rps": None}, timeout=10).ok
    assert requests.post(url, json={"action": "expiry", "seconds": 30}, timeout=10).ok
    tokens_url = f"{live_server.url}/sandbox/tokens/v2/search"
    assert requests.get(tokens_url, params={"query": tokens.SOL}, timeout=10).status_code == 502
    assert requests.get(tokens_url, params={"query": tokens.SOL}, timeout=10).status_code == 200
    counts = requests.get(f"{url}/calls", params={"endpoint": "tokens"}, timeout=10).json()
    assert counts["count"] == 2
    assert counts["byEndpoint"]["execute"] == 0
    order = requests.post(url, json={"action": "order", "order": seeded.json()["orders"][0]}, timeout=10).json()
    assert order["order"]["status"] == "active"
    bad = requests.post(url, json={"action": "fault", "endpoint": "x", "kind": "500"}, timeout=10)
    assert bad.status_code == 400
    assert requests.post(url, json={"action": "nope"}, timeout=10).status_code == 400
    assert requests.post(url, json={"action": "reset"}, timeout=10).ok
    assert control.count_calls() == 0
    assert control.knobs().expiry_seconds == 90


# --- call log ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_call_log_records_every_request_and_reset_clears_it(client):
    get_orders(client)
    get_orders(client, user="bad")
    client.get("/sandbox/tokens/v2/search", {"query": tokens.SOL})
    logged = control.calls()
    assert [(c["endpoint"], c["method"], c["status"]) for c in logged] == [
        ("getRecurringOrders", "GET", 200),
        ("getRecurringOrders", "GET", 400),
        ("tokens", "GET", 200),
    ]
    assert logged[0]["user"] == ALICE_WALLET
    assert control.count_calls("getRecurringOrders") == 2
    assert control.count_calls(status=400) == 1
    control.set_latency(5)
    control.inject_fault("*", "500")
    control.reset()
    assert control.count_calls() == 0
    assert control.knobs().latency_ms == 0
    assert get_orders(client).status_code == 200


@pytest.mark.django_db
def test_control_refuses_garbage_plainly_and_other_sites(client):
    """No 500 for a body nested too deeply or a number too large; another site's page cannot drive it."""
    deep = client.post("/sandbox/control", "[" * 100_000, content_type="application/json")
    assert deep.status_code == 400
    huge = client.post("/sandbox/control", '{"action": "expiry", "seconds": 1e999}', content_type="application/json")
    assert huge.status_code == 400
    assert "wrong type or size" in huge.json()["error"]

    def reset_from(site: str) -> int:
        headers = {"Sec-Fetch-Site": site}
        return client.post("/sandbox/control", {"action": "reset"}, "application/json", headers=headers).status_code

    assert reset_from("cross-site") == 403
    assert reset_from("same-site") == 403
    assert reset_from("same-origin") == 200
