"""What one orders panel costs: upstream calls and database statements, counted per page of
orders and never per order (issue 22). Against the sandbox upstream over real HTTP; every
assertion is a count, never a time.
"""

from __future__ import annotations

import math
import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.db.backends.signals import connection_created
from solders.keypair import Keypair

from dashboard import tracking
from dashboard.models import TrackedOrder
from dashboard.sandbox import control

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

HTMX = {"HTTP_HX_REQUEST": "true"}
TRACKED = TrackedOrder._meta.db_table


class Statements:
    """Every SQL statement the dashboard runs in any thread of this process while it is
    installed (the page threads open connections of their own), through Django's execute
    wrappers; the simulated Jupiter's own statements (served in this process) are left out."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        if '"sandbox_' not in sql:
            with self.lock:
                self.sql.append(sql)
        return execute(sql, params, many, context)

    def watch(self, sender, connection, **kwargs) -> None:
        connection.execute_wrappers.append(self)

    def clear(self) -> None:
        with self.lock:
            self.sql.clear()

    def writes(self, table: str = TRACKED) -> list[str]:
        """INSERT and UPDATE statements on this table."""
        return [s for s in self.sql if s.lstrip().upper().startswith(("INSERT", "UPDATE")) and table in s]


@pytest.fixture
def statements():
    seen = Statements()
    connection_created.connect(seen.watch)
    for connection in connections.all(initialized_only=True):
        connection.execute_wrappers.append(seen)
    yield seen
    connection_created.disconnect(seen.watch)
    for connection in connections.all(initialized_only=True):
        if seen in connection.execute_wrappers:
            connection.execute_wrappers.remove(seen)


def signed_in(client) -> str:
    wallet = str(Keypair().pubkey())
    client.force_login(get_user_model().objects.create_user(username=wallet))
    return wallet


@pytest.mark.parametrize("count", [10, 50, 120])
def test_a_cold_panel_records_its_orders_in_a_write_or_two_not_one_per_order(client, statements, count):
    wallet = signed_in(client)
    control.seed_wallet(wallet, active=count, history=0)
    statements.clear()
    response = client.get("/orders/active", **HTMX)
    assert response.status_code == 200
    assert len(response.context_data["orders"]) == count
    pages = math.ceil(count / 10)
    inserts = [s for s in statements.writes() if s.lstrip().upper().startswith("INSERT")]
    # Page 1 while the others are in flight, then the others in one statement.
    assert len(inserts) == min(pages, 2)
    assert TrackedOrder.objects.filter(wallet=wallet, status="active").count() == count
    assert control.count_calls("getRecurringOrders") == pages


def test_a_cold_panel_runs_as_many_statements_for_120_orders_as_for_20(client, statements):
    counted = []
    for count in (20, 120):
        wallet = signed_in(client)
        control.seed_wallet(wallet, active=count, history=0)
        statements.clear()
        assert client.get("/orders/active", **HTMX).status_code == 200
        counted.append(len(statements.sql))
    assert counted[0] == counted[1]


def test_the_request_itself_stays_within_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    wallet = signed_in(client)
    control.seed_wallet(wallet, active=60, history=0)
    # Session and user, the DCA connection, two upserts (each in its transaction), the retire,
    # the last-known v2 list, the refunds refused, the session save (in its transaction), and the
    # list's marks (one read; its newest "as of", written in its own transaction the first time,
    # then one UPDATE when it moves forward — `freshness`): a bound that 60 orders (6 pages)
    # would break many times over if any part wrote or read once per order or page.
    with django_assert_max_num_queries(19):
        assert client.get("/orders/active", **HTMX).status_code == 200


def test_a_warm_panel_runs_no_tracking_statement_and_no_upstream_call(client, statements):
    wallet = signed_in(client)
    control.seed_wallet(wallet, active=30, history=0)
    client.get("/orders/active", **HTMX)
    calls = control.count_calls()
    statements.clear()
    assert client.get("/orders/active", **HTMX).status_code == 200
    assert control.count_calls() == calls
    assert not [s for s in statements.sql if TRACKED in s]


def test_a_page_that_fails_keeps_the_pages_that_arrived_as_last_known(client, statements):
    wallet = signed_in(client)
    control.seed_wallet(wallet, active=30, history=0)
    tracking.list_orders(wallet, "active")  # the page count (3) is remembered
    tracking.expire(wallet, "active")
    TrackedOrder.objects.filter(wallet=wallet).delete()
    control.inject_fault("getRecurringOrders", "403")  # one of the three pages asked at once fails
    statements.clear()
    listing = tracking.list_orders(wallet, "active")
    assert listing.stale
    # The two pages that did arrive were recorded, and are what the page shows.
    assert 1 <= len([s for s in statements.writes() if s.lstrip().upper().startswith("INSERT")]) <= 2
    assert len(listing.orders) == TrackedOrder.objects.filter(wallet=wallet).count() == 20
