"""Where a cold orders panel's time goes: the real view, in this process, profiled with pyinstrument.

A fresh wallet per run (nothing of it cached) with 50 or 200 Recurring v1 orders, alone or beside a
connected Jupiter DCA v2 list, viewed through Django's test client (every middleware, the session,
the view, the templates) against the sandbox served by its own gunicorn. The request's thread and
every page-fetching thread are sampled (pyinstrument, one profiler per thread); each sample is put
in the stage of the deepest marker on its stack, so `Amount.text` called by a template tag counts
as rendering, and a Tokens API call made while describing counts as a Jupiter call.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, TypeVar

from bench.report import Table, median
from bench.server import Server

T = TypeVar("T")
RUNS = 3
SIZES = (50, 200)
INTERVAL = 0.0005  # seconds between samples

# (stage, file name ending, function names); a sample belongs to the deepest marker on its stack.
MARKERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Jupiter calls (network, HTTP, JSON)", "dashboard/upstream.py", ("call",)),
    ("snapshot parsing (JSON → dataclasses)", "dashboard/recurring.py", ("parse_orders_page", "parse_order")),
    ("snapshot parsing (JSON → dataclasses)", "dashboard/trigger.py", ("parse_page", "parse_order")),
    ("tracking writes (upsert, retire)", "dashboard/tracking.py", ("_record", "retire", "record", "record_dca")),
    ("cache (pages, locks, counters)", "dashboard/tracking.py", ("panel_key", "store_panel", "cached_panel")),
    ("token look-ups", "dashboard/tokens.py", ("get_tokens",)),
    ("describing (figures, sentences)", "dashboard/tracking.py", ("describe",)),
    ("template rendering", "django/template/response.py", ("render",)),
    ("waiting for page threads", "concurrent/futures/_base.py", ("result", "result_iterator")),
)
REST = "the rest (middleware, session, auth, access)"
STAGES = [*dict.fromkeys(stage for stage, _file, _functions in MARKERS), REST]


def stage_of(stack: list[str]) -> str:
    """The stage of one sample: its stack's deepest frame that is a marker."""
    for identifier in reversed(stack):
        function, _, rest = identifier.partition("\x00")
        path = rest.partition("\x00")[0]
        for stage, ending, functions in MARKERS:
            if function in functions and path.endswith(ending):
                return stage
    return REST


def by_stage(sessions: list[Any]) -> dict[str, float]:
    """Milliseconds per stage over these pyinstrument sessions."""
    spent: dict[str, float] = defaultdict(float)
    for session in sessions:
        for stack, seconds in session.frame_records:
            spent[stage_of(stack)] += seconds * 1000
    return spent


@contextmanager
def profiled_threads(sessions: list[Any]):
    """Every page thread `tracking.in_own_thread` starts is profiled too, its session kept."""
    from pyinstrument import Profiler

    from dashboard import tracking

    plain = tracking.in_own_thread

    def profiling(work: Callable[..., Any]) -> Callable[..., Any]:
        inner = plain(work)
        caller = threading.current_thread()  # already profiled

        def run(*args: Any) -> Any:
            if threading.current_thread() is caller:
                return inner(*args)
            profiler = Profiler(interval=INTERVAL, async_mode="disabled")
            profiler.start()
            try:
                return inner(*args)
            finally:
                profiler.stop()
                sessions.append(profiler.last_session)

        return run

    tracking.in_own_thread = profiling
    try:
        yield
    finally:
        tracking.in_own_thread = plain


def connect(client, keypair) -> None:
    """Connect the session to Jupiter's DCA as the page does (not profiled)."""
    reply = client.post("/orders/dca/challenge", json.dumps({"type": "message"}), content_type="application/json")
    text = reply.json()["challenge"].encode()
    body = {
        "type": "message",
        "signedMessage": base64.b64encode(text).decode(),
        "signature": base64.b64encode(bytes(keypair.sign_message(text))).decode(),
    }
    if client.post("/orders/dca/verify", json.dumps(body), content_type="application/json").status_code != 200:
        raise RuntimeError("connecting to the sandbox's DCA failed")


def cold_panel(server: Server, size: int, with_v2: bool) -> tuple[float, dict[str, float], dict[str, float]]:
    """One cold panel: wall ms, ms per stage in the request's thread, and in the page threads."""
    from django.test import Client
    from pyinstrument import Profiler
    from solders.keypair import Keypair

    from dashboard import siws

    keypair = Keypair()
    wallet = str(keypair.pubkey())
    server.seed(wallet, size)
    client = Client(HTTP_HOST="localhost")
    client.force_login(siws.get_wallet_user(wallet))
    if with_v2:
        connect(client, keypair)
    threads: list[Any] = []
    profiler = Profiler(interval=INTERVAL)
    with profiled_threads(threads):
        profiler.start()
        started = time.perf_counter()
        reply = client.get("/orders/active", HTTP_HX_REQUEST="true")
        wall = (time.perf_counter() - started) * 1000
        profiler.stop()
    if reply.status_code != 200 or reply.content.count(b'data-system="v1"') != size:
        raise ShortPanel(f"the profiled panel did not show the {size} orders")
    return wall, by_stage([profiler.last_session]), by_stage(threads)


def retried(run: Callable[[], T], tries: int = 3) -> T:
    """`run()`, again (with a new wallet) when a page did not come back and the panel was short."""
    for attempt in range(tries):
        try:
            return run()
        except ShortPanel:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


class ShortPanel(RuntimeError):
    """The profiled panel did not show every order (a page failed to come back)."""


def measure_profile(server: Server, latency_ms: int) -> Table:
    from django.test import override_settings

    table = Table(
        "Where a cold panel's time goes (pyinstrument; median ms per stage)",
        [
            "stage",
            *(f"{size} v1{' + v2' if v2 else ''}: request / page threads" for size in SIZES for v2 in (False, True)),
        ],
    )
    server.control("reset")
    server.control("latency", ms=latency_ms)
    columns = []
    walls = []
    sandbox = f"{server.sandbox_url}/sandbox"
    with override_settings(
        ALLOWED_HOSTS=["localhost"],
        JUPITER_API_URL=f"{sandbox}/recurring/v1",
        JUPITER_TOKENS_URL=f"{sandbox}/tokens/v2",
        JUPITER_TRIGGER_API_URL=f"{sandbox}/trigger/v2",
    ):
        cold_panel(server, 10, with_v2=True)  # token metadata, connections and code warm, as in a running server
        for size in SIZES:
            for with_v2 in (False, True):
                runs = [retried(lambda s=size, v=with_v2: cold_panel(server, s, v)) for _ in range(RUNS)]
                walls.append(median([wall for wall, _request, _threads in runs]))
                columns.append(
                    {
                        stage: (
                            median([request.get(stage, 0.0) for _wall, request, _threads in runs]),
                            median([threads.get(stage, 0.0) for _wall, _request, threads in runs]),
                        )
                        for stage in STAGES
                    }
                )
    for stage in STAGES:
        table.add(stage, *(f"{column[stage][0]:.1f} / {column[stage][1]:.1f}" for column in columns))
    table.add("whole request (wall, unprofiled overhead included)", *(f"{wall:.0f}" for wall in walls))
    table.notes += [
        f"In this process through Django's test client, sandbox latency {latency_ms} ms, token metadata warm; "
        f"median of {RUNS} fresh wallets per column, sampled every {INTERVAL * 1000:.1f} ms (the sampling itself "
        "slows the code down a little). v2: the sandbox's standard DCA v2 orders (7 active), fetched beside "
        "the v1 pages.",
        "Page threads run at the same time as each other and as the request's thread (which waits for them: "
        "'waiting for page threads'), so their column is the sum of their busy time, not wall time. Each "
        "sample is counted in the deepest stage on its stack: a token call made while describing counts as a "
        "Jupiter call, a figure formatted by a template tag as rendering.",
    ]
    return table
