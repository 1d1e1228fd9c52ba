"""The dashboard's middleware.

`session_lifetime` ends signed-in sessions older than `SESSION_ABSOLUTE_SECONDS`, however active
they are. The idle timeout is Django's own (`SESSION_COOKIE_AGE`, renewed on every request); this
adds the absolute lifetime, counted from the sign-in time stored in the session.

`BodyLimit` refuses a request body larger than its view takes (`answers.body_limit`, else
`DATA_UPLOAD_MAX_MEMORY_SIZE`) before anything reads it — placed before CSRF's middleware, which
reads the form. Django's own refusal would be an HTML 400 and an ERROR line with a traceback per
request; this is the bridge's JSON shape (`too_large`, 413) and one WARNING line.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from dashboard.answers import declared_length, too_large

SIGNED_IN_AT = "signed_in_at"  # Unix time of the sign-in, stored in the session


def mark_signed_in(request: HttpRequest) -> None:
    """Call right after `login()`: the absolute lifetime starts now."""
    request.session[SIGNED_IN_AT] = int(time.time())


def session_lifetime(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            signed_in_at = request.session.get(SIGNED_IN_AT)
            if not isinstance(signed_in_at, int):
                # Signed in some other way (an older session, a test login): count from now.
                mark_signed_in(request)
            elif time.time() - signed_in_at > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)  # flushes the session; the request goes on signed out
        return get_response(request)

    return middleware


class BodyLimit:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., HttpResponse], args: tuple, kwargs: dict
    ) -> HttpResponse | None:
        limit = getattr(view, "body_limit", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if limit is not None and declared_length(request) > limit:
            return too_large(request, limit)
        return None
