"""A time limit for one page's extraction, inside the worker process that runs it.

:func:`within` arms a real-time timer around the call; when it rings, the call is
interrupted between two Python steps (where trafilatura and lxml spend their time) by a
:class:`BaseException` that no broad ``except Exception`` of a library swallows, and the
page fails with :class:`~newsmirror.errors.ExtractionError`. The worker goes on with the
next page. A call the timer cannot interrupt (one long C call) is ended from outside:
:mod:`newsmirror.extractpool` kills its worker.
"""

from __future__ import annotations

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
    Only in a process's main thread (elsewhere it runs with no limit). The timer rings
    again every :data:`AGAIN` seconds until the call has ended, in case a ring was lost
    (raised where Python only reports it, such as in a ``__del__``)."""
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
