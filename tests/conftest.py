from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache


@pytest.fixture
def sandbox_upstream(live_server, settings):
    """Point the Jupiter client at the sandbox served by the live (threaded) test server,
    with the sandbox's knobs, faults and call log reset and nothing cached, before and after."""
    from dashboard.sandbox import control

    settings.JUPITER_API_URL = f"{live_server.url}/sandbox/recurring/v1"
    settings.JUPITER_TOKENS_URL = f"{live_server.url}/sandbox/tokens/v2"
    assert django_settings.SANDBOX
    cache.clear()
    control.reset()
    yield live_server
    control.reset()
    cache.clear()
