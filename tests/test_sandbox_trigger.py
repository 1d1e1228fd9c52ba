"""The simulated Trigger API v2 (DCA) in dashboard.sandbox, over real HTTP on loopback: auth, orders,
the two cancel steps and their transactions, harmful withdrawals, faults and the control."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.urls import include, path
from django.utils import timezone
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard import withdrawal
from dashboard.sandbox import control, keys, tokens, trigger_auth, trigger_seed, trigger_transactions
from dashboard.sandbox.models import DcaChallenge, DcaOrder

# The sandbox's own URLs only, so these tests do not depend on the rest of the site.
urlpatterns = [path("sandbox/", include("dashboard.sandbox.urls"))]
pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db(transaction=True)]

FIXTURE = Path(__file__).parent / "fixtures" / "jupiter-dca-v2-cancel-transaction.json"
PREFIX = "Sign this message to authenticate with Jupiter Trigger Order API: "
COMPUTE_BUDGET = "ComputeBudget111111111111111111111111111111"
TOKEN = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022 = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
UNAUTHORIZED = {"error": "Unauthorized"}
ORDER_FIELDS = {
    "id",
    "requestId",
    "userPubkey",
    "vaultPubkey",
    "inputMint",
    "outputMint",
    "inputAmountInitial",
    "inputAmountRemaining",
    "amountPerRound",
    "outputAmountTotal",
    "inputAmountUsed",
    "orderType",
    "minPriceUsd",
    "maxPriceUsd",
    "triggerMint",
    "retryWindowSeconds",
    "jlEnabled",
    "jlYieldUsd",
    "numberOfRounds",
    "intervalSeconds",
    "beginFillAt",
    "nextFillAt",
    "lastFillAt",
    "roundsFilled",
    "fillPercent",
    "state",
    "displayState",
    "createdAt",
    "updatedAt",
    "events",
}
DISPLAY = {
    "depositing": "pending",
    "active": "active",
    "executing": "executing",
    "withdrawing": "pending_withdraw",
    "completed": "completed",
    "cancelled": "cancelled",
    "deposit_failed": "failed",
}

ALICE = Keypair.from_seed(bytes([21]) * 32)
BOB = Keypair.from_seed(bytes([22]) * 32)
ALICE_WALLET = str(ALICE.pubkey())
BOB_WALLET = str(BOB.pubkey())


@pytest.fixture
def api(live_server):
    """The base URL of the simulated Trigger API v2, with the sandbox reset before and after."""
    control.reset()
    yield f"{live_server.url}/sandbox/trigger/v2"
    control.reset()


# --- helpers -----------------------------------------------------------------------------------


def post(url: str, body: object = None, token: str | None = None, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        return requests.post(url, headers=headers, timeout=10, **kwargs)
    return requests.post(url, json=body, headers=headers, timeout=10, **kwargs)


def get(url: str, token: str | None = None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, params=params, headers=headers, timeout=10)


def challenge(api: str, wallet: str, kind: str = "message") -> dict:
    response = post(f"{api}/auth/challenge", {"walletPubkey": wallet, "type": kind})
    assert response.status_code == 200, response.text
    return response.json()


def sign_text(text: str, signer: Keypair) -> str:
    return str(signer.sign_message(text.encode()))


def login(api: str, signer: Keypair = ALICE) -> str:
    """A token earned the documented way: message challenge, signature, verify."""
    text = challenge(api, str(signer.pubkey()))["challenge"]
    body = {"type": "message", "walletPubkey": str(signer.pubkey()), "signature": sign_text(text, signer)}
    response = post(f"{api}/auth/verify", body)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def decode_tx(b64: str) -> VersionedTransaction:
    raw = base64.b64decode(b64)
    tx = VersionedTransaction.from_bytes(raw)
    assert bytes(tx) == raw
    return tx


def wallet_sign(tx_b64: str, signer: Keypair, message: Message | None = None) -> str:
    """What a wallet's signTransaction returns: its own slot filled, the others left as they were."""
    tx = decode_tx(tx_b64)
    msg = message or tx.message
    signatures = list(tx.signatures)
    signatures[0] = signer.sign_message(to_bytes_versioned(msg))
    return base64.b64encode(bytes(VersionedTransaction.populate(msg, signatures))).decode()


def orders(api: str, token: str, **params: str) -> list[dict]:
    response = get(f"{api}/orders/history/dca", token, limit="100", **params)
    assert response.status_code == 200, response.text
    return response.json()["orders"]


def seeded(name: str, wallet: str = ALICE_WALLET) -> str:
    return trigger_seed.order_id(wallet, name)


def cancel(api: str, token: str, order_id: str) -> requests.Response:
    return post(f"{api}/orders/dca/cancel/{order_id}", token=token)


def confirm(api: str, token: str, order_id: str, signed: str, request_id: str) -> requests.Response:
    body = {"signedTransaction": signed, "cancelRequestId": request_id}
    return post(f"{api}/orders/dca/confirm-cancel/{order_id}", body, token)


def parse_iso(text: str) -> datetime:
    assert text.endswith("Z")
    assert len(text) == len("2026-06-26T18:42:07.750Z")
    return datetime.fromisoformat(text[:-1] + "+00:00")


def jwt_parts(token: str) -> tuple[dict, dict, bytes]:
    def unpad(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header, payload, signature = token.split(".")
    return json.loads(unpad(header)), json.loads(unpad(payload)), unpad(signature)


def jwt(header: dict, claims: dict, key: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{part(json.dumps(header).encode())}.{part(json.dumps(claims).encode())}"
    return f"{signing_input}.{part(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def instructions(tx: VersionedTransaction) -> list[tuple[str, list[str], bytes]]:
    """(program, accounts, data) of every instruction."""
    account_keys = [str(k) for k in tx.message.account_keys]
    return [
        (account_keys[ix.program_id_index], [account_keys[i] for i in ix.accounts], bytes(ix.data))
        for ix in tx.message.instructions
    ]


def is_writable(tx: VersionedTransaction, key: str) -> bool:
    msg = tx.message
    account_keys = [str(k) for k in msg.account_keys]
    index = account_keys.index(key)
    header = msg.header
    if index < header.num_required_signatures:
        return index < header.num_required_signatures - header.num_readonly_signed_accounts
    return index < len(account_keys) - header.num_readonly_unsigned_accounts


def ata(owner: str, mint: str, program: str = TOKEN) -> str:
    return str(
        keys.associated_token_account(Pubkey.from_string(owner), Pubkey.from_string(mint), Pubkey.from_string(program))
    )


def vault(wallet: str = ALICE_WALLET) -> str:
    return str(keys.vault_keypair(wallet).pubkey())


COSIGNER = str(keys.cosigner_keypair().pubkey())
STRANGER = str(keys.stranger_keypair().pubkey())


# --- auth --------------------------------------------------------------------------------------


def test_message_challenge_and_verify_give_a_real_jwt(api):
    answer = challenge(api, ALICE_WALLET)
    assert set(answer) == {"type", "challenge"}
    assert answer["type"] == "message"
    assert answer["challenge"].startswith(PREFIX)
    assert len(answer["challenge"]) > len(PREFIX) + 16
    assert challenge(api, ALICE_WALLET)["challenge"] != answer["challenge"]  # a fresh nonce each time

    body = {"type": "message", "walletPubkey": ALICE_WALLET, "signature": sign_text(answer["challenge"], ALICE)}
    response = post(f"{api}/auth/verify", body)
    assert response.status_code == 200
    assert response.headers["x-api-gateway-request-id"]
    assert set(response.json()) == {"token"}
    token = response.json()["token"]
    header, claims, signature = jwt_parts(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["sub"] == ALICE_WALLET
    assert claims["exp"] - claims["iat"] == 24 * 3600
    assert abs(claims["iat"] - time.time()) < 120
    signing_input = token.rsplit(".", 1)[0].encode()
    assert hmac.compare_digest(signature, hmac.new(trigger_auth.signing_key(), signing_input, hashlib.sha256).digest())
    assert get(f"{api}/orders/history/dca", token).status_code == 200


def test_a_challenge_works_once(api):
    text = challenge(api, ALICE_WALLET)["challenge"]
    body = {"type": "message", "walletPubkey": ALICE_WALLET, "signature": sign_text(text, ALICE)}
    assert post(f"{api}/auth/verify", body).status_code == 200
    again = post(f"{api}/auth/verify", body)
    assert again.status_code == 400
    assert again.json() == {"error": "Challenge not found"}


def test_two_pending_challenges_each_work(api):
    first = challenge(api, ALICE_WALLET)["challenge"]
    second = challenge(api, ALICE_WALLET)["challenge"]
    for text in (first, second):
        body = {"type": "message", "walletPubkey": ALICE_WALLET, "signature": sign_text(text, ALICE)}
        assert post(f"{api}/auth/verify", body).status_code == 200


@pytest.mark.parametrize("case", ["other_signer", "other_text", "other_wallet", "garbage", "short", "unasked"])
def test_signatures_over_anything_else_are_refused(api, case):
    text = challenge(api, ALICE_WALLET)["challenge"]
    wallet, signature = ALICE_WALLET, sign_text(text, ALICE)
    if case == "other_signer":
        signature = sign_text(text, BOB)
    elif case == "other_text":
        signature = sign_text(text + " ", ALICE)
    elif case == "other_wallet":
        wallet = BOB_WALLET  # Bob has no challenge, and Alice's signature is not his
    elif case == "garbage":
        signature = "not-base58!"
    elif case == "short":
        signature = "3" * 40
    else:
        DcaChallenge.objects.all().delete()
    response = post(f"{api}/auth/verify", {"type": "message", "walletPubkey": wallet, "signature": signature})
    assert response.status_code == 400  # the live API's answer (its spec says 401)
    assert response.json() == {"error": "Challenge not found"}
    assert DcaChallenge.objects.filter(used_at__isnull=False).count() == 0


def test_expired_challenges_are_refused(api):
    text = challenge(api, ALICE_WALLET)["challenge"]
    body = {"type": "message", "walletPubkey": ALICE_WALLET, "signature": sign_text(text, ALICE)}
    DcaChallenge.objects.update(created_at=timezone.now() - timedelta(seconds=301))
    assert post(f"{api}/auth/verify", body).json() == {"error": "Challenge not found"}

    control.set_dca_challenge_lifetime(0)
    text = challenge(api, ALICE_WALLET)["challenge"]
    body["signature"] = sign_text(text, ALICE)
    assert post(f"{api}/auth/verify", body).status_code == 400
    control.set_dca_challenge_lifetime(300)
    assert post(f"{api}/auth/verify", body).status_code == 200  # the same challenge, within 5 minutes


def test_transaction_challenge_is_a_memo_and_a_compute_unit_price_signed_by_the_wallet_alone(api):
    answer = challenge(api, ALICE_WALLET, "transaction")
    assert set(answer) == {"type", "transaction"}
    assert answer["type"] == "transaction"
    tx = decode_tx(answer["transaction"])
    assert isinstance(tx.message, Message)
    assert tx.message.header.num_required_signatures == 1
    assert str(tx.message.account_keys[0]) == ALICE_WALLET
    assert list(tx.signatures) == [Signature.default()]
    [(budget, no_accounts, price), (program, accounts, data)] = instructions(tx)  # as the live API sends it
    assert budget == "ComputeBudget111111111111111111111111111111" and no_accounts == []
    assert price == bytes([3]) + trigger_transactions.CHALLENGE_UNIT_PRICE.to_bytes(8, "little")
    assert program == "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"
    assert accounts == [ALICE_WALLET]
    assert data.decode().startswith(PREFIX)

    def verify(signed: str, wallet: str = ALICE_WALLET) -> requests.Response:
        body = {"type": "transaction", "walletPubkey": wallet, "signedTransaction": signed}
        return post(f"{api}/auth/verify", body)

    assert verify(answer["transaction"]).json() == {"error": "Challenge not found"}  # unsigned
    assert verify(wallet_sign(answer["transaction"], BOB)).json() == {"error": "Challenge not found"}
    assert verify(wallet_sign(answer["transaction"], ALICE), BOB_WALLET).status_code == 400
    other = trigger_transactions.build_challenge(ALICE.pubkey(), PREFIX + "another nonce", "another nonce")
    assert verify(wallet_sign(answer["transaction"], ALICE, other)).json() == {"error": "Challenge not found"}
    assert verify("AQID").json() == {"error": "Invalid transaction format"}
    response = verify(wallet_sign(answer["transaction"], ALICE))
    assert response.status_code == 200
    assert jwt_parts(response.json()["token"])[1]["sub"] == ALICE_WALLET
    assert verify(wallet_sign(answer["transaction"], ALICE)).status_code == 400  # used


@pytest.mark.parametrize(
    ("endpoint", "body", "details"),
    [
        ("challenge", {"type": "message"}, {"walletPubkey": "Invalid input: expected string, received undefined"}),
        (
            "challenge",
            {"walletPubkey": 5, "type": "message"},
            {"walletPubkey": "Invalid input: expected string, received number"},
        ),
        ("challenge", {"walletPubkey": "nope", "type": "message"}, {"walletPubkey": "Invalid Solana public key"}),
        (
            "challenge",
            {"walletPubkey": ALICE_WALLET, "type": "sms"},
            {"type": 'Invalid option: expected one of "message"|"transaction"'},
        ),
        (
            "verify",
            {"type": "message", "walletPubkey": ALICE_WALLET},
            {"signature": "Invalid input: expected string, received undefined"},
        ),
        (
            "verify",
            {"type": "transaction", "walletPubkey": ALICE_WALLET, "signature": "x"},
            {"signedTransaction": "Invalid input: expected string, received undefined"},
        ),
        (
            "verify",
            {"walletPubkey": None, "signature": "x"},
            {
                "type": 'Invalid option: expected one of "message"|"transaction"',
                "walletPubkey": "Invalid input: expected string, received null",
            },
        ),
    ],
)
def test_auth_validation_errors_have_details(api, endpoint, body, details):
    response = post(f"{api}/auth/{endpoint}", body)
    assert response.status_code == 400
    assert response.json() == {"error": "Request validation failed", "details": details}


def test_auth_refuses_malformed_json_and_wrong_methods(api):
    response = requests.post(f"{api}/auth/challenge", data="{", timeout=10)
    assert response.status_code == 400
    assert response.json() == {"error": "Malformed JSON in request body"}
    wrong = requests.get(f"{api}/auth/challenge", timeout=10)
    assert (wrong.status_code, wrong.text) == (404, "404 Not Found")


# --- tokens ------------------------------------------------------------------------------------


def order_calls(api: str, token: str | None) -> list[requests.Response]:
    order_id = seeded("active")
    return [
        get(f"{api}/orders/history/dca", token),
        get(f"{api}/orders/history/dca/{order_id}", token),
        cancel(api, token, order_id),
        confirm(api, token, order_id, "AQID", "x"),
    ]


def test_every_order_call_needs_a_valid_token(api):
    token = login(api)
    header, claims, _ = jwt_parts(token)
    key = trigger_auth.signing_key()
    bad = [
        None,
        "garbage",
        token + "x",
        token.rsplit(".", 1)[0] + ".",
        jwt({"alg": "none", "typ": "JWT"}, claims, key),
        jwt(header, {**claims, "exp": int(time.time()) - 1}, key),  # expired
        jwt(header, {**claims, "sub": BOB_WALLET}, b"another key"),  # forged
        jwt(header, {**claims, "exp": str(claims["exp"])}, key),
    ]
    for candidate in bad:
        for response in order_calls(api, candidate):
            assert response.status_code == 401, (candidate, response.text)
            assert response.json() == UNAUTHORIZED
    assert requests.get(f"{api}/orders/history/dca", headers={"Authorization": token}, timeout=10).status_code == 401
    assert DcaOrder.objects.get(order_id=seeded("active")).state == "active"  # nothing happened
    assert get(f"{api}/orders/history/dca", token).status_code == 200


def test_token_lifetime_and_expiry_are_controlled(api):
    control.set_dca_token_lifetime(0)
    expired = login(api)
    _, claims, _ = jwt_parts(expired)
    assert claims["exp"] == claims["iat"]
    assert get(f"{api}/orders/history/dca", expired).json() == UNAUTHORIZED

    control.set_dca_token_lifetime(3600)
    token = login(api)
    _, claims, _ = jwt_parts(token)
    assert claims["exp"] - claims["iat"] == 3600
    assert get(f"{api}/orders/history/dca", token).status_code == 200
    control.expire_dca_tokens()
    assert get(f"{api}/orders/history/dca", token).json() == UNAUTHORIZED
    control.reset()  # does not bring revoked tokens back
    assert get(f"{api}/orders/history/dca", token).status_code == 401
    assert get(f"{api}/orders/history/dca", login(api)).status_code == 200
    assert get(f"{api}/orders/history/dca", control.issue_dca_token(BOB_WALLET)).status_code == 200


def test_asking_for_another_wallet_is_forbidden(api):
    token = login(api)
    forbidden = {"error": "Forbidden: userPubkey must match authenticated user"}
    response = get(f"{api}/orders/history/dca", token, userPubkey=BOB_WALLET)
    assert (response.status_code, response.json()) == (403, forbidden)
    assert get(f"{api}/orders/history/dca/{seeded('active')}", token, userPubkey=BOB_WALLET).status_code == 403
    body = {"signedTransaction": "AQID", "cancelRequestId": "x", "userPubkey": BOB_WALLET}
    assert post(f"{api}/orders/dca/confirm-cancel/{seeded('withdrawing')}", body, token).status_code == 403
    assert get(f"{api}/orders/history/dca", token, userPubkey=ALICE_WALLET).status_code == 200


# --- listing -----------------------------------------------------------------------------------


def test_each_wallet_gets_an_order_in_every_state(api):
    token = login(api)
    active, past = orders(api, token, state="active"), orders(api, token, state="past")
    assert sorted(o["state"] for o in active) == sorted(
        ["depositing", "active", "active", "active", "active", "active", "executing", "withdrawing"]
    )
    assert sorted(o["state"] for o in past) == ["cancelled", "completed", "deposit_failed"]
    everything = orders(api, token)
    assert {o["id"] for o in everything} == {o["id"] for o in active + past}
    assert {o["id"] for o in everything} == {seeded(spec.name) for spec in trigger_seed.STANDARD}
    bobs = orders(api, login(api, BOB))
    assert len(bobs) == 11
    assert not {o["id"] for o in bobs} & {o["id"] for o in everything}
    assert {o["vaultPubkey"] for o in bobs} == {vault(BOB_WALLET)}


def test_orders_have_jupiters_shape_and_consistent_figures(api):
    token = login(api)
    now = timezone.now()
    for order in orders(api, token):
        assert set(order) == ORDER_FIELDS
        assert order["userPubkey"] == ALICE_WALLET
        assert order["vaultPubkey"] == vault()
        assert order["displayState"] == DISPLAY[order["state"]]
        amounts = (
            "inputAmountInitial",
            "inputAmountRemaining",
            "amountPerRound",
            "outputAmountTotal",
            "inputAmountUsed",
        )
        assert all(isinstance(order[k], str) and order[k].isdigit() for k in amounts)
        assert order["fillPercent"] == pytest.approx(order["roundsFilled"] / order["numberOfRounds"])
        assert order["retryWindowSeconds"] == min(max(30, order["intervalSeconds"] // 2), 7200)
        fills = [e for e in order["events"] if e["type"] == "fill" and e["state"] == "success"]
        assert len(fills) == order["roundsFilled"]
        assert int(order["inputAmountUsed"]) == sum(int(e["inputAmount"]) for e in fills)
        assert int(order["outputAmountTotal"]) == sum(int(e["outputAmount"]) for e in fills)
        assert int(order["inputAmountRemaining"]) == int(order["inputAmountInitial"]) - int(order["inputAmountUsed"])
        per_round = int(order["amountPerRound"])
        assert (
            per_round * order["numberOfRounds"]
            <= int(order["inputAmountInitial"])
            < per_round * (order["numberOfRounds"] + 1)
        )
        created = parse_iso(order["createdAt"])
        assert created < parse_iso(order["updatedAt"]) <= now
        assert parse_iso(order["beginFillAt"]) > created
        stamps = [parse_iso(e["timestamp"]) for e in order["events"]]
        assert stamps == sorted(stamps, reverse=True)  # newest first
        assert order["events"][-1]["type"] == "deposit"
        assert order["events"][-1]["inputAmount"] == order["inputAmountInitial"]
        for event in order["events"]:
            if event["txSignature"] is not None:
                assert len(bytes(Signature.from_string(event["txSignature"]))) == 64
        if order["state"] in ("active", "withdrawing", "depositing"):
            assert parse_iso(order["nextFillAt"]) > now
        if order["roundsFilled"]:
            assert parse_iso(order["lastFillAt"]) == max(parse_iso(e["timestamp"]) for e in fills)
        else:
            assert order["lastFillAt"] is None
        price = tokens.get_token(order["outputMint"]).usd_price / tokens.get_token(order["inputMint"]).usd_price
        for fill in fills:
            value = Decimal(fill["outputAmount"]).scaleb(-tokens.get_token(order["outputMint"]).decimals)
            spent = Decimal(fill["inputAmount"]).scaleb(-tokens.get_token(order["inputMint"]).decimals)
            assert abs(value * price / spent - 1) < Decimal("0.05")  # about the market price


def test_special_orders_price_band_earn_and_token_2022(api):
    token = login(api)
    by_id = {o["id"]: o for o in orders(api, token)}
    band = by_id[seeded("price-band")]
    assert band["orderType"] == "price_conditional"
    assert (band["minPriceUsd"], band["maxPriceUsd"]) == (50, 1000)
    assert band["triggerMint"] == band["outputMint"] == tokens.SOL
    earn = by_id[seeded("earn")]
    assert earn["jlEnabled"] is True
    assert earn["jlYieldUsd"] == pytest.approx(0.4213)
    assert earn["orderType"] == "time_based"
    assert by_id[seeded("token-2022")]["inputMint"] == tokens.PYUSD
    assert (by_id[seeded("sol-input")]["inputMint"], by_id[seeded("sol-input")]["state"]) == (tokens.SOL, "active")
    for order in by_id.values():
        if order["id"] != band["id"]:
            assert (order["minPriceUsd"], order["maxPriceUsd"], order["triggerMint"]) == (None, None, None)
        if order["id"] != earn["id"]:
            assert (order["jlEnabled"], order["jlYieldUsd"]) == (False, None)


def test_seeded_events_tell_each_orders_story(api):
    token = login(api)
    by_id = {o["id"]: o for o in orders(api, token)}

    def events(name: str) -> list[tuple]:
        return [(e["type"], e["state"], e.get("roundNumber")) for e in reversed(by_id[seeded(name)]["events"])]

    assert events("active") == [
        ("deposit", "success", None),
        ("fill", "success", 1),
        ("fill", "failed", 2),
        ("fill", "failed", 2),
        ("fill", "failed", 2),
        ("fill", "rescheduled", 2),
        ("fill", "success", 2),
        ("fill", "success", 3),
    ]
    assert [e["attemptCount"] for e in reversed(by_id[seeded("active")]["events"]) if e["state"] == "failed"] == [
        1,
        2,
        3,
    ]
    assert events("depositing") == [("deposit", "pending", None)]
    assert events("deposit-failed") == [("deposit", "failed", None)]
    assert events("executing")[-1] == ("fill", "pending", 6)
    assert events("withdrawing")[-1] == ("fill", "success", 1)
    assert events("completed") == [("deposit", "success", None), ("fill", "success", 1), ("fill", "success", 2)]
    cancelled = by_id[seeded("cancelled")]
    assert events("cancelled")[-1] == ("withdrawal", "success", None)
    withdrawal = cancelled["events"][0]
    assert withdrawal["inputAmount"] == cancelled["inputAmountRemaining"] != "0"  # not zeroed, like Jupiter's
    completed = by_id[seeded("completed")]
    assert completed["inputAmountRemaining"] == "0"
    assert completed["fillPercent"] == 1
    assert int(completed["events"][0]["inputAmount"]) == int(completed["amountPerRound"]) + 1  # the dust


def test_one_order_and_its_404s(api):
    token = login(api)
    order_id = seeded("active")
    response = get(f"{api}/orders/history/dca/{order_id}", token)
    assert response.status_code == 200
    assert response.json() == next(o for o in orders(api, token) if o["id"] == order_id)
    for unknown in (seeded("active", BOB_WALLET), "019f0530-36a7-77da-a38f-ed9414bb996b", "not-a-uuid"):
        missing = get(f"{api}/orders/history/dca/{unknown}", token)
        assert (missing.status_code, missing.json()) == (404, {"error": "Order not found"})


def test_trailing_slashes_and_other_paths_answer_the_gateways_plain_404(api):
    token = login(api)
    for url in (
        f"{api}/orders/history/dca/",
        f"{api}/orders/history/dca/{seeded('active')}/",
        f"{api}/orders/history/{seeded('active')}x/y",
        f"{api}/auth/challenge/",
        f"{api}/nope",
        api,
    ):
        response = get(url, token)
        assert (response.status_code, response.text) == (404, "404 Not Found"), url
        assert response.headers["Content-Type"].startswith("text/plain")
    assert cancel(api, token, "").status_code == 404
    assert post(f"{api}/orders/dca/cancel/{seeded('active')}/", token=token).status_code == 404
    assert post(f"{api}/orders/history/dca", token=token).status_code == 404  # wrong method
    assert DcaOrder.objects.get(order_id=seeded("active")).state == "active"
    assert control.count_calls("dca-notfound") == 8


def test_pagination_sorting_and_filters(api):
    token = login(api)
    control.seed_dca_wallet(ALICE_WALLET, extra_past=25)
    first = get(f"{api}/orders/history/dca", token, state="past").json()
    assert first["pagination"] == {"total": 28, "limit": 20, "offset": 0}
    assert len(first["orders"]) == 20
    pages = [
        get(f"{api}/orders/history/dca", token, state="past", limit="10", offset=str(n)).json() for n in (0, 10, 20, 30)
    ]
    assert [len(p["orders"]) for p in pages] == [10, 10, 8, 0]
    assert [p["pagination"] for p in pages] == [{"total": 28, "limit": 10, "offset": n} for n in (0, 10, 20, 30)]
    ids = [o["id"] for p in pages for o in p["orders"]]
    assert len(set(ids)) == 28
    updated = [parse_iso(o["updatedAt"]) for p in pages for o in p["orders"]]
    assert updated == sorted(updated, reverse=True)  # updated_at desc by default

    ascending = orders(api, token, sort="created_at", dir="asc")
    created = [parse_iso(o["createdAt"]) for o in ascending]
    assert created == sorted(created)
    assert len(ascending) == 8 + 28
    by_next = orders(api, token, state="active", sort="next_fill_at", dir="asc")
    next_fills = [parse_iso(o["nextFillAt"]) for o in by_next]
    assert next_fills == sorted(next_fills)

    with_bonk = orders(api, token, mint=tokens.BONK)
    assert with_bonk
    assert all(tokens.BONK in (o["inputMint"], o["outputMint"]) for o in with_bonk)
    with_sol = orders(api, token, mint=tokens.SOL, state="active")
    assert {o["inputMint"] for o in with_sol} == {tokens.USDC, tokens.PYUSD, tokens.SOL}
    assert orders(api, token, mint=tokens.MSOL) == []


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({"limit": "0"}, {"limit": "Too small: expected number to be >=1"}),
        ({"limit": "101"}, {"limit": "Too big: expected number to be <=100"}),
        ({"limit": "ten"}, {"limit": "Invalid input: expected number, received NaN"}),
        ({"limit": "2.5"}, {"limit": "Invalid input: expected int, received number"}),
        ({"limit": "inf"}, {"limit": "Invalid input: expected number, received Infinity"}),
        ({"offset": "1" * 40}, {"offset": "Invalid input: expected number, received NaN"}),
        ({"offset": "-1"}, {"offset": "Too small: expected number to be >=0"}),
        ({"state": "open"}, {"state": 'Invalid option: expected one of "active"|"past"'}),
        ({"sort": "price"}, {"sort": 'Invalid option: expected one of "updated_at"|"created_at"|"next_fill_at"'}),
        (
            {"dir": "up", "limit": "1000"},
            {"dir": 'Invalid option: expected one of "asc"|"desc"', "limit": "Too big: expected number to be <=100"},
        ),
    ],
)
def test_list_validation_errors_have_details(api, params, details):
    response = get(f"{api}/orders/history/dca", login(api), **params)
    assert response.status_code == 400
    assert response.json() == {"error": "Request validation failed", "details": details}


def test_limits_at_the_edges_are_accepted(api):
    token = login(api)
    assert get(f"{api}/orders/history/dca", token, limit="1").json()["pagination"]["limit"] == 1
    assert get(f"{api}/orders/history/dca", token, limit="100").json()["pagination"]["limit"] == 100


# --- cancel ------------------------------------------------------------------------------------


def test_the_builder_reproduces_jupiters_published_withdrawal_byte_for_byte():
    fixture = json.loads(FIXTURE.read_text())
    refund = trigger_transactions.Refund(
        user=Pubkey.from_string(fixture["order"]["userPubkey"]),
        vault=Pubkey.from_string(fixture["order"]["vaultPubkey"]),
        cosigner=Pubkey.from_string(fixture["signers"][2]),
        mint=Pubkey.from_string(fixture["order"]["inputMint"]),
        decimals=6,
        program=Pubkey.from_string(TOKEN),
        source=Pubkey.from_string(fixture["instructions"][2]["accounts"][0]),
        amount=int(fixture["response"]["refundAmount"]),
    )
    message = trigger_transactions.build_withdrawal(refund, blockhash=Hash.from_string(fixture["recent_blockhash"]))
    assert trigger_transactions.unsigned(message) == fixture["transaction_base64"]


def assert_normal_withdrawal(tx: VersionedTransaction, order: dict, refund: int, program: str = TOKEN) -> None:
    """The documented layout: three signers, compute budget, Transfer of `refund`, CloseAccount."""
    msg = tx.message
    account_keys = [str(k) for k in msg.account_keys]
    assert isinstance(msg, Message)
    assert msg.header.num_required_signatures == 3
    assert msg.header.num_readonly_signed_accounts == 1
    assert account_keys[:3] == [ALICE_WALLET, order["vaultPubkey"], COSIGNER]
    assert list(tx.signatures) == [Signature.default()] * 3
    assert not is_writable(tx, COSIGNER)
    source = str(
        keys.order_token_account(Pubkey.from_string(order["vaultPubkey"]), order["id"], Pubkey.from_string(program))
    )
    destination = ata(ALICE_WALLET, order["inputMint"], program)
    ixs = instructions(tx)
    assert [p for p, _, _ in ixs] == [COMPUTE_BUDGET, COMPUTE_BUDGET, program, program]
    assert ixs[0][2] == bytes([2]) + (592).to_bytes(4, "little")
    assert ixs[1][2] == bytes([3]) + (250_000).to_bytes(8, "little")
    _, accounts, data = ixs[2]
    if data[0] == 3:
        assert data == bytes([3]) + refund.to_bytes(8, "little")
        assert accounts == [source, destination, order["vaultPubkey"], COSIGNER]
    else:
        decimals = tokens.get_token(order["inputMint"]).decimals
        assert data == bytes([12]) + refund.to_bytes(8, "little") + bytes([decimals])
        assert accounts == [source, order["inputMint"], destination, order["vaultPubkey"], COSIGNER]
    assert ixs[3][1:] == ([source, ALICE_WALLET, order["vaultPubkey"]], bytes([9]))
    assert len(bytes(tx)) <= 1232


def test_cancel_stops_the_order_at_once_and_issues_the_documented_withdrawal(api):
    token = login(api)
    order_id = seeded("active")
    before = get(f"{api}/orders/history/dca/{order_id}", token).json()
    response = cancel(api, token, order_id)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "roundsRemaining", "refundAmount", "transaction", "requestId"}
    assert body["id"] == order_id
    assert body["roundsRemaining"] == before["numberOfRounds"] - before["roundsFilled"] == 7
    assert body["refundAmount"] == before["inputAmountRemaining"]
    assert_normal_withdrawal(decode_tx(body["transaction"]), before, int(body["refundAmount"]))

    after = get(f"{api}/orders/history/dca/{order_id}", token).json()
    assert (after["state"], after["displayState"]) == ("withdrawing", "pending_withdraw")
    assert parse_iso(after["updatedAt"]) > parse_iso(before["updatedAt"])
    assert after["events"] == before["events"]
    assert order_id in {o["id"] for o in orders(api, token, state="active")}

    again = cancel(api, token, order_id)  # allowed in withdrawing: a fresh transaction
    assert again.status_code == 200
    assert again.json()["requestId"] != body["requestId"]
    assert (
        decode_tx(again.json()["transaction"]).message.recent_blockhash
        != decode_tx(body["transaction"]).message.recent_blockhash
    )
    assert again.json()["refundAmount"] == body["refundAmount"]
    assert [w["requestId"] for w in control.dca_withdrawals(order_id)] == [body["requestId"], again.json()["requestId"]]


def test_token_2022_and_transfer_checked_withdrawals(api):
    token = login(api)
    order = get(f"{api}/orders/history/dca/{seeded('token-2022')}", token).json()
    issued = cancel(api, token, order["id"]).json()
    tx = decode_tx(issued["transaction"])
    assert_normal_withdrawal(tx, order, int(issued["refundAmount"]), TOKEN_2022)
    assert instructions(tx)[2][2][0] == 12  # TransferChecked, as Token-2022 wants

    control.set_dca_withdrawal_mode("transfer_checked")
    order = get(f"{api}/orders/history/dca/{seeded('price-band')}", token).json()
    issued = cancel(api, token, order["id"]).json()
    tx = decode_tx(issued["transaction"])
    assert_normal_withdrawal(tx, order, int(issued["refundAmount"]))
    assert instructions(tx)[2][2][0] == 12


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("executing", "executing"),
        ("depositing", "depositing"),
        ("completed", "completed"),
        ("cancelled", "cancelled"),
        ("deposit-failed", "deposit_failed"),
    ],
)
def test_cancel_is_refused_outside_active_and_withdrawing(api, name, state):
    token = login(api)
    response = cancel(api, token, seeded(name))
    assert response.status_code == 400
    assert response.json() == {"error": f"Cannot cancel DCA order in '{state}' state"}
    assert DcaOrder.objects.get(order_id=seeded(name)).state == state
    assert control.dca_withdrawals(seeded(name)) == []


def test_a_chosen_order_can_be_made_executing(api):
    token = login(api)
    order_id = seeded("earn")
    control.set_dca_state(order_id, "executing")
    assert get(f"{api}/orders/history/dca/{order_id}", token).json()["displayState"] == "executing"
    assert cancel(api, token, order_id).json() == {"error": "Cannot cancel DCA order in 'executing' state"}
    control.set_dca_state(order_id, "active")
    assert cancel(api, token, order_id).status_code == 200
    with pytest.raises(ValueError, match="unknown state"):
        control.set_dca_state(order_id, "paused")
    with pytest.raises(ValueError, match="no DCA order"):
        control.set_dca_state("nope", "active")


def test_cancel_of_someone_elses_or_an_unknown_order_is_404(api):
    token = login(api)
    login(api, BOB)
    for order_id in (seeded("active", BOB_WALLET), "019f0530-36a7-77da-a38f-ed9414bb996b"):
        response = cancel(api, token, order_id)
        assert (response.status_code, response.json()) == (404, {"error": "DCA order not found or you do not own it"})
    assert DcaOrder.objects.get(order_id=seeded("active", BOB_WALLET)).state == "active"


def test_cancel_with_nothing_left_is_refused(api):
    token = login(api)
    DcaOrder.objects.filter(order_id=seeded("active")).update(input_amount_remaining=0)
    assert cancel(api, token, seeded("active")).json() == {"error": "No remaining funds to withdraw"}


# --- confirm-cancel ----------------------------------------------------------------------------


def test_confirm_lands_the_withdrawal_once(api):
    token = login(api)
    order_id = seeded("active")
    issued = cancel(api, token, order_id).json()
    signed = wallet_sign(issued["transaction"], ALICE)
    response = confirm(api, token, order_id, signed, issued["requestId"])
    assert response.status_code == 200
    wallet_signature = str(decode_tx(signed).signatures[0])
    assert response.json() == {"id": order_id, "txSignature": wallet_signature}

    order = get(f"{api}/orders/history/dca/{order_id}", token).json()
    assert (order["state"], order["displayState"]) == ("cancelled", "cancelled")
    assert order["inputAmountRemaining"] == issued["refundAmount"]  # not zeroed, like Jupiter's
    latest = order["events"][0]
    assert latest["type"] == "withdrawal"
    assert latest["txSignature"] == wallet_signature
    assert latest["inputAmount"] == issued["refundAmount"]
    assert latest["state"] == "success"
    assert order_id in {o["id"] for o in orders(api, token, state="past")}

    [record] = control.dca_withdrawals(order_id)
    assert record["confirmed"] is True
    assert record["txSignature"] == wallet_signature
    landed = decode_tx(record["landed"])
    message_bytes = to_bytes_versioned(landed.message)
    assert message_bytes == to_bytes_versioned(decode_tx(issued["transaction"]).message)
    signers = landed.message.account_keys[:3]
    assert all(sig.verify(key, message_bytes) for sig, key in zip(landed.signatures, signers, strict=True))

    # After success: the order is no longer being cancelled (the live API's answer for a cancelled order).
    again = confirm(api, token, order_id, signed, issued["requestId"])
    assert (again.status_code, again.json()) == (400, {"error": "DCA order not in cancellation state"})
    assert cancel(api, token, order_id).json() == {"error": "Cannot cancel DCA order in 'cancelled' state"}
    assert len(get(f"{api}/orders/history/dca/{order_id}", token).json()["events"]) == len(order["events"])


def test_confirm_accepts_the_latest_or_an_earlier_unexpired_withdrawal(api):
    token = login(api)
    order_id = seeded("withdrawing")  # seeded stopped, never signed: "the refund still needs approval"
    first = cancel(api, token, order_id).json()
    cancel(api, token, order_id)
    response = confirm(api, token, order_id, wallet_sign(first["transaction"], ALICE), first["requestId"])
    assert response.status_code == 200


def tampered(tx_b64: str, change: str) -> Message:
    msg = decode_tx(tx_b64).message
    account_keys = list(msg.account_keys)
    blockhash = msg.recent_blockhash
    if change == "blockhash":
        blockhash = Hash.new_unique()
    else:  # the co-signer replaced by another key
        account_keys[2] = BOB.pubkey()
    return Message.new_with_compiled_instructions(
        msg.header.num_required_signatures,
        msg.header.num_readonly_signed_accounts,
        msg.header.num_readonly_unsigned_accounts,
        account_keys,
        blockhash,
        list(msg.instructions),
    )


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("unknown_request", "Withdrawal transaction not found in cache. Please initiate cancel again."),
        ("other_orders_request", "Withdrawal transaction not found in cache. Please initiate cancel again."),
        ("expired", "Withdrawal transaction not found in cache. Please initiate cancel again."),
        ("garbage", "Invalid transaction format"),
        ("not_base64", "Invalid transaction format"),
        ("trailing_bytes", "Invalid transaction format"),
        ("blockhash", "Invalid withdrawal transaction: Transaction signers modified"),
        ("signers", "Invalid withdrawal transaction: Transaction signers modified"),
        ("other_signer", "Invalid withdrawal transaction: Transaction signature verification failure"),
        ("unsigned", "Invalid withdrawal transaction: Transaction signature verification failure"),
        ("not_withdrawing", "DCA order not in cancellation state"),
    ],
)
def test_confirm_refusals_change_nothing(api, case, error):
    token = login(api)
    order_id = seeded("active")
    issued = cancel(api, token, order_id).json()
    signed, request_id = wallet_sign(issued["transaction"], ALICE), issued["requestId"]
    if case == "unknown_request":
        request_id = "368645e8-7ac6-4c88-8b10-3a68812bdc1d"
    elif case == "other_orders_request":
        request_id = cancel(api, token, seeded("price-band")).json()["requestId"]
    elif case == "expired":
        control.set_expiry(0)
    elif case == "garbage":
        signed = base64.b64encode(b"\x03garbage").decode()
    elif case == "not_base64":
        signed = "!!!"
    elif case == "trailing_bytes":
        signed = base64.b64encode(base64.b64decode(signed) + b"\x00").decode()
    elif case in ("blockhash", "signers"):
        signed = wallet_sign(issued["transaction"], ALICE, tampered(issued["transaction"], case))
    elif case == "other_signer":
        signed = wallet_sign(issued["transaction"], BOB)
    elif case == "unsigned":
        signed = issued["transaction"]
    else:
        order_id = seeded("earn")
    response = confirm(api, token, order_id, signed, request_id)
    assert (response.status_code, response.json()) == (400, {"error": error})
    assert DcaOrder.objects.get(order_id=seeded("active")).state == "withdrawing"
    assert not any(w["confirmed"] for w in control.dca_withdrawals(seeded("active")))


def test_confirm_validation_and_404(api):
    token = login(api)
    response = post(f"{api}/orders/dca/confirm-cancel/{seeded('withdrawing')}", {"signedTransaction": 1}, token)
    assert response.status_code == 400
    assert response.json() == {
        "error": "Request validation failed",
        "details": {
            "signedTransaction": "Invalid input: expected string, received number",
            "cancelRequestId": "Invalid input: expected string, received undefined",
        },
    }
    malformed = requests.post(
        f"{api}/orders/dca/confirm-cancel/{seeded('withdrawing')}",
        data="nope",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert malformed.json() == {"error": "Malformed JSON in request body"}
    missing = confirm(api, token, seeded("withdrawing", BOB_WALLET), "AQID", "x")
    assert (missing.status_code, missing.json()) == (404, {"error": "DCA order not found or you do not own it"})


def test_concurrent_confirms_cancel_the_order_once(api, at_once):
    token = login(api)
    order_id = seeded("active")
    issued = cancel(api, token, order_id).json()
    signed = wallet_sign(issued["transaction"], ALICE)

    def submit() -> tuple[int, dict]:
        response = confirm(api, token, order_id, signed, issued["requestId"])
        return response.status_code, response.json()

    answers = at_once(6, submit)
    assert sorted(status for status, _ in answers) == [200, 400, 400, 400, 400, 400]
    assert {json.dumps(body) for status, body in answers if status == 400} == {
        json.dumps({"error": "DCA order not in cancellation state"})
    }
    order = control.get_dca_order(order_id)
    assert order["state"] == "cancelled"
    assert [e["type"] for e in order["events"]].count("withdrawal") == 1


# --- harmful withdrawals -----------------------------------------------------------------------


def harmful(api: str, mode: str, name: str = "active") -> tuple[VersionedTransaction, dict, dict]:
    token = login(api)
    order = get(f"{api}/orders/history/dca/{seeded(name)}", token).json()
    control.set_dca_withdrawal_mode(mode)
    issued = cancel(api, token, order["id"])
    assert issued.status_code == 200
    return decode_tx(issued.json()["transaction"]), order, issued.json()


def test_refund_to_another_account(api):
    tx, order, issued = harmful(api, "refund_elsewhere")
    _, accounts, data = instructions(tx)[2]
    assert data == bytes([3]) + int(issued["refundAmount"]).to_bytes(8, "little")
    assert accounts[1] == ata(STRANGER, order["inputMint"]) != ata(ALICE_WALLET, order["inputMint"])
    assert ata(ALICE_WALLET, order["inputMint"]) not in [str(k) for k in tx.message.account_keys]


def test_rent_to_another_account(api):
    tx, _, _ = harmful(api, "rent_elsewhere")
    program, accounts, data = instructions(tx)[3]
    assert (program, data) == (TOKEN, bytes([9]))
    assert accounts[1] == STRANGER


def test_less_than_the_refund(api):
    tx, _, issued = harmful(api, "wrong_amount")
    data = instructions(tx)[2][2]
    assert data[0] == 3
    assert 0 < int.from_bytes(data[1:9], "little") < int(issued["refundAmount"])


def test_an_extra_transfer_from_the_wallet(api):
    tx, order, _ = harmful(api, "extra_transfer")
    drains = [(a, d) for p, a, d in instructions(tx) if p == TOKEN and d[0] == 3 and a[2] == ALICE_WALLET]
    [(accounts, _)] = drains
    assert accounts[:2] == [ata(ALICE_WALLET, order["inputMint"]), ata(STRANGER, order["inputMint"])]
    assert is_writable(tx, ALICE_WALLET)


def test_an_unknown_program(api):
    tx, _, _ = harmful(api, "unknown_program")
    programs = {p for p, _, _ in instructions(tx)}
    assert programs - {COMPUTE_BUDGET, TOKEN} == {str(trigger_transactions.UNKNOWN_PROGRAM)}


def test_a_huge_priority_fee(api):
    tx, _, _ = harmful(api, "huge_fee")
    budget = [d for p, _, d in instructions(tx) if p == COMPUTE_BUDGET]
    limit = int.from_bytes(next(d for d in budget if d[0] == 2)[1:5], "little")
    price = int.from_bytes(next(d for d in budget if d[0] == 3)[1:9], "little")
    assert limit * price // 1_000_000 == 70_000_000  # lamports: 0.07 SOL, far over any sane cap


def test_the_wallet_as_authority_of_something(api):
    tx, order, _ = harmful(api, "wallet_authority")
    [(accounts, data)] = [(a, d) for p, a, d in instructions(tx) if p == TOKEN and d[0] == 4]
    assert accounts == [ata(ALICE_WALLET, order["inputMint"]), STRANGER, ALICE_WALLET]  # Approve, owner: wallet
    assert int.from_bytes(data[1:9], "little") == 2**64 - 1


def test_a_writable_cosigner(api):
    tx, _, _ = harmful(api, "writable_cosigner")
    assert tx.message.header.num_required_signatures == 3
    assert is_writable(tx, COSIGNER)


def test_an_extra_signer(api):
    tx, _, _ = harmful(api, "extra_signer")
    assert tx.message.header.num_required_signatures == 4
    assert STRANGER in [str(k) for k in tx.message.account_keys[:4]]
    assert is_writable(tx, STRANGER)
    assert len(tx.signatures) == 4


def test_an_earn_while_you_wait_withdrawal_carries_a_lend_instruction(api):
    tx, _, _ = harmful(api, "lend")
    assert [p for p, _, _ in instructions(tx)][2] == str(trigger_transactions.LEND_PROGRAM)
    control.set_dca_withdrawal_mode("normal")
    # The jlEnabled order withdraws that way in the normal mode too: its funds sit in Jupiter Lend.
    token = login(api)
    earn = decode_tx(cancel(api, token, seeded("earn")).json()["transaction"])
    assert str(trigger_transactions.LEND_PROGRAM) in {p for p, _, _ in instructions(earn)}


def test_harmful_mode_lasts_until_reset_and_can_still_be_confirmed(api):
    _, order, issued = harmful(api, "refund_elsewhere")
    token = login(api)
    second = decode_tx(cancel(api, token, order["id"]).json()["transaction"])
    assert instructions(second)[2][1][1] == ata(STRANGER, order["inputMint"])
    assert {w["mode"] for w in control.dca_withdrawals(order["id"])} == {"refund_elsewhere"}
    control.reset()
    third = decode_tx(cancel(api, token, order["id"]).json()["transaction"])
    assert instructions(third)[2][1][1] == ata(ALICE_WALLET, order["inputMint"])
    # A wallet that signs anyway is not saved by the sandbox (Jupiter would land it too).
    signed = wallet_sign(issued["transaction"], ALICE)
    assert confirm(api, token, order["id"], signed, issued["requestId"]).status_code == 200
    with pytest.raises(ValueError, match="unknown withdrawal mode"):
        control.set_dca_withdrawal_mode("steal")


@pytest.mark.parametrize("mode", trigger_transactions.MODES)
@pytest.mark.parametrize("name", ["active", "token-2022", "sol-input"])
def test_the_dashboards_withdrawal_check_passes_good_modes_and_refuses_every_harmful_one(api, mode, name):
    tx, order, issued = harmful(api, mode, name)
    token = tokens.get_token(order["inputMint"])
    refund = withdrawal.RefundOrder(
        wallet=ALICE_WALLET,
        vault=order["vaultPubkey"],
        input_mint=order["inputMint"],
        remaining=int(order["inputAmountRemaining"]),
        initial=int(order["inputAmountInitial"]),
        used=int(order["inputAmountUsed"]),
        refund_amount=int(issued["refundAmount"]),
        input_token_program=token.token_program,
        input_decimals=token.decimals,
    )
    raw = base64.b64decode(issued["transaction"])
    if mode in trigger_transactions.GOOD_MODES:
        checked = withdrawal.check_withdrawal(raw, refund, max_priority_fee_lamports=200_000)
        assert checked.message == to_bytes_versioned(tx.message)
        assert checked.amount == int(order["inputAmountRemaining"]) == int(issued["refundAmount"])
    else:
        with pytest.raises(withdrawal.WithdrawalRefused):
            withdrawal.check_withdrawal(raw, refund, max_priority_fee_lamports=200_000)


def test_a_sol_orders_refund_closes_its_wrapped_sol_deposit_straight_to_the_wallet(api):
    tx, order, issued = harmful(api, "normal", "sol-input")
    vault = order["vaultPubkey"]
    source = str(keys.order_token_account(Pubkey.from_string(vault), order["id"]))
    assert [(p, a, d) for p, a, d in instructions(tx)][2:] == [
        (TOKEN, [source, ALICE_WALLET, vault, COSIGNER], bytes([9]))
    ]
    assert int(issued["refundAmount"]) == int(order["inputAmountRemaining"])


def test_a_sol_refund_unwrapped_into_the_wallets_wrapped_sol_account(api):
    tx, order, issued = harmful(api, "sol_unwrap", "sol-input")
    vault, wsol = order["vaultPubkey"], ata(ALICE_WALLET, tokens.SOL)
    source = str(keys.order_token_account(Pubkey.from_string(vault), order["id"]))
    amount = int(issued["refundAmount"])
    assert [(p, a, d) for p, a, d in instructions(tx)][2:] == [
        (
            "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
            [ALICE_WALLET, wsol, ALICE_WALLET, tokens.SOL, "11111111111111111111111111111111", TOKEN],
            bytes([1]),
        ),
        (TOKEN, [source, wsol, vault, COSIGNER], bytes([3]) + amount.to_bytes(8, "little")),
        (TOKEN, [wsol, ALICE_WALLET, ALICE_WALLET], bytes([9])),
        (TOKEN, [source, ALICE_WALLET, vault], bytes([9])),
    ]


def test_a_token_2022_refund_naming_a_transfer_fee(api):
    tx, _order, issued = harmful(api, "transfer_fee", "token-2022")
    amount = int(issued["refundAmount"])
    _program, _accounts, data = instructions(tx)[2]
    assert data == bytes([26, 1]) + amount.to_bytes(8, "little") + bytes([6]) + (amount * 3 // 1000).to_bytes(
        8, "little"
    )
    # Classic Token inputs have no transfer fee: the mode leaves them as they are.
    tx, _order, _issued = harmful(api, "transfer_fee", "active")
    assert instructions(tx)[2][2][0] == 3


@pytest.mark.parametrize("name", ["active", "sol-input"])
def test_a_short_refund_names_the_one_unit_it_moves(api, name):
    tx, order, issued = harmful(api, "short_refund", name)
    assert issued["refundAmount"] == "1"
    assert control.dca_withdrawals(order["id"])[-1]["refundAmount"] == "1"
    if name == "active":
        assert instructions(tx)[2][2] == bytes([3]) + (1).to_bytes(8, "little")
    else:  # a nearly empty account of the vault is closed, not the deposit
        vault = Pubkey.from_string(order["vaultPubkey"])
        source = keys.order_token_account(vault, order["id"])
        assert instructions(tx)[2][1][0] == str(keys.dust_token_account(vault, source))


# --- faults, rate limit, v1 switch, control ----------------------------------------------------


@pytest.mark.parametrize("endpoint", ["dca-list", "*"])
def test_gateway_faults_on_v2_endpoints(api, endpoint):
    token = login(api)
    for kind in ("500", "502", "403", "429", "nonjson"):
        control.inject_fault(endpoint, kind)
    r500, r502, r403, r429, nonjson, ok = (get(f"{api}/orders/history/dca", token) for _ in range(6))
    assert (r500.status_code, r500.json()["code"]) == (500, 500)
    assert r502.status_code == 502
    assert r502.headers["Content-Type"].startswith("text/html")
    assert (r403.status_code, r403.json()) == (403, {"code": 403, "message": "Forbidden"})
    assert (r429.status_code, r429.json()) == (429, {"code": 429, "message": "Too many requests"})
    assert int(r429.headers["x-ratelimit-reset"]) > time.time() - 1
    assert r429.headers["x-ratelimit-remaining"] == "0"
    assert nonjson.status_code == 200
    with pytest.raises(ValueError):
        nonjson.json()
    assert ok.status_code == 200
    assert all(r.headers["x-api-gateway-request-id"] for r in (r500, r502, r403, r429, nonjson, ok))
    assert [c["fault"] for c in control.calls("dca-list")] == ["500", "502", "403", "429", "nonjson", ""]


def test_a_fault_on_cancel_changes_nothing(api):
    token = login(api)
    control.inject_fault("dca-cancel", "502")
    assert cancel(api, token, seeded("active")).status_code == 502
    assert DcaOrder.objects.get(order_id=seeded("active")).state == "active"
    assert cancel(api, token, seeded("active")).status_code == 200


def test_a_timed_out_confirm_still_cancels_the_order(api):
    token = login(api)
    order_id = seeded("active")
    issued = cancel(api, token, order_id).json()
    signed = wallet_sign(issued["transaction"], ALICE)
    control.inject_fault("dca-confirm", "timeout", seconds=1.5)
    with pytest.raises(requests.Timeout):
        requests.post(
            f"{api}/orders/dca/confirm-cancel/{order_id}",
            json={"signedTransaction": signed, "cancelRequestId": issued["requestId"]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=0.5,
        )
    # The client gave up, but the work is done: re-reading the order settles it.
    deadline = time.monotonic() + 5
    while control.get_dca_order(order_id)["state"] != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.05)
    order = get(f"{api}/orders/history/dca/{order_id}", token).json()
    assert order["state"] == "cancelled"
    assert order["events"][0]["txSignature"] == str(decode_tx(signed).signatures[0])
    assert control.count_calls("dca-confirm", fault="timeout") == 1
    time.sleep(1.2)  # let the late answer finish before the database is flushed


def test_latency_applies_to_v2(api):
    control.set_latency(300)
    started = time.monotonic()
    challenge(api, ALICE_WALLET)
    assert time.monotonic() - started >= 0.3


def test_rate_limit_counts_v2_calls_with_headers(api):
    token = login(api)  # 2 calls, before the limit is set
    control.set_rate_limit(Decimal("0.05"))  # 3 requests per 60-second window
    answers = [get(f"{api}/orders/history/dca", token) for _ in range(2)] + [cancel(api, token, seeded("active"))]
    answers.append(get(f"{api}/orders/history/dca", token))
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert answers[-1].json() == {"code": 429, "message": "Too many requests"}
    assert time.time() < int(answers[-1].headers["x-ratelimit-reset"]) <= time.time() + 61


def test_v1_can_be_switched_off(api, live_server):
    v1 = f"{live_server.url}/sandbox/recurring/v1"
    params = {"user": ALICE_WALLET, "orderStatus": "active", "recurringType": "time", "includeFailedTx": "false"}
    assert requests.get(f"{v1}/getRecurringOrders", params=params, timeout=10).status_code == 200
    control.switch_off_v1(410)
    answers = [
        requests.get(f"{v1}/getRecurringOrders", params=params, timeout=10),
        requests.post(f"{v1}/cancelOrder", json={}, timeout=10),
        requests.post(f"{v1}/execute", json={}, timeout=10),
        requests.get(f"{v1}/execute", timeout=10),
    ]
    assert [(r.status_code, r.json()) for r in answers] == [(410, {"code": 410, "message": "Gone"})] * 4
    assert all(r.headers["x-api-gateway-request-id"] for r in answers)
    assert requests.get(f"{live_server.url}/sandbox/tokens/v2/search", params={"query": tokens.SOL}, timeout=10).ok
    assert get(f"{api}/orders/history/dca", login(api)).status_code == 200
    control.switch_off_v1(404)
    assert requests.get(f"{v1}/getRecurringOrders", params=params, timeout=10).json() == {
        "code": 404,
        "message": "Not Found",
    }
    assert control.count_calls("getRecurringOrders", fault="v1_off") == 2
    control.switch_off_v1(None)
    assert requests.get(f"{v1}/getRecurringOrders", params=params, timeout=10).status_code == 200
    with pytest.raises(ValueError, match="404, 410"):
        control.switch_off_v1(500)


def test_the_call_log_names_user_order_and_request(api):
    token = login(api)
    issued = cancel(api, token, seeded("active")).json()
    confirm(api, token, seeded("active"), wallet_sign(issued["transaction"], ALICE), issued["requestId"])
    logged = [
        (c["endpoint"], c["method"], c["user"], c["order_key"], c["request_id"], c["status"]) for c in control.calls()
    ]
    assert logged == [
        ("dca-challenge", "POST", ALICE_WALLET, "", "", 200),
        ("dca-verify", "POST", ALICE_WALLET, "", "", 200),
        ("dca-cancel", "POST", ALICE_WALLET, seeded("active"), issued["requestId"], 200),
        ("dca-confirm", "POST", ALICE_WALLET, seeded("active"), issued["requestId"], 200),
    ]


def test_the_v1_seed_is_untouched_by_v2(api, live_server):
    login(api)
    params = {"user": ALICE_WALLET, "orderStatus": "active", "recurringType": "time", "includeFailedTx": "false"}
    v1 = requests.get(f"{live_server.url}/sandbox/recurring/v1/getRecurringOrders", params=params, timeout=10)
    assert len(v1.json()["time"]) == 4
    control.seed_dca_wallet(ALICE_WALLET, standard=False)
    v1_again = requests.get(f"{live_server.url}/sandbox/recurring/v1/getRecurringOrders", params=params, timeout=10)
    assert [o["orderKey"] for o in v1_again.json()["time"]] == [o["orderKey"] for o in v1.json()["time"]]
    assert orders(api, login(api)) == []


def test_seeding_is_deterministic_per_wallet():
    now = timezone.now()
    one = trigger_seed.build_orders(ALICE_WALLET, now, extra_past=4)
    two = trigger_seed.build_orders(ALICE_WALLET, now, extra_past=4)
    fields = ("order_id", "input_amount_initial", "output_amount_total", "created_at", "events", "state")
    assert [[getattr(o, f) for f in fields] for o in one] == [[getattr(o, f) for f in fields] for o in two]
    later = trigger_seed.build_orders(ALICE_WALLET, now + timedelta(hours=1))
    standard = len(trigger_seed.STANDARD)
    assert [o.order_id for o in later] == [o.order_id for o in one[:standard]]
    assert [o.output_amount_total for o in later] == [o.output_amount_total for o in one[:standard]]


def test_control_endpoint_over_http(api, live_server):
    url = f"{live_server.url}/sandbox/control"

    def act(**body) -> requests.Response:
        return requests.post(url, json=body, timeout=10)

    seeded_orders = act(action="dca_seed", wallet=BOB_WALLET, extra_past=2).json()["orders"]
    assert [o["name"] for o in seeded_orders] == [s.name for s in trigger_seed.STANDARD] + ["past-0", "past-1"]
    assert {o["name"]: o["state"] for o in seeded_orders}["executing"] == "executing"
    order_id = next(o["id"] for o in seeded_orders if o["name"] == "active")
    assert act(action="dca_state", id=order_id, state="executing").ok
    described = act(action="dca_order", id=order_id).json()
    assert described["order"]["state"] == "executing"
    assert described["withdrawals"] == []
    assert act(action="dca_withdrawal", mode="huge_fee").ok
    assert control.knobs().dca_withdrawal_mode == "huge_fee"
    assert act(action="dca_token_lifetime", seconds=60).ok
    assert act(action="dca_challenge_lifetime", seconds=30).ok
    assert act(action="v1_off", status=410).ok
    knobs = control.knobs()
    assert (knobs.dca_token_seconds, knobs.dca_challenge_seconds, knobs.v1_status) == (60, 30, 410)
    generation = knobs.dca_token_generation
    assert act(action="dca_expire_tokens").ok
    assert control.knobs().dca_token_generation == generation + 1
    assert act(action="fault", endpoint="dca-verify", kind="timeout", seconds=2).ok
    for bad in (
        {"action": "dca_withdrawal", "mode": "steal"},
        {"action": "dca_state", "id": order_id, "state": "paused"},
        {"action": "dca_token_lifetime", "seconds": -1},
        {"action": "v1_off", "status": 200},
        {"action": "dca_seed", "wallet": "nope"},
        {"action": "dca_seed"},
        {"action": "fault", "endpoint": "dca-nope", "kind": "500"},
    ):
        response = act(**bad)
        assert response.status_code == 400, bad
        assert response.json()["ok"] is False
    counts = requests.get(f"{url}/calls", timeout=10).json()
    assert set(control.V2_ENDPOINTS) <= set(counts["byEndpoint"])
    assert act(action="reset").ok
    knobs = control.knobs()
    assert (knobs.dca_withdrawal_mode, knobs.v1_status, knobs.dca_token_seconds) == ("normal", None, 86400)


# --- the sandbox wallet (dashboard/sandbox/static/sandbox/wallet.js) against this API ----------

CHROMIUM = Path("/usr/bin/chromium")
WALLET_SCRIPT = """
async ({ api }) => {
  let wallet;
  addEventListener('wallet-standard:register-wallet', (e) => e.detail({ register: (w) => { wallet = w; } }));
  // The wallet's signing core (a classic script) first, then the wallet. Its approval sheet is
  // answered "Approve" as soon as it shows, and every sheet's words are kept.
  await new Promise((resolve, reject) => document.head.append(Object.assign(
    document.createElement('script'), { src: '/static/sandbox/wallet-core.js', onload: resolve, onerror: reject })));
  const sheets = [];
  new MutationObserver(() => {
    const sheet = document.querySelector('dialog.sandbox-sheet[open]');
    if (sheet && !sheet.dataset.seen) {
      sheet.dataset.seen = '1';
      sheets.push(sheet.textContent);
      sheet.querySelector('.sheet-button.primary').click();
    }
  }).observe(document.body, { childList: true, subtree: true });
  await import('/static/sandbox/wallet.js');
  const [account] = (await wallet.features['standard:connect'].connect()).accounts;
  const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
  const base58 = (bytes) => {
    let n = 0n;
    for (const b of bytes) n = n * 256n + BigInt(b);
    let s = '';
    for (; n > 0n; n /= 58n) s = B58[Number(n % 58n)] + s;
    for (const b of bytes) { if (b) break; s = '1' + s; }
    return s;
  };
  const toB64 = (bytes) => btoa(String.fromCharCode(...bytes));
  const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const call = async (path, body, token) => {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(api + path, { method: body === undefined ? 'GET' : 'POST', headers,
      body: body === undefined || body === null ? undefined : JSON.stringify(body) });
    return { status: r.status, body: await r.json() };
  };
  const signTx = async (b64) => {
    const [out] = await wallet.features['solana:signTransaction'].signTransaction(
      { account, transaction: fromB64(b64), chain: 'solana:mainnet' });
    return toB64(out.signedTransaction);
  };

  const text = (await call('/auth/challenge', { walletPubkey: account.address, type: 'message' })).body.challenge;
  const [signed] = await wallet.features['solana:signMessage'].signMessage(
    { account, message: new TextEncoder().encode(text) });
  const verified = await call('/auth/verify',
    { type: 'message', walletPubkey: account.address, signature: base58(signed.signature) });

  const memo = (await call('/auth/challenge', { walletPubkey: account.address, type: 'transaction' })).body;
  const memoVerified = await call('/auth/verify',
    { type: 'transaction', walletPubkey: account.address, signedTransaction: await signTx(memo.transaction) });

  const token = verified.body.token;
  const listed = await call('/orders/history/dca?state=active', undefined, token);
  // A token-input order (its refund moves tokens; a SOL-input order's closes its deposit instead),
  // whatever order the list comes in.
  const order = listed.body.orders.find((o) => o.state === 'active' && !o.jlEnabled
    && o.inputMint !== 'So11111111111111111111111111111111111111112');
  const issued = (await call(`/orders/dca/cancel/${order.id}`, null, token)).body;
  const confirmed = await call(`/orders/dca/confirm-cancel/${order.id}`,
    { signedTransaction: await signTx(issued.transaction), cancelRequestId: issued.requestId }, token);
  return { address: account.address, verified: verified.status, memoVerified: memoVerified.status,
           orderId: order.id, confirmed, sheets };
}
"""


@pytest.mark.browser
def test_the_sandbox_wallet_signs_v2_challenges_and_withdrawals(api):
    """The in-browser sandbox wallet: signMessage for the message challenge, signTransaction for the memo
    challenge and for a three-signer withdrawal (it fills only its own slot), all accepted by the sandbox."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (run `make browser`).")
    from playwright.sync_api import sync_playwright

    outcome: dict = {}

    def drive() -> None:
        # In a thread of its own: the browser tests' session keeps Playwright's loop in the main thread.
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    page = browser.new_page()
                    page.goto(f"{api}/wallet-page")  # any page of the origin (a plain 404 here) hosts the wallet
                    outcome["result"] = page.evaluate(WALLET_SCRIPT, {"api": "/sandbox/trigger/v2"})
                finally:
                    browser.close()
        except Exception as exc:  # reported below, in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=drive)
    thread.start()
    thread.join(timeout=120)
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert (result["verified"], result["memoVerified"]) == (200, 200)
    assert result["confirmed"]["status"] == 200, result["confirmed"]
    order = control.get_dca_order(result["orderId"])
    assert order["userPubkey"] == result["address"]
    assert order["state"] == "cancelled"
    assert order["events"][0]["txSignature"] == result["confirmed"]["body"]["txSignature"]
    # Each signature was asked for on the sandbox wallet's approval sheet, in words.
    message, memo, withdrawal = result["sheets"]
    assert "Sign a message from Jupiter" in message and "authenticate with Jupiter" in message
    assert "Approve a transaction" in memo and "Memo" in memo
    # In token amounts and names, as a wallet that reads the accounts shows it ("Move 150 USDC …").
    moved = re.search(r"Move [\d,.]+ (USDC|PYUSD) from \w{4}…\w{4} to your wallet", withdrawal)
    assert moved, withdrawal
    assert re.search(rf"Close the {moved[1]} account of \w{{4}}…\w{{4}}; its rent goes to your wallet", withdrawal)
    assert "base units" not in withdrawal
    assert "Network fee ≈ 0.000015 SOL" in withdrawal  # three signatures


def test_token_accounts_name_what_a_withdrawal_moves(api):
    """The sandbox wallet's stand-in for an RPC: the wallet's own token accounts, its vault's, an
    order's deposit account and a mint are named (symbol, decimals, owner); anything else is not."""
    control.seed_dca_wallet(ALICE_WALLET)
    vault = keys.vault_keypair(ALICE_WALLET).pubkey()
    deposit = str(keys.order_token_account(vault, trigger_seed.order_id(ALICE_WALLET, "withdrawing")))
    mine = str(keys.associated_token_account(ALICE.pubkey(), Pubkey.from_string(tokens.USDC)))
    stranger = str(Keypair().pubkey())
    addresses = [deposit, mine, tokens.FAKE_WIF, stranger]
    answer = requests.get(
        api.removesuffix("/trigger/v2") + "/token-accounts",
        params=[("wallet", ALICE_WALLET), *(("address", a) for a in addresses)],
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json() == {
        deposit: {"mint": tokens.USDC, "symbol": "USDC", "decimals": 6, "owner": str(vault)},
        mine: {"mint": tokens.USDC, "symbol": "USDC", "decimals": 6, "owner": ALICE_WALLET},
        tokens.FAKE_WIF: {"mint": tokens.FAKE_WIF, "symbol": "$WIF", "decimals": 6, "owner": ""},
    }
    assert requests.get(api.removesuffix("/trigger/v2") + "/token-accounts", timeout=10).json() == {}


def test_the_seed_command_can_seed_v2_orders(capsys):
    call_command("sandbox_seed", ALICE_WALLET, "--active", "1", "--history", "0", "--dca", "--dca-past", "2")
    out = capsys.readouterr().out
    assert "Seeded 1 orders" in out
    assert f"v2 DCA {seeded('executing')}  executing" in out
    assert DcaOrder.objects.filter(user=ALICE_WALLET).count() == len(trigger_seed.STANDARD) + 2
