"""Builds the process-wide domain services from settings; called by the composition root and by tests."""

from __future__ import annotations

from datetime import timedelta

from argon2 import Parameters, Type

from core.auth.keys import create_codec, derived_key
from core.auth.passwords import PasswordService
from core.clock import Clock
from core.identity.service import IdentityConfig
from core.login_throttle import LoginThrottle
from core.ratelimit import RateLimiter, tiers_from_settings
from core.services import DomainConfig, ServiceFactory
from core.settings import Settings
from core.telegram.initdata import Ed25519Check
from storage.db import Database
from storage.kv import KeyValueStore
from storage.ratelimit import LimitsStorage


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


def create_services(
    settings: Settings, *, db: Database, kv: KeyValueStore, clock: Clock, limits_storage: LimitsStorage
) -> ServiceFactory:
    rate = settings.ratelimit
    return ServiceFactory(
        db=db,
        kv=kv,
        clock=clock,
        config=DomainConfig(
            languages=settings.i18n.locales,
            access_ttl=timedelta(seconds=settings.auth.access_ttl_seconds),
            refresh_ttl=timedelta(days=settings.auth.refresh_ttl_days),
            refresh_grace=timedelta(seconds=settings.auth.refresh_grace_seconds),
            token_cache_size=settings.auth.token_cache_size,
        ),
        codec=create_codec(settings, clock),
        passwords=PasswordService(
            argon2_parameters(settings), max_concurrency=settings.auth.password_hash_concurrency
        ),
        limiter=RateLimiter(limits_storage, tiers_from_settings(rate), enabled=rate.enabled, clock=clock),
        identity=identity_config(settings),
        throttle=LoginThrottle(
            kv,
            clock,
            key=derived_key(settings, "login-throttle"),
            free_failures=rate.login_free_failures,
            account_max_delay=rate.login_account_max_delay,
            ip_max_delay=rate.login_ip_max_delay,
            memory_seconds=rate.login_failure_memory_seconds,
        ),
    )
