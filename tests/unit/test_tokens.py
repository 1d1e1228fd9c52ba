"""dashboard/tokens.py, pure: `usdPrice` is read strictly, as an exact Decimal or not at all."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dashboard import tokens, upstream


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


def test_the_token_program_is_read_when_the_api_names_it():
    token_2022 = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
    named = tokens.parse_token({"id": "mint", "symbol": "X", "decimals": 6, "tokenProgram": token_2022})
    assert named is not None and named.token_program == token_2022
    unnamed = tokens.parse_token({"id": "mint", "symbol": "X", "decimals": 6})
    assert unnamed is not None and unnamed.token_program == ""


@pytest.mark.parametrize(
    ("answer", "missing"),
    [
        ({"tokens": []}, "a JSON list"),
        ([{"address": "mint", "symbol": "X", "decimals": 6}], "[].id"),  # the Tokens API v1's name
        (["mint"], "[].id"),
    ],
)
def test_a_drifted_search_answer_is_an_error_naming_the_key(answer, missing, caplog):
    with pytest.raises(upstream.UnexpectedShape) as raised:
        tokens.parse_search(answer)
    assert (raised.value.code, raised.value.missing) == ("unexpected_shape", missing)
    assert f"{missing} is missing" in caplog.text


def test_a_search_answer_of_tokens():
    found = tokens.parse_search([{"id": "a", "symbol": "A", "decimals": 6}, {"id": "b", "symbol": "B", "decimals": 9}])
    assert [t.mint for t in found] == ["a", "b"]


@pytest.mark.parametrize(("sent", "verified"), [(True, True), (False, False), (None, None), ("true", None)])
def test_jupiters_verification_flag_is_read_as_sent(sent, verified):
    item = {"id": "mint", "symbol": "X", "decimals": 6}
    if sent is not None:
        item["isVerified"] = sent
    assert tokens.parse_token(item).verified is verified


def test_only_https_icons_are_kept():
    assert tokens.parse_token({"id": "m", "icon": "https://img.example/x.png"}).icon == "https://img.example/x.png"
    for icon in ("http://img.example/x.png", "javascript:alert(1)", "data:image/png;base64,AA", None):
        assert tokens.parse_token({"id": "m", "icon": icon}).icon == ""
