"""Sign-In With Solana, the pure part: the SIWS text, written and read."""

from __future__ import annotations

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
