"""The fast tier: pure tests of parsers, figures, transaction checks and formatting — no database,
no server. It runs first and on its own (`make test-fast`); a test here that asks for a database
or a server stops the run, so the tier stays fast and means what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
NOT_HERE = {"db", "transactional_db", "django_db_setup", "live_server", "sandbox_upstream", "client", "admin_client"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in Path(item.path).parents:
            continue
        asked = sorted(NOT_HERE & set(getattr(item, "fixturenames", ())))
        if item.get_closest_marker("django_db") or asked:
            raise pytest.UsageError(
                f"{item.nodeid} needs a database or a server ({', '.join(asked) or 'django_db'}): "
                "it belongs in tests/, not in the fast tier tests/unit/."
            )
