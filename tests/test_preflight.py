"""`make test`'s preflight: silent when the servers the tests start are installed, one line naming the fix when not."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.helpers.postgres import find_bindir

ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash") or "/bin/bash"


def _preflight(path: Path) -> subprocess.CompletedProcess[str]:
    # Only the named folder on PATH and no apt-get there, so even as root it reports instead of installing.
    return subprocess.run(
        [BASH, str(ROOT / ".ci" / "preflight")],
        env={"PATH": str(path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def _link(folder: Path, *programs: str) -> None:
    for program in programs:
        found = shutil.which(program)
        assert found, program
        (folder / Path(program).name).symlink_to(found)


def test_missing_redis_is_named_with_the_install_command(tmp_path: Path) -> None:
    _link(tmp_path, "id")
    result = _preflight(tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "sudo apt-get install redis-server" in lines[0]


def test_silent_when_everything_is_there(tmp_path: Path) -> None:
    bindir = find_bindir()
    assert bindir is not None
    _link(tmp_path, "id", "redis-server", str(bindir / "initdb"), str(bindir / "pg_ctl"))
    result = _preflight(tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
