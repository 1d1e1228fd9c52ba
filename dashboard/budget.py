"""Guards on calls to Jupiter, shared by every worker and instance.

Two guards run before each upstream call (`dashboard.upstream` calls `before_call` and
`after_call` around every request, for every Jupiter API: they share one per-organisation limit):

* A call budget: at most `JUPITER_RATE_LIMIT_RPS × JUPITER_RATE_WINDOW_SECONDS` calls in any
  sliding window. List calls (order lists, token metadata) may use only
  `JUPITER_RATE_LIST_SHARE` of it, so cancelling always finds room; cancel calls may use the
  whole budget, and relaying a transaction the trader already signed is counted but never
  held back. A call waits up to `JUPITER_RATE_MAX_WAIT` seconds for a slot, otherwise it raises
  `BudgetSpent` without calling upstream.
* A circuit breaker: after `JUPITER_BREAKER_FAILURES` upstream failures in a row (5xx, timeouts,
  lost connections) it opens for `JUPITER_BREAKER_COOLDOWN` seconds, during which list calls fail
  fast with `CircuitOpen` (the dashboard shows last-known orders). Cancel calls still go
  through. After the cool-down one more failure opens it again; one success closes it.

Both live in Redis when `REDIS_URL` is set (atomic Lua scripts on Redis's clock), otherwise in
this process. A Redis outage lets calls through (logged) rather than stopping the dashboard.
This module knows nothing of Jupiter's errors: `dashboard.upstream` turns its two exceptions
into `JupiterRateLimited` and `JupiterUnavailable`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# Endpoint names as `dashboard.upstream.call` receives them.
LIST_ENDPOINTS = frozenset({"getRecurringOrders", "tokens", "dca-list", "dca-order"})
NEVER_HELD = frozenset({"execute", "dca-confirm"})  # a signed transaction is never held back
KEY_PREFIX = "dashboard:jupiter"


class BudgetSpent(Exception):
    """No slot in the shared call budget within the allowed wait."""


class CircuitOpen(Exception):
    """The circuit breaker is open: list calls fail fast."""


# --- the call budget ----------------------------------------------------------------------------


class LocalBudget:
    """A sliding window of call times in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: deque[tuple[float, bool]] = deque()  # (monotonic time, is a list call)

    def take(self, window: float, capacity: int, list_capacity: int, is_list: bool, force: bool) -> float:
        """0 when a slot was taken, else the seconds until one may free up."""
        now = time.monotonic()
        with self._lock:
            while self._calls and self._calls[0][0] <= now - window:
                self._calls.popleft()
            if not force:
                if len(self._calls) >= capacity:
                    return self._calls[0][0] + window - now
                lists = [at for at, listed in self._calls if listed]
                if is_list and len(lists) >= list_capacity:
                    return lists[0] + window - now
            self._calls.append((now, is_list))
            return 0.0

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


# KEYS: every call, list calls. ARGV: window ms, capacity, list capacity, is list, force, id.
# Returns 0 when a slot was taken, else the milliseconds until one may free up.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if ARGV[5] ~= '1' then
  local full = nil
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    full = KEYS[1]
  elseif ARGV[4] == '1' and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
    full = KEYS[2]
  end
  if full then
    local oldest = redis.call('ZRANGE', full, 0, 0, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + window - now)
  end
end
local member = now .. ':' .. ARGV[6]
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], window)
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[2], now, member)
  redis.call('PEXPIRE', KEYS[2], window)
end
return 0
"""

BUDGET_KEYS = [f"{KEY_PREFIX}:budget:all", f"{KEY_PREFIX}:budget:list"]


class RedisBudget:
    def __init__(self, connection: redis.Redis) -> None:
        self._take = connection.register_script(TAKE_SCRIPT)
        self._connection = connection

    def take(self, window: float, capacity: int, list_capacity: int, is_list: bool, force: bool) -> float:
        args = [int(window * 1000), capacity, list_capacity, int(is_list), int(force), uuid.uuid4().hex]
        return int(self._take(keys=BUDGET_KEYS, args=args)) / 1000

    def reset(self) -> None:
        self._connection.delete(*BUDGET_KEYS)


# --- the circuit breaker ------------------------------------------------------------------------


class LocalBreaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def record(self, ok: bool, threshold: int, cooldown: float) -> bool:
        """Count one outcome; True when this failure opened the breaker."""
        with self._lock:
            if ok:
                self._failures = 0
                return False
            self._failures += 1
            if self._failures < threshold:
                return False
            self._open_until = time.monotonic() + cooldown
            self._failures = threshold - 1  # after the cool-down, one more failure re-opens it
            return True

    def reset(self) -> None:
        with self._lock:
            self._failures = 0
            self._open_until = 0.0


# KEYS: failure count, open flag. ARGV: threshold, cool-down ms, count lifetime ms. 1 if opened.
FAIL_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  redis.call('SET', KEYS[1], tonumber(ARGV[1]) - 1, 'PX', ARGV[3])
  return 1
end
return 0
"""

BREAKER_KEYS = [f"{KEY_PREFIX}:breaker:failures", f"{KEY_PREFIX}:breaker:open"]


class RedisBreaker:
    def __init__(self, connection: redis.Redis) -> None:
        self._fail = connection.register_script(FAIL_SCRIPT)
        self._connection = connection

    def is_open(self) -> bool:
        return bool(self._connection.exists(BREAKER_KEYS[1]))

    def record(self, ok: bool, threshold: int, cooldown: float) -> bool:
        if ok:
            self._connection.delete(BREAKER_KEYS[0])
            return False
        cooldown_ms = int(cooldown * 1000)
        return bool(self._fail(keys=BREAKER_KEYS, args=[threshold, cooldown_ms, cooldown_ms + 600_000]))

    def reset(self) -> None:
        self._connection.delete(*BREAKER_KEYS)


# --- choosing the shared or the local state ------------------------------------------------------

_local_budget = LocalBudget()
_local_breaker = LocalBreaker()
_redis: dict[str, tuple[RedisBudget, RedisBreaker]] = {}
_redis_lock = threading.Lock()


def _shared() -> tuple[RedisBudget, RedisBreaker] | None:
    url = settings.REDIS_URL
    if not url:
        return None
    with _redis_lock:
        if url not in _redis:
            connection = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            _redis[url] = (RedisBudget(connection), RedisBreaker(connection))
        return _redis[url]


def budget() -> LocalBudget | RedisBudget:
    shared = _shared()
    return shared[0] if shared else _local_budget


def breaker() -> LocalBreaker | RedisBreaker:
    shared = _shared()
    return shared[1] if shared else _local_breaker


def reset() -> None:
    """Forget every counted call and failure (tests, operators after an incident)."""
    budget().reset()
    breaker().reset()


def capacities() -> tuple[int, int]:
    """(calls in a window, of which list calls) for the current settings."""
    capacity = max(1, math.floor(settings.JUPITER_RATE_LIMIT_RPS * settings.JUPITER_RATE_WINDOW_SECONDS))
    share = min(settings.JUPITER_RATE_LIST_SHARE, 1.0)
    return capacity, max(1, math.floor(capacity * share))


# --- the hooks ----------------------------------------------------------------------------------


def before_call(endpoint: str) -> None:
    """Fail fast while the breaker is open (list calls), then wait for a slot in the budget."""
    is_list = endpoint in LIST_ENDPOINTS
    if settings.JUPITER_BREAKER_ENABLED and is_list:
        try:
            is_open = breaker().is_open()
        except redis.RedisError as exc:
            logger.warning("circuit breaker unavailable (%s); calling Jupiter anyway", type(exc).__name__)
            is_open = False
        if is_open:
            logger.info("jupiter %s skipped: circuit open", endpoint)
            raise CircuitOpen
    if settings.JUPITER_RATE_LIMIT_ENABLED:
        take_slot(endpoint, is_list)


def take_slot(endpoint: str, is_list: bool) -> None:
    window = settings.JUPITER_RATE_WINDOW_SECONDS
    capacity, list_capacity = capacities()
    deadline = time.monotonic() + settings.JUPITER_RATE_MAX_WAIT
    while True:
        try:
            wait = budget().take(window, capacity, list_capacity, is_list, endpoint in NEVER_HELD)
        except redis.RedisError as exc:
            logger.warning("call budget unavailable (%s); calling Jupiter anyway", type(exc).__name__)
            return
        if wait <= 0:
            return
        if time.monotonic() + wait > deadline:
            logger.info("jupiter %s held back: call budget spent for %.1f s", endpoint, wait)
            raise BudgetSpent
        time.sleep(wait)


def after_call(endpoint: str, ok: bool) -> None:
    """Count an upstream outcome: `ok` is False for 5xx answers, timeouts and lost connections."""
    if not settings.JUPITER_BREAKER_ENABLED:
        return
    try:
        opened = breaker().record(ok, settings.JUPITER_BREAKER_FAILURES, settings.JUPITER_BREAKER_COOLDOWN)
    except redis.RedisError as exc:
        logger.warning("circuit breaker unavailable (%s)", type(exc).__name__)
        return
    if opened:
        logger.warning(
            "jupiter circuit open for %.0f s after %s failures (last: %s)",
            settings.JUPITER_BREAKER_COOLDOWN,
            settings.JUPITER_BREAKER_FAILURES,
            endpoint,
        )
