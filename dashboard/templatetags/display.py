"""How figures and times appear in the page: amounts with their full precision in a tooltip,
and times the browser rewrites into the trader's own time zone (static/js/times.js)."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from html import escape

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from dashboard import messages
from dashboard.formatting import Amount, usd_text

register = template.Library()
register.filter("usd", usd_text)  # {{ value|usd }}: "$1,234.57"

# The server writes UTC; times.js replaces the text with the browser's zone and names it.
_FORMATS = {
    "datetime": "{day} %b %Y, %H:%M UTC",
    "date": "{day} %b %Y",
    "time": "%H:%M:%S UTC",
    "clock": "%H:%M UTC",
}


@register.simple_tag
def words(code: str) -> str:
    """`{% words "earn_not_here" %}`: the trader's words for a code (`dashboard.messages`), so a
    card says exactly what the server answers when asked anyway. Escaped like any text."""
    return messages.words(code)


@register.simple_tag
def amount(value: Amount | None, missing: str = "—") -> str:
    """`<span class="amount">1.23457 SOL</span>`, with every digit in a tooltip when rounded."""
    return missing if value is None else SafeString(amount_html(value))


def amount_html(value: Amount) -> str:
    """The `amount` tag's HTML (html.escape rather than format_html: a list shows three amounts
    per card, hundreds of cards)."""
    if value.is_rounded:
        return f'<span class="amount" title="{escape(value.exact)}">{escape(value.text)}</span>'
    return f'<span class="amount">{escape(value.text)}</span>'


@register.simple_tag
def when(moment: datetime | None, style: str = "datetime") -> str:
    """`<time datetime="2026-12-03T13:05:00Z" data-format="datetime">3 Dec 2026, 13:05 UTC</time>`;
    styles "datetime", "date", "time" (with seconds) and "clock" (hours and minutes)."""
    return "" if moment is None else SafeString(when_html(moment, style))


def when_html(moment: datetime, style: str = "datetime") -> str:
    """The `when` tag's HTML: digits, English month names, ":", "," and "UTC", nothing to escape
    (a list shows hundreds)."""
    utc = moment.astimezone(dt_timezone.utc)
    text = utc.strftime(_FORMATS[style].format(day=utc.day))  # a known style only (KeyError otherwise)
    return f'<time datetime="{utc:%Y-%m-%dT%H:%M:%SZ}" data-format="{style}">{text}</time>'


@register.simple_tag
def when_cell(moment: datetime | None) -> str:
    """A table cell's time on two short lines, date then clock (narrow columns on phones)."""
    if moment is None:
        return ""
    return format_html("{}{}", when(moment, "date"), when(moment, "clock"))


@register.filter
def is_past(moment: datetime | None) -> bool:
    """Whether this moment has passed: a next buy then reads "due now", never a time gone by."""
    return moment is not None and moment <= timezone.now()


@register.filter
def ago(moment: datetime | None) -> str:
    """ "just now" under a minute, else "2 minutes ago", "3 hours, 5 minutes ago"."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"
