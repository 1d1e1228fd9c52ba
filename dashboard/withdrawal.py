"""The refund (withdrawal) transaction of a cancelled Jupiter DCA order (Trigger API v2), checked.

Jupiter's `POST /orders/dca/cancel/{id}` answers with an unsigned transaction that the wallet,
the order's vault and a Jupiter co-signer sign. Before the wallet ever sees it, `check_withdrawal`
proves it does nothing but give the unspent deposit back to the wallet:

- one wire transaction, legacy or v0 without address-table lookups (a lookup hides accounts);
- the wallet pays the fee; the signers are the wallet, the vault and at most one read-only
  co-signer; every signature slot is still empty;
- only the ComputeBudget program (a unit limit and a unit price, the priority fee under the
  ceiling) and one token program (SPL Token, or Token-2022 where the mint is one);
- exactly one `Transfer`/`TransferChecked` of exactly the refund from a vault token account to
  the wallet's associated token account for the input mint, with the vault as authority, and
  exactly one `CloseAccount` of that same vault token account, rent to the wallet, owner the vault;
- the wallet is the authority, owner or source of nothing (it only pays the fee and receives the
  closed account's rent), and its token account is only the transfer's destination.

Anything else is refused with one plain message for the trader and a short reason for the log.
`check_signed_withdrawal` then accepts only the wallet's own signature over exactly that message.
Pure: solders only — no database, no network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from solders.message import MessageHeader, MessageV0, VersionedMessage, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard.transactions import (
    COMPUTE_BUDGET,
    MAX_TX_BYTES,
    SET_COMPUTE_UNIT_LIMIT,
    SET_COMPUTE_UNIT_PRICE,
    Instruction,
    InvalidTransaction,
    Reading,
    parse_transaction,
    priority_fee_lamports,
    read_message,
)

TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
TOKEN_PROGRAMS = (TOKEN_PROGRAM, TOKEN_2022_PROGRAM)
ASSOCIATED_TOKEN_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
# Named in the log only: an "Earn While You Wait" withdrawal would call these, and we cannot verify it.
JUPITER_LEND_PROGRAMS = {
    Pubkey.from_string("jup3YeL8QhtSx1e253b2FDvsMNC87fDrgQZivbrndc9"): "Jupiter Lend lending",
    Pubkey.from_string("jupeiUmn818Jg1ekPURTpr4mFo29p46vygyykFJ3wZC"): "Jupiter Lend liquidity",
}

# Token instruction tags (the first data byte): + u64 amount; nothing; + u64 amount + u8 decimals.
TRANSFER, CLOSE_ACCOUNT, TRANSFER_CHECKED = 3, 9, 12
# The accounts each token instruction names, in order; any further ones are multisig signers.
ROLES = {
    TRANSFER: ("source", "destination", "authority"),
    TRANSFER_CHECKED: ("source", "mint", "destination", "authority"),
    CLOSE_ACCOUNT: ("account", "destination", "owner"),
}
NAMES = {TRANSFER: "Transfer", TRANSFER_CHECKED: "TransferChecked", CLOSE_ACCOUNT: "CloseAccount"}
DATA_LENGTHS = {TRANSFER: 9, TRANSFER_CHECKED: 10, CLOSE_ACCOUNT: 1}

UNVERIFIED = (
    "We could not verify this refund transaction, so we did not ask your wallet to sign it. "
    "Nothing was sent; you can finish the cancel on jup.ag."
)
NOT_SIGNED = "This is not a signed refund transaction. Nothing was sent."
WRONG_SIGNATURE = (
    "Your wallet's signature does not match this refund transaction (was another account selected?). Nothing was sent."
)
CHANGED = (
    "The transaction your wallet signed is not the refund we checked (the wallet changed it), "
    "so we did not send it. Nothing was sent."
)
OTHER_SIGNATURES = "This refund transaction carries signatures that are not your wallet's. Nothing was sent."
FEE_TOO_HIGH = "This refund transaction's network fee is higher than we allow. Nothing was sent."


class WithdrawalRefused(Exception):
    """A refund transaction we will not pass on: `message` for the trader, `reason` for the log."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class RefundOrder:
    """What we know about the order from Jupiter's listing and the cancel answer."""

    wallet: str  # userPubkey (must be the session's wallet)
    vault: str  # vaultPubkey
    input_mint: str
    refund_amount: int  # base units, from the cancel answer (refundAmount)
    input_token_program: str | None = None  # Token or Token-2022 program id if known, else infer from the tx


Refuse = Callable[[str], WithdrawalRefused]  # builds the refusal to raise, from a reason for the log


@dataclass(frozen=True)
class TokenStep:
    """One token instruction with its accounts named by role."""

    kind: int
    accounts: dict[str, Pubkey]
    data: bytes


def associated_token_address(wallet: Pubkey, mint: Pubkey, token_program: Pubkey) -> Pubkey:
    address, _bump = Pubkey.find_program_address(
        [bytes(wallet), bytes(token_program), bytes(mint)], ASSOCIATED_TOKEN_PROGRAM
    )
    return address


def check_withdrawal(raw: bytes, order: RefundOrder, *, max_priority_fee_lamports: int) -> bytes:
    """Return the message bytes the wallet will sign, or raise WithdrawalRefused(UNVERIFIED, reason=…)."""

    def refuse(reason: str) -> WithdrawalRefused:
        return WithdrawalRefused(UNVERIFIED, reason=reason)

    if order.refund_amount <= 0:
        raise refuse("nothing to refund")
    try:
        wallet, vault, mint = (Pubkey.from_string(key) for key in (order.wallet, order.vault, order.input_mint))
        known_program = Pubkey.from_string(order.input_token_program) if order.input_token_program else None
    except ValueError:
        raise refuse("order names an invalid address") from None
    if vault == wallet:
        raise refuse("order's vault is the wallet")
    if known_program is not None and known_program not in TOKEN_PROGRAMS:
        raise refuse(f"order's token program {known_program} is not a token program")

    tx = _parse(raw, refuse)
    message = tx.message
    if isinstance(message, MessageV0) and message.address_table_lookups:
        raise refuse("address table lookups")
    if any(signature != Signature.default() for signature in tx.signatures):
        raise refuse("signature slots not empty")
    keys = list(message.account_keys)
    if len(set(keys)) != len(keys):
        raise refuse("an account is listed twice")
    reading = _read(message, refuse)

    # Who signs: the wallet (paying the fee), the vault, at most one read-only co-signer.
    if reading.fee_payer != wallet:
        raise refuse("wallet is not the fee payer")
    signers = set(reading.signers)
    if vault not in signers:
        raise refuse("vault is not a signer")
    others = signers - {wallet, vault}
    if len(others) > 1:
        raise refuse(f"{len(signers)} signers, expected the wallet, the vault and at most one co-signer")
    cosigner = next(iter(others), None)
    if cosigner is not None and _writable(message.header, keys.index(cosigner), len(keys)):
        raise refuse("co-signer is writable")

    # Which programs: ComputeBudget and exactly one token program.
    programs = {ix.program for ix in reading.instructions}
    unknown = sorted(programs - {COMPUTE_BUDGET, *TOKEN_PROGRAMS}, key=str)
    if unknown:
        lend = JUPITER_LEND_PROGRAMS.get(unknown[0])
        named = f" ({lend}: an Earn While You Wait withdrawal)" if lend else ""
        raise refuse(f"unknown program {unknown[0]}{named}")
    used = [program for program in TOKEN_PROGRAMS if program in programs]
    if len(used) != 1:
        raise refuse("no token instruction" if not used else "both token programs")
    token_program = used[0]
    if known_program is not None and token_program != known_program:
        raise refuse(f"token program mismatch: {token_program} for a mint of {known_program}")

    _check_compute_budget(reading, refuse, max_priority_fee_lamports)

    steps = [_token_step(ix, refuse, wallet, cosigner) for ix in reading.instructions if ix.program == token_program]
    transfers = [step for step in steps if step.kind in (TRANSFER, TRANSFER_CHECKED)]
    closes = [step for step in steps if step.kind == CLOSE_ACCOUNT]
    if len(transfers) != 1:
        raise refuse(f"{len(transfers)} token transfers, expected one")
    if len(closes) != 1:
        raise refuse(f"{len(closes)} account closes, expected one")
    (transfer,), (close,) = transfers, closes

    # The wallet only pays the fee and receives the rent; its token account only receives the refund.
    destination = associated_token_address(wallet, mint, token_program)
    for step in steps:
        for role, account in step.accounts.items():
            if account == wallet and not (step is close and role == "destination"):
                raise refuse(f"wallet as {NAMES[step.kind]} {role}")
            if account == destination and not (step is transfer and role == "destination"):
                raise refuse(f"wallet's token account as {NAMES[step.kind]} {role}")

    source = transfer.accounts["source"]
    amount = int.from_bytes(transfer.data[1:9], "little")
    if transfer.kind == TRANSFER_CHECKED and transfer.accounts["mint"] != mint:
        raise refuse(f"TransferChecked of another mint {transfer.accounts['mint']}")
    if amount != order.refund_amount:
        raise refuse(f"refund of {amount} instead of {order.refund_amount}")
    if transfer.accounts["destination"] != destination:
        raise refuse("refund to another account")
    if transfer.accounts["authority"] != vault:
        raise refuse("transfer authority is not the vault")
    if source in (vault, cosigner):
        raise refuse("transfer source is a signer, not a vault token account")

    if close.accounts["account"] != source:
        raise refuse("close of a different account than the refunded one")
    if close.accounts["destination"] != wallet:
        raise refuse("close rent to another account")
    if close.accounts["owner"] != vault:
        raise refuse("close owner is not the vault")
    return to_bytes_versioned(message)


def check_signed_withdrawal(
    issued_message: bytes, raw_signed: bytes, wallet: str, *, max_priority_fee_lamports: int
) -> bytes:
    """Return the signed wire bytes to forward, or raise WithdrawalRefused(plain message, reason=…).

    The message must be byte for byte the one `check_withdrawal` passed. For v1's single-signer
    cancel we accept what wallets legitimately insert (Lighthouse guards, compute-budget tweaks);
    not here. The vault and Jupiter's co-signer sign the message Jupiter built and cached, so a
    message the wallet changed carries a wallet signature over different bytes than theirs: it can
    never land, and Jupiter refuses it anyway ("Invalid withdrawal transaction: Transaction signers
    modified"). Wallets add Lighthouse guards only to single-signer transactions. Accepting a change
    would only forward something unchecked that cannot succeed, so any change is refused here.

    Only the wallet's own slot may hold a signature (a valid ed25519 signature of the wallet over
    exactly that message); every other slot stays as issued, i.e. empty — Jupiter adds those.
    """
    try:
        user = Pubkey.from_string(wallet)
    except ValueError:
        raise WithdrawalRefused(NOT_SIGNED, reason="invalid wallet address") from None

    def refuse(reason: str) -> WithdrawalRefused:
        return WithdrawalRefused(NOT_SIGNED, reason=reason)

    tx = _parse(raw_signed, refuse)
    message = to_bytes_versioned(tx.message)
    if message != issued_message:
        raise WithdrawalRefused(CHANGED, reason="signed message differs from the issued one")
    keys = list(tx.message.account_keys)
    if user not in keys[: tx.message.header.num_required_signatures]:
        raise WithdrawalRefused(WRONG_SIGNATURE, reason="wallet is not a signer of the issued message")
    slot = keys.index(user)
    if not tx.signatures[slot].verify(user, message):
        raise WithdrawalRefused(WRONG_SIGNATURE, reason="wallet signature does not verify")
    if any(signature != Signature.default() for i, signature in enumerate(tx.signatures) if i != slot):
        raise WithdrawalRefused(OTHER_SIGNATURES, reason="a slot other than the wallet's is filled")
    fee = _priority_fee(_read(tx.message, refuse), refuse)
    if fee > max_priority_fee_lamports:
        raise WithdrawalRefused(
            FEE_TOO_HIGH, reason=f"priority fee {fee} lamports over ceiling {max_priority_fee_lamports}"
        )
    return bytes(tx)


# --- pieces -------------------------------------------------------------------------------------


def _parse(raw: bytes, refuse: Refuse) -> VersionedTransaction:
    """One sane wire transaction: within the size limit, no trailing bytes, passing solders' sanitize."""
    if len(raw) > MAX_TX_BYTES:
        raise refuse(f"{len(raw)} bytes, over the {MAX_TX_BYTES}-byte limit")
    try:
        tx = parse_transaction(raw)
    except InvalidTransaction as exc:
        raise refuse(f"not exactly one transaction: {exc}") from None
    try:
        tx.sanitize()  # header, signature count and every index consistent
    except Exception as exc:  # solders.SanitizeError
        raise refuse(f"malformed transaction: {exc}") from None
    return tx


def _read(message: VersionedMessage, refuse: Refuse) -> Reading:
    try:
        return read_message(message)
    except ValueError as exc:
        raise refuse(f"malformed transaction: {exc}") from None


def _writable(header: MessageHeader, index: int, count: int) -> bool:
    signed = header.num_required_signatures
    if index < signed:
        return index < signed - header.num_readonly_signed_accounts
    return index < count - header.num_readonly_unsigned_accounts


def _priority_fee(reading: Reading, refuse: Refuse) -> int:
    try:
        return priority_fee_lamports(reading)
    except ValueError as exc:
        raise refuse(f"unreadable compute budget: {exc}") from None


def _check_compute_budget(reading: Reading, refuse: Refuse, ceiling: int) -> None:
    seen: set[int] = set()
    for ix in reading.instructions:
        if ix.program != COMPUTE_BUDGET:
            continue
        tag = ix.data[0] if ix.data else None
        expected = {SET_COMPUTE_UNIT_LIMIT: 5, SET_COMPUTE_UNIT_PRICE: 9}.get(tag)
        if expected is None:
            raise refuse(f"compute-budget instruction {ix.data[:1].hex() or 'empty'} not allowed")
        if len(ix.data) != expected or ix.accounts:
            raise refuse("malformed compute-budget instruction")
        if tag in seen:
            raise refuse(f"two compute-unit {'limit' if tag == SET_COMPUTE_UNIT_LIMIT else 'price'} instructions")
        seen.add(tag)
    fee = _priority_fee(reading, refuse)
    if fee > ceiling:
        raise refuse(f"priority fee {fee} lamports over ceiling {ceiling}")


def _token_step(ix: Instruction, refuse: Refuse, wallet: Pubkey, cosigner: Pubkey | None) -> TokenStep:
    kind = ix.data[0] if ix.data else None
    if kind not in ROLES:
        raise refuse(f"token instruction {ix.data[:1].hex() or 'empty'} not allowed")
    if len(ix.data) != DATA_LENGTHS[kind]:
        raise refuse(f"malformed {NAMES[kind]}")
    roles = ROLES[kind]
    if len(ix.accounts) < len(roles):
        raise refuse(f"{NAMES[kind]} with too few accounts")
    addresses = [Pubkey.from_string(address) for address, _signer, _writable in ix.accounts]
    extra = tuple(addresses[len(roles) :])
    # Further accounts are multisig signers: only Jupiter's co-signer may be there, once.
    if wallet in extra:
        raise refuse(f"wallet as {NAMES[kind]} extra signer")
    if len(extra) > 1 or any(account != cosigner for account in extra):
        raise refuse(f"{NAMES[kind]} names an extra account other than the co-signer")
    return TokenStep(kind=kind, accounts=dict(zip(roles, addresses[: len(roles)], strict=True)), data=ix.data)
