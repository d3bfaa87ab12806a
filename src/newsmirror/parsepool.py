"""Feed parsing for one run: one thread here, and one worker process on a second core.

Parsing and sanitising a feed holds the GIL almost all the time (lxml, fastfeedparser
and nh3's attribute callback run Python code), so more threads only fight over it.
A :class:`ParsePool` therefore parses in ONE dedicated thread of this process and, on
a machine with at least two usable CPUs, in ONE worker process as well: each body goes
to the side with fewer feeds waiting. The worker is a fresh interpreter (``spawn``: no
copy of the archive's SQLite connection or lock file) that imports only
:mod:`newsmirror.parse`. It costs about 80 ms of CPU to start, so it is started only
when it pays: once the bodies waiting for the thread add up to a quarter of a second
of parsing or more (:func:`worker_on_backlog`), as on a first run of many feeds. A run
with nothing to parse starts no process and imports nothing.

The results are those of :func:`parse.parse_feed` in this process: its errors
(:class:`FeedParseError` and the like) come back with their type, message and hint;
a feed whose worker died, or whose outcome could not cross back, is parsed here, and
the run goes on with the thread only. The worker ends with the pool (:meth:`close`),
and by itself when this process dies, even by SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from newsmirror.errors import NewsmirrorError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from newsmirror.parse import ParsedFeed

# Bytes waiting for the thread that make the worker start: about a quarter of a second of
# parsing here (~30 MB/s), over twice what starting the worker costs (~0.1 s of CPU,
# mostly importing the parser). Below that, the thread alone finishes as soon.
BACKLOG_BYTES = 8 * 1024 * 1024


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_on_backlog(thread_waiting_bytes: int, cpus: int) -> bool:
    """Start the worker: a second CPU, and enough feed bytes piling up for the thread
    that parsing them on two cores pays for the worker's start."""
    return cpus >= 2 and thread_waiting_bytes >= BACKLOG_BYTES


def to_worker(thread_waiting_bytes: int, worker_waiting_bytes: int) -> bool:
    """Send the next body to the worker? Only when less waits there (ties stay here)."""
    return worker_waiting_bytes < thread_waiting_bytes


def parse(body: bytes, options: dict[str, Any]) -> ParsedFeed:
    """:func:`parse.parse_feed`, imported on first use (in the thread, or the worker)."""
    from newsmirror.parse import parse_feed

    return parse_feed(body, **options)


class ParsePool:
    """Parses the feeds of one run; see the module's docstring. Use it as a context
    manager, or call :meth:`close` (``abort=True`` after an error or Ctrl-C)."""

    def __init__(self, cpus: int | None = None) -> None:
        self.cpus = usable_cpus() if cpus is None else cpus
        self._thread: ThreadPoolExecutor | None = None
        self._process: ProcessPoolExecutor | None = None
        self._broken = False  # the worker died: the rest of the run uses the thread only
        self._thread_waiting = 0  # bytes of the bodies waiting for (or in) the thread
        self._worker_waiting = 0  # and for the worker
        self.worker_pid: int | None = None  # known once the worker is up
        self.in_worker = 0  # feeds the worker parsed

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(abort=kind is not None)

    def start_worker(self) -> None:
        """Start the worker process, unless there is one already or no second CPU."""
        if self._process is not None or self._broken or self.cpus < 2:
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        spawn = multiprocessing.get_context("spawn")
        self._process = ProcessPoolExecutor(1, mp_context=spawn, initializer=_worker_init)
        up = self._process.submit(os.getpid)
        up.add_done_callback(self._up)
        # This side imports the parser meanwhile too, rather than when the first body comes.
        self._local().submit(_warm)

    def _up(self, future: Future[int]) -> None:
        if not future.cancelled() and future.exception() is None:
            self.worker_pid = future.result()

    async def parse(self, body: bytes, **options: Any) -> ParsedFeed:
        """Parse one feed body (``options``: :func:`parse.parse_feed`'s keywords)."""
        if self._process is None and worker_on_backlog(self._thread_waiting, self.cpus):
            self.start_worker()
        if (
            self._process is not None
            and not self._broken
            and to_worker(self._thread_waiting, self._worker_waiting)
        ):
            try:
                return await self._in_worker(self._process, body, options)
            except NewsmirrorError:
                raise  # parse_feed's own verdict on the feed, as it would be here
            except Exception as exc:  # the worker died, or an outcome did not cross back:
                from concurrent.futures.process import BrokenProcessPool  # parse it here

                self._broken |= isinstance(exc, BrokenProcessPool)
        return await self._in_thread(body, options)

    async def _in_worker(
        self, pool: ProcessPoolExecutor, body: bytes, options: dict[str, Any]
    ) -> ParsedFeed:
        self._worker_waiting += len(body)
        try:
            parsed = await asyncio.wrap_future(pool.submit(parse, body, options))
            self.in_worker += 1
            return parsed
        finally:
            self._worker_waiting -= len(body)

    def _local(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="newsmirror-parse")
        return self._thread

    async def _in_thread(self, body: bytes, options: dict[str, Any]) -> ParsedFeed:
        self._thread_waiting += len(body)
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._local(), parse, body, options)
        finally:
            self._thread_waiting -= len(body)

    def close(self, *, abort: bool = False) -> None:
        """End the thread and the worker. A feed still in the thread is awaited, unless
        the run is being abandoned (``abort``: an error, Ctrl-C)."""
        if self._thread is not None:
            self._thread.shutdown(wait=not abort, cancel_futures=True)
            self._thread = None
        pool, self._process = self._process, None
        if pool is None:
            return
        # Ended with SIGTERM: it holds nothing (no file, no lock; the pool's queues go with
        # it), and an orderly exit would tear down its interpreter, ~30 ms at the run's end.
        # (``_processes``: Python 3.14 names this ``terminate_workers()``.)
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _warm() -> None:
    import newsmirror.parse  # noqa: F401


def _worker_init() -> None:
    """In the worker: end with the parent (even one killed by SIGKILL), then warm up."""
    import multiprocessing
    import threading

    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    _warm()  # while the first feeds are fetched


def _exit_with(sentinel: int) -> None:
    """Wait until the parent's end of the pipe closes (it has exited), then exit."""
    from multiprocessing.connection import wait

    wait([sentinel])
    os._exit(0)
