"""Refund (withdrawal) transactions of Jupiter's DCA (Trigger API v2), built with solders from the
layout of Jupiter's published example (tests/fixtures/jupiter-dca-v2-cancel-transaction.json):
three signers — the wallet (fee payer), the order's vault, a read-only co-signer — then
SetComputeUnitLimit 592, SetComputeUnitPrice 250,000 and the token instructions of each shape.

Independent of the sandbox's own builder (dashboard/sandbox/trigger_transactions.py), so the
checks are held to transactions written from the documentation, not from the code they check.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard.token_instructions import (
    ASSOCIATED_TOKEN_PROGRAM,
    SYSTEM_PROGRAM,
    TOKEN_PROGRAM,
    associated_token_address,
)
from dashboard.withdrawal import RefundOrder

AMOUNT = 20_000_000  # the remaining deposit of every built order, as in Jupiter's example
DECIMALS = 6


@dataclass(frozen=True)
class Case:
    """One order's refund: who signs, which mint, and the vault's per-order token account."""

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
        """The wallet's associated token account for the input mint."""
        return associated_token_address(self.user, self.mint, self.token_program)

    def order(self, **changes) -> RefundOrder:
        order = RefundOrder(
            wallet=str(self.user),
            vault=str(self.vault.pubkey()),
            input_mint=str(self.mint),
            remaining=AMOUNT,
            initial=AMOUNT * 4,
            used=AMOUNT * 3,
            refund_amount=AMOUNT,
            input_token_program=str(self.token_program),
        )
        return replace(order, **changes)


def new_case(token_program: Pubkey = TOKEN_PROGRAM, mint: Pubkey | None = None) -> Case:
    return Case(Keypair(), Keypair(), Keypair(), mint or Keypair().pubkey(), Keypair().pubkey(), token_program)


def writable(key: Pubkey) -> AccountMeta:
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
    fee: int | None = None,
    mint: Pubkey | None = None,
    extra: list[AccountMeta] | None = None,
    program: Pubkey | None = None,
) -> Instruction:
    """Transfer, TransferChecked, or (with `fee`) Token-2022's TransferCheckedWithFee; the vault
    as authority and the co-signer as an extra signer unless told otherwise."""
    source, destination = source or case.vault_account, destination or case.ata
    authority_meta = signer(authority or case.vault.pubkey(), writable=authority is None)
    extra = [signer(case.cosigner.pubkey())] if extra is None else extra
    if fee is not None:
        data = bytes([26, 1]) + amount.to_bytes(8, "little") + bytes([DECIMALS]) + fee.to_bytes(8, "little")
    elif checked:
        data = bytes([12]) + amount.to_bytes(8, "little") + bytes([DECIMALS])
    else:
        data = bytes([3]) + amount.to_bytes(8, "little")
    if fee is not None or checked:
        accounts = [writable(source), AccountMeta(mint or case.mint, False, False), writable(destination)]
    else:
        accounts = [writable(source), writable(destination)]
    return Instruction(program or case.token_program, data, [*accounts, authority_meta, *extra])


def token_close(
    case: Case,
    *,
    account: Pubkey | None = None,
    destination: Pubkey | None = None,
    owner: Pubkey | None = None,
    program: Pubkey | None = None,
    extra: list[AccountMeta] | None = None,
) -> Instruction:
    """CloseAccount of the vault's account to the wallet, the vault as owner, unless told otherwise."""
    accounts = [writable(account or case.vault_account), writable(destination or case.user)]
    accounts.append(signer(owner or case.vault.pubkey(), writable=owner is None))
    return Instruction(program or case.token_program, bytes([9]), [*accounts, *(extra or [])])


def create_idempotent(
    case: Case,
    *,
    funder: Pubkey | None = None,
    owner: Pubkey | None = None,
    mint: Pubkey | None = None,
    token_program: Pubkey | None = None,
    account: Pubkey | None = None,
) -> Instruction:
    """Associated Token program CreateIdempotent of `owner`'s (default: the wallet's) account."""
    owner, mint = owner or case.user, mint or case.mint
    account = account or associated_token_address(owner, mint, case.token_program)
    return Instruction(
        ASSOCIATED_TOKEN_PROGRAM,
        bytes([1]),
        [
            signer(funder or case.user, writable=True),
            writable(account),
            AccountMeta(owner, False, False),
            AccountMeta(mint, False, False),
            AccountMeta(SYSTEM_PROGRAM, False, False),
            AccountMeta(token_program or case.token_program, False, False),
        ],
    )


def budget(units: int = 592, price: int = 250_000) -> list[Instruction]:
    return [set_compute_unit_limit(units), set_compute_unit_price(price)]


def refund_instructions(
    case: Case,
    *,
    checked: bool = False,
    fee: int | None = None,
    amount: int = AMOUNT,
    units: int = 592,
    price: int = 250_000,
) -> list[Instruction]:
    """The published example's shape: budget, the transfer to the wallet's account, the close."""
    return [
        *budget(units, price),
        token_transfer(case, checked=checked, fee=fee, amount=amount),
        token_close(case),
    ]


def sol_close_instructions(case: Case) -> list[Instruction]:
    """A SOL order's refund: the vault's wrapped-SOL account closed straight to the wallet."""
    return [*budget(), token_close(case, extra=[signer(case.cosigner.pubkey())])]


def sol_unwrap_instructions(case: Case, *, create: bool, close_source: bool) -> list[Instruction]:
    """A SOL order's refund unwrapped: (create the wallet's wrapped-SOL account,) transfer into it,
    close it by the wallet to itself (, close the vault's account to the wallet)."""
    instructions = budget()
    if create:
        instructions.append(create_idempotent(case))
    instructions.append(token_transfer(case))
    instructions.append(token_close(case, account=case.ata, owner=case.user))
    if close_source:
        instructions.append(token_close(case))
    return instructions


def compile_message(case: Case, instructions, *, payer: Pubkey | None = None, v0: bool = False, tables=()):
    blockhash = Hash.new_unique()
    if v0:
        return MessageV0.try_compile(payer or case.user, instructions, list(tables), blockhash)
    return Message.new_with_blockhash(instructions, payer or case.user, blockhash)


def unsigned(message) -> bytes:
    slots = message.header.num_required_signatures
    return bytes(VersionedTransaction.populate(message, [Signature.default()] * slots))


def build(case: Case, instructions=None, **kwargs) -> bytes:
    """The unsigned wire transaction of `instructions` (default: the published example's shape)."""
    return unsigned(
        compile_message(case, refund_instructions(case) if instructions is None else instructions, **kwargs)
    )
