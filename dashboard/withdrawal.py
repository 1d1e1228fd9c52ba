"""The refund (withdrawal) transaction of a cancelled Jupiter DCA order (Trigger API v2), checked
from the wallet's side before the wallet ever sees it.

The rule. Signing may cost the wallet only the network fee (its priority part under the site's
ceiling) and, where needed, the rent of its own associated token account, which it gets back.
Everything the transaction moves goes *to* the wallet. The wallet's key appears only in roles that
can neither spend from it nor hand authority over it:

- the fee payer (and so the first signer);
- the destination of a close (it receives the closed account's lamports), and its associated token
  account for the order's input mint as the destination of the refund's transfer;
- the funder and owner of its own associated token account for the input mint, created idempotently;
- the owner of its own wrapped-SOL account closed to itself (a SOL refund unwrapped).

Any other appearance of the wallet or of its token account, any program but ComputeBudget, the input
mint's token program (SPL Token or Token-2022) and the Associated Token program, and any
address-table lookup (a lookup hides accounts): refused.

The refund is the order's. It is exactly the order's remaining deposit as Jupiter listed it
(`inputAmountRemaining`, which must agree with `inputAmountInitial` less `inputAmountUsed`), and
the cancel answer's `refundAmount` must say the same: a short refund is refused even when its
numbers agree with each other. It comes from a token account the order's vault controls — the
vault is the transfer's authority and the close's owner (Jupiter's published example uses a
per-order account, not the vault's associated one, so that is not required) — and the success
sentence is built from the amount checked here (`CheckedRefund`), never from an unverified number.

The shapes that pass (each built with solders in tests/unit/test_withdrawal.py):

- `token`: a `Transfer`, `TransferChecked` or (Token-2022) `TransferCheckedWithFee` of the refund
  from the vault's account to the wallet's associated token account, then a `CloseAccount` of the
  vault's account with its rent to the wallet; optionally first an idempotent creation of the
  wallet's associated token account. Token-2022 extension accounts may follow a transfer's
  authority when they are neither the wallet nor its token account. A transfer fee named in the
  transaction may take at most MAX_TRANSFER_FEE_BPS of the refund; the wallet is told what it
  receives after it. A Token-2022 `TransferChecked` may have a fee withheld that the transaction
  does not name: the words say so.
- `sol_close` (SOL input): a `CloseAccount` of the vault's wrapped-SOL account straight to the
  wallet, which pays out its whole balance as SOL. The amount is not in the transaction: it is
  Jupiter's figure (matching the order's), or read from a Solana RPC (`confirm_balance`).
- `sol_unwrap` (SOL input): a `Transfer` of the refund into the wallet's wrapped-SOL account
  (optionally created idempotently first), then a `CloseAccount` of that account by the wallet to
  itself; optionally the vault's account closed to the wallet too.

Around them: one wire transaction, legacy or v0; the wallet pays the fee; the signers are the
wallet, the vault and at most one read-only co-signer; every signature slot is still empty; only
SetComputeUnitLimit and SetComputeUnitPrice, the priority fee under the ceiling.

A refusal (`WithdrawalRefused`) carries one plain sentence for the trader, a stable `code` (CODES),
a `reason` and the decoded instruction list (program, roles, amounts) for the server log, so an
operator can report a new shape. `check_signed_withdrawal` then accepts only the wallet's own
signature over exactly the checked message. Pure: solders only — no database, no network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from solders.message import MessageV0, VersionedMessage, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard.token_instructions import (
    ASSOCIATED_TOKEN_PROGRAM,
    CLOSE_ACCOUNT,
    CREATE_IDEMPOTENT,
    JUPITER_LEND_PROGRAMS,
    SYSTEM_PROGRAM,
    TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
    TOKEN_PROGRAMS,
    TRANSFER_CHECKED,
    TRANSFER_CHECKED_WITH_FEE_KIND,
    TRANSFERS,
    WRAPPED_SOL,
    Step,
    UnreadableInstruction,
    associated_token_address,
    describe_instruction,
    read_step,
)
from dashboard.transactions import (
    COMPUTE_BUDGET,
    Reading,
    compute_budget_problem,
    parse_sane_transaction,
    priority_fee_lamports,
    read_message,
    writable_signer,
)

# The most a token's own transfer fee may take of the refund, in basis points (5 %).
MAX_TRANSFER_FEE_BPS = 500

# The shapes that pass, and where the refunded amount was read.
TOKEN, SOL_CLOSE, SOL_UNWRAP = "token", "sol_close", "sol_unwrap"
FROM_TRANSACTION, FROM_JUPITER, FROM_SOLANA_RPC = "transaction", "jupiter", "solana_rpc"

# Refusal codes: behaviour and tests key on these; `reason` adds the detail for the log.
MALFORMED = "malformed"  # not one sane wire transaction
LOOKUP_TABLE = "address_table_lookup"
ALREADY_SIGNED = "already_signed"  # a signature slot is not empty
ORDER = "order"  # the order's own data is unusable (addresses, amounts, vault = wallet)
FEE_PAYER = "fee_payer"  # the wallet does not pay the fee
SIGNERS = "signers"  # the vault does not sign, another signer, a writable co-signer
UNKNOWN_PROGRAM = "unknown_program"
PROGRAM_MISMATCH = "token_program"  # not the input mint's token program, or both
COMPUTE_BUDGET_CODE = "compute_budget"  # a compute-budget instruction we do not allow
PRIORITY_FEE = "priority_fee"  # over the ceiling
FORBIDDEN_INSTRUCTION = "token_instruction"  # Approve, SetAuthority, Burn…, or a malformed one
ACCOUNT_CREATION = "account_creation"  # an associated-token instruction other than the wallet's own
WALLET_ROLE = "wallet_role"  # the wallet (or its token account) in a role that could spend or hand over
EXTRA_ACCOUNT = "extra_account"  # an account after a token instruction's authority we cannot place
REFUND_DESTINATION = "refund_destination"  # the transfer goes elsewhere
REFUND_SOURCE = "refund_source"  # the source is not controlled by the order's vault
REFUND_MINT = "refund_mint"  # another mint, or other decimals
REFUND_AMOUNT = "refund_amount"  # not the order's remaining deposit (short, or more)
TRANSFER_FEE = "transfer_fee"  # the token's own fee takes more than MAX_TRANSFER_FEE_BPS
CLOSE = "close"  # a close of another account, its rent elsewhere, or owned by someone else
SHAPE = "shape"  # none of the shapes above (no refund, two transfers, out of order…)
BALANCE = "balance"  # the Solana RPC reads another balance, mint or owner than the refund's
CODES = (
    MALFORMED,
    LOOKUP_TABLE,
    ALREADY_SIGNED,
    ORDER,
    FEE_PAYER,
    SIGNERS,
    UNKNOWN_PROGRAM,
    PROGRAM_MISMATCH,
    COMPUTE_BUDGET_CODE,
    PRIORITY_FEE,
    FORBIDDEN_INSTRUCTION,
    ACCOUNT_CREATION,
    WALLET_ROLE,
    EXTRA_ACCOUNT,
    REFUND_DESTINATION,
    REFUND_SOURCE,
    REFUND_MINT,
    REFUND_AMOUNT,
    TRANSFER_FEE,
    CLOSE,
    SHAPE,
    BALANCE,
)
# Codes of what the wallet signed (check_signed_withdrawal).
NOT_SIGNED_CODE, CHANGED_CODE, WRONG_SIGNATURE_CODE, OTHER_SIGNATURES_CODE = (
    "not_signed",
    "changed",
    "wrong_signature",
    "other_signatures",
)

UNVERIFIED = "We could not verify the refund transaction Jupiter offered, so we did not ask your wallet to sign it."
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
    """A refund transaction we will not pass on: `message` for the trader; `code` (CODES), `reason`
    and `instructions` (decoded: program, roles, amounts) for the log."""

    def __init__(self, message: str, *, code: str, reason: str, instructions: tuple[dict[str, Any], ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.instructions = instructions


@dataclass(frozen=True, kw_only=True)
class RefundOrder:
    """What we know about the order, as Jupiter listed it, and what its cancel answer said."""

    wallet: str  # the session's wallet (the order's userPubkey must be it)
    vault: str  # vaultPubkey
    input_mint: str
    remaining: int | None  # inputAmountRemaining, base units
    initial: int | None = None  # inputAmountInitial
    used: int | None = None  # inputAmountUsed
    refund_amount: int | None = None  # refundAmount of the cancel answer
    input_token_program: str | None = None  # the mint's token program if known, else read from the transaction
    input_decimals: int | None = None  # the mint's decimals if known (TransferChecked must match)


@dataclass(frozen=True)
class CheckedRefund:
    """A refund that passed: the message the wallet signs and what it does, as checked."""

    message: bytes
    shape: str  # TOKEN, SOL_CLOSE or SOL_UNWRAP
    mint: str  # the input mint (wrapped SOL for the SOL shapes)
    source: str  # the vault-controlled account the refund comes from
    amount: int  # base units leaving the order: its remaining deposit
    received: int  # base units the wallet receives (after a transfer fee named in the transaction)
    transfer_fee: int | None  # withheld by the token itself; None: one may be, unnamed (Token-2022)
    amount_from: str  # FROM_TRANSACTION, FROM_JUPITER (not readable: Jupiter's figure) or FROM_SOLANA_RPC
    creates_account: bool  # the wallet's associated token account is created (its rent stays the wallet's)
    instructions: tuple[dict[str, Any], ...]  # decoded, for the log

    @property
    def native_sol(self) -> bool:
        """The refund arrives as SOL (unwrapped), not as a token."""
        return self.shape in (SOL_CLOSE, SOL_UNWRAP)


Refuse = Callable[..., WithdrawalRefused]  # refuse(code, reason) builds the refusal to raise


# --- the check -----------------------------------------------------------------------------------


def check_withdrawal(raw: bytes, order: RefundOrder, *, max_priority_fee_lamports: int) -> CheckedRefund:
    """The refund as checked, or WithdrawalRefused(UNVERIFIED, code=…, reason=…, instructions=…)."""
    decoded: tuple[dict[str, Any], ...] = ()

    def refuse(code: str, reason: str) -> WithdrawalRefused:
        return WithdrawalRefused(UNVERIFIED, code=code, reason=reason, instructions=decoded)

    wallet, vault, mint, known_program = _order_keys(order, refuse)
    expected = expected_refund(order, refuse)

    tx = _parse(raw, refuse)
    message = tx.message
    keys = list(message.account_keys)
    reading = _read(message, refuse)
    cosigner = next((k for k in reading.signers if k not in (wallet, vault)), None)
    labels = {wallet: "wallet", vault: "vault"}
    if cosigner is not None:
        labels[cosigner] = "co-signer"
    for program in TOKEN_PROGRAMS:
        labels.setdefault(associated_token_address(wallet, mint, program), "wallet's token account")
    decoded = tuple(describe_instruction(ix, labels) for ix in reading.instructions)

    if isinstance(message, MessageV0) and message.address_table_lookups:
        raise refuse(LOOKUP_TABLE, "address table lookups")
    if any(signature != Signature.default() for signature in tx.signatures):
        raise refuse(ALREADY_SIGNED, "signature slots not empty")
    if len(set(keys)) != len(keys):
        raise refuse(MALFORMED, "an account is listed twice")

    # Who signs: the wallet (paying the fee), the vault, at most one read-only co-signer.
    if reading.fee_payer != wallet:
        raise refuse(FEE_PAYER, "wallet is not the fee payer")
    signers = set(reading.signers)
    if vault not in signers:
        raise refuse(SIGNERS, "vault is not a signer")
    if len(signers - {wallet, vault}) > 1:
        raise refuse(SIGNERS, f"{len(signers)} signers, expected the wallet, the vault and at most one co-signer")
    if cosigner is not None and writable_signer(message.header, keys.index(cosigner)):
        raise refuse(SIGNERS, "co-signer is writable")

    # Which programs: ComputeBudget, one token program, the Associated Token program.
    programs = {ix.program for ix in reading.instructions}
    unknown = sorted(programs - {COMPUTE_BUDGET, ASSOCIATED_TOKEN_PROGRAM, *TOKEN_PROGRAMS}, key=str)
    if unknown:
        lend = JUPITER_LEND_PROGRAMS.get(unknown[0])
        named = f" ({lend}: an Earn While You Wait withdrawal)" if lend else ""
        raise refuse(UNKNOWN_PROGRAM, f"unknown program {unknown[0]}{named}")
    used = [program for program in TOKEN_PROGRAMS if program in programs]
    if len(used) != 1:
        raise refuse(PROGRAM_MISMATCH if used else SHAPE, "both token programs" if used else "no token instruction")
    token_program = used[0]
    if known_program is not None and token_program != known_program:
        raise refuse(PROGRAM_MISMATCH, f"token program mismatch: {token_program} for a mint of {known_program}")
    if mint == WRAPPED_SOL and token_program != TOKEN_PROGRAM:
        raise refuse(PROGRAM_MISMATCH, f"token program mismatch: {token_program} for wrapped SOL")

    _check_compute_budget(reading, refuse, max_priority_fee_lamports)

    try:
        steps = [
            read_step(index, ix)
            for index, ix in enumerate(reading.instructions)
            if ix.program in (token_program, ASSOCIATED_TOKEN_PROGRAM)
        ]
    except UnreadableInstruction as exc:
        raise refuse(ACCOUNT_CREATION if exc.associated else FORBIDDEN_INSTRUCTION, exc.reason) from None
    wallet_account = associated_token_address(wallet, mint, token_program)
    _check_roles(steps, refuse, wallet=wallet, wallet_account=wallet_account, mint=mint)
    _check_extras(steps, refuse, token_program=token_program, cosigner=cosigner, labels=labels)

    transfers = [step for step in steps if step.kind in TRANSFERS and step.program == token_program]
    closes = [step for step in steps if step.kind == CLOSE_ACCOUNT and step.program == token_program]
    creates = [step for step in steps if step.program == ASSOCIATED_TOKEN_PROGRAM]
    if len(transfers) > 1:
        raise refuse(SHAPE, f"{len(transfers)} token transfers, expected one")
    if len(creates) > 1:
        raise refuse(ACCOUNT_CREATION, f"{len(creates)} account creations, expected at most one")
    create = creates[0] if creates else None
    if create is not None:
        _check_creation(
            create, refuse, wallet=wallet, vault=vault, account=wallet_account, mint=mint, program=token_program
        )

    if not transfers:
        return _sol_close(message, order, closes, create, refuse, decoded, expected, wallet, vault, cosigner, mint)

    transfer = transfers[0]
    source = transfer.accounts["source"]
    if transfer.accounts["destination"] != wallet_account:
        raise refuse(REFUND_DESTINATION, "refund to another account")
    if transfer.accounts["authority"] != vault:
        raise refuse(REFUND_SOURCE, "transfer authority is not the vault")
    if source in (vault, cosigner, wallet) or source in labels:
        raise refuse(REFUND_SOURCE, "transfer source is a signer or the wallet's, not a vault token account")
    if "mint" in transfer.accounts and transfer.accounts["mint"] != mint:
        raise refuse(REFUND_MINT, f"{transfer.name} of another mint {transfer.accounts['mint']}")
    if transfer.decimals is not None and order.input_decimals is not None and transfer.decimals != order.input_decimals:
        raise refuse(
            REFUND_MINT, f"{transfer.name} with {transfer.decimals} decimals for a mint of {order.input_decimals}"
        )
    if create is not None and create.index > transfer.index:
        raise refuse(SHAPE, "the wallet's account is created after the transfer into it")

    own_closes = [step for step in closes if step.accounts["account"] == wallet_account]
    vault_closes = [step for step in closes if step.accounts["account"] != wallet_account]
    for close in vault_closes:
        _check_vault_close(close, refuse, source=source, wallet=wallet, vault=vault)
        if close.index < transfer.index:
            raise refuse(SHAPE, "the refunded account is closed before the transfer")
    if len(vault_closes) > 1:
        raise refuse(CLOSE, f"{len(vault_closes)} closes of the refunded account")
    if own_closes:
        # _check_roles allowed it only for wrapped SOL, by the wallet to itself.
        if len(own_closes) > 1 or own_closes[0].index < transfer.index:
            raise refuse(SHAPE, "the wallet's wrapped-SOL account is closed before the refund reaches it")
        shape = SOL_UNWRAP
    else:
        if not vault_closes:
            raise refuse(CLOSE, "the refunded account is not closed (its rent would not come back)")
        shape = TOKEN

    amount = transfer.amount or 0
    if amount != expected:
        raise refuse(REFUND_AMOUNT, f"refund of {amount} instead of the order's remaining {expected}")
    if order.refund_amount is not None and order.refund_amount != expected:
        raise refuse(REFUND_AMOUNT, f"refundAmount {order.refund_amount} is not the order's remaining {expected}")
    fee: int | None = 0
    if transfer.kind == TRANSFER_CHECKED_WITH_FEE_KIND:
        fee = transfer.fee or 0
        if fee * 10_000 > amount * MAX_TRANSFER_FEE_BPS:
            raise refuse(TRANSFER_FEE, f"transfer fee {fee} of {amount} is over {MAX_TRANSFER_FEE_BPS} basis points")
    elif transfer.kind == TRANSFER_CHECKED and token_program == TOKEN_2022_PROGRAM:
        fee = None  # a mint with a transfer fee withholds it without the transaction naming it
    return CheckedRefund(
        message=to_bytes_versioned(message),
        shape=shape,
        mint=str(mint),
        source=str(source),
        amount=amount,
        received=amount - (fee or 0),
        transfer_fee=fee,
        amount_from=FROM_TRANSACTION,
        creates_account=create is not None,
        instructions=decoded,
    )


def expected_refund(order: RefundOrder, refuse: Refuse) -> int:
    """The order's remaining deposit as Jupiter listed it: `remaining`, which must agree with
    `initial - used` when both are listed (or that, when `remaining` is not)."""
    remaining, initial, used = order.remaining, order.initial, order.used
    spent_from = initial - used if initial is not None and used is not None else None
    if remaining is not None and spent_from is not None and remaining != spent_from:
        raise refuse(ORDER, f"the order lists {remaining} remaining but {initial} deposited less {used} used")
    expected = remaining if remaining is not None else spent_from
    if expected is None:
        raise refuse(ORDER, "the order does not say what is left of its deposit")
    if expected <= 0:
        raise refuse(ORDER, "nothing to refund")
    return expected


def confirm_balance(refund: CheckedRefund, order: RefundOrder, *, mint: str, owner: str, amount: int) -> CheckedRefund:
    """A `sol_close` refund whose closed account a Solana RPC read: it must hold the order's mint,
    be owned by the order's vault and hold exactly the order's remaining deposit; the refund then
    says so (FROM_SOLANA_RPC). Raises WithdrawalRefused(UNVERIFIED, code=BALANCE) otherwise."""

    def refuse(code: str, reason: str) -> WithdrawalRefused:
        return WithdrawalRefused(UNVERIFIED, code=code, reason=reason, instructions=refund.instructions)

    if refund.shape != SOL_CLOSE:
        raise ValueError("only a closed wrapped-SOL account's balance is read from a Solana RPC")
    if mint != refund.mint:
        raise refuse(BALANCE, f"the closed account holds {mint}, not {refund.mint}")
    if owner != order.vault:
        raise refuse(BALANCE, f"the closed account is owned by {owner}, not the order's vault")
    if amount != refund.amount:
        raise refuse(BALANCE, f"the closed account holds {amount}, not the order's remaining {refund.amount}")
    return replace(refund, amount_from=FROM_SOLANA_RPC)


def received_words(refund: CheckedRefund, *, decimals: int, symbol: str) -> str:
    """What the wallet receives, in words: "20 USDC"; "about 19.9 PYUSD after the token's own
    transfer fee"; "about 0.09 SOL, Jupiter's figure" when the amount is not in the transaction."""
    figure = f"{Decimal(refund.received).scaleb(-decimals).normalize():,f} {'SOL' if refund.native_sol else symbol}"
    if refund.amount_from == FROM_JUPITER:
        return f"about {figure}, Jupiter's figure"
    if refund.transfer_fee:
        return f"about {figure} after the token's own transfer fee"
    if refund.transfer_fee is None:
        return f"{figure}, less any transfer fee the token itself charges"
    return figure


def check_signed_withdrawal(
    issued_message: bytes, raw_signed: bytes, wallet: str, *, max_priority_fee_lamports: int
) -> bytes:
    """Return the signed wire bytes to forward, or raise WithdrawalRefused(plain message, code=…).

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

    def refuse(code: str, reason: str, message: str = NOT_SIGNED) -> WithdrawalRefused:
        return WithdrawalRefused(message, code=code, reason=reason)

    try:
        user = Pubkey.from_string(wallet)
    except ValueError:
        raise refuse(NOT_SIGNED_CODE, "invalid wallet address") from None

    tx = _parse(raw_signed, lambda _code, reason: refuse(NOT_SIGNED_CODE, reason))
    message = to_bytes_versioned(tx.message)
    if message != issued_message:
        raise refuse(CHANGED_CODE, "signed message differs from the issued one", CHANGED)
    keys = list(tx.message.account_keys)
    if user not in keys[: tx.message.header.num_required_signatures]:
        raise refuse(WRONG_SIGNATURE_CODE, "wallet is not a signer of the issued message", WRONG_SIGNATURE)
    slot = keys.index(user)
    if not tx.signatures[slot].verify(user, message):
        raise refuse(WRONG_SIGNATURE_CODE, "wallet signature does not verify", WRONG_SIGNATURE)
    if any(signature != Signature.default() for i, signature in enumerate(tx.signatures) if i != slot):
        raise refuse(OTHER_SIGNATURES_CODE, "a slot other than the wallet's is filled", OTHER_SIGNATURES)
    fee = _priority_fee(_read(tx.message, lambda _code, reason: refuse(NOT_SIGNED_CODE, reason)), refuse)
    if fee > max_priority_fee_lamports:
        raise refuse(
            PRIORITY_FEE, f"priority fee {fee} lamports over ceiling {max_priority_fee_lamports}", FEE_TOO_HIGH
        )
    return bytes(tx)


# --- pieces -------------------------------------------------------------------------------------


def _order_keys(order: RefundOrder, refuse: Refuse) -> tuple[Pubkey, Pubkey, Pubkey, Pubkey | None]:
    try:
        wallet, vault, mint = (Pubkey.from_string(key) for key in (order.wallet, order.vault, order.input_mint))
        known = Pubkey.from_string(order.input_token_program) if order.input_token_program else None
    except ValueError:
        raise refuse(ORDER, "order names an invalid address") from None
    if vault == wallet:
        raise refuse(ORDER, "order's vault is the wallet")
    if known is not None and known not in TOKEN_PROGRAMS:
        raise refuse(ORDER, f"order's token program {known} is not a token program")
    return wallet, vault, mint, known


def _sol_close(
    message: VersionedMessage,
    order: RefundOrder,
    closes: list[Step],
    create: Step | None,
    refuse: Refuse,
    decoded: tuple[dict[str, Any], ...],
    expected: int,
    wallet: Pubkey,
    vault: Pubkey,
    cosigner: Pubkey | None,
    mint: Pubkey,
) -> CheckedRefund:
    """No transfer: only a SOL order's wrapped-SOL account closed by the vault straight to the wallet."""
    if mint != WRAPPED_SOL:
        raise refuse(SHAPE, f"{len(closes)} account closes and no token transfer")
    if len(closes) != 1:
        raise refuse(SHAPE, f"{len(closes)} account closes and no token transfer, expected one close")
    if create is not None:
        raise refuse(ACCOUNT_CREATION, "the wallet's account is created but nothing is transferred into it")
    close = closes[0]
    source = close.accounts["account"]
    _check_vault_close(close, refuse, source=source, wallet=wallet, vault=vault)
    if source in (vault, cosigner):
        raise refuse(REFUND_SOURCE, "the closed account is a signer, not a vault token account")
    if order.refund_amount is not None and order.refund_amount != expected:
        raise refuse(REFUND_AMOUNT, f"refundAmount {order.refund_amount} is not the order's remaining {expected}")
    return CheckedRefund(
        message=to_bytes_versioned(message),
        shape=SOL_CLOSE,
        mint=str(mint),
        source=str(source),
        amount=expected,
        received=expected,
        transfer_fee=0,
        amount_from=FROM_JUPITER,
        creates_account=False,
        instructions=decoded,
    )


def _check_vault_close(close: Step, refuse: Refuse, *, source: Pubkey, wallet: Pubkey, vault: Pubkey) -> None:
    if close.accounts["account"] != source:
        raise refuse(CLOSE, "close of a different account than the refunded one")
    if close.accounts["destination"] != wallet:
        raise refuse(CLOSE, "close rent to another account")
    if close.accounts["owner"] != vault:
        raise refuse(CLOSE, "close owner is not the vault")


def _check_creation(
    create: Step, refuse: Refuse, *, wallet: Pubkey, vault: Pubkey, account: Pubkey, mint: Pubkey, program: Pubkey
) -> None:
    """Only CreateIdempotent of the wallet's own associated token account for the input mint."""
    if create.kind != CREATE_IDEMPOTENT:
        raise refuse(ACCOUNT_CREATION, f"associated-token instruction {create.name} not allowed")
    named = create.accounts
    if named["account"] != account or named["wallet"] != wallet or named["mint"] != mint:
        raise refuse(ACCOUNT_CREATION, "creation of an account other than the wallet's for the input mint")
    if named["system_program"] != SYSTEM_PROGRAM or named["token_program"] != program:
        raise refuse(ACCOUNT_CREATION, "account creation naming other programs")
    if named["funder"] not in (wallet, vault):
        raise refuse(ACCOUNT_CREATION, "account creation funded by someone else")


def _check_roles(steps: list[Step], refuse: Refuse, *, wallet: Pubkey, wallet_account: Pubkey, mint: Pubkey) -> None:
    """The wallet, and its token account, only where they can neither spend nor hand over."""
    for step in steps:
        for role, account in step.accounts.items():
            if account == wallet and not _wallet_may(step, role, wallet, wallet_account, mint):
                raise refuse(WALLET_ROLE, f"wallet as {step.name} {role}")
            if account == wallet_account and not _wallet_account_may(step, role, wallet, mint):
                raise refuse(WALLET_ROLE, f"wallet's token account as {step.name} {role}")
        for account, _signer, _writable in step.extra:
            if account in (wallet, wallet_account):
                who = "wallet" if account == wallet else "wallet's token account"
                raise refuse(WALLET_ROLE, f"{who} as {step.name} extra account")


def _wallet_may(step: Step, role: str, wallet: Pubkey, wallet_account: Pubkey, mint: Pubkey) -> bool:
    if step.program == ASSOCIATED_TOKEN_PROGRAM:
        return role in ("funder", "wallet")
    if step.kind == CLOSE_ACCOUNT and role == "destination":
        return True
    # Its own wrapped-SOL account, closed by it to itself.
    return (
        step.kind == CLOSE_ACCOUNT
        and role == "owner"
        and mint == WRAPPED_SOL
        and step.accounts["account"] == wallet_account
        and step.accounts["destination"] == wallet
    )


def _wallet_account_may(step: Step, role: str, wallet: Pubkey, mint: Pubkey) -> bool:
    if step.program == ASSOCIATED_TOKEN_PROGRAM:
        return role == "account"
    if step.kind in TRANSFERS:
        return role == "destination"
    return (
        step.kind == CLOSE_ACCOUNT
        and role == "account"
        and mint == WRAPPED_SOL
        and step.accounts["owner"] == wallet
        and step.accounts["destination"] == wallet
    )


def _check_extras(
    steps: list[Step], refuse: Refuse, *, token_program: Pubkey, cosigner: Pubkey | None, labels: dict[Pubkey, str]
) -> None:
    """Accounts after a token instruction's named ones: multisig signers (only Jupiter's co-signer,
    once) and, after a Token-2022 transfer, extension accounts (never a signer, never the wallet's)."""
    for step in steps:
        if step.program == ASSOCIATED_TOKEN_PROGRAM:
            if step.extra:
                raise refuse(ACCOUNT_CREATION, f"{step.name} names extra accounts")
            continue
        cosigners = [account for account, _signer, _writable in step.extra if account == cosigner]
        others = [(account, signer) for account, signer, _writable in step.extra if account != cosigner]
        if len(cosigners) > 1:
            raise refuse(EXTRA_ACCOUNT, f"{step.name} names the co-signer twice")
        extension = token_program == TOKEN_2022_PROGRAM and step.kind in TRANSFERS
        if others and not extension:
            raise refuse(EXTRA_ACCOUNT, f"{step.name} names an extra account other than the co-signer")
        for account, signer in others:
            if signer or account in labels:
                raise refuse(EXTRA_ACCOUNT, f"{step.name} extension account {account} is a signer or the wallet's")


def _parse(raw: bytes, refuse: Refuse) -> VersionedTransaction:
    """One sane wire transaction (`transactions.parse_sane_transaction`)."""
    try:
        return parse_sane_transaction(raw)
    except ValueError as exc:
        raise refuse(MALFORMED, str(exc)) from None


def _read(message: VersionedMessage, refuse: Refuse) -> Reading:
    try:
        return read_message(message)
    except ValueError as exc:
        raise refuse(MALFORMED, f"malformed transaction: {exc}") from None


def _priority_fee(reading: Reading, refuse: Refuse) -> int:
    try:
        return priority_fee_lamports(reading)
    except ValueError as exc:
        raise refuse(COMPUTE_BUDGET_CODE, f"unreadable compute budget: {exc}") from None


def _check_compute_budget(reading: Reading, refuse: Refuse, ceiling: int) -> None:
    """Only SetComputeUnitLimit and SetComputeUnitPrice, each once, the priority fee under the ceiling."""
    problem = compute_budget_problem(reading)
    if problem is not None:
        raise refuse(COMPUTE_BUDGET_CODE, problem)
    fee = _priority_fee(reading, refuse)
    if fee > ceiling:
        raise refuse(PRIORITY_FEE, f"priority fee {fee} lamports over ceiling {ceiling}")
