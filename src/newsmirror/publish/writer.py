"""The one writer of output files.

It writes only inside its root, never a file whose bytes did not change (so
mtimes and git history stay quiet), never the same file twice in one run, and
each file atomically (a temporary file renamed over the old one). Each folder is
resolved (symlinks followed) once per writer, that is once per run, which holds the
output folder's lock.

Removing never follows a symlink: a file is removed only when every folder on its way
from the root is a real folder (opened with O_NOFOLLOW, one by one), and ``prune`` then
removes the folders those removals left empty, deepest first, never the root itself.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from newsmirror.errors import OutputError
from newsmirror.files import atomic_write, is_leftover, open_folder_below

_NOT_THERE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # missing, a file, or a symlink


def emptied_folders(removed: Iterable[str]) -> list[tuple[str, ...]]:
    """The folders that removing the files ``removed`` (relative paths) may have emptied:
    each one's parents up to (not including) the root, deepest first, each once."""
    folders: set[tuple[str, ...]] = set()
    for relpath in removed:
        parts = PurePosixPath(relpath).parent.parts
        folders.update(parts[:n] for n in range(1, len(parts) + 1))
    return sorted(folders, key=lambda parts: (-len(parts), parts))


class OutputWriter:
    """Writes files below ``root``; refuses any path that would leave it."""

    def __init__(self, root: Path) -> None:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create output folder {root}: {exc}") from exc
        self.root = root.resolve()
        self.written: set[str] = set()
        self._root = str(self.root)
        self._folders: dict[PurePosixPath, Path] = {}  # relative folder -> resolved, inside

    def resolve(self, relpath: str) -> Path:
        """The absolute path of ``relpath``; OutputError if it is not inside the root."""
        pure = _inside(relpath)
        # The folder is resolved, the file name is not: a symlink planted in the output
        # is replaced by the file (a rename replaces the link, never what it points at).
        folder = self._folders.get(pure.parent)
        if folder is None:
            folder = (self.root / pure.parent).resolve()
            if not folder.is_relative_to(self.root):
                raise OutputError(f"refusing to write outside the output folder: {relpath!r}")
            self._folders[pure.parent] = folder
        return folder / pure.name

    def size(self, relpath: str) -> int | None:
        """The size of a file below the root, None if it is not there (a read-only look:
        the path is checked for escapes when it is written, not here). A symlink counts as
        no file, so that the next write replaces it."""
        try:
            info = os.lstat(f"{self._root}/{relpath}")
        except (FileNotFoundError, NotADirectoryError):
            return None
        return None if stat.S_ISLNK(info.st_mode) else info.st_size

    def write(self, relpath: str, data: bytes) -> bool:
        """Write ``data`` unless the file already holds exactly it; True if written."""
        self._not_yet(relpath)
        target = self.resolve(relpath)
        try:
            info = target.lstat()
            if (
                stat.S_ISREG(info.st_mode)
                and info.st_size == len(data)
                and target.read_bytes() == data
            ):
                return False
        except (FileNotFoundError, NotADirectoryError):
            pass
        try:
            atomic_write(target, data)
        except OSError as exc:
            hint = (
                "The disk is full; free space and run again." if exc.errno == errno.ENOSPC else None
            )
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}", hint=hint) from exc
        self.written.add(relpath)
        return True

    def claim(self, relpath: str) -> None:
        """Count as written by this writer a file that another process wrote through an
        OutputWriter of the same root (the search indexer's workers), so that a second
        write of it in this run is refused as usual."""
        self._not_yet(relpath)
        _inside(relpath)
        self.written.add(relpath)

    def _not_yet(self, relpath: str) -> None:
        if relpath in self.written:
            raise OutputError(
                f"{relpath} would be written twice in one run",
                hint="Two outputs claim the same file; this is a bug.",
            )

    def sweep_leftovers(self) -> int:
        """Remove the temporary files a killed run's writes left below the root (never
        through a symlinked folder); how many went."""
        gone = 0
        folders = [self.root]  # a list, not recursion: any depth
        while folders:
            try:
                entries = list(os.scandir(folders.pop()))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))
                elif is_leftover(entry.name) and entry.is_file(follow_symlinks=False):
                    Path(entry.path).unlink(missing_ok=True)
                    gone += 1
        return gone

    def copy_in(self, relpath: str, source: Path) -> None:
        """Copy a content-addressed file in unless it is there already (its name is its
        content's hash, so a file there holds these bytes)."""
        target = self.resolve(relpath)
        if target.exists() and not target.is_symlink():
            return
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise OutputError(f"cannot read {source}: {exc.strerror or exc}") from exc
        self.write(relpath, data)

    def remove(self, relpath: str) -> bool:
        """Remove a file below the root; True if there was one. A path through a symlinked
        folder is not followed: nothing is removed."""
        pure = _inside(relpath)
        folder = self._open_folder(pure.parent.parts, relpath)
        if folder is None:
            return False
        try:
            os.unlink(pure.name, dir_fd=folder)
        except FileNotFoundError:
            return False
        except OSError as exc:
            target = f"{self._root}/{relpath}"
            raise OutputError(f"cannot remove {target}: {exc.strerror or exc}") from exc
        finally:
            os.close(folder)
        return True

    def prune(self, removed: Iterable[str]) -> int:
        """Remove the folders that removing the files ``removed`` left empty (never a
        symlink, nor a folder reached through one, nor one still holding anything, nor
        the root); how many went."""
        gone = 0
        for parts in emptied_folders(str(_inside(relpath)) for relpath in removed):
            parent = self._open_folder(parts[:-1], "/".join(parts))
            if parent is None:
                continue
            try:
                os.rmdir(parts[-1], dir_fd=parent)  # a symlink is not a folder: ENOTDIR
                gone += 1
            except OSError:
                pass  # not empty (or a symlink, or gone): it stays
            finally:
                os.close(parent)
        return gone

    def _open_folder(self, parts: tuple[str, ...], relpath: str) -> int | None:
        """A descriptor of the folder ``parts`` below the root, reached without following
        a symlink; None if one of them is missing, a file or a symlink."""
        try:
            folder = open_folder_below(self._root, parts)
        except OSError as exc:
            if exc.errno in _NOT_THERE:
                return None
            target = f"{self._root}/{relpath}"
            raise OutputError(f"cannot remove {target}: {exc.strerror or exc}") from exc
        return folder


def _inside(relpath: str) -> PurePosixPath:
    """``relpath`` as a path plainly inside the root; OutputError if it is not one."""
    pure = PurePosixPath(relpath)
    if (
        pure.is_absolute()
        or ".." in pure.parts
        or not pure.parts
        or "\\" in relpath
        or "\x00" in relpath
    ):
        raise OutputError(f"refusing to write outside the output folder: {relpath!r}")
    return pure
