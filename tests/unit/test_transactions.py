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
