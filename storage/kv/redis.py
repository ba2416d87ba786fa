"""Redis-backed store, shared by every replica."""

from __future__ import annotations

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from storage.kv.base import KeyValueUnavailable

# INCRBY then set the expiry only when the counter was just created, in one round trip.
_INCR_SCRIPT = """
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
"""


# Compare-and-renew and compare-and-delete, each one atomic round trip.
_RENEW_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def create_pool(url: str) -> ConnectionPool:
    """The process's one pool of Redis connections, shared by the key-value store, the rate limiter's counters and
    the bot's FSM storage. Everything on it sits on the request path and fails open or falls back, so a dead Redis
    must cost about a second, not redis-py's default of retries with growing back-off; one retry still replaces a
    connection the server dropped."""
    return ConnectionPool.from_url(
        url,
        retry=Retry(NoBackoff(), 1),
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        health_check_interval=30,
    )


def _ms(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, int(ttl * 1000))


class RedisStore:
    name = "redis"

    def __init__(self, client: Redis, *, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self._incr = client.register_script(_INCR_SCRIPT)
        self._renew_if_equal = client.register_script(_RENEW_IF_EQUAL)
        self._delete_if_equal = client.register_script(_DELETE_IF_EQUAL)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "") -> RedisStore:
        return cls.on_pool(create_pool(url), prefix=prefix)

    @classmethod
    def on_pool(cls, pool: ConnectionPool, *, prefix: str = "") -> RedisStore:
        return cls(Redis(connection_pool=pool), prefix=prefix)

    def _k(self, key: str) -> str:
        return self.prefix + key

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self.client.get(self._k(key))
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    async def get_many(self, *keys: str) -> list[bytes | None]:
        if not keys:
            return []
        try:
            values = await self.client.mget([self._k(key) for key in keys])
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc
        return [value if value is None or isinstance(value, bytes) else str(value).encode() for value in values]

    async def set(self, key: str, value: bytes | str, *, ttl: float | None = None) -> None:
        try:
            await self.client.set(self._k(key), value, px=_ms(ttl))
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc

    async def set_if_absent(self, key: str, value: bytes | str, *, ttl: float | None = None) -> bool:
        try:
            return bool(await self.client.set(self._k(key), value, px=_ms(ttl), nx=True))
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc

    async def renew_if_equal(self, key: str, expected: bytes | str, *, ttl: float) -> bool:
        try:
            return bool(await self._renew_if_equal(keys=[self._k(key)], args=[expected, max(1, int(ttl * 1000))]))
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc

    async def delete_if_equal(self, key: str, expected: bytes | str) -> bool:
        try:
            return bool(await self._delete_if_equal(keys=[self._k(key)], args=[expected]))
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        try:
            return int(await self.client.delete(*(self._k(key) for key in keys)))
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        try:
            return int(await self._incr(keys=[self._k(key)], args=[amount, _ms(ttl) or 0]))
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc

    async def ttl(self, key: str) -> float | None:
        try:
            remaining = int(await self.client.pttl(self._k(key)))
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc
        return None if remaining < 0 else remaining / 1000

    async def ping(self) -> None:
        try:
            await self.client.ping()
        except RedisError as exc:
            raise KeyValueUnavailable(str(exc)) from exc

    async def purge_expired(self) -> int:
        return 0

    async def close(self) -> None:
        await self.client.aclose()
