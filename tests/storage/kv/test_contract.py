"""One contract, two stores: every test here runs against the in-process store and a real redis-server."""

from __future__ import annotations

import asyncio

import pytest

from storage.kv import KeyValueStore, KeyValueUnavailable, MemoryStore, RedisStore
from tests.helpers.redis_server import RedisServer


async def test_get_set_delete(kv: KeyValueStore) -> None:
    assert await kv.get("a") is None
    await kv.set("a", "1")
    assert await kv.get("a") == b"1"
    await kv.set("a", b"\x00\xff")
    assert await kv.get("a") == b"\x00\xff"
    assert await kv.delete("a", "missing") == 1
    assert await kv.get("a") is None
    assert await kv.delete() == 0


async def test_get_many(kv: KeyValueStore) -> None:
    assert await kv.get_many() == []
    await kv.set("m1", "a")
    await kv.set("m3", b"c", ttl=0.05)
    assert await kv.get_many("m1", "m2", "m3") == [b"a", None, b"c"]
    await asyncio.sleep(0.1)
    assert await kv.get_many("m3", "m1") == [None, b"a"]


async def test_ttl_expires(kv: KeyValueStore) -> None:
    await kv.set("short", "x", ttl=0.05)
    await kv.set("long", "y", ttl=60)
    await kv.set("forever", "z")
    remaining = await kv.ttl("long")
    assert remaining is not None
    assert 59 < remaining <= 60
    assert await kv.ttl("forever") is None
    assert await kv.ttl("missing") is None
    await asyncio.sleep(0.1)
    assert await kv.get("short") is None
    assert await kv.get("long") == b"y"


async def test_set_if_absent_is_atomic(kv: KeyValueStore) -> None:
    results = await asyncio.gather(*(kv.set_if_absent("claim", str(i), ttl=10) for i in range(20)))
    assert results.count(True) == 1
    winner = results.index(True)
    assert await kv.get("claim") == str(winner).encode()


async def test_set_if_absent_after_expiry(kv: KeyValueStore) -> None:
    assert await kv.set_if_absent("k", "1", ttl=0.05)
    assert not await kv.set_if_absent("k", "2", ttl=0.05)
    await asyncio.sleep(0.1)
    assert await kv.set_if_absent("k", "3")
    assert await kv.get("k") == b"3"


async def test_renew_and_delete_only_while_holding(kv: KeyValueStore) -> None:
    assert await kv.set_if_absent("lease", "mine", ttl=0.2)
    assert await kv.renew_if_equal("lease", "mine", ttl=60)
    remaining = await kv.ttl("lease")
    assert remaining is not None
    assert remaining > 30
    # Someone else's value is neither renewed nor deleted.
    assert not await kv.renew_if_equal("lease", "theirs", ttl=60)
    assert not await kv.delete_if_equal("lease", "theirs")
    assert await kv.get("lease") == b"mine"
    assert await kv.delete_if_equal("lease", "mine")
    assert await kv.get("lease") is None
    assert not await kv.renew_if_equal("lease", "mine", ttl=60)
    assert not await kv.delete_if_equal("lease", "mine")


async def test_an_expired_lease_taken_over_is_not_taken_back(kv: KeyValueStore) -> None:
    assert await kv.set_if_absent("lease", "first", ttl=0.05)
    await asyncio.sleep(0.1)
    assert await kv.set_if_absent("lease", "second", ttl=60)
    assert not await kv.renew_if_equal("lease", "first", ttl=60)
    assert not await kv.delete_if_equal("lease", "first")
    assert await kv.get("lease") == b"second"


async def test_incr_creates_and_keeps_ttl(kv: KeyValueStore) -> None:
    assert await kv.incr("n", ttl=60) == 1
    assert await kv.incr("n", 5, ttl=1) == 6
    remaining = await kv.ttl("n")
    # The TTL is fixed when the counter is born; later calls must not extend or shorten the window.
    assert remaining is not None
    assert remaining > 50
    assert await kv.incr("plain") == 1
    assert await kv.ttl("plain") is None
    counts = await asyncio.gather(*(kv.incr("c", ttl=10) for _ in range(50)))
    assert sorted(counts) == list(range(1, 51))


async def test_incr_after_expiry_restarts(kv: KeyValueStore) -> None:
    await kv.incr("w", ttl=0.05)
    await kv.incr("w", ttl=0.05)
    await asyncio.sleep(0.1)
    assert await kv.incr("w", ttl=0.05) == 1


async def test_ping(kv: KeyValueStore) -> None:
    await kv.ping()


async def test_purge_expired(kv: KeyValueStore) -> None:
    for i in range(5):
        await kv.set(f"e{i}", "x", ttl=0.05)
    await kv.set("keep", "x", ttl=60)
    await asyncio.sleep(0.1)
    removed = await kv.purge_expired()
    if isinstance(kv, MemoryStore):
        assert removed == 5
    else:
        assert removed == 0  # Redis expires keys by itself
    assert await kv.get("keep") == b"x"
    assert await kv.purge_expired() == 0


async def test_memory_purge_skips_overwritten_keys() -> None:
    store = MemoryStore()
    await store.set("k", "old", ttl=0.01)
    await store.set("k", "new", ttl=60)
    await asyncio.sleep(0.03)
    assert await store.purge_expired() == 0
    assert await store.get("k") == b"new"


async def test_redis_down_raises_unavailable(own_redis: RedisServer) -> None:
    store = RedisStore.from_url(own_redis.url, prefix="down:")
    await store.set("k", "v")
    own_redis.stop()
    with pytest.raises(KeyValueUnavailable):
        await store.get("k")
    with pytest.raises(KeyValueUnavailable):
        await store.ping()
    own_redis.start()
    await store.ping()
    await store.close()


async def test_prefixes_isolate(redis_server: RedisServer) -> None:
    first = RedisStore.from_url(redis_server.url, prefix="one:")
    second = RedisStore.from_url(redis_server.url, prefix="two:")
    await first.set("k", "1")
    assert await second.get("k") is None
    await first.delete("k")
    await first.close()
    await second.close()
