"""How the dashboard reads and writes values at its edges: strict base64, the nesting depth of a
JSON text, the short form of an address. Pure functions (no Django, no solders), shared by every
module that needs them, so each caller words its own refusal for its own reader.
"""

from __future__ import annotations

import base64
import binascii
import math


class Undecodable(ValueError):
    """Not canonical base64, or empty or larger than allowed (`too_large` says which)."""

    def __init__(self, too_large: bool) -> None:
        super().__init__("too large or empty" if too_large else "not canonical base64")
        self.too_large = too_large


def decode_base64(text: object, max_bytes: int) -> bytes:
    """Strict, canonical standard base64 of 1 to `max_bytes` bytes: no whitespace, no stray
    padding, no non-zero spare bits (so one value has exactly one accepted text)."""
    if not isinstance(text, str) or not text or len(text) > 4 * math.ceil(max_bytes / 3):
        raise Undecodable(too_large=True)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Undecodable(too_large=False) from None
    if base64.b64encode(raw).decode() != text:
        raise Undecodable(too_large=False)
    if not raw or len(raw) > max_bytes:
        raise Undecodable(too_large=True)
    return raw


def short_address(address: str) -> str:
    """`EPjF…Dt1v`: the first and last four characters of a Solana address (mint, wallet, order)."""
    return f"{address[:4]}…{address[-4:]}" if len(address) > 10 else address


def nesting_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (brackets inside strings aside),
    read without recursion so that `"[" * 5000` cannot exhaust the stack."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest
