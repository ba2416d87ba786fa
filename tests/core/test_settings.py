from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from core.settings import (
    LOCAL_BOT_TOKEN,
    Mode,
    SettingsError,
    UnknownSettingWarning,
    load_settings,
    secret_fields,
)

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "s" * 40
TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ-0123456789"
JWT_SECRET = "j" * 43
WEBHOOK_TOML = (
    "[app]\nmode = 'webhook'\n[webhook]\nurl = 'https://example.org/hook'\n[web]\npublic_url = 'https://example.org'\n"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("UNIBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("UNIBOT_AUTH__JWT_SECRET", JWT_SECRET)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_loads_and_defaults_to_local() -> None:
    settings = load_settings(ROOT / "settings.toml", env_file=None)
    assert settings.mode is Mode.LOCAL
    assert settings.bot_token == LOCAL_BOT_TOKEN
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.i18n.locales == ("en", "ru")


def test_every_key_in_shipped_file_is_commented() -> None:
    lines = (ROOT / "settings.toml").read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            previous = lines[index - 1].strip()
            assert previous.startswith("#") or "=" in previous, f"settings.toml: no comment above {line!r}"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[web]\nport = 9000\n[logging]\nlevel = 'DEBUG'\n")
    monkeypatch.setenv("UNIBOT_WEB__PORT", "9100")
    monkeypatch.setenv("UNIBOT_WEB__TRUSTED_PROXIES", '["10.0.0.1"]')
    settings = load_settings(path, env_file=None)
    assert settings.web.port == 9100
    assert settings.web.trusted_proxies == ("10.0.0.1",)
    assert settings.logging.level == "DEBUG"


def test_dotenv_file_is_read_below_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"UNIBOT_BOT__TOKEN={TOKEN}\nUNIBOT_WEB__PORT=9200\n", encoding="utf-8")
    monkeypatch.setenv("UNIBOT_WEB__PORT", "9300")
    settings = load_settings(write(tmp_path, ""), env_file=env_file)
    assert settings.mode is Mode.POLLING
    assert settings.bot_token == TOKEN
    assert settings.web.port == 9300


@pytest.mark.parametrize(("section", "key"), list(secret_fields()))
def test_secrets_refused_in_file(tmp_path: Path, section: str, key: str) -> None:
    path = write(tmp_path, f"[{section}]\n{key} = 'something'\n")
    with pytest.raises(SettingsError, match=rf"{section}\.{key}.*UNIBOT_{section.upper()}__{key.upper()}"):
        load_settings(path, env_file=None)


def test_known_secret_fields() -> None:
    assert {("bot", "token"), ("webhook", "secret"), ("redis", "url")} <= set(secret_fields())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[web]\nport = 'eighty'\n", "web.port"),
        ("[web]\nport = 70000\n", "web.port"),
        ("[logging]\nlevel = 'LOUD'\n", "logging.level"),
        ("[app]\nmode = 'magic'\n", "app.mode"),
        ("[web]\nnope = 1\n", "web.nope: unknown setting"),
        ("[i18n]\ndefault = 'de'\n", "default 'de' is not one of locales"),
        ("[webhook]\npath = 'no-slash'\n", "webhook.path"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(write(tmp_path, text), env_file=None)
    assert expected in str(info.value)


def test_broken_toml(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(write(tmp_path, "[web\n"), env_file=None)


def test_polling_needs_real_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[app]\nmode = 'polling'\n")
    with pytest.raises(SettingsError, match=r"bot\.token"):
        load_settings(path, env_file=None)
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", "changeme")
    with pytest.raises(SettingsError, match=r"bot\.token"):
        load_settings(path, env_file=None)
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", TOKEN)
    assert load_settings(path, env_file=None).mode is Mode.POLLING


@pytest.mark.parametrize(
    "secret",
    [None, "short", "x" * 31, "has spaces in it but is long enough..", "ü" * 40, "changeme" + "x" * 30],
)
def test_webhook_secret_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str | None) -> None:
    path = write(tmp_path, "[app]\nmode = 'webhook'\n[webhook]\nurl = 'https://example.org/hook'\n")
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", TOKEN)
    if secret is not None:
        monkeypatch.setenv("UNIBOT_WEBHOOK__SECRET", secret)
    with pytest.raises(SettingsError, match=r"webhook\.secret"):
        load_settings(path, env_file=None)


def test_webhook_mode_accepts_good_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, WEBHOOK_TOML)
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", TOKEN)
    monkeypatch.setenv("UNIBOT_WEBHOOK__SECRET", "A-b_" + GOOD_SECRET)
    settings = load_settings(path, env_file=None)
    assert settings.mode is Mode.WEBHOOK
    assert settings.webhook_secret == "A-b_" + GOOD_SECRET


def test_masked_hides_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", TOKEN)
    monkeypatch.setenv("UNIBOT_REDIS__URL", "redis://:pw@127.0.0.1:6379/0")
    settings = load_settings(write(tmp_path, ""), env_file=None)
    dumped = repr(settings.masked())
    assert TOKEN not in dumped
    assert "pw@" not in dumped
    assert settings.masked()["bot"]["token"] == "**********"


@pytest.mark.parametrize("secret", [None, "short", "x" * 31, "changeme-changeme-changeme-changeme"])
def test_jwt_secret_required_outside_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str | None) -> None:
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", TOKEN)
    monkeypatch.delenv("UNIBOT_AUTH__JWT_SECRET")
    if secret is not None:
        monkeypatch.setenv("UNIBOT_AUTH__JWT_SECRET", secret)
    with pytest.raises(SettingsError, match=r"auth\.jwt_secret"):
        load_settings(write(tmp_path, ""), env_file=None)


def test_eddsa_needs_private_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", TOKEN)
    with pytest.raises(SettingsError, match=r"auth\.ed25519_private_key"):
        load_settings(write(tmp_path, "[auth]\nalgorithm = 'EdDSA'\n"), env_file=None)


TOKEN_SHAPE = (
    "bot.token: UNIBOT_BOT__TOKEN is not a bot token: expected the bot id's digits, a colon, then 30 or more "
    "characters of [A-Za-z0-9_-], as @BotFather gives it"
)


@pytest.mark.parametrize(
    "token",
    [
        "notatoken",
        "changeme",
        "123456",
        "123456:short",
        "123456:" + "a" * 29,
        ":" + "a" * 35,
        "bot123456:" + "a" * 35,
        "123456:" + "a" * 34 + "!",
        "123456:" + "a" * 35 + "\n",
        " 123456:" + "a" * 35,
        "١٢٣٤:" + "a" * 35,
    ],
)
def test_malformed_bot_token_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", token)
    with pytest.raises(SettingsError) as info:
        load_settings(write(tmp_path, ""), env_file=None)
    assert str(info.value).splitlines() == ["invalid settings:", f"  {TOKEN_SHAPE}"]


@pytest.mark.parametrize("mode", ["local", "polling"])
def test_local_stand_in_token_has_the_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", LOCAL_BOT_TOKEN)
    settings = load_settings(write(tmp_path, f"[app]\nmode = '{mode}'\n"), env_file=None)
    assert settings.bot_token == LOCAL_BOT_TOKEN


def test_token_with_the_shape_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "7000000001:AAH-" + "x_Y9" * 8
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", token)
    assert load_settings(write(tmp_path, ""), env_file=None).bot_token == token


def test_misspelt_section_in_environment_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIBOT_WBE__PORT", "1")
    with pytest.warns(UnknownSettingWarning) as caught:
        settings = load_settings(write(tmp_path, ""), env_file=None)
    assert settings.web.port == 8080
    assert [str(warning.message) for warning in caught] == [
        "UNIBOT_WBE__PORT in the environment names no setting; did you mean UNIBOT_WEB__PORT?"
    ]
    # The warning points at the caller of load_settings, which is where it gets shown.
    assert caught[0].filename == __file__


def test_misspelt_key_warns_and_is_still_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIBOT_WEB__PROT", "1")
    with (
        pytest.warns(UnknownSettingWarning, match="UNIBOT_WEB__PROT in the environment"),
        pytest.raises(SettingsError, match=r"web\.prot: unknown setting"),
    ):
        load_settings(write(tmp_path, ""), env_file=None)


def test_warning_never_shows_the_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIBOT_BOT_TOKEN", TOKEN)
    with pytest.warns(UnknownSettingWarning) as caught:
        load_settings(write(tmp_path, ""), env_file=None)
    assert [str(warning.message) for warning in caught] == [
        "UNIBOT_BOT_TOKEN in the environment names no setting; did you mean UNIBOT_BOT__TOKEN?"
    ]


def test_unknown_names_in_dotenv_file_warn(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "UNIBOT_WEB__PORT=9200\nUNIBOT_WBE__HOST=0.0.0.0\nUNIBOT_NOTHING=1\nOTHER=1\n", encoding="utf-8"
    )
    with pytest.warns(UnknownSettingWarning) as caught, pytest.raises(SettingsError):
        load_settings(write(tmp_path, ""), env_file=env_file)
    assert sorted(str(warning.message) for warning in caught) == [
        f"UNIBOT_NOTHING in {env_file} names no setting",
        f"UNIBOT_WBE__HOST in {env_file} names no setting; did you mean UNIBOT_WEB__HOST?",
    ]


def test_known_and_reserved_names_do_not_warn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIBOT_CONFIG", str(tmp_path / "settings.toml"))
    monkeypatch.setenv("UNIBOT_TEST_POSTGRES", "postgresql+asyncpg://nobody@127.0.0.1:1")
    monkeypatch.setenv("UNIBOT_WEB__PORT", "9100")
    monkeypatch.setenv("unibot_logging__level", "DEBUG")
    monkeypatch.setenv("UNIBOT_I18N", '{"default": "ru"}')
    env_file = tmp_path / ".env"
    env_file.write_text("UNIBOT_WEB__HOST=127.0.0.2\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        settings = load_settings(write(tmp_path, ""), env_file=env_file)
    assert [str(w.message) for w in caught if issubclass(w.category, UnknownSettingWarning)] == []
    assert (settings.web.port, settings.web.host, settings.logging.level, settings.i18n.default) == (
        9100,
        "127.0.0.2",
        "DEBUG",
        "ru",
    )


def test_run_py_shows_the_warning_before_logging_is_set_up(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith("UNIBOT_")}
    env.update({"UNIBOT_WBE__PORT": "1", "UNIBOT_APP__DATA_DIR": str(tmp_path)})
    result = subprocess.run(
        [
            sys.executable,
            "run.py",
            "check-config",
            "--config",
            str(tmp_path / "none.toml"),
            "--env-file",
            str(tmp_path / "none"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "UnknownSettingWarning: UNIBOT_WBE__PORT in the environment names no setting" in result.stderr


def test_webhook_mode_needs_public_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[app]\nmode = 'webhook'\n[webhook]\nurl = 'https://example.org/hook'\n")
    monkeypatch.setenv("UNIBOT_BOT__TOKEN", TOKEN)
    monkeypatch.setenv("UNIBOT_WEBHOOK__SECRET", GOOD_SECRET)
    with pytest.raises(SettingsError) as info:
        load_settings(path, env_file=None)
    assert "web.public_url: webhook mode needs UNIBOT_WEB__PUBLIC_URL" in str(info.value)
    monkeypatch.setenv("UNIBOT_WEB__PUBLIC_URL", "https://example.org")
    assert load_settings(path, env_file=None).web.public_url == "https://example.org"
