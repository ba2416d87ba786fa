"""Scheduled maintenance. Features add their jobs in `maintenance_jobs`; every job is idempotent, so several
replicas may run it, and a short lock in the shared store keeps them from doing the same work at once."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.access import jobs as access_jobs
from core.auth import jobs as auth_jobs
from core.container import Container
from core.finance import jobs as finance_jobs
from core.identity import jobs as identity_jobs
from core.profiles import jobs as profiles_jobs
from core.rewards import jobs as rewards_jobs
from storage.kv import KeyValueStore, KeyValueUnavailable

log = logging.getLogger("unibot.jobs")
DENYLIST_CHECK_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    run: Callable[[], Awaitable[int]]
    """Returns how many records it removed or changed, for the log."""
    interval_seconds: int


def maintenance_jobs(container: Container, *, purge_interval: int) -> list[Job]:
    """The one list of scheduled jobs; a feature adds its own here."""
    return [
        # Processed-update records and other expiring keys; Redis expires keys itself and reports 0.
        Job("purge-expired-kv", container.kv.purge_expired, purge_interval),
        # Expired sessions, their refresh tokens, and denylist rows past their tokens' expiry.
        Job("purge-expired-sessions", lambda: auth_jobs.purge_expired_sessions(container), purge_interval),
        Job("purge-expired-binding-codes", lambda: identity_jobs.purge_expired_codes(container), purge_interval),
        Job("purge-expired-cooldowns", lambda: rewards_jobs.purge_expired_cooldowns(container), purge_interval),
        Job("purge-expired-profile-logins", lambda: profiles_jobs.purge_expired_logins(container), purge_interval),
        Job("purge-idempotency-keys", lambda: finance_jobs.purge_idempotency_keys(container), purge_interval),
        # A store that restarted empty gets the denylist back within a minute.
        Job("warm-denylist", lambda: auth_jobs.warm_denylist(container), DENYLIST_CHECK_SECONDS),
        Job("initial-admins", lambda: access_jobs.apply_initial_admins(container), purge_interval),
    ]


async def run_job(job: Job, kv: KeyValueStore) -> int | None:
    """Run once, never raising: a failing job is logged and the process goes on."""
    lock = f"job-lock:{job.name}"
    try:
        if not await kv.set_if_absent(lock, b"1", ttl=max(1.0, job.interval_seconds / 2)):
            log.info("job skipped, another replica holds it", extra={"job": job.name})
            return None
    except KeyValueUnavailable:
        log.warning("job lock unavailable, running anyway", extra={"job": job.name})
    started = time.perf_counter()
    try:
        changed = await job.run()
    except Exception:
        log.exception("job failed", extra={"job": job.name})
        return None
    log.info(
        "job done",
        extra={"job": job.name, "changed": changed, "duration_ms": round((time.perf_counter() - started) * 1000, 2)},
    )
    return changed


def create_scheduler(jobs: list[Job], kv: KeyValueStore) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job in jobs:
        scheduler.add_job(
            run_job,
            "interval",
            seconds=job.interval_seconds,
            args=(job, kv),
            id=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=job.interval_seconds,
        )
    return scheduler
