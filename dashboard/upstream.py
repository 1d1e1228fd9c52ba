"""The one way to Jupiter: a shared HTTP session, one error hierarchy, and JSON helpers.

Every Jupiter API the dashboard uses (Recurring v1 in `recurring`, the Trigger v2 DCA orders in
`trigger`, token metadata in `tokens`) goes through `call`: one pooled `requests.Session` per
configuration, a timeout on every call, GETs retried on 5xx (never a POST), a 429 waited out
within a budget, redirects never followed, the shared call budget and circuit breaker of
`dashboard.budget` in front, and every failure turned into a `JupiterError` that carries the
HTTP status, upstream message, gateway request id, whether a retry could help, and a sentence a
trader understands. Headers are never logged (the API key and wallets' tokens travel in them).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from dashboard import budget, messages

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05  # seconds; the read timeout is the JUPITER_TIMEOUT_SECONDS setting
MAX_RATE_LIMIT_WAIT = 2.0  # seconds we will wait on a 429 before giving up (GETs only)
POOL_SIZE = 24  # connections kept per host: page fetches run concurrently


# --- errors -------------------------------------------------------------------------------------


class JupiterError(Exception):
    """Any failure talking to Jupiter: a stable `code` (what code branches on) and the trader's
    words for it (`user_message`, from `dashboard.messages`)."""

    code = "jupiter_failed"

    def __init__(
        self,
        code: str = "",
        *,
        status: int | None = None,
        upstream_message: str = "",
        gateway_request_id: str = "",
        retryable: bool = False,
        retry_after: int | None = None,
    ) -> None:
        self.code = code or type(self).code
        self.status = status
        self.upstream_message = upstream_message
        self.gateway_request_id = gateway_request_id
        self.retryable = retryable
        self.retry_after = retry_after  # seconds Jupiter asked us to wait (its 429s); else None
        self.user_message = self.words()
        super().__init__(self.user_message)

    def words(self) -> str:
        if self.code == "rejected":
            return messages.words("rejected", detail=self.upstream_message or "no reason given")
        if self.code == "rate_limited":
            return messages.rate_limited_words(self.retry_after)
        return messages.words(self.code)

    def __str__(self) -> str:
        parts = [self.code, self.user_message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.upstream_message:
            parts.append(f"upstream: {self.upstream_message}")
        if self.gateway_request_id:
            parts.append(f"request id {self.gateway_request_id}")
        return " | ".join(parts)


class JupiterUnavailable(JupiterError):
    """Timeouts, lost connections and 5xx answers: Jupiter is not answering properly."""

    code = "unavailable"


class JupiterRateLimited(JupiterError):
    """Jupiter answered 429, or the dashboard's own budget for calls to Jupiter is spent."""

    code = "rate_limited"


class JupiterBadResponse(JupiterError):
    """A 2xx answer we cannot read (not JSON, or not the documented shape)."""

    code = "bad_response"


class UnexpectedShape(JupiterBadResponse):
    """A 2xx answer without a key the dashboard relies on: Jupiter changed the shape of its answer
    (`answer`, e.g. "getRecurringOrders", lacks `missing`, e.g. "time"). Never read as "no orders":
    lists show their last-known data, and no tracked order is retired on it. Made (and logged,
    naming the key) by `unexpected_shape`."""

    code = "unexpected_shape"

    def __init__(self, answer: str, missing: str) -> None:
        super().__init__(
            upstream_message=f"unexpected shape: {answer} answer without {missing}",
            gateway_request_id=last_gateway_request_id(),
        )
        self.answer = answer
        self.missing = missing


class MissingKey(ValueError):
    """A parser's complaint that an item (an order, a token) lacks `key`; the caller of the parser
    turns it into `UnexpectedShape` with the path to the item, or skips the item."""

    def __init__(self, key: str) -> None:
        super().__init__(f"without {key}")
        self.key = key


def unexpected_shape(answer: str, missing: str) -> UnexpectedShape:
    """The error for an answer that lacks `missing`, logged here (once) with the key it lacks."""
    error = UnexpectedShape(answer, missing)
    logger.error(
        "jupiter %s answer has an unexpected shape: %s is missing (gateway_request_id=%s)",
        answer,
        missing,
        error.gateway_request_id,
    )
    return error


def missing_keys(data: Any, keys: tuple[str, ...]) -> list[str]:
    """Which of `keys` (dotted for nesting: "pagination.total") `data` lacks; all of them when it
    is not an object. A key that is present with the value null is present."""
    missing = []
    for key in keys:
        node = data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                missing.append(key)
                break
            node = node[part]
    return missing


class OrderNotFound(JupiterError):
    code = "not_found"


class JupiterRejected(JupiterError):
    """A 4xx refusal other than the ones above."""

    code = "rejected"


class JupiterUnauthorized(JupiterRejected):
    """A call made with a wallet's token (Trigger API v2) was refused: the token expired or was
    revoked (401), or belongs to another wallet (403 "must match authenticated user"). The wallet
    must sign Jupiter's challenge again; nothing else can help."""

    code = "token_refused"


# --- HTTP ---------------------------------------------------------------------------------------


# What Jupiter says, as codes: the one table for every API, whether Jupiter answers with an HTTP
# error (`error_for`) or reports a failure inside a 200 answer (`known_code`, e.g. execute's
# `status: "Failed"`). Rows: (words Jupiter's message contains, the error class that decides over
# the HTTP status or None to let the status decide, the code; `dashboard.messages` has its plain
# words). First match wins. Trigger API v2: a bad signature at /auth/verify is "Challenge not
# found" (sign again); cancel answers: a buy is running; the refund transaction Jupiter cached is
# gone (expired, or unknown); the order is not waiting for its refund (cancelled already, or never
# stopped) — dca_cancel.py re-reads the order then; nothing left to refund; a changed signed refund.
KNOWN_MESSAGES: tuple[tuple[str, type[JupiterError] | None, str], ...] = (
    ("challenge not found", None, "challenge_not_found"),
    ("in 'executing' state", None, "order_executing"),
    ("cannot cancel dca order in", None, "cannot_cancel_now"),
    ("withdrawal transaction not found in cache", None, "withdrawal_not_in_cache"),
    ("not in cancellation state", None, "not_cancelling"),
    ("no remaining funds", None, "nothing_left"),
    ("invalid withdrawal transaction", None, "refund_signature_refused"),
    ("failed to fill whole buffer", OrderNotFound, "not_found"),
    ("insufficient funds", JupiterRejected, "insufficient_funds"),
    ("blockhash not found", None, "transaction_expired"),
    ("expired", None, "transaction_expired"),
    ("already", None, "already_closed"),
    ("too many requests", None, "rate_limited"),
)


def known_message(message: str) -> tuple[type[JupiterError] | None, str]:
    """The row of KNOWN_MESSAGES matching Jupiter's message: (its error class or None, its code),
    or (None, "") when Jupiter's message is not one we know."""
    lowered = message.lower()
    for needle, kind, code in KNOWN_MESSAGES:
        if needle in lowered:
            return kind, code
    return None, ""


def known_code(message: str) -> str:
    """The code of Jupiter's message, or "" when it is not one we know."""
    return known_message(message)[1]


def upstream_message(response: requests.Response) -> str:
    """`error`, else `message`, else the body itself cut short."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key][:500]
    text = " ".join(response.text.split())
    return text[:200]


def with_token(response: requests.Response) -> bool:
    """Whether the request carried a wallet's token (only Trigger API v2 order calls do)."""
    request = getattr(response, "request", None)
    return request is not None and "Authorization" in request.headers


def error_for(response: requests.Response) -> JupiterError:
    """The error for an HTTP error answer. A 429 or 5xx keeps its class's code whatever the
    message says (its text is no reliable account of what happened); a known message otherwise
    gives the code, and its class when the table names one."""
    status = response.status_code
    message = upstream_message(response)
    details = {
        "status": status,
        "upstream_message": message,
        "gateway_request_id": response.headers.get("x-api-gateway-request-id", ""),
    }
    kind, code = known_message(message)
    if kind is not None:
        return kind(code, **details)
    if with_token(response) and (
        status == 401 or (status == 403 and "must match authenticated user" in message.lower())
    ):
        return JupiterUnauthorized(**details)
    if status == 429:
        return JupiterRateLimited(retryable=True, retry_after=retry_after_seconds(response), **details)
    if status >= 500:
        return JupiterUnavailable(retryable=True, **details)
    if status in (401, 403):
        return JupiterRejected("credentials_refused", **details)
    return JupiterRejected(code, **details)


MAX_RETRY_AFTER = 60  # seconds: Jupiter's window is a 60-second sliding one


def retry_after_seconds(response: requests.Response) -> int:
    """How long Jupiter asks us to wait, in whole seconds within 1..MAX_RETRY_AFTER: its
    `Retry-After` (seconds or an HTTP date), else its `x-ratelimit-reset` (Unix seconds) minus
    now; when it says neither in a form we can read, its whole window (MAX_RETRY_AFTER)."""
    retry_after = response.headers.get("Retry-After", "").strip()
    seconds: float | None = None
    if retry_after.isdigit():
        seconds = float(retry_after)
    elif retry_after:
        try:
            seconds = parsedate_to_datetime(retry_after).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            seconds = None
    if seconds is None:
        try:
            seconds = float(response.headers.get("x-ratelimit-reset", "")) - time.time()
        except ValueError:
            seconds = MAX_RETRY_AFTER
    if not math.isfinite(seconds):
        seconds = MAX_RETRY_AFTER
    return min(max(math.ceil(seconds), 1), MAX_RETRY_AFTER)


class Session:
    """One pooled `requests.Session` with the API key, shared by every Jupiter API."""

    def __init__(self, api_key: str = "", *, timeout: tuple[float, float] = (CONNECT_TIMEOUT, 10.0)) -> None:
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["Accept"] = "application/json"
        if api_key:
            self.http.headers["x-api-key"] = api_key
        retry = Retry(
            total=3,
            connect=2,
            read=0,
            status=2,
            backoff_factor=0.25,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),  # never repeat a POST
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=retry)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)

    def call(self, method: str, url: str, endpoint: str, *, exact_numbers: bool = False, **kwargs: Any) -> Any:
        """One call, with the shared guards, logging and errors mapped; the parsed JSON answer.
        `exact_numbers` reads JSON numbers with a fraction as `Decimal` (prices), never float."""
        waited = 0.0
        while True:
            guard(endpoint)
            started = time.monotonic()
            try:
                # Never follow redirects: the API key, tokens and signed transactions go to Jupiter only.
                response = self.http.request(method, url, timeout=self.timeout, allow_redirects=False, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                budget.after_call(endpoint, False)
                logger.warning(
                    "jupiter %s failed after %.0f ms: %s",
                    endpoint,
                    (time.monotonic() - started) * 1000,
                    type(exc).__name__,
                )
                raise JupiterUnavailable(upstream_message=type(exc).__name__, retryable=method == "GET") from None
            except requests.RequestException as exc:
                raise JupiterUnavailable(upstream_message=type(exc).__name__) from None
            budget.after_call(endpoint, response.status_code < 500)
            budget.observe(*read_rate_limit(response))
            gateway_id = response.headers.get("x-api-gateway-request-id", "")
            _last.gateway_request_id = gateway_id
            logger.info(
                "jupiter %s status=%s latency_ms=%.0f gateway_request_id=%s",
                endpoint,
                response.status_code,
                (time.monotonic() - started) * 1000,
                gateway_id,
            )
            if response.status_code == 429 and method == "GET":
                delay = rate_limit_delay(response)
                if delay is not None and waited + delay <= MAX_RATE_LIMIT_WAIT:
                    waited += delay
                    time.sleep(delay)
                    continue
            if 300 <= response.status_code < 400:
                raise JupiterBadResponse(
                    status=response.status_code,
                    upstream_message="unexpected redirect (not followed)",
                    gateway_request_id=gateway_id,
                )
            if response.status_code >= 400:
                error = error_for(response)
                logger.warning("jupiter %s error: %s", endpoint, error)
                raise error
            try:
                return response.json(parse_float=Decimal) if exact_numbers else response.json()
            except ValueError:
                raise JupiterBadResponse(
                    status=response.status_code,
                    upstream_message=" ".join(response.text.split())[:200],
                    gateway_request_id=gateway_id,
                    retryable=True,
                ) from None


def guard(endpoint: str) -> None:
    """The shared budget and breaker, in Jupiter's error vocabulary."""
    try:
        budget.before_call(endpoint)
    except budget.CircuitOpen:
        raise JupiterUnavailable(upstream_message="circuit open", retryable=True) from None
    except budget.BudgetSpent as spent:
        if spent.share:
            raise JupiterRateLimited("share_spent", upstream_message="fair share spent", retryable=True) from None
        raise JupiterRateLimited(upstream_message="dashboard call budget spent", retryable=True) from None


def rate_limit_delay(response: requests.Response) -> float | None:
    reset = response.headers.get("x-ratelimit-reset", "")
    try:
        delay = float(reset) - time.time()
    except ValueError:
        return None
    return max(delay, 0.05)


RATE_LIMIT_HEADERS = ("x-ratelimit-remaining", "x-ratelimit-current", "x-ratelimit-reset")


def read_rate_limit(response: requests.Response) -> tuple[int | None, float | None, int | None]:
    """Jupiter's rate-limit headers as (remaining, reset in Unix seconds, current), each None when
    absent or unreadable (they are Jupiter's, so untrusted); kept for `last_rate_limit` too."""
    seen = {name: response.headers[name] for name in RATE_LIMIT_HEADERS if name in response.headers}
    _last.rate_limit = seen
    remaining = to_int(seen.get("x-ratelimit-remaining"))
    current = to_int(seen.get("x-ratelimit-current"))
    reset = to_decimal(seen.get("x-ratelimit-reset"))
    return remaining, float(reset) if reset is not None else None, current


_last = threading.local()


def last_rate_limit() -> dict[str, str]:
    """The rate-limit headers (`RATE_LIMIT_HEADERS`) of the last answer this thread received, as sent."""
    return dict(getattr(_last, "rate_limit", {}))


def last_gateway_request_id() -> str:
    """Jupiter's `x-api-gateway-request-id` of the last answer this thread received ("" if none),
    for log lines about what that answer contained."""
    return getattr(_last, "gateway_request_id", "")


_sessions: dict[tuple[str, float], Session] = {}
_sessions_lock = threading.Lock()


def session() -> Session:
    """The session for the current settings (one pooled session per API key and timeout)."""
    key = (settings.JUPITER_API_KEY, settings.JUPITER_TIMEOUT_SECONDS)
    with _sessions_lock:
        if key not in _sessions:
            _sessions[key] = Session(key[0], timeout=(CONNECT_TIMEOUT, key[1]))
        return _sessions[key]


def call(method: str, url: str, endpoint: str, *, exact_numbers: bool = False, **kwargs: Any) -> Any:
    """Call Jupiter through the shared session (see `Session.call`)."""
    return session().call(method, url, endpoint, exact_numbers=exact_numbers, **kwargs)


# --- reading JSON -------------------------------------------------------------------------------


def to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():  # not "²"
        return int(value.strip())
    return None


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, (bool, float)):
        # Floats lose precision: Jupiter documents strings; ignore anything else.
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def to_datetime(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def to_text(value: Any) -> str:
    return value if isinstance(value, str) else ""
