"""Everything that hashes or verifies a password, each in the one pattern `Container.read_compute_write`:
read in a read-only unit of work, run argon2 with no transaction open, write in a new unit of work that checks
again whatever may have changed meanwhile.

These are the only functions in the domain that span units of work. The faces call them instead of opening a
unit of work themselves; everything else is a service built on the face's unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.auth.errors import PasswordPolicyError
from core.auth.passwords import check_password_policy
from core.auth.service import AuthService, ClientInfo, NewEmailUser, TokenPair
from core.container import Container, UnitOfWork
from core.errors import Conflict, Forbidden, TooManyRequests, Unauthorized, ValidationFailed
from core.identity.service import IdentityService, LinkCode
from core.users.dto import UserDTO
from core.users.normalize import email_key, is_email, login_key, username_key
from core.users.service import UserService
from storage.repositories.users import UserRepository


def _wrong() -> Unauthorized:
    return Unauthorized("invalid_credentials", "Incorrect email/username or password")


@dataclass(frozen=True, slots=True)
class _Stored:
    user_id: int | None
    password_hash: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class _Checked:
    user_id: int
    stored_hash: str
    new_hash: str | None


def _policy(password: str) -> None:
    try:
        check_password_policy(password)
    except PasswordPolicyError as exc:
        raise ValidationFailed(exc.code, exc.message) from None


async def _stored(uow: UnitOfWork, login: str) -> _Stored:
    user = await UserRepository(uow.session).by_login_key(login_key(login))
    if user is None:
        return _Stored(None, None, False)
    return _Stored(user.id, user.password_hash, user.is_active)


async def _verify(container: Container, login: str, password: str, client: ClientInfo, stored: _Stored) -> _Checked:
    """Throttling, constant-looking timing and failure counting shared by every password sign-in."""
    account, ip = login_key(login), client.ip or "unknown"
    wait = await container.throttle.retry_after(account, ip)
    if wait is not None:
        raise TooManyRequests("login_throttled", "Too many failed sign-ins; try again later", retry_after=wait)
    passwords = container.passwords
    if stored.user_id is None or stored.password_hash is None:
        # Same work as a wrong password, so the answer's timing does not tell which accounts exist.
        await passwords.verify_dummy(password)
        await container.throttle.record_failure(account, ip)
        raise _wrong()
    result = await passwords.verify(stored.password_hash, password)
    if not result.ok:
        await container.throttle.record_failure(account, ip)
        raise _wrong()
    await container.throttle.record_success(account, ip)
    if not stored.active:
        raise Forbidden("account_disabled", "This account is disabled")
    new_hash = await passwords.hash(password) if result.needs_rehash else None
    return _Checked(stored.user_id, stored.password_hash, new_hash)


async def register_email(
    container: Container,
    *,
    email: str,
    password: str,
    first_name: str | None,
    last_name: str | None,
    username: str | None,
    client: ClientInfo,
) -> tuple[UserDTO, TokenPair]:
    if not is_email(email):
        raise ValidationFailed("invalid_email", "This is not a valid email address")
    _policy(password)
    key = email_key(email)
    name_key = username_key(username) if username else None

    async def read(uow: UnitOfWork) -> None:
        # Refuse a taken address before spending a hash on it; the write checks again.
        users = UserRepository(uow.session)
        if await users.by_email_key(key) is not None:
            raise Conflict("email_taken", "Email already registered")
        if name_key and await users.username_taken(name_key):
            raise Conflict("username_taken", "This username is already taken")

    async def compute(_: None) -> str:
        return await container.passwords.hash(password)

    async def write(uow: UnitOfWork, password_hash: str) -> tuple[UserDTO, TokenPair]:
        new = NewEmailUser(
            email=email,
            email_key=key,
            username=username,
            username_key=name_key,
            password_hash=password_hash,
            first_name=first_name,
            last_name=last_name,
        )
        return await AuthService(uow).create_email_user(new, client)

    return await container.read_compute_write(read, compute, write)


async def login(container: Container, *, login: str, password: str, client: ClientInfo) -> tuple[UserDTO, TokenPair]:
    async def read(uow: UnitOfWork) -> _Stored:
        return await _stored(uow, login)

    async def compute(stored: _Stored) -> _Checked:
        return await _verify(container, login, password, client, stored)

    async def write(uow: UnitOfWork, checked: _Checked) -> tuple[UserDTO, TokenPair]:
        user = await UserRepository(uow.session).get(checked.user_id)
        if user is None:
            raise _wrong()
        if checked.new_hash is not None and user.password_hash == checked.stored_hash:
            user.password_hash = checked.new_hash
            await UserService(uow).touch(user)
        pair = await AuthService(uow).open_session(user.id, method="password", client=client)
        return UserDTO.from_model(user), pair

    return await container.read_compute_write(read, compute, write)


async def change_password(
    container: Container, *, user_id: int, current_password: str, new_password: str, client: ClientInfo
) -> TokenPair:
    _policy(new_password)

    async def read(uow: UnitOfWork) -> str | None:
        user = await UserRepository(uow.session).get(user_id)
        return user.password_hash if user is not None else None

    async def compute(stored_hash: str | None) -> tuple[str, str]:
        wrong = Unauthorized("invalid_credentials", "The current password is not correct")
        if stored_hash is None:
            await container.passwords.verify_dummy(current_password)
            raise wrong
        if not (await container.passwords.verify(stored_hash, current_password)).ok:
            raise wrong
        return stored_hash, await container.passwords.hash(new_password)

    async def write(uow: UnitOfWork, hashes: tuple[str, str]) -> TokenPair:
        stored_hash, new_hash = hashes
        return await AuthService(uow).set_password(user_id, expected_hash=stored_hash, new_hash=new_hash, client=client)

    return await container.read_compute_write(read, compute, write)


async def link_with_password(
    container: Container, *, code: str, login: str, password: str, client: ClientInfo
) -> UserDTO:
    """The web page of bot /link: whoever signs in with the email account's password confirms the link."""

    async def read(uow: UnitOfWork) -> tuple[LinkCode, _Stored]:
        return await IdentityService(uow).telegram_code(code), await _stored(uow, login)

    async def compute(state: tuple[LinkCode, _Stored]) -> tuple[LinkCode, _Checked | Unauthorized]:
        link_code, stored = state
        try:
            return link_code, await _verify(container, login, password, client, stored)
        except Unauthorized as exc:
            return link_code, exc

    async def write(uow: UnitOfWork, state: tuple[LinkCode, _Checked | Unauthorized]) -> UserDTO:
        link_code, checked = state
        identity = IdentityService(uow)
        if isinstance(checked, Unauthorized):
            # The failure counts against the code (enough of them void it), so it is committed with the refusal.
            await identity.count_code_failure(link_code.id)
            raise checked.keeping_writes()
        return await identity.redeem_telegram_code(link_code, target_user_id=checked.user_id)

    return await container.read_compute_write(read, compute, write)
