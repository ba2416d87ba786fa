"""The documented deployment works as written: README's webhook variables, docker-compose.yml's environment and
the Dockerfile's health check, each checked against the real settings validation or the real app."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from core.clock import ManualClock
from core.settings import Mode, Settings, SettingsError, load_settings
from storage.kv import MemoryStore
from tests.helpers.app import make_container
from webserver.app import create_app
from webserver.keys import WebConfig

ROOT = Path(__file__).resolve().parents[1]
# A valid value for every variable the deployment documents; a variable missing here fails the tests below.
SAMPLES = {
    "UNIBOT_APP__MODE": "webhook",
    "UNIBOT_BOT__TOKEN": "123456789:AAH" + "x_Y-9" * 7,
    "UNIBOT_AUTH__JWT_SECRET": "j" * 48,
    "UNIBOT_WEBHOOK__SECRET": "w" * 40,
    "UNIBOT_WEBHOOK__URL": "https://bot.example.com/telegram/webhook",
    "UNIBOT_WEB__PUBLIC_URL": "https://bot.example.com",
    "UNIBOT_WEB__HOST": "0.0.0.0",  # noqa: S104 - a sample value; nothing binds to it here
    "UNIBOT_WEB__PORT": "8443",
    "UNIBOT_DB__URL": "postgresql+asyncpg://unibot:pw@db.example.com:5432/unibot",
    "UNIBOT_REDIS__URL": "redis://redis.example.com:6379/0",
    "POSTGRES_PASSWORD": "pw",
}
# Listed by README for several replicas or containers; a single process starts without them.
OPTIONAL = {"UNIBOT_WEB__HOST", "UNIBOT_DB__URL", "UNIBOT_REDIS__URL"}


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Settings]:
    """Loads the shipped settings.toml under exactly the given environment (no other UNIBOT_* variable)."""

    def load(environment: dict[str, str]) -> Settings:
        for name in list(os.environ):
            if name.upper().startswith("UNIBOT_"):
                monkeypatch.delenv(name)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return load_settings(ROOT / "settings.toml", env_file=None)

    return load


def readme_webhook_variables() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("- **webhook**") :]
    block = section[section.index("```sh") : section.index("```", section.index("```sh") + 5)]
    return re.findall(r"^\s*(UNIBOT_[A-Z0-9_]+)=", block, flags=re.MULTILINE)


def test_readme_webhook_list_is_enough(settings_from: Callable[[dict[str, str]], Settings]) -> None:
    names = readme_webhook_variables()
    assert len(names) == len(set(names))
    settings = settings_from({name: SAMPLES[name] for name in names})
    assert settings.mode is Mode.WEBHOOK


def test_each_required_variable_of_the_readme_list_is_needed(
    settings_from: Callable[[dict[str, str]], Settings],
) -> None:
    names = readme_webhook_variables()
    for left_out in names:
        environment = {name: SAMPLES[name] for name in names if name != left_out}
        if left_out in OPTIONAL:
            assert settings_from(environment).mode is Mode.WEBHOOK
            continue
        outcome = mode_or_error(settings_from, environment)
        if isinstance(outcome, Mode):
            assert outcome is not Mode.WEBHOOK, f"{left_out} is listed but not needed"
        else:
            assert left_out in outcome, f"the error without {left_out} does not name it: {outcome}"


def mode_or_error(settings_from: Callable[[dict[str, str]], Settings], environment: dict[str, str]) -> Mode | str:
    try:
        return settings_from(environment).mode
    except SettingsError as exc:
        return str(exc)


COMPOSE = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}")


def compose_dotenv() -> dict[str, str]:
    """What a person following the header comment puts in .env."""
    names = re.findall(r"^#\s+([A-Z][A-Z0-9_]+)=", COMPOSE, flags=re.MULTILINE)
    return {name: SAMPLES[name] for name in names}


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if name in dotenv:
            return dotenv[name]
        assert kind == "-", f"compose stops on ${{{name}}}: the header does not tell to set it"
        return rest

    return _INTERPOLATION.sub(one, value)


def compose_app_environment() -> dict[str, str]:
    """The shared environment block (an anchor both app and migrate use), parsed line by line: PyYAML is not a
    dependency of the project."""
    lines = COMPOSE[COMPOSE.index("&unibot-environment") :].splitlines()[1:]
    block: dict[str, str] = {}
    for line in lines:
        if not line.startswith("  "):
            break
        name, _, value = line.strip().partition(": ")
        block[name] = value
    return block


def test_compose_environment_passes_settings_validation(settings_from: Callable[[dict[str, str]], Settings]) -> None:
    dotenv = compose_dotenv()
    environment = {name: interpolate(value, dotenv) for name, value in compose_app_environment().items()}
    assert "UNIBOT_AUTH__JWT_SECRET" in environment
    assert "UNIBOT_WEB__PUBLIC_URL" in environment
    settings = settings_from(environment)
    assert settings.mode is Mode.WEBHOOK
    assert settings.web.public_url == SAMPLES["UNIBOT_WEB__PUBLIC_URL"]
    assert settings.web.port == 8080, "without UNIBOT_WEB__PORT in .env the compose default is 8080"
    assert settings.database_url == "postgresql+asyncpg://unibot:pw@postgres:5432/unibot"


def test_compose_builds_the_image_once() -> None:
    services = COMPOSE[COMPOSE.index("\nservices:") : COMPOSE.index("\nvolumes:")]
    assert len(re.findall(r"^\s+build:", services, flags=re.MULTILINE)) == 1
    for name in ("migrate", "app"):
        body = re.search(rf"^  {name}:\n((?:    .*\n|\s*\n)+)", services, flags=re.MULTILINE)
        assert body is not None, name
        assert "    image: unibot:local\n" in body.group(1), name
        assert "    environment: *unibot-environment\n" in body.group(1), name


def healthcheck_command() -> list[str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("HEALTHCHECK ")]
    argv = shlex.split(line.split(" CMD ", 1)[1])
    assert argv[:2] == ["python", "-c"]
    return [sys.executable, *argv[1:]]


@asynccontextmanager
async def health_server(tmp_path: Path) -> AsyncIterator[int]:
    clock = ManualClock()
    container = await make_container(tmp_path, MemoryStore(), clock)
    app = create_app(
        container=container, config=WebConfig(version="9.9.9", mode="webhook", max_body_bytes=64 * 1024)
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
        await container.close()
        await container.db.dispose()


async def run_healthcheck(environment: dict[str, str]) -> int:
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith("UNIBOT_")}
    process = await asyncio.create_subprocess_exec(
        *healthcheck_command(), env={**env, **environment}, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), 30)


async def test_healthcheck_follows_the_configured_port(tmp_path: Path) -> None:
    async with health_server(tmp_path) as port:
        assert await run_healthcheck({"UNIBOT_WEB__PORT": str(port)}) == 0
    assert await run_healthcheck({"UNIBOT_WEB__PORT": str(port)}) != 0


# Port 8080 may be anyone's on a shared machine, so the default is checked with a recording stand-in for urlopen
# that answers 200 and prints the URL it was asked for.
FAKE_URLOPEN = (
    "import urllib.request\n"
    "class _Answer:\n"
    "    status = 200\n"
    "def _record(url, timeout):\n"
    "    print(url)\n"
    "    return _Answer()\n"
    "urllib.request.urlopen = _record\n"
)


@pytest.mark.parametrize("environment", [{}, {"UNIBOT_WEB__PORT": ""}])
async def test_healthcheck_defaults_to_8080(environment: dict[str, str]) -> None:
    executable, flag, code = healthcheck_command()
    env = {key: value for key, value in os.environ.items() if not key.upper().startswith("UNIBOT_")}
    process = await asyncio.create_subprocess_exec(
        executable, flag, FAKE_URLOPEN + code, env={**env, **environment}, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    assert output.decode().split() == ["http://127.0.0.1:8080/health"]
