"""The git target's index, built from the output folder itself (no copy of it).

The git target commits the output's files straight from the output folder: git reads
them there (``git --work-tree=<output> add``) and never writes there. The target's own
folder stays a git work tree, but it holds only the files newsmirror did not place (a
``CNAME``, a README, files someone else committed): its *kept* files. The index, and so
each commit, is the output's files and the kept files; where both have a file of the
same path, the output's is committed (the kept one stays in the folder, unpublished),
and a kept file where the output has a folder, or under a path that is a file in the
output, is reported as in the way and not committed.

The decisions are plain functions here; :mod:`.git` runs git.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from newsmirror.publish.targets.folder import list_files, remove_placed

# What `git add` must not take from an output, as sync_tree leaves out: the folder
# target's bookkeeping at the top and a writer's temporary files.
EXCLUDES = (
    ":(exclude,top,literal).newsmirror-files",
    ":(exclude,top,literal).newsmirror-cache.json",
    ":(exclude,glob)**/.nm-*.tmp",
)
# Options for every git command that reads a work tree: no line-ending conversion, and
# neither a file system monitor nor an untracked-file cache (both are tied to one work
# tree; the target reads two).
READ_OPTIONS = (
    "-c",
    "core.autocrlf=false",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
)
NOT_PUBLISHED = ("120000", "160000")  # symlinks and nested repositories in an output
# The last line of the target's .git/info/attributes (which outranks every other
# attributes file): the output's files are committed byte for byte, whatever a
# .gitattributes or the user's global attributes file asks (line endings, clean filters
# such as Git LFS's, ident, re-encoding).
VERBATIM = "* -text -eol -crlf -filter -ident -working-tree-encoding"


def verbatim_attributes(current: str) -> str | None:
    """The text of .git/info/attributes with :data:`VERBATIM` as its last line; None when
    it is already (an idle run writes nothing). The user's own lines stay before it."""
    lines = current.splitlines()
    if lines and lines[-1] == VERBATIM:
        return None
    return "".join(f"{line}\n" for line in [*(x for x in lines if x != VERBATIM), VERBATIM])


TRAILER = "Newsmirror-Kept:"  # in each commit: the files of the tree it did not place


def with_trailer(message: str, kept: list[str]) -> str:
    """The commit message, with the files newsmirror did not place on one line (names
    that are not UTF-8 escaped: git would read their bytes as Latin-1)."""
    listed = json.dumps(kept, ensure_ascii=False)
    if not listed.isascii() and not _is_utf8(listed):
        listed = json.dumps(kept)
    return f"{message.rstrip()}\n\n{TRAILER} {listed}\n"


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def kept_of(message: str) -> list[str] | None:
    """The files a commit's trailer names; None when it has none (not newsmirror's)."""
    for line in reversed(message.splitlines()):
        if line.startswith(TRAILER):
            try:
                kept = json.loads(line[len(TRAILER) :])
            except ValueError:
                return None
            return [k for k in kept if isinstance(k, str)] if isinstance(kept, list) else None
    return None


LOCKS = ("index.lock", "HEAD.lock", "shallow.lock", "packed-refs.lock", "config.lock")


def stale_locks(git_dir: Path, now: float, older_than: float) -> list[Path]:
    """The lock files a killed git left in ``git_dir`` (older than ``older_than`` seconds
    at ``now``): each would make every later publish fail (``index.lock: File exists``)."""
    found = [git_dir / name for name in LOCKS]
    refs = git_dir / "refs"
    if refs.is_dir():
        found += sorted(refs.rglob("*.lock"))
    stale = []
    for path in found:
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and now - info.st_mtime > older_than:
            stale.append(path)
    return stale


def status_entries(porcelain: str) -> list[tuple[str, str]]:
    """(XY, path) of ``git status --porcelain -z --no-renames``."""
    return [(item[:2], item[3:]) for item in porcelain.split("\0") if len(item) > 3]


def scan(root: Path) -> tuple[dict[str, os.stat_result], list[str]]:
    """The regular files below ``root`` (:func:`.folder.list_files`: symlinks not
    followed nor listed, what EXCLUDES names left out), and the folders below it that are
    repositories of their own (a ``.git`` in them): git cannot add their files (it sees
    one entry, or fails when they have no commit), so they are never published and
    their files not listed."""
    nested: list[str] = []
    found = list_files(root, nested)
    return found, sorted(nested)


def output_state(output: Path) -> dict[str, object]:
    """The output's files (size, mtime, inode of each; symlinks, nested repositories and
    what EXCLUDES names left out, as git add leaves them out), to tell without git
    whether it changed."""
    listed, nested = scan(output)
    files = {rel: [i.st_size, i.st_mtime_ns, i.st_ino] for rel, i in listed.items()}
    return {"output": str(output), "files": files, "nested": nested}


def nested_of(state: dict[str, object]) -> list[str]:
    """The nested repositories :func:`output_state` found."""
    nested = state.get("nested")
    return [n for n in nested if isinstance(n, str)] if isinstance(nested, list) else []


def in_nested(rel: str, nested: list[str]) -> bool:
    """Whether ``rel`` (an index entry) is, or lies in, one of the ``nested`` folders."""
    return any(rel == n or rel.startswith(n + "/") for n in nested)


def load_output_state(path: Path) -> dict[str, object]:
    try:
        state = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def changes_since(
    now: dict[str, object], last: dict[str, object]
) -> tuple[int, list[tuple[str, int]]]:
    """What changed in the output since ``last`` (both :func:`output_state`): how many
    files were added, changed or removed (every file, at least 1, when ``last`` is of
    another output or none), and the added or changed ones (path, size), which the next
    ``git add`` must hash."""
    files, before = now.get("files"), last.get("files")
    if not isinstance(files, dict):
        return 1, []
    if now.get("output") != last.get("output") or not isinstance(before, dict):
        return max(1, len(files)), [(rel, int(key[0])) for rel, key in files.items()]
    fresh = [(rel, int(key[0])) for rel, key in files.items() if before.get(rel) != key]
    return len(fresh) + len(before.keys() - files.keys()), fresh


def folder_changes(entries: list[tuple[str, str]], placed: set[str]) -> list[str]:
    """What differs between the target's own folder and the index (``entries``: ``git
    status`` run there). The output's files are not there (`` D``), and a file of the
    same path there is not what is committed: only the kept files count."""
    return [rel for code, rel in entries if not (code[0] == " " and rel in placed)]


def _kind(path: Path) -> str:
    """ "dir", "file" (anything else) or "" (nothing there), symlinks not followed."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return ""
    except NotADirectoryError:
        return ""
    return "dir" if stat.S_ISDIR(mode) else "file"


def kept_files(folder: Path, output: Path) -> tuple[list[str], list[str], list[str]]:
    """The files of the target's folder to commit beside the output (see the module's
    text), one line per file in the output's way, and the files the output has too
    (the output's are committed: the user is told)."""
    kept, errors, shadowed = [], [], []
    for rel in sorted(scan(folder)[0]):
        kind = _kind(output / rel)
        if kind == "file":
            shadowed.append(rel)  # the output's file of that path is committed
            continue
        parts = rel.split("/")
        blocked = next(
            (
                "/".join(parts[:n])
                for n in range(1, len(parts))
                if _kind(output.joinpath(*parts[:n])) == "file"
            ),
            None,
        )
        if kind == "dir":
            errors.append(f"cannot keep {rel}: the output has a folder there")
            continue
        if blocked:
            errors.append(f"cannot keep {rel}: the output has a file {blocked}")
            continue
        kept.append(rel)
    return kept, errors, shadowed


def shadowed_line(shadowed: list[str]) -> str:
    """What a publish says of the user's files that the output's files of the same path
    replace (empty when none)."""
    if not shadowed:
        return ""
    named = ", ".join(shadowed[:3]) + (", …" if len(shadowed) > 3 else "")
    return f"{len(shadowed)} of your files not published, the output has its own: {named}"


def remove_copies(folder: Path, placed: set[str]) -> list[str]:
    """Remove from the target's folder the copies of the output that older versions
    placed there (their folders too, once empty; nothing followed); one line per file
    that could not be removed."""
    errors = []
    for rel in sorted(placed, reverse=True):
        try:
            remove_placed(folder, rel)
        except OSError as exc:
            errors.append(f"cannot remove {rel}: {exc.strerror or exc}")
    return errors


def skip_worktree(ls_files_v: str) -> list[str]:
    """The entries marked skip-worktree, of ``git ls-files -v -z``."""
    return [item[2:] for item in ls_files_v.split("\0") if item[:2] in ("S ", "s ")]


def index_entries(ls_files: str) -> list[tuple[str, str]]:
    """(mode, path) of ``git ls-files --stage -z``."""
    found = []
    for item in ls_files.split("\0"):
        info, tab, rel = item.partition("\t")
        if tab:
            found.append((info.split(" ", 1)[0], rel))
    return found


def diff_counts(name_status: str) -> tuple[int, int, int]:
    """(added, changed, removed) of ``git diff-tree -r -z --no-renames --name-status``."""
    codes = name_status.split("\0")[0::2]
    added = sum(c == "A" for c in codes)
    removed = sum(c == "D" for c in codes)
    changed = sum(c in ("M", "T") for c in codes)
    return added, changed, removed
