"""Growing delays after failed sign-ins, per account and per client IP, shared by replicas through the kv store.

Each subject (an account or an IP) has a record "<time of last failure> <streak id>" and a counter per streak. The
counter is incremented atomically, so parallel guesses each count. Whether a streak is still remembered is decided
by the injected clock against the recorded time, never by the store's TTLs: those only clean up, and they follow
real time while tests (and the clock) may not.

When a streak is forgotten the next failure starts a new one. Resetting the old counter instead would race:
a burst of failures arriving together would wipe each other's counts. A new streak is elected once with
set_if_absent on a key named after the stale record everybody read, so a burst agrees on one counter.

The account delay is capped low on purpose: anyone can fail logins for someone else's address, and that must only
slow the owner down, never lock them out. The IP delay can grow larger, since it only hurts the guesser.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
from dataclasses import dataclass

from core.clock import Clock
from core.ratelimit import OutageReporter
from storage.kv import KeyValueStore, KeyValueUnavailable

log = logging.getLogger(__name__)


def account_key(account: str, key: bytes) -> str:
    """The store key part for an account: a keyed hash, so neither the address nor a plain hash of it (which anyone
    reading the store could match against guessed addresses) appears in a key."""
    normalised = account.strip().casefold()
    return hmac.new(key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def failure_delay(failures: int, *, free_failures: int, max_delay: int) -> int:
    """0 up to `free_failures`, then 1, 2, 4 ... seconds, never above `max_delay`."""
    over = failures - free_failures
    if over <= 0:
        return 0
    # Capping the exponent first keeps a huge counter from building a huge integer.
    return min(max_delay, 1 << min(over - 1, 62))


@dataclass(frozen=True, slots=True)
class _Subject:
    base: str
    max_delay: int

    @property
    def record_key(self) -> str:
        return f"{self.base}:last"

    def count_key(self, streak: str) -> str:
        return f"{self.base}:n:{streak}"

    def election_key(self, stale: _Record | None) -> str:
        return f"{self.base}:next:{'none' if stale is None else stale.streak}"


@dataclass(frozen=True, slots=True)
class _Record:
    last_failure: float
    streak: str

    def encode(self) -> str:
        return f"{self.last_failure!r} {self.streak}"

    @classmethod
    def decode(cls, raw: bytes | None) -> _Record | None:
        if raw is None:
            return None
        try:
            moment, streak = raw.decode("ascii").split(" ")
            last_failure = float(moment)
        except (UnicodeDecodeError, ValueError):
            return None
        if not math.isfinite(last_failure) or not streak.isalnum():
            return None
        return cls(last_failure, streak)


class LoginThrottle:
    def __init__(
        self,
        kv: KeyValueStore,
        clock: Clock,
        *,
        key: bytes,
        free_failures: int,
        account_max_delay: int,
        ip_max_delay: int,
        memory_seconds: float,
    ) -> None:
        if free_failures < 0 or account_max_delay < 1 or ip_max_delay < 1 or memory_seconds <= 0:
            raise ValueError("login throttle needs free_failures >= 0, delays >= 1 and memory_seconds > 0")
        if len(key) < 16:
            raise ValueError("login throttle needs a key of at least 16 bytes")
        self.kv = kv
        self.clock = clock
        self._key = key
        self.free_failures = free_failures
        self.account_max_delay = account_max_delay
        self.ip_max_delay = ip_max_delay
        self.memory_seconds = memory_seconds
        self.outages = OutageReporter("login throttle store", clock, logger=log)

    def _account(self, account: str) -> _Subject:
        return _Subject(f"login:acct:{account_key(account, self._key)}", self.account_max_delay)

    def _ip(self, ip: str) -> _Subject:
        return _Subject(f"login:ip:{ip.strip()}", self.ip_max_delay)

    async def retry_after(self, account: str, ip: str) -> int | None:
        """Seconds to wait before an attempt is even checked; None when it may go ahead."""
        now = self.clock.time()
        try:
            waits = await asyncio.gather(self._wait(self._account(account), now), self._wait(self._ip(ip), now))
        except KeyValueUnavailable as exc:
            self.outages.failed(exc)
            return None
        self._store_ok()
        longest = max(waits)
        return math.ceil(longest) if longest > 0 else None

    async def record_failure(self, account: str, ip: str) -> None:
        now = self.clock.time()
        try:
            await asyncio.gather(self._fail(self._account(account), now), self._fail(self._ip(ip), now))
        except KeyValueUnavailable as exc:
            self.outages.failed(exc)
            return
        self._store_ok()

    async def record_success(self, account: str, ip: str) -> None:
        """Forget the account's failures; the IP's stay, or one good account would launder a guesser's record."""
        subject = self._account(account)
        # The next failure then elects a new streak under "none"; that election key goes too, or the failure
        # would join the streak it once elected and carry on from that streak's count.
        try:
            await self.kv.delete(subject.record_key, subject.election_key(None))
        except KeyValueUnavailable as exc:
            self.outages.failed(exc)
            return
        self._store_ok()

    def _store_ok(self) -> None:
        if self.outages.failing:
            self.outages.succeeded()

    def _current(self, record: _Record | None, now: float) -> _Record | None:
        if record is None or now - record.last_failure >= self.memory_seconds:
            return None
        return record

    async def _wait(self, subject: _Subject, now: float) -> float:
        record = self._current(_Record.decode(await self.kv.get(subject.record_key)), now)
        if record is None:
            return 0.0
        failures = _parse_count(await self.kv.get(subject.count_key(record.streak)))
        delay = failure_delay(failures, free_failures=self.free_failures, max_delay=subject.max_delay)
        # A replica whose clock runs behind the writer's would see more than the delay; never more than that.
        return min(float(delay), record.last_failure + delay - now)

    async def _fail(self, subject: _Subject, now: float) -> None:
        seen = _Record.decode(await self.kv.get(subject.record_key))
        current = self._current(seen, now)
        if current is not None:
            streak = current.streak
        else:
            election = subject.election_key(seen)
            candidate = secrets.token_hex(8)
            if await self.kv.set_if_absent(election, candidate, ttl=self.memory_seconds):
                streak = candidate
            else:
                winner = await self.kv.get(election)
                streak = winner.decode("ascii", "replace") if winner else candidate
        await self.kv.set(subject.record_key, _Record(now, streak).encode(), ttl=self.memory_seconds)
        count_key = subject.count_key(streak)
        failures = await self.kv.incr(count_key, ttl=self.memory_seconds)
        # incr fixes the TTL when the counter is born; a streak that outlasts it would silently restart the count,
        # so the counter is rewritten with a fresh TTL once half of it is gone (rare; may drop a concurrent count).
        left = await self.kv.ttl(count_key)
        if left is not None and left < self.memory_seconds / 2:
            await self.kv.set(count_key, str(failures), ttl=self.memory_seconds)


def _parse_count(raw: bytes | None) -> int:
    if raw is None:
        return 0
    try:
        return max(0, int(raw))
    except ValueError:
        return 0
