"""dashboard/tokens.py, pure: `usdPrice` is read strictly, as an exact Decimal or not at all."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard import tokens


@pytest.mark.parametrize(
    ("value", "price"),
    [
        (Decimal("162.30418745"), Decimal("162.30418745")),
        (Decimal("2.13417802E-5"), Decimal("0.0000213417802")),
        (3, Decimal(3)),
        ("1.5", Decimal("1.5")),
        (None, None),
        (True, None),
        (162.30418745, None),  # a float is never money: the client reads prices as Decimal
        (Decimal(0), None),
        (Decimal("-1"), None),
        (Decimal("NaN"), None),
        (Decimal("1E+13"), None),
        ("cheap", None),
        ({"usd": 1}, None),
    ],
)
def test_parse_price_is_strict(value, price):
    parsed = tokens.parse_price(value)
    assert parsed == price
    assert parsed is None or isinstance(parsed, Decimal)
