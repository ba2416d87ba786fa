"""A throwaway PostgreSQL server for the test session: its own data folder, a free loopback port, no durability."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.helpers.net import free_port

INSTALL_HINT = "PostgreSQL is not installed (no initdb/pg_ctl found): run `sudo apt-get install postgresql`"
# The server refuses to run as root; Debian's package creates this system user for it.
SYSTEM_USER = "postgres"
SUPERUSER = "postgres"
# Where Debian's packages put each major version's programs, off PATH.
DEBIAN_VERSIONS = Path("/usr/lib/postgresql")

# Durability off: a crash loses nothing a test needs, and each commit skips its flush to disk.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    # TCP only: Debian's default socket folder (/var/run/postgresql) is not writable by every user.
    "unix_socket_directories": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    # Caps the WAL kept between checkpoints, which counts against memory when the folder is on tmpfs.
    "max_wal_size": "'128MB'",
    "log_min_messages": "warning",
}


SHM = "/dev/shm"


def scratch_parent() -> str | None:
    """/dev/shm when it is a roomy tmpfs, else the usual temporary folder (None). On the 2-core CI machine under
    load a test's CREATE DATABASE ... TEMPLATE took ~35 ms there against ~270 ms on disk."""
    try:
        if os.access(SHM, os.W_OK | os.X_OK) and shutil.disk_usage(SHM).free >= 1 << 30:
            return SHM
    except OSError:
        pass
    return None


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says what to do, in one line."""


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: from PATH, else the newest of Debian's /usr/lib/postgresql/*/bin."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        # Debian links them into PATH one by one; the real folder also holds the matching `postgres`.
        bindir = Path(pg_ctl).resolve().parent
        if (bindir / "initdb").exists():
            return bindir
    candidates = [path.parent for path in DEBIAN_VERSIONS.glob("*/bin/pg_ctl")]
    candidates = [bindir for bindir in candidates if (bindir / "initdb").exists()]
    return max(candidates, key=_version) if candidates else None


class PostgresServer:
    def __init__(self) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(INSTALL_HINT)
        self.bindir = bindir
        self.owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root, PostgreSQL needs the `{SYSTEM_USER}` system user: "
                    "run `apt-get install postgresql` (its package creates it)"
                ) from None
        self.port = free_port()
        self.folder: Path | None = None

    @property
    def url(self) -> str:
        """The server without a database name: SQLAlchemy's asyncpg form, with the superuser and no password."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}"

    @property
    def data(self) -> Path:
        assert self.folder is not None, "the server is not started"
        return self.folder / "data"

    def start(self) -> None:
        # Not under pytest's basetemp: as root that is a 0700 folder the postgres user cannot enter.
        self.folder = Path(tempfile.mkdtemp(prefix="unibot-pg-", dir=scratch_parent()))
        if self.owner is not None:
            os.chown(self.folder, self.owner.pw_uid, self.owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        # Trust, but only for TCP from loopback; no local-socket line since sockets are off.
        (self.data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        settings = {**SERVER_SETTINGS, "port": str(self.port)}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        if self.folder is None:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.owner is not None:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        # The folder as working directory: as root, the caller's own (e.g. /root) is closed to the postgres user.
        result = subprocess.run(command, cwd=self.folder, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.folder / "server.log" if self.folder is not None else None
            tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}):\n{result.stdout}{result.stderr}{tail}")
