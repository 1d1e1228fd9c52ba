"""The shared cache's Redis backend gives out one redis client per connection pool (Django's own
makes one per operation). Nothing here connects: a client connects on its first command."""

from __future__ import annotations

from dashboard.cache import RedisCache


def test_one_client_per_pool_for_every_operation():
    cache = RedisCache("redis://127.0.0.1:6379/15", {})
    client = cache._cache.get_client(write=False)
    assert cache._cache.get_client("any-key", write=True) is client  # one server: one pool, one client
    assert client.connection_pool is cache._cache._get_connection_pool(write=True)


def test_each_server_keeps_its_own_client():
    cache = RedisCache("redis://127.0.0.1:6379/14,redis://127.0.0.1:6379/13", {})
    writer = cache._cache.get_client(write=True)
    readers = {id(cache._cache.get_client()) for _ in range(20)}  # reads go to the second server
    assert readers == {id(cache._cache.get_client())} and writer not in [cache._cache.get_client()]
    assert writer.connection_pool.connection_kwargs["db"] == 14
    assert cache._cache.get_client().connection_pool.connection_kwargs["db"] == 13
