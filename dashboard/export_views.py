"""The exports for taxes: every deposit, fill and refund of the wallet's orders as one streamed
file."""

from __future__ import annotations

from datetime import datetime
from datetime import timezone as dt_timezone

from django.http import HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from dashboard import dca_auth, exports, tracking
from dashboard.answers import SLOW_DOWN_SECONDS, HtmxHttpRequest, wallet_required
from dashboard.forms import ExportForm
from dashboard.views import board_for, dca_access_after, lists_limited


@wallet_required
@lists_limited
def orders_export(request: HtmxHttpRequest) -> HttpResponse:
    """Every deposit, fill and refund of the wallet's orders (both systems, active and closed) as
    one file: plain CSV (also `;`-separated), Koinly or CoinTracker, all years or one (UTC),
    streamed. Past the list limit, or while Jupiter fails, what was last seen, said in the file
    name (and the plain CSV's first line); when nothing is known of a list, no file: 429 with
    Retry-After when the limit starved it, else 503."""
    wallet = request.user.username
    form = ExportForm(request.GET, today=timezone.now().date())
    if not form.is_valid():
        return TemplateResponse(request, "orders/export_unavailable.html", {"message": form.first_error()}, status=400)
    fmt, year = form.cleaned_data["format"], form.cleaned_data["year"]
    access = dca_auth.access(wallet)
    if getattr(request, "limited", False):
        boards = [board_for(request, status, access) for status in tracking.STATUSES]
    else:
        boards = tracking.list_boards(wallet, access.token or None)
    for board in boards:
        access = dca_access_after(request, board, access)
    # v2 lists this session cannot read (not connected, or Jupiter refused the token) add what was
    # last seen of them, if anything; the others must be known.
    listings = [listing for board in boards for listing in (board.v1, board.v2)]
    unknown = [listing for listing in listings if listing.problem and not listing.as_of and not listing.needs_connect]
    if unknown:  # nothing known about one of the lists: an export would be incomplete
        limited = any(listing.rate_limited for listing in unknown)
        response = TemplateResponse(
            request, "orders/export_unavailable.html", {"listing": unknown[0]}, status=429 if limited else 503
        )
        if limited:
            response["Retry-After"] = str(SLOW_DOWN_SECONDS)
        return response
    views = tracking.describe([o for board in boards for o in board.orders])
    every = exports.ledger(views, exports.cancel_fees(wallet))
    rows = [row for row in every if year is None or row.when.year == year]
    if year is not None and not rows:  # an empty year gets words, not a file with a header alone
        context = {"year": year, "years": exports.years(every), "fmt": fmt}
        return TemplateResponse(request, "orders/export_empty.html", context)
    stale = [listing for listing in listings if listing.problem and listing.as_of]
    as_of = min((listing.as_of for listing in stale), default=None)
    note = export_note(as_of, stale[0].problem) if as_of is not None else ""
    response = StreamingHttpResponse(exports.lines(fmt, rows, note), content_type="text/csv; charset=utf-8")
    name = exports.file_name(wallet, fmt, year, timezone.now(), as_of)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def export_note(as_of: datetime, problem: str) -> str:
    """The first line of a plain export made from last-known data, in plain words."""
    return (
        f"# Last-known orders as of {as_of.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M} UTC. {problem} "
        "Anything after that time is missing: download again later for a complete file."
    )
