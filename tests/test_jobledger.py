"""A job a living worker ran but procrastinate could not mark done (the database ended
the session at that moment) goes back to the queue; a job still running, one ended a
moment ago, and one another worker runs at a later attempt stay where they are."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from newsmirror.jobledger import JobLedger
from pgharness import Schemas, pg_schemas  # noqa: F401 (fixture)


def _context(job_id: int, attempts: int) -> Any:
    return SimpleNamespace(job=SimpleNamespace(id=job_id, attempts=attempts))


def test_a_run_is_due_once_it_ended_grace_seconds_ago_and_not_while_it_runs() -> None:
    ledger = JobLedger()
    ledger.started((1, 0))
    ledger.started((2, 0))
    ledger.ended((2, 0), at=100.0)
    assert ledger.due(now=102.9, grace=3) == []
    assert ledger.due(now=103.0, grace=3) == [(2, 0)]
    ledger.started((2, 0))  # fetched again at the same attempt: running, not due
    assert ledger.due(now=500.0, grace=3) == []
    ledger.ended((2, 0), at=200.0)
    ledger.ended((1, 0), at=150.0)
    assert ledger.due(now=500.0, grace=3) == [(1, 0), (2, 0)]
    ledger.forget([(1, 0)])
    assert ledger.due(now=500.0, grace=3) == [(2, 0)]
    ledger.forget([(1, 0), (99, 0)])  # forgotten already, or never noted: no error
    assert ledger.due(now=500.0, grace=3) == [(2, 0)]


def test_a_tracked_task_is_noted_as_it_starts_and_ends_even_when_it_fails() -> None:
    ledger = JobLedger()
    seen: list[list[tuple[int, int]]] = []

    async def job(fail: bool) -> str:
        seen.append(ledger.due(time.monotonic() + 1e6, grace=0))  # running: not due
        if fail:
            raise RuntimeError("boom")
        return "done"

    tracked = ledger.track(job)
    assert asyncio.run(tracked(_context(7, 2), fail=False)) == "done"
    with pytest.raises(RuntimeError):
        asyncio.run(tracked(_context(8, 0), fail=True))
    assert seen == [[], [(7, 2)]]
    assert ledger.due(time.monotonic() + 1, grace=0.5) == [(7, 2), (8, 0)]


@pytest.mark.postgres
def test_recover_orphans_gives_back_only_the_unmarked_runs_of_this_worker(
    tmp_path: Any,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    from newsmirror import jobqueue
    from newsmirror.store import Archive

    url = pg_schemas.new()
    archive = Archive.open(url, create=True)
    try:
        jobqueue.ensure_queue_schema(archive)

        async def go() -> tuple[int, list[tuple[Any, ...]]]:
            app = jobqueue.queue_app(archive, url)
            async with app.open_async():
                feeds = [("源", f"http://127.0.0.1:9/{i}.xml") for i in range(4)]
                assert await jobqueue.queue_feeds(app, feeds) == 4
                worker = await app.job_manager.register_worker()
                jobs = [await app.job_manager.fetch_job(None, worker) for _ in feeds]
                ids = [job.id for job in jobs if job is not None]
                assert len(ids) == 4
                ledger = JobLedger()
                long_ago = time.monotonic() - 60
                ledger.ended((ids[0], 0), at=long_ago)  # ran, never marked: the orphan
                ledger.ended((ids[1], 0), at=time.monotonic())  # being marked now
                ledger.started((ids[2], 0))  # still running here
                ledger.ended((ids[3], 0), at=long_ago)  # ... now another worker's run:
                await app.job_manager.retry_job_by_id_async(ids[3], retry_at=_now())
                await app.job_manager.fetch_job(None, worker)  # attempt 1, doing
                given = await jobqueue.recover_orphans(app, ledger, grace=3)
                again = await jobqueue.recover_orphans(app, ledger, grace=3)
                assert again == 0  # forgotten once handled
                rows = await app.connector.execute_query_all_async(
                    "SELECT id, status::text AS status, attempts FROM procrastinate_jobs"
                    " ORDER BY id"
                )
                return given, [(r["id"] - ids[0], r["status"], r["attempts"]) for r in rows]

        given, rows = asyncio.run(go())
    finally:
        archive.close()
    assert given == 1
    assert rows == [(0, "todo", 1), (1, "doing", 0), (2, "doing", 0), (3, "doing", 1)]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.postgres
def test_the_recovery_loop_gives_back_orphans_even_when_looking_for_silent_workers_fails(
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """One of the loop's two looks failing (here the workers' table is gone) must not
    stop the other: the unmarked job still goes back to the queue."""
    from newsmirror import jobqueue
    from newsmirror.store import Archive

    url = pg_schemas.new()
    archive = Archive.open(url, create=True)
    try:
        jobqueue.ensure_queue_schema(archive)

        async def go() -> str:
            app = jobqueue.queue_app(archive, url)
            async with app.open_async():
                await jobqueue.queue_feeds(app, [("源", "http://127.0.0.1:9/a.xml")])
                worker = await app.job_manager.register_worker()
                job = await app.job_manager.fetch_job(None, worker)
                assert job is not None and job.id is not None
                await app.connector.execute_query_async("DROP TABLE procrastinate_workers CASCADE")
                jobqueue._LEDGER.ended((job.id, 0), at=time.monotonic() - 60)
                loop = asyncio.create_task(jobqueue._recover_forever(app, after=3))
                await asyncio.sleep(0.5)
                loop.cancel()
                row = await app.connector.execute_query_one_async(
                    "SELECT status::text AS status FROM procrastinate_jobs WHERE id = %(id)s",
                    id=job.id,
                )
                return str(row["status"])

        assert asyncio.run(go()) == "todo"
    finally:
        jobqueue._LEDGER.forget(jobqueue._LEDGER.due(time.monotonic() + 1e6, 0))
        archive.close()
