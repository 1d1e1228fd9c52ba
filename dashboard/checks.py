"""System checks of our own: `manage.py check --deploy` refuses a sandbox deployment and warns
about a deliberate plain-http one."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


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


@register(Tags.security, deploy=True)
def plain_http_is_deliberate(app_configs, **kwargs) -> list[Warning]:
    if not settings.ALLOW_PLAIN_HTTP:
        return []
    return [
        Warning(
            "DJANGO_ALLOW_PLAIN_HTTP is on: the session and CSRF cookies are not Secure and http is "
            "not redirected to https, so anyone on the network path can read a signed-in session.",
            hint="Unset DJANGO_ALLOW_PLAIN_HTTP unless this site is only reachable over a trusted network.",
            id="dashboard.W001",
        )
    ]
