"""Order-card pieces as tags rather than includes (lists can hold hundreds of cards)."""

import functools
from html import escape
from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe

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
        return mark_safe(  # noqa: S308 - the URL is escaped
            f'<img class="logo" src="{escape(token.icon)}" alt="" width="20" height="20" loading="lazy" '
            'referrerpolicy="no-referrer">'
        )
    return mark_safe(f'<span class="logo placeholder" aria-hidden="true">{escape(token.symbol[:1])}</span>')  # noqa: S308


@register.simple_tag
def pair_heading(order: OrderView) -> str:
    """The order card's heading: both tokens with their logos, read aloud as "USDC to SOL".
    Built with `html.escape` rather than `format_html`: it runs once per card of long lists."""
    return mark_safe(  # noqa: S308 - every value from Jupiter is escaped
        f'<h3 id="order-{escape(order.order_key)}" class="pair">{token_logo(order.input_token)}'
        f'{escape(order.input_token.symbol)} <span aria-hidden="true">→</span>'
        f'<span class="visually-hidden">to</span> {token_logo(order.output_token)}'
        f"{escape(order.output_token.symbol)}</h3>"
    )
