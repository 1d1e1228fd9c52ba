"""dashboard/templatetags/tokens.py: how a token is named on a card — its https: logo or a letter,
its mint behind a tap with a copy button and an explorer link, and Jupiter's "unverified" flag."""

from __future__ import annotations

from dataclasses import replace

from dashboard.recurring_view import describe
from dashboard.templatetags.tokens import cancel_now, pair_heading, token_ids, token_logo
from dashboard.tokens import SPL_2022_PROGRAM, Token
from tests.unit.figures import SOL_MINT, USDC, USDC_MINT, at, make_order

FAKE_WIF = "EKpoZBbTqotit7duLsvE5mGyKYrjuvJD2kmiCJddBJin"


def view(output: Token):
    return describe(make_order(output_mint=output.mint), {output.mint: output}, now=at(2, 12))


def test_a_logo_is_the_https_icon_or_a_letter():
    assert token_logo(Token(USDC_MINT, "USDC", "USD Coin", 6, icon="https://img.example/usdc.png")) == (
        '<img class="logo" src="https://img.example/usdc.png" alt="" width="20" height="20" loading="lazy" '
        'referrerpolicy="no-referrer">'
    )
    assert token_logo(Token(USDC_MINT, "USDC", "USD Coin", 6)) == (
        '<span class="logo placeholder" aria-hidden="true">U</span>'
    )


def test_an_unverified_token_is_marked_and_a_verified_or_unknown_one_is_not():
    fake = Token(FAKE_WIF, "$WIF", "dogwifhat", 6, verified=False)
    heading = pair_heading(view(fake))
    assert heading.count('class="unverified"') == 1
    assert ">unverified token</span>" in heading
    assert f'title="Mint {FAKE_WIF}">$WIF</span>' in heading
    for flag in (True, None):
        assert "unverified" not in pair_heading(view(replace(fake, verified=flag)))


def test_each_mint_is_behind_a_tap_with_copy_and_explorer_link():
    html = token_ids(view(Token(FAKE_WIF, "$WIF<script>", "dogwifhat", 6, verified=False)))
    assert html.count("<details") == 2
    assert f'data-copy="{USDC_MINT}"' in html and f'data-copy="{FAKE_WIF}"' in html
    assert f'href="https://solscan.io/account/{FAKE_WIF}"' in html
    assert '<details class="mint unverified">' in html
    assert "EKpo…BJin" in html  # the short form in the summary, the whole address inside
    assert "<script>" not in html and "$WIF&lt;script&gt;" in html  # token names are untrusted
    assert SOL_MINT not in html


def test_a_token_2022_refund_names_its_own_transfer_fee():
    """What comes back of a Token-2022 token may arrive less the token's transfer fee (the wallet's
    approval names what arrives): the card says so; a plain SPL token's line does not."""
    plain = describe(make_order(), {}, now=at(2, 12))
    assert "transfer fee" not in cancel_now(plain)
    fee_token = replace(USDC, token_program=SPL_2022_PROGRAM)
    view = describe(make_order(), {USDC_MINT: fee_token}, now=at(2, 12))
    html = cancel_now(view)
    first, second = html.split('<ul class="refund">')[1].split("</li>")[:2]
    assert "50 USDC" in first and 'class="fee-caveat"' in first  # the Token-2022 deposit coming back
    assert "0.54 SOL" in second and "fee-caveat" not in second
    assert "(less any transfer fee the token itself charges)" in first  # as the wallet's approval says
