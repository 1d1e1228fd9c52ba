"""Reading Solana transactions: strict decoding and parsing, instructions resolved, priority fee."""

from __future__ import annotations

import base64

import pytest
from solders.compute_budget import request_heap_frame, set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import CompiledInstruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from dashboard import transactions


def message(*instructions, payer: Pubkey | None = None) -> Message:
    payer = payer or Pubkey.new_unique()
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=Pubkey.new_unique(), lamports=1))
    return Message.new_with_blockhash([*instructions, ix], payer, Hash.new_unique())


def wire(msg: Message) -> bytes:
    return bytes(VersionedTransaction.populate(msg, [Signature.default()]))


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "missing or too large"), ("A" * 2000, "missing or too large"), ("QR==", "garbled on the way")],
)
def test_decoding_refuses_in_plain_words(text, words):
    with pytest.raises(transactions.InvalidTransaction, match=words):
        transactions.decode_base64(text, transactions.MAX_TX_BYTES, "signed transaction")


def test_parsing_is_exact():
    raw = wire(message())
    assert bytes(transactions.parse_transaction(raw)) == raw
    with pytest.raises(transactions.InvalidTransaction, match="extra bytes"):
        transactions.parse_transaction(raw + b"\0")
    with pytest.raises(transactions.InvalidTransaction, match="not a valid Solana transaction"):
        transactions.parse_transaction(b"\x01\x02")
    with pytest.raises(transactions.InvalidTransaction, match="larger than Solana allows"):
        transactions.parse_transaction(raw + b"\0" * transactions.MAX_TX_BYTES)
    assert transactions.decode_base64(base64.b64encode(raw).decode(), transactions.MAX_TX_BYTES) == raw


def test_read_message_resolves_programs_and_accounts():
    payer = Keypair().pubkey()
    reading = transactions.read_message(message(payer=payer))
    (ix,) = reading.instructions
    assert (reading.fee_payer, reading.signers) == (payer, (payer,))
    assert ix.accounts[0] == (str(payer), True, True)
    assert ix.accounts[1][1:] == (False, True)  # the recipient: writable, not a signer


@pytest.mark.parametrize(
    "instruction",
    [CompiledInstruction(9, b"", bytes([0, 1])), CompiledInstruction(2, b"", bytes([0, 9]))],
    ids=["program out of range", "account out of range"],
)
def test_read_message_refuses_an_index_out_of_range(instruction):
    keys = [Pubkey.new_unique(), Pubkey.new_unique(), Pubkey.default()]
    broken = Message.new_with_compiled_instructions(1, 0, 1, keys, Hash.new_unique(), [instruction])
    with pytest.raises(ValueError, match=r"out of range|does not exist"):
        transactions.read_message(broken)


def test_priority_fee_is_price_times_limit_rounded_up():
    reading = transactions.read_message(message(set_compute_unit_limit(100_001), set_compute_unit_price(3)))
    assert transactions.priority_fee_lamports(reading) == 1  # 300,003 micro-lamports -> 1 lamport


def test_priority_fee_without_a_limit_uses_the_runtime_default():
    reading = transactions.read_message(message(set_compute_unit_price(1_000_000), request_heap_frame(64 * 1024)))
    assert transactions.priority_fee_lamports(reading) == transactions.DEFAULT_UNITS_PER_INSTRUCTION


def test_a_repeated_compute_budget_setting_is_refused():
    reading = transactions.read_message(message(set_compute_unit_price(1), set_compute_unit_price(2)))
    with pytest.raises(ValueError, match="repeated"):
        transactions.priority_fee_lamports(reading)


def test_a_sane_transaction_is_parsed_and_sanitized_with_a_reason_for_the_log():
    raw = wire(message())
    assert bytes(transactions.parse_sane_transaction(raw)) == raw
    with pytest.raises(ValueError, match=r"^2000 bytes, over the 1232-byte limit$"):
        transactions.parse_sane_transaction(b"\0" * 2000)
    with pytest.raises(ValueError, match=r"^not exactly one transaction: .*extra bytes"):
        transactions.parse_sane_transaction(raw + b"\0")
    keys = [Pubkey.new_unique(), Pubkey.new_unique()]
    broken = Message.new_with_compiled_instructions(
        1, 0, 1, keys, Hash.new_unique(), [CompiledInstruction(9, b"", b"")]
    )
    with pytest.raises(ValueError, match=r"^malformed transaction: "):
        transactions.parse_sane_transaction(wire(broken))


def test_which_signers_are_writable():
    keys = [Pubkey.new_unique() for _ in range(4)]
    header = Message.new_with_compiled_instructions(3, 1, 0, keys, Hash.new_unique(), []).header
    assert [transactions.writable_signer(header, i) for i in range(3)] == [True, True, False]


@pytest.mark.parametrize(
    ("instructions", "problem"),
    [
        ([], None),
        ([set_compute_unit_limit(1), set_compute_unit_price(2)], None),
        ([request_heap_frame(64 * 1024)], "compute-budget instruction 01 not allowed"),
        ([set_compute_unit_price(1), set_compute_unit_price(2)], "two compute-unit price instructions"),
        ([set_compute_unit_limit(1), set_compute_unit_limit(2)], "two compute-unit limit instructions"),
    ],
)
def test_compute_budget_settings_are_limit_and_price_each_once(instructions, problem):
    reading = transactions.read_message(message(*instructions))
    assert transactions.compute_budget_problem(reading) == problem


def test_a_malformed_or_empty_compute_budget_instruction_is_a_problem():
    payer = Pubkey.new_unique()
    for data, accounts, problem in [
        (bytes([3, 1]), (), "malformed compute-budget instruction"),
        (bytes([2, 1, 0, 0, 0]), ((str(payer), True, True),), "malformed compute-budget instruction"),
        (b"", (), "compute-budget instruction empty not allowed"),
    ]:
        odd = transactions.Instruction(transactions.COMPUTE_BUDGET, accounts, data)
        reading = transactions.Reading(payer, (payer,), Hash.new_unique(), (), (odd,))
        assert transactions.compute_budget_problem(reading) == problem
