"""System checks of our own: `manage.py check --deploy` refuses a sandbox deployment."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def sandbox_is_not_deployed(app_configs, **kwargs) -> list[Error]:
    if not settings.SANDBOX:
        return []
    return [
        Error(
            "DASHBOARD_SANDBOX is on: the site serves a simulated Jupiter API and a sandbox wallet.",
            hint="Unset DASHBOARD_SANDBOX in production; it is for local demos and tests only.",
            id="dashboard.E001",
        )
    ]
