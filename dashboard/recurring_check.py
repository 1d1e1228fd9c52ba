"""The checks of a Recurring v1 cancel transaction: the one Jupiter issues, and the one the wallet signed.

What Jupiter issues (`check_issued`) must be exactly a close of this wallet's order by the DCA
program: the wallet its fee payer and only signer, nothing but the close and compute-budget
settings, unsigned, and a priority fee within the site's ceiling. What the wallet signed
(`check_signed`) must be signed by the wallet alone over the issued message, or differ from it
only by what wallets legitimately insert (compute-budget settings, Lighthouse guard
instructions), its priority fee within the ceiling. Refusals carry a code (`dashboard.messages`).
"""

from __future__ import annotations

import logging

from django.conf import settings
from solders.message import MessageV0, from_bytes_versioned, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard import messages, transactions
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
        raise bad from None
    user = Pubkey.from_string(wallet)
    dca = [ix for ix in reading.instructions if ix.program == DCA_PROGRAM]
    if (
        reading.fee_payer != user
        or reading.signers != (user,)
        or any(ix.program not in (DCA_PROGRAM, COMPUTE_BUDGET) for ix in reading.instructions)
        or len(dca) != 1
        or dca[0].data != CLOSE_DCA
        or len(dca[0].accounts) < 2
        or dca[0].accounts[0] != (wallet, True, True)
        or dca[0].accounts[1][:1] != (order_key,)
        or any(sig != Signature.default() for sig in tx.signatures)
    ):
        logger.warning("refused an issued cancel transaction for order %s", order_key)
        raise bad
    try:
        fee = transactions.priority_fee_lamports(reading)
    except ValueError:
        raise bad from None
    if fee > settings.MAX_PRIORITY_FEE_LAMPORTS:
        logger.warning("refused an issued cancel transaction for order %s: priority fee %s lamports", order_key, fee)
        raise CancelRefused(
            "issued_fee_too_high",
            reason="upstream",
            message=messages.words("issued_fee_too_high", ceiling=ceiling_sol()),
        ) from None
    return to_bytes_versioned(tx.message)


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
    try:
        fee = transactions.priority_fee_lamports(after)
    except ValueError:
        raise changed from None
    if fee > settings.MAX_PRIORITY_FEE_LAMPORTS:
        logger.warning("refused a signed cancel transaction: priority fee %s lamports", fee)
        raise CancelRefused(
            "signed_fee_too_high",
            reason="invalid",
            message=messages.words("signed_fee_too_high", ceiling=ceiling_sol()),
        )
    return message
