"""Deterministic Solana-looking identifiers: order accounts, signatures, keepers, token accounts."""

from __future__ import annotations

import hashlib

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

DCA_PROGRAM = Pubkey.from_string("DCA265Vj8a9CEuX1eb1LWRnDT7uK6q1xMipnNyatn23M")
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
ASSOCIATED_TOKEN_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
EVENT_AUTHORITY, _ = Pubkey.find_program_address([b"__event_authority"], DCA_PROGRAM)


def digest(*parts: str) -> bytes:
    """sha256 over the parts joined with ':' (the root of every derived identifier)."""
    return hashlib.sha256(":".join(parts).encode()).digest()


def order_key(user: str, input_mint: str, output_mint: str, *salt: str) -> str:
    """An order account: the DCA program's PDA for (user, pair, uid), like the real program's."""
    uid = digest(user, input_mint, output_mint, *salt)[:8]
    pda, _ = Pubkey.find_program_address(
        [
            b"dca",
            bytes(Pubkey.from_string(user)),
            bytes(Pubkey.from_string(input_mint)),
            bytes(Pubkey.from_string(output_mint)),
            uid,
        ],
        DCA_PROGRAM,
    )
    return str(pda)


def signature(*parts: str) -> str:
    """A base58 64-byte transaction signature derived from the parts."""
    return str(Signature(digest("sig-a", *parts) + digest("sig-b", *parts)))


def keeper(index: int) -> str:
    """One of the sandbox's keeper (filler) accounts."""
    return str(Keypair.from_seed(digest("sandbox-keeper", str(index))).pubkey())


def associated_token_account(owner: Pubkey, mint: Pubkey) -> Pubkey:
    """The associated token account of `owner` for `mint` (classic Token program)."""
    ata, _ = Pubkey.find_program_address([bytes(owner), bytes(TOKEN_PROGRAM), bytes(mint)], ASSOCIATED_TOKEN_PROGRAM)
    return ata


def parse_pubkey(value: object) -> Pubkey | None:
    """A Pubkey from a base58 string, or None when it is not one."""
    if not isinstance(value, str) or not 32 <= len(value) <= 44:
        return None
    try:
        return Pubkey.from_string(value)
    except (ValueError, TypeError):
        return None
