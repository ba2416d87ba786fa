"""The composition root's translation of the [finance] settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.finance.config import FinanceConfig
from core.settings import SettingsError
from storage.kv import MemoryStore
from tests.helpers.app import make_container
from tests.helpers.app import test_settings as build_settings


async def test_finance_config_follows_settings(tmp_path: Path) -> None:
    settings = build_settings(
        tmp_path,
        finance={
            "default_currency": "RUB",
            "default_time_zone": "Europe/Moscow",
            "undo_window_minutes": 5,
            "chart_timeout_seconds": 2.5,
        },
    )
    container = await make_container(tmp_path, MemoryStore(), ManualClock(), settings)
    try:
        config = container.config(FinanceConfig)
        assert (config.default_currency, config.default_time_zone) == ("RUB", "Europe/Moscow")
        assert config.undo_window == timedelta(minutes=5)
        assert config.charts.timeout == 2.5
    finally:
        container.config(FinanceConfig).charts.close()
        await container.close()
        await container.db.dispose()


def test_bad_finance_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="default_currency"):
        build_settings(tmp_path, finance={"default_currency": "rub"})
