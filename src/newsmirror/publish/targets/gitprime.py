"""A bulk publish's blobs written by git processes side by side, one per core.

``git add`` hashes and compresses the files it adds in one process, so the first publish
of a site (thousands of files, tens of MB to compress) keeps one core busy and the other
idle after the site is built. :func:`prime` runs one ``git add`` for each share of the
files at once, each with an index of its own (a temporary file in ``.git/``) that is
thrown away: what stays is the blobs they wrote, each share into one pack (git's bulk
check-in, as :func:`.git.add_config` asks). The target's own ``git add`` then finds every
blob already there and only hashes the files, so its result is the same, index and
commit, as without the priming; if a priming process fails, that ``git add`` writes what
is missing itself. Measured on the benchmark's cold site (5,776 files, 72 MB): the add
took 1.26 s alone, 0.65 s for the two shares and 0.14 s after them.

The shares are dealt by :func:`shares`, a plain function.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

PRIME_INDEX = "newsmirror-prime-{}.index"  # in .git/: a priming process's own index


def shares(files: Sequence[tuple[str, int]], count: int) -> list[list[str]]:
    """``files`` (path, size) cut into ``count`` runs of consecutive paths, of about
    equal bytes; no empty share. Runs, not every other file: git walks the whole output
    for each process and skips only the folders no path of its share lies in (shares
    dealt like cards took one process twice as long as the other)."""
    ordered = sorted(files)
    count = max(1, count)
    total = sum(max(size, 1) for _rel, size in ordered)
    parts: list[list[str]] = [[] for _ in range(count)]
    done = 0
    for rel, size in ordered:
        part = min(count - 1, done * count // max(total, 1))
        parts[part].append(rel)
        done += max(size, 1)
    return [part for part in parts if part]


def prime(
    repo: Path,
    output: Path,
    files: Sequence[tuple[str, int]],
    add: Sequence[str],
    env: dict[str, str],
    timeout: float,
) -> bool:
    """Write the blobs of ``files`` (paths in ``output``, with their sizes) into
    ``repo``'s object store, one ``git <add...>`` process per core at once; ``add``: the
    git arguments up to and including ``add``. True when every process succeeded."""
    git_dir = repo / ".git"
    indexes = [git_dir / PRIME_INDEX.format(i) for i in range(2)]
    lists = [index.with_suffix(".paths") for index in indexes]
    for index in indexes:  # a killed run's leftovers: no one else uses them
        index.with_name(index.name + ".lock").unlink(missing_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index, paths, share in zip(indexes, lists, shares(files, cores()), strict=False):
            index.unlink(missing_ok=True)
            # From a file, not a pipe: each process reads its share at once, so none
            # waits for another to be fed.
            paths.write_bytes(b"".join(os.fsencode(rel) + b"\0" for rel in share))
            command = ["git", "-C", str(repo), "--literal-pathspecs", *add, "--force"]
            processes.append(
                subprocess.Popen(
                    [*command, f"--pathspec-from-file={paths}", "--pathspec-file-nul"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={**env, "GIT_INDEX_FILE": str(index)},
                )
            )
        ok = bool(processes)
        for process in processes:
            try:
                ok = process.wait(timeout=timeout) == 0 and ok
            except subprocess.TimeoutExpired:
                ok = False
        return ok
    finally:
        for process in processes:
            if process.poll() is None:  # a timeout, an error or Ctrl-C: no git left running
                process.kill()
                process.wait()
        for leftover in [*indexes, *lists]:
            leftover.unlink(missing_ok=True)


def cores() -> int:
    """How many priming processes: two where this process may run on two CPUs or more
    (more processes would only make more packs)."""
    try:
        return min(2, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return min(2, os.cpu_count() or 1)
