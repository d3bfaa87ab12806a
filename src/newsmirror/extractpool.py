"""Worker processes that extract article pages, each page within a limit of real time.

A page made to be slow (patterns that lxml or trafilatura take quadratic time over, that
the tag cap of :mod:`newsmirror.clean` does not know) must fail alone and not hold a run:
``run --max-minutes`` only stops pages from starting. Every page is extracted in a worker
process, never in this one, so that two limits hold:

- In the worker, :func:`~newsmirror.timelimit.within` stops the call at ``limit`` seconds
  between two Python steps, and the worker goes on with the next page.
- Here, a page that has not come back :data:`KILL_AFTER` seconds after that (a single C
  call of lxml that the timer cannot interrupt) has its workers killed; the pool is
  replaced, the pages it was running at the same time are extracted again in the new one,
  and the page fails with the same reason (this counts against no limit of new pools:
  only the page fails for it). No thread or process is left working on it: a page still
  running when the run stops (an error, Ctrl-C) has its worker killed too, and a worker
  ends by itself once the run's process has ended (killed with SIGKILL, say).

A page's time starts when it starts: at most one page a worker is handed to the pool.

The workers are forked by multiprocessing's fork server, which imports the extraction
code once (trafilatura's import takes about a second), not by the process that runs the
fetches (a fork of a process with threads and open connections is not safe); where the
fork server cannot start (its socket's path too long under a long TMPDIR), they are
spawned, each importing the code itself. A worker
that dies (killed by the kernel for memory, or by hand) breaks the whole pool, and every
page in it with it: the first page to see that replaces the pool, and each page it broke
is extracted once more in the new one. A page that breaks the new pool too is the likely
cause, and fails alone; after :data:`POOL_REBUILDS` new pools the run's remaining pages
fail (they stay marked for the next run).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

from newsmirror.errors import ExtractionError
from newsmirror.timelimit import overtime_error, within

if TYPE_CHECKING:
    from newsmirror.extract import Extracted

T = TypeVar("T")
POOL_REBUILDS = 3  # new extraction pools in one run after workers died, at most
KILL_AFTER = 5.0  # seconds past a page's limit before its worker is killed
PRELOAD = ["newsmirror.extractpool", "newsmirror.decode", "newsmirror.extract"]
WATCH_SECONDS = 0.5  # how often a worker looks whether the run's process is still there


def extract_page(
    body: bytes,
    content_type: str,
    url: str,
    selector: str = "",
    remove: Sequence[str] = (),
    iframe_hosts: Sequence[str] = (),
    metadata: bool = False,
    summary: str = "",
) -> Extracted:
    """Decode and extract one page (in a worker); ``summary`` is the feed's text of the
    item, to tell an extraction that missed the article. trafilatura is imported here,
    by the processes that extract, not by every run."""
    from newsmirror.decode import decode_html, page_refusal
    from newsmirror.extract import extract_article

    refusal = page_refusal(body, content_type)
    if refusal is not None:
        raise ExtractionError(refusal, hint="Give the address of the article's web page.")
    text, _codec = decode_html(body, content_type)
    return extract_article(
        text,
        url,
        selector=selector or None,
        remove=remove,
        metadata=metadata,
        iframe_hosts=iframe_hosts,
        summary=summary,
    )


def warm_up(parent: int) -> None:
    """A new worker: Ctrl-C is the run's to handle (it stops the workers), the worker
    ends when the run's process ``parent`` has ended (killed, or stopped without closing
    the pool: the fork server and the resource tracker then end too), and the extraction
    code is imported before the first page (the fork server has done it already, unless
    its preload failed), so that no page's limit counts it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch = threading.Thread(target=_end_with, args=(parent,), name="nm-parent", daemon=True)
    watch.start()
    import newsmirror.decode
    import newsmirror.extract  # noqa: F401


def _end_with(parent: int) -> None:
    while _alive(parent):
        time.sleep(WATCH_SECONDS)
    os._exit(1)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not: it has ended, unreaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc here
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's worker processes: the pool breaks, and each page it was running
    gets BrokenProcessPool.

    A worker killed while it was sending a result leaves half a message in the pool's
    result pipe, and the pool's manager thread would wait for the rest for ever: its
    pages never heard of the broken pool (a page beside a stuck one failed as over its
    own limit), and the interpreter waited for that thread at exit (the run never
    ended). Once the workers are dead this process holds the pipe's only end for
    writing: closing it ends that wait (EOF once the killed workers are gone: the pool
    is broken)."""
    kill = getattr(pool, "kill_workers", None)  # Python 3.14
    if kill is not None:
        kill()
    else:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                process.kill()
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    with contextlib.suppress(OSError, AttributeError):
        writer.close()  # type: ignore[union-attr]


class _CannotStart(Exception):
    """The pool could not start a worker (OSError from multiprocessing)."""


class ExtractionPool:
    """``await pool(limit, fn, *args)``: ``fn(*args)`` in a worker, stopped after ``limit``
    seconds (see the module). ``count`` is how many pages there are at most (no more
    workers than that, nor than this machine's CPUs). Close it with :meth:`close`, or use
    it as a context manager: a page still running then has its worker killed."""

    def __init__(self, count: int) -> None:
        self.workers = max(1, min(count, multiprocessing.cpu_count() or 1))
        self.rebuilt = 0  # new pools after workers died (not after a page was stopped)
        self.method = "forkserver"  # "spawn" where a fork server cannot start
        self._pool: ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None
        self._starting: asyncio.Future[Any] | None = None
        self._running = 0
        self._stopped: set[ProcessPoolExecutor] = set()  # pools killed on purpose

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _current(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context(self.method)
            if self.method == "forkserver":
                context.set_forkserver_preload(PRELOAD)  # (read when the server starts)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=warm_up, initargs=(os.getpid(),)
            )
        return self._pool

    def start(self) -> None:
        """Start a worker now, in the background, so that the first page does not wait for
        the fork server to start and import the extraction code (a second or so)."""
        if self._starting is None:
            pool = self._current()
            self._starting = asyncio.ensure_future(asyncio.to_thread(pool.submit, int))
            # A pool broken meanwhile, or one that cannot start, is the first page's to report.
            self._starting.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def __call__(self, limit: float, fn: Callable[..., T], *args: Any) -> T:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        async with self._slots:
            died = 0
            while died < 2:
                pool = self._current()
                try:
                    return await self._one(pool, limit, fn, *args)
                except BrokenProcessPool:
                    if pool in self._stopped:  # killed for another page's time: again
                        continue
                    died += 1
                    self._replace(pool)
                except _CannotStart as exc:
                    if self.method != "forkserver":
                        raise ExtractionError(
                            f"cannot start the extraction workers: {exc.__cause__}"
                        ) from None
                    self.method = "spawn"  # (a socket path too long under TMPDIR, say)
                    self._discard(pool)
        raise ExtractionError(
            "the extraction worker died twice while it read this page (out of memory, or killed)"
        )

    async def _one(
        self, pool: ProcessPoolExecutor, limit: float, fn: Callable[..., T], *args: Any
    ) -> T:
        # Handed over from a thread: the first page waits there, not in the event loop,
        # while the fork server starts and imports the extraction code.
        try:
            handed = await asyncio.to_thread(pool.submit, within, limit, fn, *args)
        except OSError as exc:
            raise _CannotStart from exc
        running = asyncio.wrap_future(handed)
        self._running += 1
        try:
            done, _ = await asyncio.wait({running}, timeout=limit + KILL_AFTER)
        except asyncio.CancelledError:  # the run stops: no worker goes on with the page
            running.cancel()
            self._discard(pool)
            raise
        finally:
            self._running -= 1
        if not done:  # the worker's own timer could not stop it (a C call)
            running.cancel()
            self._discard(pool)  # (not counted: only this page fails for it)
            raise overtime_error(limit)
        return running.result()

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Kill ``pool``'s workers and leave it; the next page starts a new one, and a page
        that was running beside it is extracted again (its worker did not die for it)."""
        self._stopped.add(pool)
        _kill_workers(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        if self._pool is pool:
            self._pool = None

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Leave ``broken`` for a new pool at the next page, unless another page replaced
        it already. After :data:`POOL_REBUILDS` new pools, ``broken`` stays: the run's
        remaining pages fail at once."""
        if self._pool is not broken:
            return
        if self.rebuilt >= POOL_REBUILDS:
            raise ExtractionError(
                f"the extraction workers died {self.rebuilt + 1} times in this run"
                " (out of memory, or killed); the remaining pages wait for the next run"
            )
        broken.shutdown(wait=False, cancel_futures=True)
        self.rebuilt += 1
        self._pool = None

    def close(self) -> None:
        """End the workers: at once when a page is still running (the run stops)."""
        if self._pool is not None:
            if self._running:
                _kill_workers(self._pool)
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
