"""A worker goes on working when the database ends its sessions (restarts its run,
waiting a little longer each time), gives up with a clear error when the database stays
away, stops on SIGTERM, and lets any other error through."""

from __future__ import annotations

import asyncio
import os
import signal

import psycopg
import pytest
from procrastinate.exceptions import ConnectorException

from newsmirror import workerloop
from newsmirror.errors import ArchiveError
from newsmirror.workerloop import failures_in_a_row, keep_working, lost_session, wait_before


def _wrapped(error: psycopg.Error) -> ConnectorException:
    """``error`` as procrastinate raises it: a ConnectorException caused by it."""
    try:
        raise ConnectorException() from error
    except ConnectorException as wrapped:
        return wrapped


def _lost() -> ConnectorException:
    return _wrapped(psycopg.errors.AdminShutdown("terminating connection"))


def _broken_query() -> ConnectorException:
    return _wrapped(psycopg.errors.UndefinedTable("no such table"))


def test_only_an_ended_or_unreachable_session_counts_as_lost() -> None:
    assert lost_session(_lost())
    assert lost_session(psycopg.OperationalError("server closed the connection"))
    assert not lost_session(_broken_query())
    assert not lost_session(ValueError("a bug"))


def test_waits_grow_to_a_bound_and_a_steady_run_starts_the_count_again() -> None:
    assert [wait_before(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert wait_before(40) == workerloop.LONGEST_WAIT
    assert failures_in_a_row(3, lasted=1.0) == 4
    assert failures_in_a_row(3, lasted=workerloop.STEADY) == 1


def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workerloop, "wait_before", lambda failures: 0.0)


def test_a_run_that_meets_a_lost_session_is_started_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fast(monkeypatch)
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise _lost()

    async def has_todo() -> bool:
        return False

    asyncio.run(keep_working(run, until_idle=True, has_todo=has_todo, handle_signals=False))
    assert len(runs) == 3


def test_a_persistent_run_that_stops_by_itself_is_started_again_until_sigterm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """procrastinate ends a run quietly when its heartbeat fails; a worker that is not
    asked to stop must not exit then. SIGTERM (a real signal) stops it, once."""
    _fast(monkeypatch)
    runs: list[str] = []

    async def run() -> None:
        runs.append("run")
        if len(runs) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                runs.append("stopped")
                raise

    async def has_todo() -> bool:
        raise AssertionError("a persistent worker does not look for work to end")

    asyncio.run(
        asyncio.wait_for(
            keep_working(run, until_idle=False, has_todo=has_todo, handle_signals=True), 10
        )
    )
    assert runs == ["run", "run", "run", "stopped"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handed back


def test_until_idle_ends_when_no_job_waits_and_goes_on_while_one_does() -> None:
    todo = [True, True, False]
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)

    async def has_todo() -> bool:
        return todo.pop(0)

    asyncio.run(keep_working(run, until_idle=True, has_todo=has_todo, handle_signals=False))
    assert len(runs) == 3


def test_a_database_that_stays_away_ends_the_worker_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fast(monkeypatch)
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)
        raise _lost()

    async def has_todo() -> bool:
        return True

    with pytest.raises(ArchiveError) as caught:
        asyncio.run(keep_working(run, until_idle=False, has_todo=has_todo, handle_signals=False))
    assert len(runs) == workerloop.RESTARTS + 1
    assert "in a row" in caught.value.message
    assert "PostgreSQL" in (caught.value.hint or "")


def test_any_other_error_ends_the_worker_at_once() -> None:
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)
        raise _broken_query()

    async def has_todo() -> bool:
        return True

    with pytest.raises(ConnectorException):
        asyncio.run(keep_working(run, until_idle=False, has_todo=has_todo, handle_signals=False))
    assert runs == [1]
