from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import LOCAL_BOT_TOKEN, Mode, SettingsError, load_settings, secret_fields

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "s" * 40
TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ"
JWT_SECRET = "j" * 43


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
    path = write(tmp_path, "[app]\nmode = 'webhook'\n[webhook]\nurl = 'https://example.org/hook'\n")
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
