"""The list of order cards, `{% order_cards orders %}`: one `<li>` per `OrderView`, built in Python.

A list can hold hundreds of cards, and Django's template engine costs about a quarter of a
millisecond per card (every variable looked up, localized and escaped, every `{% if %}` and tag
node run): most of the dashboard's own work on a long cold list. Here a card is one f-string with
every value from Jupiter `html.escape`d — the way `pair_heading`, `amount` and `when` already build
their HTML. The sections of a card, top to bottom: heading and schedule, v2's own lines
(`orders/_dca.html#lines`), progress, amounts, value at today's price, when it buys next and last,
dates and links, the timeline's summary (its events load on request), and for active orders the
cancel button (its no-JS fallback is a GET form to the confirmation page) or v2's actions. What
only a Jupiter DCA (v2) order shows stays in `orders/_dca.html`'s partials, rendered for those
cards only (a wallet has at most ten active ones).
"""

from __future__ import annotations

from html import escape

from django import template
from django.template.context import Context
from django.utils.safestring import SafeString, mark_safe

from dashboard.formatting import Amount
from dashboard.orders import OrderView
from dashboard.templatetags.display import amount_html, is_past, when_html
from dashboard.templatetags.tokens import cancel_now, order_url, pair_heading, token_ids

register = template.Library()

DCA_PARTS = "orders/_dca.html#"


@register.simple_tag(takes_context=True)
def order_cards(context: Context, orders: list[OrderView]) -> SafeString:
    explorer = escape(str(context.get("explorer", "")))
    listing = context.get("listing")
    retired = bool(getattr(listing, "retired", False))  # v1 switched off: its orders as last seen
    cards = [_card(context, o, explorer, retired) for o in orders]
    return mark_safe(f'<ul class="orders" role="list">\n{"".join(cards)}</ul>\n')  # noqa: S308 - escaped in _card


def _dca_part(context: Context, name: str, order: OrderView) -> str:
    """One of `orders/_dca.html`'s partials for this (v2) card."""
    part = context.template.engine.get_template(DCA_PARTS + name)
    with context.push(o=order):
        return part.render(context)


def _card(context: Context, o: OrderView, explorer: str, retired: bool) -> str:
    key = escape(o.order_key)
    active = o.is_active
    progress = o.progress
    funds = o.funds
    parts = [
        f'<li>\n<article class="order{"" if active else " closed"}" data-order="{key}" '
        f'data-system="{o.system!s}" aria-labelledby="order-{key}">\n'
        f'  <header class="order-head">\n    {pair_heading(o)}\n    '
    ]
    if active:
        parts.append(f'<p class="schedule">{escape(o.schedule)}</p>')
    else:
        badge = "ok" if o.status_words == "Completed" else "muted"
        parts.append(f'<p class="badge {badge}">{escape(o.status_words)}</p>')
    state = ""
    if o.dca and active and o.dca.state != "active":
        state = f' · <span class="state">{escape(o.status_words)}</span>'
    elif not o.dca and retired:
        state = ' · <span class="state">as last seen</span>'
    parts.append(
        f'\n    <p class="system-label">{escape(str(o.system.label))}{state}</p>\n    {token_ids(o)}\n  </header>\n'
    )
    if o.dca:
        parts.append(_dca_part(context, "lines", o))
    if active:
        parts.append(
            '  <div class="progress">\n'
            f"    <p>{progress.done} of {progress.total} buys done ({progress.percent}%)</p>\n"
            f'    <progress max="100" value="{progress.percent}" aria-label="{progress.percent}% of the deposit spent">'
            f"{progress.percent}%</progress>\n  </div>\n"
        )
    else:
        parts.append(
            f'  <p class="schedule">{escape(o.schedule)} · {progress.done} of {progress.total} buys done</p>\n'
        )
    sell = o.is_sell
    if o.average_price:
        price = escape(o.average_price)
        if o.price_now:
            price += f' <span class="now">· now {escape(o.price_now)}</span>'
    else:
        price = "Nothing sold yet" if sell else "No buys yet"
    not_yet = "Returned to you" if not active else "Not yet sold" if sell else "Not yet spent"
    parts.append(
        '  <dl class="figures">\n'
        f"    <div><dt>{'Sold' if sell else 'Spent'}</dt><dd>{_amount(funds.spent)}</dd></div>\n"
        f"    <div><dt>{not_yet}</dt>"
        f"<dd>{_amount(funds.remaining if active else funds.withdrawn_in)}</dd></div>\n"
        f'    <div><dt>Received <span class="dt-note">(after Jupiter\'s fee)</span></dt>'
        f"<dd>{_amount(funds.received)}</dd></div>\n"
        f"    <div><dt>Average price</dt><dd>{price}</dd></div>\n"
        "  </dl>\n"
    )
    parts.append(_value(o))
    if active and (o.dca is None or o.dca.state != "depositing"):
        parts.append(f"  {cancel_now(o)}\n")
    if active:
        parts.append(_dca_part(context, "next", o) if o.dca else _next_buy(o))
    if o.dca:
        parts.append(_dca_part(context, "meta", o))
    else:
        closed = ""
        if o.closed_at:
            closed = f" · {'cancelled' if o.is_cancelled else 'closed'} {when_html(o.closed_at)}"
        parts.append(
            f'  <p class="meta">Created {when_html(o.created_at)}{closed} ·\n'
            f'    <a href="{escape(o.order_url)}" rel="noopener noreferrer" target="_blank">'
            f"Order account on {explorer}</a></p>\n"
        )
    fills_url = order_url("order_fills", o.order_key)  # the key percent-encoded: nothing left to escape
    count = o.fill_count
    fills = f"{count} buy{'' if count == 1 else 's'}" if count else "no buys yet"
    parts.append(
        f'  <details class="fills" hx-get="{fills_url}" hx-trigger="toggle once" hx-target="find .fills-body" '
        'hx-swap="innerHTML">\n'
        f"    <summary>Timeline of this order ({fills})</summary>\n"
        f'    <div class="fills-body"><p><a href="{fills_url}">See the whole timeline of this order</a></p></div>\n'
        "  </details>\n"
    )
    if o.dca:
        parts.append(_dca_part(context, "rounds", o))
        if active:
            parts.append(_dca_part(context, "actions", o))
    elif active and retired:
        parts.append(
            f'  <div class="actions" id="cancel-{key}">\n'
            '    <p class="hint">Jupiter no longer answers for its older orders here: manage this one on '
            '<a href="https://jup.ag/" rel="noopener noreferrer" target="_blank">jup.ag</a>.</p>\n  </div>\n'
        )
    elif active:
        confirm_url = order_url("cancel_confirm", o.order_key)
        parts.append(
            f'  <div class="actions" id="cancel-{key}">\n'
            f'    <form class="cancel-open" method="get" action="{confirm_url}" hx-get="{confirm_url}" '
            f'hx-target="#cancel-{key}" hx-swap="innerHTML">\n'
            f'      <button type="submit" class="button danger" aria-label="Cancel this order: {escape(o.pair)}, '
            f'{escape(o.schedule)}">Cancel this order</button>\n'
            "    </form>\n  </div>\n"
        )
    parts.append("</article></li>\n")
    return "".join(parts)


def _amount(value: Amount | None) -> str:
    return "—" if value is None else amount_html(value)


def _value(o: OrderView) -> str:
    """What the order is worth at today's price."""
    value = o.value
    spent = o.funds.spent
    sell = o.is_sell
    if spent is not None and spent.is_zero:
        inner = f'    <p class="value-words">Nothing {"sold" if sell else "bought"} yet.</p>\n'
    elif value.known:
        direction = value.direction
        label = {"loss": "Loss", "gain": "Gain"}.get(direction, "Gain or loss")
        given, got = (
            ("What you sold is worth", "What you received is worth") if sell else ("Spent", "What you bought is worth")
        )
        inner = (
            '    <dl class="value-figures">\n'
            f"      <div><dt>{given}</dt><dd>{escape(value.spent_text)}</dd></div>\n"
            f"      <div><dt>{got}</dt><dd>{escape(value.worth_text)}</dd></div>\n"
            f'      <div><dt>{label}</dt><dd class="gain">{escape(value.gain_text)}</dd></div>\n'
            "    </dl>\n"
        )
    elif o.input_token.price_unavailable or o.output_token.price_unavailable:
        inner = (
            '    <p class="value-words">Prices unavailable right now, so we do not guess its value; it shows again '
            "once Jupiter's prices are back.</p>\n"
        )
    else:
        given, wanted = o.input_token, o.output_token
        if given.usd_price is None and wanted.usd_price is None:
            unknown = f"{escape(given.symbol)} or {escape(wanted.symbol)}"
        else:
            unknown = escape(given.symbol if given.usd_price is None else wanted.symbol)
        inner = (
            f'    <p class="value-words">Price unknown: Jupiter has no price for {unknown}, '
            "so we do not guess its value.</p>\n"
        )
    return (
        f'  <div class="value {value.direction}">\n    <p class="value-title">At today\'s price</p>\n{inner}  </div>\n'
    )


def _next_buy(o: OrderView) -> str:
    """When an active v1 order buys next, and last (our estimates)."""
    if not o.next_cycle:
        return '  <p class="next">No more buys scheduled.</p>\n'
    left = o.progress.left
    last = ""
    if o.last_buy and left > 1:
        last = f" · last buy: about {when_html(o.last_buy)} ({left} buys left)"
    elif left == 1:
        last = " — the last one"
    due = "due now" if is_past(o.next_cycle) else f"about {when_html(o.next_cycle)}"
    return (
        f'  <p class="next">Next buy: {due}{last} '
        '<span class="hint">(estimates — Jupiter\'s keepers may run a little later)</span></p>\n'
    )
