"""Sign-In With Solana, the pure part: the SIWS text, written and read."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from solders.keypair import Keypair

from dashboard import siws


def test_parse_round_trips():
    fields = siws.SignInFields(
        domain="example.com",
        address=str(Keypair().pubkey()),
        uri="https://example.com/",
        nonce="abcdef1234",
        resources=("https://a.example/", "https://b.example/"),
    )
    assert siws.parse_message(siws.format_message(fields)) == fields


def test_times_without_a_zone_or_unreadable_are_none():
    assert siws.parse_time("2025-01-02T03:04:05Z") == datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert siws.parse_time("2025-01-02T03:04:05") is None
    assert siws.parse_time("yesterday") is None
    assert siws.parse_time(None) is None


@pytest.mark.parametrize("resources", ["Resources:\nhttps://a.example/", "Resources: https://a.example/"])
def test_a_malformed_resources_list_is_not_standard(resources):
    text = siws.format_message(
        siws.SignInFields(domain="example.com", address=str(Keypair().pubkey()), nonce="abcdef12")
    )
    with pytest.raises(siws.SignInError) as refused:
        siws.parse_message(f"{text}\n{resources}")
    assert (refused.value.code, refused.value.status) == ("not_sign_in_text", 400)
