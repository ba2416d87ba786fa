"""Signals on a real process: the first lets a slow handler finish and commit; a second exits at once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from fake_telegram import FakeTelegram, FakeUser, UserClient
from storage.db import Database, DatabaseConfig
from storage.repositories.users import UserRepository

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "5151515151:shutdown-test-token-abcdef-0123456789"
CAROL: FakeUser = {"id": 31_000_001, "first_name": "Carol", "language_code": "en"}


def app_env(tmp_path: Path, fake: FakeTelegram) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("UNIBOT_")}
    env.update(
        {
            "UNIBOT_APP__MODE": "polling",
            "UNIBOT_APP__DATA_DIR": str(tmp_path),
            "UNIBOT_APP__SHUTDOWN_TIMEOUT": "20",
            "UNIBOT_BOT__TOKEN": TOKEN,
            "UNIBOT_AUTH__JWT_SECRET": "shutdown-test-jwt-secret-" + "x" * 20,
            "UNIBOT_BOT__API_BASE_URL": fake.base_url,
            "UNIBOT_WEB__PORT": "0",
            "UNIBOT_SCHEDULER__ENABLED": "false",
            "UNIBOT_I18N__PATH": str(ROOT / "locales"),
        }
    )
    return env


async def run_migrate(env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "run.py", "migrate", "--config", "/nonexistent.toml", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()


async def start_slow_app(env: dict[str, str], seconds: float) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.e2e.slow_app", str(seconds), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    seen: list[str] = []
    while True:
        # Generous: a loaded machine (CI shares its cores) can take tens of seconds to import and start the app.
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise AssertionError("the app exited before it was ready:\n" + "".join(seen))
        seen.append(line.decode())
        if line.startswith(b"Web server:"):
            return process


async def wait_text(client: UserClient, text: str, *, timeout: float = 15) -> dict[str, object]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for message in await client.messages(CAROL["id"]):
            if message["text"] == text:
                return message
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no message {text!r}")


async def stored_language(tmp_path: Path) -> str | None:
    db = Database(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'unibot.sqlite3'}"))
    try:
        async with db.unit_of_work(write=False) as session:
            user = await UserRepository(session).by_telegram_id(CAROL["id"])
            return None if user is None else user.language
    finally:
        await db.dispose()


async def test_sigterm_lets_slow_handler_finish(tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    env = app_env(tmp_path, fake_telegram)
    await run_migrate(env)
    process = await start_slow_app(env, seconds=1.5)
    async with UserClient(fake_telegram.base_url, 5151515151) as client:
        await client.send_text(CAROL, "/slow")
        await wait_text(client, "slow: started")
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, output.decode()
        finished = await wait_text(client, "slow: finished", timeout=1)
        assert finished["from_bot"]
    assert await stored_language(tmp_path) == "ru"

    # The offset was confirmed at shutdown: a new process does not get the /slow update again.
    process = await start_slow_app(env, seconds=0)
    async with UserClient(fake_telegram.base_url, 5151515151) as client:
        await client.send_text(CAROL, "/help")
        messages_before = len(await client.messages(CAROL["id"]))
        for _ in range(100):
            replies = [m for m in await client.messages(CAROL["id"]) if m["from_bot"]]
            if len(replies) >= 3:
                break
            await asyncio.sleep(0.05)
        texts = [m["text"] for m in await client.messages(CAROL["id"]) if m["from_bot"]]
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.communicate(), 30)
    assert texts.count("slow: started") == 1
    assert len(texts) == 3  # started, finished, and the help text
    assert messages_before >= 3


async def test_second_signal_exits_at_once(tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    env = app_env(tmp_path, fake_telegram)
    await run_migrate(env)
    process = await start_slow_app(env, seconds=30)
    async with UserClient(fake_telegram.base_url, 5151515151) as client:
        await client.send_text(CAROL, "/slow")
        await wait_text(client, "slow: started")
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 5)
    assert process.returncode == 130


async def test_refuses_outdated_schema(tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    env = app_env(tmp_path, fake_telegram)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "run.py", "--config", "/nonexistent.toml", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"run.py migrate" in output
