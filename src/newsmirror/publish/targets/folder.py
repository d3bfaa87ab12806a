"""The ``folder`` target (a web root, a mounted share).

:func:`sync_tree` makes a destination folder match an output folder:

* a file whose bytes did not change is not touched (its mtime stays); a file is
  compared by its bytes unless both it and its source are exactly as the last sync
  left them (size, mtime and inode, kept in a small cache file);
* a new or changed file is written atomically (a temporary file in the same folder,
  renamed over the old one), mode 0644, its folders 0755, so that a web server
  running as another user can read them. On the output's own file system it is a hard
  link to the output's file (``link``, the default), made the same way: no byte is
  copied (copying a cold site's 5,800 files took 1.7-4.4 s of system time here, linking
  them 0.26 s). Newsmirror never writes into a file in place, but replaces it, so a
  linked file keeps its bytes until the next sync links the new one. A file is copied
  when its mode is not 0644 (its mode would change in the output too) or the folders
  lie on two file systems;
* a file that left the output is removed, but only a file this target placed there:
  the list of placed files (a JSON list) is the target's own state, kept in the
  destination as ``.newsmirror-files`` (or in ``placed_file``). Files of anyone else
  (a ``CNAME``, a web server's own pages) are never deleted; a folder that becomes
  empty after a removal is removed too;
* nothing is read or written outside the destination: symlinks are never followed
  (a symlink standing where the output has a folder or a file is replaced by it;
  a symlink in the output is not published), and ``.git`` is never entered.

A file that cannot be placed (a foreign file where the output needs a folder, a full
disk) is reported and the others are still synced.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsmirror.errors import PublishError
from newsmirror.files import atomic_write, read_below
from newsmirror.publish.targets import TargetConfig, TargetResult

PLACED = ".newsmirror-files"  # in the destination: the files this target placed
CACHE = ".newsmirror-cache.json"  # the folder target's stat cache (git keeps it in .git)
_SKIP_TOP = {PLACED, CACHE}
_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

StatKey = tuple[int, int, int]  # size, mtime_ns, inode


def _key(info: os.stat_result) -> StatKey:
    return (info.st_size, info.st_mtime_ns, info.st_ino)


def skipped(name: str, top: bool) -> bool:
    """Entries of an output that are never published."""
    return (
        name == ".git"
        or (top and name in _SKIP_TOP)
        or (name.startswith(".nm-") and name.endswith(".tmp"))  # a writer's temporary file
    )


def list_files(root: Path, nested: list[str] | None = None) -> dict[str, os.stat_result]:
    """Every regular file below ``root`` (relative POSIX path -> lstat), symlinks not
    followed and not listed. With ``nested``, a folder below ``root`` that holds a
    ``.git`` (a repository of its own) is appended there and its files are not listed."""
    found: dict[str, os.stat_result] = {}
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as listing:
            entries = list(listing)
        if nested is not None and prefix and any(e.name == ".git" for e in entries):
            nested.append(prefix[:-1])
            continue
        for entry in entries:
            if skipped(entry.name, not prefix):
                continue
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append((rel + "/", entry.path))
            elif entry.is_file(follow_symlinks=False):
                found[rel] = entry.stat(follow_symlinks=False)
    return found


def _read(path: Path) -> bytes:
    fd = os.open(path, _READ)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _place(target: Path, data: bytes) -> None:
    """Write ``data`` over ``target`` atomically, mode 0644 whatever the umask."""
    atomic_write(target, data, mode=0o644)


def _load_json(path: Path, kind: type) -> Any:
    try:
        value = json.loads(_read(path))
    except (OSError, ValueError):
        return kind()
    return value if isinstance(value, kind) else kind()


_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def may_link(src: os.stat_result) -> bool:
    """Whether the output's file ``src`` may be published as a hard link: a regular file
    of mode 0644 (the mode every published file has; linking shares it)."""
    return stat.S_ISREG(src.st_mode) and stat.S_IMODE(src.st_mode) == 0o644


@dataclass
class _Sync:
    source: Path
    root: Path
    cache: dict[str, list[list[int]]]
    result: TargetResult = field(default_factory=TargetResult)
    errors: list[str] = field(default_factory=list)
    link: bool = False  # hard links where the file systems allow them
    _dirs: set[str] = field(default_factory=set)

    def folder(self, rel: str) -> Path:
        """The real folder for ``rel``'s parent, made as needed; a symlink in the way is
        replaced by a folder; OSError if a file is in the way."""
        parent = rel.rpartition("/")[0]
        path = self.root
        done = ""
        for part in parent.split("/") if parent else []:
            done = f"{done}/{part}" if done else part
            path = path / part
            if done in self._dirs:
                continue
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                info = None
            if info is not None and stat.S_ISLNK(info.st_mode):
                os.unlink(path)  # removes the link only
                info = None
            if info is None:
                os.mkdir(path, 0o755)
                os.chmod(path, 0o755)
            elif not stat.S_ISDIR(info.st_mode):
                raise OSError(
                    errno.ENOTDIR, f"a file that newsmirror did not place is in the way: {done}"
                )
            self._dirs.add(done)
        return path

    def copy(self, rel: str, src: os.stat_result) -> None:
        target = self.folder(rel) / rel.rpartition("/")[2]
        try:
            now: os.stat_result | None = os.lstat(target)
        except FileNotFoundError:
            now = None
        data: bytes | None = None  # read only to compare or to copy
        if now is not None and stat.S_ISREG(now.st_mode):
            if self.cache.get(rel) == [list(_key(src)), list(_key(now))]:
                return  # both exactly as the last sync left them
            same = (now.st_dev, now.st_ino) == (src.st_dev, src.st_ino)  # a link to it
            if not same:
                data = read_below(self.source, rel)
                same = now.st_size == len(data) and _read(target) == data
            if same:
                self.cache[rel] = [list(_key(src)), list(_key(now))]
                return
        if now is not None and stat.S_ISDIR(now.st_mode):
            os.rmdir(target)  # an empty folder gives way; one with files raises
        if not (self.link and may_link(src) and self._link(rel, src, target)):
            _place(target, data if data is not None else read_below(self.source, rel))
        self.cache[rel] = [list(_key(src)), list(_key(os.lstat(target)))]
        if now is None or stat.S_ISDIR(now.st_mode):
            self.result.added += 1
        else:
            self.result.changed += 1

    def _link(self, rel: str, src: os.stat_result, target: Path) -> bool:
        """Place the output's file ``rel`` (listed as ``src``) at ``target`` as a hard
        link, atomically; False (and no more tries) when the file systems do not allow it.
        OSError when the link is not to the file listed (it, or a folder above it, became
        a symlink since): a symlink or a file outside the output is never published."""
        tmp = target.parent / f".nm-{os.urandom(12).hex()}.tmp"
        try:
            os.link(self.source / rel, tmp, follow_symlinks=False)
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
            self.link = False
            return False
        try:
            linked = os.lstat(tmp)
            if not may_link(linked) or (linked.st_dev, *_key(linked)) != (src.st_dev, *_key(src)):
                raise OSError(errno.ESTALE, f"{rel} changed while it was published")
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return True

    def remove(self, rel: str) -> None:
        """Remove a file this target placed; its folders too once empty. Nothing is
        followed: a parent that is no longer a real folder means the file is gone."""
        parts = rel.split("/")
        path = self.root
        for part in parts[:-1]:
            path = path / part
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    return
            except FileNotFoundError:
                return
        path = path / parts[-1]
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            return  # a folder now stands there: not ours to delete
        os.unlink(path)
        self.cache.pop(rel, None)
        self.result.removed += 1
        for depth in range(len(parts) - 1, 0, -1):
            try:
                os.rmdir(self.root.joinpath(*parts[:depth]))
            except OSError:
                break


def _safe_rel(rel: object) -> bool:
    """Whether a name read from the placed list stays inside the destination."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\x00" in rel:
        return False
    return all(part not in ("", ".", "..", ".git") for part in rel.split("/"))


def read_placed(path: Path) -> set[str]:
    """A list of placed files (unsafe names dropped); empty when missing or broken."""
    return {p for p in _load_json(path, list) if _safe_rel(p)}


def sync_tree(
    source: Path,
    dest: Path,
    *,
    cache_file: Path,
    placed_file: Path | None = None,
    link: bool = False,
) -> tuple[TargetResult, list[str]]:
    """Make ``dest`` match ``source`` (see the module's text; ``link``: hard links where
    possible); the list of placed files is read from and written to ``placed_file``
    (default: ``.newsmirror-files`` in ``dest``). Returns the counts and one line per
    file that could not be synced; OSError when ``dest`` itself is unusable."""
    dest.mkdir(parents=True, exist_ok=True)
    files = list_files(source)
    root = dest.resolve()
    placed_path = placed_file or root / PLACED
    placed_before = read_placed(placed_path)
    raw_cache = _load_json(cache_file, dict)
    sync = _Sync(source, root, {k: v for k, v in raw_cache.items() if k in files}, link=link)
    placed = set(placed_before)
    for rel in sorted(placed_before - files.keys(), reverse=True):
        try:
            sync.remove(rel)
            placed.discard(rel)
        except OSError as exc:
            sync.errors.append(f"cannot remove {rel}: {exc.strerror or exc}")
    for rel in sorted(files):
        try:
            sync.copy(rel, files[rel])
            placed.add(rel)
        except OSError as exc:
            sync.errors.append(f"cannot write {rel}: {exc.strerror or exc}")
    listing = json.dumps(sorted(placed), indent=0).encode("ascii") + b"\n"
    if not placed_path.is_file() or _read(placed_path) != listing:
        _place(placed_path, listing)
    if sync.cache != raw_cache:
        atomic_write(cache_file, json.dumps(sync.cache, separators=(",", ":")).encode("ascii"))
    return sync.result, sync.errors


def failure(name: str, errors: list[str]) -> str:
    """One line for a target whose files did not all sync."""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{name}: {len(errors)} files not synced: {errors[0]}{more}"


def remove_placed(root: Path, rel: str) -> None:
    """Remove the file ``rel`` a target placed below ``root``, and its folders once empty
    (nothing followed; OSError when it cannot be removed)."""
    _Sync(root, root.resolve(), {}).remove(rel)


class FolderTarget:
    """Sync an output to a local folder (``path``)."""

    def __init__(self, config: TargetConfig) -> None:
        self.config = config
        self.path = Path(config.options["path"])
        self.link = bool(config.options.get("link", True))

    def publish(self, folder: Path, *, message: str) -> TargetResult:
        try:
            result, errors = sync_tree(
                folder, self.path, cache_file=self.path / CACHE, link=self.link
            )
        except OSError as exc:
            raise PublishError(
                f"{self.config.name}: cannot sync to {self.path}: {exc.strerror or exc}",
                hint="Check that the folder can be created and written.",
            ) from exc
        if errors:
            raise PublishError(
                failure(self.config.name, errors),
                hint="Move away what stands in the way, or free disk space.",
            )
        return result
