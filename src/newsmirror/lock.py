"""Locks that keep two runs apart: one per archive, one per output folder.

Two ``fetch``, ``build`` or ``export`` runs on one archive or one output folder would
interleave their writes; each such run holds an exclusive lock instead, and a second
run waits a bounded time for it, then stops with :class:`~newsmirror.errors.BusyError`.

The archive's lock is the file ``<archive>.lock`` beside it while a run holds it (it
names the process); an output folder is locked on the folder itself, so nothing extra is written
into a published tree. The locks are advisory ``flock`` locks, released by the system
when a process ends, however it ends: a killed run never leaves a stale lock. On systems
without ``fcntl`` (Windows) runs are not locked.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newsmirror.errors import ArchiveError, BusyError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DEFAULT_WAIT = 60.0  # seconds a run waits for another to finish
_POLL = 0.1


def lock_path(archive: Path) -> Path:
    """The lock file of an archive: ``archive.sqlite.lock`` beside it."""
    return archive.with_name(archive.name + ".lock")


def _acquire(fd: int, deadline: float) -> bool:
    """Take an exclusive flock on ``fd``, polling until ``deadline`` (monotonic)."""
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f" (held by {text})" if text else ""


@contextmanager
def archive_lock(archive: Path, *, wait: float = DEFAULT_WAIT) -> Iterator[None]:
    """Hold the archive's lock for the block; BusyError after ``wait`` seconds.

    The lock file is removed when the block ends, so a run leaves nothing behind; a
    waiting run that finds its file removed (or replaced) under it starts again.
    """
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    path = lock_path(archive)
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        fd = _open_lock_file(path)
        if not _acquire(fd, deadline):
            holder = _holder(fd)
            os.close(fd)
            raise BusyError(
                f"the archive {archive} is in use by another newsmirror run{holder};"
                f" gave up after {wait:g} s"
            )
        if _same_file(fd, path):
            break
        os.close(fd)
    try:
        os.pwrite(fd, f"pid {os.getpid()}: {_command()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)  # releases the lock


def _open_lock_file(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ArchiveError(
            f"cannot create the lock file {path}: {exc.strerror or exc}",
            hint="The archive's folder must be writable.",
        ) from exc


@contextmanager
def folder_lock(folder: Path, *, wait: float = DEFAULT_WAIT) -> Iterator[None]:
    """Hold a lock on an existing output folder itself (nothing is written into it)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if not _acquire(fd, time.monotonic() + max(0.0, wait)):
            raise BusyError(
                f"the output folder {folder} is in use by another newsmirror run;"
                f" gave up after {wait:g} s"
            )
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _command() -> str:
    return " ".join(["newsmirror", *sys.argv[1:]])[:150]
