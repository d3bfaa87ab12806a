"""Keep a worker working while the database ends its sessions.

A procrastinate worker run stops when one of its statements meets a session the server
ended (a restart, an operator's ``pg_terminate_backend``): fetching the next job raises,
and a failed heartbeat ends the run quietly. :func:`keep_working` starts a new run after
such a stop, waiting a little longer after each one, until SIGINT or SIGTERM asks the
worker to stop (the jobs running then finish first; a second signal ends the process
at once, its jobs left for the queue to give back), until the queue is empty with
``until_idle``, or until the database has stayed out of reach for ``RESTARTS`` runs in a
row (an :class:`~newsmirror.errors.ArchiveError`). Any other error ends the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from newsmirror.errors import ArchiveError

log = logging.getLogger(__name__)

RESTARTS = 8  # runs in a row that meet a lost session before the worker gives up
STEADY = 60.0  # a run that lasted this long was healthy: the count starts again
LONGEST_WAIT = 30.0  # seconds between two runs, at most


class Ended(enum.Enum):
    """How one worker run ended (its value: what the worker says before the next)."""

    IDLE = "no job waits"  # until_idle: the work is done
    MORE = "jobs wait"  # until_idle: queued by the last jobs, so run again at once
    STOPPED = "the worker's heartbeat could not reach the queue's database"
    LOST = "the queue's database session was lost"


def lost_session(exc: BaseException) -> bool:
    """True when ``exc`` came from a database session that was ended or could not be
    opened (procrastinate wraps psycopg's errors; a pool's timeout is one of them)."""
    import psycopg

    return isinstance(exc, psycopg.OperationalError) or isinstance(
        exc.__cause__, psycopg.OperationalError
    )


def failures_in_a_row(previous: int, lasted: float) -> int:
    """How many runs in a row met a lost session, this one included: a run that lasted
    ``STEADY`` seconds was healthy, so it starts the count again."""
    return 1 if lasted >= STEADY else previous + 1


def wait_before(failures: int) -> float:
    """Seconds to wait before the next run after ``failures`` lost sessions in a row."""
    return min(LONGEST_WAIT, 0.5 * 2.0 ** (failures - 1))


async def keep_working(
    run: Callable[[], Awaitable[None]],
    *,
    until_idle: bool,
    has_todo: Callable[[], Awaitable[bool]],
    handle_signals: bool,
) -> None:
    """Call ``run`` (one procrastinate worker run, its own signal handling off) again
    and again, as the module says."""
    stop = asyncio.Event()
    current: list[asyncio.Task[None]] = []

    def stop_now() -> None:
        stop.set()
        log.warning(
            "stopping once the running jobs end (a second Ctrl-C or SIGTERM stops at once;"
            " they go back to the queue)"
        )
        for task in current:
            task.cancel()  # procrastinate lets the running jobs finish, then stops

    failures = 0
    with _on_signals(stop_now) if handle_signals else contextlib.nullcontext():
        while not stop.is_set():
            started = time.monotonic()
            current[:] = [asyncio.ensure_future(run())]
            try:
                ended = await _one_run(current[0], until_idle, has_todo)
            except asyncio.CancelledError:
                if stop.is_set():
                    break
                raise
            except Exception as exc:
                if not lost_session(exc):
                    raise
                if stop.is_set():  # asked to stop, and stopped: its jobs are safe
                    log.warning("the queue's database session was lost as the worker stopped")
                    break
                ended = Ended.LOST
            if stop.is_set() or ended is Ended.IDLE:
                break
            if ended is Ended.MORE:
                continue
            failures = failures_in_a_row(failures, time.monotonic() - started)
            if failures > RESTARTS:
                raise ArchiveError(
                    f"the job queue's database ended the worker's sessions {RESTARTS}"
                    " times in a row",
                    hint="check that the PostgreSQL server is up and reachable",
                )
            delay = wait_before(failures)
            log.warning("%s; working again in %.1f s", ended.value, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)


async def _one_run(
    run: asyncio.Task[None], until_idle: bool, has_todo: Callable[[], Awaitable[bool]]
) -> Ended:
    """Await one run: with ``until_idle``, IDLE or MORE as jobs wait after it (asking
    the database may meet a lost session too); otherwise STOPPED (a persistent run
    stops by itself only when its heartbeat failed)."""
    await run
    if not until_idle:
        return Ended.STOPPED
    return Ended.MORE if await has_todo() else Ended.IDLE


@contextlib.contextmanager
def _on_signals(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` on the first SIGINT or SIGTERM; a second one ends the process
    at once, as a kill does (its jobs stay ``doing`` and go back to the queue once it is
    silent): raised in the middle of a job, KeyboardInterrupt would mark it failed.
    The handlers found are put back at the end. Where the event loop cannot take
    signals (Windows, a thread), nothing is done."""
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, Any] = {}  # a handler: a callable, an int, None

    def handler() -> None:
        for sig in previous:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_DFL)
        callback()

    for sig in (signal.SIGINT, signal.SIGTERM):
        found = signal.getsignal(sig)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, handler)
            previous[sig] = found
    try:
        yield
    finally:
        for sig, before in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_DFL if before is None else before)
