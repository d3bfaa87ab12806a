"""A worker goes on working when the database ends its sessions (restarts its run,
waiting a little longer each time), gives up with a clear error when the database stays
away, stops on SIGTERM, and lets any other error through."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
import pytest
from procrastinate.exceptions import ConnectorException

from conftest import FeedServer, Reply, make_config, rss
from newsmirror import workerloop
from newsmirror.errors import ArchiveError
from newsmirror.workerloop import failures_in_a_row, keep_working, lost_session, wait_before
from pgharness import Schemas, pg_schemas  # noqa: F401 (fixture)


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


def _fast(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """No wait between runs; the failures in a row each wait was asked for."""
    asked: list[int] = []

    def wait_before(failures: int) -> float:
        asked.append(failures)
        return 0.0

    monkeypatch.setattr(workerloop, "wait_before", wait_before)
    return asked


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == workerloop.__name__]


def test_a_run_that_meets_a_lost_session_is_started_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    asked = _fast(monkeypatch)
    runs: list[int] = []

    async def run() -> None:
        # not asked to handle signals, it leaves them alone
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        runs.append(1)
        if len(runs) < 3:
            raise _lost()

    async def has_todo() -> bool:
        return False

    asyncio.run(keep_working(run, until_idle=True, has_todo=has_todo, handle_signals=False))
    assert len(runs) == 3
    assert asked == [1, 2]
    assert _said(caplog) == ["the queue's database session was lost; working again in 0.0 s"] * 2


def test_a_persistent_run_that_stops_by_itself_is_started_again_until_sigterm(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
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
    quiet = "the worker's heartbeat could not reach the queue's database; working again in 0.0 s"
    assert _said(caplog) == [
        quiet,
        quiet,
        "stopping once the running jobs end (a second Ctrl-C or SIGTERM stops at once;"
        " they go back to the queue)",
    ]


def test_until_idle_ends_when_no_job_waits_and_goes_on_while_one_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    todo = [True, True, False]
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)

    async def has_todo() -> bool:
        return todo.pop(0)

    started = time.monotonic()
    asyncio.run(keep_working(run, until_idle=True, has_todo=has_todo, handle_signals=False))
    assert len(runs) == 3
    assert time.monotonic() - started < 0.4  # at once: no wait as after a failure
    assert _said(caplog) == []


def _always_raising(
    error: Callable[[], Exception],
) -> tuple[list[int], Callable[[], Awaitable[None]], Callable[[], Awaitable[bool]]]:
    """A run that always raises ``error()`` (counting its calls), and a queue with jobs."""
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)
        raise error()

    async def has_todo() -> bool:
        return True

    return runs, run, has_todo


def test_a_database_that_stays_away_ends_the_worker_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = _fast(monkeypatch)
    runs, run, has_todo = _always_raising(_lost)
    with pytest.raises(ArchiveError) as caught:
        asyncio.run(keep_working(run, until_idle=False, has_todo=has_todo, handle_signals=False))
    assert len(runs) == workerloop.RESTARTS + 1
    assert asked == list(range(1, workerloop.RESTARTS + 1))
    assert caught.value.message == (
        "the job queue's database ended the worker's sessions 8 times in a row"
    )
    assert caught.value.hint == "check that the PostgreSQL server is up and reachable"
    assert "PostgreSQL" in (caught.value.hint or "")


def test_any_other_error_ends_the_worker_at_once() -> None:
    runs, run, has_todo = _always_raising(_broken_query)
    with pytest.raises(ConnectorException):
        asyncio.run(keep_working(run, until_idle=False, has_todo=has_todo, handle_signals=False))
    assert runs == [1]


def _lost_for_real(url: str) -> BaseException:
    """The error procrastinate raises for a query on a session the server ended (a real
    one: this session ends itself), wrapped as its connector wraps psycopg's."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            try:
                conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            except psycopg.Error as exc:
                raise ConnectorException() from exc
        except ConnectorException as wrapped:
            return wrapped
    raise AssertionError("the session did not end")


@pytest.mark.postgres
def test_until_idle_goes_on_when_the_session_is_lost_as_it_looks_for_work(
    monkeypatch: pytest.MonkeyPatch,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """`run --queue` / `worker --until-idle`: a run ends, and the database ends the
    session of the query that asks whether jobs wait (a restart, just then). The worker
    must run again, not end with a database error."""
    from newsmirror import jobqueue
    from newsmirror.store import Archive

    _fast(monkeypatch)
    app_name = f"nmidle{os.getpid()}"
    plain = pg_schemas.new()
    url = plain + f"&application_name={app_name}"
    archive = Archive.open(url, create=True)
    locked = threading.Event()

    def end_the_waiting_query() -> None:
        """Hold the queue's table so that the next query waits, and end its session."""
        with psycopg.connect(plain, autocommit=True) as holder, holder.transaction():
            holder.execute("LOCK TABLE procrastinate_jobs IN ACCESS EXCLUSIVE MODE")
            locked.set()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not _scalar(
                plain,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s AND wait_event_type = 'Lock'",
                (app_name,),
            ):
                time.sleep(0.01)

    try:
        jobqueue.ensure_queue_schema(archive)
        app = jobqueue.queue_app(archive, url)
        runs: list[int] = []
        ender = threading.Thread(target=end_the_waiting_query)

        async def run() -> None:
            runs.append(1)
            await app.run_worker_async(wait=False, install_signal_handlers=False)
            if len(runs) == 1:
                ender.start()
                await asyncio.to_thread(locked.wait, 5)

        async def go() -> None:
            async with app.open_async():
                await keep_working(
                    run,
                    until_idle=True,
                    has_todo=lambda: jobqueue._has_todo(app),
                    handle_signals=False,
                )

        try:
            asyncio.run(asyncio.wait_for(go(), 10))
        finally:
            ender.join()
    finally:
        archive.close()
    assert len(runs) == 2


def _scalar(url: str, sql: str, args: tuple[object, ...]) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql, args).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.postgres
def test_a_worker_asked_to_stop_ends_cleanly_when_its_last_statement_meets_a_lost_session(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """SIGTERM while the database restarts (a host shutting down stops both): the run
    stops, and its last statement (unregistering the worker) meets an ended session.
    The worker was asked to stop and did: it ends normally, not with a database error
    (its jobs go back to the queue once it is silent, as a killed worker's do)."""
    _fast(monkeypatch)
    url = pg_schemas.new()
    runs: list[int] = []

    async def run() -> None:
        runs.append(1)
        os.kill(os.getpid(), signal.SIGTERM)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise _lost_for_real(url)  # noqa: B904 (as procrastinate raises it)

    async def has_todo() -> bool:
        raise AssertionError("a persistent worker does not look for work to end")

    asyncio.run(
        asyncio.wait_for(
            keep_working(run, until_idle=False, has_todo=has_todo, handle_signals=True), 10
        )
    )
    assert runs == [1]
    assert _said(caplog)[-1] == "the queue's database session was lost as the worker stopped"


@pytest.mark.postgres
def test_a_second_ctrl_c_stops_the_worker_at_once_leaving_its_job_to_the_queue(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """The first Ctrl-C lets the running job finish; an operator who presses it again
    wants the worker gone now. It ends at once, as a killed worker does (no traceback),
    and its job stays `doing` for the queue to give back, never marked failed or
    aborted (which no worker would take again)."""
    server.route("/slow.xml", Reply(body=rss([_item()]), delay=4))
    make_config(tmp_path, [("源", [server.url + "/slow.xml"])], extra="retries = 0\n")
    config = tmp_path / "newsmirror.toml"
    url = pg_schemas.new()
    env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": url}
    run = [sys.executable, "-m", "newsmirror", "-c", str(config)]
    queued = subprocess.run([*run, "schedule"], env=env, capture_output=True, check=False)
    assert queued.returncode == 0, queued.stderr
    jobs = "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
    worker = subprocess.Popen(
        [*run, "worker", "--stalled-after", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 8
        while not _scalar(url, jobs, ()):
            assert time.monotonic() < deadline, "the worker took no job"
            time.sleep(0.05)
        worker.send_signal(signal.SIGINT)
        time.sleep(0.3)
        worker.send_signal(signal.SIGINT)
        _, err = worker.communicate(timeout=2)  # before the job (4 s) could end
    finally:
        worker.kill()
        worker.wait()
    assert "Traceback" not in err, err
    assert "a second Ctrl-C" in err  # the first one said how to stop at once
    statuses = "SELECT string_agg(status::text, ',') FROM procrastinate_jobs"
    with psycopg.connect(url) as conn:
        assert conn.execute(statuses).fetchone() == ("doing",)


def _item() -> dict[str, str]:
    return {"title": "慢", "link": "https://slow.example/1.html", "guid": "slow-1"}
