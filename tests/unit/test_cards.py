"""The order cards built in Python (`{% order_cards %}`, dashboard/templatetags/cards.py): what
Jupiter sends is escaped on every line of a card, and each kind of card gets its own parts."""

from __future__ import annotations

from dataclasses import replace

from django.template import engines

from dashboard.recurring_view import describe
from tests.unit.figures import SOL, SOL_MINT, USDC, USDC_MINT, at, make_order, priced

CARDS = engines["django"].from_string("{% load cards %}{% order_cards orders %}")
MARKUP = '<b onclick="x()">U&S\'</b>'


def cards(*views) -> str:
    return CARDS.render({"orders": list(views), "explorer": "Solscan"})


def test_a_token_symbol_with_markup_is_escaped_wherever_the_card_shows_it():
    tokens = {USDC_MINT: replace(USDC, symbol=MARKUP), SOL_MINT: SOL}  # no prices: "price unknown" too
    html = cards(describe(make_order(order_key="<KEY>"), tokens, now=at(2, 12)))
    assert "<b " not in html and "<KEY>" not in html and 'onclick="' not in html
    escaped = "&lt;b onclick=&quot;x()&quot;&gt;U&amp;S&#x27;&lt;/b&gt;"
    # the heading, the schedule, the two USDC amounts, the average price, the price-unknown words,
    # and more (the token's identity, "If you cancel now", the cancel button's name)
    assert html.count(escaped) >= 6
    assert 'data-order="&lt;KEY&gt;"' in html and 'id="cancel-&lt;KEY&gt;"' in html
    assert "/orders/%3CKEY%3E/cancel" in html  # the key percent-encoded in its URLs


def test_each_kind_of_card_has_its_own_parts():
    tokens = {USDC_MINT: priced(USDC, "1"), SOL_MINT: priced(SOL, "150")}
    active = describe(make_order(order_key="ACTIVE1"), tokens, now=at(2, 12))
    spent = describe(
        make_order(order_key="SPENT1", raw_in_used=150_000_000, fills=()), tokens, now=at(2, 12)
    )  # nothing left to buy with
    closed = describe(
        make_order(order_key="CLOSED1", status="history", user_closed=True, raw_in_withdrawn=50_000_000),
        tokens,
        now=at(3),
    )
    html = cards(active, spent, closed)
    items = html.split("<li>\n<article")[1:]  # a card's own lists have <li>s too
    assert len(items) == 3 and html.startswith('<ul class="orders" role="list">')
    first, second, third = items
    assert 'data-system="v1"' in first and 'class="order"' in first
    assert 'id="cancel-ACTIVE1"' in first and '<progress max="100" value="66"' in first
    assert 'class="value loss"' in first  # 100 USDC spent for 0.54 SOL, worth 81 USD today
    assert "No more buys scheduled." in second and "no buys yet" in second
    assert 'class="order closed"' in third and 'class="badge muted"' in third
    assert "cancel-CLOSED1" not in third and "<progress" not in third and 'class="next"' not in third


def test_a_price_unknown_on_one_side_names_that_token():
    tokens = {USDC_MINT: priced(USDC, "1"), SOL_MINT: SOL}
    html = cards(describe(make_order(), tokens, now=at(2, 12)))
    assert "Jupiter has no price for SOL, so" in html
    assert 'class="value "' in html  # no direction without both prices
