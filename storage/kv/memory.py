"""In-process store for a single process; nothing here is shared between replicas."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


class MemoryStore:
    name = "memory"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, tuple[bytes, float | None]] = {}
        # Expiry heap so a purge touches only what is due; stale heap entries are skipped.
        self._expiries: list[tuple[float, str]] = []

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires = entry[1]
        if expires is not None and expires <= self._clock():
            del self._data[key]
            return None
        return entry

    def _store(self, key: str, value: bytes, ttl: float | None) -> None:
        expires = None if ttl is None else self._clock() + ttl
        self._data[key] = (value, expires)
        if expires is not None:
            heapq.heappush(self._expiries, (expires, key))

    async def get(self, key: str) -> bytes | None:
        entry = self._live(key)
        return None if entry is None else entry[0]

    async def get_many(self, *keys: str) -> list[bytes | None]:
        values: list[bytes | None] = []
        for key in keys:
            entry = self._live(key)
            values.append(None if entry is None else entry[0])
        return values

    async def set(self, key: str, value: bytes | str, *, ttl: float | None = None) -> None:
        self._store(key, _as_bytes(value), ttl)

    async def set_if_absent(self, key: str, value: bytes | str, *, ttl: float | None = None) -> bool:
        # No await between the check and the write: atomic within the event loop.
        if self._live(key) is not None:
            return False
        self._store(key, _as_bytes(value), ttl)
        return True

    async def renew_if_equal(self, key: str, expected: bytes | str, *, ttl: float) -> bool:
        # No await between the check and the write: atomic within the event loop.
        entry = self._live(key)
        if entry is None or entry[0] != _as_bytes(expected):
            return False
        self._store(key, entry[0], ttl)
        return True

    async def delete_if_equal(self, key: str, expected: bytes | str) -> bool:
        entry = self._live(key)
        if entry is None or entry[0] != _as_bytes(expected):
            return False
        del self._data[key]
        return True

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in keys:
            if self._live(key) is not None:
                del self._data[key]
                removed += 1
        return removed

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        entry = self._live(key)
        if entry is None:
            value = amount
            self._store(key, str(value).encode(), ttl)
            return value
        value = int(entry[0]) + amount
        self._data[key] = (str(value).encode(), entry[1])
        return value

    async def ttl(self, key: str) -> float | None:
        entry = self._live(key)
        if entry is None or entry[1] is None:
            return None
        return max(0.0, entry[1] - self._clock())

    async def ping(self) -> None:
        return None

    async def purge_expired(self) -> int:
        now = self._clock()
        removed = 0
        while self._expiries and self._expiries[0][0] <= now:
            expires, key = heapq.heappop(self._expiries)
            entry = self._data.get(key)
            if entry is not None and entry[1] == expires:
                del self._data[key]
                removed += 1
        return removed

    async def close(self) -> None:
        self._data.clear()
        self._expiries.clear()
