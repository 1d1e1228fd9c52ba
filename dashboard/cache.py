"""The shared cache on Redis: Django's own backend, with one `redis.Redis` client per connection pool.

Django's `RedisCacheClient` makes a new `redis.Redis` for every cache operation, and its
constructor builds a table of some 170 response callbacks: about as much CPU as the operation's
round trip to Redis. A cold orders panel of 20 pages makes about a hundred operations (each page:
look, lock, look again, store, unlock), most of them in its page threads. A client is safe to share
over its pool, so one per pool is enough; pools, options and the serializer stay Django's.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingClient(RedisCacheClient):
    """Django's client, giving out the same `redis.Redis` for the same connection pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}  # id of a pool (kept in self._pools) -> its redis.Redis

    def get_client(self, key: str | None = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    """`django.core.cache.backends.redis.RedisCache` with `ReusingClient`."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingClient
