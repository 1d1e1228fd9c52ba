"""Token logos: one tag instead of an include per logo (lists can hold hundreds of them)."""

from django import template
from django.utils.html import format_html

from dashboard.jupiter import Token

register = template.Library()


@register.simple_tag
def token_logo(token: Token) -> str:
    """The token's https: logo, or its first letter in a circle; decorative either way."""
    if token.icon:
        return format_html(
            '<img class="logo" src="{}" alt="" width="20" height="20" loading="lazy" referrerpolicy="no-referrer">',
            token.icon,
        )
    return format_html('<span class="logo placeholder" aria-hidden="true">{}</span>', token.symbol[:1])
