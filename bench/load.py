"""The signed-in dashboard under load: a small thread-per-connection load generator."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.report import Table, percentile
from bench.server import TIMEOUT, Server, Trader, calls_between

LEVELS = (1, 8, 32)
SECONDS = 4.0  # per level and path
MAX_REQUESTS = 4000  # per level and path, whichever comes first
WALLETS = 8
ORDERS = 50
PATHS = (("/orders/", False, "page shell"), ("/orders/active", True, "active panel (htmx)"))


def run_level(server: Server, traders: list[Trader], path: str, htmx: bool, concurrency: int) -> dict:
    """`concurrency` threads, each with its own keep-alive session, for SECONDS or MAX_REQUESTS."""
    headers = {"HX-Request": "true"} if htmx else {}
    deadline = time.perf_counter() + SECONDS
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0
    issued = 0

    def worker(index: int) -> None:
        nonlocal errors, issued
        http = requests.Session()
        http.cookies.update(traders[index % len(traders)].http.cookies)
        while time.perf_counter() < deadline:
            with lock:
                if issued >= MAX_REQUESTS:
                    return
                issued += 1
            started = time.perf_counter()
            try:
                ok = http.get(f"{server.url}{path}", headers=headers, timeout=TIMEOUT).status_code == 200
            except requests.RequestException:
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                errors += 0 if ok else 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    wall = time.perf_counter() - started
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / wall, "latencies": latencies}


def warm(server: Server, traders: list[Trader]) -> None:
    """Each wallet's panel through new connections from 8 threads, so both workers see every wallet."""

    def view(trader: Trader) -> None:
        requests.get(
            f"{server.url}/orders/active", headers={"HX-Request": "true"}, cookies=trader.http.cookies, timeout=TIMEOUT
        ).raise_for_status()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(view, [t for t in traders for _ in range(6)]))


def measure_load(server: Server) -> Table:
    server.control("reset")
    server.control("latency", ms=100)
    traders = []
    for _ in range(WALLETS):
        trader = Trader(server)
        server.seed(trader.wallet, ORDERS)
        trader.sign_in()
        traders.append(trader)
    table = Table(
        f"Signed-in dashboard under load (gunicorn --workers {server.workers} --threads 32, warm cache)",
        ["request", "concurrency", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "upstream calls"],
    )
    for path, htmx, label in PATHS:
        for level in LEVELS:
            warm(server, traders)
            before = server.calls()
            result = run_level(server, traders, path, htmx, level)
            spent = sum(calls_between(before, server.calls()).values())
            lat = result["latencies"]
            table.add(
                f"{label} {path}",
                level,
                result["requests"],
                result["errors"],
                f"{result['rps']:.0f}",
                percentile(lat, 50),
                percentile(lat, 95),
                percentile(lat, 99),
                spent,
            )
    table.notes += [
        f"{WALLETS} signed-in wallets with {ORDERS} active orders each, spread over the client threads "
        f"(one keep-alive connection per thread); {SECONDS:.0f} s or {MAX_REQUESTS} requests per row. "
        "Before each row every wallet's panel is viewed 6 times over new connections so both workers' "
        "caches are warm (local-memory cache unless REDIS_URL is set); page TTL is 30 s, sandbox latency 100 ms.",
        "The load generator (Python threads) runs on the same machine and competes with gunicorn for the CPU; "
        "every request also saves its session row (SESSION_SAVE_EVERY_REQUEST) in SQLite.",
    ]
    return table
