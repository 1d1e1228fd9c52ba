"""Sandbox mode only: each answer says how much CPU time the dashboard's process spent on it.

`Server-Timing: cpu;dur=<ms>, wall;dur=<ms>` — the worker process's CPU time (`time.process_time`:
every thread of it, so the page threads fetching a list's other pages count too) and the wall-clock
time from the outermost middleware in to the rendered answer out. `make bench` reads it to hold the
dashboard's own work to its goals on CPU time, which a machine busy with other work inflates far
less than wall-clock time. Settings add this middleware only when DASHBOARD_SANDBOX is on (never
in production: `manage.py check --deploy` refuses the sandbox there). Process-wide, so it is exact
only while the process serves one request at a time, as the bench's cold panels are.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def server_timing(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        cpu, wall = time.process_time(), time.perf_counter()
        response = get_response(request)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        response["Server-Timing"] = f"cpu;dur={cpu * 1000:.3f}, wall;dur={wall * 1000:.3f}"
        return response

    return middleware
