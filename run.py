"""Composition root: builds every part from settings and runs the bot and the web server in one asyncio loop.

python run.py                 serve (local, polling or webhook mode, from settings)
python run.py migrate         apply database migrations
python run.py check-config    print the effective settings, secrets masked
python run.py rotate-profile-key   seal every stored Telegram profile secret again under the current key
python run.py issue-token --user ID [--reason TEXT] [--allow-outside-local]
                              print a short-lived access token (local mode only unless overridden; audited)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import hashlib
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from aiogram import Bot, Router
from aiogram.exceptions import TelegramNetworkError, TelegramServerError, TelegramUnauthorizedError
from aiogram.types import MenuButtonWebApp, WebAppInfo
from aiogram.utils.i18n import I18n
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from argon2 import Parameters, Type
from redis.asyncio import ConnectionPool

from bot.commands import set_commands
from bot.factory import BotRuntime, create_bot, create_dispatcher, create_fsm_storage, create_i18n
from bot.notify import BotNotifier
from core.access import jobs as access_jobs
from core.access.levels import AccessLevel
from core.access.policy import BOT_MESSAGES, AccessConfig, policy_of
from core.access.service import AccessService
from core.auth import jobs as auth_jobs
from core.auth.keys import KeyConfig, create_codec, derived_key, local_secret
from core.auth.passwords import PasswordService
from core.auth.service import AuthConfig
from core.clock import Clock, SystemClock
from core.container import Container
from core.errors import DomainError
from core.finance.charts import ChartRenderer
from core.finance.config import FinanceConfig
from core.identity.service import IdentityConfig
from core.jobs import create_scheduler, maintenance_jobs
from core.logging import setup_logging
from core.login_throttle import LoginThrottle
from core.profiles.crypto import KeyRing, KeyRingError
from core.profiles.sealing import check_ring, reseal_all
from core.profiles.service import ProfilesConfig
from core.ratelimit import AUTH, GENERAL, SERVICE, USER, RateLimiter, RateLimitTier
from core.rewards.service import RewardsConfig
from core.settings import Mode, Settings, SettingsError, load_settings
from core.signing import SigningClient
from core.telegram.initdata import Ed25519Check
from core.users.service import UsersConfig
from core.version import app_version
from core.wallet.proof import ProofConfig
from fake_telegram import FakeTelegram
from mtproto.stand_in_client import StandInProfiles
from mtproto.telethon_client import TelethonProfiles, telethon_client_factory
from storage.db import Database, DatabaseConfig
from storage.kv import KeyValueStore, MemoryStore, RedisStore
from storage.kv.redis import create_pool
from storage.migrate import current_revision, head_revision, upgrade
from storage.ratelimit import LimitsStorage, close_limits_storage, create_limits_storage
from webserver.app import create_app
from webserver.keys import TelegramWebConfig, WebConfig
from webserver.routes.telegram_webhook import SecretWebhookHandler, register_webhook

log = logging.getLogger("unibot")
T = TypeVar("T")


class StartupError(Exception):
    """The app cannot start; the message says why and what to do."""


def create_database(settings: Settings) -> Database:
    return Database(
        DatabaseConfig(
            url=settings.database_url,
            echo=settings.db.echo,
            busy_timeout_ms=settings.db.busy_timeout_ms,
            pool_size=settings.db.pool_size,
        )
    )


def create_kv(settings: Settings, pool: ConnectionPool | None) -> KeyValueStore:
    if pool is not None:
        return RedisStore.on_pool(pool, prefix=settings.redis.key_prefix)
    return MemoryStore()


# --- settings translated into each part's configuration; the domain never sees a settings type ---------------


def key_config(settings: Settings) -> KeyConfig:
    auth = settings.auth
    secret = None
    if auth.algorithm == "HS256":
        if auth.jwt_secret is not None:
            secret = auth.jwt_secret.get_secret_value().encode()
        else:
            # Only local mode gets here: settings refuse the other modes without a secret.
            secret = local_secret(settings.app.data_dir)
    return KeyConfig(
        algorithm=auth.algorithm,
        issuer=auth.issuer,
        audience=auth.audience,
        hs256_secret=secret,
        hs256_kid=auth.jwt_kid,
        ed25519_private_pem=auth.ed25519_private_key.get_secret_value() if auth.ed25519_private_key else None,
        ed25519_kid=auth.ed25519_kid,
        ed25519_previous=tuple(zip(auth.ed25519_previous_kids, auth.ed25519_previous_public_keys, strict=True)),
    )


def argon2_parameters(settings: Settings) -> Parameters:
    auth = settings.auth
    return Parameters(
        type=Type.ID,
        version=19,
        salt_len=16,
        hash_len=32,
        time_cost=auth.argon2_time_cost,
        memory_cost=auth.argon2_memory_kib,
        parallelism=auth.argon2_parallelism,
    )


def rate_tiers(settings: Settings) -> dict[str, RateLimitTier]:
    rate = settings.ratelimit
    window = rate.window_seconds
    return {
        AUTH: RateLimitTier(AUTH, rate.auth_limit, window),
        GENERAL: RateLimitTier(GENERAL, rate.general_limit, window),
        USER: RateLimitTier(USER, rate.user_limit, window),
        SERVICE: RateLimitTier(SERVICE, rate.service_limit, window),
        BOT_MESSAGES: RateLimitTier(BOT_MESSAGES, settings.access.bot_message_limit, window),
    }


def identity_config(settings: Settings) -> IdentityConfig:
    tg = settings.telegram_auth
    ed25519 = None
    if tg.ed25519_check:
        ed25519 = Ed25519Check(
            bot_id=int(settings.bot_token.split(":", 1)[0]),
            public_key_hex=tg.ed25519_public_key,
            required=tg.ed25519_required,
        )
    return IdentityConfig(
        bot_token=settings.bot_token,
        code_ttl=timedelta(seconds=tg.binding_code_ttl_seconds),
        max_attempts=tg.binding_code_max_attempts,
        max_age=tg.max_age_seconds,
        future_skew=tg.future_skew_seconds,
        refuse_replays=tg.refuse_replayed_init_data,
        ed25519=ed25519,
    )


def rewards_config(settings: Settings) -> RewardsConfig:
    r = settings.rewards
    return RewardsConfig(
        daily_amount=r.daily_amount,
        referral_percent=r.referral_percent,
        time_zone=r.time_zone,
        page_size=min(r.page_size, r.max_page_size),
        max_page_size=r.max_page_size,
        purge_batch=r.purge_batch,
    )


def wallet_config(settings: Settings) -> ProofConfig:
    w, web_settings = settings.wallet, settings.web
    public = web_settings.public_url.rstrip("/") if web_settings.public_url else None
    local = f"{web_settings.host}:{web_settings.port}"
    return ProofConfig(
        domain=w.proof_domain or (urlsplit(public).netloc if public else local),
        uri=w.proof_uri or public or f"http://{local}",
        statement=w.proof_statement,
        ttl_seconds=w.proof_ttl_seconds,
    )


def profile_keys(settings: Settings) -> KeyRing | None:
    """The key ring sealing profile secrets: UNIBOT_PROFILES__KEYS, or in local mode one derived from data_dir."""
    profiles = settings.profiles
    try:
        if profiles.keys is not None:
            return KeyRing.parse(profiles.keys.get_secret_value(), profiles.current_key_id or None)
    except KeyRingError as exc:
        raise StartupError(f"profiles.keys (UNIBOT_PROFILES__KEYS): {exc}") from None
    if settings.mode is not Mode.LOCAL:
        return None
    derived = hashlib.sha256(b"unibot.profiles.local-key\x00" + local_secret(settings.app.data_dir)).digest()
    return KeyRing.parse("local:" + base64.b64encode(derived).decode())


def profiles_config(settings: Settings) -> ProfilesConfig:
    """The profiles port chosen by mode: the stand-in in local mode (bound once it listens), Telethon otherwise."""
    profiles = settings.profiles
    keys = profile_keys(settings)
    port: StandInProfiles | TelethonProfiles | None = None
    reason = None
    if settings.mode is Mode.LOCAL:
        port = StandInProfiles(flood_sleep_threshold=profiles.flood_sleep_threshold)
    elif profiles.api_id is None or profiles.api_hash is None:
        reason = "UNIBOT_PROFILES__API_ID and UNIBOT_PROFILES__API_HASH are not set"
    elif keys is None:
        reason = "UNIBOT_PROFILES__KEYS (the key ring sealing sessions) is not set"
    else:
        try:
            api_id = int(profiles.api_id.get_secret_value())
        except ValueError:
            raise StartupError("profiles.api_id (UNIBOT_PROFILES__API_ID) is not a number") from None
        factory = telethon_client_factory(api_id, profiles.api_hash.get_secret_value())
        port = TelethonProfiles(factory, flood_sleep_threshold=profiles.flood_sleep_threshold)
    return ProfilesConfig(
        port=port if reason is None else None,
        keyring=keys,
        disabled_reason=reason,
        pending_ttl=timedelta(seconds=profiles.pending_login_seconds),
        max_code_attempts=profiles.max_code_attempts,
        send_per_minute=profiles.send_per_minute,
        dialogs_cache_seconds=profiles.dialogs_cache_seconds,
        lease_seconds=profiles.lease_seconds,
        max_clients=profiles.max_clients,
        unread_max_dialogs=profiles.unread_max_dialogs,
        unread_per_dialog=profiles.unread_per_dialog,
    )


def access_config(settings: Settings) -> AccessConfig:
    access = settings.access
    levels = (
        (AccessLevel.BETA, access.beta_features),
        (AccessLevel.ALPHA, access.alpha_features),
        (AccessLevel.STAFF, access.staff_features),
        (AccessLevel.FULL_PERMISSIONS_API, access.full_permissions_features),
    )
    return AccessConfig(
        policy=policy_of({feature: level for level, features in levels for feature in features}),
        initial_admin_telegram_ids=access.initial_admin_telegram_ids,
        initial_admin_emails=access.initial_admin_emails,
        bot_suspect_after=access.bot_suspect_after,
        max_page_size=access.max_page_size,
    )


def feature_configs(settings: Settings) -> list[object]:
    """Each feature's configuration; a feature adds its own here."""
    auth = settings.auth
    return [
        AuthConfig(
            access_ttl=timedelta(seconds=auth.access_ttl_seconds),
            refresh_ttl=timedelta(days=auth.refresh_ttl_days),
            refresh_grace=timedelta(seconds=auth.refresh_grace_seconds),
        ),
        UsersConfig(languages=settings.i18n.locales),
        identity_config(settings),
        rewards_config(settings),
        wallet_config(settings),
        profiles_config(settings),
        access_config(settings),
        finance_config(settings),
    ]


def finance_config(settings: Settings) -> FinanceConfig:
    fin = settings.finance
    return FinanceConfig(
        default_currency=fin.default_currency,
        default_time_zone=fin.default_time_zone,
        invite_ttl=timedelta(hours=fin.invite_ttl_hours),
        invite_max_ttl=timedelta(days=fin.invite_max_ttl_days),
        draft_ttl=timedelta(hours=fin.draft_ttl_hours),
        undo_window=timedelta(minutes=fin.undo_window_minutes),
        idempotency_ttl=timedelta(hours=fin.idempotency_ttl_hours),
        # Long-lived: its thread pool is shut down in Runtime.stop.
        charts=ChartRenderer(
            workers=fin.chart_workers, max_pending=fin.chart_max_pending, timeout=fin.chart_timeout_seconds
        ),
    )


def build_container(
    settings: Settings, *, db: Database, kv: KeyValueStore, clock: Clock, limits_storage: LimitsStorage
) -> Container:
    """The process's long-lived infrastructure, built once; tests build theirs with this same function."""
    keys = key_config(settings)
    rate = settings.ratelimit
    return Container(
        db=db,
        kv=kv,
        clock=clock,
        codec=create_codec(keys, clock),
        passwords=PasswordService(argon2_parameters(settings), max_concurrency=settings.auth.password_hash_concurrency),
        limiter=RateLimiter(limits_storage, rate_tiers(settings), enabled=rate.enabled, clock=clock),
        throttle=LoginThrottle(
            kv,
            clock,
            key=derived_key(keys, "login-throttle"),
            free_failures=rate.login_free_failures,
            account_max_delay=rate.login_account_max_delay,
            ip_max_delay=rate.login_ip_max_delay,
            memory_seconds=rate.login_failure_memory_seconds,
        ),
        configs=feature_configs(settings),
        token_cache_size=settings.auth.token_cache_size,
    )


def web_config(settings: Settings) -> WebConfig:
    tg = settings.telegram_auth
    secrets = settings.signing.client_secrets()
    return WebConfig(
        version=app_version(),
        mode=settings.mode.value,
        max_body_bytes=settings.web.max_body_bytes,
        trusted_proxies=settings.web.trusted_proxies,
        telegram=TelegramWebConfig(
            cookie_name=tg.cookie_name,
            redirect_url=tg.login_redirect_url,
            secure_cookies=settings.mode is not Mode.LOCAL,
        ),
        # The listed clients only: the list is what the operator allows, the secrets only back it.
        signing_clients={client: SigningClient(client, secrets[client]) for client in settings.signing.clients},
        signing_window=settings.signing.window_seconds,
        locales=settings.i18n.path,
        languages=settings.i18n.locales,
        default_language=settings.i18n.default,
    )


class Runtime:
    """Every long-lived part of one process, started and stopped in dependency order."""

    def __init__(self, settings: Settings, *, extra_routers: Sequence[Router] = (), clock: Clock | None = None) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.clock = clock or SystemClock()
        self._extra_routers = list(extra_routers)
        self.db: Database | None = None
        self.container: Container | None = None
        self.limits_storage: LimitsStorage | None = None
        self.kv: KeyValueStore | None = None
        self.fake_telegram: FakeTelegram | None = None
        self.bot: Bot | None = None
        self.bot_runtime: BotRuntime | None = None
        self.runner: web.AppRunner | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self.web_url: str | None = None
        self._polling: asyncio.Task[None] | None = None
        self._api_base: str | None = None

    async def start(self) -> None:
        settings = self.settings
        settings.app.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = create_database(settings)
        await self._prepare_schema(self.db)
        # One pool of Redis connections for the key-value store, the rate limiter and the bot's FSM storage.
        pool = create_pool(settings.redis.url.get_secret_value()) if settings.redis.url else None
        self.kv = create_kv(settings, pool)
        self.limits_storage = create_limits_storage(None, key_prefix=settings.redis.key_prefix, pool=pool)
        container = build_container(
            settings, db=self.db, kv=self.kv, clock=self.clock, limits_storage=self.limits_storage
        )
        self.container = container
        # Revocations live in the database; a store that starts empty must learn them before serving.
        await auth_jobs.warm_denylist(container, force=True)
        await self._check_profile_keys(container)
        # A fresh install gets the admins the settings name before anyone can write to the bot.
        await access_jobs.apply_initial_admins(container)

        api_base = settings.bot.api_base_url
        self._api_base = api_base
        if self.mode is Mode.LOCAL:
            self.fake_telegram = FakeTelegram(settings.local.stand_in_host, settings.local.stand_in_port)
            await self.fake_telegram.start()
            api_base = self.fake_telegram.base_url
            self._api_base = api_base
            port = container.config(ProfilesConfig).port
            if isinstance(port, StandInProfiles):
                port.bind(api_base)
        token = settings.bot_token
        self.bot = create_bot(token, api_base)
        i18n = create_i18n(settings.i18n.path, default_locale=settings.i18n.default, domain=settings.i18n.domain)
        container.notifier = BotNotifier(self.bot, i18n)
        self.bot_runtime = create_dispatcher(
            container=container,
            i18n=i18n,
            fsm_storage=create_fsm_storage(pool, key_prefix=settings.redis.key_prefix),
            bot_id=self.bot.id,
            processing_ttl=settings.bot.handle_timeout * 2,
            extra_routers=self._extra_routers,
        )
        dispatcher = self.bot_runtime.dispatcher
        dispatcher["mini_app_url"] = settings.bot.menu_button_url or None

        hook: SecretWebhookHandler | None = None
        if self.mode is Mode.WEBHOOK:
            hook = SecretWebhookHandler(dispatcher, self.bot, secret_token=settings.webhook_secret)
        app = create_app(
            container=container,
            config=web_config(settings),
            extra_setup=(lambda app: register_webhook(app, settings.webhook.path, hook)) if hook else None,
        )
        self.runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=settings.app.shutdown_timeout
        )
        await self.runner.setup()
        site = web.TCPSite(self.runner, settings.web.host, settings.web.port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {settings.web.host}:{settings.web.port} ({exc.strerror}); "
                "set web.port (UNIBOT_WEB__PORT) to a free port"
            ) from None
        host, port = self.runner.addresses[0][:2]
        self.web_url = f"http://{host}:{port}"
        container.links.public_base_url = settings.web.public_url or self.web_url
        me = await self._bot_api("getMe", self.bot.get_me)
        container.links.bot_username = me.username

        if settings.scheduler.enabled:
            jobs = maintenance_jobs(container, purge_interval=settings.scheduler.purge_interval_seconds)
            self.scheduler = create_scheduler(jobs, self.kv)
            self.scheduler.start()

        await self._optional_startup_calls(i18n)
        allowed = dispatcher.resolve_used_update_types()
        if self.mode is Mode.WEBHOOK:
            assert settings.webhook.url is not None  # settings refuse webhook mode without one
            url = settings.webhook.url
            await self._bot_api(
                "setWebhook",
                lambda: self.bot.set_webhook(  # type: ignore[union-attr]
                    url,
                    secret_token=settings.webhook_secret,
                    allowed_updates=allowed,
                    drop_pending_updates=settings.webhook.drop_pending_updates,
                ),
            )
        else:
            # A webhook left over from an earlier run would make getUpdates fail with a conflict.
            await self._bot_api("deleteWebhook", lambda: self.bot.delete_webhook(drop_pending_updates=False))  # type: ignore[union-attr]
            self._polling = asyncio.create_task(
                dispatcher.start_polling(
                    self.bot, handle_signals=False, close_bot_session=False, allowed_updates=allowed
                ),
                name="polling",
            )
        log.info("started", extra={"mode": self.mode.value, "web": self.web_url})

    async def _check_profile_keys(self, container: Container) -> None:
        ring = container.config(ProfilesConfig).keyring
        if ring is None:
            return
        problem = await check_ring(container.db, ring)
        if problem is not None:
            raise StartupError(
                f"the profile key ring does not open the stored Telegram sessions ({problem}); set "
                "UNIBOT_PROFILES__KEYS to the keys they were sealed with (add new keys, do not replace old ones)"
            )

    async def _bot_api(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        """A start-up call to the Bot API, retried with back-off while it is unreachable; then one clear line."""
        delay = 1.0
        attempts = self.settings.bot.startup_attempts
        for attempt in range(1, attempts + 1):
            try:
                return await call()
            except (TelegramNetworkError, TelegramServerError, OSError) as exc:
                if attempt == attempts:
                    raise StartupError(
                        f"the Bot API at {self._api_base or 'https://api.telegram.org'} did not answer {method} "
                        f"({type(exc).__name__}); check bot.api_base_url and the network"
                    ) from None
                log.warning("Bot API unreachable, retrying", extra={"method": method, "in_seconds": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except TelegramUnauthorizedError:
                raise StartupError("the Bot API refused the bot token (401); check UNIBOT_BOT__TOKEN") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _prepare_schema(self, db: Database) -> None:
        if self.mode is Mode.LOCAL:
            await upgrade(db.write_engine)
            return
        current, head = await current_revision(db.read_engine), head_revision()
        if current != head:
            raise StartupError(
                f"the database schema is at {current or 'nothing'}, this code needs {head}; run `python run.py migrate`"
            )

    async def _optional_startup_calls(self, i18n: I18n) -> None:
        assert self.bot is not None
        if self.settings.bot.set_commands:
            await set_commands(self.bot, i18n)
        if self.settings.bot.menu_button_url:
            try:
                await self.bot.set_chat_menu_button(
                    menu_button=MenuButtonWebApp(text="App", web_app=WebAppInfo(url=self.settings.bot.menu_button_url))
                )
            except Exception as exc:
                log.warning("setChatMenuButton failed", extra={"error": repr(exc)})

    async def wait_polling_failure(self) -> None:
        """Returns only if polling ended by itself, which means the bot can no longer take updates."""
        if self._polling is None:
            await asyncio.Event().wait()
            return
        await asyncio.shield(self._polling)

    async def stop(self) -> None:
        timeout = self.settings.app.shutdown_timeout
        runtime = self.bot_runtime
        # 1. Take no more updates.
        if self._polling is not None and runtime is not None:
            if not self._polling.done():
                await runtime.dispatcher.stop_polling()
            await asyncio.gather(self._polling, return_exceptions=True)
        if self.runner is not None:
            # Stops listening, then waits for requests in flight (webhook updates among them).
            await self.runner.cleanup()
        # 2. Let handlers in flight finish, within a bounded wait.
        if runtime is not None and not await runtime.inflight.wait_idle(timeout):
            log.warning("shutdown: updates still in flight after the wait", extra={"count": runtime.inflight.count})
        await self._confirm_offset()
        # 3. Stop the scheduler, then close what the handlers were using.
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if runtime is not None:
            await runtime.dispatcher.storage.close()
        if self.bot is not None:
            await self.bot.session.close()
        if self.fake_telegram is not None:
            await self.fake_telegram.stop()
        if self.container is not None:
            self.container.config(FinanceConfig).charts.close()
            await self.container.close()
        if self.limits_storage is not None:
            await close_limits_storage(self.limits_storage)
        if self.kv is not None:
            await self.kv.close()
        if self.db is not None:
            await self.db.dispose()
        log.info("stopped")

    async def _confirm_offset(self) -> None:
        """Tell the Bot API which updates were handled, so the next start does not receive them again."""
        if self._polling is None or self.bot is None or self.bot_runtime is None:
            return
        last = self.bot_runtime.inflight.max_update_id
        if last is None:
            return
        try:
            await self.bot.get_updates(offset=last + 1, limit=1, timeout=0)
        except Exception as exc:
            log.warning("could not confirm the last update offset", extra={"error": repr(exc)})


def freeze_startup_objects() -> None:
    """Exempt everything built at start-up (modules, models, schemas: a few hundred thousand objects) from the
    garbage collector's full passes. Such a pass walks every tracked object and stalled all requests for 200-300 ms
    on the test machine, every few seconds under load with Redis; afterwards it walks only what came later."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings, *, extra_routers: Sequence[Router] = ()) -> int:
    runtime = Runtime(settings, extra_routers=extra_routers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signame: str) -> None:
        if stop.is_set():
            log.warning("second %s: exiting at once", signame)
            os._exit(130)
        log.info("%s: shutting down", signame)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig.name)
    exit_code = 0
    try:
        await runtime.start()
        freeze_startup_objects()
        if runtime.fake_telegram is not None:
            print(f"Local mode: chat with the bot at {runtime.fake_telegram.page_url}", flush=True)
        print(f"Web server: {runtime.web_url} (health: {runtime.web_url}/health)", flush=True)
        stop_waiter = asyncio.create_task(stop.wait())
        polling_waiter = asyncio.create_task(runtime.wait_polling_failure())
        done, pending = await asyncio.wait({stop_waiter, polling_waiter}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if polling_waiter in done:
            log.error("polling stopped unexpectedly")
            exit_code = 1
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        exit_code = 2
    finally:
        await runtime.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return exit_code


async def rotate_profile_key(settings: Settings) -> int:
    """Seal every stored profile secret under the current key; safe to repeat and to run beside the app."""
    ring = profile_keys(settings)
    if ring is None:
        print("rotate-profile-key: UNIBOT_PROFILES__KEYS is not set", file=sys.stderr)
        return 2
    db = create_database(settings)
    try:
        report = await reseal_all(db, ring)
    finally:
        await db.dispose()
    print(
        f"rotate-profile-key: {report.resealed} resealed under key {ring.current_id!r}, {report.raced} changed "
        f"meanwhile, {report.unreadable} unreadable",
        flush=True,
    )
    return 1 if report.unreadable else 0


async def migrate(settings: Settings) -> None:
    db = create_database(settings)
    try:
        await upgrade(db.write_engine)
        log.info("database at revision %s", await current_revision(db.read_engine))
    finally:
        await db.dispose()


async def issue_token(settings: Settings, *, user_id: int, outside_local: bool, reason: str) -> int:
    """`run.py issue-token`: a short-lived access token for one user, for development and support; audited."""
    if settings.mode is not Mode.LOCAL and not outside_local:
        print(
            f"Refused: the app runs in {settings.mode.value} mode. issue-token serves local mode only; outside it,"
            " pass --allow-outside-local (the use is audited).",
            file=sys.stderr,
        )
        return 2
    db = create_database(settings)
    pool = create_pool(settings.redis.url.get_secret_value()) if settings.redis.url else None
    kv = create_kv(settings, pool)
    limits = create_limits_storage(None, key_prefix=settings.redis.key_prefix, pool=pool)
    container = build_container(settings, db=db, kv=kv, clock=SystemClock(), limits_storage=limits)
    try:
        if await current_revision(db.read_engine) != head_revision():
            print("The database is not at the code's schema; run `python run.py migrate` first.", file=sys.stderr)
            return 1
        async with container.unit_of_work(write=True) as uow:
            issued = await AccessService(uow).issue_token(user_id, reason=reason)
    except DomainError as exc:
        print(f"Refused: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await container.close()
        await close_limits_storage(limits)
        await kv.close()
        await db.dispose()
    log.warning("access token issued from the command line", extra={"user_id": user_id, "reason": reason})
    print(issued.access_token)
    print(f"user {issued.user_id}, expires in {issued.expires_in} s", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run.py", description="Unibot: the Telegram bot and its web server.")
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "check-config", "issue-token", "rotate-profile-key"],
    )
    parser.add_argument("--user", type=int, help="issue-token: the user's id")
    parser.add_argument("--reason", default="", help="issue-token: why (kept in the audit log)")
    parser.add_argument(
        "--allow-outside-local", action="store_true", help="issue-token: allow it outside local mode (audited)"
    )
    parser.add_argument("--config", default=os.environ.get("UNIBOT_CONFIG", "settings.toml"), type=Path)
    parser.add_argument("--env-file", default=".env", type=Path)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, env_file=args.env_file)
    except SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.logging.level, settings.logging.format, flush_interval=settings.logging.flush_interval)
    if args.command == "check-config":
        effective = {"mode (resolved)": settings.mode.value, **settings.masked()}
        print(json.dumps(effective, indent=2, ensure_ascii=False, default=str))
        return 0
    if args.command == "migrate":
        asyncio.run(migrate(settings))
        return 0
    if args.command == "rotate-profile-key":
        try:
            return asyncio.run(rotate_profile_key(settings))
        except StartupError as exc:
            print(f"Configuration error: {exc}", file=sys.stderr)
            return 2
    if args.command == "issue-token":
        if args.user is None or not 1 <= args.user < 2**31:
            parser.error("issue-token needs --user ID, a user's id (a positive number)")
        return asyncio.run(
            issue_token(settings, user_id=args.user, outside_local=args.allow_outside_local, reason=args.reason[:200])
        )
    return asyncio.run(serve(settings))


if __name__ == "__main__":
    sys.exit(main())
