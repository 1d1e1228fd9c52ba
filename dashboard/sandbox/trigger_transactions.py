"""Trigger API v2 transactions: the memo challenge (a compute-unit price beside it), the DCA
withdrawal (refund) with its harmful variants, and the signatures the sandbox adds at confirm-cancel.

The normal withdrawal has the layout of Jupiter's published example
(`jupiter-dca-v2-cancel-transaction.json`, rebuilt byte for byte by the tests): a legacy message
with three required signers — the wallet (fee payer, index 0), the wallet's vault and Jupiter's
co-signer (read-only) — then SetComputeUnitLimit, SetComputeUnitPrice, an SPL Token `Transfer` of
exactly the refund from the order's token account to the wallet's associated token account for the
input mint (authority: the vault, the co-signer as an extra signer), and a `CloseAccount` of the
order's token account with its rent going to the wallet. A Token-2022 input (PYUSD) uses
`TransferChecked`. A SOL input gives native SOL back, as Jupiter's notes say: its wrapped-SOL
deposit account is closed straight to the wallet (no transfer; the close pays out the whole
balance) — or, in the `sol_unwrap` mode, transferred into the wallet's wrapped-SOL account
(created idempotently), which the wallet then closes to itself. The `transfer_fee` mode names a
0.3 % transfer fee in Token-2022 refunds (`TransferCheckedWithFee`), as a fee-bearing mint would.

The harmful variants exist so that the dashboard's checks can be seen refusing them; each is what
its name says and nothing more. `short_refund` is short but self-consistent: the cancel answer's
`refundAmount` names the 1 base unit the transaction moves (for SOL, the closed account is a
second, nearly empty one of the vault).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, to_bytes_versioned
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard.sandbox import keys

COMPUTE_UNIT_LIMIT = 592  # as in Jupiter's example
COMPUTE_UNIT_PRICE = 250_000  # micro-lamports per unit: 148 lamports of priority fee
HUGE_UNIT_LIMIT = 1_400_000
HUGE_UNIT_PRICE = 50_000_000  # 70,000,000 lamports = 0.07 SOL of priority fee
# Jupiter Lend's Earn program: "Earn While You Wait" deposits sit there between rounds.
LEND_PROGRAM = Pubkey.from_string("jup3YeL8QhtSx1e253b2FDvsMNC87fDrgQZivbrndc9")
UNKNOWN_PROGRAM = Pubkey(keys.digest("sandbox-trigger-unknown-program"))
LEND_WITHDRAW = hashlib.sha256(b"global:withdraw").digest()[:8]  # an Anchor instruction discriminator
U64_MAX = 2**64 - 1

UNWRAP_UNIT_LIMIT = 60_000  # room for the idempotent creation of the wallet's wrapped-SOL account
TRANSFER_FEE_BPS = 30  # the fee the `transfer_fee` mode names: 0.3 %

# SPL Token instruction tags (the same in Token-2022); Token-2022's TransferCheckedWithFee.
TRANSFER, APPROVE, CLOSE_ACCOUNT, TRANSFER_CHECKED = 3, 4, 9, 12
TRANSFER_CHECKED_WITH_FEE = bytes([26, 1])
CREATE_IDEMPOTENT = bytes([1])  # Associated Token program

NORMAL = "normal"
TRANSFER_CHECKED_MODE = "transfer_checked"
SOL_UNWRAP = "sol_unwrap"
TRANSFER_FEE = "transfer_fee"
SHORT_REFUND = "short_refund"
# Correct withdrawals (the dashboard must accept them).
GOOD_MODES = (NORMAL, TRANSFER_CHECKED_MODE, SOL_UNWRAP, TRANSFER_FEE)
# Harmful or unverifiable withdrawals (the dashboard must refuse them before the wallet sees them).
HARMFUL_MODES = (
    "refund_elsewhere",  # the refund goes to someone else's token account
    "rent_elsewhere",  # CloseAccount sends the rent to someone else
    "wrong_amount",  # the transfer moves less than refundAmount
    "extra_transfer",  # a second Transfer takes tokens FROM the wallet (authority: the wallet)
    "unknown_program",  # an extra instruction of a program that has no business here
    "huge_fee",  # compute-unit price x limit = 0.07 SOL of priority fee
    "wallet_authority",  # an Approve that makes a stranger delegate of the wallet's token account
    "writable_cosigner",  # the co-signer is a writable signer
    "extra_signer",  # a fourth required signer (a stranger, writable)
    "lend",  # an "Earn While You Wait" withdrawal: a Jupiter Lend instruction first
    SHORT_REFUND,  # 1 base unit refunded, and refundAmount says 1: consistent, and short
)
MODES = GOOD_MODES + HARMFUL_MODES


@dataclass(frozen=True)
class Refund:
    """What a withdrawal moves: `amount` base units of `mint` from `source` (held by `vault`) to `user`."""

    user: Pubkey
    vault: Pubkey
    cosigner: Pubkey
    mint: Pubkey
    decimals: int
    program: Pubkey  # Token or Token-2022, whichever owns the mint
    source: Pubkey
    amount: int
    jl_enabled: bool = False

    @property
    def user_account(self) -> Pubkey:
        return keys.associated_token_account(self.user, self.mint, self.program)

    @property
    def native(self) -> bool:
        """A SOL order: its deposit is wrapped SOL, given back as SOL."""
        return self.mint == keys.WRAPPED_SOL

    @property
    def dust_account(self) -> Pubkey:
        """A second wrapped-SOL account of the vault for this order, holding 1 lamport of wrapped SOL."""
        return keys.dust_token_account(self.vault, self.source)


def refund_amount(refund: Refund, mode: str) -> int:
    """The `refundAmount` the cancel answer names in this mode."""
    return 1 if mode == SHORT_REFUND else refund.amount


def writable(key: Pubkey, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=True)


def readonly(key: Pubkey, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=False)


def u64(value: int) -> bytes:
    return value.to_bytes(8, "little")


def transfer(
    refund: Refund, destination: Pubkey, amount: int, checked: bool, signers: list[AccountMeta]
) -> Instruction:
    """Transfer (or TransferChecked) from the order's token account, the vault as authority."""
    if checked:
        data = bytes([TRANSFER_CHECKED]) + u64(amount) + bytes([refund.decimals])
        accounts = [writable(refund.source), readonly(refund.mint), writable(destination)]
    else:
        data = bytes([TRANSFER]) + u64(amount)
        accounts = [writable(refund.source), writable(destination)]
    return Instruction(refund.program, data, [*accounts, writable(refund.vault, signer=True), *signers])


def close_account(refund: Refund, rent_to: Pubkey) -> Instruction:
    """CloseAccount of the order's token account, the vault as owner."""
    accounts = [writable(refund.source), writable(rent_to), writable(refund.vault, signer=True)]
    return Instruction(refund.program, bytes([CLOSE_ACCOUNT]), accounts)


def lend_withdraw(refund: Refund) -> Instruction:
    """A Jupiter Lend withdrawal of the idle deposit back into the order's token account (shape only)."""
    position = Pubkey(keys.digest("sandbox-trigger-lend-position", str(refund.vault), str(refund.mint)))
    accounts = [
        writable(refund.vault, signer=True),
        writable(position),
        writable(refund.source),
        readonly(refund.mint),
        readonly(refund.program),
    ]
    return Instruction(LEND_PROGRAM, LEND_WITHDRAW + u64(refund.amount), accounts)


def transfer_with_fee(refund: Refund, destination: Pubkey, signers: list[AccountMeta]) -> Instruction:
    """Token-2022 TransferCheckedWithFee of the refund, naming a TRANSFER_FEE_BPS fee."""
    fee = refund.amount * TRANSFER_FEE_BPS // 10_000
    data = TRANSFER_CHECKED_WITH_FEE + u64(refund.amount) + bytes([refund.decimals]) + u64(fee)
    accounts = [writable(refund.source), readonly(refund.mint), writable(destination)]
    return Instruction(refund.program, data, [*accounts, writable(refund.vault, signer=True), *signers])


def create_user_account(refund: Refund) -> Instruction:
    """The wallet's associated token account for the input mint, created idempotently (the wallet pays)."""
    accounts = [
        writable(refund.user, signer=True),
        writable(refund.user_account),
        readonly(refund.user),
        readonly(refund.mint),
        readonly(keys.SYSTEM_PROGRAM),
        readonly(refund.program),
    ]
    return Instruction(keys.ASSOCIATED_TOKEN_PROGRAM, CREATE_IDEMPOTENT, accounts)


def sol_instructions(refund: Refund, mode: str, cosigner: list[AccountMeta]) -> list[Instruction]:
    """A SOL order's refund as SOL: the deposit account closed straight to the wallet; or (`sol_unwrap`)
    moved into the wallet's wrapped-SOL account, which the wallet closes to itself."""
    if mode == SOL_UNWRAP:
        return [
            set_compute_unit_limit(UNWRAP_UNIT_LIMIT),
            set_compute_unit_price(COMPUTE_UNIT_PRICE),
            create_user_account(refund),
            transfer(refund, refund.user_account, refund.amount, False, cosigner),
            Instruction(
                refund.program,
                bytes([CLOSE_ACCOUNT]),
                [writable(refund.user_account), writable(refund.user), writable(refund.user, signer=True)],
            ),
            close_account(refund, refund.user),
        ]
    closed = refund.dust_account if mode == SHORT_REFUND else refund.source
    accounts = [writable(closed), writable(refund.user), writable(refund.vault, signer=True), *cosigner]
    return [
        set_compute_unit_limit(COMPUTE_UNIT_LIMIT),
        set_compute_unit_price(COMPUTE_UNIT_PRICE),
        Instruction(refund.program, bytes([CLOSE_ACCOUNT]), accounts),
    ]


def withdrawal_instructions(refund: Refund, mode: str = NORMAL) -> list[Instruction]:
    """The instructions of a withdrawal of `refund` in the given mode (see MODES)."""
    if mode not in MODES:
        raise ValueError(f"unknown withdrawal mode {mode!r}; expected one of {', '.join(MODES)}")
    stranger = keys.stranger_keypair().pubkey()
    destination = refund.user_account
    if mode == "refund_elsewhere":
        destination = keys.associated_token_account(stranger, refund.mint, refund.program)
    amount = refund.amount - max(1, refund.amount // 10) if mode == "wrong_amount" else refund_amount(refund, mode)
    signers = [readonly(refund.cosigner, signer=True)]
    if refund.native and not refund.jl_enabled and mode in (NORMAL, SOL_UNWRAP, SHORT_REFUND):
        return sol_instructions(refund, mode, signers)
    if mode == "writable_cosigner":
        signers = [writable(refund.cosigner, signer=True)]
    elif mode == "extra_signer":
        signers.append(writable(stranger, signer=True))
    checked = mode == TRANSFER_CHECKED_MODE or refund.program == keys.TOKEN_2022_PROGRAM

    if mode == "huge_fee":
        budget = [set_compute_unit_limit(HUGE_UNIT_LIMIT), set_compute_unit_price(HUGE_UNIT_PRICE)]
    else:
        budget = [set_compute_unit_limit(COMPUTE_UNIT_LIMIT), set_compute_unit_price(COMPUTE_UNIT_PRICE)]
    body: list[Instruction] = []
    if mode == "lend" or refund.jl_enabled:
        body.append(lend_withdraw(refund))
    if mode == TRANSFER_FEE and refund.program == keys.TOKEN_2022_PROGRAM:
        body.append(transfer_with_fee(refund, destination, signers))
    else:
        body.append(transfer(refund, destination, amount, checked, signers))
    body.append(close_account(refund, stranger if mode == "rent_elsewhere" else refund.user))
    if mode == "extra_transfer":
        # Takes the refund straight back out of the wallet's account, and more: the wallet signs as owner.
        drain = bytes([TRANSFER]) + u64(refund.amount * 2)
        to = keys.associated_token_account(stranger, refund.mint, refund.program)
        body.append(
            Instruction(
                refund.program, drain, [writable(refund.user_account), writable(to), writable(refund.user, True)]
            )
        )
    elif mode == "unknown_program":
        body.append(Instruction(UNKNOWN_PROGRAM, b"\x07" + u64(refund.amount), [writable(refund.user, True)]))
    elif mode == "wallet_authority":
        approve = bytes([APPROVE]) + u64(U64_MAX)
        body.append(
            Instruction(
                refund.program,
                approve,
                [writable(refund.user_account), readonly(stranger), writable(refund.user, True)],
            )
        )
    return budget + body


def build_withdrawal(refund: Refund, mode: str = NORMAL, blockhash: Hash | None = None) -> Message:
    """The legacy withdrawal message, paid by the wallet, with a fresh random blockhash unless given."""
    return Message.new_with_blockhash(
        withdrawal_instructions(refund, mode), refund.user, blockhash or Hash(os.urandom(32))
    )


def unsigned(message: Message) -> str:
    """The wire transaction with every signature slot zero-filled, in base64."""
    signers = [NullSigner(k) for k in message.account_keys[: message.header.num_required_signatures]]
    return base64.b64encode(bytes(VersionedTransaction(message, signers))).decode()


CHALLENGE_UNIT_PRICE = 1_000  # micro-lamports per unit: 200 lamports at the default 200,000 units


def build_challenge(wallet: Pubkey, text: str, nonce: str) -> Message:
    """The challenge transaction (never sent): the wallet pays and is the only signer; a
    SetComputeUnitPrice beside the Memo holding the text, as the live API is reported to send."""
    price = set_compute_unit_price(CHALLENGE_UNIT_PRICE)
    memo = Instruction(keys.MEMO_PROGRAM, text.encode(), [readonly(wallet, signer=True)])
    return Message.new_with_blockhash([price, memo], wallet, Hash(keys.digest("sandbox-trigger-challenge", nonce)))


def sandbox_signers(user: str) -> dict[Pubkey, Keypair]:
    """Every key the sandbox can sign for in a withdrawal of `user`: the vault, the co-signer, the stranger."""
    return {kp.pubkey(): kp for kp in (keys.vault_keypair(user), keys.cosigner_keypair(), keys.stranger_keypair())}


def countersign(message: Message, user: Pubkey, user_signature: Signature, signers: dict[Pubkey, Keypair]) -> bytes:
    """The landed transaction: the wallet's signature in its slot, the sandbox's signatures in the others."""
    message_bytes = to_bytes_versioned(message)
    signatures = []
    for key in message.account_keys[: message.header.num_required_signatures]:
        signatures.append(user_signature if key == user else signers[key].sign_message(message_bytes))
    return bytes(VersionedTransaction.populate(message, signatures))
