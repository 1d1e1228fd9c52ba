"""Loaded by pytest before Django settings (see `addopts`): the test environment.

Tests run the dashboard in sandbox mode over plain http on loopback, closing database
connections after each request. Playwright's
sync API keeps an event loop in the main thread, so Django's async-safety guard
is relaxed for the test process only.
"""

import os

os.environ.setdefault("DASHBOARD_SANDBOX", "1")
os.environ.setdefault("DJANGO_ALLOW_PLAIN_HTTP", "1")
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
# Live-server threads must not keep connections open, or the test database cannot be dropped.
os.environ.setdefault("DJANGO_CONN_MAX_AGE", "0")
