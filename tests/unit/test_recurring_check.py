"""Cancelling, the pure part: what Jupiter issues is checked, and what the wallet signed."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from dashboard import recurring_check
from tests.wallet import signed

FIXTURES = json.loads((Path(__file__).parent.parent / "fixtures" / "jupiter-cancel-transactions.json").read_text())


@contextmanager
def refused(code: str, *, ceiling: str = "") -> Iterator[None]:
    """The block is refused with `code` (and, for a fee refusal, names the site's `ceiling`)."""
    with pytest.raises(recurring_check.CancelRefused) as caught:
        yield
    assert caught.value.code == code
    assert ceiling in caught.value.message


def order_of(fixture: dict) -> str:
    (dca,) = [ix for ix in fixture["instructions"] if ix["program"] == str(recurring_check.DCA_PROGRAM)]
    return dca["accounts"][1]


# --- the issued transaction ----------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["source"] for f in FIXTURES])
def test_real_jupiter_cancel_transactions_pass_the_issue_check(fixture):
    raw = base64.b64decode(fixture["transaction_base64"])
    message = recurring_check.check_issued(raw, fixture["fee_payer"], order_of(fixture))
    assert message == to_bytes_versioned(VersionedTransaction.from_bytes(raw).message)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["source"] for f in FIXTURES])
def test_issued_transaction_for_another_wallet_or_order_is_refused(fixture):
    raw = base64.b64decode(fixture["transaction_base64"])
    other = str(Keypair().pubkey())
    with pytest.raises(recurring_check.CancelRefused):
        recurring_check.check_issued(raw, other, order_of(fixture))
    with pytest.raises(recurring_check.CancelRefused):
        recurring_check.check_issued(raw, fixture["fee_payer"], other)


def issued_message(user: Pubkey, order: Pubkey, extra: list[Instruction] = (), v0: bool = False):
    dca = Instruction(
        recurring_check.DCA_PROGRAM,
        bytes.fromhex("16072162a8b722f3"),
        [AccountMeta(user, True, True), AccountMeta(order, False, True)],
    )
    instructions = [set_compute_unit_limit(90_000), set_compute_unit_price(200_000), dca, *extra]
    blockhash = Hash.new_unique()
    if v0:
        return MessageV0.try_compile(user, instructions, [], blockhash)
    return Message.new_with_blockhash(instructions, user, blockhash)


def unsigned(message) -> bytes:
    return bytes(VersionedTransaction.populate(message, [Signature.default()]))


def test_issued_transaction_with_an_unexpected_program_is_refused():
    user, order = Keypair(), Pubkey.new_unique()
    drain = transfer(TransferParams(from_pubkey=user.pubkey(), to_pubkey=Pubkey.new_unique(), lamports=10**9))
    message = issued_message(user.pubkey(), order, [drain])
    with pytest.raises(recurring_check.CancelRefused):
        recurring_check.check_issued(unsigned(message), str(user.pubkey()), str(order))


def test_issued_transaction_already_signed_or_with_trailing_bytes_is_refused():
    user, order = Keypair(), Pubkey.new_unique()
    message = issued_message(user.pubkey(), order)
    with pytest.raises(recurring_check.CancelRefused):
        recurring_check.check_issued(bytes(signed(message, user)), str(user.pubkey()), str(order))
    with pytest.raises(recurring_check.CancelRefused):
        recurring_check.check_issued(unsigned(message) + b"\x00", str(user.pubkey()), str(order))


def test_issued_transaction_must_close_the_order():
    user, order = Keypair(), Pubkey.new_unique()
    accounts = [AccountMeta(user.pubkey(), True, True), AccountMeta(order, False, True)]
    for data in (bytes.fromhex("16072162a8b722f4"), bytes.fromhex("16072162a8b722f3") + b"\x01", b""):
        other = Instruction(recurring_check.DCA_PROGRAM, data, accounts)  # another DCA instruction on the same order
        message = Message.new_with_blockhash(
            [set_compute_unit_limit(90_000), set_compute_unit_price(200_000), other], user.pubkey(), Hash.new_unique()
        )
        with refused("issued_unverifiable"):
            recurring_check.check_issued(unsigned(message), str(user.pubkey()), str(order))


def fee_message(user: Keypair, order: Pubkey, limit: int, price: int, blockhash: Hash | None = None) -> Message:
    *_, dca = parts(user.pubkey(), order)
    instructions = [set_compute_unit_limit(limit), set_compute_unit_price(price), dca]
    return Message.new_with_blockhash(instructions, user.pubkey(), blockhash or Hash.new_unique())


def test_issued_network_fee_has_a_ceiling(settings):
    assert settings.MAX_PRIORITY_FEE_LAMPORTS == 200_000
    user, order = Keypair(), Pubkey.new_unique()
    at_ceiling = fee_message(user, order, 200_000, 1_000_000)  # 200,000 units × 1 lamport
    recurring_check.check_issued(unsigned(at_ceiling), str(user.pubkey()), str(order))
    for limit, price in ((200_000, 1_000_001), (1_400_000, 10**12)):
        with refused("issued_fee_too_high", ceiling="0.0002 SOL"):
            recurring_check.check_issued(
                unsigned(fee_message(user, order, limit, price)), str(user.pubkey()), str(order)
            )
    # Without a unit limit the runtime grants 200,000 units per other instruction (one here).
    *_, dca = parts(user.pubkey(), order)
    unlimited = Message.new_with_blockhash([set_compute_unit_price(1_000_001), dca], user.pubkey(), Hash.new_unique())
    with refused("issued_fee_too_high"):
        recurring_check.check_issued(unsigned(unlimited), str(user.pubkey()), str(order))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["source"] for f in FIXTURES])
def test_the_fee_ceiling_is_configurable(fixture, settings):
    raw = base64.b64decode(fixture["transaction_base64"])
    settings.MAX_PRIORITY_FEE_LAMPORTS = 17_000  # below the fixtures' ~17,700 lamports
    with refused("issued_fee_too_high", ceiling="0.000017 SOL"):
        recurring_check.check_issued(raw, fixture["fee_payer"], order_of(fixture))


# --- the signed transaction ----------------------------------------------------------------------


@pytest.mark.parametrize("v0", [False, True])
def test_signed_exactly_as_issued_passes(v0):
    user, order = Keypair(), Pubkey.new_unique()
    message = issued_message(user.pubkey(), order, v0=v0)
    issued = recurring_check.check_issued(unsigned(message), str(user.pubkey()), str(order))
    assert recurring_check.check_signed(issued, signed(message, user), str(user.pubkey())) == issued


def resigned_with(issued_msg, user: Keypair, instructions: list[Instruction], blockhash=None) -> VersionedTransaction:
    message = Message.new_with_blockhash(instructions, user.pubkey(), blockhash or issued_msg.recent_blockhash)
    return signed(message, user)


def parts(user: Pubkey, order: Pubkey):
    dca = Instruction(
        recurring_check.DCA_PROGRAM,
        bytes.fromhex("16072162a8b722f3"),
        [AccountMeta(user, True, True), AccountMeta(order, False, True)],
    )
    return set_compute_unit_limit(90_000), set_compute_unit_price(200_000), dca


def test_wallet_inserted_lighthouse_and_compute_budget_changes_pass():
    user, order = Keypair(), Pubkey.new_unique()
    limit, price, dca = parts(user.pubkey(), order)
    original = Message.new_with_blockhash([limit, price, dca], user.pubkey(), Hash.new_unique())
    issued = recurring_check.check_issued(unsigned(original), str(user.pubkey()), str(order))
    guard = Instruction(recurring_check.LIGHTHOUSE, b"\x01\x02", [AccountMeta(Pubkey.new_unique(), False, False)])
    wallet_version = resigned_with(original, user, [set_compute_unit_price(500_000), limit, dca, guard])
    assert recurring_check.check_signed(issued, wallet_version, str(user.pubkey()))


@pytest.mark.parametrize(
    "change",
    ["blockhash", "dca-data", "dca-order", "extra-transfer", "dropped-dca"],
)
def test_any_other_change_is_refused(change):
    user, order = Keypair(), Pubkey.new_unique()
    limit, price, dca = parts(user.pubkey(), order)
    original = Message.new_with_blockhash([limit, price, dca], user.pubkey(), Hash.new_unique())
    issued = recurring_check.check_issued(unsigned(original), str(user.pubkey()), str(order))
    instructions, blockhash = [limit, price, dca], None
    if change == "blockhash":
        blockhash = Hash.new_unique()
    elif change == "dca-data":
        instructions[2] = Instruction(recurring_check.DCA_PROGRAM, b"\x00" * 8, dca.accounts)
    elif change == "dca-order":
        other = [AccountMeta(user.pubkey(), True, True), AccountMeta(Pubkey.new_unique(), False, True)]
        instructions[2] = Instruction(recurring_check.DCA_PROGRAM, dca.data, other)
    elif change == "extra-transfer":
        instructions.append(
            transfer(TransferParams(from_pubkey=user.pubkey(), to_pubkey=Pubkey.new_unique(), lamports=1))
        )
    elif change == "dropped-dca":
        instructions = [limit, price]
    with refused("signed_changed"):
        recurring_check.check_signed(issued, resigned_with(original, user, instructions, blockhash), str(user.pubkey()))


def test_wallet_raising_the_network_fee_past_the_ceiling_is_refused():
    user, order = Keypair(), Pubkey.new_unique()
    original = fee_message(user, order, 90_000, 200_000)
    issued = recurring_check.check_issued(unsigned(original), str(user.pubkey()), str(order))
    raised = fee_message(user, order, 90_000, 2_000_000, original.recent_blockhash)  # 180,000 lamports: allowed
    assert recurring_check.check_signed(issued, signed(raised, user), str(user.pubkey()))
    drained = fee_message(user, order, 1_400_000, 10**12, original.recent_blockhash)  # about 1,400 SOL
    with refused("signed_fee_too_high"):
        recurring_check.check_signed(issued, signed(drained, user), str(user.pubkey()))
    *_, dca = parts(user.pubkey(), order)
    twice = Message.new_with_blockhash(
        [set_compute_unit_price(1), set_compute_unit_price(10**12), dca], user.pubkey(), original.recent_blockhash
    )
    with refused("signed_changed"):
        recurring_check.check_signed(issued, signed(twice, user), str(user.pubkey()))


def test_a_transaction_another_key_pays_for_or_co_signs_is_refused():
    user, order = Keypair(), Pubkey.new_unique()
    message = issued_message(user.pubkey(), order)
    issued = recurring_check.check_issued(unsigned(message), str(user.pubkey()), str(order))
    other = Keypair()
    paid_by_other = Message.new_with_blockhash(
        list(parts(user.pubkey(), order)), other.pubkey(), message.recent_blockhash
    )
    tx = VersionedTransaction(paid_by_other, [other, user])
    with refused("not_signed_alone"):
        recurring_check.check_signed(issued, tx, str(user.pubkey()))


def test_signature_by_another_key_is_refused():
    user, order = Keypair(), Pubkey.new_unique()
    message = issued_message(user.pubkey(), order)
    issued = recurring_check.check_issued(unsigned(message), str(user.pubkey()), str(order))
    with refused("signature_mismatch"):
        recurring_check.check_signed(issued, signed(message, Keypair()), str(user.pubkey()))


def test_v0_with_address_tables_passes_only_with_lookups_unchanged():
    user, order, mint = Keypair(), Pubkey.new_unique(), Pubkey.new_unique()
    limit, price, _ = parts(user.pubkey(), order)
    dca = Instruction(
        recurring_check.DCA_PROGRAM,
        bytes.fromhex("16072162a8b722f3"),
        [AccountMeta(user.pubkey(), True, True), AccountMeta(order, False, True), AccountMeta(mint, False, False)],
    )
    table = AddressLookupTableAccount(Pubkey.new_unique(), [mint])
    blockhash = Hash.new_unique()
    original = MessageV0.try_compile(user.pubkey(), [limit, price, dca], [table], blockhash)
    assert original.address_table_lookups  # the mint really is loaded from the table
    issued = recurring_check.check_issued(unsigned(original), str(user.pubkey()), str(order))
    guard = Instruction(recurring_check.LIGHTHOUSE, b"\x01", [AccountMeta(Pubkey.new_unique(), False, False)])
    with_guard = MessageV0.try_compile(user.pubkey(), [limit, price, dca, guard], [table], blockhash)
    assert recurring_check.check_signed(issued, signed(with_guard, user), str(user.pubkey()))
    other_table = AddressLookupTableAccount(Pubkey.new_unique(), [mint])
    moved = MessageV0.try_compile(user.pubkey(), [limit, price, dca], [other_table], blockhash)
    with refused("signed_changed"):
        recurring_check.check_signed(issued, signed(moved, user), str(user.pubkey()))


# --- the same rule as a refund's, from the wallet's side ------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("the wallet named again in the close", "wallet_role"),
        ("a compute-budget instruction naming the wallet", "compute_budget"),
        ("another program", "unknown_program"),
        ("a close of another order", "shape"),
        ("already signed", "already_signed"),
    ],
)
def test_an_issued_cancel_breaking_the_wallets_rule_is_refused_with_the_refunds_codes(name, code, caplog):
    user, order = Keypair(), Pubkey.new_unique()
    wallet = user.pubkey()
    close_accounts = [AccountMeta(wallet, True, True), AccountMeta(order, False, True)]
    extra: list[Instruction] = []
    if name == "the wallet named again in the close":
        close_accounts.append(AccountMeta(wallet, True, True))
    elif name == "a compute-budget instruction naming the wallet":
        extra = [
            Instruction(
                set_compute_unit_limit(1).program_id,
                bytes([2]) + (1).to_bytes(4, "little"),
                [AccountMeta(wallet, True, True)],
            )
        ]
    elif name == "another program":
        extra = [Instruction(Pubkey.new_unique(), b"\x00", [AccountMeta(wallet, True, True)])]
    elif name == "a close of another order":
        close_accounts[1] = AccountMeta(Pubkey.new_unique(), False, True)
    close = Instruction(recurring_check.DCA_PROGRAM, bytes.fromhex("16072162a8b722f3"), close_accounts)
    message = Message.new_with_blockhash([set_compute_unit_price(1), close, *extra], wallet, Hash.new_unique())
    raw = bytes(signed(message, user)) if name == "already signed" else unsigned(message)
    with refused("issued_unverifiable"):
        recurring_check.check_issued(raw, str(wallet), str(order))
    (line,) = [r.getMessage() for r in caplog.records if "refused an issued cancel" in r.getMessage()]
    assert f": {code}: " in line
    assert f"{wallet} (wallet)" in line  # the decoded instructions, for the operator
