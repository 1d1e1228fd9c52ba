"""The refund (withdrawal) transaction of a v2 DCA cancel: what Jupiter issues, what the wallet signed.

Pure tests: transactions built with solders, no database, no server.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.compute_budget import request_heap_frame, set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, CompiledInstruction, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from dashboard.transactions import COMPUTE_BUDGET
from dashboard.withdrawal import (
    CHANGED,
    FEE_TOO_HIGH,
    NOT_SIGNED,
    OTHER_SIGNATURES,
    TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
    UNVERIFIED,
    WRONG_SIGNATURE,
    RefundOrder,
    WithdrawalRefused,
    associated_token_address,
    check_signed_withdrawal,
    check_withdrawal,
)

FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures" / "jupiter-dca-v2-cancel-transaction.json").read_text())
CEILING = 200_000  # lamports, the default DASHBOARD_MAX_PRIORITY_FEE_LAMPORTS
MEMO = Pubkey.from_string("MemoSq4gqABAXKb96qnH2TcNFzQpPmDrJFjwUX7P4ta")
JUPITER_LEND = Pubkey.from_string("jup3YeL8QhtSx1e253b2FDvsMNC87fDrgQZivbrndc9")
AMOUNT = 20_000_000


# --- the published example -----------------------------------------------------------------------


def fixture_order(**changes) -> RefundOrder:
    order = RefundOrder(
        wallet=FIXTURE["order"]["userPubkey"],
        vault=FIXTURE["order"]["vaultPubkey"],
        input_mint=FIXTURE["order"]["inputMint"],
        refund_amount=int(FIXTURE["response"]["refundAmount"]),
    )
    return replace(order, **changes)


FIXTURE_RAW = base64.b64decode(FIXTURE["transaction_base64"])


@pytest.mark.parametrize("token_program", [None, str(TOKEN_PROGRAM)])
def test_the_published_example_passes(token_program):
    message = check_withdrawal(
        FIXTURE_RAW, fixture_order(input_token_program=token_program), max_priority_fee_lamports=CEILING
    )
    assert message == to_bytes_versioned(VersionedTransaction.from_bytes(FIXTURE_RAW).message)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"refund_amount": 20_000_001}, "refund of 20000000 instead of 20000001"),
        ({"refund_amount": 0}, "nothing to refund"),
        ({"wallet": str(Keypair().pubkey())}, "wallet is not the fee payer"),
        ({"vault": str(Keypair().pubkey())}, "vault is not a signer"),
        ({"input_mint": "So11111111111111111111111111111111111111112"}, "refund to another account"),
        ({"input_token_program": str(TOKEN_2022_PROGRAM)}, "token program mismatch"),
        ({"input_token_program": "not a key"}, "order names an invalid address"),
        ({"vault": FIXTURE["order"]["userPubkey"]}, "order's vault is the wallet"),
    ],
)
def test_the_published_example_is_refused_for_another_order(changes, reason):
    assert refusal(FIXTURE_RAW, fixture_order(**changes)).startswith(reason)


def test_the_published_example_is_refused_under_a_lower_fee_ceiling():
    # 592 units × 250,000 micro-lamports = 148 lamports, rounded up.
    check_withdrawal(FIXTURE_RAW, fixture_order(), max_priority_fee_lamports=148)
    assert refusal(FIXTURE_RAW, fixture_order(), ceiling=147) == "priority fee 148 lamports over ceiling 147"


# --- a builder for fresh withdrawals ------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    wallet: Keypair
    vault: Keypair
    cosigner: Keypair
    mint: Pubkey
    vault_account: Pubkey
    token_program: Pubkey = TOKEN_PROGRAM

    @property
    def user(self) -> Pubkey:
        return self.wallet.pubkey()

    @property
    def ata(self) -> Pubkey:
        return associated_token_address(self.user, self.mint, self.token_program)

    def order(self, **changes) -> RefundOrder:
        order = RefundOrder(
            wallet=str(self.user),
            vault=str(self.vault.pubkey()),
            input_mint=str(self.mint),
            refund_amount=AMOUNT,
            input_token_program=str(self.token_program),
        )
        return replace(order, **changes)


def new_case(token_program: Pubkey = TOKEN_PROGRAM) -> Case:
    return Case(Keypair(), Keypair(), Keypair(), Keypair().pubkey(), Keypair().pubkey(), token_program)


def w(key: Pubkey) -> AccountMeta:
    return AccountMeta(key, False, True)


def signer(key: Pubkey, writable: bool = False) -> AccountMeta:
    return AccountMeta(key, True, writable)


def token_transfer(
    case: Case,
    *,
    source: Pubkey | None = None,
    destination: Pubkey | None = None,
    authority: Pubkey | None = None,
    amount: int = AMOUNT,
    checked: bool = False,
    mint: Pubkey | None = None,
    extra: list[AccountMeta] | None = None,
    program: Pubkey | None = None,
) -> Instruction:
    source, destination = source or case.vault_account, destination or case.ata
    authority = signer(authority or case.vault.pubkey(), writable=authority is None)
    extra = [signer(case.cosigner.pubkey())] if extra is None else extra
    if checked:
        data = bytes([12]) + amount.to_bytes(8, "little") + bytes([6])
        accounts = [w(source), AccountMeta(mint or case.mint, False, False), w(destination), authority, *extra]
    else:
        data = bytes([3]) + amount.to_bytes(8, "little")
        accounts = [w(source), w(destination), authority, *extra]
    return Instruction(program or case.token_program, data, accounts)


def token_close(
    case: Case,
    *,
    account: Pubkey | None = None,
    destination: Pubkey | None = None,
    owner: Pubkey | None = None,
    program: Pubkey | None = None,
) -> Instruction:
    accounts = [w(account or case.vault_account), w(destination or case.user), signer(owner or case.vault.pubkey())]
    return Instruction(program or case.token_program, bytes([9]), accounts)


def refund_instructions(case: Case, *, checked: bool = False, units: int = 592, price: int = 250_000):
    return [
        set_compute_unit_limit(units),
        set_compute_unit_price(price),
        token_transfer(case, checked=checked),
        token_close(case),
    ]


def compile_message(case: Case, instructions, *, payer: Pubkey | None = None, v0: bool = False, tables=()):
    blockhash = Hash.new_unique()
    if v0:
        return MessageV0.try_compile(payer or case.user, instructions, list(tables), blockhash)
    return Message.new_with_blockhash(instructions, payer or case.user, blockhash)


def unsigned(message) -> bytes:
    slots = message.header.num_required_signatures
    return bytes(VersionedTransaction.populate(message, [Signature.default()] * slots))


def build(case: Case, instructions=None, **kwargs) -> bytes:
    return unsigned(
        compile_message(case, refund_instructions(case) if instructions is None else instructions, **kwargs)
    )


def refusal(raw: bytes, order: RefundOrder, ceiling: int = CEILING) -> str:
    with pytest.raises(WithdrawalRefused) as refused:
        check_withdrawal(raw, order, max_priority_fee_lamports=ceiling)
    assert refused.value.message == UNVERIFIED  # the trader always reads the same plain sentence
    assert str(refused.value) == UNVERIFIED
    return refused.value.reason


def passes(raw: bytes, order: RefundOrder) -> bytes:
    message = check_withdrawal(raw, order, max_priority_fee_lamports=CEILING)
    assert message == to_bytes_versioned(VersionedTransaction.from_bytes(raw).message)
    return message


def test_the_refusal_message_is_the_one_traders_read():
    assert UNVERIFIED == (
        "We could not verify this refund transaction, so we did not ask your wallet to sign it. "
        "Nothing was sent; you can finish the cancel on jup.ag."
    )


# --- correct withdrawals pass --------------------------------------------------------------------


@pytest.mark.parametrize("token_program", [TOKEN_PROGRAM, TOKEN_2022_PROGRAM], ids=["token", "token-2022"])
@pytest.mark.parametrize("checked", [False, True], ids=["Transfer", "TransferChecked"])
@pytest.mark.parametrize("v0", [False, True], ids=["legacy", "v0"])
@pytest.mark.parametrize("known", [True, False], ids=["program-known", "program-inferred"])
def test_a_correct_withdrawal_passes(token_program, checked, v0, known):
    case = new_case(token_program)
    raw = build(case, refund_instructions(case, checked=checked), v0=v0)
    passes(raw, case.order(input_token_program=str(token_program) if known else None))


def test_the_example_layout_is_reproduced_by_the_builder():
    # Same header as Jupiter's: three signers, the co-signer the only read-only one.
    case = new_case()
    message = VersionedTransaction.from_bytes(build(case)).message
    assert message.header.num_required_signatures == FIXTURE["num_required_signatures"]
    assert message.header.num_readonly_signed_accounts == FIXTURE["num_readonly_signed_accounts"]
    assert list(message.account_keys[:3]) == [case.user, case.vault.pubkey(), case.cosigner.pubkey()]


def test_without_a_co_signer_or_compute_budget_it_still_passes():
    case = new_case()
    instructions = [token_transfer(case, extra=[]), token_close(case)]
    passes(build(case, instructions), case.order())


def test_the_token_2022_address_differs_from_the_token_one():
    # Otherwise the mismatch tests below would prove nothing.
    case = new_case()
    assert case.ata != associated_token_address(case.user, case.mint, TOKEN_2022_PROGRAM)
    assert str(case.ata) == str(
        Pubkey.find_program_address(
            [bytes(case.user), bytes(TOKEN_PROGRAM), bytes(case.mint)],
            Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"),
        )[0]
    )


# --- harmful or unverifiable withdrawals are refused --------------------------------------------


def harmful(case: Case) -> dict:
    """name -> (instructions, build options, expected reason prefix)."""
    c = case
    user, vault, cosigner = c.user, c.vault.pubkey(), c.cosigner.pubkey()
    attacker = Keypair().pubkey()
    attacker_ata = associated_token_address(attacker, c.mint, c.token_program)
    limit, price = set_compute_unit_limit(592), set_compute_unit_price(250_000)
    close = token_close(c)
    good = token_transfer(c)
    lend_withdraw = Instruction(
        JUPITER_LEND,
        bytes.fromhex("b712469c946da122") + AMOUNT.to_bytes(8, "little"),
        [signer(vault, True), w(c.vault_account), w(Keypair().pubkey()), AccountMeta(c.mint, False, False)],
    )
    return {
        "refund to another account": (
            [limit, price, token_transfer(c, destination=attacker_ata), close],
            {},
            "refund to another account",
        ),
        "refund to the wallet's account of the other token program": (
            [
                limit,
                price,
                token_transfer(c, destination=associated_token_address(user, c.mint, TOKEN_2022_PROGRAM)),
                close,
            ],
            {},
            "refund to another account",
        ),
        "refund to the wallet itself, not its token account": (
            [limit, price, token_transfer(c, destination=user), close],
            {},
            "wallet as Transfer destination",
        ),
        "refund of a different amount": (
            [limit, price, token_transfer(c, amount=AMOUNT - 1), close],
            {},
            f"refund of {AMOUNT - 1} instead of {AMOUNT}",
        ),
        "transfer from the wallet's token account": (
            [limit, price, token_transfer(c, source=c.ata, destination=attacker_ata, authority=user), close],
            {},
            "wallet's token account as Transfer source",
        ),
        "wallet as transfer authority": (
            [limit, price, token_transfer(c, authority=user), close],
            {},
            "wallet as Transfer authority",
        ),
        "wallet as an extra signer of the transfer": (
            [limit, price, token_transfer(c, extra=[signer(cosigner), AccountMeta(user, True, True)]), close],
            {},
            "wallet as Transfer extra signer",
        ),
        "vault transfer authority replaced by the co-signer": (
            [limit, price, token_transfer(c, authority=cosigner, extra=[]), token_close(c)],
            {},
            "transfer authority is not the vault",
        ),
        "an extra account after the authority": (
            [limit, price, token_transfer(c, extra=[signer(cosigner), w(attacker)]), close],
            {},
            "Transfer names an extra account other than the co-signer",
        ),
        "TransferChecked of another mint": (
            [limit, price, token_transfer(c, checked=True, mint=Keypair().pubkey()), close],
            {},
            "TransferChecked of another mint",
        ),
        "system transfer from the wallet": (
            [limit, price, good, close, transfer(TransferParams(from_pubkey=user, to_pubkey=attacker, lamports=10**9))],
            {},
            "unknown program 11111111111111111111111111111111",
        ),
        "a memo": (
            [limit, price, good, close, Instruction(MEMO, b"gm", [])],
            {},
            f"unknown program {MEMO}",
        ),
        "an unknown program": (
            [limit, price, good, close, Instruction(attacker, b"\x00", [w(user)])],
            {},
            f"unknown program {attacker}",
        ),
        "Earn While You Wait: a Lend withdrawal first": (
            [limit, price, lend_withdraw, good, close],
            {},
            f"unknown program {JUPITER_LEND} (Jupiter Lend lending: an Earn While You Wait withdrawal)",
        ),
        "a second transfer to someone else": (
            [limit, price, good, token_transfer(c, destination=attacker_ata), close],
            {},
            "2 token transfers, expected one",
        ),
        "no transfer": ([limit, price, close], {}, "0 token transfers, expected one"),
        "no close": ([limit, price, good], {}, "0 account closes, expected one"),
        "two closes": ([limit, price, good, close, token_close(c, account=Keypair().pubkey())], {}, "2 account closes"),
        "an Approve of the vault account to someone else": (
            [
                limit,
                price,
                good,
                close,
                Instruction(
                    c.token_program,
                    bytes([4]) + (1).to_bytes(8, "little"),
                    [w(c.vault_account), w(attacker), signer(vault)],
                ),
            ],
            {},
            "token instruction 04 not allowed",
        ),
        "a malformed Transfer": (
            [
                limit,
                price,
                Instruction(c.token_program, bytes([3]) + AMOUNT.to_bytes(8, "little") + b"\x00", good.accounts),
                close,
            ],
            {},
            "malformed Transfer",
        ),
        "a Transfer naming too few accounts": (
            [limit, price, Instruction(c.token_program, good.data, good.accounts[:2]), close],
            {},
            "Transfer with too few accounts",
        ),
        "huge priority fee": (
            [set_compute_unit_limit(1_400_000), set_compute_unit_price(10**12), good, close],
            {},
            f"priority fee {1_400_000 * 10**6} lamports over ceiling {CEILING}",
        ),
        "huge priority fee on the default compute-unit limit": (
            [set_compute_unit_price(10**9), good, close],
            {},
            f"priority fee {400_000 * 10**3} lamports over ceiling {CEILING}",
        ),
        "two compute-unit price instructions": (
            [limit, price, set_compute_unit_price(1), good, close],
            {},
            "two compute-unit price instructions",
        ),
        "two compute-unit limit instructions": (
            [limit, set_compute_unit_limit(600), price, good, close],
            {},
            "two compute-unit limit instructions",
        ),
        "another compute-budget instruction": (
            [limit, price, request_heap_frame(64 * 1024), good, close],
            {},
            "compute-budget instruction 01 not allowed",
        ),
        "a compute-budget instruction naming the wallet": (
            [Instruction(COMPUTE_BUDGET, bytes(set_compute_unit_limit(592).data), [w(user)]), price, good, close],
            {},
            "malformed compute-budget instruction",
        ),
        "co-signer writable": (
            [limit, price, token_transfer(c, extra=[signer(cosigner, writable=True)]), close],
            {},
            "co-signer is writable",
        ),
        "a fourth signer": (
            [limit, price, token_transfer(c, extra=[signer(cosigner), signer(attacker)]), close],
            {},
            "4 signers, expected the wallet, the vault and at most one co-signer",
        ),
        "wallet not fee payer": ([limit, price, good, close], {"payer": cosigner}, "wallet is not the fee payer"),
        "the vault itself as the refunded account": (
            [limit, price, token_transfer(c, source=vault), token_close(c, account=vault)],
            {},
            "transfer source is a signer, not a vault token account",
        ),
        "close rent to another account": (
            [limit, price, good, token_close(c, destination=attacker)],
            {},
            "close rent to another account",
        ),
        "close rent to the wallet's token account": (
            [limit, price, good, token_close(c, destination=c.ata)],
            {},
            "wallet's token account as CloseAccount destination",
        ),
        "close of a different account": (
            [limit, price, good, token_close(c, account=Keypair().pubkey())],
            {},
            "close of a different account than the refunded one",
        ),
        "close of the wallet's token account": (
            [limit, price, good, token_close(c, account=c.ata, owner=user)],
            {},
            "wallet's token account as CloseAccount account",
        ),
        "close owned by someone else": (
            [limit, price, good, token_close(c, owner=cosigner)],
            {},
            "close owner is not the vault",
        ),
        "both token programs": (
            [limit, price, good, token_close(c, program=TOKEN_2022_PROGRAM)],
            {},
            "both token programs",
        ),
    }


HARMFUL = sorted(harmful(new_case()))


@pytest.mark.parametrize("name", HARMFUL)
def test_a_harmful_withdrawal_is_refused(name):
    case = new_case()
    instructions, options, reason = harmful(case)[name]
    assert refusal(build(case, instructions, **options), case.order()).startswith(reason)
    # Also when we do not know the mint's token program and infer it from the transaction.
    assert refusal(build(case, instructions, **options), case.order(input_token_program=None)).startswith(reason)


def test_token_2022_instructions_for_a_token_mint_are_refused():
    case = new_case(TOKEN_2022_PROGRAM)
    raw = build(case)
    passes(raw, case.order())
    assert refusal(raw, case.order(input_token_program=str(TOKEN_PROGRAM))) == (
        f"token program mismatch: {TOKEN_2022_PROGRAM} for a mint of {TOKEN_PROGRAM}"
    )


def test_token_instructions_for_a_token_2022_mint_are_refused():
    case = new_case(TOKEN_PROGRAM)
    assert refusal(build(case), case.order(input_token_program=str(TOKEN_2022_PROGRAM))).startswith(
        "token program mismatch"
    )


def test_an_order_naming_something_other_than_a_token_program_is_refused():
    case = new_case()
    assert refusal(build(case), case.order(input_token_program=str(MEMO))).endswith("is not a token program")


def test_a_transaction_without_token_instructions_is_refused():
    # Signed by wallet, vault and co-signer, but it only sets the compute budget.
    case = new_case()
    keys = [case.user, case.vault.pubkey(), case.cosigner.pubkey(), COMPUTE_BUDGET]
    limit = CompiledInstruction(3, bytes(set_compute_unit_limit(592).data), b"")
    message = Message.new_with_compiled_instructions(3, 1, 1, keys, Hash.new_unique(), [limit])
    assert refusal(unsigned(message), case.order()) == "no token instruction"


def test_v0_with_address_lookups_is_refused():
    case = new_case()
    table = AddressLookupTableAccount(Keypair().pubkey(), [case.ata, case.vault_account])
    message = compile_message(case, refund_instructions(case), v0=True, tables=[table])
    assert message.address_table_lookups  # the accounts really were moved into the table
    assert refusal(unsigned(message), case.order()) == "address table lookups"


def test_trailing_bytes_are_refused():
    case = new_case()
    raw = build(case)
    passes(raw, case.order())
    assert refusal(raw + b"\x00", case.order()).startswith("not exactly one transaction")


def test_an_oversize_transaction_is_refused():
    case = new_case()
    raw = build(case, [*refund_instructions(case), Instruction(MEMO, b"x" * 900, [])])
    assert len(raw) > 1232
    assert VersionedTransaction.from_bytes(raw)  # well formed, just too large
    assert refusal(raw, case.order()) == f"{len(raw)} bytes, over the 1232-byte limit"


@pytest.mark.parametrize("slot", [0, 1, 2])
def test_a_signature_already_in_any_slot_is_refused(slot):
    case = new_case()
    message = compile_message(case, refund_instructions(case))
    keypair = (case.wallet, case.vault, case.cosigner)[slot]
    signatures = [Signature.default()] * 3
    signatures[slot] = keypair.sign_message(to_bytes_versioned(message))
    raw = bytes(VersionedTransaction.populate(message, signatures))
    assert refusal(raw, case.order()) == "signature slots not empty"


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00", b"\x03" + bytes(200), bytes(1232), base64.b64decode(FIXTURE["transaction_base64"])[:-1]],
    ids=["empty", "zero", "zeros", "1232-zeros", "truncated"],
)
def test_garbage_is_refused(raw):
    assert refusal(raw, fixture_order())


def test_inconsistent_header_is_refused():
    # Two signature slots for a message that requires three: solders parses it, sanitize does not.
    message = to_bytes_versioned(VersionedTransaction.from_bytes(FIXTURE_RAW).message)
    raw = bytes([2]) + bytes(128) + message
    assert bytes(VersionedTransaction.from_bytes(raw)) == raw
    assert refusal(raw, fixture_order()).startswith("malformed transaction")


def test_a_listed_twice_account_is_refused():
    # Hand-edit the fixture so the co-signer key repeats the vault (the runtime would refuse it too).
    message = bytearray(to_bytes_versioned(VersionedTransaction.from_bytes(FIXTURE_RAW).message))
    vault, cosigner = bytes(Pubkey.from_string(FIXTURE["signers"][1])), bytes(Pubkey.from_string(FIXTURE["signers"][2]))
    at = bytes(message).index(cosigner)
    message[at : at + 32] = vault
    raw = bytes([3]) + bytes(192) + bytes(message)
    assert refusal(raw, fixture_order()) == "an account is listed twice"


# --- what the wallet signed ----------------------------------------------------------------------


def issue(case: Case, instructions=None) -> tuple[bytes, bytes]:
    """(issued wire bytes, message bytes the check returns)."""
    raw = build(case, instructions)
    return raw, check_withdrawal(raw, case.order(), max_priority_fee_lamports=CEILING)


def wallet_signed(raw: bytes, keypair: Keypair, slot: int = 0) -> bytes:
    tx = VersionedTransaction.from_bytes(raw)
    signatures = list(tx.signatures)
    signatures[slot] = keypair.sign_message(to_bytes_versioned(tx.message))
    return bytes(VersionedTransaction.populate(tx.message, signatures))


def signed_refusal(issued: bytes, raw: bytes, wallet: Pubkey, ceiling: int = CEILING) -> WithdrawalRefused:
    with pytest.raises(WithdrawalRefused) as refused:
        check_signed_withdrawal(issued, raw, str(wallet), max_priority_fee_lamports=ceiling)
    return refused.value


def test_the_wallets_signature_over_the_issued_message_passes():
    case = new_case()
    raw, issued = issue(case)
    signed = wallet_signed(raw, case.wallet)
    assert check_signed_withdrawal(issued, signed, str(case.user), max_priority_fee_lamports=CEILING) == signed
    tx = VersionedTransaction.from_bytes(signed)
    assert tx.signatures[0].verify(case.user, issued)
    assert tx.signatures[1:] == [Signature.default(), Signature.default()]  # Jupiter adds those


def test_a_v0_signature_passes():
    case = new_case()
    raw = build(case, v0=True)
    issued = check_withdrawal(raw, case.order(), max_priority_fee_lamports=CEILING)
    assert issued[:1] == b"\x80"
    signed = wallet_signed(raw, case.wallet)
    assert check_signed_withdrawal(issued, signed, str(case.user), max_priority_fee_lamports=CEILING) == signed


def test_a_signature_by_another_key_is_refused():
    case = new_case()
    raw, issued = issue(case)
    refused = signed_refusal(issued, wallet_signed(raw, Keypair()), case.user)
    assert (refused.message, refused.reason) == (WRONG_SIGNATURE, "wallet signature does not verify")


def test_an_unsigned_transaction_is_refused():
    case = new_case()
    raw, issued = issue(case)
    assert signed_refusal(issued, raw, case.user).message == WRONG_SIGNATURE


def test_another_wallet_is_refused():
    case = new_case()
    raw, issued = issue(case)
    other = Keypair()
    refused = signed_refusal(issued, wallet_signed(raw, case.wallet), other.pubkey())
    assert (refused.message, refused.reason) == (WRONG_SIGNATURE, "wallet is not a signer of the issued message")


@pytest.mark.parametrize("change", ["blockhash", "amount", "extra compute budget"])
def test_a_changed_message_signed_by_the_wallet_is_refused(change):
    case = new_case()
    raw, issued = issue(case)
    tx = VersionedTransaction.from_bytes(raw)
    if change == "blockhash":
        other = Message.new_with_blockhash(refund_instructions(case), case.user, Hash.new_unique())
    elif change == "amount":
        instructions = refund_instructions(case)
        instructions[2] = token_transfer(case, amount=AMOUNT + 1)
        other = Message.new_with_blockhash(instructions, case.user, tx.message.recent_blockhash)
    else:  # what a wallet might add to a single-signer transaction
        other = Message.new_with_blockhash(
            [set_compute_unit_limit(800), *refund_instructions(case)[1:]], case.user, tx.message.recent_blockhash
        )
    signed = wallet_signed(unsigned(other), case.wallet)
    refused = signed_refusal(issued, signed, case.user)
    assert (refused.message, refused.reason) == (CHANGED, "signed message differs from the issued one")


@pytest.mark.parametrize("slot", [1, 2])
def test_a_filled_vault_or_co_signer_slot_is_refused(slot):
    case = new_case()
    raw, issued = issue(case)
    signed = wallet_signed(wallet_signed(raw, case.wallet), (case.wallet, case.vault, case.cosigner)[slot], slot)
    refused = signed_refusal(issued, signed, case.user)
    assert (refused.message, refused.reason) == (OTHER_SIGNATURES, "a slot other than the wallet's is filled")
    # Junk in the slot is no better than a real signature.
    tx = VersionedTransaction.from_bytes(wallet_signed(raw, case.wallet))
    signatures = list(tx.signatures)
    signatures[slot] = Signature(bytes([7]) * 64)
    junk = bytes(VersionedTransaction.populate(tx.message, signatures))
    assert signed_refusal(issued, junk, case.user).message == OTHER_SIGNATURES


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x01", b"garbage" * 10, bytes(1233)],
    ids=["empty", "one byte", "text", "oversize"],
)
def test_garbage_instead_of_a_signed_transaction_is_refused(raw):
    case = new_case()
    _raw, issued = issue(case)
    assert signed_refusal(issued, raw, case.user).message == NOT_SIGNED


def test_trailing_bytes_after_the_signed_transaction_are_refused():
    case = new_case()
    raw, issued = issue(case)
    signed = wallet_signed(raw, case.wallet)
    refused = signed_refusal(issued, signed + b"\x00", case.user)
    assert refused.message == NOT_SIGNED
    assert refused.reason.startswith("not exactly one transaction")


def test_the_fee_ceiling_is_checked_again_when_signed():
    # The ceiling may have been lowered between issuing and signing (a restart with a new setting).
    case = new_case()
    instructions = refund_instructions(case, units=100_000, price=1_500_000)  # 150,000 lamports
    raw, issued = issue(case, instructions)
    signed = wallet_signed(raw, case.wallet)
    check_signed_withdrawal(issued, signed, str(case.user), max_priority_fee_lamports=150_000)
    refused = signed_refusal(issued, signed, case.user, ceiling=149_999)
    assert (refused.message, refused.reason) == (FEE_TOO_HIGH, "priority fee 150000 lamports over ceiling 149999")


SIGNING_CASE = new_case()
SIGNING_RAW, SIGNING_ISSUED = issue(SIGNING_CASE)
SIGNING_SIGNATURE = SIGNING_CASE.wallet.sign_message(SIGNING_ISSUED)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_no_single_byte_change_of_the_message_passes_with_the_original_signature(data):
    position = data.draw(st.integers(0, len(SIGNING_ISSUED) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != SIGNING_ISSUED[position]), label="value")
    mutated = bytearray(SIGNING_ISSUED)
    mutated[position] = value
    wire = bytes([3]) + bytes(SIGNING_SIGNATURE) + bytes(128) + bytes(mutated)
    with pytest.raises(WithdrawalRefused):
        check_signed_withdrawal(SIGNING_ISSUED, wire, str(SIGNING_CASE.user), max_priority_fee_lamports=CEILING)


def test_the_unmutated_wire_of_the_property_passes():
    # The property above builds its wire by hand: the same construction, unmutated, must pass.
    wire = bytes([3]) + bytes(SIGNING_SIGNATURE) + bytes(128) + SIGNING_ISSUED
    assert (
        check_signed_withdrawal(SIGNING_ISSUED, wire, str(SIGNING_CASE.user), max_priority_fee_lamports=CEILING) == wire
    )
