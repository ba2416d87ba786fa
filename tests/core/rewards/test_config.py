"""The [rewards] and [wallet] settings as the composition root translates them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

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


def a_user(**changes: object) -> UserDTO:
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    base = UserDTO(
        id=1,
        telegram_id=1,
        telegram_username=None,
        username=None,
        email=None,
        email_verified=False,
        has_password=False,
        first_name="A",
        last_name=None,
        language=None,
        is_active=True,
        full_permissions_api=False,
        is_staff=False,
        has_beta_access=False,
        has_alpha_access=False,
        is_bot_suspected=False,
        date_joined=moment,
        last_login=None,
        created_at=moment,
        updated_at=moment,
        revision=1,
        token_version=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_bot_suspected_user_may_not_claim() -> None:
    refused = claim_refusal(a_user(is_bot_suspected=True))
    assert refused is not None
    assert refused.code == "bot_suspected"
    assert claim_refusal(a_user()) is None
    disabled = claim_refusal(a_user(is_active=False))
    assert disabled is not None
    assert disabled.code == "account_disabled"
