"""Writing files atomically (a temporary file in the same folder, renamed over the
target), and reaching files below a root with no symlink followed on the way."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK: a FIFO put where a file was opens at once (and is refused) instead of
# waiting for a writer; it changes nothing for a regular file.
_READ = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


def is_leftover(name: str) -> bool:
    """Whether ``name`` is the temporary file of an :func:`atomic_write` cut short (a
    killed run): it never holds a whole file, and no one else names files so."""
    return len(name) == 32 and name.startswith(".nm-") and name.endswith(".tmp")


def atomic_write(target: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``target`` so that readers see the old file or the new one, never
    half of one (a killed run leaves at most a stray ``.nm-*.tmp``). Missing folders are
    made.

    The temporary file is created like any other file (mode 0666 less the umask: 0644
    under the usual umask 022), not with ``mkstemp``'s 0600, so that a web server running
    as another user can read a published site. ``mode`` sets the file's mode exactly,
    whatever the umask (publish targets: 0644)."""
    tmp = target.parent / f".nm-{os.urandom(12).hex()}.tmp"
    try:
        fd = os.open(tmp, _CREATE, 0o666 if mode is None else mode)
    except FileNotFoundError:  # the folder is not there yet
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, _CREATE, 0o666 if mode is None else mode)
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def media_relpath(sha256: str, ext: str) -> str:
    """Where an image lives below a media folder (the archive's or an export's):
    ``<sha256[:2]>/<sha256>.<ext>``."""
    return f"{sha256[:2]}/{sha256}.{ext}"


def open_folder_below(root: Path | str, parts: Iterable[str]) -> int:
    """A descriptor of the folder ``parts`` below ``root``, each part opened without
    following a symlink: OSError (ELOOP, ENOTDIR, ENOENT) when one is a symlink, a file or
    missing, so that a folder swapped for a link never leads outside ``root``."""
    folder = os.open(root, _FOLDER)
    try:
        for name in parts:
            inner = os.open(name, _FOLDER | _NOFOLLOW, dir_fd=folder)
            os.close(folder)
            folder = inner
    except BaseException:
        os.close(folder)
        raise
    return folder


def open_below(root: Path | str, relpath: str) -> int:
    """A read-only descriptor of the regular file ``relpath`` ("/"-separated) below
    ``root``, with no symlink followed on the way or at the end (see
    :func:`open_folder_below`); OSError for anything else there (a FIFO, a device)."""
    *parts, name = relpath.split("/")
    folder = open_folder_below(root, parts)
    try:
        fd = os.open(name, _READ, dir_fd=folder)
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", relpath)
    return fd


def read_below(root: Path | str, relpath: str) -> bytes:
    """The bytes of :func:`open_below`'s file."""
    with os.fdopen(open_below(root, relpath), "rb") as handle:
        return handle.read()
