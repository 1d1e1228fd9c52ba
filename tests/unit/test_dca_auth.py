"""dashboard/dca_auth.py: the checks before anything is sent to Jupiter's /auth/verify.

The check functions are pure (no database, no network): a refusal from them cannot have called
Jupiter. Transactions are real ones built and signed with solders.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, to_bytes_versioned
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from dashboard import dca_auth, trigger
from dashboard.dca_auth import ConnectRefused, Pending

NOW = datetime(2026, 7, 20, 12, 0, tzinfo=timezone.utc)
TEXT = dca_auth.CHALLENGE_PREFIX + "8f14e45fceea167a5a36dedd4bea2543"
MEMO = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
MEMO_V1 = Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")
COMPUTE_BUDGET = Pubkey.from_string("ComputeBudget111111111111111111111111111111")


@contextmanager
def refused(code: str) -> Iterator[None]:
    """The block is refused with this code (its words are dashboard/messages.py's)."""
    with pytest.raises(ConnectRefused) as raised:
        yield
    assert raised.value.code == code


def pending_text(keypair: Keypair, *, text: str = TEXT, age: timedelta = timedelta(seconds=30)) -> Pending:
    return Pending(str(keypair.pubkey()), trigger.MESSAGE, text.encode(), NOW - age)


# --- the message challenge -----------------------------------------------------------------------


def test_the_wallets_signature_over_the_exact_text_passes(keypair, wallet):
    signature = keypair.sign_message(TEXT.encode())
    checked = dca_auth.check_signed_message(pending_text(keypair), wallet, TEXT.encode(), bytes(signature), NOW)
    assert checked == signature  # sent to Jupiter as base58: str(checked)


def test_another_wallets_signature_is_refused(keypair, wallet):
    stranger = Keypair()
    with refused("connect_signature_invalid"):
        dca_auth.check_signed_message(
            pending_text(keypair), wallet, TEXT.encode(), bytes(stranger.sign_message(TEXT.encode())), NOW
        )


def test_a_challenge_fetched_for_another_wallet_is_refused(keypair):
    stranger = Keypair()
    signature = stranger.sign_message(TEXT.encode())
    # The session is the stranger's now, but the challenge was fetched for `wallet`.
    with refused("connect_other_wallet"):
        dca_auth.check_signed_message(
            pending_text(keypair), str(stranger.pubkey()), TEXT.encode(), bytes(signature), NOW
        )


def test_a_different_text_is_refused_even_when_correctly_signed(keypair, wallet):
    other = dca_auth.CHALLENGE_PREFIX + "another-nonce"
    with refused("connect_text_changed"):
        dca_auth.check_signed_message(
            pending_text(keypair), wallet, other.encode(), bytes(keypair.sign_message(other.encode())), NOW
        )


def test_a_signature_over_something_else_is_refused(keypair, wallet):
    # The wallet echoes the right text but signed other bytes (a SIWS text, a transaction…).
    elsewhere = keypair.sign_message(b"example.com wants you to sign in with your Solana account")
    with refused("connect_signature_invalid"):
        dca_auth.check_signed_message(pending_text(keypair), wallet, TEXT.encode(), bytes(elsewhere), NOW)


@pytest.mark.parametrize("age", [timedelta(minutes=5), timedelta(minutes=5, seconds=1), timedelta(hours=3)])
def test_a_stale_challenge_is_refused(keypair, wallet, age):
    signature = bytes(keypair.sign_message(TEXT.encode()))
    with refused("connect_expired"):
        dca_auth.check_signed_message(pending_text(keypair, age=age), wallet, TEXT.encode(), signature, NOW)


def test_a_challenge_from_the_future_is_refused(keypair, wallet):
    signature = bytes(keypair.sign_message(TEXT.encode()))
    with refused("connect_expired"):
        dca_auth.check_signed_message(
            pending_text(keypair, age=-timedelta(minutes=1)), wallet, TEXT.encode(), signature, NOW
        )


def test_no_waiting_challenge_or_the_wrong_kind_is_refused(keypair, wallet):
    signature = bytes(keypair.sign_message(TEXT.encode()))
    with refused("no_connect_request"):
        dca_auth.check_signed_message(None, wallet, TEXT.encode(), signature, NOW)
    memo_pending = Pending(wallet, trigger.TRANSACTION, TEXT.encode(), NOW)
    with refused("connect_wrong_kind"):
        dca_auth.check_signed_message(memo_pending, wallet, TEXT.encode(), signature, NOW)


def test_a_truncated_signature_is_refused(keypair, wallet):
    signature = bytes(keypair.sign_message(TEXT.encode()))[:63]
    with refused("connect_signature_unreadable"):
        dca_auth.check_signed_message(pending_text(keypair), wallet, TEXT.encode(), signature, NOW)


@pytest.mark.parametrize(
    "text",
    [
        "Sign in to example.com",
        dca_auth.CHALLENGE_PREFIX,  # no nonce
        dca_auth.CHALLENGE_PREFIX + "abc\nTransfer everything",
        dca_auth.CHALLENGE_PREFIX + "x" * 600,
    ],
)
def test_an_unexpected_challenge_text_is_never_shown_to_the_wallet(text):
    with refused("unexpected_challenge"):
        dca_auth.check_challenge_text(text)


def test_the_documented_challenge_text_passes():
    assert dca_auth.check_challenge_text(TEXT) == TEXT


# --- the transaction challenge (wallets that cannot sign messages) ----------------------------------


def memo_message(wallet: Pubkey, *instructions: Instruction, payer: Pubkey | None = None) -> Message:
    ixs = list(instructions) or [Instruction(MEMO, TEXT.encode(), [AccountMeta(wallet, True, False)])]
    return Message.new_with_blockhash(ixs, payer or wallet, Hash.new_unique())


def unsigned(message: Message) -> bytes:
    signers = message.account_keys[: message.header.num_required_signatures]
    return bytes(VersionedTransaction(message, [NullSigner(key) for key in signers]))


def signed_by(keypair: Keypair, message: Message) -> bytes:
    return bytes(VersionedTransaction.populate(message, [keypair.sign_message(to_bytes_versioned(message))]))


def pending_memo(keypair: Keypair, message: Message, age: timedelta = timedelta(seconds=10)) -> Pending:
    return Pending(str(keypair.pubkey()), trigger.TRANSACTION, to_bytes_versioned(message), NOW - age)


def test_a_memo_only_challenge_signed_by_the_wallet_passes(keypair, wallet):
    message = memo_message(keypair.pubkey())
    assert dca_auth.check_memo_transaction(unsigned(message), wallet) == to_bytes_versioned(message)
    signed = signed_by(keypair, message)
    assert dca_auth.check_signed_transaction(pending_memo(keypair, message), wallet, signed, NOW) == signed


def test_memo_v1_and_several_memos_pass(keypair):
    owner = keypair.pubkey()
    message = memo_message(
        owner, Instruction(MEMO_V1, b"a", []), Instruction(MEMO, b"b", [AccountMeta(owner, True, False)])
    )
    assert dca_auth.check_memo_transaction(unsigned(message), str(owner))


def harmful_challenges(owner: Pubkey) -> dict[str, bytes]:
    stranger = Keypair().pubkey()
    memo = Instruction(MEMO, TEXT.encode(), [AccountMeta(owner, True, False)])
    pay = transfer(TransferParams(from_pubkey=owner, to_pubkey=stranger, lamports=1_000_000_000))
    return {
        "a transfer besides the memo": unsigned(memo_message(owner, memo, pay)),
        "a second signer": unsigned(
            memo_message(
                owner, Instruction(MEMO, b"x", [AccountMeta(owner, True, False), AccountMeta(stranger, True, False)])
            )
        ),
        "someone else pays": unsigned(memo_message(owner, memo, payer=stranger)),
        "a memo naming another account": unsigned(
            memo_message(owner, memo, Instruction(MEMO, b"x", [AccountMeta(stranger, False, True)]))
        ),
        "no instruction at all": unsigned(Message.new_with_blockhash([], owner, Hash.new_unique())),
        "not a transaction": b"\x01" + b"\x00" * 80,
        "trailing bytes": unsigned(memo_message(owner)) + b"\x00",
    }


@pytest.mark.parametrize("kind", list(harmful_challenges(Keypair().pubkey())))
def test_a_challenge_transaction_that_does_more_than_a_memo_is_refused(keypair, wallet, kind):
    with refused("challenge_does_more"):
        dca_auth.check_memo_transaction(harmful_challenges(keypair.pubkey())[kind], wallet)


def test_compute_unit_settings_beside_the_memo_pass(keypair):
    """The live API's transaction challenge carries a ComputeBudget instruction beside the Memo."""
    owner = keypair.pubkey()
    memo = Instruction(MEMO, TEXT.encode(), [AccountMeta(owner, True, False)])
    for budget in (
        [set_compute_unit_price(1_000)],
        [set_compute_unit_limit(10_000)],
        [set_compute_unit_limit(200_000), set_compute_unit_price(1_000_000)],  # 200,000 lamports: the ceiling
    ):
        message = memo_message(owner, *budget, memo)
        assert dca_auth.check_memo_transaction(unsigned(message), str(owner)) == to_bytes_versioned(message)
        signed = signed_by(keypair, message)
        assert dca_auth.check_signed_transaction(pending_memo(keypair, message), str(owner), signed, NOW) == signed


def harmful_budgets(owner: Pubkey) -> dict[str, list[Instruction]]:
    limit, price = set_compute_unit_limit(200_000), set_compute_unit_price(1_000)
    return {
        "a priority fee above the ceiling": [set_compute_unit_limit(200_000), set_compute_unit_price(1_000_001)],
        "a priority fee above the ceiling by default units": [set_compute_unit_price(1_000_001)],
        "a repeated price": [price, price],
        "a repeated limit": [limit, limit],
        "a heap-frame request": [Instruction(COMPUTE_BUDGET, bytes([1]) + (32 * 1024).to_bytes(4, "little"), [])],
        "an unreadable price": [Instruction(COMPUTE_BUDGET, bytes([3, 1]), [])],
        "a compute-budget instruction naming an account": [
            Instruction(COMPUTE_BUDGET, bytes(price.data), [AccountMeta(owner, False, True)])
        ],
    }


@pytest.mark.parametrize("kind", list(harmful_budgets(Keypair().pubkey())))
def test_compute_budget_beyond_capped_unit_settings_is_refused(keypair, kind, settings):
    assert settings.MAX_PRIORITY_FEE_LAMPORTS == 200_000
    owner = keypair.pubkey()
    memo = Instruction(MEMO, TEXT.encode(), [AccountMeta(owner, True, False)])
    with refused("challenge_does_more"):
        dca_auth.check_memo_transaction(unsigned(memo_message(owner, *harmful_budgets(owner)[kind], memo)), str(owner))


def test_compute_budget_without_a_memo_is_refused(keypair):
    owner = keypair.pubkey()
    with refused("challenge_does_more"):
        dca_auth.check_memo_transaction(unsigned(memo_message(owner, set_compute_unit_price(1))), str(owner))


def test_a_changed_transaction_is_refused_even_when_signed_by_the_wallet(keypair, wallet):
    issued = memo_message(keypair.pubkey())
    changed = memo_message(keypair.pubkey())  # another blockhash: other bytes
    with refused("connect_transaction_changed"):
        dca_auth.check_signed_transaction(pending_memo(keypair, issued), wallet, signed_by(keypair, changed), NOW)


def test_a_transaction_signed_by_another_key_is_refused(keypair, wallet):
    message = memo_message(keypair.pubkey())
    forged = bytes(VersionedTransaction.populate(message, [Keypair().sign_message(to_bytes_versioned(message))]))
    with refused("connect_not_signed"):
        dca_auth.check_signed_transaction(pending_memo(keypair, message), wallet, forged, NOW)
    # Unsigned (the zero-filled slot) is refused the same way.
    with refused("connect_not_signed"):
        dca_auth.check_signed_transaction(pending_memo(keypair, message), wallet, unsigned(message), NOW)


def test_a_stale_transaction_challenge_is_refused(keypair, wallet):
    message = memo_message(keypair.pubkey())
    with refused("connect_expired"):
        dca_auth.check_signed_transaction(
            pending_memo(keypair, message, age=timedelta(minutes=6)),
            wallet,
            signed_by(keypair, message),
            NOW,
        )


def test_garbage_instead_of_a_signed_transaction_is_refused(keypair, wallet):
    message = memo_message(keypair.pubkey())
    with refused("connect_transaction_unreadable"):
        dca_auth.check_signed_transaction(pending_memo(keypair, message), wallet, b"\x00garbage", NOW)


# --- the token's expiry --------------------------------------------------------------------------


def jwt(claims: str) -> str:
    import base64

    part = base64.urlsafe_b64encode(claims.encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{part}.c2lnbmF0dXJl"


def test_token_expiry_is_read_from_the_jwt_but_never_beyond_24_hours():
    in_two_hours = int((NOW + timedelta(hours=2)).timestamp())
    assert trigger.token_expiry(jwt(f'{{"exp": {in_two_hours}}}'), NOW) == NOW + timedelta(hours=2)
    in_a_week = int((NOW + timedelta(days=7)).timestamp())
    assert trigger.token_expiry(jwt(f'{{"exp": {in_a_week}}}'), NOW) == NOW + timedelta(hours=24)
    for unreadable in ('{"sub": "x"}', '{"exp": "soon"}', '{"exp": true}', "not json", '{"exp": 1e400}'):
        assert trigger.token_expiry(jwt(unreadable), NOW) == NOW + timedelta(hours=24)


def test_a_token_that_is_not_a_jwt_or_already_expired_is_refused():
    with pytest.raises(trigger.upstream.JupiterBadResponse):
        trigger.token_expiry("opaque-token", NOW)
    with pytest.raises(trigger.upstream.JupiterBadResponse):
        trigger.token_expiry(jwt(f'{{"exp": {int(NOW.timestamp()) - 1}}}'), NOW)


def test_the_token_never_appears_in_a_repr():
    token = trigger.AccessToken(value="eyJ.secret.token", expires_at=NOW)
    assert "secret" not in repr(token)
    assert "secret" not in repr(dca_auth.Access("connected", token="eyJ.secret.token"))
