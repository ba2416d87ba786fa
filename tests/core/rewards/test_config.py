"""The [rewards] and [wallet] settings as the composition root translates them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from core.rewards.service import RewardsConfig, claim_refusal
from core.settings import SettingsError, load_settings
from core.users.dto import UserDTO
from run import rewards_config, wallet_config


def test_settings_become_the_rewards_config() -> None:
    settings = load_settings(
        None, env_file=None, overrides={"rewards": {"time_zone": "Europe/Moscow", "daily_amount": 7}}
    )
    config = rewards_config(settings)
    assert (config.daily_amount, config.referral_percent, config.time_zone) == (7, 10, "Europe/Moscow")
    assert config.referral_amount == 0  # 10 % of 7 points, rounded down


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd"])
def test_an_unknown_time_zone_is_refused_at_start(zone: str) -> None:
    with pytest.raises(SettingsError):
        load_settings(None, env_file=None, overrides={"rewards": {"time_zone": zone}})


def test_the_config_refuses_what_settings_would_not_give() -> None:
    with pytest.raises(ValueError, match="daily amount"):
        RewardsConfig(daily_amount=0, referral_percent=0, time_zone="UTC")


def test_the_proof_names_the_public_site() -> None:
    settings = load_settings(None, env_file=None, overrides={"web": {"public_url": "https://app.example.org/"}})
    config = wallet_config(settings)
    assert (config.domain, config.uri) == ("app.example.org", "https://app.example.org")
    local = wallet_config(load_settings(None, env_file=None, overrides={"web": {"port": 8080}}))
    assert (local.domain, local.uri) == ("127.0.0.1:8080", "http://127.0.0.1:8080")


def test_a_bot_suspected_user_may_not_claim() -> None:
    # The flag comes with the access-levels slice; the rule reads it as soon as the user carries it.
    suspected = cast(UserDTO, SimpleNamespace(is_active=True, is_bot_suspected=True))
    refused = claim_refusal(suspected)
    assert refused is not None
    assert refused.code == "bot_suspected"
    assert claim_refusal(cast(UserDTO, SimpleNamespace(is_active=True))) is None
