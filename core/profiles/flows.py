"""Every profile action that speaks to Telegram, each in the one pattern `Container.read_compute_write`: read what
is needed in a read-only unit of work, call Telegram with no transaction open, write in a new unit of work.

While a call runs, the session is held by a lease in the key-value store (`profiles:lease:...`, set_if_absent with
a TTL, renewed while the call lasts), so no two processes use one session at once (Telegram kills a key used from
two places: AUTH_KEY_DUPLICATED); a semaphore of the configuration caps the clients connected in this process.
Each action logs one event: person, profile id, outcome, duration; never codes, passwords, sessions or text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from core.container import Container, UnitOfWork
from core.errors import Conflict, DomainError, TooManyRequests
from core.profiles.inputs import normalize_phone, parse_recipient
from core.profiles.port import (
    CodeExpired,
    Dialog,
    DialogCursor,
    DialogPage,
    PasswordNeeded,
    PendingLogin,
    SentMessage,
    SessionRevoked,
    SignedIn,
    TelegramProfilesPort,
    UnreadDialog,
    WrongCode,
    WrongPassword,
    mask_phone,
)
from core.profiles.service import (
    ProfileDTO,
    ProfilesConfig,
    ProfileSession,
    ProfilesService,
    StoredPending,
    StoreUnavailable,
    attempts_error,
)
from storage.kv import KeyValueUnavailable

log = logging.getLogger("unibot.profiles")
T = TypeVar("T")


class ProfileBusy(Conflict):
    def __init__(self) -> None:
        super().__init__("profile_busy", "This Telegram profile is in use elsewhere right now; try again shortly")


@dataclass(frozen=True, slots=True)
class CodeSent:
    phone: str  # masked
    delivery: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Unread:
    profile_id: int
    total: int
    dialogs: tuple[UnreadDialog, ...]


# --- leases, logging, limits ---------------------------------------------------------------------------------------


@asynccontextmanager
async def lease(container: Container, name: str) -> AsyncIterator[None]:
    """Hold `profiles:lease:<name>` while the block runs, renewing it; ProfileBusy if another holder has it."""
    config = container.config(ProfilesConfig)
    key, token, ttl = f"profiles:lease:{name}", secrets.token_hex(8), float(config.lease_seconds)
    try:
        taken = await container.kv.set_if_absent(key, token, ttl=ttl)
    except KeyValueUnavailable:
        raise StoreUnavailable() from None
    if not taken:
        raise ProfileBusy()

    async def renew() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                # Only our own lease: one that expired and was taken over is never taken back.
                if not await container.kv.renew_if_equal(key, token, ttl=ttl):
                    log.warning("a profile lease was lost while its call ran", extra={"lease": name})
                    return
            except KeyValueUnavailable:
                log.warning("could not renew a profile lease", extra={"lease": name})

    renewing = asyncio.create_task(renew(), name=f"lease-{name}")
    try:
        async with config.clients:
            yield
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
        try:
            await container.kv.delete_if_equal(key, token)
        except KeyValueUnavailable:
            log.warning("could not release a profile lease; it expires by itself", extra={"lease": name})


@asynccontextmanager
async def logged(action: str, owner_id: int, profile_id: int | None = None) -> AsyncIterator[dict[str, object]]:
    """One event per action; the caller may fill `profile_id` in the yielded fields once it is known."""
    fields: dict[str, object] = {"action": action, "person": owner_id, "profile_id": profile_id}
    started = time.perf_counter()
    outcome = "ok"
    try:
        yield fields
    except DomainError as exc:
        outcome = exc.code
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        fields["outcome"] = outcome
        fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        log.info("profile action", extra=fields)


def _port(uow: UnitOfWork) -> TelegramProfilesPort:
    return ProfilesService(uow).require_enabled()


async def _on_profile(
    container: Container,
    owner_id: int,
    read: Callable[[ProfilesService], Awaitable[ProfileSession]],
    call: Callable[[TelegramProfilesPort, ProfileSession], Awaitable[T]],
    fields: dict[str, object],
) -> T:
    """Read a profile's session, call Telegram under its lease, note the use; a dead session revokes the profile."""

    async def read_session(uow: UnitOfWork) -> tuple[TelegramProfilesPort, ProfileSession]:
        return _port(uow), await read(ProfilesService(uow))

    async def compute(state: tuple[TelegramProfilesPort, ProfileSession]) -> tuple[int, T | SessionRevoked]:
        port, profile = state
        fields["profile_id"] = profile.profile_id
        async with lease(container, f"profile:{profile.profile_id}"):
            try:
                return profile.profile_id, await call(port, profile)
            except SessionRevoked as exc:
                return profile.profile_id, exc

    async def write(uow: UnitOfWork, done: tuple[int, T | SessionRevoked]) -> T:
        profile_id, result = done
        service = ProfilesService(uow)
        if isinstance(result, SessionRevoked):
            await service.mark_revoked(owner_id, profile_id)
            raise result.keeping_writes()
        await service.touch(owner_id, profile_id)
        return result

    return await container.read_compute_write(read_session, compute, write)


# --- login ---------------------------------------------------------------------------------------------------------


async def start_login(container: Container, owner_id: int, raw_phone: str) -> CodeSent:
    async with logged("start", owner_id):
        phone = normalize_phone(raw_phone)

        async def read(uow: UnitOfWork) -> TelegramProfilesPort:
            return _port(uow)

        async def compute(port: TelegramProfilesPort) -> PendingLogin:
            async with lease(container, f"pending:{owner_id}:{phone}"):
                return await port.start_login(phone)

        async def write(uow: UnitOfWork, pending: PendingLogin) -> CodeSent:
            expires_at = await ProfilesService(uow).save_pending(owner_id, pending)
            seconds = int((expires_at - uow.clock.now()).total_seconds())
            return CodeSent(mask_phone(phone), pending.delivery, seconds)

        return await container.read_compute_write(read, compute, write)


async def _continue_login(
    container: Container,
    owner_id: int,
    raw_phone: str,
    step: Callable[[TelegramProfilesPort, StoredPending], Awaitable[SignedIn]],
    fields: dict[str, object],
) -> ProfileDTO:
    phone = normalize_phone(raw_phone)

    async def read(uow: UnitOfWork) -> tuple[TelegramProfilesPort, StoredPending, ProfileSession | None]:
        service = ProfilesService(uow)
        return _port(uow), await service.pending(owner_id, phone), await service.active_session(owner_id, phone)

    async def compute(
        state: tuple[TelegramProfilesPort, StoredPending, ProfileSession | None],
    ) -> tuple[StoredPending, object]:
        port, stored, replaced = state
        async with lease(container, f"pending:{owner_id}:{phone}"):
            try:
                signed = await step(port, stored)
            except (WrongCode, WrongPassword, CodeExpired) as exc:
                return stored, exc
        if replaced is not None and replaced.session.text != signed.session.text:
            # Signed in again: the session it replaces is ended at Telegram rather than left alive, unused.
            try:
                async with lease(container, f"profile:{replaced.profile_id}"):
                    await port.log_out(replaced.session)
            except DomainError:
                log.warning("could not log out a replaced profile session", extra={"profile_id": replaced.profile_id})
        return stored, signed

    async def write(uow: UnitOfWork, done: tuple[StoredPending, object]) -> ProfileDTO:
        stored, result = done
        service = ProfilesService(uow)
        if isinstance(result, CodeExpired):
            await service.drop_pending(owner_id, phone)
            raise result.keeping_writes()
        if isinstance(result, WrongCode):
            raise attempts_error(await service.count_failure(owner_id, stored)).keeping_writes()
        if isinstance(result, WrongPassword):
            await service.count_failure(owner_id, stored)
            raise result.keeping_writes()
        assert isinstance(result, SignedIn)
        profile = await service.complete_login(owner_id, phone, result)
        fields["profile_id"] = profile.id
        return profile

    return await container.read_compute_write(read, compute, write)


async def submit_code(container: Container, owner_id: int, raw_phone: str, code: str) -> ProfileDTO:
    """The signed-in profile; PasswordNeeded (403, next step "password") when the account has a cloud password."""
    async with logged("code", owner_id) as fields:
        code = code.strip()

        async def step(port: TelegramProfilesPort, stored: StoredPending) -> SignedIn:
            return await port.submit_code(stored.login, code)

        try:
            return await _continue_login(container, owner_id, raw_phone, step, fields)
        except PasswordNeeded:
            fields["next_step"] = "password"
            raise


async def submit_password(container: Container, owner_id: int, raw_phone: str, password: str) -> ProfileDTO:
    async with logged("password", owner_id) as fields:

        async def step(port: TelegramProfilesPort, stored: StoredPending) -> SignedIn:
            return await port.submit_password(stored.login, password)

        return await _continue_login(container, owner_id, raw_phone, step, fields)


# --- a signed-in profile -------------------------------------------------------------------------------------------


def _by_phone(owner_id: int, raw_phone: str) -> Callable[[ProfilesService], Awaitable[ProfileSession]]:
    phone = normalize_phone(raw_phone)
    return lambda service: service.session_by_phone(owner_id, phone)


async def unread(container: Container, owner_id: int, raw_phone: str) -> Unread:
    async with logged("unread", owner_id) as fields:
        config = container.config(ProfilesConfig)

        async def call(port: TelegramProfilesPort, profile: ProfileSession) -> Unread:
            found = await port.unread(
                profile.session, max_dialogs=config.unread_max_dialogs, per_dialog=config.unread_per_dialog
            )
            total = sum(item.dialog.unread_count for item in found)
            await _cache(container, _unread_key(profile.profile_id), str(total))
            return Unread(profile.profile_id, total, found)

        return await _on_profile(container, owner_id, _by_phone(owner_id, raw_phone), call, fields)


async def dialogs(container: Container, owner_id: int, raw_phone: str, *, offset: int, limit: int) -> DialogPage:
    """A page of dialogs, unread ones first within the page; cached briefly per profile and page."""
    return await _dialogs(container, owner_id, _by_phone(owner_id, raw_phone), offset=offset, limit=limit)


async def dialogs_of(container: Container, owner_id: int, profile_id: int, *, offset: int, limit: int) -> DialogPage:
    """The same, for a profile named by its id (the bot's buttons)."""

    async def read(service: ProfilesService) -> ProfileSession:
        return await service.session_by_id(owner_id, profile_id)

    return await _dialogs(container, owner_id, read, offset=offset, limit=limit)


async def _dialogs(
    container: Container,
    owner_id: int,
    read: Callable[[ProfilesService], Awaitable[ProfileSession]],
    *,
    offset: int,
    limit: int,
) -> DialogPage:
    async with logged("dialogs", owner_id) as fields:

        async def call(port: TelegramProfilesPort, profile: ProfileSession) -> DialogPage:
            key = f"profiles:dialogs:{profile.profile_id}:{offset}:{limit}"
            cached = await _cached(container, key)
            if cached is not None:
                return _page_from_json(cached)
            cursor = DialogCursor(None, 0, 0, skip=offset) if offset else None
            page = await port.dialogs(profile.session, limit=limit, cursor=cursor)
            ordered = DialogPage(tuple(sorted(page.dialogs, key=lambda d: d.unread_count == 0)), page.next_cursor)
            await _cache(container, key, _page_to_json(ordered))
            return ordered

        return await _on_profile(container, owner_id, read, call, fields)


async def send(container: Container, owner_id: int, raw_phone: str, raw_to: str | int, text: str) -> SentMessage:
    async with logged("send", owner_id) as fields:
        to = parse_recipient(raw_to)
        config = container.config(ProfilesConfig)

        async def call(port: TelegramProfilesPort, profile: ProfileSession) -> SentMessage:
            now = container.clock.now().timestamp()
            window = int(now // 60)
            try:
                count = await container.kv.incr(f"profiles:send:{profile.profile_id}:{window}", ttl=120)
            except KeyValueUnavailable:
                raise StoreUnavailable() from None
            if count > config.send_per_minute:
                wait = max(1, int((window + 1) * 60 - now))
                raise TooManyRequests(
                    "profile_send_limited",
                    f"At most {config.send_per_minute} messages a minute from one profile",
                    retry_after=wait,
                )
            return await port.send(profile.session, to, text)

        return await _on_profile(container, owner_id, _by_phone(owner_id, raw_phone), call, fields)


async def remove(container: Container, owner_id: int, profile_id: int) -> None:
    """Log the session out at Telegram (a dead one counts as logged out) and delete the profile."""
    async with logged("remove", owner_id, profile_id):

        async def read(uow: UnitOfWork) -> tuple[TelegramProfilesPort, ProfileSession | None]:
            service = ProfilesService(uow)
            port = service.require_enabled()
            await service.get(owner_id, profile_id)  # 404 for anyone else's
            try:
                return port, await service.session_by_id(owner_id, profile_id)
            except DomainError as exc:
                if exc.code != "profile_revoked":
                    raise
                return port, None

        async def compute(state: tuple[TelegramProfilesPort, ProfileSession | None]) -> None:
            port, profile = state
            if profile is not None:
                async with lease(container, f"profile:{profile_id}"):
                    await port.log_out(profile.session)

        async def write(uow: UnitOfWork, _: None) -> None:
            await ProfilesService(uow).remove(owner_id, profile_id)

        await container.read_compute_write(read, compute, write)


async def list_profiles(container: Container, owner_id: int) -> list[ProfileDTO]:
    """The owner's profiles with their unread totals (cached briefly; a profile found signed out is revoked)."""

    async def read(uow: UnitOfWork) -> tuple[list[ProfileDTO], list[ProfileSession], TelegramProfilesPort | None]:
        service = ProfilesService(uow)
        profiles = await service.of_owner(owner_id)
        if service.config.port is None or service.config.keyring is None:
            return profiles, [], None
        return profiles, await service.sessions(owner_id), service.config.port

    async def compute(
        state: tuple[list[ProfileDTO], list[ProfileSession], TelegramProfilesPort | None],
    ) -> tuple[list[ProfileDTO], dict[int, int], list[int]]:
        profiles, sessions, port = state
        totals: dict[int, int] = {}
        revoked: list[int] = []
        if port is None:
            return profiles, totals, revoked
        config = container.config(ProfilesConfig)
        for profile in sessions:
            cached = await _cached(container, _unread_key(profile.profile_id))
            if cached is not None:
                totals[profile.profile_id] = int(cached)
                continue
            try:
                async with lease(container, f"profile:{profile.profile_id}"):
                    found = await port.unread(profile.session, max_dialogs=config.unread_max_dialogs, per_dialog=1)
            except SessionRevoked:
                revoked.append(profile.profile_id)
                continue
            except DomainError:
                continue  # busy elsewhere, flood wait, Telegram down: the total stays unknown
            totals[profile.profile_id] = sum(item.dialog.unread_count for item in found)
            await _cache(container, _unread_key(profile.profile_id), str(totals[profile.profile_id]))
        return profiles, totals, revoked

    async def write(uow: UnitOfWork, done: tuple[list[ProfileDTO], dict[int, int], list[int]]) -> list[ProfileDTO]:
        _, totals, revoked = done
        service = ProfilesService(uow)
        for profile_id in revoked:
            await service.mark_revoked(owner_id, profile_id)
        fresh = await service.of_owner(owner_id)
        return [_with_total(profile, totals.get(profile.id)) for profile in fresh]

    return await container.read_compute_write(read, compute, write)


def _with_total(profile: ProfileDTO, total: int | None) -> ProfileDTO:
    return replace(profile, unread_total=total)


async def _cache(container: Container, key: str, value: str) -> None:
    seconds = container.config(ProfilesConfig).dialogs_cache_seconds
    if seconds > 0:
        try:
            await container.kv.set(key, value, ttl=seconds)
        except KeyValueUnavailable:
            return  # a cache: Telegram is asked again next time


async def _cached(container: Container, key: str) -> bytes | None:
    if container.config(ProfilesConfig).dialogs_cache_seconds <= 0:
        return None
    try:
        return await container.kv.get(key)
    except KeyValueUnavailable:
        return None


def _unread_key(profile_id: int) -> str:
    return f"profiles:unread:{profile_id}"


def _page_to_json(page: DialogPage) -> str:
    cursor = page.next_cursor
    return json.dumps(
        {
            "dialogs": [
                {
                    "id": d.id,
                    "kind": d.kind,
                    "title": d.title,
                    "username": d.username,
                    "unread_count": d.unread_count,
                    "last_message_at": d.last_message_at.timestamp() if d.last_message_at else None,
                    "pinned": d.pinned,
                    "archived": d.archived,
                }
                for d in page.dialogs
            ],
            "next_skip": cursor.skip if cursor is not None else None,
        }
    )


def _page_from_json(raw: bytes) -> DialogPage:
    data = json.loads(raw)
    dialogs = tuple(
        Dialog(
            id=item["id"],
            kind=item["kind"],
            title=item["title"],
            username=item["username"],
            unread_count=item["unread_count"],
            last_message_at=datetime.fromtimestamp(item["last_message_at"], UTC) if item["last_message_at"] else None,
            pinned=item["pinned"],
            archived=item["archived"],
        )
        for item in data["dialogs"]
    )
    skip = data["next_skip"]
    return DialogPage(dialogs, DialogCursor(None, 0, 0, skip=skip) if skip is not None else None)
