"""dashboard/tokens.py: metadata and USD prices from the Tokens API (the sandbox over real HTTP on
loopback), prices read exactly and cached for a minute apart from the hours-long metadata."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from solders.keypair import Keypair

from dashboard import tokens
from dashboard.sandbox import control
from dashboard.sandbox import tokens as catalogue

SOL = catalogue.SOL
BONK = catalogue.BONK
USDC = catalogue.USDC


@pytest.mark.django_db(transaction=True)
def test_prices_come_exact_from_the_tokens_api(sandbox_upstream):
    found = tokens.fetch_tokens([SOL, BONK, USDC])
    assert found[SOL].usd_price == catalogue.TOKENS[SOL].usd_price == Decimal("150.2541187355")
    assert found[BONK].usd_price == Decimal("0.0000213417802")  # sent as 2.13417802e-05
    assert all(isinstance(t.usd_price, Decimal) for t in found.values())


@pytest.mark.django_db(transaction=True)
def test_prices_are_cached_for_a_minute_apart_from_metadata(sandbox_upstream):
    first = tokens.get_tokens([SOL, USDC])
    assert first[SOL].usd_price == Decimal("150.2541187355")
    assert control.count_calls("tokens") == 1
    assert tokens.get_tokens([SOL, USDC]) == first
    assert control.count_calls("tokens") == 1  # both cached
    assert tokens.PRICE_CACHE_SECONDS <= 60 < tokens.TOKEN_CACHE_SECONDS
    cache.delete(f"token-price:{SOL}")  # what a minute does to the price, not to the metadata
    again = tokens.get_tokens([SOL, USDC])
    assert control.count_calls("tokens") == 2
    assert again[SOL].usd_price == first[SOL].usd_price
    assert cache.get(f"token-meta:{SOL}").usd_price is None  # metadata never keeps a price


@pytest.mark.django_db(transaction=True)
def test_price_unknown_when_the_tokens_api_fails(sandbox_upstream):
    control.inject_fault("tokens", "500", times=10)
    known = tokens.get_tokens([SOL])
    assert known[SOL].symbol == "SOL"  # the built-in table
    assert known[SOL].usd_price is None  # never a guess
    calls = control.count_calls("tokens")
    tokens.get_tokens([SOL])
    assert control.count_calls("tokens") == calls  # not asked again for a minute


@pytest.mark.django_db(transaction=True)
def test_a_failed_price_service_is_told_apart_from_a_token_without_a_price(sandbox_upstream):
    unknown = str(Keypair().pubkey())  # a mint the Tokens API does not list: no price there
    found = tokens.get_tokens([SOL, unknown])
    assert found[unknown].usd_price is None and not found[unknown].price_unavailable
    assert found[SOL].usd_price is not None and not found[SOL].price_unavailable
    cache.clear()
    control.inject_fault("tokens", "500", times=10)
    down = tokens.get_tokens([SOL, unknown])
    assert down[SOL].usd_price is None and down[SOL].price_unavailable
    assert down[unknown].price_unavailable
    assert tokens.get_tokens([SOL])[SOL].price_unavailable  # the same for the minute it is kept
