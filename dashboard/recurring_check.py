"""The checks of a Recurring v1 cancel transaction: the one Jupiter issues, and the one the wallet signed.

What Jupiter issues (`check_issued`) is held to the rule of `dashboard.withdrawal`, stated from
the wallet's side: signing may cost the wallet only the network fee (the priority fee within the
site's ceiling), and the wallet's key appears only where it can neither spend nor hand authority
over — here, the fee payer (its only signer) and the close's owner, to whom the DCA program pays
out what the order holds. So: exactly one close of this wallet's order by the DCA program,
nothing but that and compute-budget settings (which name no account), the wallet named nowhere
else, unsigned. Where the refund's rule does not fit: address-table lookups stay allowed here —
the DCA program itself pins every account of its close (the order's own accounts, the wallet's
associated accounts), where a token program moves whatever accounts it is given. A refusal is
logged with the same codes as a refused refund (`withdrawal.CODES`) and the decoded instructions,
and the trader reads the same first sentence (`messages`). What the wallet signed
(`check_signed`) must be signed by the wallet alone over the issued message, or differ from it
only by what wallets legitimately insert (compute-budget settings, Lighthouse guard
instructions), its priority fee within the ceiling. Refusals carry a code (`dashboard.messages`).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from solders.message import MessageV0, from_bytes_versioned, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard import messages, token_instructions, transactions, withdrawal
from dashboard.attempts import CancelRefused, ceiling_sol
from dashboard.transactions import COMPUTE_BUDGET, read_message

logger = logging.getLogger(__name__)

DCA_PROGRAM = Pubkey.from_string("DCA265Vj8a9CEuX1eb1LWRnDT7uK6q1xMipnNyatn23M")
CLOSE_DCA = bytes.fromhex("16072162a8b722f3")  # the DCA program's close instruction (it takes no arguments)
LIGHTHOUSE = Pubkey.from_string("L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95")
WALLET_INSERTED = {COMPUTE_BUDGET, LIGHTHOUSE}  # programs wallets may legitimately add


def parse_transaction(raw: bytes) -> VersionedTransaction:
    try:
        return transactions.parse_transaction(raw)
    except transactions.InvalidTransaction as exc:
        raise CancelRefused("invalid_transaction", reason="invalid", message=exc.message) from None


def check_issued(raw: bytes, wallet: str, order_key: str) -> bytes:
    """Check Jupiter's unsigned cancel transaction; return the message bytes the wallet will sign."""
    bad = CancelRefused("issued_unverifiable", reason="upstream")
    try:
        tx = parse_transaction(raw)
        reading = read_message(tx.message)
    except (CancelRefused, ValueError):
        logger.warning("refused an issued cancel transaction for order %s: %s", order_key, withdrawal.MALFORMED)
        raise bad from None
    user = Pubkey.from_string(wallet)
    problem = issued_problem(tx, reading, user, order_key)
    if problem is not None:
        labels = {user: "wallet"}
        decoded = [token_instructions.describe_instruction(ix, labels) for ix in reading.instructions]
        logger.warning(
            "refused an issued cancel transaction for order %s: %s: %s; instructions: %s",
            order_key,
            *problem,
            json.dumps(decoded),
        )
        raise bad
    what = f"an issued cancel transaction for order {order_key}"
    refuse_a_high_fee(reading, bad, "issued_fee_too_high", "upstream", what)
    return to_bytes_versioned(tx.message)


def refuse_a_high_fee(
    reading: transactions.Reading, unreadable: CancelRefused, code: str, reason: str, what: str
) -> None:
    """The priority fee a cancel transaction sets must be readable (else `unreadable`) and within
    the site's ceiling (else refused with `code`, for `reason`, its words naming the ceiling)."""
    try:
        fee = transactions.priority_fee_lamports(reading)
    except ValueError:
        raise unreadable from None
    if fee > settings.MAX_PRIORITY_FEE_LAMPORTS:
        logger.warning("refused %s: priority fee %s lamports", what, fee)
        raise CancelRefused(code, reason=reason, message=messages.words(code, ceiling=ceiling_sol()))


def issued_problem(
    tx: VersionedTransaction, reading: transactions.Reading, user: Pubkey, order_key: str
) -> tuple[str, str] | None:
    """Why an issued cancel breaks the rule, as (`withdrawal` code, reason), or None."""
    wallet = str(user)
    dca = [ix for ix in reading.instructions if ix.program == DCA_PROGRAM]
    others = [ix for ix in reading.instructions if ix.program not in (DCA_PROGRAM, COMPUTE_BUDGET)]
    if any(sig != Signature.default() for sig in tx.signatures):
        return withdrawal.ALREADY_SIGNED, "signature slots not empty"
    if reading.fee_payer != user:
        return withdrawal.FEE_PAYER, "wallet is not the fee payer"
    if reading.signers != (user,):
        return withdrawal.SIGNERS, f"{len(reading.signers)} signers, expected the wallet alone"
    if others:
        return withdrawal.UNKNOWN_PROGRAM, f"unknown program {others[0].program}"
    if any(ix.accounts for ix in reading.instructions if ix.program == COMPUTE_BUDGET):
        return withdrawal.COMPUTE_BUDGET_CODE, "a compute-budget instruction names accounts"
    if len(dca) != 1 or dca[0].data != CLOSE_DCA or len(dca[0].accounts) < 2:
        return withdrawal.SHAPE, f"{len(dca)} DCA instructions, expected one close"
    close = dca[0]
    if close.accounts[0] != (wallet, True, True) or close.accounts[1][:1] != (order_key,):
        return withdrawal.SHAPE, "not the close of this wallet's order"
    if any(address == wallet for address, _signer, _writable in close.accounts[1:]):
        return withdrawal.WALLET_ROLE, "wallet named again in the close"
    return None


def check_signed(issued: bytes, tx: VersionedTransaction, wallet: str) -> bytes:
    """The signed message is the issued one, or differs only by what wallets legitimately insert."""
    message = to_bytes_versioned(tx.message)
    user = Pubkey.from_string(wallet)
    if list(tx.message.account_keys[:1]) != [user] or tx.message.header.num_required_signatures != 1:
        raise CancelRefused("not_signed_alone", reason="invalid")
    if len(tx.signatures) != 1 or not tx.signatures[0].verify(user, message):
        raise CancelRefused("signature_mismatch", reason="invalid")
    if message == issued:
        return message
    changed = CancelRefused("signed_changed", reason="invalid")
    try:
        before = read_message(from_bytes_versioned(issued))
        after = read_message(tx.message)
    except ValueError:
        raise changed from None
    if (
        after.fee_payer != before.fee_payer
        or after.signers != before.signers
        or after.blockhash != before.blockhash
        or after.lookups != before.lookups
        or isinstance(tx.message, MessageV0) != (issued[:1] == b"\x80")
    ):
        raise changed
    # Every issued instruction (compute-budget settings aside) is there, unchanged and in order;
    # anything added is a compute-budget or Lighthouse guard instruction.
    essential = [ix for ix in before.instructions if ix.program != COMPUTE_BUDGET]
    kept = [ix for ix in after.instructions if ix.program not in WALLET_INSERTED]
    if kept != essential:
        raise changed
    # The wallet may set its own priority fee, up to the site's ceiling.
    refuse_a_high_fee(after, changed, "signed_fee_too_high", "invalid", "a signed cancel transaction")
    return message
