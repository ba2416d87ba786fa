"""The sub-commands of run.py as a person runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith("UNIBOT_")}
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_masks_secrets(tmp_path: Path) -> None:
    token = "123456:Secret-Token-Value-xyz-0123456789"
    result = run(
        "check-config",
        "--env-file",
        str(tmp_path / "none"),
        env={"UNIBOT_BOT__TOKEN": token, "UNIBOT_AUTH__JWT_SECRET": "j" * 40, "UNIBOT_APP__DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode (resolved)"] == "polling"
    assert data["bot"]["token"] == "**********"
    assert token not in result.stdout
    assert "j" * 40 not in result.stdout


def test_invalid_setting_stops_with_the_key_named(tmp_path: Path) -> None:
    result = run("check-config", env={"UNIBOT_WEB__PORT": "not-a-port", "UNIBOT_APP__DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "web.port" in result.stderr


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    result = run("migrate", env={"UNIBOT_APP__DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "unibot.sqlite3").exists()


def test_start_up_objects_leave_the_full_collections() -> None:
    """What serve() does once everything is built: a full GC pass must not walk the modules and models again."""
    script = (
        "import gc, run\n"
        "tracked = len(gc.get_objects())\n"
        "run.freeze_startup_objects()\n"
        "print(tracked, gc.get_freeze_count(), len(gc.get_objects()))\n"
    )
    base = {key: value for key, value in os.environ.items() if not key.startswith("UNIBOT_")}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env={**base, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    tracked, frozen, left = map(int, done.stdout.split())
    assert frozen >= tracked * 0.9
    assert left < tracked * 0.05


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_web_port_in_use_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            "--env-file",
            str(tmp_path / "none"),
            env={
                "UNIBOT_APP__DATA_DIR": str(tmp_path),
                "UNIBOT_WEB__PORT": str(port),
                "UNIBOT_LOCAL__STAND_IN_PORT": "0",
            },
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "cannot start" in line]
    assert len(errors) == 1
    assert "UNIBOT_WEB__PORT" in errors[0]


def test_unreachable_bot_api_is_retried_then_one_line(tmp_path: Path) -> None:
    assert run("migrate", env={"UNIBOT_APP__DATA_DIR": str(tmp_path)}).returncode == 0
    result = run(
        "--env-file",
        str(tmp_path / "none"),
        env={
            "UNIBOT_APP__DATA_DIR": str(tmp_path),
            "UNIBOT_APP__MODE": "polling",
            "UNIBOT_BOT__TOKEN": "123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "UNIBOT_AUTH__JWT_SECRET": "j" * 40,
            "UNIBOT_BOT__API_BASE_URL": f"http://127.0.0.1:{free_port()}",
            "UNIBOT_BOT__STARTUP_ATTEMPTS": "2",
            "UNIBOT_WEB__PORT": "0",
        },
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "retrying" in result.stderr
    errors = [line for line in result.stderr.splitlines() if "cannot start" in line]
    assert len(errors) == 1
    assert "did not answer getMe" in errors[0]
