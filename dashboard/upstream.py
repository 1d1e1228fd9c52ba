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
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from dashboard import budget

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05  # seconds; the read timeout is the JUPITER_TIMEOUT_SECONDS setting
MAX_RATE_LIMIT_WAIT = 2.0  # seconds we will wait on a 429 before giving up (GETs only)
POOL_SIZE = 24  # connections kept per host: page fetches run concurrently


# --- errors -------------------------------------------------------------------------------------


class JupiterError(Exception):
    """Any failure talking to Jupiter, with a message a trader understands."""

    default_user_message = "Jupiter could not complete this request. Please try again shortly."

    def __init__(
        self,
        user_message: str = "",
        *,
        status: int | None = None,
        upstream_message: str = "",
        gateway_request_id: str = "",
        retryable: bool = False,
    ) -> None:
        self.user_message = user_message or self.default_user_message
        self.status = status
        self.upstream_message = upstream_message
        self.gateway_request_id = gateway_request_id
        self.retryable = retryable
        super().__init__(self.user_message)

    def __str__(self) -> str:
        parts = [self.user_message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.upstream_message:
            parts.append(f"upstream: {self.upstream_message}")
        if self.gateway_request_id:
            parts.append(f"request id {self.gateway_request_id}")
        return " | ".join(parts)


class JupiterUnavailable(JupiterError):
    """Timeouts, lost connections and 5xx answers: Jupiter is not answering properly."""

    default_user_message = "Jupiter is not answering right now. Please try again in a minute."


class JupiterRateLimited(JupiterError):
    default_user_message = "Jupiter is busy right now (too many requests). Please try again in a moment."


class JupiterBadResponse(JupiterError):
    """A 2xx answer we cannot read (not JSON, or not the documented shape)."""

    default_user_message = "Jupiter sent an answer we could not read. Please try again shortly."


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
    default_user_message = "This order is already closed or could not be found."


class JupiterRejected(JupiterError):
    """A 4xx refusal other than the ones above."""

    default_user_message = "Jupiter refused this request."


class JupiterUnauthorized(JupiterRejected):
    """A call made with a wallet's token (Trigger API v2) was refused: the token expired or was
    revoked (401), or belongs to another wallet (403 "must match authenticated user"). The wallet
    must sign Jupiter's challenge again; nothing else can help."""

    default_user_message = "Your connection to Jupiter's DCA has ended. Connect again to see those orders."


# --- HTTP ---------------------------------------------------------------------------------------


TRANSACTION_EXPIRED = "That took too long and the transaction expired — try again."

# What Jupiter says, in plain words: the one table for every API, whether Jupiter answers with an
# HTTP error (`error_for`) or reports a failure inside a 200 answer (`plain_words`, e.g. execute's
# `status: "Failed"`). Rows: (words Jupiter's message contains, the error class that decides over
# the HTTP status or None to let the status decide, the sentence a trader reads). First match wins.
# Trigger API v2 (DCA) cancel answers: a buy is running; the refund transaction Jupiter cached is
# gone (expired, or unknown); the order is not waiting for its refund (cancelled already, or never
# stopped) — relay.py re-reads the order then; nothing left to refund; a changed signed refund.
DCA_EXECUTING = "A buy is running right now; try again in a minute. Nothing was stopped or signed."
DCA_NOT_IN_CACHE = (
    "Jupiter no longer has that refund transaction (it expired). Nothing was sent; "
    "press “Finish the refund” for a fresh one."
)
DCA_NOT_CANCELLING = "Jupiter says this order is not waiting for its refund any more; we are re-reading it."
DCA_NOT_NOW = (
    "Jupiter cannot cancel this order in its current state (it is still starting, or has already ended). "
    "Nothing was stopped or signed; the list will refresh."
)
DCA_NOTHING_LEFT = "Nothing is left in this order to refund, so there is nothing to cancel."
DCA_SIGNATURE_REFUSED = (
    "Jupiter did not accept your wallet's signature of the refund. Nothing was sent; "
    "press “Finish the refund” to try with a fresh transaction."
)

KNOWN_MESSAGES: tuple[tuple[str, type[JupiterError] | None, str], ...] = (
    ("in 'executing' state", None, DCA_EXECUTING),
    ("cannot cancel dca order in", None, DCA_NOT_NOW),
    ("withdrawal transaction not found in cache", None, DCA_NOT_IN_CACHE),
    ("not in cancellation state", None, DCA_NOT_CANCELLING),
    ("no remaining funds", None, DCA_NOTHING_LEFT),
    ("invalid withdrawal transaction", None, DCA_SIGNATURE_REFUSED),
    ("failed to fill whole buffer", OrderNotFound, OrderNotFound.default_user_message),
    (
        "insufficient funds",
        JupiterRejected,
        "Your wallet does not have enough SOL for the network fee. Add a little SOL and try again.",
    ),
    ("blockhash not found", None, TRANSACTION_EXPIRED),
    ("expired", None, TRANSACTION_EXPIRED),
    ("already", None, "This order was already closed."),
    ("too many requests", None, JupiterRateLimited.default_user_message),
)


def known_message(message: str) -> tuple[type[JupiterError] | None, str]:
    """The row of KNOWN_MESSAGES matching Jupiter's message: (its error class or None, its words),
    or (None, "") when Jupiter's message is not one we know."""
    lowered = message.lower()
    for needle, kind, words in KNOWN_MESSAGES:
        if needle in lowered:
            return kind, words
    return None, ""


def plain_words(message: str) -> str:
    """Jupiter's message in plain words, or "" when it is not one we know."""
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
    """The error for an HTTP error answer. A 429 or 5xx keeps its class's words whatever the
    message says (its text is no reliable account of what happened); a known message otherwise
    gives the words, and its class when the table names one."""
    status = response.status_code
    message = upstream_message(response)
    details = {
        "status": status,
        "upstream_message": message,
        "gateway_request_id": response.headers.get("x-api-gateway-request-id", ""),
    }
    kind, words = known_message(message)
    if kind is not None:
        return kind(words, **details)
    if with_token(response) and (
        status == 401 or (status == 403 and "must match authenticated user" in message.lower())
    ):
        return JupiterUnauthorized(**details)
    if status == 429:
        return JupiterRateLimited(retryable=True, **details)
    if status >= 500:
        return JupiterUnavailable(retryable=True, **details)
    if status in (401, 403):
        return JupiterRejected("Jupiter refused the dashboard's credentials. Please tell the site operator.", **details)
    return JupiterRejected(words or f"Jupiter refused this request: {message or 'no reason given'}.", **details)


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


SHARE_SPENT = (
    "Your orders were loaded very often in the last minute. We paused to leave room for others; "
    "fresh data will be back in a moment."
)


def guard(endpoint: str) -> None:
    """The shared budget and breaker, in Jupiter's error vocabulary."""
    try:
        budget.before_call(endpoint)
    except budget.CircuitOpen:
        raise JupiterUnavailable(upstream_message="circuit open", retryable=True) from None
    except budget.BudgetSpent as spent:
        if spent.share:
            raise JupiterRateLimited(SHARE_SPENT, upstream_message="fair share spent", retryable=True) from None
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
