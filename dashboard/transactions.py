"""Reading Solana transactions with solders: the pure helpers every transaction check shares.

Nothing here talks to the network or the database. Parsing is strict (exactly one wire
transaction, within Solana's size limit), and a message is resolved into what it does
(`Reading`), so checks can compare instructions independently of account ordering.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.hash import Hash
from solders.message import MessageHeader, VersionedMessage
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from dashboard import encoding

MAX_TX_BYTES = 1232  # Solana's packet limit for one transaction
COMPUTE_BUDGET = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
SET_COMPUTE_UNIT_LIMIT = 2  # ComputeBudget instruction tags
SET_COMPUTE_UNIT_PRICE = 3
MEMO_PROGRAMS = frozenset(
    {
        Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"),  # SPL Memo v2
        Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"),  # SPL Memo v1
    }
)
DEFAULT_UNITS_PER_INSTRUCTION = 200_000  # what the runtime grants without SetComputeUnitLimit
MAX_COMPUTE_UNITS = 1_400_000
LAMPORTS_PER_SIGNATURE = 5000  # Solana's base fee


class InvalidTransaction(ValueError):
    """Bytes that are not one readable transaction; `message` says so in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode_base64(text: object, max_bytes: int, what: str = "transaction") -> bytes:
    """Strict base64 (`encoding.decode_base64`) of at most `max_bytes` bytes; `what` names the
    thing in the refusal."""
    try:
        return encoding.decode_base64(text, max_bytes)
    except encoding.Undecodable as exc:
        if exc.too_large:
            raise InvalidTransaction(f"The {what} is missing or too large. Nothing was sent.") from None
        raise InvalidTransaction(f"The {what} was garbled on the way. Nothing was sent.") from None


def parse_transaction(raw: bytes) -> VersionedTransaction:
    """Exactly one wire transaction: no trailing bytes, within Solana's size limit."""
    if len(raw) > MAX_TX_BYTES:
        raise InvalidTransaction("That transaction is larger than Solana allows. Nothing was sent.")
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except Exception:  # solders raises its own error types for malformed input
        raise InvalidTransaction("That is not a valid Solana transaction. Nothing was sent.") from None
    if bytes(tx) != raw:
        raise InvalidTransaction("That transaction has unexpected extra bytes. Nothing was sent.")
    return tx


def parse_sane_transaction(raw: bytes) -> VersionedTransaction:
    """`parse_transaction`, then solders' sanitize (header, signature count and every index
    consistent). ValueError with a reason for the server log, not for a trader."""
    if len(raw) > MAX_TX_BYTES:
        raise ValueError(f"{len(raw)} bytes, over the {MAX_TX_BYTES}-byte limit")
    try:
        tx = parse_transaction(raw)
    except InvalidTransaction as exc:
        raise ValueError(f"not exactly one transaction: {exc}") from None
    try:
        tx.sanitize()
    except Exception as exc:  # solders.SanitizeError
        raise ValueError(f"malformed transaction: {exc}") from None
    return tx


def writable_signer(header: MessageHeader, index: int) -> bool:
    """Whether the signer at `index` may be written (signers come first in the account list)."""
    return index < header.num_required_signatures - header.num_readonly_signed_accounts


AccountRef = tuple[str, bool, bool]  # (address or lookup position, signer, writable)


@dataclass(frozen=True)
class Instruction:
    program: Pubkey
    accounts: tuple[AccountRef, ...]
    data: bytes


@dataclass(frozen=True)
class Reading:
    """A message resolved to what it does, for comparison independent of account ordering."""

    fee_payer: Pubkey
    signers: tuple[Pubkey, ...]
    blockhash: Hash
    lookups: tuple[bytes, ...]
    instructions: tuple[Instruction, ...]


def read_message(message: VersionedMessage) -> Reading:
    """Resolve every instruction's program and accounts; ValueError when an index is out of range."""
    header = message.header
    keys = list(message.account_keys)
    signed = header.num_required_signatures
    tables = list(getattr(message, "address_table_lookups", None) or [])  # v0 messages only
    lookups = tuple(bytes(table) for table in tables)
    # Accounts loaded from tables follow the static keys: every table's writable ones, then read-only.
    writable_lookups = [True] * sum(len(t.writable_indexes) for t in tables)
    writable_lookups += [False] * sum(len(t.readonly_indexes) for t in tables)

    def ref(index: int) -> AccountRef:
        if index < len(keys):
            if index < signed:
                writable = writable_signer(header, index)
            else:
                writable = index < len(keys) - header.num_readonly_unsigned_accounts
            return (str(keys[index]), index < signed, writable)
        position = index - len(keys)
        if position >= len(writable_lookups):
            raise ValueError("instruction names an account that does not exist")
        return (f"lookup:{position}", False, writable_lookups[position])

    instructions = []
    for ix in message.instructions:
        if ix.program_id_index >= len(keys):
            raise ValueError("program id out of range")
        instructions.append(
            Instruction(
                program=keys[ix.program_id_index],
                accounts=tuple(ref(i) for i in bytes(ix.accounts)),
                data=bytes(ix.data),
            )
        )
    if not keys:
        raise ValueError("no fee payer")
    return Reading(
        fee_payer=keys[0],
        signers=tuple(keys[:signed]),
        blockhash=message.recent_blockhash,
        lookups=lookups,
        instructions=tuple(instructions),
    )


def priority_fee_lamports(reading: Reading) -> int:
    """The most the transaction can pay in priority fees: unit price × unit limit, in lamports.

    ValueError for a compute-budget instruction we cannot read, or a repeated setting (the
    runtime rejects duplicates too). Without SetComputeUnitLimit the runtime grants 200,000 units
    per other instruction, at most 1,400,000.
    """
    price = limit = None
    others = 0
    for ix in reading.instructions:
        if ix.program != COMPUTE_BUDGET:
            others += 1
            continue
        tag, body = ix.data[:1], ix.data[1:]
        if tag == bytes([SET_COMPUTE_UNIT_PRICE]) and len(body) == 8 and price is None:
            price = int.from_bytes(body, "little")
        elif tag == bytes([SET_COMPUTE_UNIT_LIMIT]) and len(body) == 4 and limit is None:
            limit = int.from_bytes(body, "little")
        elif tag not in (bytes([SET_COMPUTE_UNIT_PRICE]), bytes([SET_COMPUTE_UNIT_LIMIT])) and tag != b"":
            continue  # heap-frame and loaded-data requests cost nothing in priority fees
        else:
            raise ValueError("unreadable or repeated compute-budget instruction")
    if limit is None:
        limit = DEFAULT_UNITS_PER_INSTRUCTION * others
    units = min(limit, MAX_COMPUTE_UNITS)
    return -(-(price or 0) * units // 1_000_000)  # integer ceiling: exact for every u64 price


def compute_budget_problem(reading: Reading) -> str | None:
    """Why the transaction's compute-budget instructions are not only SetComputeUnitLimit and
    SetComputeUnitPrice, each well formed, naming no account, at most once — or None."""
    seen: set[int] = set()
    for ix in reading.instructions:
        if ix.program != COMPUTE_BUDGET:
            continue
        tag = ix.data[0] if ix.data else None
        expected = {SET_COMPUTE_UNIT_LIMIT: 5, SET_COMPUTE_UNIT_PRICE: 9}.get(tag)
        if expected is None:
            return f"compute-budget instruction {ix.data[:1].hex() or 'empty'} not allowed"
        if len(ix.data) != expected or ix.accounts:
            return "malformed compute-budget instruction"
        if tag in seen:
            return f"two compute-unit {'limit' if tag == SET_COMPUTE_UNIT_LIMIT else 'price'} instructions"
        seen.add(tag)
    return None


def network_fee_lamports(message: VersionedMessage) -> int:
    """What the fee payer pays for this message: the base fee of each required signature plus the
    priority fee (`priority_fee_lamports`). ValueError when its instructions cannot be read."""
    signatures = message.header.num_required_signatures
    return LAMPORTS_PER_SIGNATURE * signatures + priority_fee_lamports(read_message(message))


def memo_notes(reading: Reading, signer: Pubkey, max_priority_fee: int) -> tuple[bytes, ...]:
    """The notes of a transaction that does nothing but carry notes (a sign-in proof, never sent):
    the data of its memo instructions, in order.

    ValueError unless `signer` is its fee payer and only signer, it uses no address tables, and
    every instruction is either a memo naming no account but `signer`, or a ComputeBudget
    SetComputeUnitLimit / SetComputeUnitPrice naming no account at all (each at most once), with a
    priority fee within `max_priority_fee` lamports; and there is at least one memo.
    """
    if reading.fee_payer != signer or reading.signers != (signer,) or reading.lookups:
        raise ValueError("not the signer's own transaction")
    notes = []
    for ix in reading.instructions:
        if ix.program in MEMO_PROGRAMS and all(address == str(signer) for address, _, _ in ix.accounts):
            notes.append(ix.data)
        elif ix.program != COMPUTE_BUDGET:
            raise ValueError("an instruction that does more than carry a note")
    problem = compute_budget_problem(reading)
    if problem is not None:
        raise ValueError(problem)
    if not notes:
        raise ValueError("no note")
    if priority_fee_lamports(reading) > max_priority_fee:  # ValueError for a repeated setting too
        raise ValueError("priority fee above the ceiling")
    return tuple(notes)
