"""Full-text search of the built site with Pagefind (extended build: Chinese segmentation).

Pagefind writes its index into a scratch folder; the files are then synced into
``OUT/pagefind`` through the site's writer, so an unchanged index keeps its
files' bytes and mtimes like every other page.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from newsmirror.errors import OutputError

if TYPE_CHECKING:
    from newsmirror.publish.site import _Site

FOLDER = "pagefind"


def index_site(site: _Site) -> tuple[float, int]:
    """Index the site's pages; return (seconds, pages indexed)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nm-pagefind-") as scratch:
        output = Path(scratch) / FOLDER
        command = [
            sys.executable,
            "-m",
            "pagefind",
            "--site",
            str(site.writer.root),
            "--output-path",
            str(output),
            "--exclude-selectors",
            "header.site, nav",
            "--force-language",
            "zh",
            "--glob",
            "posts/**/*.html",  # only article pages are results; listings need no parsing
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=1800, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OutputError(
                f"Pagefind could not run: {exc}",
                hint="Install it with: pip install 'pagefind[extended]'",
            ) from exc
        if done.returncode != 0:
            said = (done.stderr.strip() or done.stdout.strip())[-800:]
            raise OutputError(
                f"Pagefind failed (exit {done.returncode}): {said}",
                hint="Build without the search index with --no-search; the pages are written.",
            )
        count = 0
        for line in done.stdout.splitlines():
            if "Indexed" in line and "page" in line:
                digits = "".join(ch for ch in line.split("page")[0] if ch.isdigit())
                count = int(digits or 0)
        for file in sorted(output.rglob("*")):
            if file.is_file():
                relpath = f"{FOLDER}/{file.relative_to(output).as_posix()}"
                site.emit(relpath, file.read_bytes())
    return time.perf_counter() - started, count
