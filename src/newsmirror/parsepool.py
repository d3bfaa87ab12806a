"""Feed parsing for one run: in forked worker processes, one per CPU (up to two).

Parsing and sanitising a feed holds the GIL almost all the time (lxml, fastfeedparser
and nh3's attribute callback run Python code), so a parsing thread fights the event
loop, which fetches and stores, over it. On Linux with at least two usable CPUs a
:class:`ParsePool` therefore parses in :data:`MAX_WORKERS` worker processes at most, each
body going to the worker with the fewest bytes waiting; elsewhere, and when every
worker has died, in ONE dedicated thread of this process.

The workers are made with ``fork()``: before the fetching starts when the run will
surely parse (two new feeds or more: :func:`expect_parsing`), else when the first feed
needs parsing; always before any thread of the pool starts (so no thread of this process
is inside lxml or nh3 at that moment). The first worker imports the parser (while this
process fetches, on an early start) and forks the others, which inherit it: each costs a
few milliseconds rather than the 0.1 s a fresh interpreter spends importing the parser,
and they pay even on a run of twenty feeds.

Straight after the fork a worker closes every file it inherited but its two pipes: it
holds neither the archive's lock nor its database, nor any connection. It reads each body
from one pipe and writes back what :func:`parse.parse_feed` gave (the entries, or the
error with its type, message and hint) on the other; it ends when the pool closes its
pipe, or when this process dies, even by SIGKILL (the pipe closes with it). A run with
nothing to parse forks nothing.

A feed whose worker died is parsed by another worker or the thread; one whose outcome
could not cross back, by the thread. The pool waits for its first worker at its end, which
waits for the others, so that their CPU time is counted as the run's (``time``, ``wait4``)
and no zombie is left.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from newsmirror.errors import NewsmirrorError
from newsmirror.models import FeedState

if TYPE_CHECKING:
    from newsmirror.models import ParsedFeed  # (also what a worker's answer unpickles to)

_HEADER = 8  # bytes: the length of the pickle that follows


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


MAX_WORKERS = 2  # workers at most, however many CPUs (each holds a copy of the parser)


def worker_count(cpus: int, platform: str = sys.platform) -> int:
    """Workers to fork: one per usable CPU up to MAX_WORKERS, when there are two CPUs or
    more, on a system whose libraries are safe to use in a forked child without exec
    (Linux; macOS's are not). None: the thread parses alone."""
    if cpus < 2 or not platform.startswith("linux"):
        return 0
    return min(cpus, MAX_WORKERS)


def expect_parsing(states: Iterable[FeedState]) -> bool:
    """Whether a run will surely parse (so the workers may start before the first body
    comes): two feeds or more that were never fetched (no ETag, date or digest kept)."""
    return sum(1 for state in states if state == FeedState()) >= 2


def pick(waiting: list[int]) -> int:
    """The worker to send the next body to: the one with the fewest bytes waiting (the
    first of those)."""
    return min(range(len(waiting)), key=waiting.__getitem__)


def parse(body: bytes, options: dict[str, Any]) -> ParsedFeed:
    """:func:`parse.parse_feed`, imported on first use."""
    from newsmirror.parse import parse_feed

    return parse_feed(body, **options)


class WorkerGone(Exception):
    """The worker died, or its answer could not be read: parse the feed elsewhere."""


class NotCrossed(Exception):
    """The worker's outcome could not come back (a bug, or one that cannot be pickled):
    parse the feed here, where the outcome shows as it is. The worker goes on."""


class ParsePool:
    """Parses the feeds of one run; see the module's docstring. Use it as a context
    manager, or call :meth:`close` (``abort=True`` after an error or Ctrl-C)."""

    def __init__(self, cpus: int | None = None) -> None:
        self.cpus = usable_cpus() if cpus is None else cpus
        self._thread: ThreadPoolExecutor | None = None
        self._forked: list[Worker] = []
        self._workers: list[Worker] = []  # the live ones
        self._tried = False  # the workers were forked (or could not be): never again
        self.in_worker = 0  # feeds the workers parsed

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(abort=kind is not None)

    def start_workers(self, *, early: bool = False) -> None:
        """Fork the workers, unless that was tried already, the parsing thread runs (it
        could be inside lxml, holding its locks), or :func:`worker_count` says none.

        ``early``: before the fetching starts (:func:`expect_parsing`); the first worker
        then imports the parser, on another core while this process fetches, and forks the
        others. Else it is imported here first (it may be used here too), and the workers
        inherit it."""
        count = worker_count(self.cpus)
        if self._tried or self._thread is not None or not count:
            return
        self._tried = True
        if not early:
            import newsmirror.parse  # noqa: F401
        try:
            self._forked = fork_workers(count)
        except OSError:  # no memory or no process left: the thread
            return
        self._workers = list(self._forked)

    @property
    def worker_pids(self) -> list[int]:
        """The workers' process ids (waiting, if need be, until each has said it)."""
        return [pid for w in self._forked if (pid := w.pid)]

    async def parse(self, body: bytes, **options: Any) -> ParsedFeed:
        """Parse one feed body (``options``: :func:`parse.parse_feed`'s keywords)."""
        self.start_workers()
        while self._workers:
            worker = self._workers[pick([w.waiting for w in self._workers])]
            try:
                parsed = await worker.parse(body, options)
            except WorkerGone:
                if worker in self._workers:
                    self._workers.remove(worker)  # the rest of the run does without it
                continue
            except NotCrossed:
                break
            self.in_worker += 1
            return parsed
        return await self._in_thread(body, options)

    async def _in_thread(self, body: bytes, options: dict[str, Any]) -> ParsedFeed:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="newsmirror-parse")
        import asyncio

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, parse, body, options)

    def close(self, *, abort: bool = False) -> None:
        """End the thread and the workers. A feed still being parsed is awaited, unless the
        run is being abandoned (``abort``: an error, Ctrl-C): then the workers are killed."""
        forked, self._forked, self._workers = self._forked, [], []
        for worker in forked:
            worker.stop(kill=abort)
        for worker in forked:
            worker.close()
        if self._thread is not None:
            self._thread.shutdown(wait=not abort, cancel_futures=True)
            self._thread = None


def fork_workers(count: int) -> list[Worker]:
    """Fork ``count`` workers: the first one here, and the others from it once it has
    imported the parser, so that they inherit it. (Call with no thread of this process
    inside lxml or nh3.) The first waits for the others before it exits, so that their
    CPU time is counted with its own."""
    import gc

    pairs = [(os.pipe(), os.pipe()) for _ in range(count)]  # (requests, answers)
    frozen = gc.get_freeze_count() > 0  # by the run (pipeline.fewer_collections)
    gc.freeze()  # the workers' collections leave the inherited objects (and pages) alone
    try:
        pid = os.fork()
    except OSError:
        if not frozen:
            gc.unfreeze()
        for fd in (fd for pair in pairs for pipe in pair for fd in pipe):
            os.close(fd)
        raise
    if pid == 0:  # pragma: no cover - the child (its coverage is not collected)
        try:
            _first_child([(requests[0], answers[1]) for requests, answers in pairs])
        finally:
            os._exit(0)
    if not frozen:
        gc.unfreeze()
    workers = []
    for n, (requests, answers) in enumerate(pairs):
        os.close(requests[0])
        os.close(answers[1])
        workers.append(Worker(pid if n == 0 else None, requests[1], answers[0]))
    return workers


class Worker:
    """A worker's end in this process: two pipes, and the worker's pid (said by the worker
    itself when it was forked by another worker)."""

    def __init__(self, pid: int | None, requests: int, answers: int) -> None:
        self._child = pid  # a child of this process, to wait for (else the first worker's)
        self._pid: int | None = None  # said by the worker when it starts (0: it did not)
        self._requests = requests  # written here
        self._answers = answers  # read here
        # The thread that talks to it, one body at a time (started with the first body:
        # no thread of the pool runs while the workers are forked).
        self._courier = ThreadPoolExecutor(1, thread_name_prefix="newsmirror-courier")
        self.waiting = 0  # bytes of the bodies sent or queued to it

    @property
    def pid(self) -> int | None:
        """Its process id; None if it never started."""
        if self._pid is None:
            try:
                self._pid = int(pickle.loads(_receive(self._answers)))
            except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError):
                self._pid = 0
        return self._pid or None

    async def parse(self, body: bytes, options: dict[str, Any]) -> ParsedFeed:
        """Parse one body in the worker: see :meth:`call`."""
        self.waiting += len(body)
        import asyncio

        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._courier, self.call, body, options)
        finally:
            self.waiting -= len(body)

    def call(self, body: bytes, options: dict[str, Any]) -> ParsedFeed:
        """Parse one body in the worker (from one thread at a time): the ParsedFeed, the
        NewsmirrorError parse_feed raised, WorkerGone or NotCrossed."""
        if self.pid is None:
            raise WorkerGone("the worker did not start")
        try:
            _send(self._requests, pickle.dumps((body, options), pickle.HIGHEST_PROTOCOL))
            kind, value = pickle.loads(_receive(self._answers))
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
            raise WorkerGone(str(exc)) from exc
        if kind == "ok":
            return value  # type: ignore[no-any-return]
        if kind == "error":
            raise value
        raise NotCrossed(value)

    def stop(self, *, kill: bool = False) -> None:
        """Tell the worker to end once it has answered what it was given (it exits when it
        reads the end of its pipe), or end it at once (``kill``)."""
        pid = self._pid or self._child
        if kill and pid:
            with contextlib.suppress(ProcessLookupError):  # it ended already
                os.kill(pid, signal.SIGKILL)
        self._courier.shutdown(wait=True, cancel_futures=True)  # killed: it gets EOF at once
        if self._requests >= 0:
            os.close(self._requests)
            self._requests = -1

    def close(self) -> None:
        """After :meth:`stop`: wait for the worker if it is this process's child (the first
        waits for the others), then close the other pipe."""
        if self._child is not None:
            with contextlib.suppress(ChildProcessError):  # reaped by someone else
                os.waitpid(self._child, 0)
            self._child = None
        if self._answers >= 0:
            os.close(self._answers)
            self._answers = -1


def _send(fd: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(_HEADER, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> bytes:
    size = int.from_bytes(_read_exactly(fd, _HEADER), "big")
    return _read_exactly(fd, size)


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the worker's pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _keep_only(fds: list[int]) -> None:
    """Close every inherited file but stdin, stdout, stderr and ``fds``."""
    low = 3
    for fd in sorted(fds):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _first_child(ends: list[tuple[int, int]]) -> None:  # pragma: no cover - in the child
    """The first worker: import the parser, fork the others, serve, wait for them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it quietly, as the parent
    _keep_only([fd for pair in ends for fd in pair])
    import newsmirror.parse  # (at once: inherited, or while the parent fetches)

    with contextlib.suppress(Exception):  # before the first body comes, for all workers
        newsmirror.parse.warm_up()

    others = []
    for requests, answers in ends[1:]:
        try:
            pid = os.fork()
        except OSError:  # that worker's pipes close below: the parent does without it
            break
        if pid == 0:
            try:
                _keep_only([requests, answers])
                _serve(requests, answers)
            finally:
                os._exit(0)
        others.append(pid)
    for requests, answers in ends[1:]:
        os.close(requests)
        os.close(answers)
    _serve(*ends[0])
    for pid in others:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _serve(requests: int, answers: int) -> None:  # pragma: no cover - runs in a worker
    """Say this worker's pid, then answer each body until the end of the pipe."""
    _send(answers, pickle.dumps(os.getpid()))
    while True:
        try:
            body, options = pickle.loads(_receive(requests))
        except EOFError:
            return  # the pool closed, or the parent died
        try:
            outcome: tuple[str, Any] = ("ok", parse(body, options))
        except NewsmirrorError as exc:
            outcome = ("error", exc)
        except Exception as exc:  # a bug: parsed again in the parent, which reports it
            outcome = ("gone", f"{type(exc).__name__}: {exc}")
        try:
            data = pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            data = pickle.dumps(("gone", f"cannot send the outcome back: {exc}"))
        _send(answers, data)
