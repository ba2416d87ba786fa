from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings, deep_merge, load_settings
from fake_telegram import FakeTelegram
from run import Runtime
from tests.helpers.catalogs import LOCALES

StartRuntime = Callable[..., Awaitable[Runtime]]


def e2e_settings(data_dir: Path, **sections: dict[str, Any]) -> Settings:
    base: dict[str, Any] = {
        "app": {"mode": "local", "data_dir": str(data_dir), "shutdown_timeout": 10},
        "web": {"port": 0},
        "local": {"stand_in_port": 0},
        "scheduler": {"enabled": False},
        "i18n": {"path": str(LOCALES)},
        "logging": {"level": "WARNING"},
    }
    return load_settings(None, env_file=None, overrides=deep_merge(base, sections))


@pytest.fixture
async def start_runtime() -> AsyncIterator[StartRuntime]:
    started: list[Runtime] = []

    async def start(settings: Settings) -> Runtime:
        runtime = Runtime(settings)
        started.append(runtime)
        await runtime.start()
        return runtime

    yield start
    for runtime in reversed(started):
        await runtime.stop()


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.stop()
