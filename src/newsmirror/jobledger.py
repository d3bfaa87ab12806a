"""The jobs one worker ran, so that none is left ``doing`` by a worker that lives on.

procrastinate marks a job done (or queues its retry) after the job returns, in a
statement of its own. When the database ends the worker's sessions at that moment (a
restart, an operator's ``pg_terminate_backend``), that statement fails, the job stays
``doing``, and since its worker goes on sending heartbeats no other worker ever takes
it back (:func:`newsmirror.jobqueue.recover_stalled` only takes the jobs of silent
workers). The ledger notes each run of a job (its id and attempt) as it starts and ends;
a run that ended ``grace`` seconds ago and is still ``doing`` at that same attempt was
never marked, and goes back to the queue (a job done twice stores nothing twice).

The decisions are plain functions of the ledger; the worker's recovery loop asks the
database (:func:`newsmirror.jobqueue.recover_orphans`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

Run = tuple[int, int]  # a job's id and its attempt (procrastinate counts retries)


class JobLedger:
    """When the runs of jobs this process ran ended (a run started again at the same
    attempt, fetched anew, is running, not ended)."""

    def __init__(self) -> None:
        self._ended: dict[Run, float] = {}

    def started(self, run: Run) -> None:
        self._ended.pop(run, None)

    def ended(self, run: Run, at: float) -> None:
        self._ended[run] = at

    def due(self, now: float, grace: float) -> list[Run]:
        """The runs that ended at least ``grace`` seconds before ``now``: long enough
        for procrastinate to have marked them, so one still ``doing`` was not."""
        return sorted(run for run, at in self._ended.items() if now - at >= grace)

    def forget(self, runs: list[Run]) -> None:
        for run in runs:
            self._ended.pop(run, None)

    def track(self, task: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """``task`` as a procrastinate task given its job context (``pass_context``),
        noted in this ledger while it runs."""

        @functools.wraps(task)
        async def tracked(context: Any, **kwargs: Any) -> Any:
            run = (int(context.job.id), int(context.job.attempts))
            self.started(run)
            try:
                return await task(**kwargs)
            finally:
                self.ended(run, time.monotonic())

        return tracked
