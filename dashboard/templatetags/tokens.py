"""Order-card pieces as tags rather than includes (lists can hold hundreds of cards)."""

import functools
from html import escape
from urllib.parse import quote

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.safestring import mark_safe

from dashboard import encoding
from dashboard.orders import Holding, OrderView
from dashboard.templatetags.display import amount
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
# Built with `html.escape` and `mark_safe` rather than `format_html`: these run once per card of
# long lists. Every value from Jupiter (symbols, mints, icon URLs) is escaped.


@register.simple_tag
@functools.lru_cache(maxsize=1024)  # a list shows the same few tokens on every card
def token_logo(token: Token) -> str:
    """The token's https: logo (the only kind `tokens.parse_token` keeps, and the CSP's img-src
    allows), or its first letter in a circle; decorative either way."""
    if token.icon:
        return mark_safe(  # noqa: S308 - the URL is escaped
            f'<img class="logo" src="{escape(token.icon)}" alt="" width="20" height="20" loading="lazy" '
            'referrerpolicy="no-referrer">'
        )
    return mark_safe(f'<span class="logo placeholder" aria-hidden="true">{escape(token.symbol[:1])}</span>')  # noqa: S308


def _token_name(token: Token) -> str:
    """Logo and symbol (the mint in its tooltip), and the "unverified token" mark when Jupiter says so."""
    mark = (
        f' <span class="unverified" title="{UNVERIFIED_HINT}">unverified token</span>'
        if token.verified is False
        else ""
    )
    return (
        f'{token_logo(token)}<span class="symbol" title="Mint {escape(token.mint)}">{escape(token.symbol)}</span>{mark}'
    )


@register.simple_tag
def pair_heading(order: OrderView) -> str:
    """The order card's heading: both tokens with their logos, read aloud as "USDC to SOL"."""
    return mark_safe(  # noqa: S308 - every value from Jupiter is escaped
        f'<h3 id="order-{escape(order.order_key)}" class="pair">{_token_name(order.input_token)} '
        '<span aria-hidden="true">→</span><span class="visually-hidden">to</span> '
        f"{_token_name(order.output_token)}</h3>"
    )


@register.simple_tag
def token_ids(order: OrderView) -> str:
    """Each token's mint address behind a tap (`<details>`): the whole address, a copy button and
    the explorer's page of the mint. On Solana only the mint says which token it is."""
    return mark_safe(  # noqa: S308 - every value from Jupiter is escaped
        f'<div class="mints">{_mint_details(order.input_token)}{_mint_details(order.output_token)}</div>'
    )


@functools.lru_cache(maxsize=1024)  # the same few tokens on every card of a list
def _mint_details(token: Token) -> str:
    unverified = token.verified is False
    mint, symbol = escape(token.mint), escape(token.symbol)
    url = escape(settings.EXPLORER_ACCOUNT_URL.format(token.mint))
    return (
        f'<details class="mint{" unverified" if unverified else ""}"><summary>{symbol} '
        f'<span class="visually-hidden">mint address</span><code title="{mint}">'
        f"{escape(encoding.short_address(token.mint))}</code></summary>"
        + (f'<p class="unverified-hint">{UNVERIFIED_HINT}</p>' if unverified else "")
        + f'<p><code class="mint-address">{mint}</code></p>'
        f'<p><button type="button" class="button secondary small" data-copy="{mint}" '
        f'data-copied="{symbol} mint address copied." data-failed="Could not copy: select the address above and '
        f'copy it.">Copy address</button> <a href="{url}" rel="noopener noreferrer" target="_blank">Token page on '
        f"{escape(settings.EXPLORER_NAME)}</a></p></details>"
    )


# After an amount of a Token-2022 token that comes back: the wallet's approval names what arrives.
_FEE_CAVEAT = ' <span class="fee-caveat">(less any transfer fee the token itself charges)</span>'


def _back_item(held: Holding) -> str:
    """One line of what comes back: the amount, what it is, its value today, and for a Token-2022
    token the caveat of its own transfer fee."""
    caveat = _FEE_CAVEAT if held.token.may_charge_transfer_fee else ""
    if held.amount is None:
        return f"<li>the {escape(held.token.symbol)} {escape(held.words)}{caveat}</li>"
    usd = f'<span class="usd">{escape(held.usd_text)}</span>'
    return f"<li><strong>{amount(held.amount)}</strong> {escape(held.words)} {usd}{caveat}</li>"


@register.simple_tag
def cancel_now(order: OrderView) -> str:
    """ "If you cancel now", the same words on an active card and in its cancel confirmation: what
    comes back with the cancel (`order.cancel_now.back`), what is in the wallet already and stays
    there, each valued at today's price, and the rent. A stopped DCA v2 order: what its refund
    gives back."""
    now = order.cancel_now
    stopped = order.dca is not None and order.dca.state == "withdrawing"
    items = "".join(_back_item(h) for h in now.back)
    rent = now.rent_words[:1].upper() + now.rent_words[1:]
    held = now.in_wallet
    in_wallet = (
        f'<p class="in-wallet">Already in your wallet, and it stays there: <strong>{amount(held.amount)}</strong> '
        f'{escape(held.words)} <span class="usd">{escape(held.usd_text)}</span>.</p>'
        if held is not None
        else ""
    )
    total = (
        f'<p class="hint">In all, {now.back_usd_text} at today\'s price comes back'
        f"{' (before transfer fees)' if any(h.token.may_charge_transfer_fee for h in now.back) else ''}.</p>"
        if now.back_usd_text and len(now.back) > 1
        else ""
    )
    return mark_safe(  # noqa: S308 - every value from Jupiter is escaped (amounts by `amount`)
        f'<div class="cancel-now"><p class="value-title">'
        f"{'When you approve the refund' if stopped else 'If you cancel now'}</p>"
        f"<p>Back to your wallet with the {'refund' if stopped else 'cancel'}:</p>"
        f'<ul class="refund">{items}<li>{rent} (what Solana kept aside for the order)</li></ul>{in_wallet}{total}</div>'
    )
