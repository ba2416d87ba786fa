"""Telegram sign-in, account linking and referrals, shared by the bot, the REST API and the signed service routes.

Linking rule: a Telegram account and an email account become one user. When the Telegram account is still a
bare user of its own (created by talking to the bot, with no email and no password), linking moves its Telegram
identity onto the email account and retires the bare user, carrying over its language, its referrer and the
people it referred. When it already belongs to a real account, linking is refused with a conflict: accounts
with sign-in methods of their own are never merged. Referral rules hold through linking: a referrer is set once,
never oneself, never in a cycle; the retired user's referral code keeps crediting the surviving account.

An `IdentityService` works inside the unit of work it is built on; it never opens one.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram.utils.deep_linking import create_deep_link

from core.auth.guard import InitDataProof
from core.auth.service import AuthService, ClientInfo, TokenPair
from core.container import UnitOfWork
from core.deeplinks import parse_start_payload
from core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from core.finance.linking import move_finance_records
from core.notify import Notice
from core.rewards.service import carry_over_retired_user
from core.telegram.initdata import Ed25519Check, validate_init_data
from core.telegram.login_widget import validate_login_widget
from core.telegram.user_data import TelegramAuthError, TelegramUser
from core.users.dto import TelegramProfile, UserDTO
from core.users.service import UserService
from storage.kv import KeyValueUnavailable
from storage.models.identity import BindingCode, Identity, ReferralCodeAlias
from storage.models.user import User
from storage.repositories.identity import IdentityRepository
from storage.repositories.users import UserRepository

log = logging.getLogger(__name__)

TELEGRAM = "telegram"
EMAIL = "email"
_REFERRAL_DEPTH = 64


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    bot_token: str
    code_ttl: timedelta
    max_attempts: int
    max_age: float
    future_skew: float
    refuse_replays: bool
    ed25519: Ed25519Check | None


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    expires_at: datetime
    expires_in: int


@dataclass(frozen=True, slots=True)
class SignInMethods:
    telegram_id: int | None
    telegram_username: str | None
    email: str | None
    has_password: bool


@dataclass(frozen=True, slots=True)
class ReferralInfo:
    code: str
    link: str | None
    count: int
    referred_by_id: int | None


@dataclass(frozen=True, slots=True)
class LinkCode:
    """A usable binding code, as read before a password check."""

    id: int
    telegram_id: int


@dataclass(frozen=True, slots=True)
class TelegramSignIn:
    user: UserDTO
    created: bool
    tokens: TokenPair
    referred_by_id: int | None


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def profile_of(user: TelegramUser) -> TelegramProfile:
    return TelegramProfile(
        telegram_id=user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
    )


def invalid_code() -> ValidationFailed:
    return ValidationFailed("invalid_code", "This code is invalid, used or expired")


class IdentityService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session
        self._clock = uow.clock
        self._repo = IdentityRepository(uow.session)
        self._users = UserRepository(uow.session)
        self._links = uow.container.links
        self.config = uow.config(IdentityConfig)

    # --- links -------------------------------------------------------------------------------------------------

    def start_link(self, payload: str) -> str | None:
        if not self._links.bot_username:
            return None
        return create_deep_link(self._links.bot_username, "start", payload)

    def link_page_url(self, code: str, *, language: str | None = None) -> str | None:
        """The web page where a Telegram user confirms linking by signing in to the email account, in their
        language."""
        if not self._links.public_base_url:
            return None
        suffix = f"&lang={language}" if language else ""
        return f"{self._links.public_base_url.rstrip('/')}/link?code={code}{suffix}"

    # --- Telegram sign-in -------------------------------------------------------------------------------------

    async def sign_in_with_init_data(self, raw: str, client: ClientInfo) -> TelegramSignIn:
        """Mini App sign-in: a session for the Telegram user that initData proves, created when new."""
        auth = verify_init_data(self.config, self._uow, raw)
        if self.config.refuse_replays:
            try:
                fresh = await self._uow.container.kv.set_if_absent(
                    f"tg:initdata:{auth.fingerprint}", b"1", ttl=self.config.max_age + self.config.future_skew
                )
            except KeyValueUnavailable:
                fresh = True
                log.warning("initData replay store unavailable; accepting")
            if not fresh:
                raise Unauthorized("init_data_replayed", "This sign-in data was already used")
        return await self._sign_in(profile_of(auth.user), auth.start_param, "telegram_webapp", client)

    async def sign_in_with_widget(self, fields: dict[str, str], client: ClientInfo) -> TelegramSignIn:
        try:
            user = validate_login_widget(
                fields,
                bot_token=self.config.bot_token,
                clock=self._clock,
                max_age=self.config.max_age,
                future_skew=self.config.future_skew,
            )
        except TelegramAuthError as exc:
            raise _telegram_error(exc) from None
        return await self._sign_in(profile_of(user), None, "telegram_widget", client)

    async def sign_in_trusted(
        self, profile: TelegramProfile, *, referral: str | None, method: str, client: ClientInfo
    ) -> TelegramSignIn:
        """For callers that proved the Telegram identity themselves: signed service calls from a bot."""
        return await self._sign_in(profile, referral, method, client)

    async def _sign_in(
        self, profile: TelegramProfile, referral: str | None, method: str, client: ClientInfo
    ) -> TelegramSignIn:
        user, created = await UserService(self._uow).ensure_telegram_user(profile)
        referred_by = None
        if created and referral:
            referred_by = await self.apply_referral(user.id, referral)
        tokens = await AuthService(self._uow).open_session(user.id, method=method, client=client)
        fresh = await UserService(self._uow).get(user.id)
        return TelegramSignIn(user=fresh, created=created, tokens=tokens, referred_by_id=referred_by)

    async def session_for_telegram(self, telegram_id: int, *, method: str, client: ClientInfo) -> TokenPair:
        """A new session for the user of this Telegram account (signed service calls); never creates one."""
        user = await self._users.by_telegram_id(telegram_id)
        if user is None:
            raise NotFound("user_not_found", "User not found for this Telegram ID")
        return await AuthService(self._uow).open_session(user.id, method=method, client=client)

    async def referral_payload_of(self, referrer_telegram_id: int | None, *, own_telegram_id: int) -> str | None:
        """The start payload of a referrer named by Telegram id (the signed registration's `referred_by_id`)."""
        if referrer_telegram_id is None or referrer_telegram_id == own_telegram_id:
            return None
        referrer = await self._users.by_telegram_id(referrer_telegram_id)
        code = referrer.referral_code if referrer is not None else None
        return f"ref_{code}" if code else None

    async def referrer_telegram_id(self, user_id: int) -> int | None:
        user = await self._users.get(user_id)
        if user is None or user.referred_by_id is None:
            return None
        referrer = await self._users.get(user.referred_by_id)
        return referrer.telegram_id if referrer is not None else None

    async def prove_init_data(self, raw: str) -> InitDataProof:
        """The `Authorization: tma <initData>` scheme: the user behind valid initData, created when new."""
        proof = verify_init_data(self.config, self._uow, raw)
        user, created = await UserService(self._uow).ensure_telegram_user(profile_of(proof.user))
        if created and proof.start_param:
            await self.apply_referral(user.id, proof.start_param)
        return InitDataProof(
            telegram_id=proof.user.id,
            user_id=user.id,
            # The denylist column holds 64 characters; 60 hex digits of the fingerprint keep it unique enough.
            jti=f"tma:{proof.fingerprint[:60]}",
            expires=proof.auth_date.timestamp() + self.config.max_age,
        )

    # --- referrals --------------------------------------------------------------------------------------------

    async def apply_referral(self, user_id: int, payload: str) -> int | None:
        """Set the referrer once: never oneself, never overwritten, never a cycle. Returns the referrer's id."""
        link = parse_start_payload(payload)
        if link is None or link.kind != "ref":
            return None
        referrer = await self._repo.by_referral_code(link.value)
        user = await self._users.get(user_id)
        if referrer is None or user is None or user.referred_by_id is not None:
            return None
        if not await self._may_refer(referrer.id, user.id):
            return None
        user.referred_by_id = referrer.id
        await UserService(self._uow).touch(user)
        return referrer.id

    async def _may_refer(self, referrer_id: int, user_id: int) -> bool:
        """False when `referrer_id` is the user or descends from the user (the new edge would close a cycle)."""
        ancestor: int | None = referrer_id
        for _ in range(_REFERRAL_DEPTH):
            if ancestor is None:
                return True
            if ancestor == user_id:
                return False
            ancestor = await self._repo.referrer_of(ancestor)
        # Deeper than any real chain: refuse rather than risk a cycle.
        return False

    async def referral_info(self, user_id: int) -> ReferralInfo:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        count = await self._repo.referral_count(user_id)
        code = user.referral_code or ""
        return ReferralInfo(
            code=code, link=self.start_link(f"ref_{code}"), count=count, referred_by_id=user.referred_by_id
        )

    # --- binding codes ----------------------------------------------------------------------------------------

    async def issue_code_for_telegram(self, telegram_id: int) -> IssuedCode:
        """A code for a Telegram chat that wants to link an email account (bot /link, signed /telegram/start);
        refused when that Telegram account already belongs to an account with an email."""
        user = await self._users.by_telegram_id(telegram_id)
        if user is not None and user.email:
            raise Conflict("already_linked", "This Telegram account is already linked to an email account")
        return await self._issue(issued_to=TELEGRAM, telegram_id=telegram_id, user_id=None)

    async def issue_code_for_account(self, user_id: int) -> IssuedCode:
        """A code for a signed-in account that wants to link a Telegram account through a start link."""
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        if user.telegram_id is not None:
            raise Conflict("already_linked", "This account is already linked to a Telegram account")
        return await self._issue(issued_to="account", telegram_id=None, user_id=user_id)

    async def _issue(self, *, issued_to: str, telegram_id: int | None, user_id: int | None) -> IssuedCode:
        # 128 bits: the code travels in links, where nobody types it and nobody should guess it.
        code = secrets.token_urlsafe(16)
        now = self._clock.now()
        expires_at = now + self.config.code_ttl
        await self._repo.add_code(
            BindingCode(
                code_hash=hash_code(code),
                issued_to=issued_to,
                telegram_id=telegram_id,
                user_id=user_id,
                created_at=now,
                expires_at=expires_at,
            )
        )
        return IssuedCode(code=code, expires_at=expires_at, expires_in=int(self.config.code_ttl.total_seconds()))

    def _usable(self, code: BindingCode | None, issued_to: str, now: datetime) -> BindingCode:
        if (
            code is None
            or code.issued_to != issued_to
            or code.used_at is not None
            or code.expires_at <= now
            or code.failed_attempts >= self.config.max_attempts
        ):
            raise invalid_code()
        return code

    async def telegram_code(self, code: str) -> LinkCode:
        """A usable code issued to a Telegram chat (bot /link), read before its password check."""
        row = self._usable(await self._repo.code_by_hash(hash_code(code)), TELEGRAM, self._clock.now())
        assert row.telegram_id is not None
        return LinkCode(id=row.id, telegram_id=row.telegram_id)

    async def count_code_failure(self, code_id: int) -> None:
        await self._repo.count_failure(code_id)

    async def redeem_telegram_code(self, code: LinkCode, *, target_user_id: int) -> UserDTO:
        """Link the chat the code was issued to into the account whose password was just checked; the chat hears
        about it once the link is committed."""
        user = await self._redeem(code.id, TELEGRAM, target_user_id=target_user_id, telegram_id=code.telegram_id)
        self._uow.after_commit(
            self._uow.container.notifier.notify(
                Notice(
                    chat_id=code.telegram_id,
                    key="linked",
                    language=user.language,
                    params={"account": user.email or user.display_name},
                )
            )
        )
        return user

    async def link_for_account(
        self, *, code: str, user_id: int, telegram_id: int, profile: TelegramProfile | None
    ) -> UserDTO:
        """Signed /telegram/confirm: the code a bot got for chat `telegram_id`, confirmed by the account's owner."""
        now = self._clock.now()
        row = await self._repo.code_by_hash(hash_code(code))
        if row is None or row.telegram_id != telegram_id:
            # A wrong guess counts against every live code of that chat, so guessing voids them.
            for candidate in await self._repo.live_codes_for_telegram(telegram_id, now):
                await self._repo.count_failure(candidate.id)
            raise invalid_code().keeping_writes()
        self._usable(row, TELEGRAM, now)
        return await self._redeem(row.id, TELEGRAM, target_user_id=user_id, telegram_id=telegram_id, profile=profile)

    async def link_from_start(self, *, code: str, profile: TelegramProfile) -> UserDTO:
        """`/start link_<code>`: the Telegram account that opened the link joins the account that asked for it."""
        row = self._usable(await self._repo.code_by_hash(hash_code(code)), "account", self._clock.now())
        assert row.user_id is not None
        return await self._redeem(
            row.id, "account", target_user_id=row.user_id, telegram_id=profile.telegram_id, profile=profile
        )

    async def _redeem(
        self,
        code_id: int,
        issued_to: str,
        *,
        target_user_id: int,
        telegram_id: int,
        profile: TelegramProfile | None = None,
    ) -> UserDTO:
        now = self._clock.now()
        if not await self._repo.claim_code(code_id, now):
            raise invalid_code()
        # Checked again after the claim: the code may have expired or been voided meanwhile.
        row = await self._session.get(BindingCode, code_id)
        if row is None or row.expires_at <= now or row.failed_attempts >= self.config.max_attempts:
            raise invalid_code()
        return await self._link(target_user_id, telegram_id, profile)

    async def _link(self, target_user_id: int, telegram_id: int, profile: TelegramProfile | None) -> UserDTO:
        target = await self._users.get(target_user_id)
        if target is None or not target.is_active:
            raise NotFound("user_not_found", "User not found")
        if target.telegram_id is not None and target.telegram_id != telegram_id:
            raise Conflict("already_linked", "This account is already linked to another Telegram account")
        existing = await self._repo.find(TELEGRAM, str(telegram_id))
        if existing is not None and existing.user_id != target.id:
            other = await self._users.get(existing.user_id)
            if other is None:
                raise Conflict("telegram_taken", "This Telegram account already belongs to another account")
            await self._retire_bare_user(other, target)
            existing = None
        if existing is None:
            await self._repo.add(
                Identity(user_id=target.id, provider=TELEGRAM, subject=str(telegram_id), created_at=self._clock.now())
            )
            target.telegram_id = telegram_id
        if profile is not None:
            target.telegram_username = profile.username
            target.first_name = target.first_name or profile.first_name
            target.last_name = target.last_name or profile.last_name
        await UserService(self._uow).touch(target)
        return UserDTO.from_model(target)

    async def _retire_bare_user(self, other: User, target: User) -> None:
        identities = await self._repo.of_user(other.id)
        if other.password_hash is not None or any(identity.provider != TELEGRAM for identity in identities):
            raise Conflict("telegram_taken", "This Telegram account already belongs to another account")
        target.language = target.language or other.language
        target.telegram_username = target.telegram_username or other.telegram_username
        # The people the retired user referred now count for the target; then its own referrer may follow, but
        # only where that keeps every rule (never oneself, never a cycle through the moved referrals).
        await self._repo.move_referrals(other.id, target.id)
        inherited = other.referred_by_id
        if target.referred_by_id is None and inherited is not None and await self._may_refer(inherited, target.id):
            target.referred_by_id = inherited
        await self._keep_referral_codes(other, target)
        await carry_over_retired_user(self._uow, other.id, target.id)
        await move_finance_records(self._uow, other.id, target.id)
        # Its tokens must die with it: publish an inactive state before the row goes.
        other.is_active = False
        other.token_version += 1
        other.telegram_id = None
        await UserService(self._uow).touch(other)
        for identity in identities:
            await self._repo.remove(identity)
        await self._session.delete(other)
        await self._session.flush()
        log.info("bare telegram user retired into linked account", extra={"retired": other.id, "into": target.id})

    async def _keep_referral_codes(self, other: User, target: User) -> None:
        """The person keeps the referral code they were shown in the bot, and every code either account ever had
        keeps crediting the surviving account."""
        retired_code, own_code = other.referral_code, target.referral_code
        await self._repo.move_code_aliases(other.id, target.id)
        other.referral_code = None
        await self._session.flush()
        if retired_code:
            target.referral_code = retired_code
            if own_code:
                await self._repo.add_code_alias(ReferralCodeAlias(code=own_code, user_id=target.id))

    async def unlink_telegram(self, user_id: int) -> UserDTO:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        identities = await self._repo.of_user(user_id)
        telegram = next((identity for identity in identities if identity.provider == TELEGRAM), None)
        if telegram is None:
            raise NotFound("not_linked", "No Telegram account is linked")
        others = [identity for identity in identities if identity.provider != TELEGRAM]
        if not others or user.password_hash is None:
            raise Conflict("last_sign_in_method", "Telegram is the only way to sign in to this account")
        await self._repo.remove(telegram)
        user.telegram_id = None
        user.telegram_username = None
        await UserService(self._uow).touch(user)
        return UserDTO.from_model(user)

    async def methods(self, user_id: int) -> SignInMethods:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        return SignInMethods(
            telegram_id=user.telegram_id,
            telegram_username=user.telegram_username,
            email=user.email,
            has_password=user.password_hash is not None,
        )

    async def purge_expired_codes_batch(self, batch: int = 500) -> int:
        return await self._repo.purge_codes(self._clock.now(), batch)


def verify_init_data(config: IdentityConfig, uow: UnitOfWork, raw: str) -> WebAppUserProof:
    try:
        auth = validate_init_data(
            raw,
            bot_token=config.bot_token,
            clock=uow.clock,
            max_age=config.max_age,
            future_skew=config.future_skew,
            ed25519=config.ed25519,
        )
    except TelegramAuthError as exc:
        raise _telegram_error(exc) from None
    return WebAppUserProof(
        user=auth.user, start_param=auth.start_param, fingerprint=auth.fingerprint, auth_date=auth.auth_date
    )


@dataclass(frozen=True, slots=True)
class WebAppUserProof:
    user: TelegramUser
    start_param: str | None
    fingerprint: str
    auth_date: datetime


def _telegram_error(exc: TelegramAuthError) -> ValidationFailed | Unauthorized:
    log.info("telegram sign-in data refused", extra={"reason": exc.reason})
    if exc.status == 422:
        return ValidationFailed("invalid_telegram_data", "The Telegram sign-in data is malformed")
    return Unauthorized("invalid_telegram_data", "The Telegram sign-in data is not valid")
