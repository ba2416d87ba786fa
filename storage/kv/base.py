"""The contract of the short-lived shared state store. Every implementation passes tests/storage/kv contract suite."""

from __future__ import annotations

from typing import Protocol


class KeyValueUnavailable(Exception):
    """The store cannot be reached; callers decide whether to fail open or closed."""


class KeyValueStore(Protocol):
    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """Several keys in one round trip, in the order asked."""
        ...

    async def set(self, key: str, value: bytes | str, *, ttl: float | None = None) -> None: ...

    async def set_if_absent(self, key: str, value: bytes | str, *, ttl: float | None = None) -> bool:
        """Atomically store the value only when the key is missing; True when this call stored it."""
        ...

    async def delete(self, *keys: str) -> int: ...

    async def renew_if_equal(self, key: str, expected: bytes | str, *, ttl: float) -> bool:
        """Atomically give the key a new TTL only while it still holds `expected`; True when it did (a lease kept
        by its holder, never taken back from whoever holds it now)."""
        ...

    async def delete_if_equal(self, key: str, expected: bytes | str) -> bool:
        """Atomically delete the key only while it still holds `expected`; True when this call deleted it."""
        ...

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add to an integer counter; the TTL is set when the counter is created and kept afterwards."""
        ...

    async def ttl(self, key: str) -> float | None:
        """Seconds left, or None for a missing key or one without expiry."""
        ...

    async def ping(self) -> None: ...

    async def purge_expired(self) -> int:
        """Drop expired entries now; stores that expire keys by themselves return 0."""
        ...

    async def close(self) -> None: ...
