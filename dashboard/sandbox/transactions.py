"""Cancel transactions: building the unsigned one cancelOrder returns, checking the signed one.

The unsigned transaction mirrors Jupiter's (see jupiter-cancel-transactions.json): a legacy
message paid by the user with two compute-budget instructions and one DCA `close` instruction.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.message import Message, to_bytes_versioned
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from dashboard import encoding
from dashboard.sandbox import keys
from dashboard.transactions import MAX_TX_BYTES

CLOSE_DCA_DATA = bytes.fromhex("16072162a8b722f3")
COMPUTE_UNIT_LIMIT = 88_662
COMPUTE_UNIT_PRICE = 200_000  # micro-lamports per compute unit


def close_instruction(user: Pubkey, order: Pubkey, input_mint: Pubkey, output_mint: Pubkey) -> Instruction:
    """The DCA program's close instruction, accounts in the order Jupiter's transactions use."""
    ata = keys.associated_token_account

    def writable(key: Pubkey) -> AccountMeta:
        return AccountMeta(key, is_signer=False, is_writable=True)

    def readonly(key: Pubkey) -> AccountMeta:
        return AccountMeta(key, is_signer=False, is_writable=False)

    accounts = [
        AccountMeta(user, is_signer=True, is_writable=True),
        writable(order),
        readonly(input_mint),
        readonly(output_mint),
        writable(ata(order, input_mint)),
        writable(ata(order, output_mint)),
        writable(ata(user, input_mint)),
        writable(ata(user, output_mint)),
        readonly(keys.SYSTEM_PROGRAM),
        readonly(keys.TOKEN_PROGRAM),
        readonly(keys.ASSOCIATED_TOKEN_PROGRAM),
        readonly(keys.EVENT_AUTHORITY),
        readonly(keys.DCA_PROGRAM),
    ]
    return Instruction(keys.DCA_PROGRAM, CLOSE_DCA_DATA, accounts)


def build_cancel_message(user: str, order_key: str, input_mint: str, output_mint: str) -> Message:
    """A legacy message closing the order, paid by the user, with a fresh random blockhash."""
    payer = Pubkey.from_string(user)
    instructions = [
        set_compute_unit_limit(COMPUTE_UNIT_LIMIT),
        set_compute_unit_price(COMPUTE_UNIT_PRICE),
        close_instruction(
            payer,
            Pubkey.from_string(order_key),
            Pubkey.from_string(input_mint),
            Pubkey.from_string(output_mint),
        ),
    ]
    return Message.new_with_blockhash(instructions, payer, Hash.new_unique())


def unsigned_transaction(message: Message) -> str:
    """The wire transaction, signature slot zero-filled, in base64."""
    tx = VersionedTransaction(message, [NullSigner(message.account_keys[0])])
    return base64.b64encode(bytes(tx)).decode()


class MalformedTransaction(ValueError):
    """The signed transaction is not base64 or not a Solana wire transaction."""


@dataclass(frozen=True)
class SignedCheck:
    """What a signed transaction says about itself."""

    signature: str
    matches_issued: bool
    user_signed: bool


def parse_signed(signed_b64: str) -> VersionedTransaction:
    """Decode a base64 wire transaction strictly (no trailing bytes)."""
    try:
        raw = encoding.decode_base64(signed_b64, MAX_TX_BYTES)
    except encoding.Undecodable:
        raise MalformedTransaction("signedTransaction is not valid base64") from None
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except Exception:
        raise MalformedTransaction("Failed to deserialize the signed transaction") from None
    if bytes(tx) != raw or not tx.signatures:
        raise MalformedTransaction("Failed to deserialize the signed transaction")
    return tx


def check_signed(tx: VersionedTransaction, issued_message: bytes, user: str) -> SignedCheck:
    """Compare a parsed signed transaction with the issued message and verify the user's signature."""
    message_bytes = to_bytes_versioned(tx.message)
    first: Signature = tx.signatures[0]
    return SignedCheck(
        signature=str(first),
        matches_issued=message_bytes == issued_message,
        user_signed=first.verify(Pubkey.from_string(user), message_bytes),
    )
