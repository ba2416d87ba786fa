"""The composition root's translation of settings into each part's configuration."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aiogram.fsm.storage.redis import RedisStorage
from limits.aio.storage import RedisStorage as LimitsRedisStorage

from bot.factory import create_fsm_storage
from core.auth.service import AuthConfig
from core.clock import ManualClock
from core.identity.service import IdentityConfig
from core.ratelimit import RateLimitTier
from core.users.service import UsersConfig
from run import create_kv, rate_tiers
from storage.kv import MemoryStore, RedisStore
from storage.kv.redis import create_pool
from storage.ratelimit import create_limits_storage
from tests.helpers.app import make_container
from tests.helpers.app import test_settings as build_settings
from tests.helpers.redis_server import RedisServer


def test_rate_tiers_follow_settings(tmp_path: Path) -> None:
    settings = build_settings(
        tmp_path,
        ratelimit={"window_seconds": 30, "auth_limit": 5, "general_limit": 50, "user_limit": 500, "service_limit": 7},
    )
    assert rate_tiers(settings) == {
        "auth": RateLimitTier("auth", 5, 30),
        "general": RateLimitTier("general", 50, 30),
        "user": RateLimitTier("user", 500, 30),
        "service": RateLimitTier("service", 7, 30),
        "bot_messages": RateLimitTier("bot_messages", 30, 30),
    }


async def test_container_gets_every_feature_config(tmp_path: Path) -> None:
    settings = build_settings(
        tmp_path,
        auth={"access_ttl_seconds": 120, "refresh_ttl_days": 3},
        ratelimit={"login_free_failures": 3, "login_account_max_delay": 20, "login_ip_max_delay": 200},
        telegram_auth={"binding_code_ttl_seconds": 120},
    )
    container = await make_container(tmp_path, MemoryStore(), ManualClock(), settings)
    try:
        auth = container.config(AuthConfig)
        assert (auth.access_ttl, auth.refresh_ttl) == (timedelta(seconds=120), timedelta(days=3))
        assert container.config(UsersConfig).languages == ("en", "ru")
        assert container.config(IdentityConfig).code_ttl == timedelta(seconds=120)
        throttle = container.throttle
        assert (throttle.free_failures, throttle.account_max_delay, throttle.ip_max_delay) == (3, 20, 200)
    finally:
        await container.close()
        await container.db.dispose()


async def test_one_redis_pool_serves_the_store_the_limiter_and_the_fsm(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    settings = build_settings(tmp_path, redis={"url": redis_server.url})
    pool = create_pool(redis_server.url)
    kv = create_kv(settings, pool)
    limits = create_limits_storage(None, key_prefix="x:", pool=pool)
    fsm = create_fsm_storage(pool, key_prefix="x:")
    try:
        assert isinstance(kv, RedisStore)
        assert isinstance(fsm, RedisStorage)
        assert isinstance(limits, LimitsRedisStorage)
        assert kv.client.connection_pool is pool
        assert fsm.redis.connection_pool is pool
        shared: object = limits.options.get("connection_pool")
        assert shared is pool
        await kv.set("probe", b"1")
        assert await kv.get("probe") == b"1"
    finally:
        await fsm.close()
        await kv.close()
