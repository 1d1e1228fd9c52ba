"""`python manage.py jupiter_check [--wallet ADDRESS]`: is the configured Jupiter what the dashboard expects?

Read-only, for operators right after a deploy (and whenever Jupiter may have changed): with the
configured URLs and API key it asks the Tokens API for SOL and USDC, the Recurring API v1 for the
active and closed orders of a public address, and the Trigger API v2 for a sign-in challenge of each
kind (never verified, so no token is ever made; the v2 order list needs a wallet's signature and is
not checked). For every field the dashboard reads it prints present or MISSING, and for every call
its status, latency and the rate-limit headers Jupiter sent. Exit status 1 on any mismatch — a
missing field, an answer the dashboard's own parsers refuse, a failed call. The API key is never
printed. The calls go through the dashboard's own client, so they count against the shared budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard import dca_auth, recurring, tokens, trigger, upstream
from dashboard.encoding import short_address

# The fee payer of the cancel transaction in Jupiter's documentation: a public address to list.
EXAMPLE_WALLET = "5dMXLJ8GYQxcHe2fjpttVkEpRrxcajRXZqJHCiCbWS4H"
TOKEN_MINTS = {
    "SOL": "So11111111111111111111111111111111111111112",
    "USDC": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
}
RECURRING_TYPE = "time"


class Command(BaseCommand):
    help = (
        "Check, read-only, that the configured Jupiter answers with every field the dashboard relies on "
        "(Tokens search, the v1 order lists of a public address, the v2 sign-in challenge, never verified). "
        "Exit status 1 on any mismatch."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wallet",
            default=EXAMPLE_WALLET,
            help="a public address whose v1 orders to list — one with orders checks their fields too "
            f"(default: {EXAMPLE_WALLET}, from Jupiter's documentation)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wallet = str(options["wallet"]).strip()
        if not 32 <= len(wallet) <= 44 or not wallet.isalnum():
            raise CommandError(f"--wallet must be a base58 Solana address, not {wallet!r}")
        self.mismatches: list[str] = []
        key = "set (not shown)" if settings.JUPITER_API_KEY else "none (keyless: 0.5 requests/s)"
        self.stdout.write(f"Jupiter check, read-only. API key: {key}.")
        self.check_tokens()
        self.check_recurring(wallet)
        self.check_trigger(wallet)
        if self.mismatches:
            self.stdout.write("")
            raise CommandError(
                f"{len(self.mismatches)} mismatch{'es' if len(self.mismatches) > 1 else ''}: "
                + "; ".join(self.mismatches)
            )
        self.stdout.write("\nOK: every field the dashboard relies on is there.")

    # --- the three APIs -------------------------------------------------------------------------

    def check_tokens(self) -> None:
        self.stdout.write(f"\nTokens API  {settings.JUPITER_TOKENS_URL}")
        data = self.call(
            "GET /search (SOL, USDC)",
            lambda: upstream.call(
                "GET",
                f"{settings.JUPITER_TOKENS_URL}/search",
                "tokens",
                exact_numbers=True,
                params={"query": ",".join(TOKEN_MINTS.values())},
            ),
        )
        if data is None:
            return
        self.parses("tokens", lambda: tokens.parse_search(data))
        items = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
        for symbol, mint in TOKEN_MINTS.items():
            if not any(item.get("id") == mint for item in items):
                self.mismatch(f"tokens: no entry for {symbol}")
        self.fields("tokens", "[]", items, tokens.TOKEN_FIELDS)

    def check_recurring(self, wallet: str) -> None:
        self.stdout.write(f"\nRecurring API v1  {settings.JUPITER_API_URL}")
        orders: list[dict] = []
        for status in ("active", "history"):
            data = self.call(
                f"GET /getRecurringOrders ({status} orders of {short_address(wallet)})",
                lambda status=status: upstream.call(
                    "GET",
                    f"{settings.JUPITER_API_URL}/getRecurringOrders",
                    recurring.LIST_ENDPOINT,
                    params={
                        "user": wallet,
                        "orderStatus": status,
                        "recurringType": RECURRING_TYPE,
                        "includeFailedTx": "false",
                        "page": 1,
                    },
                ),
            )
            if data is None:
                continue
            self.parses(
                f"{status} list",
                lambda data=data, status=status: recurring.parse_orders_page(data, status, RECURRING_TYPE),
            )
            self.fields(f"{status} list", "", [data], (*recurring.PAGE_FIELDS, RECURRING_TYPE))
            listed = data.get(RECURRING_TYPE) if isinstance(data, dict) else None
            orders += [o for o in listed if isinstance(o, dict)] if isinstance(listed, list) else []
        self.fields("orders", f"{RECURRING_TYPE}[]", orders, recurring.ORDER_FIELDS)
        fills = [t for o in orders if isinstance(o.get("trades"), list) for t in o["trades"] if isinstance(t, dict)]
        self.fields("fills", f"{RECURRING_TYPE}[].trades[]", fills, recurring.FILL_FIELDS)

    def check_trigger(self, wallet: str) -> None:
        self.stdout.write(f"\nTrigger API v2 (DCA)  {settings.JUPITER_TRIGGER_API_URL}")
        for kind in trigger.CHALLENGE_TYPES:
            data = self.call(
                f"POST /auth/challenge (type {kind}; never verified)",
                lambda kind=kind: upstream.call(
                    "POST",
                    f"{settings.JUPITER_TRIGGER_API_URL}/auth/challenge",
                    "dca-challenge",
                    json={"walletPubkey": wallet, "type": kind},
                ),
            )
            if data is None:
                continue
            self.fields(f"{kind} challenge", "", [data], trigger.CHALLENGE_FIELDS[kind])
            challenge = self.parses(
                f"{kind} challenge", lambda data=data, kind=kind: trigger.parse_challenge(data, kind)
            )
            if challenge is not None:
                self.accepted(kind, challenge, wallet)
        self.stdout.write("  (the v2 order list needs a wallet's signature: not checked here)")

    # --- reporting ------------------------------------------------------------------------------

    def call(self, what: str, make: Callable[[], Any]) -> Any:
        """One call: its latency and rate-limit headers printed; None (and a mismatch) if it failed."""
        started = time.monotonic()
        try:
            data = make()
        except upstream.JupiterError as exc:
            self.stdout.write(f"  {what}: FAILED after {(time.monotonic() - started) * 1000:.0f} ms — {exc}")
            self.mismatch(f"{what} failed ({exc.upstream_message or exc.user_message})")
            return None
        latency = (time.monotonic() - started) * 1000
        seen = upstream.last_rate_limit()
        limits = ", ".join(f"{name}={value[:40]}" for name, value in seen.items()) or "no rate-limit headers"
        self.stdout.write(f"  {what}: answered in {latency:.0f} ms; {limits}")
        return data

    def parses(self, what: str, parse: Callable[[], Any]) -> Any:
        """What the dashboard's own parser makes of an answer; None (and a mismatch) if it refuses it."""
        try:
            return parse()
        except upstream.UnexpectedShape as exc:
            self.stdout.write(f"    REFUSED  the dashboard refuses this {what} answer: {exc.missing} is missing")
            self.mismatch(f"{what}: {exc.missing} missing")
        except (upstream.JupiterError, ValueError, TypeError, KeyError) as exc:
            self.stdout.write(f"    UNREADABLE  the dashboard cannot read this {what} answer: {str(exc)[:160]}")
            self.mismatch(f"{what}: unreadable")
        return None

    def fields(self, what: str, prefix: str, items: list[Any], names: tuple[str, ...]) -> None:
        """Each field in every item: present, or MISSING in how many of them."""
        if not items:
            self.stdout.write(f"    ({what}: none in these answers, so their fields were not checked)")
            return
        for name in names:
            lacking = sum(1 for item in items if upstream.missing_keys(item, (name,)))
            path = f"{prefix}.{name}" if prefix else name
            if lacking:
                self.stdout.write(f"    MISSING  {path} (in {lacking} of {len(items)})")
                self.mismatch(f"{what}: {path} missing")
            else:
                self.stdout.write(f"    present  {path}")

    def accepted(self, kind: str, challenge: trigger.Challenge, wallet: str) -> None:
        """Whether the dashboard would show this challenge to a wallet (it refuses anything unexpected)."""
        try:
            if kind == trigger.MESSAGE:
                dca_auth.check_challenge_text(challenge.message)
            else:
                dca_auth.check_memo_transaction(challenge.transaction, wallet)
        except dca_auth.ConnectRefused:
            self.stdout.write(f"    REFUSED  the dashboard would not show this {kind} challenge to a wallet")
            self.mismatch(f"{kind} challenge: not what the dashboard accepts")
        else:
            self.stdout.write(f"    accepted the {kind} challenge, as the dashboard checks it")

    def mismatch(self, what: str) -> None:
        if what not in self.mismatches:
            self.mismatches.append(what)
