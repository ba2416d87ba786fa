"""`run.py issue-token` as a person runs it: local mode only unless overridden, every use audited."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.test_run_cli import run

TOKEN = "123456:Secret-Token-Value-xyz-0123456789"


def add_user(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        cursor = conn.execute(
            "INSERT INTO users (first_name, date_joined, created_at, updated_at) "
            "VALUES ('Ann', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def audit_rows(database: Path) -> list[tuple[str, str, int, str]]:
    with sqlite3.connect(database) as conn:
        return list(conn.execute("SELECT face, action, target_id, after FROM audit_log ORDER BY id"))


def test_issue_token_in_local_mode_prints_a_token_and_audits_it(tmp_path: Path) -> None:
    env = {"UNIBOT_APP__DATA_DIR": str(tmp_path), "UNIBOT_APP__MODE": "local"}
    assert run("migrate", env=env).returncode == 0
    user_id = add_user(tmp_path / "unibot.sqlite3")
    result = run("issue-token", "--user", str(user_id), "--reason", "support #12", env=env)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.count(".") == 2
    [(face, action, target, after)] = audit_rows(tmp_path / "unibot.sqlite3")
    assert (face, action, target) == ("cli", "token.issue", user_id)
    assert json.loads(after)["reason"] == "support #12"
    # The token itself is never written to the audit log.
    assert token not in after
    missing = run("issue-token", "--user", "999", env=env)
    assert missing.returncode == 1
    assert "not found" in missing.stderr


def test_issue_token_refuses_outside_local_mode_without_the_override(tmp_path: Path) -> None:
    env = {"UNIBOT_APP__DATA_DIR": str(tmp_path), "UNIBOT_BOT__TOKEN": TOKEN, "UNIBOT_AUTH__JWT_SECRET": "j" * 40}
    assert run("migrate", env=env).returncode == 0
    user_id = add_user(tmp_path / "unibot.sqlite3")
    refused = run("issue-token", "--user", str(user_id), env=env)
    assert refused.returncode == 2
    assert "polling mode" in refused.stderr
    assert refused.stdout == ""
    assert audit_rows(tmp_path / "unibot.sqlite3") == []
    allowed = run("issue-token", "--user", str(user_id), "--allow-outside-local", env=env)
    assert allowed.returncode == 0, allowed.stderr
    assert [row[:3] for row in audit_rows(tmp_path / "unibot.sqlite3")] == [("cli", "token.issue", user_id)]
    assert TOKEN not in allowed.stdout + allowed.stderr
