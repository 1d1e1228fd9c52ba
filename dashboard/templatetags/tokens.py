"""Order-card pieces as tags rather than includes (lists can hold hundreds of cards)."""

import functools
from urllib.parse import quote

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.html import format_html

from dashboard import encoding
from dashboard.orders import OrderView
from dashboard.tokens import Token

register = template.Library()
register.filter("short_address", encoding.short_address)  # {{ address|short_address }}: "EPjF…Dt1v"

# Stands in for the order key in a URL reversed once per name (an order key of the nil UUID
# shape, as the path converter accepts only the shapes of real order keys).
_KEY = "00000000-0000-0000-0000-000000000000"


@functools.cache
def _order_url_pattern(name: str) -> str:
    return reverse(name, args=[_KEY])


@register.simple_tag
def order_url(name: str, order_key: str) -> str:
    """`{% url name order_key %}` without resolving the URL again for every card of a long list."""
    return _order_url_pattern(name).replace(_KEY, quote(order_key, safe=""))


UNVERIFIED_HINT = "Jupiter has not verified this token: its symbol may copy another token's. Check its mint address."


@register.simple_tag
def token_logo(token: Token) -> str:
    """The token's https: logo (the only kind `tokens.parse_token` keeps, and the CSP's img-src
    allows), or its first letter in a circle; decorative either way."""
    if token.icon:
        return format_html(
            '<img class="logo" src="{}" alt="" width="20" height="20" loading="lazy" referrerpolicy="no-referrer">',
            token.icon,
        )
    return format_html('<span class="logo placeholder" aria-hidden="true">{}</span>', token.symbol[:1])


def _token_name(token: Token) -> str:
    """Logo and symbol (the mint in its tooltip), and the "unverified token" mark when Jupiter says so."""
    mark = ""
    if token.verified is False:
        mark = format_html(' <span class="unverified" title="{}">unverified token</span>', UNVERIFIED_HINT)
    return format_html(
        '{}<span class="symbol" title="Mint {}">{}</span>{}', token_logo(token), token.mint, token.symbol, mark
    )


@register.simple_tag
def pair_heading(order: OrderView) -> str:
    """The order card's heading: both tokens with their logos, read aloud as "USDC to SOL"."""
    return format_html(
        '<h3 id="order-{}" class="pair">{} <span aria-hidden="true">→</span>'
        '<span class="visually-hidden">to</span> {}</h3>',
        order.order_key,
        _token_name(order.input_token),
        _token_name(order.output_token),
    )


@register.simple_tag
def token_ids(order: OrderView) -> str:
    """Each token's mint address behind a tap (`<details>`): the whole address, a copy button and
    the explorer's page of the mint. On Solana only the mint says which token it is."""
    return format_html(
        '<div class="mints">{}{}</div>', _mint_details(order.input_token), _mint_details(order.output_token)
    )


def _mint_details(token: Token) -> str:
    warning = format_html('<p class="unverified-hint">{}</p>', UNVERIFIED_HINT) if token.verified is False else ""
    return format_html(
        '<details class="mint{}"><summary>{} <span class="visually-hidden">mint address</span>'
        '<code title="{}">{}</code></summary>{}<p><code class="mint-address">{}</code></p>'
        '<p><button type="button" class="button secondary small" data-copy="{}" data-copied="{} mint address copied."'
        ' data-failed="Could not copy: select the address above and copy it.">Copy address</button> '
        '<a href="{}" rel="noopener noreferrer" target="_blank">Token page on {}</a></p></details>',
        " unverified" if token.verified is False else "",
        token.symbol,
        token.mint,
        encoding.short_address(token.mint),
        warning,
        token.mint,
        token.mint,
        token.symbol,
        settings.EXPLORER_ACCOUNT_URL.format(token.mint),
        settings.EXPLORER_NAME,
    )
