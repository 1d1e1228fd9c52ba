"""Reading the instructions of Solana's token programs: SPL Token, Token-2022 and the Associated
Token program — their program ids, instruction tags and account layouts, an instruction's accounts
named by role (`read_step`), its amounts, a wallet's associated token account, and an instruction
decoded for the server log (`describe_instruction`).

Only reading: what is allowed is the business of the checks that use it (`withdrawal`,
`recurring_check`). Pure: solders only — no database, no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey

from dashboard.transactions import COMPUTE_BUDGET, SET_COMPUTE_UNIT_LIMIT, SET_COMPUTE_UNIT_PRICE, Instruction

TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
TOKEN_PROGRAMS = (TOKEN_PROGRAM, TOKEN_2022_PROGRAM)
ASSOCIATED_TOKEN_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
WRAPPED_SOL = Pubkey.from_string("So11111111111111111111111111111111111111112")  # SPL Token's native mint
# Named in the log only: an "Earn While You Wait" withdrawal would call these, and we cannot verify it.
JUPITER_LEND_PROGRAMS = {
    Pubkey.from_string("jup3YeL8QhtSx1e253b2FDvsMNC87fDrgQZivbrndc9"): "Jupiter Lend lending",
    Pubkey.from_string("jupeiUmn818Jg1ekPURTpr4mFo29p46vygyykFJ3wZC"): "Jupiter Lend liquidity",
}
PROGRAM_NAMES = {
    COMPUTE_BUDGET: "ComputeBudget",
    TOKEN_PROGRAM: "Token",
    TOKEN_2022_PROGRAM: "Token-2022",
    ASSOCIATED_TOKEN_PROGRAM: "AssociatedToken",
    SYSTEM_PROGRAM: "System",
    **JUPITER_LEND_PROGRAMS,
}

# Token instructions (the first data byte; Token-2022 shares them): name, the accounts they name in
# order (any further ones are multisig signers, or Token-2022 extension accounts), data length.
TRANSFER, APPROVE, SET_AUTHORITY, CLOSE_ACCOUNT, TRANSFER_CHECKED = 3, 4, 6, 9, 12
TRANSFER_FEE_EXTENSION, TRANSFER_CHECKED_WITH_FEE = 26, 1  # Token-2022: [26, 1, amount, decimals, fee]
TRANSFER_CHECKED_WITH_FEE_KIND = (TRANSFER_FEE_EXTENSION << 8) | TRANSFER_CHECKED_WITH_FEE
TOKEN_LAYOUTS: dict[int, tuple[str, tuple[str, ...], int | None]] = {
    TRANSFER: ("Transfer", ("source", "destination", "authority"), 9),
    TRANSFER_CHECKED: ("TransferChecked", ("source", "mint", "destination", "authority"), 10),
    TRANSFER_CHECKED_WITH_FEE_KIND: ("TransferCheckedWithFee", ("source", "mint", "destination", "authority"), 19),
    CLOSE_ACCOUNT: ("CloseAccount", ("account", "destination", "owner"), 1),
    # Named in the log only; never allowed.
    APPROVE: ("Approve", ("source", "delegate", "owner"), None),
    5: ("Revoke", ("source", "owner"), None),
    SET_AUTHORITY: ("SetAuthority", ("account", "current_authority"), None),
    7: ("MintTo", ("mint", "account", "mint_authority"), None),
    8: ("Burn", ("account", "mint", "owner"), None),
    10: ("FreezeAccount", ("account", "mint", "freeze_authority"), None),
    13: ("ApproveChecked", ("source", "mint", "delegate", "owner"), None),
    15: ("BurnChecked", ("account", "mint", "owner"), None),
    17: ("SyncNative", ("account",), None),
}
TRANSFERS = (TRANSFER, TRANSFER_CHECKED, TRANSFER_CHECKED_WITH_FEE_KIND)
# Associated Token program: Create (0, or no data), CreateIdempotent (1), RecoverNested (2).
CREATE_IDEMPOTENT = 1
ATA_LAYOUT = ("funder", "account", "wallet", "mint", "system_program", "token_program")
ATA_NAMES = {0: "Create", CREATE_IDEMPOTENT: "CreateIdempotent", 2: "RecoverNested"}


class UnreadableInstruction(ValueError):
    """A token or associated-token instruction `read_step` does not read: one it never allows, or a
    malformed one. `associated` says which program it was for; `reason` is for the log."""

    def __init__(self, reason: str, *, associated: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.associated = associated


@dataclass(frozen=True)
class Step:
    """One instruction of the transaction, its accounts named by role."""

    index: int
    program: Pubkey
    kind: int | None  # the token or associated-token instruction; None for other programs
    accounts: dict[str, Pubkey]
    extra: tuple[tuple[Pubkey, bool, bool], ...]  # accounts after the named ones: (key, signer, writable)
    amount: int | None = None
    decimals: int | None = None
    fee: int | None = None

    @property
    def name(self) -> str:
        if self.program == ASSOCIATED_TOKEN_PROGRAM:
            return ATA_NAMES.get(self.kind, "unknown")
        return TOKEN_LAYOUTS[self.kind][0]  # read_step made only steps of these


def associated_token_address(wallet: Pubkey, mint: Pubkey, token_program: Pubkey) -> Pubkey:
    address, _bump = Pubkey.find_program_address(
        [bytes(wallet), bytes(token_program), bytes(mint)], ASSOCIATED_TOKEN_PROGRAM
    )
    return address


def read_step(index: int, ix: Instruction) -> Step:
    """A token or associated-token instruction with its accounts by role; UnreadableInstruction when
    it is not one a refund may hold (Approve, SetAuthority, Burn…) or is malformed."""
    addresses = [(Pubkey.from_string(address), signer, writable) for address, signer, writable in ix.accounts]
    if ix.program == ASSOCIATED_TOKEN_PROGRAM:
        kind = ix.data[0] if ix.data else 0
        if len(ix.data) > 1 or len(addresses) < len(ATA_LAYOUT):
            raise UnreadableInstruction("malformed associated-token instruction", associated=True)
        named = {role: key for role, (key, _s, _w) in zip(ATA_LAYOUT, addresses, strict=False)}
        return Step(index, ix.program, kind, named, tuple(addresses[len(ATA_LAYOUT) :]))
    kind = token_kind(ix.data)
    layout = TOKEN_LAYOUTS.get(kind) if kind is not None else None
    if layout is None or layout[2] is None:
        name = layout[0] if layout else f"{ix.data[:1].hex() or 'empty'}"
        raise UnreadableInstruction(f"token instruction {name} not allowed", associated=False)
    name, roles, length = layout
    if kind == TRANSFER_CHECKED_WITH_FEE_KIND and ix.program != TOKEN_2022_PROGRAM:
        raise UnreadableInstruction(f"{name} outside Token-2022", associated=False)
    if len(ix.data) != length:
        raise UnreadableInstruction(f"malformed {name}", associated=False)
    if len(addresses) < len(roles):
        raise UnreadableInstruction(f"{name} with too few accounts", associated=False)
    named = {role: key for role, (key, _s, _w) in zip(roles, addresses, strict=False)}
    extra = tuple(addresses[len(roles) :])
    amount, decimals, fee = amounts(kind, ix.data)
    return Step(index, ix.program, kind, named, extra, amount, decimals, fee)


def token_kind(data: bytes) -> int | None:
    if not data:
        return None
    if data[0] == TRANSFER_FEE_EXTENSION and len(data) > 1:
        return (TRANSFER_FEE_EXTENSION << 8) | data[1]
    return data[0]


def amounts(kind: int | None, data: bytes) -> tuple[int | None, int | None, int | None]:
    """(amount, decimals, fee) of a token instruction's data, where it names them."""
    if kind == TRANSFER and len(data) == 9:
        return int.from_bytes(data[1:9], "little"), None, None
    if kind == TRANSFER_CHECKED and len(data) == 10:
        return int.from_bytes(data[1:9], "little"), data[9], None
    if kind == TRANSFER_CHECKED_WITH_FEE_KIND and len(data) == 19:
        return int.from_bytes(data[2:10], "little"), data[10], int.from_bytes(data[11:19], "little")
    if kind in (APPROVE, 7, 8) and len(data) == 9:
        return int.from_bytes(data[1:9], "little"), None, None
    return None, None, None


def describe_instruction(ix: Instruction, labels: dict[Pubkey, str]) -> dict[str, Any]:
    """One instruction decoded for the log: program, instruction, accounts by role (marked when they
    are the wallet, the vault, the co-signer or the wallet's token account), amounts."""
    program = PROGRAM_NAMES.get(ix.program, str(ix.program))
    roles: tuple[str, ...] = ()
    entry: dict[str, Any] = {"program": program}
    if ix.program in TOKEN_PROGRAMS:
        kind = token_kind(ix.data)
        layout = TOKEN_LAYOUTS.get(kind) if kind is not None else None
        entry["instruction"] = layout[0] if layout else f"tag {ix.data[:2].hex() or 'empty'}"
        roles = layout[1] if layout else ()
        amount, decimals, fee = amounts(kind, ix.data)
        entry.update({k: v for k, v in (("amount", amount), ("decimals", decimals), ("fee", fee)) if v is not None})
    elif ix.program == ASSOCIATED_TOKEN_PROGRAM:
        entry["instruction"] = ATA_NAMES.get(ix.data[0] if ix.data else 0, f"tag {ix.data[:1].hex()}")
        roles = ATA_LAYOUT
    elif ix.program == COMPUTE_BUDGET:
        tag = ix.data[:1]
        body = int.from_bytes(ix.data[1:], "little") if len(ix.data) > 1 else None
        name = {
            bytes([SET_COMPUTE_UNIT_LIMIT]): "SetComputeUnitLimit",
            bytes([SET_COMPUTE_UNIT_PRICE]): "SetComputeUnitPrice",
        }
        entry["instruction"] = name.get(tag, f"tag {tag.hex() or 'empty'}")
        if body is not None:
            entry["value"] = body
    else:
        entry["instruction"] = f"data {ix.data[:8].hex()}" + ("…" if len(ix.data) > 8 else "")
    accounts = []
    for position, (address, signer, writable) in enumerate(ix.accounts):
        role = roles[position] if position < len(roles) else "extra"
        flags = "".join(flag for flag, on in (("s", signer), ("w", writable)) if on)
        label = ""
        try:
            label = labels.get(Pubkey.from_string(address), "")
        except ValueError:
            label = ""  # an address-table position
        accounts.append(f"{role}={address}" + (f" ({label})" if label else "") + (f" [{flags}]" if flags else ""))
    entry["accounts"] = accounts
    return entry
