"""run.py's translation of [profiles] settings: the port chosen by mode, secrets from the environment only."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from core.settings import SettingsError, load_settings
from mtproto.stand_in_client import StandInProfiles
from mtproto.telethon_client import TelethonProfiles
from run import StartupError, profiles_config
from tests.helpers.app import test_settings as app_settings

KEY = "p1:" + base64.b64encode(bytes(range(32))).decode()
POLLING: dict[str, Any] = {
    "app": {"mode": "polling"},
    "bot": {"token": "123456:AAH-fake_token_for_tests_only_0123456789"},
    "auth": {"jwt_secret": "x" * 48},
}


def test_local_mode_uses_the_stand_in_and_a_derived_key(tmp_path: Path) -> None:
    config = profiles_config(app_settings(tmp_path, profiles={"send_per_minute": 7}))
    assert isinstance(config.port, StandInProfiles)
    assert config.keyring is not None
    assert config.keyring.current_id == "local"
    assert config.send_per_minute == 7
    # The same data dir derives the same key: sessions sealed before a restart still open.
    assert profiles_config(app_settings(tmp_path)).keyring.key_ids == {"local"}  # type: ignore[union-attr]


def test_telethon_outside_local_mode(tmp_path: Path) -> None:
    settings = app_settings(tmp_path, **POLLING, profiles={"api_id": "12345", "api_hash": "abcdef", "keys": KEY})
    config = profiles_config(settings)
    assert isinstance(config.port, TelethonProfiles)
    assert config.disabled_reason is None


@pytest.mark.parametrize(
    ("profiles", "reason"),
    [({}, "API_ID"), ({"api_id": "12345", "api_hash": "abcdef"}, "UNIBOT_PROFILES__KEYS")],
)
def test_off_without_secrets(tmp_path: Path, profiles: dict[str, str], reason: str) -> None:
    config = profiles_config(app_settings(tmp_path, **POLLING, profiles=profiles))
    assert config.port is None
    assert config.disabled_reason is not None
    assert reason in config.disabled_reason


def test_bad_key_ring_and_api_id_stop_the_start(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="UNIBOT_PROFILES__KEYS") as caught:
        profiles_config(app_settings(tmp_path, profiles={"keys": "p1:c2hvcnQ="}))
    assert "c2hvcnQ" not in str(caught.value)
    bad_id = {"api_id": "twelve", "api_hash": "abcdef", "keys": KEY}
    with pytest.raises(StartupError, match="API_ID"):
        profiles_config(app_settings(tmp_path, **POLLING, profiles=bad_id))


def test_secrets_are_refused_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[profiles]\napi_hash = 'abcdef'\n")
    with pytest.raises(SettingsError, match="UNIBOT_PROFILES__API_HASH"):
        load_settings(path, env_file=None)
