"""Deterministic Solana-looking identifiers: order accounts, signatures, keepers, token accounts."""

from __future__ import annotations

import hashlib

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

DCA_PROGRAM = Pubkey.from_string("DCA265Vj8a9CEuX1eb1LWRnDT7uK6q1xMipnNyatn23M")
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
ASSOCIATED_TOKEN_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
WRAPPED_SOL = Pubkey.from_string("So11111111111111111111111111111111111111112")  # SPL Token's native mint
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


def associated_token_account(owner: Pubkey, mint: Pubkey, program: Pubkey = TOKEN_PROGRAM) -> Pubkey:
    """The associated token account of `owner` for `mint` (classic Token program unless told)."""
    ata, _ = Pubkey.find_program_address([bytes(owner), bytes(program), bytes(mint)], ASSOCIATED_TOKEN_PROGRAM)
    return ata


def vault_keypair(user: str) -> Keypair:
    """The Trigger v2 vault of a wallet (one per wallet, like Jupiter's), which the sandbox signs for."""
    return Keypair.from_seed(digest("sandbox-trigger-vault", user))


def cosigner_keypair() -> Keypair:
    """The sandbox's stand-in for Jupiter's co-signer of every withdrawal (read-only signer)."""
    return Keypair.from_seed(digest("sandbox-trigger-cosigner"))


def stranger_keypair() -> Keypair:
    """An account that is neither the wallet, nor its vault, nor the co-signer (harmful withdrawals)."""
    return Keypair.from_seed(digest("sandbox-trigger-stranger"))


def order_token_account(vault: Pubkey, order_id: str, program: Pubkey = TOKEN_PROGRAM) -> Pubkey:
    """The per-order input token account the vault holds the deposit in (deterministic, owned by `program`)."""
    return Pubkey.create_with_seed(vault, order_id.replace("-", "")[:32], program)


def dust_token_account(vault: Pubkey, source: Pubkey) -> Pubkey:
    """A second wrapped-SOL account of the vault beside an order's deposit, holding 1 lamport of
    wrapped SOL (what a short SOL refund closes instead of the deposit)."""
    return Pubkey.create_with_seed(vault, "dust" + str(source)[:28], TOKEN_PROGRAM)


def parse_pubkey(value: object) -> Pubkey | None:
    """A Pubkey from a base58 string, or None when it is not one."""
    if not isinstance(value, str) or not 32 <= len(value) <= 44:
        return None
    try:
        return Pubkey.from_string(value)
    except (ValueError, TypeError):
        return None
