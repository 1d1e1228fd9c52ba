"""Order-card pieces as tags rather than includes (lists can hold hundreds of cards)."""

import functools
from urllib.parse import quote

from django import template
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


@register.simple_tag
def token_logo(token: Token) -> str:
    """The token's https: logo, or its first letter in a circle; decorative either way."""
    if token.icon:
        return format_html(
            '<img class="logo" src="{}" alt="" width="20" height="20" loading="lazy" referrerpolicy="no-referrer">',
            token.icon,
        )
    return format_html('<span class="logo placeholder" aria-hidden="true">{}</span>', token.symbol[:1])


@register.simple_tag
def pair_heading(order: OrderView) -> str:
    """The order card's heading: both tokens with their logos, read aloud as "USDC to SOL"."""
    return format_html(
        '<h3 id="order-{}" class="pair">{}{} <span aria-hidden="true">→</span>'
        '<span class="visually-hidden">to</span> {}{}</h3>',
        order.order_key,
        token_logo(order.input_token),
        order.input_token.symbol,
        token_logo(order.output_token),
        order.output_token.symbol,
    )
