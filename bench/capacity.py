"""Traders served per hour on each Jupiter plan, from the calls a visit was measured to make.

Jupiter limits requests per organisation (API key) in a 60-second sliding window: 0.5 requests/s
without a key, 1 on the free plan, 10 / 50 / 150 on the paid ones. The dashboard's own budget
(`dashboard.budget`, one per organisation across workers and instances) keeps
JUPITER_RATE_LIST_SHARE (70 %) of it for order lists and token look-ups, the rest always free for
cancels. The figures below are that budget divided by the measured calls of one visit, with the
dashboard's cache lifetimes: pages 30 s (tracking.PAGE_TTL), prices 60 s and token metadata 6 h
(tokens), a wallet's page count 7 days; an open orders page refreshes every 60 s while visible.
"""

from __future__ import annotations

import math

from bench.report import Table

PLANS = (("keyless", 0.5), ("free", 1.0), ("paid 10", 10.0), ("paid 50", 50.0), ("paid 150", 150.0))
OPEN_MINUTES = 5  # a trader keeping the orders page open this long, refreshed every 60 s
LIST_ENDPOINTS = ("getRecurringOrders", "dca-list")


def list_calls(phase: dict[str, int]) -> int:
    return sum(phase.get(name, 0) for name in LIST_ENDPOINTS)


def capacity_table(visits: list[dict]) -> Table:
    """One row per plan; `visits` as measured by panel.measure_visits (calls per endpoint per phase)."""
    from django.conf import settings
    from django.test import override_settings

    from dashboard import budget, tokens, tracking

    if not visits:
        raise RuntimeError("no visit was measured")
    by_size = {visit["orders"]: visit for visit in visits}
    small, large = by_size[min(by_size)], by_size[sorted(by_size)[1] if len(by_size) > 1 else min(by_size)]
    first_small, first_large = list_calls(small["first view"]), list_calls(large["first view"])
    returning = max(list_calls(v["returning view"]) for v in visits)
    cancel = max(sum(v["cancel"].values()) for v in visits)
    after_cancel = max(list_calls(v["view after cancel"]) for v in visits)
    refresh_small = first_small  # the pages have expired (30 s) by the next refresh (60 s)
    token_calls_per_hour = math.ceil(3600 / tokens.PRICE_CACHE_SECONDS)  # prices: one call a minute at most
    table = Table(
        "Traders served per hour on each Jupiter plan (from the measured calls of a visit)",
        [
            "plan",
            "requests/s",
            "calls an hour",
            "for lists (70 %)",
            f"glances, ≤ {small['orders']} orders ({first_small} call)",
            f"glances, {large['orders']} orders ({first_large} calls)",
            f"page open {OPEN_MINUTES} min, ≤ {small['orders']} orders",
            f"cancels an hour (30 % kept, {cancel} calls each)",
            "largest list one wallet loads in a minute",
        ],
    )
    for name, rps in PLANS:
        with override_settings(JUPITER_RATE_LIMIT_RPS=rps):
            capacity, list_capacity = budget.capacities()
            share = budget.share_capacity()
        window = int(settings.JUPITER_RATE_WINDOW_SECONDS)  # 60 s, as Jupiter counts
        per_hour = int(capacity * 3600 // window)
        lists = int(list_capacity * 3600 // window)
        for_traders = max(lists - token_calls_per_hour, 0)
        open_calls = first_small + (OPEN_MINUTES - 1) * refresh_small
        table.add(
            name,
            rps,
            f"{per_hour:,}",
            f"{lists:,}",
            f"{for_traders // max(first_small, 1):,}",
            f"{for_traders // max(first_large, 1):,}",
            f"{for_traders // max(open_calls, 1):,}",
            f"{(per_hour - lists) // max(cancel, 1):,}",
            f"{share * 10:,} orders ({share} pages)",
        )
    table.notes += [
        f"Measured (calls per phase, panel.measure_visits): a first view costs one list call per page of 10 "
        f"orders ({first_small} for {small['orders']} orders, {first_large} for {large['orders']}); a returning "
        f"view within the {tracking.PAGE_TTL} s the pages stay cached costs {returning}; a cancel costs {cancel} "
        f"(cancelOrder + execute), and the list after it {after_cancel} (the order is dropped from the cached "
        "pages). Token metadata is cached for hours; prices for a minute, so at most "
        f"{token_calls_per_hour} token calls an hour (one call covers up to 100 mints), taken off the list budget "
        "first.",
        f"A glance: one view. Page open {OPEN_MINUTES} min: the first view plus a refresh a minute while the page "
        f"is visible, each finding the pages expired ({OPEN_MINUTES} × the first view's calls). Jupiter's DCA "
        "(v2) adds one call per view for a connected trader (up to 100 orders).",
        "Past these numbers nothing fails: a list call waits up to JUPITER_RATE_MAX_WAIT (2 s) for a slot in "
        "the shared budget, then the page shows the orders as last seen, with their age, and refreshes itself "
        "a minute later; cancels keep their 30 %. One wallet (or one client address) may use at most "
        "JUPITER_RATE_FAIR_SHARE (half) of the list budget in a window: a longer list waits for the next "
        "window, shown meanwhile as last seen.",
    ]
    return table
