"""The exports for taxes (issue 21): a wallet with hundreds of orders and thousands of fills.

One wallet, seeded with many closed orders (v1, 10 a page) and some active ones, signed in over
HTTP; the plain CSV and the Koinly file are downloaded whole (streamed), cold (nothing of the
wallet cached) and again warm. Figures: orders, fills and rows in the file, seconds to the last
byte, and the Jupiter calls the export made (counted by the sandbox).
"""

from __future__ import annotations

import csv
import io
import time

from bench.panel import LATENCY_MS
from bench.report import Table
from bench.server import TIMEOUT, Server, Trader, calls_between

SIZES = ((20, 180), (50, 450))  # (active, history) orders


def download(trader: Trader, fmt: str) -> tuple[float, str]:
    started = time.perf_counter()
    reply = trader.http.get(f"{trader.server.url}/orders/export.csv", params={"format": fmt}, timeout=(TIMEOUT[0], 180))
    reply.raise_for_status()
    text = reply.content.decode("utf-8-sig")
    return time.perf_counter() - started, text


def measure_export(server: Server) -> Table:
    server.control("reset")
    server.control("latency", ms=LATENCY_MS)
    table = Table(
        "Export for taxes of a large history (plain CSV, then Koinly), streamed",
        ["orders", "fills", "rows", "cold: seconds", "cold: Jupiter calls", "warm Koinly: seconds", "warm: calls"],
    )
    for active, history in SIZES:
        trader = Trader(server)
        server.seed(trader.wallet, active, history)
        trader.sign_in()
        before = server.calls()
        cold, text = download(trader, "csv")
        spent = calls_between(before, server.calls())
        rows = list(csv.DictReader(io.StringIO(text)))
        before = server.calls()
        warm, koinly = download(trader, "koinly")
        warm_calls = sum(calls_between(before, server.calls()).values())
        if len(koinly.splitlines()) - 1 != len(rows):
            raise RuntimeError("the Koinly file and the plain CSV have different rows")
        table.add(
            len({r["order"] for r in rows}),
            sum(r["kind"] == "fill" for r in rows),
            len(rows),
            f"{cold:.2f}",
            ", ".join(f"{n} {name}" for name, n in sorted(spent.items()) if n),
            f"{warm:.2f}",
            warm_calls,
        )
    table.notes += [
        f"Sandbox latency {LATENCY_MS} ms on every endpoint. The active list and the history are read at the "
        "same time, each with all its pages at once after the first (a new wallet's page count is not known "
        "yet), within the same outbound budget and fair shares as the lists; warm: the pages are still cached "
        "(30 s), so the second file costs no list call.",
    ]
    return table
