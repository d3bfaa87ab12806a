"""Full-text search of the built site with Pagefind (extended build: Chinese segmentation).

The index is sharded by year (``pagefind/<year>/``): Pagefind holds a whole index in
memory while it builds it (13.5 GB for 30,000 Chinese pages here), so one index per
year keeps large archives indexable, and a build re-indexes only the years whose
article pages changed. The search page merges the shards (Pagefind's mergeIndex).
Pagefind writes each shard into a scratch folder; its files are then synced through
the site's writer, so an unchanged shard keeps its files' bytes and mtimes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from newsmirror.errors import OutputError

if TYPE_CHECKING:
    from newsmirror.publish.site import _Site

FOLDER = "pagefind"
_YEAR = re.compile(r"^posts/(\d{4})/")
_INDEXED = re.compile(r"Indexed (\d+) pages?")


def years_of(paths: list[str]) -> set[str]:
    return {m.group(1) for p in paths if (m := _YEAR.match(p))}


class _Interrupts:
    """SIGTERM and SIGINT as exceptions (SystemExit 143, KeyboardInterrupt), held back
    while a child is being started: a signal that lands inside ``Popen`` would leave the
    new child running with nobody to stop it, so it is raised once the child is known."""

    def __init__(self) -> None:
        self.installed = False
        self.spawning = False
        self.held: list[int] = []

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.spawning:
            self.held.append(signum)
            return
        self.raise_for(signum)

    @staticmethod
    def raise_for(signum: int) -> None:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the cleanup finish
        raise SystemExit(128 + signum)

    def release(self) -> None:
        """Stop holding interrupts; raise the first one held meanwhile."""
        self.spawning = False
        if self.held:
            signum, self.held = self.held[0], []
            self.raise_for(signum)


_INTERRUPTS = _Interrupts()


@contextmanager
def terminate_cleanly() -> Iterator[None]:
    """While inside, SIGTERM ends the run as an exception (SystemExit 143) rather than on
    the spot, so that children are killed and temporary files removed on the way out, as
    on Ctrl-C. Only in the main thread, and only when nobody else handles SIGTERM."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    previous_int = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGTERM, _INTERRUPTS.handle)
    if previous_int is signal.default_int_handler:
        signal.signal(signal.SIGINT, _INTERRUPTS.handle)
    _INTERRUPTS.installed = True
    try:
        yield
    finally:
        _INTERRUPTS.installed = False
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, previous_int)


def _spawn(command: list[str]) -> subprocess.Popen[str]:
    """Start a child in its own session (a Ctrl-C meant for newsmirror does not reach it
    half-way; killing the group leaves nothing behind). Interrupts stay held until the
    caller, inside the ``try`` that kills the child, calls ``_INTERRUPTS.release()``."""
    _INTERRUPTS.spawning = _INTERRUPTS.installed
    try:
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except BaseException:
        _INTERRUPTS.release()
        raise


def _kill(proc: subprocess.Popen[str]) -> None:
    """Kill the child and everything it started, and reap it."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _run_pagefind(site_root: Path, year: str, output: Path) -> int:
    command = [
        sys.executable,
        "-m",
        "pagefind",
        "--site",
        str(site_root),
        "--output-path",
        str(output),
        "--force-language",
        "zh",
        "--exclude-selectors",
        "header.site, nav",
        "--glob",
        f"posts/{year}/**/*.html",
    ]
    try:
        proc = _spawn(command)
    except OSError as exc:
        raise OutputError(
            f"Pagefind could not run: {exc}",
            hint="Install it with: pip install 'pagefind[extended]'",
        ) from exc
    try:
        _INTERRUPTS.release()
        stdout, stderr = proc.communicate(timeout=3600)
    except subprocess.TimeoutExpired as exc:
        _kill(proc)
        raise OutputError(f"Pagefind took too long on {year}: {exc}") from exc
    except BaseException:  # KeyboardInterrupt, SystemExit from SIGTERM: stop the child too
        _kill(proc)
        raise
    if proc.returncode != 0:
        said = (stderr.strip() or stdout.strip())[-800:]
        raise OutputError(
            f"Pagefind failed on {year} (exit {proc.returncode}): {said}",
            hint="Build without the search index with --no-search; the pages are written.",
        )
    found = _INDEXED.search(stdout)
    return int(found.group(1)) if found else 0


def index_site(site: _Site) -> tuple[float, int]:
    """Bring the search shards up to date; return (seconds, pages indexed)."""
    started = time.perf_counter()
    years = years_of(list(site.made))
    changed = years_of(list(site.writer.written)) | years_of(
        [p for p in site.old if p not in site.made]
    )
    indexed = 0
    for year in sorted(years):
        shard = f"{FOLDER}/{year}"
        if year not in changed and any(p.startswith(f"{shard}/") for p in site.old):
            site.keep_folder(shard)
            continue
        with tempfile.TemporaryDirectory(prefix="nm-pagefind-") as scratch:
            output = Path(scratch) / year
            indexed += _run_pagefind(site.writer.root, year, output)
            for file in sorted(output.rglob("*")):
                if file.is_file():
                    site.emit(f"{shard}/{file.relative_to(output).as_posix()}", file.read_bytes())
    site.emit(f"{FOLDER}/shards.json", json.dumps(sorted(years, reverse=True)))
    return time.perf_counter() - started, indexed
