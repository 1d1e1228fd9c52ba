"""Guards on calls to Jupiter, shared by every worker and instance.

Two guards run before each upstream call (`dashboard.upstream` calls `before_call` and
`after_call` around every request, for every Jupiter API: they share one per-organisation limit):

* A call budget: at most `JUPITER_RATE_LIMIT_RPS × JUPITER_RATE_WINDOW_SECONDS` calls in any
  sliding window. List calls (order lists, token metadata) may use only
  `JUPITER_RATE_LIST_SHARE` of it, so cancelling always finds room; cancel calls may use the
  whole budget, and relaying a transaction the trader already signed is counted but never
  held back. A call waits up to `JUPITER_RATE_MAX_WAIT` seconds for a slot, otherwise it raises
  `BudgetSpent` without calling upstream.
* A fair share of the list budget: list calls made for a request are charged to its wallet and
  its client address (`charged_to`), and neither may use more than `JUPITER_RATE_FAIR_SHARE` of
  the list budget in the window, so one client, or a swarm of throwaway wallets behind it,
  always leaves the rest to others. Connecting to Jupiter's DCA (`CONNECT_ENDPOINTS`: challenge
  and verify) is charged the same way, so it can never take the reserve kept for cancels.
* Jupiter's own numbers: every answer of Jupiter's carries `x-ratelimit-remaining`,
  `x-ratelimit-current` and `x-ratelimit-reset` (Unix seconds when a slot frees); `observe` keeps
  the latest in the Django cache (Redis in production, so every worker and instance reads it), and
  until that reset no more calls go out than Jupiter said were left — list calls leaving the same
  share of Jupiter's limit to cancels as the configured budget does (`told_reserve`), cancels
  using the rest, signed transactions never held. It only ever slows calls down: the configured
  budget stays the ceiling.
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
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass

import redis
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# Endpoint names as `dashboard.upstream.call` receives them.
LIST_ENDPOINTS = frozenset({"getRecurringOrders", "tokens", "dca-list", "dca-order"})
# Connecting to Jupiter's DCA costs calls too, and signing in with a throwaway key is free: these
# are charged like list calls (the list budget and fair shares), never to the cancel reserve.
CONNECT_ENDPOINTS = frozenset({"dca-challenge", "dca-verify"})
NEVER_HELD = frozenset({"execute", "dca-confirm"})  # a signed transaction is never held back
KEY_PREFIX = "dashboard:jupiter"


class BudgetSpent(Exception):
    """No slot in the shared call budget within the allowed wait; `share` when it is the
    requester's fair share that is spent (others may still call)."""

    def __init__(self, *, share: bool = False) -> None:
        super().__init__("fair share spent" if share else "call budget spent")
        self.share = share


class CircuitOpen(Exception):
    """The circuit breaker is open: list calls fail fast."""


# --- who a list call is for ---------------------------------------------------------------------

_charged_to: ContextVar[tuple[str, ...]] = ContextVar("charged_to", default=())


@contextmanager
def charged_to(*requesters: str) -> Iterator[None]:
    """Charge the list calls made inside to these requesters (e.g. "wallet:…", "client:…"),
    each held to its fair share. Threads started inside must enter it again (`requesters()`)."""
    token = _charged_to.set(tuple(r for r in requesters if r))
    try:
        yield
    finally:
        _charged_to.reset(token)


def requesters() -> tuple[str, ...]:
    """Who the current list calls are charged to (none outside a request)."""
    return _charged_to.get()


# --- the call budget ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """A call asking for a slot: the window (seconds), the budget's capacity and its lists' part,
    whether it is a list call, whether it is never held back (`force`), and the requesters charged
    with it and each one's fair share (list calls only)."""

    window: float
    capacity: int
    list_capacity: int
    is_list: bool
    force: bool = False
    requesters: tuple[str, ...] = ()
    share_capacity: int = 0


class LocalBudget:
    """A sliding window of call times in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: deque[tuple[float, bool]] = deque()  # (monotonic time, is a list call)
        self._shares: dict[str, deque[float]] = {}  # list call times per requester

    def try_take(self, ask: Ask) -> tuple[float, bool]:
        """(0, False) when a slot was taken, else (seconds until one may free up, whether it is
        a requester's fair share that is spent rather than the whole budget)."""
        now = time.monotonic()
        charged = ask.requesters if ask.is_list else ()
        with self._lock:
            while self._calls and self._calls[0][0] <= now - ask.window:
                self._calls.popleft()
            for name in [n for n, times in self._shares.items() if not times or times[-1] <= now - ask.window]:
                del self._shares[name]  # nothing left in the window
            for times in self._shares.values():
                while times[0] <= now - ask.window:
                    times.popleft()
            if not ask.force:
                if len(self._calls) >= ask.capacity:
                    return self._calls[0][0] + ask.window - now, False
                lists = [at for at, listed in self._calls if listed]
                if ask.is_list and len(lists) >= ask.list_capacity:
                    return lists[0] + ask.window - now, False
                for name in charged:
                    times = self._shares.get(name)
                    if times and len(times) >= ask.share_capacity:
                        return times[0] + ask.window - now, True
            self._calls.append((now, ask.is_list))
            for name in charged:
                self._shares.setdefault(name, deque()).append(now)
            return 0.0, False

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._shares.clear()


# KEYS: every call, list calls, then one key per requester charged (list calls only).
# ARGV: window ms, capacity, list capacity, is list, force, id, a requester's share.
# Returns {0, 0} when a slot was taken, else {milliseconds until one may free up, 1 when it is a
# requester's share that is spent, else 0}.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
end
if ARGV[5] ~= '1' then
  local full = nil
  local share = 0
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    full = KEYS[1]
  elseif ARGV[4] == '1' and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
    full = KEYS[2]
  else
    for i = 3, #KEYS do
      if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[7]) then
        full = KEYS[i]
        share = 1
        break
      end
    end
  end
  if full then
    local oldest = redis.call('ZRANGE', full, 0, 0, 'WITHSCORES')
    return {math.max(1, tonumber(oldest[2]) + window - now), share}
  end
end
local member = now .. ':' .. ARGV[6]
redis.call('ZADD', KEYS[1], now, member)
redis.call('PEXPIRE', KEYS[1], window)
if ARGV[4] == '1' then
  for i = 2, #KEYS do
    redis.call('ZADD', KEYS[i], now, member)
    redis.call('PEXPIRE', KEYS[i], window)
  end
end
return {0, 0}
"""

BUDGET_KEYS = [f"{KEY_PREFIX}:budget:all", f"{KEY_PREFIX}:budget:list"]
SHARE_KEY = KEY_PREFIX + ":budget:share:{}"


class RedisBudget:
    def __init__(self, connection: redis.Redis) -> None:
        self._take = connection.register_script(TAKE_SCRIPT)
        self._connection = connection

    def try_take(self, ask: Ask) -> tuple[float, bool]:
        keys = BUDGET_KEYS + ([SHARE_KEY.format(r) for r in ask.requesters] if ask.is_list else [])
        window_ms = int(ask.window * 1000)
        args = [window_ms, ask.capacity, ask.list_capacity, int(ask.is_list), int(ask.force), uuid.uuid4().hex]
        wait, share = self._take(keys=keys, args=[*args, ask.share_capacity])
        return int(wait) / 1000, bool(int(share))

    def reset(self) -> None:
        self._connection.delete(*BUDGET_KEYS)
        for key in self._connection.scan_iter(match=SHARE_KEY.format("*"), count=500):
            self._connection.delete(key)


# --- Jupiter's own numbers ----------------------------------------------------------------------

TOLD_KEY = f"{KEY_PREFIX}:told"  # (remaining, reset, limit, id) of the latest answer's headers
TOLD_SPENT_KEY = KEY_PREFIX + ":told:{}:spent"  # calls made since that answer
MAX_RESET_AHEAD = 600.0  # seconds; a reset further away than this is not believed


def observe(remaining: int | None, reset: float | None, current: int | None) -> None:
    """Jupiter's rate-limit headers on an answer (200 or 429): `remaining` calls are left until
    `reset` (Unix seconds), `current` were counted in its window. The latest answer wins (one that
    arrived out of order is corrected by the next). Ignored without both numbers, or when the reset
    is past or implausibly far."""
    if not settings.JUPITER_RATE_LIMIT_ENABLED or remaining is None or reset is None or remaining < 0:
        return
    ahead = reset - time.time()
    if not 0 < ahead <= MAX_RESET_AHEAD:
        return
    limit = remaining + current if current is not None and current >= 0 else None
    try:
        cache.set(TOLD_KEY, (remaining, reset, limit, uuid.uuid4().hex), math.ceil(ahead) + 1)
    except redis.RedisError as exc:
        logger.warning("Jupiter's rate-limit numbers not kept (%s)", type(exc).__name__)


def told_reserve(limit: int | None) -> int:
    """Of what Jupiter says is left, the calls list calls leave to cancels: the share of Jupiter's
    own limit (`current + remaining`) the configured budget keeps for them, or the configured
    reserve when Jupiter did not say its `current`."""
    share = min(settings.JUPITER_RATE_LIST_SHARE, 1.0)
    if limit is None:
        capacity, list_capacity = capacities()
        return capacity - list_capacity
    return limit - math.floor(limit * share)


def take_told(is_list: bool, force: bool) -> tuple[float, str]:
    """Count one call against what Jupiter last said was left: (0, the counter to give it back to)
    when there is room, or (seconds until Jupiter's reset, "") when not. No numbers, or their reset
    passed: (0, "") — the configured budget alone decides."""
    try:
        told = cache.get(TOLD_KEY)
        if told is None:
            return 0.0, ""
        remaining, reset, limit, told_id = told
        ahead = reset - time.time()
        if ahead <= 0:
            return 0.0, ""
        key = TOLD_SPENT_KEY.format(told_id)
        cache.add(key, 0, math.ceil(ahead) + 1)
        spent = cache.incr(key)
        if force or remaining - spent >= (told_reserve(limit) if is_list else 0):
            return 0.0, key
        cache.decr(key)
    except ValueError:  # the counter expired with the reset meanwhile
        return 0.0, ""
    except redis.RedisError as exc:
        logger.warning("Jupiter's rate-limit numbers unavailable (%s); calling Jupiter anyway", type(exc).__name__)
        return 0.0, ""
    return ahead, ""


def give_back(key: str) -> None:
    """Uncount a call `take_told` counted that did not go out after all."""
    if not key:
        return
    with suppress(ValueError, redis.RedisError):
        cache.decr(key)


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
    cache.delete(TOLD_KEY)


def capacities() -> tuple[int, int]:
    """(calls in a window, of which list calls) for the current settings."""
    capacity = max(1, math.floor(settings.JUPITER_RATE_LIMIT_RPS * settings.JUPITER_RATE_WINDOW_SECONDS))
    share = min(settings.JUPITER_RATE_LIST_SHARE, 1.0)
    return capacity, max(1, math.floor(capacity * share))


def share_capacity() -> int:
    """List calls one wallet, or one client address, may make in a window."""
    _, list_capacity = capacities()
    return max(1, math.floor(list_capacity * min(settings.JUPITER_RATE_FAIR_SHARE, 1.0)))


# --- the hooks ----------------------------------------------------------------------------------


def before_call(endpoint: str) -> None:
    """Fail fast while the breaker is open (list calls), then wait for a slot in the budget (list
    and connect calls: in the list budget, charged to the requesters' fair shares)."""
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
        take_slot(endpoint, is_list or endpoint in CONNECT_ENDPOINTS)


def take_slot(endpoint: str, is_list: bool) -> None:
    capacity, list_capacity = capacities()
    force = endpoint in NEVER_HELD
    window = settings.JUPITER_RATE_WINDOW_SECONDS
    ask = Ask(window, capacity, list_capacity, is_list, force, requesters(), share_capacity())
    deadline = time.monotonic() + settings.JUPITER_RATE_MAX_WAIT
    while True:
        wait, counted = take_told(is_list, force)
        share_spent, told = False, wait > 0
        if not told:
            try:
                wait, share_spent = budget().try_take(ask)
            except redis.RedisError as exc:
                logger.warning("call budget unavailable (%s); calling Jupiter anyway", type(exc).__name__)
                return
            if wait > 0:
                give_back(counted)
        if wait <= 0:
            return
        if time.monotonic() + wait > deadline:
            spent = (
                "a requester's fair share" if share_spent else "what Jupiter said was left" if told else "call budget"
            )
            logger.info("jupiter %s held back: %s spent for %.1f s", endpoint, spent, wait)
            raise BudgetSpent(share=share_spent)
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
