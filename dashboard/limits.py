"""Inbound rate limits (django-ratelimit): rates read from settings at request time, and keys."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

logger = logging.getLogger(__name__)


def sign_in_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGN_IN


def cancel_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_CANCEL


def cancel_status_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_CANCEL_STATUS


def lists_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_LISTS


def wallet_key(group: str, request: HttpRequest) -> str:
    """Count per wallet address (the signed-in user's name)."""
    return request.user.username if request.user.is_authenticated else client_address(request)


def wallet_signed_in_too_often(request: HttpRequest, address: str) -> bool:
    """Count one sign-in of this wallet, its signature already verified; True once the wallet is
    over `RATELIMIT_SIGN_IN`. Only verified signatures count, so nobody but the wallet's owner
    can use up its sign-ins (unverified requests count per client address only)."""
    return is_ratelimited(
        request, group="sign-in-wallet", key=lambda group, request: address, rate=sign_in_rate, increment=True
    )


def client_address(request: HttpRequest) -> str:
    """Behind a trusted proxy: the address it saw, the last X-Forwarded-For entry."""
    if not settings.TRUST_PROXY:
        return request.META["REMOTE_ADDR"]
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last or request.META["REMOTE_ADDR"]
