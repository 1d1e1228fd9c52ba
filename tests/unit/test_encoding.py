"""Strict base64 and short addresses: the one way each is done."""

from __future__ import annotations

import base64

import pytest

from dashboard import encoding


def test_canonical_base64_round_trips():
    raw = bytes(range(256))
    assert encoding.decode_base64(base64.b64encode(raw).decode(), 256) == raw


@pytest.mark.parametrize(
    "text",
    ["not base64!", "QUJD\n", " QUJD", "QUJD=", "QUJ", "QUI=" + "QUI=", "QUJ=", "QR=="],  # QUJ=, QR==: spare bits set
)
def test_anything_but_canonical_base64_is_undecodable(text):
    with pytest.raises(encoding.Undecodable) as caught:
        encoding.decode_base64(text, 64)
    assert not caught.value.too_large


@pytest.mark.parametrize("text", ["", None, 42, base64.b64encode(b"x" * 65).decode()])
def test_empty_missing_or_too_large_is_said_so(text):
    with pytest.raises(encoding.Undecodable) as caught:
        encoding.decode_base64(text, 64)
    assert caught.value.too_large


def test_the_size_limit_is_exact():
    assert len(encoding.decode_base64(base64.b64encode(b"x" * 64).decode(), 64)) == 64


@pytest.mark.parametrize(
    ("address", "short"),
    [
        ("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "EPjF…Dt1v"),
        ("ShortMint1", "ShortMint1"),
        ("", ""),
    ],
)
def test_short_address(address, short):
    assert encoding.short_address(address) == short


def test_nesting_depth_ignores_brackets_inside_strings():
    assert encoding.nesting_depth(b'{"address": "[[[[{{{{\\"[[["}') == 1
    assert encoding.nesting_depth(b'{"a": [1, {"b": [[]]}]}') == 5
    assert encoding.nesting_depth(b"[" * 5000) == 5000
