"""The dependency rules of the design, checked on the source: a violation fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"bot", "webserver", "storage", "core", "fake_telegram", "run", "tests", "bench", "clients"}

# package -> project packages it must never import
FORBIDDEN = {
    "storage": PROJECT - {"storage"},
    "core": {"bot", "webserver", "fake_telegram", "run", "tests", "bench", "clients"},
    "bot": {"webserver", "fake_telegram", "run", "tests", "bench", "clients"},
    "webserver": {"bot", "fake_telegram", "run", "tests", "bench", "clients"},
    "fake_telegram": PROJECT - {"fake_telegram"},
    "clients": PROJECT - {"clients"},
}
# The domain stays free of the faces' frameworks.
FORBIDDEN_LIBRARIES = {"core": {"aiohttp"}, "storage": {"aiogram", "aiohttp"}}
# aiogram's pure Telegram helpers (signature checks) are allowed where the spec demands aiogram's check.
ALLOWED_AIOGRAM_IN_CORE = {"aiogram.utils.web_app", "aiogram.utils.web_app_signature", "aiogram.utils.deep_linking"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # Qualified per name, so `from aiogram.utils import web_app` is judged as aiogram.utils.web_app.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_rules(package: str) -> None:
    violations = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top in FORBIDDEN[package]:
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
            if top in FORBIDDEN_LIBRARIES.get(package, set()):
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
            allowed = any(module == ok or module.startswith(ok + ".") for ok in ALLOWED_AIOGRAM_IN_CORE)
            if package == "core" and top == "aiogram" and not allowed:
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
            if package == "storage" and top == "aiogram":
                violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not violations, "\n".join(violations)


def test_rules_see_real_imports() -> None:
    assert "storage.kv.KeyValueStore" in imported_modules(ROOT / "core" / "container.py")


def test_only_the_composition_root_reads_settings() -> None:
    """The domain and the faces get configuration objects; translating settings is run.py's job."""
    readers = []
    for package in ("core", "bot", "webserver", "storage"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "core" / "settings.py":
                continue
            if any(module.startswith("core.settings") for module in imported_modules(path)):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []


# The places in the domain allowed to open a unit of work: the container itself, the password pattern, jobs and
# the key-rotation command (faces like a request, one unit per batch). Services never open one.
UNIT_OPENERS = {"core/container.py", "core/auth/password_flows.py", "core/profiles/sealing.py"}


def test_services_never_open_a_unit_of_work() -> None:
    openers = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative in UNIT_OPENERS or path.name == "jobs.py":
            continue
        if ".unit_of_work(" in path.read_text(encoding="utf-8"):
            openers.append(relative)
    assert openers == []
