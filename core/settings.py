"""Typed settings: `settings.toml` sections, overridden by environment variables, secrets only from the environment.

Precedence, highest first: process environment, `.env` file, `settings.toml`, the defaults below.
Environment names are `UNIBOT_<SECTION>__<KEY>`, e.g. `UNIBOT_DB__URL` or `UNIBOT_BOT__TOKEN`.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import warnings
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "UNIBOT_"
# A bot token shaped like Telegram's, accepted only by the local stand-in; never valid on Telegram.
LOCAL_BOT_TOKEN = "1000000001:local-stand-in-token-not-secret"  # noqa: S105
_PLACEHOLDERS = frozenset({"", "changeme", "change-me", "secret", "placeholder", "example", "xxx", "todo"})
_WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{32,256}$")
# Telegram's token shape: the bot's numeric id, a colon, then the secret part (35 characters today).
_BOT_TOKEN_RE = re.compile(r"[0-9]+:[A-Za-z0-9_-]{30,}")
# UNIBOT_* variables that are not settings: run.py's path to the settings file, and the test suite's own.
_NOT_SETTINGS = frozenset({"UNIBOT_CONFIG"})
_TEST_VARIABLES_PREFIX = "UNIBOT_TEST_"


class Mode(StrEnum):
    LOCAL = "local"
    POLLING = "polling"
    WEBHOOK = "webhook"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Section):
    # "auto" resolves to local without a bot token and to polling with one.
    mode: Literal["auto", "local", "polling", "webhook"] = "auto"
    name: str = "Unibot"
    data_dir: Path = Path("data")
    shutdown_timeout: float = Field(default=20.0, gt=0, le=600)


class BotSettings(_Section):
    token: SecretStr | None = None
    api_base_url: str | None = None
    set_commands: bool = True
    menu_button_url: str | None = None
    handle_timeout: float = Field(default=60.0, gt=0)
    # Attempts at the Bot API's start-up calls (getMe, setWebhook) while it is unreachable, 1, 2, 4 ... s apart.
    startup_attempts: int = Field(default=5, ge=1, le=20)

    @field_validator("token")
    @classmethod
    def _token_has_telegram_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty value means no token (local mode); a wrong one would only fail later, at Telegram.
        if value is not None and value.get_secret_value() and not _BOT_TOKEN_RE.fullmatch(value.get_secret_value()):
            raise ValueError(
                f"{ENV_PREFIX}BOT__TOKEN is not a bot token: expected the bot id's digits, a colon, then 30 or more "
                "characters of [A-Za-z0-9_-], as @BotFather gives it"
            )
        return value


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)
    trusted_proxies: tuple[str, ...] = ()


class WebhookSettings(_Section):
    path: str = "/telegram/webhook"
    url: str | None = None
    secret: SecretStr | None = None
    drop_pending_updates: bool = False

    @field_validator("path")
    @classmethod
    def _path_starts_with_slash(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


class DbSettings(_Section):
    url: str = ""
    echo: bool = False
    busy_timeout_ms: int = Field(default=5000, ge=0)
    pool_size: int = Field(default=5, ge=1)


class RedisSettings(_Section):
    url: SecretStr | None = None
    key_prefix: str = "unibot:"


class SchedulerSettings(_Section):
    enabled: bool = True
    purge_interval_seconds: int = Field(default=3600, ge=10)


class I18nSettings(_Section):
    locales: tuple[str, ...] = ("en", "ru")
    default: str = "en"
    path: Path = Path("locales")
    domain: str = "messages"

    @model_validator(mode="after")
    def _default_is_known(self) -> I18nSettings:
        if self.default not in self.locales:
            raise ValueError(f"default {self.default!r} is not one of locales {list(self.locales)}")
        return self


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    # Seconds INFO lines may wait in a buffer before they are written; warnings and errors are written at once.
    # 0 writes every line as it comes.
    flush_interval: float = Field(default=1.0, ge=0, le=60)


class AuthSettings(_Section):
    issuer: str = "unibot"
    audience: str = "unibot-api"
    access_ttl_seconds: int = Field(default=900, ge=60, le=86400)
    refresh_ttl_days: int = Field(default=30, ge=1, le=365)
    # A client that lost the answer to its refresh may repeat it this long and get the same successor.
    refresh_grace_seconds: int = Field(default=10, ge=0, le=120)
    algorithm: Literal["HS256", "EdDSA"] = "HS256"
    # HS256 secret, at least 32 bytes; local mode makes one and keeps it under app.data_dir.
    jwt_secret: SecretStr | None = None
    jwt_kid: str = "hs1"
    # EdDSA: the current private key (PEM) and its key id; older public keys stay valid for rotation.
    ed25519_private_key: SecretStr | None = None
    ed25519_kid: str = "ed1"
    ed25519_previous_public_keys: tuple[str, ...] = ()
    ed25519_previous_kids: tuple[str, ...] = ()
    password_hash_concurrency: int = Field(default=4, ge=1, le=64)
    # argon2id cost; the floors are OWASP's minimum (19 MiB, 2 passes), the defaults argon2-cffi's.
    argon2_memory_kib: int = Field(default=65536, ge=19456, le=1048576)
    argon2_time_cost: int = Field(default=3, ge=2, le=20)
    argon2_parallelism: int = Field(default=4, ge=1, le=16)
    # Cached verified tokens and user states per process; bounded so memory stays flat.
    token_cache_size: int = Field(default=10000, ge=0)

    @model_validator(mode="after")
    def _previous_keys_have_ids(self) -> AuthSettings:
        if len(self.ed25519_previous_public_keys) != len(self.ed25519_previous_kids):
            raise ValueError("ed25519_previous_public_keys and ed25519_previous_kids must have the same length")
        return self


class RateLimitSettings(_Section):
    enabled: bool = True
    window_seconds: int = Field(default=60, ge=1, le=3600)
    # Sign-in and registration routes, per client IP.
    auth_limit: int = Field(default=10, ge=1)
    # Other routes, per client IP.
    general_limit: int = Field(default=100, ge=1)
    # Routes that need a token, per user.
    user_limit: int = Field(default=300, ge=1)
    # Signed service routes, per calling client (and, before its signature is checked, per IP).
    service_limit: int = Field(default=600, ge=1)
    # Failed logins: delays start after this many failures and double up to the caps (seconds).
    login_free_failures: int = Field(default=4, ge=0)
    login_account_max_delay: int = Field(default=30, ge=1)
    login_ip_max_delay: int = Field(default=300, ge=1)
    # Failures are forgotten this long after the last one.
    login_failure_memory_seconds: int = Field(default=900, ge=60)


class TelegramAuthSettings(_Section):
    # Mini App initData and Login Widget data older than this are refused (aiogram checks no age).
    max_age_seconds: int = Field(default=86400, ge=60, le=7 * 86400)
    future_skew_seconds: int = Field(default=60, ge=0, le=600)
    # Refuse a second sign-in with the same initData (a replayed capture); the `tma` header is not affected.
    refuse_replayed_init_data: bool = False
    # Check the Ed25519 `signature` field when present (third-party validation); the key is Telegram's
    # production key unless replaced (tests sign with their own).
    ed25519_check: bool = False
    ed25519_required: bool = False
    ed25519_public_key: str = "e7bf03a2fa4602af4580703d88dda5bb59f32ed8b02a56c187fe7d34caed242d"
    # Where the Login Widget's sign-in redirects a browser after setting the session cookie.
    login_redirect_url: str = "/"
    cookie_name: str = "unibot_access"
    # Binding codes: validity and wrong attempts before a code is void.
    binding_code_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    binding_code_max_attempts: int = Field(default=5, ge=1, le=20)


class SigningSettings(_Section):
    # Registered outside services allowed to call the signed service routes.
    clients: tuple[str, ...] = ()
    # Secret: JSON {"client-id": ["current secret", "previous secret"]} in UNIBOT_SIGNING__SECRETS.
    secrets: SecretStr | None = None
    window_seconds: int = Field(default=300, ge=30, le=3600)

    def client_secrets(self) -> dict[str, tuple[str, ...]]:
        if self.secrets is None:
            return {}
        raw = json.loads(self.secrets.get_secret_value())
        if not isinstance(raw, dict):
            raise ValueError("signing.secrets must be a JSON object of client id to secrets")
        result: dict[str, tuple[str, ...]] = {}
        for client, values in raw.items():
            items = [values] if isinstance(values, str) else values
            if not isinstance(items, list) or not 1 <= len(items) <= 2 or not all(isinstance(v, str) for v in items):
                raise ValueError(f"signing.secrets[{client!r}] must be one or two strings")
            result[str(client)] = tuple(items)
        return result

    @model_validator(mode="after")
    def _secrets_match_clients(self) -> SigningSettings:
        try:
            secrets_by_client = self.client_secrets()
        except json.JSONDecodeError:
            raise ValueError("signing.secrets is not valid JSON") from None
        missing = [client for client in self.clients if client not in secrets_by_client]
        if missing:
            raise ValueError(f"signing.secrets has no secret for client(s) {missing}")
        short = [client for client, values in secrets_by_client.items() if any(len(v) < 32 for v in values)]
        if short:
            raise ValueError(f"signing.secrets: secrets of {short} are shorter than 32 characters")
        return self


class RewardsSettings(_Section):
    # Points paid by one daily claim (/claim, POST /api/v1/claim).
    daily_amount: int = Field(default=100, ge=1, le=10**12)
    # Percent of the daily amount paid to the claimer's referrer from the referral pool (0: none).
    referral_percent: int = Field(default=10, ge=0, le=100)
    # IANA time zone whose calendar day a claim belongs to (one claim per user per day there).
    time_zone: str = "UTC"
    # Ledger entries per page of /balance and GET /auth/balance, by default and at most.
    page_size: int = Field(default=10, ge=1, le=100)
    max_page_size: int = Field(default=50, ge=1, le=500)
    # Expired cooldowns deleted per transaction by the maintenance job.
    purge_batch: int = Field(default=500, ge=1, le=100000)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class WalletSettings(_Section):
    # The site named in the Sign-In with Ethereum message (host[:port]); empty: the host of web.public_url,
    # else web.host:web.port.
    proof_domain: str = ""
    # The URI in that message; empty: web.public_url, else http://web.host:web.port.
    proof_uri: str = ""
    # The statement the wallet shows when asked to sign.
    proof_statement: str = "Link this address to your account."
    # Seconds a message to sign stays valid (its nonce is single use).
    proof_ttl_seconds: int = Field(default=600, ge=30, le=3600)
class AccessSettings(_Section):
    # Features (route and handler flags) and the level each needs; "admin" always needs staff.
    beta_features: tuple[str, ...] = ("wallet", "profile", "whoami")
    alpha_features: tuple[str, ...] = ("experimental",)
    staff_features: tuple[str, ...] = ("admin_users",)
    full_permissions_features: tuple[str, ...] = ("register_users",)
    # Made admins (staff with full API permissions) at start-up, audited; Telegram ids and/or email addresses.
    initial_admin_telegram_ids: tuple[int, ...] = ()
    initial_admin_emails: tuple[str, ...] = ()
    # Messages one user may send the bot per ratelimit.window_seconds; more get one polite notice.
    bot_message_limit: int = Field(default=30, ge=1)
    # Refused messages within one window after which the sender is flagged as a suspected bot; 0: never.
    bot_suspect_after: int = Field(default=20, ge=0)
    # Largest page size of the admin lists.
    max_page_size: int = Field(default=100, ge=10, le=1000)

    @model_validator(mode="after")
    def _one_level_per_feature(self) -> AccessSettings:
        lists = (self.beta_features, self.alpha_features, self.staff_features, self.full_permissions_features)
        names = [name for names in lists for name in names]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"features listed under two levels: {repeated}")
        if "admin" in names:
            raise ValueError("'admin' always needs the staff level; do not list it")
        return self


class LocalSettings(_Section):
    stand_in_host: str = "127.0.0.1"
    stand_in_port: int = Field(default=8081, ge=0, le=65535)


class ProfilesSettings(_Section):
    # Secrets: Telegram's api_id and api_hash (my.telegram.org) only from UNIBOT_PROFILES__API_ID / __API_HASH.
    api_id: SecretStr | None = None
    api_hash: SecretStr | None = None
    # Secret: the key ring sealing sessions, "kid1:base64key,kid2:base64key", from UNIBOT_PROFILES__KEYS.
    keys: SecretStr | None = None
    current_key_id: str = ""
    flood_sleep_threshold: int = Field(default=10, ge=0, le=300)
    pending_login_seconds: int = Field(default=300, ge=60, le=3600)
    max_code_attempts: int = Field(default=5, ge=1, le=20)
    send_per_minute: int = Field(default=20, ge=1, le=1000)
    dialogs_cache_seconds: int = Field(default=30, ge=0, le=3600)
    lease_seconds: int = Field(default=60, ge=5, le=3600)
    max_clients: int = Field(default=8, ge=1, le=1000)
    unread_max_dialogs: int = Field(default=50, ge=1, le=500)
    unread_per_dialog: int = Field(default=20, ge=1, le=100)
class FinanceSettings(_Section):
    default_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    default_time_zone: str = "UTC"
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 90)
    invite_max_ttl_days: int = Field(default=90, ge=1, le=365)
    draft_ttl_hours: int = Field(default=24, ge=1, le=24 * 30)
    undo_window_minutes: int = Field(default=60, ge=1, le=24 * 60)
    idempotency_ttl_hours: int = Field(default=48, ge=1, le=24 * 30)
    chart_workers: int = Field(default=1, ge=1, le=8)
    chart_max_pending: int = Field(default=4, ge=1, le=64)
    chart_timeout_seconds: float = Field(default=10.0, gt=0, le=120)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    app: AppSettings = AppSettings()
    bot: BotSettings = BotSettings()
    web: WebSettings = WebSettings()
    webhook: WebhookSettings = WebhookSettings()
    db: DbSettings = DbSettings()
    redis: RedisSettings = RedisSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    i18n: I18nSettings = I18nSettings()
    logging: LoggingSettings = LoggingSettings()
    local: LocalSettings = LocalSettings()
    auth: AuthSettings = AuthSettings()
    ratelimit: RateLimitSettings = RateLimitSettings()
    telegram_auth: TelegramAuthSettings = TelegramAuthSettings()
    signing: SigningSettings = SigningSettings()
    rewards: RewardsSettings = RewardsSettings()
    wallet: WalletSettings = WalletSettings()
    profiles: ProfilesSettings = ProfilesSettings()
    access: AccessSettings = AccessSettings()
    finance: FinanceSettings = FinanceSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; it must rank below the environment.
        return env_settings, dotenv_settings, init_settings

    @property
    def mode(self) -> Mode:
        if self.app.mode == "auto":
            return Mode.POLLING if self.bot.token else Mode.LOCAL
        return Mode(self.app.mode)

    @property
    def database_url(self) -> str:
        if self.db.url:
            return self.db.url
        return f"sqlite+aiosqlite:///{self.app.data_dir / 'unibot.sqlite3'}"

    @property
    def bot_token(self) -> str:
        if self.mode is Mode.LOCAL:
            return self.bot.token.get_secret_value() if self.bot.token else LOCAL_BOT_TOKEN
        assert self.bot.token is not None  # enforced by _check_mode
        return self.bot.token.get_secret_value()

    @property
    def webhook_secret(self) -> str:
        return self.webhook.secret.get_secret_value() if self.webhook.secret else ""

    @model_validator(mode="after")
    def _check_mode(self) -> Settings:
        mode = self.mode
        if mode is Mode.LOCAL:
            return self
        if self.bot.token is None or _is_placeholder(self.bot.token):
            raise ValueError(f"bot.token: mode {mode.value} needs a real bot token in {ENV_PREFIX}BOT__TOKEN")
        if self.auth.algorithm == "HS256":
            jwt_secret = self.auth.jwt_secret
            if jwt_secret is None or _is_placeholder(jwt_secret) or len(jwt_secret.get_secret_value().encode()) < 32:
                raise ValueError(
                    f"auth.jwt_secret: mode {mode.value} needs {ENV_PREFIX}AUTH__JWT_SECRET of at least 32 bytes "
                    "(256 bits), e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
        elif self.auth.ed25519_private_key is None:
            raise ValueError(f"auth.ed25519_private_key: EdDSA needs {ENV_PREFIX}AUTH__ED25519_PRIVATE_KEY (PEM)")
        if mode is Mode.WEBHOOK:
            secret = self.webhook.secret.get_secret_value() if self.webhook.secret else ""
            if not _WEBHOOK_SECRET_RE.fullmatch(secret) or _is_placeholder(self.webhook.secret):
                raise ValueError(
                    f"webhook.secret: webhook mode needs {ENV_PREFIX}WEBHOOK__SECRET of 32 to 256 characters "
                    "from [A-Za-z0-9_-]"
                )
            if not self.webhook.url:
                raise ValueError(
                    f"webhook.url: webhook mode needs {ENV_PREFIX}WEBHOOK__URL, the public URL Telegram posts "
                    "updates to"
                )
            if not self.web.public_url:
                # Otherwise the links the bot sends (the /link pages) would point at web.host, e.g. 0.0.0.0.
                raise ValueError(
                    f"web.public_url: webhook mode needs {ENV_PREFIX}WEB__PUBLIC_URL, the public base URL of this "
                    "server (e.g. https://bot.example.com), for the links the bot sends"
                )
        return self

    def masked(self) -> dict[str, Any]:
        """The effective settings with every secret replaced, for `check-config` and start-up logs."""
        masked: dict[str, Any] = _mask(self.model_dump(mode="python"))
        return masked


def _is_placeholder(value: SecretStr | None) -> bool:
    if value is None:
        return True
    raw = value.get_secret_value().strip().lower()
    return raw in _PLACEHOLDERS or raw.startswith(("changeme", "change-me", "your-", "<"))


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, SecretStr):
        return "**********" if value.get_secret_value() else ""
    if isinstance(value, tuple | list):
        return [_mask(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


def secret_fields() -> Iterator[tuple[str, str]]:
    """(section, key) of every secret-typed setting."""
    for section_name, field in Settings.model_fields.items():
        section_type = field.annotation
        if not isinstance(section_type, type) or not issubclass(section_type, BaseModel):
            continue
        for key, sub in section_type.model_fields.items():
            if "SecretStr" in repr(sub.annotation):
                yield section_name, key


class SettingsError(Exception):
    """Settings cannot be used; the message names the key and what is allowed."""


class UnknownSettingWarning(UserWarning):
    """An UNIBOT_* variable in the environment or the .env file names no setting.

    Issued by `load_settings` with `warnings.warn`, so a caller without logging (run.py reads settings before it
    sets logging up) still shows it on standard error. The message names the variable, never its value.
    """


def load_settings(
    toml_path: Path | str | None = Path("settings.toml"),
    *,
    env_file: Path | str | None = Path(".env"),
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings; every call reads the files again, so nothing is built at import.

    Every UNIBOT_* variable of the environment or the .env file that names no setting is reported with an
    UnknownSettingWarning before the settings are validated; invalid settings raise SettingsError."""
    data: dict[str, Any] = {}
    if toml_path is not None:
        path = Path(toml_path)
        if path.exists():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
            _refuse_secrets_in_file(data, path)
    if overrides:
        data = deep_merge(data, dict(overrides))
    env_path = Path(env_file) if env_file is not None else None
    if env_path is not None and not env_path.exists():
        env_path = None
    # Before validation, so the warnings also explain an error that a misspelt .env line causes.
    _warn_unknown_variables(os.environ, "the environment")
    if env_path is not None:
        _warn_unknown_variables(dotenv_values(env_path), str(env_path))
    try:
        return Settings(_env_file=env_path, **data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def setting_variables() -> frozenset[str]:
    """Every environment name that sets something: UNIBOT_<SECTION> (the section as JSON) and
    UNIBOT_<SECTION>__<KEY>, upper case (names are matched without regard to case)."""
    names = set()
    for section_name, field in Settings.model_fields.items():
        section = f"{ENV_PREFIX}{section_name.upper()}"
        names.add(section)
        section_type = field.annotation
        if isinstance(section_type, type) and issubclass(section_type, BaseModel):
            names.update(f"{section}__{key.upper()}" for key in section_type.model_fields)
    return frozenset(names)


def unknown_variables(names: Iterable[str]) -> list[str]:
    """The UNIBOT_* names among `names` that name no setting (UNIBOT_CONFIG and UNIBOT_TEST_* are not settings
    and are never reported)."""
    known = setting_variables()
    unknown = []
    for name in names:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known or upper in _NOT_SETTINGS:
            continue
        if not upper.startswith(_TEST_VARIABLES_PREFIX):
            unknown.append(name)
    return unknown


def _warn_unknown_variables(names: Iterable[str], source: str) -> None:
    unknown = unknown_variables(names)
    if not unknown:
        return
    known = sorted(setting_variables())
    for name in unknown:
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else ""
        # stacklevel 3: the line that called load_settings.
        warnings.warn(f"{name} in {source} names no setting{hint}", UnknownSettingWarning, stacklevel=3)


def _refuse_secrets_in_file(data: Mapping[str, Any], path: Path) -> None:
    for section, key in secret_fields():
        value = data.get(section, {})
        if isinstance(value, Mapping) and value.get(key) not in (None, ""):
            env_name = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
            raise SettingsError(f"{section}.{key}: secrets are not read from {path}; set {env_name} instead")


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "settings"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        elif error["type"] == "value_error" and "error" in error.get("ctx", {}):
            # Our validators' messages are complete sentences; pydantic's "Value error, " prefix only adds noise.
            message = str(error["ctx"]["error"])
        lines.append(f"{location}: {message}")
    return "invalid settings:\n  " + "\n  ".join(lines)
