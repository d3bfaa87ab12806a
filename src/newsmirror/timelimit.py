"""A time limit for one page's extraction, wherever it runs.

A page made to be slow (patterns that lxml or trafilatura take quadratic time over, that
the tag cap of :mod:`newsmirror.clean` does not know) must not hold a run for minutes:
``run --max-minutes`` only stops pages from starting.

- In an extraction worker process, :func:`within` arms a real-time timer around the
  call; when it rings, the call is interrupted between two Python steps (where
  trafilatura and lxml spend their time) by a :class:`BaseException` that no broad
  ``except Exception`` of a library swallows, and the page fails with
  :class:`~newsmirror.errors.ExtractionError`. The worker goes on with the next page.
- In this process (a few pages, extracted in threads), a thread cannot be interrupted:
  :func:`in_daemon_thread` runs the call in a daemon thread, the caller stops waiting
  for it at the limit (``asyncio.wait_for``), and the thread is left to finish on its
  own or to end with the process, which does not wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from newsmirror.errors import ExtractionError

T = TypeVar("T")
AGAIN = 0.5  # seconds between rings once the limit has passed


class _Overtime(BaseException):
    """Raised by the timer inside the call (a BaseException: libraries catch Exception)."""


def overtime_error(seconds: float) -> ExtractionError:
    # (no word of retries: a run's page is tried again, an `add` is not)
    return ExtractionError(f"extracting the page took over {seconds:g} s and was stopped")


def within(seconds: float, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, stopped with :func:`overtime_error` after ``seconds`` of real time.
    Only in a process's main thread (elsewhere it runs with no limit: see
    :func:`in_daemon_thread`). The timer rings again every :data:`AGAIN` seconds until
    the call has ended, in case a ring was lost (raised where Python only reports
    it, such as in a ``__del__``)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        return fn(*args)
    ended = False

    def ring(_signum: int, _frame: FrameType | None) -> None:
        if not ended:
            raise _Overtime

    before = signal.signal(signal.SIGALRM, ring)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds, AGAIN)
        try:
            return fn(*args)
        finally:
            ended = True  # a ring from here on raises nothing
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Overtime:
        raise overtime_error(seconds) from None
    finally:
        signal.signal(signal.SIGALRM, before)


async def in_thread_within(seconds: float, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a daemon thread (:func:`in_daemon_thread`), waited for at most
    ``seconds``: then :func:`overtime_error`, and the thread is left to itself."""
    try:
        return await asyncio.wait_for(in_daemon_thread(fn, *args), seconds)
    except TimeoutError:
        raise overtime_error(seconds) from None


def in_daemon_thread(fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """``fn(*args)`` in a daemon thread of its own: a future of the running loop that
    holds its outcome. Cancelling the future (``wait_for`` at a time limit) leaves the
    thread to run on; the process does not wait for it at its end."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the caller stopped waiting
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (fn(*args), None)
        except BaseException as exc:  # handed to the waiting caller
            outcome = (None, exc)
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="newsmirror-extract", daemon=True).start()
    return future
