"""Two pieces of work at once, on two cores: one here, one in a forked child.

:func:`side_by_side` runs ``here()`` in this process while a child forked just before runs
``there()`` and sends its result back, pickled, through a pipe. The child shares this
process's memory as it was at the fork (copy-on-write): ``there`` reads whatever was made
ready for it, and must not touch an open database connection, a socket or a lock another
thread may hold (the export gives it posts already read, and it renders and writes files).

Nothing is lost when the child fails: when it cannot be forked, dies (killed, out of
memory), raises, or its result cannot come back, ``there()`` runs here after ``here()``,
where its errors surface as they would in a run without the child. So ``there`` must be
safe to run twice (atomic writes of the same bytes are; what the child wrote before it
failed is then counted as unchanged). Ctrl-C or an error in ``here`` kills the child before
the error goes on.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from typing import TypeVar, cast

A = TypeVar("A")
B = TypeVar("B")


def can_fork(cpus: int | None = None) -> bool:
    """Whether a child on another core is worth it here: Linux (fork is safe with the
    libraries in use there) and at least two CPUs this process may run on."""
    if sys.platform != "linux":
        return False
    if cpus is None:
        cpus = len(os.sched_getaffinity(0))
    return cpus >= 2


def side_by_side(here: Callable[[], A], there: Callable[[], B]) -> tuple[A, B]:
    """``(here(), there())``, ``there`` run in a forked child meanwhile (see the module);
    one after the other here while another thread of this process runs (a publish
    target's, a live display's): a lock it holds at the fork would stay held in the child."""
    if threading.active_count() > 1:
        return here(), there()
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return here(), there()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return here(), there()
    if pid == 0:  # pragma: no cover - the child (its coverage is not collected)
        _child(read_end, write_end, there)
    os.close(write_end)
    done = False
    try:
        mine = here()
        data = _read_all(read_end)
        done = True
    finally:
        os.close(read_end)
        if not done:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by the system (SIGCHLD ignored): the pipe tells
            status = 0  # a whole result unpickles; a cut one runs here
    theirs = _result(data, status)
    return mine, (there() if theirs is None else cast(B, theirs[0]))


def _child(read_end: int, write_end: int, there: Callable[[], B]) -> None:  # pragma: no cover
    """Run ``there`` and send its result; exit without running any of the parent's
    clean-up (its database, its lock, its temporary files are its own)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it quietly
        gc.disable()  # short-lived: no collection touching (so copying) the shared pages
        os.close(read_end)
        data = pickle.dumps((there(),), pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(write_end, view) :]
        code = 0
    finally:
        os._exit(code)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _result(data: bytes, status: int) -> tuple[object] | None:
    """The child's result (in a 1-tuple), or None when it did not finish well."""
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    try:
        result = pickle.loads(data)
    except Exception:  # truncated or unreadable: run it here
        return None
    return result if isinstance(result, tuple) and len(result) == 1 else None
