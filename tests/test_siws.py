"""Sign-In With Solana on the server: messages signed in Python with solders."""

from __future__ import annotations

import base64
import json
import os
from datetime import timedelta

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from dashboard import siws
from dashboard.models import SignInChallenge
from tests.wallet import sign_in_body, sign_in_text, sign_transaction

COMPUTE_BUDGET = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
CHALLENGE = "/sign-in/challenge"
VERIFY = "/sign-in/verify"


def start(client: Client, address: str = "") -> dict:
    body = {"address": address} if address else {}
    response = client.post(CHALLENGE, json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def verify(client: Client, body: dict | str, **extra):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(VERIFY, data, content_type="application/json", **extra)


def assert_refused(client: Client, response, code: str, status: int = 400) -> None:
    """Refused with this code (its words: dashboard/messages.py), nobody signed in; start again."""
    assert response.status_code == status, response.content
    assert (response.json()["state"], response.json()["code"], response.json()["next"]) == ("refused", code, "retry")
    assert response.json()["message"]
    assert SESSION_KEY not in client.session


# --- The happy paths ---


@pytest.mark.django_db
def test_challenge_is_the_sign_in_input(client):
    challenge = start(client)
    assert challenge["domain"] == "testserver"
    assert challenge["uri"] == "http://testserver/"
    assert challenge["statement"] == siws.STATEMENT
    assert (challenge["version"], challenge["chainId"]) == ("1", "mainnet")
    assert len(challenge["nonce"]) >= 24 and challenge["nonce"].isalnum()
    stored = SignInChallenge.objects.get(nonce=challenge["nonce"])
    assert stored.session_key == client.session.session_key
    assert stored.expires_at - stored.issued_at == timedelta(minutes=5)


@pytest.mark.django_db
def test_sign_in_happy_path(client, keypair, wallet):
    challenge = start(client)
    text = sign_in_text(challenge, wallet)
    # The exact SIWS layout, pinned independently of the serialiser.
    assert text == (
        f"testserver wants you to sign in with your Solana account:\n{wallet}\n\n"
        f"{siws.STATEMENT}\n\nURI: http://testserver/\nVersion: 1\nChain ID: mainnet\n"
        f"Nonce: {challenge['nonce']}\nIssued At: {challenge['issuedAt']}\n"
        f"Expiration Time: {challenge['expirationTime']}"
    )
    before = client.session.session_key
    response = verify(client, sign_in_body(keypair, text, challenge["nonce"]))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "state": "signed_in",
        "code": "signed_in",
        "message": "Signed in.",
        "next": None,
        "address": wallet,
    }
    assert client.session[SESSION_KEY]
    assert client.session.session_key != before  # rotated on login
    page = client.get("/")
    assert page.context["wallet"] == wallet
    assert f"{wallet[:4]}…" in page.content.decode()
    assert b"Sign out" in page.content
    assert not page.context["user"].has_usable_password()


@pytest.mark.django_db
def test_sign_message_fallback(client, keypair, wallet):
    challenge = start(client, wallet)
    assert challenge["text"] == sign_in_text(challenge, wallet)
    response = verify(client, sign_in_body(keypair, challenge["text"], challenge["nonce"]))
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_sign_message_fallback_requires_the_exact_text(client, keypair, wallet):
    challenge = start(client, wallet)
    other = sign_in_text(challenge, wallet, statement="Something else entirely.")
    response = verify(client, sign_in_body(keypair, other, challenge["nonce"]))
    assert_refused(client, response, "sign_in_text_changed")


@pytest.mark.django_db
def test_sign_out(client, keypair, wallet):
    challenge = start(client)
    verify(client, sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"]))
    response = client.post(reverse("sign_out"))
    assert response.status_code == 302
    assert SESSION_KEY not in client.session
    assert client.get(reverse("sign_out")).status_code == 405


# --- Hardware wallets: the sign-in text in a memo transaction, signed and never sent ---

MEMO = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")


def start_transaction(client: Client, kp: Keypair) -> tuple[dict, VersionedTransaction]:
    response = client.post(
        CHALLENGE, json.dumps({"address": str(kp.pubkey()), "type": "transaction"}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    challenge = response.json()
    return challenge, VersionedTransaction.from_bytes(base64.b64decode(challenge["transaction"]))


def memo_transaction(
    kp: Keypair,
    text: str,
    blockhash: Hash,
    *,
    before: tuple[Instruction, ...] = (),
    after: tuple[Instruction, ...] = (),
    payer: Keypair | None = None,
    signer: Keypair | None = None,
) -> dict:
    """What the bridge posts once the wallet signed a memo transaction built from these parts."""
    memo = Instruction(MEMO, text.encode(), [AccountMeta(kp.pubkey(), True, False)])
    message = Message.new_with_blockhash([*before, memo, *after], (payer or kp).pubkey(), blockhash)
    keys = {k.pubkey(): k for k in (kp, payer) if k} | ({kp.pubkey(): signer} if signer else {})
    required = message.account_keys[: message.header.num_required_signatures]
    tx = VersionedTransaction.populate(
        message, [keys[key].sign_message(to_bytes_versioned(message)) for key in required]
    )
    return {"address": str(kp.pubkey()), "signedTransaction": base64.b64encode(bytes(tx)).decode()}


def signed_as_issued(challenge: dict, issued: VersionedTransaction, kp: Keypair, **changes) -> dict:
    body = memo_transaction(kp, challenge["text"], issued.message.recent_blockhash, **changes)
    return {**body, "nonce": challenge["nonce"]}


@pytest.mark.django_db
def test_sign_in_with_a_transaction(client, keypair, wallet):
    challenge, issued = start_transaction(client, keypair)
    # Only the sign-in text in a memo; the wallet pays and is the only signer; not a real blockhash.
    assert challenge["text"] == sign_in_text(challenge, wallet)
    assert issued.message.account_keys[0] == keypair.pubkey()
    assert issued.message.header.num_required_signatures == 1
    [ix] = issued.message.instructions
    assert issued.message.account_keys[ix.program_id_index] == MEMO
    assert bytes(ix.data) == challenge["text"].encode()
    body = {
        "address": wallet,
        "signedTransaction": sign_transaction(challenge["transaction"], keypair),
        "nonce": challenge["nonce"],
    }
    response = verify(client, body)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "signed_in"
    assert client.session[SESSION_KEY]
    client.post(reverse("sign_out"))
    assert_refused(client, verify(client, body), "nonce_unknown")


@pytest.mark.django_db
def test_compute_unit_settings_a_wallet_adds_are_accepted_within_the_ceiling(client, keypair, settings):
    assert settings.MAX_PRIORITY_FEE_LAMPORTS == 200_000
    challenge, issued = start_transaction(client, keypair)
    added = (set_compute_unit_limit(50_000), set_compute_unit_price(4_000_000))  # 200,000 lamports
    response = verify(client, signed_as_issued(challenge, issued, keypair, before=added))
    assert response.status_code == 200, response.content


def refused_transactions(kp: Keypair) -> dict[str, tuple[dict, str, int]]:
    stranger = Keypair()
    pay = transfer(TransferParams(from_pubkey=kp.pubkey(), to_pubkey=stranger.pubkey(), lamports=10**9))
    return {
        "a transfer beside the memo": ({"after": (pay,)}, "sign_in_transaction_does_more", 400),
        "a priority fee above the ceiling": (
            {"before": (set_compute_unit_limit(50_000), set_compute_unit_price(4_000_001))},
            "sign_in_transaction_does_more",
            400,
        ),
        "a heap-frame request": (
            {"before": (Instruction(COMPUTE_BUDGET, bytes([1, 0, 128, 0, 0]), []),)},
            "sign_in_transaction_does_more",
            400,
        ),
        "someone else pays": ({"payer": stranger}, "sign_in_transaction_does_more", 400),
        "a second memo": ({"after": (Instruction(MEMO, b"and more", []),)}, "sign_in_transaction_changed", 400),
        "another blockhash": ({"blockhash": Hash.new_unique()}, "sign_in_transaction_changed", 400),
        "other text": ({"text": "Sign in to evil.example"}, "not_sign_in_text", 400),
        "signed by another key": ({"signer": stranger}, "signature_invalid", 403),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(refused_transactions(Keypair())))
def test_sign_in_transactions_that_are_not_exactly_ours_are_refused(client, keypair, case):
    changes, code, status = refused_transactions(keypair)[case]
    challenge, issued = start_transaction(client, keypair)
    text = changes.pop("text", challenge["text"])
    blockhash = changes.pop("blockhash", issued.message.recent_blockhash)
    body = {**memo_transaction(keypair, text, blockhash, **changes), "nonce": challenge["nonce"]}
    assert_refused(client, verify(client, body), code, status)
    # Nothing was used up: the wallet's real answer still signs in.
    assert verify(client, signed_as_issued(challenge, issued, keypair)).status_code == 200


@pytest.mark.django_db
def test_a_sign_in_transaction_is_refused_unsigned_late_elsewhere_or_for_another_account(client, keypair, wallet):
    challenge, issued = start_transaction(client, keypair)
    unsigned = {"address": wallet, "signedTransaction": challenge["transaction"], "nonce": challenge["nonce"]}
    assert_refused(client, verify(client, unsigned), "signature_invalid", 403)
    assert_refused(
        client,
        verify(client, signed_as_issued(challenge, issued, keypair), HTTP_HOST="localhost"),
        "host_mismatch",
        403,
    )
    other = Keypair()
    assert_refused(client, verify(client, {**signed_as_issued(challenge, issued, other)}), "other_account", 403)
    garbage = {**unsigned, "signedTransaction": base64.b64encode(b"\x01" + b"\x00" * 80).decode()}
    assert_refused(client, verify(client, garbage), "sign_in_transaction_unreadable")
    past = timezone.now().replace(microsecond=0) - timedelta(minutes=6)
    SignInChallenge.objects.filter(nonce=challenge["nonce"]).update(
        issued_at=past, expires_at=past + timedelta(minutes=5)
    )
    stale = SignInChallenge.objects.get(nonce=challenge["nonce"])
    late = {**memo_transaction(keypair, stale.message, issued.message.recent_blockhash), "nonce": challenge["nonce"]}
    assert_refused(client, verify(client, late), "fields_mismatch")  # its text no longer matches the times…
    text = siws.format_message(siws.challenge_fields(stale, wallet))
    late = {**memo_transaction(keypair, text, issued.message.recent_blockhash), "nonce": challenge["nonce"]}
    assert_refused(client, verify(client, late), "sign_in_text_changed")  # …and the stored text is what counts
    SignInChallenge.objects.filter(nonce=challenge["nonce"]).update(message=text)
    assert_refused(client, verify(client, late), "challenge_expired")


@pytest.mark.django_db
def test_a_message_challenge_cannot_be_answered_with_a_transaction(client, keypair, wallet):
    challenge = start(client)  # no address: the signIn path
    body = {
        **memo_transaction(keypair, sign_in_text(challenge, wallet), Hash.new_unique()),
        "nonce": challenge["nonce"],
    }
    assert_refused(client, verify(client, body), "other_account", 403)
    refused = client.post(CHALLENGE, json.dumps({"type": "transaction"}), content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (400, "no_account")


# --- Refusals: each with a clear message, the session unchanged ---


@pytest.mark.django_db
def test_replayed_nonce(client, keypair, wallet):
    challenge = start(client)
    body = sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"])
    assert verify(client, body).status_code == 200
    client.post(reverse("sign_out"))
    assert_refused(client, verify(client, body), "nonce_unknown")


@pytest.mark.django_db
def test_replay_from_another_session(client, keypair, wallet):
    challenge = start(client)
    body = sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"])
    thief = Client()
    start(thief)
    assert_refused(thief, verify(thief, body), "nonce_unknown")


@pytest.mark.django_db
def test_expired(client, keypair, wallet):
    challenge = start(client)
    past = timezone.now().replace(microsecond=0) - timedelta(minutes=6)
    SignInChallenge.objects.filter(nonce=challenge["nonce"]).update(
        issued_at=past, expires_at=past + timedelta(minutes=5)
    )
    challenge = siws.challenge_input(SignInChallenge.objects.get(nonce=challenge["nonce"]))
    response = verify(client, sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"]))
    assert_refused(client, response, "challenge_expired")


@pytest.mark.django_db
def test_issued_at_far_in_the_future(client, keypair, wallet):
    challenge = start(client)
    future = timezone.now().replace(microsecond=0) + timedelta(minutes=30)
    SignInChallenge.objects.filter(nonce=challenge["nonce"]).update(
        issued_at=future, expires_at=future + timedelta(minutes=5)
    )
    challenge = siws.challenge_input(SignInChallenge.objects.get(nonce=challenge["nonce"]))
    response = verify(client, sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"]))
    assert_refused(client, response, "clock_skew")


@pytest.mark.django_db
def test_issued_at_changed_by_the_client(client, keypair, wallet):
    challenge = start(client)
    text = sign_in_text(challenge, wallet, issued_at="2030-01-01T00:00:00Z")
    assert_refused(client, verify(client, sign_in_body(keypair, text, challenge["nonce"])), "fields_mismatch")


@pytest.mark.django_db
def test_wrong_domain_in_the_message(client, keypair, wallet):
    challenge = start(client)
    text = sign_in_text(challenge, wallet, domain="evil.example")
    response = verify(client, sign_in_body(keypair, text, challenge["nonce"]))
    assert_refused(client, response, "domain_mismatch", 403)


@pytest.mark.django_db
def test_message_replayed_on_another_host(client, keypair, wallet):
    challenge = start(client)
    body = sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"])
    response = verify(client, body, HTTP_HOST="localhost")
    assert_refused(client, response, "host_mismatch", 403)


@pytest.mark.django_db
def test_wrong_address_claimed(client, keypair, wallet):
    challenge = start(client)
    body = sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"])
    body["address"] = str(Keypair().pubkey())
    assert_refused(client, verify(client, body), "other_account", 403)


@pytest.mark.django_db
def test_signed_by_another_key(client, wallet):
    challenge = start(client)
    text = sign_in_text(challenge, wallet)
    body = sign_in_body(Keypair(), text, challenge["nonce"], address=wallet)
    assert_refused(client, verify(client, body), "signature_invalid", 403)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace("URI: ", "URI:  "),
        lambda t: t.replace("Version: 1\n", "Version: 1 \n"),
        lambda t: t + "\n",
        lambda t: " " + t,
        lambda t: t.replace("\n\nURI", "\nURI"),
        lambda t: t.replace("Version: 1\nChain ID: mainnet", "Chain ID: mainnet\nVersion: 1"),
        lambda t: t + "\nResources:\n- https://evil.example/",
        lambda t: t.replace("\n", "\r\n"),
    ],
    ids=[
        "double-space",
        "trailing-space",
        "trailing-newline",
        "leading-space",
        "no-blank-line",
        "reordered",
        "extra-resources",
        "crlf",
    ],
)
def test_non_canonical_text(client, keypair, wallet, mangle):
    challenge = start(client)
    text = mangle(sign_in_text(challenge, wallet))
    response = verify(client, sign_in_body(keypair, text, challenge["nonce"]))
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("not_sign_in_text", "fields_mismatch")
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["signedMessage", "signature"])
@pytest.mark.parametrize("garbage", ["not base64!", "QUJD\n", "QUJD=", "QUJ", ""])
def test_garbage_base64(client, keypair, wallet, field, garbage):
    challenge = start(client)
    body = sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"])
    body[field] = garbage
    response = verify(client, body)
    assert response.status_code == 400
    codes = ("unreadable_from_wallet", "wrong_size_from_wallet", "answer_incomplete", "answer_garbled")
    assert (response.json()["code"], response.json()["field"]) in [(code, field) for code in codes]
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", ["not json", "[1, 2]", "{}", '{"address": "nope", "signedMessage": "", "signature": "", "nonce": "x"}']
)
def test_malformed_requests(client, body):
    start(client)
    response = verify(client, body)
    assert response.status_code == 400
    assert response.json()["code"] in ("bad_request", "answer_incomplete", "bad_address")
    assert response.json()["message"].endswith(".")


@pytest.mark.django_db
def test_oversized_body(client, keypair, wallet):
    challenge = start(client)
    body = sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"])
    body["padding"] = "x" * (siws.MAX_BODY_BYTES + 1)
    refused = verify(client, body)
    assert (refused.status_code, refused.json()["code"]) == (413, "too_large")
    assert SESSION_KEY not in client.session
    big = start(client)
    text = sign_in_text(big, wallet, statement="x" * 3000)
    assert_refused(client, verify(client, sign_in_body(keypair, text, big["nonce"])), "answer_too_long")


@pytest.mark.django_db
def test_missing_csrf_token(keypair, wallet):
    client = Client(enforce_csrf_checks=True)
    assert client.post(CHALLENGE, "{}", content_type="application/json").status_code == 403
    client.get("/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(CHALLENGE, "{}", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    challenge = response.json()
    body = sign_in_body(keypair, sign_in_text(challenge, wallet), challenge["nonce"])
    response = verify(client, body)
    assert response.status_code == 403
    assert SESSION_KEY not in client.session
    assert client.post(reverse("sign_out")).status_code == 403
    assert verify(client, body, HTTP_X_CSRFTOKEN=token).status_code == 200


@pytest.mark.django_db
def test_session_unchanged_after_refusal(client, keypair, wallet):
    challenge = start(client)
    before = client.session.session_key
    text = sign_in_text(challenge, wallet)
    verify(client, sign_in_body(Keypair(), text, challenge["nonce"], address=wallet))
    assert client.session.session_key == before
    # …and the challenge is still usable by the real wallet.
    assert verify(client, sign_in_body(keypair, text, challenge["nonce"])).status_code == 200


@pytest.mark.django_db
def test_sandbox_wallet_script_only_in_sandbox(client, settings):
    settings.SANDBOX = False
    assert b"sandbox/wallet.js" not in client.get("/").content
    settings.SANDBOX = True
    assert b"sandbox/wallet.js" in client.get("/").content


# --- Concurrent replays: exactly one sign-in wins ---


def replay_concurrently(live_server, at_once, count: int = 8) -> list[int]:
    """One signed sign-in posted `count` times at once; the answers' statuses, sorted."""
    http = requests.Session()
    http.get(live_server.url + "/", timeout=10)
    headers = {"X-CSRFToken": http.cookies["csrftoken"]}
    challenge = http.post(live_server.url + CHALLENGE, json={}, headers=headers, timeout=10).json()
    keypair = Keypair()
    text = sign_in_text(challenge, str(keypair.pubkey()))
    body = sign_in_body(keypair, text, challenge["nonce"])
    cookies = http.cookies.get_dict()

    def attempt() -> int:
        return requests.post(
            live_server.url + VERIFY, json=body, headers=headers, cookies=cookies, timeout=30
        ).status_code

    return sorted(at_once(count, attempt))


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_one_wins(live_server, at_once):
    statuses = replay_concurrently(live_server, at_once)
    assert statuses.count(200) == 1, statuses
    assert all(s in (400, 403) for s in statuses if s != 200), statuses


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_one_wins_on_postgres(live_server, at_once):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("Needs PostgreSQL: set DATABASE_URL=postgres://… to run it.")
    statuses = replay_concurrently(live_server, at_once, count=12)
    assert statuses.count(200) == 1, statuses
