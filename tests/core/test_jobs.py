from __future__ import annotations

import logging

import pytest

from core.jobs import Job, create_scheduler, run_job
from storage.kv import KeyValueStore


async def test_job_runs_and_logs(kv: KeyValueStore, caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    async def work() -> int:
        calls.append(1)
        return 7

    with caplog.at_level(logging.INFO, logger="unibot.jobs"):
        assert await run_job(Job("work", work, 60), kv) == 7
    done = [r for r in caplog.records if r.getMessage() == "job done"]
    assert done
    assert done[0].__dict__["changed"] == 7
    assert "duration_ms" in done[0].__dict__
    assert calls == [1]


async def test_second_replica_skips_while_first_holds_the_lock(kv: KeyValueStore) -> None:
    calls = []

    async def work() -> int:
        calls.append(1)
        return 0

    job = Job("shared", work, 60)
    assert await run_job(job, kv) == 0
    assert await run_job(job, kv) is None
    assert calls == [1]


async def test_failing_job_never_raises(kv: KeyValueStore, caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> int:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="unibot.jobs"):
        assert await run_job(Job("broken", broken, 60), kv) is None
    assert any(r.getMessage() == "job failed" for r in caplog.records)


async def test_scheduler_registers_every_job(kv: KeyValueStore) -> None:
    async def work() -> int:
        return 0

    scheduler = create_scheduler([Job("a", work, 60), Job("b", work, 3600)], kv)
    assert {job.id for job in scheduler.get_jobs()} == {"a", "b"}
