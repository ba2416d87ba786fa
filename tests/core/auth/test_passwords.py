from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal, ParamSpec, TypeVar

import pytest
from argon2 import Parameters, PasswordHasher, Type, extract_parameters

from core.auth.passwords import PasswordService, VerifyResult

_P = ParamSpec("_P")
_T = TypeVar("_T")

# Cheap enough to keep the suite fast, still real argon2id.
FAST = Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=1, memory_cost=1024, parallelism=1)
FAST_SLOWER = Parameters(
    type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2, memory_cost=1024, parallelism=1
)

OK = VerifyResult(ok=True, needs_rehash=False)
MISMATCH = VerifyResult(ok=False, needs_rehash=False)


@pytest.fixture
async def service() -> AsyncIterator[PasswordService]:
    svc = PasswordService(FAST)
    yield svc
    svc.close()


class GatedHasher(PasswordHasher):
    """A real hasher that parks each call in its worker thread until released.

    Parking makes concurrency observable without relying on how long a hash takes.
    """

    def __init__(self, params: Parameters = FAST) -> None:
        super().__init__(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            hash_len=params.hash_len,
            salt_len=params.salt_len,
            type=params.type,
        )
        self.gate = threading.Event()
        self._cond = threading.Condition()
        self.in_flight = 0
        self.max_in_flight = 0
        self.entered = 0
        self.thread_ids: set[int] = set()
        self.verified_hashes: list[str] = []

    def _enter(self) -> None:
        with self._cond:
            self.in_flight += 1
            self.entered += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.thread_ids.add(threading.get_ident())
            self._cond.notify_all()
        if not self.gate.wait(timeout=10):
            raise TimeoutError("gate never opened: the event loop was probably blocked")

    def _leave(self) -> None:
        with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self._enter()
        try:
            return super().hash(password, salt=salt)
        finally:
            self._leave()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self._enter()
        try:
            self.verified_hashes.append(hash if isinstance(hash, str) else hash.decode())
            return super().verify(hash, password)
        finally:
            self._leave()

    def wait_until_in_flight(self, count: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.in_flight >= count, timeout=10)


class CountingExecutor(ThreadPoolExecutor):
    """Counts jobs handed over and not yet finished; updated synchronously on submit."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers=max_workers)
        self._lock = threading.Lock()
        self.outstanding = 0

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        with self._lock:
            self.outstanding += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self._lock:
            self.outstanding -= 1


def fast_hash(password: str, params: Parameters = FAST) -> str:
    return PasswordHasher.from_parameters(params).hash(password)


async def test_hash_and_verify_round_trip(service: PasswordService) -> None:
    stored = await service.hash("correct horse battery staple")

    assert stored.startswith("$argon2id$")
    assert await service.verify(stored, "correct horse battery staple") == OK


async def test_hashes_are_salted(service: PasswordService) -> None:
    first = await service.hash("same password twice")
    second = await service.hash("same password twice")

    assert first != second
    assert (await service.verify(first, "same password twice")).ok
    assert (await service.verify(second, "same password twice")).ok


async def test_wrong_password_is_rejected(service: PasswordService) -> None:
    stored = await service.hash("correct horse battery staple")

    assert await service.verify(stored, "correct horse battery stapler") == MISMATCH
    assert await service.verify(stored, "") == MISMATCH


async def test_case_and_whitespace_are_significant(service: PasswordService) -> None:
    stored = await service.hash("CorrectHorse1!")

    assert (await service.verify(stored, "CorrectHorse1!")).ok
    for variant in ("correcthorse1!", "CORRECTHORSE1!", " CorrectHorse1!", "CorrectHorse1! "):
        assert await service.verify(stored, variant) == MISMATCH


async def test_long_non_ascii_password_is_not_truncated(service: PasswordService) -> None:
    # 128 code points, 256 UTF-8 bytes: a byte-counting or truncating
    # implementation would lose the tail.
    password = "ж" * 127 + "я"
    stored = await service.hash(password)

    assert (await service.verify(stored, password)).ok
    assert await service.verify(stored, "ж" * 128) == MISMATCH
    assert await service.verify(stored, password + "я") == MISMATCH
    assert await service.verify(stored, password[:127]) == MISMATCH


async def test_multibyte_tail_matters(service: PasswordService) -> None:
    password = "😀" * 127 + "a"
    stored = await service.hash(password)

    assert (await service.verify(stored, password)).ok
    assert await service.verify(stored, "😀" * 127 + "b") == MISMATCH


@pytest.mark.parametrize(
    "bad_hash",
    [
        "",
        "not a hash",
        "5f4dcc3b5aa765d61d8327deb882cf99",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$",
        "$argon2id$v=19$m=1024,t=1,p=1$!!!!$!!!!",
        "$argon2id$v=19$m=1024,t=1,p=1$sälz$häsh",
        "$argon2id$",
        "$argon2xx$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
    ],
)
async def test_malformed_hash_is_a_failed_verification(service: PasswordService, bad_hash: str) -> None:
    assert await service.verify(bad_hash, "whatever password") == MISMATCH


async def test_truncated_hash_is_a_failed_verification(service: PasswordService) -> None:
    stored = await service.hash("correct horse battery staple")

    assert await service.verify(stored[:-5], "correct horse battery staple") == MISMATCH


async def test_lone_surrogate_password_fails_verification_without_raising(service: PasswordService) -> None:
    stored = await service.hash("correct horse battery staple")

    assert await service.verify(stored, "\ud800abcdefgh") == MISMATCH


async def test_needs_rehash_when_parameters_changed() -> None:
    old_hash = fast_hash("correct horse battery staple", FAST)
    svc = PasswordService(FAST_SLOWER)
    try:
        result = await svc.verify(old_hash, "correct horse battery staple")
        assert result == VerifyResult(ok=True, needs_rehash=True)

        fresh = await svc.hash("correct horse battery staple")
        assert await svc.verify(fresh, "correct horse battery staple") == OK
        # A mismatch never asks for a rehash: there is no plaintext worth storing.
        assert await svc.verify(old_hash, "wrong") == MISMATCH
    finally:
        svc.close()


async def test_legacy_argon2i_hash_verifies_and_asks_for_rehash(service: PasswordService) -> None:
    legacy = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.I).hash("old password!")

    assert await service.verify(legacy, "old password!") == VerifyResult(ok=True, needs_rehash=True)


async def test_default_parameters_are_owasp_level_argon2id() -> None:
    svc = PasswordService()
    try:
        stored = await svc.hash("a perfectly ordinary passphrase")
        assert (await svc.verify(stored, "a perfectly ordinary passphrase")).ok
    finally:
        svc.close()

    params = extract_parameters(stored)
    assert params.type is Type.ID
    # OWASP Password Storage Cheat Sheet minimums for argon2id.
    assert (params.memory_cost >= 19456 and params.time_cost >= 2) or (
        params.memory_cost >= 47104 and params.time_cost >= 1
    )
    assert params.salt_len >= 16


def test_only_argon2id_is_accepted() -> None:
    with pytest.raises(ValueError, match="argon2id"):
        PasswordService(PasswordHasher(type=Type.I))


def test_max_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        PasswordService(FAST, max_concurrency=0)


async def test_verify_dummy_does_a_real_verification_with_the_same_parameters() -> None:
    hasher = GatedHasher(FAST)
    hasher.gate.set()
    svc = PasswordService(hasher)
    try:
        await svc.verify_dummy("someone's guess")
        await svc.verify_dummy("another guess")
    finally:
        svc.close()

    assert len(hasher.verified_hashes) == 2
    dummy = hasher.verified_hashes[0]
    # The same dummy is reused, so only its first creation costs a hash.
    assert hasher.verified_hashes == [dummy, dummy]
    assert extract_parameters(dummy) == FAST


async def test_warm_up_precomputes_the_dummy_hash() -> None:
    hasher = GatedHasher(FAST)
    hasher.gate.set()
    svc = PasswordService(hasher)
    try:
        await svc.warm_up()
        entered_after_warm_up = hasher.entered
        await svc.verify_dummy("guess")
    finally:
        svc.close()

    assert entered_after_warm_up == 1
    assert hasher.entered == 2


async def test_verify_runs_off_the_event_loop() -> None:
    hasher = GatedHasher(FAST)
    svc = PasswordService(hasher, max_concurrency=2)
    stored = fast_hash("correct horse battery staple")
    ticks_while_hashing = 0

    async def ticker() -> None:
        # Only a free event loop can get here while a verification is parked in
        # the hasher; if the hash ran on the loop, nothing would tick and the gate
        # would time out inside the hasher.
        nonlocal ticks_while_hashing
        while ticks_while_hashing < 100:
            await asyncio.sleep(0)
            if hasher.in_flight:
                ticks_while_hashing += 1
        hasher.gate.set()

    try:
        _, right, wrong = await asyncio.wait_for(
            asyncio.gather(
                ticker(),
                svc.verify(stored, "correct horse battery staple"),
                svc.verify(stored, "wrong"),
            ),
            timeout=20,
        )
    finally:
        hasher.gate.set()
        svc.close()

    assert (right, wrong) == (OK, MISMATCH)
    assert ticks_while_hashing == 100
    assert threading.get_ident() not in hasher.thread_ids


async def test_loop_keeps_ticking_during_real_hashing() -> None:
    # Memory-hard enough (19 MiB each) that hashing on the loop would be visible.
    params = Parameters(
        type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=2, memory_cost=19456, parallelism=1
    )
    svc = PasswordService(params, max_concurrency=2)
    done = asyncio.Event()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0)
            ticks += 1

    async def work() -> list[str]:
        try:
            return await asyncio.gather(*(svc.hash(f"password number {i}") for i in range(4)))
        finally:
            done.set()

    try:
        hashes, _ = await asyncio.gather(work(), ticker())
    finally:
        svc.close()

    assert len(set(hashes)) == 4
    # Each hash takes milliseconds; a free loop turns over thousands of times
    # meanwhile. A blocked one would manage a handful at most.
    assert ticks > 50


async def test_concurrency_limit_holds() -> None:
    hasher = GatedHasher(FAST)
    # More workers than slots, so only the service's limit can hold work back.
    executor = CountingExecutor(max_workers=8)
    svc = PasswordService(hasher, max_concurrency=3, executor=executor)
    stored = fast_hash("correct horse battery staple")
    try:
        tasks = [asyncio.create_task(svc.verify(stored, "correct horse battery staple")) for _ in range(10)]
        assert await asyncio.to_thread(hasher.wait_until_in_flight, 3)
        for _ in range(50):
            await asyncio.sleep(0)
        # Submission happens on the loop thread, so this count is exact: the
        # other seven are still waiting for a slot, not queued in the pool.
        assert executor.outstanding == 3
        assert hasher.in_flight == 3

        hasher.gate.set()
        results = await asyncio.gather(*tasks)
    finally:
        hasher.gate.set()
        svc.close()
        executor.shutdown(wait=True)

    assert results == [OK] * 10
    assert hasher.entered == 10
    assert hasher.max_in_flight == 3


async def test_cancelled_call_keeps_its_slot_until_the_hash_finishes() -> None:
    hasher = GatedHasher(FAST)
    executor = CountingExecutor(max_workers=4)
    svc = PasswordService(hasher, max_concurrency=1, executor=executor)
    stored = fast_hash("correct horse battery staple")
    try:
        first = asyncio.create_task(svc.verify(stored, "correct horse battery staple"))
        assert await asyncio.to_thread(hasher.wait_until_in_flight, 1)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first

        second = asyncio.create_task(svc.verify(stored, "correct horse battery staple"))
        for _ in range(50):
            await asyncio.sleep(0)
        # The cancelled hash still occupies its thread and memory, so the
        # second one must not have been let in yet.
        assert executor.outstanding == 1
        assert hasher.entered == 1

        hasher.gate.set()
        assert await second == OK
    finally:
        hasher.gate.set()
        svc.close()
        executor.shutdown(wait=True)

    assert hasher.max_in_flight == 1
    assert hasher.entered == 2


async def test_close_shuts_down_only_an_owned_executor() -> None:
    own = PasswordService(FAST)
    own.close()
    with pytest.raises(RuntimeError):
        await own.hash("correct horse battery staple")

    executor = ThreadPoolExecutor(max_workers=1)
    shared = PasswordService(FAST, executor=executor)
    try:
        shared.close()
        stored = await shared.hash("correct horse battery staple")
        assert (await shared.verify(stored, "correct horse battery staple")).ok
    finally:
        executor.shutdown(wait=True)


async def test_semaphore_is_released_after_failures(service: PasswordService) -> None:
    # More failing calls than slots: a leaked slot would make the last ones hang.
    for _ in range(10):
        assert await asyncio.wait_for(service.verify("garbage", "pw"), timeout=5) == MISMATCH
    assert (await service.verify(await service.hash("still works ok"), "still works ok")).ok
