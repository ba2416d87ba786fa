"""The MTProto face sits beside the bot and the web server: neither they nor the domain import it."""

from __future__ import annotations

import pytest

from tests.test_layers import ROOT, imported_modules

# package -> what it must never import (project packages and client libraries)
RULES = {
    "mtproto": {"bot", "webserver", "fake_telegram", "run", "tests", "bench", "clients", "aiogram", "aiohttp"},
    "core": {"mtproto", "telethon"},
    "storage": {"mtproto", "telethon"},
    "bot": {"mtproto", "telethon"},
    "webserver": {"mtproto", "telethon"},
}


@pytest.mark.parametrize("package", sorted(RULES))
def test_mtproto_dependency_rules(package: str) -> None:
    violations = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in imported_modules(path)
        if module.split(".")[0] in RULES[package]
    ]
    assert not violations, "\n".join(violations)


def test_rules_see_the_adapter_imports() -> None:
    found = imported_modules(ROOT / "mtproto" / "telethon_client.py")
    assert "telethon.TelegramClient" in found
    assert "core.profiles.port" in found
