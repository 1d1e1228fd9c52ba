"""Inbound rate limits (django-ratelimit): rates read from settings at request time, and keys."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def sign_in_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_SIGN_IN


def cancel_rate(group: str, request: HttpRequest) -> str:
    return settings.RATELIMIT_CANCEL


def wallet_key(group: str, request: HttpRequest) -> str:
    """Count per wallet address (the signed-in user's name)."""
    return request.user.username if request.user.is_authenticated else client_address(request)


def claimed_wallet(group: str, request: HttpRequest) -> str:
    """Count sign-in attempts per wallet address claimed in the (JSON) body, else per client."""
    try:
        claimed = json.loads(request.body[:4096]).get("address") if len(request.body) <= 4096 else None
    except (ValueError, AttributeError, UnicodeDecodeError):
        claimed = None
    return f"wallet:{claimed[:64]}" if isinstance(claimed, str) and claimed else client_address(request)


def client_address(request: HttpRequest) -> str:
    """Behind a trusted proxy: the address it saw, the last X-Forwarded-For entry."""
    if not settings.TRUST_PROXY:
        return request.META["REMOTE_ADDR"]
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last or request.META["REMOTE_ADDR"]
