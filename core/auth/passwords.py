"""Password hashing (argon2id) and the password policy.

Hashing is deliberately expensive in CPU and memory, so it never runs on the event
loop and never runs unboundedly in parallel: a burst of logins would otherwise
stall every other coroutine or push the process out of memory (the default
parameters use 64 MiB per hash).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import Parameters, PasswordHasher, Type
from argon2.exceptions import Argon2Error

from core.auth.common_passwords import COMMON_PASSWORDS
from core.auth.errors import PasswordPolicyError

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PasswordPolicyError",
    "PasswordService",
    "VerifyResult",
    "check_password_policy",
]

MIN_PASSWORD_LENGTH = 8
# The ceiling exists to bound hashing work per request, not to limit users;
# anything longer is refused outright rather than silently truncated.
MAX_PASSWORD_LENGTH = 128

_T = TypeVar("_T")


def check_password_policy(password: str) -> None:
    """Raise :class:`PasswordPolicyError` if ``password`` may not be set.

    Length is counted in Unicode code points so that non-Latin passwords get the
    same allowance as ASCII ones. The password itself is never altered: only the
    deny-list lookup ignores case.
    """
    length = len(password)
    if length < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            "password_too_short", f"Password must be at least {MIN_PASSWORD_LENGTH} characters long."
        )
    if length > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            "password_too_long", f"Password must be at most {MAX_PASSWORD_LENGTH} characters long."
        )
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates can arrive through JSON "\ud800" escapes; they cannot be
        # hashed consistently, so they are refused here rather than failing later.
        raise PasswordPolicyError("password_invalid", "Password contains characters that cannot be stored.") from None
    if password.casefold() in COMMON_PASSWORDS:
        raise PasswordPolicyError("password_too_common", "This password is too common; please choose another one.")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    # Only ever true together with ok: the caller holds the plaintext just then
    # and can store a hash made with the current parameters.
    needs_rehash: bool


class PasswordService:
    """Hash and verify passwords off the event loop with bounded parallelism.

    One instance is meant to live for the whole process and be used from a single
    event loop (the semaphore binds to the loop that first waits on it).
    """

    def __init__(
        self,
        hasher: PasswordHasher | Parameters | None = None,
        *,
        max_concurrency: int = 4,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if hasher is None:
            hasher = PasswordHasher()
        elif isinstance(hasher, Parameters):
            hasher = PasswordHasher.from_parameters(hasher)
        if hasher.type is not Type.ID:
            # argon2i and argon2d each give up one of the two protections
            # (side channels vs. GPU trade-offs); only the hybrid is acceptable.
            raise ValueError("only argon2id is allowed")
        self._hasher = hasher
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="argon2")
        self._dummy_hash: str | None = None
        self._dummy_lock = asyncio.Lock()

    @property
    def hasher(self) -> PasswordHasher:
        return self._hasher

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> VerifyResult:
        return await self._run(self._verify_sync, password_hash, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend the same work as a real verification, for accounts that do not exist.

        Without this, "no such user" answers measurably faster than "wrong
        password", which lets anyone enumerate registered addresses.
        """
        dummy = await self._get_dummy_hash()
        await self._run(self._verify_sync, dummy, password)

    async def warm_up(self) -> None:
        """Precompute the dummy hash, so the first unknown-account login is not slower than later ones."""
        await self._get_dummy_hash()

    def close(self) -> None:
        if self._owns_executor:
            self._executor.shutdown(wait=True)

    async def _get_dummy_hash(self) -> str:
        async with self._dummy_lock:
            if self._dummy_hash is None:
                # A random secret nobody knows, so the dummy can never be "matched".
                self._dummy_hash = await self.hash(secrets.token_urlsafe(32))
            return self._dummy_hash

    def _verify_sync(self, password_hash: str, password: str) -> VerifyResult:
        try:
            self._hasher.verify(password_hash, password)
        except (Argon2Error, ValueError):
            # ValueError covers InvalidHashError and non-encodable input: a stored
            # hash we cannot parse must fail the login, not crash it.
            return VerifyResult(ok=False, needs_rehash=False)
        try:
            needs_rehash = self._hasher.check_needs_rehash(password_hash)
        except ValueError:
            needs_rehash = True
        return VerifyResult(ok=True, needs_rehash=needs_rehash)

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        # The slot is released when the worker thread finishes, not when the
        # awaiting coroutine goes away: a cancelled login must not free a slot
        # while its hash is still consuming memory in the pool. That is why this
        # submits to the executor directly instead of using loop.run_in_executor.
        await self._semaphore.acquire()
        loop = asyncio.get_running_loop()
        try:
            future: Future[_T] = self._executor.submit(fn, *args)
        except BaseException:
            self._semaphore.release()
            raise
        future.add_done_callback(lambda _: self._release_from_thread(loop))
        return await asyncio.wrap_future(future, loop=loop)

    def _release_from_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        # RuntimeError: the loop is already closed (process shutdown), so nobody
        # is left waiting for the slot.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._semaphore.release)
