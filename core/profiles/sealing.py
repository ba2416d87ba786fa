"""Where profile secrets are sealed, and re-sealing every stored one under the current key.

The associated data of a stored value names its table's purpose, its owner and its phone, so a value opens only in
the row it was written for. Rotation: add the new key to the ring, make it current, run `reseal_all` until it
reports nothing left under other keys, then drop the old key from the configuration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.profiles.crypto import KeyRing, SecretUnreadable, context
from storage.db import Database
from storage.repositories.profiles import ProfileRepository, SealedRow

log = logging.getLogger("unibot.profiles")

SESSION_PURPOSE = "telegram_profiles.session"
PENDING_PURPOSE = "pending_profile_logins.state"


def session_context(owner_id: int, phone: str) -> bytes:
    return context(SESSION_PURPOSE, owner_id, phone)


def pending_context(owner_id: int, phone: str) -> bytes:
    return context(PENDING_PURPOSE, owner_id, phone)


def row_context(row: SealedRow) -> bytes:
    if row.table == "telegram_profiles":
        return session_context(row.owner_id, row.phone)
    if row.table == "pending_profile_logins":
        return pending_context(row.owner_id, row.phone)
    raise ValueError(f"unknown table {row.table!r}")


@dataclass(frozen=True, slots=True)
class ResealReport:
    resealed: int
    # Changed by a login or revocation between the read and the write; that write already used the current key.
    raced: int
    # Not openable with any configured key (lost key, corrupted row); left as they are and logged by id.
    unreadable: int


async def reseal_all(database: Database, ring: KeyRing, *, batch: int = 200) -> ResealReport:
    """Seal every stored profile secret that is under an older key again, under the current one.

    Reads and writes in batches, each batch in its own short transaction, so requests are not held up; safe to run
    on several replicas at once (each write checks the value is still the one read).
    """
    resealed = raced = unreadable = 0
    for table in ("telegram_profiles", "pending_profile_logins"):
        after_id = 0
        while True:
            async with database.unit_of_work(write=False) as session:
                repo = ProfileRepository(session)
                read = repo.sealed_profiles if table == "telegram_profiles" else repo.sealed_pending
                rows = await read(after_id=after_id, batch=batch, not_key_id=ring.current_id)
            if not rows:
                break
            after_id = rows[-1].id
            updates: list[tuple[SealedRow, bytes]] = []
            for row in rows:
                try:
                    updates.append((row, ring.rotate(row.sealed, row_context(row))))
                except SecretUnreadable as exc:
                    unreadable += 1
                    log.error("profile secret unreadable", extra={"table": table, "row": row.id, "reason": exc.reason})
            async with database.unit_of_work() as session:
                repo = ProfileRepository(session)
                for row, sealed in updates:
                    if await repo.reseal(row, sealed=sealed, key_id=ring.current_id):
                        resealed += 1
                    else:
                        raced += 1
    return ResealReport(resealed=resealed, raced=raced, unreadable=unreadable)


async def check_ring(database: Database, ring: KeyRing) -> str | None:
    """None when the ring opens a stored secret of each table (or none is stored); else what failed, for a clear
    start-up error: a wrong key must stop the app, not surface later as 500s."""
    for table in ("telegram_profiles", "pending_profile_logins"):
        async with database.unit_of_work(write=False) as session:
            repo = ProfileRepository(session)
            read = repo.sealed_profiles if table == "telegram_profiles" else repo.sealed_pending
            rows = await read(after_id=0, batch=1)
        for row in rows:
            try:
                ring.open(row.sealed, row_context(row))
            except SecretUnreadable as exc:
                return f"{table} row {row.id}: {exc.message}"
    return None
