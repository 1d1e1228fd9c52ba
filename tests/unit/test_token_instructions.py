"""Reading SPL Token, Token-2022 and Associated Token instructions: accounts by role, amounts, the
wallet's associated token account, and an instruction decoded for the log. What a refund may hold
is tested in test_withdrawal.py; here only what is read."""

from __future__ import annotations

import pytest
from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address

from dashboard import token_instructions as ti
from dashboard.transactions import COMPUTE_BUDGET, Instruction


def keys(count: int) -> list[Pubkey]:
    return [Pubkey.new_unique() for _ in range(count)]


def ix(program: Pubkey, data: bytes, accounts: list[Pubkey], signers=(), writable=()) -> Instruction:
    return Instruction(program, tuple((str(k), k in signers, k in writable) for k in accounts), data)


def u64(value: int) -> bytes:
    return value.to_bytes(8, "little")


@pytest.mark.parametrize("program", ti.TOKEN_PROGRAMS, ids=["token", "token-2022"])
def test_the_associated_token_address_is_the_one_solders_derives(program):
    wallet, mint = keys(2)
    assert ti.associated_token_address(wallet, mint, program) == get_associated_token_address(wallet, mint, program)


def test_a_transfer_names_its_accounts_by_role_and_reads_its_amount():
    source, destination, authority, cosigner = keys(4)
    accounts = [source, destination, authority, cosigner]
    data = bytes([ti.TRANSFER]) + u64(20_000_000)
    step = ti.read_step(3, ix(ti.TOKEN_PROGRAM, data, accounts, signers={authority, cosigner}))
    assert step.index == 3 and step.kind == ti.TRANSFER and step.name == "Transfer"
    assert step.accounts == {"source": source, "destination": destination, "authority": authority}
    assert step.extra == ((cosigner, True, False),)
    assert (step.amount, step.decimals, step.fee) == (20_000_000, None, None)


def test_a_transfer_checked_reads_its_decimals_and_one_with_fee_its_fee():
    source, mint, destination, authority = keys(4)
    accounts = [source, mint, destination, authority]
    checked = ti.read_step(0, ix(ti.TOKEN_PROGRAM, bytes([ti.TRANSFER_CHECKED]) + u64(5) + bytes([6]), accounts))
    assert (checked.kind, checked.amount, checked.decimals, checked.fee) == (ti.TRANSFER_CHECKED, 5, 6, None)
    assert checked.accounts["mint"] == mint
    data = bytes([ti.TRANSFER_FEE_EXTENSION, ti.TRANSFER_CHECKED_WITH_FEE]) + u64(1000) + bytes([6]) + u64(7)
    with_fee = ti.read_step(1, ix(ti.TOKEN_2022_PROGRAM, data, accounts))
    assert with_fee.kind == ti.TRANSFER_CHECKED_WITH_FEE_KIND and with_fee.name == "TransferCheckedWithFee"
    assert (with_fee.amount, with_fee.decimals, with_fee.fee) == (1000, 6, 7)


def test_a_close_and_an_idempotent_creation_are_read():
    account, destination, owner = keys(3)
    close = ti.read_step(0, ix(ti.TOKEN_PROGRAM, bytes([ti.CLOSE_ACCOUNT]), [account, destination, owner]))
    assert close.name == "CloseAccount" and close.accounts == {
        "account": account,
        "destination": destination,
        "owner": owner,
    }
    created = keys(6)
    create = ti.read_step(1, ix(ti.ASSOCIATED_TOKEN_PROGRAM, bytes([ti.CREATE_IDEMPOTENT]), created))
    assert create.name == "CreateIdempotent" and create.kind == ti.CREATE_IDEMPOTENT
    assert create.accounts == dict(zip(ti.ATA_LAYOUT, created, strict=True)) and create.extra == ()
    plain = ti.read_step(2, ix(ti.ASSOCIATED_TOKEN_PROGRAM, b"", created))
    assert (plain.kind, plain.name) == (0, "Create")


@pytest.mark.parametrize(
    ("program", "data", "count", "associated", "reason"),
    [
        (ti.TOKEN_PROGRAM, bytes([ti.APPROVE]) + u64(1), 3, False, "token instruction Approve not allowed"),
        (ti.TOKEN_PROGRAM, bytes([ti.SET_AUTHORITY, 2, 0]), 2, False, "token instruction SetAuthority not allowed"),
        (ti.TOKEN_PROGRAM, bytes([200]), 3, False, "token instruction c8 not allowed"),
        (ti.TOKEN_PROGRAM, b"", 3, False, "token instruction empty not allowed"),
        (ti.TOKEN_PROGRAM, bytes([ti.TRANSFER]) + u64(1)[:4], 3, False, "malformed Transfer"),
        (ti.TOKEN_PROGRAM, bytes([ti.TRANSFER]) + u64(1), 2, False, "Transfer with too few accounts"),
        (ti.TOKEN_PROGRAM, bytes([26, 1]) + u64(1) + bytes([6]) + u64(0), 4, False, "TransferCheckedWithFee outside"),
        (ti.ASSOCIATED_TOKEN_PROGRAM, bytes([1, 0]), 6, True, "malformed associated-token instruction"),
        (ti.ASSOCIATED_TOKEN_PROGRAM, bytes([1]), 5, True, "malformed associated-token instruction"),
    ],
)
def test_what_a_refund_never_holds_or_a_malformed_instruction_is_not_read(program, data, count, associated, reason):
    with pytest.raises(ti.UnreadableInstruction, match=reason) as refused:
        ti.read_step(0, ix(program, data, keys(count)))
    assert refused.value.associated is associated


def test_an_instruction_decoded_for_the_log_names_roles_labels_and_flags():
    source, destination, authority = keys(3)
    transfer = ix(
        ti.TOKEN_2022_PROGRAM,
        bytes([ti.TRANSFER_CHECKED]) + u64(9) + bytes([2]),
        [source, Pubkey.new_unique(), destination, authority],
        signers={authority},
        writable={source, destination, authority},
    )
    entry = ti.describe_instruction(transfer, {authority: "vault"})
    assert entry["program"] == "Token-2022" and entry["instruction"] == "TransferChecked"
    assert (entry["amount"], entry["decimals"]) == (9, 2) and "fee" not in entry
    assert entry["accounts"][0] == f"source={source} [w]"
    assert entry["accounts"][3] == f"authority={authority} (vault) [sw]"


def test_other_instructions_are_decoded_for_the_log_too():
    budget = ti.describe_instruction(ix(COMPUTE_BUDGET, bytes([3]) + u64(250_000), []), {})
    assert budget == {
        "program": "ComputeBudget",
        "instruction": "SetComputeUnitPrice",
        "value": 250_000,
        "accounts": [],
    }
    heap = ti.describe_instruction(ix(COMPUTE_BUDGET, bytes([1]), []), {})
    assert heap["instruction"] == "tag 01" and "value" not in heap
    lend = next(iter(ti.JUPITER_LEND_PROGRAMS))
    unknown = ti.describe_instruction(Instruction(lend, (("lookup:0", False, True),), bytes(range(10))), {})
    assert unknown["program"] == ti.JUPITER_LEND_PROGRAMS[lend]
    assert unknown["instruction"] == "data 0001020304050607…" and unknown["accounts"] == ["extra=lookup:0 [w]"]
    odd = ti.describe_instruction(ix(ti.TOKEN_PROGRAM, bytes([99]), keys(1)), {})
    assert odd["instruction"] == "tag 63" and odd["accounts"][0].startswith("extra=")
    ata = ti.describe_instruction(ix(ti.ASSOCIATED_TOKEN_PROGRAM, bytes([7]), keys(1)), {})
    assert ata["instruction"] == "tag 07" and ata["accounts"][0].startswith("funder=")
