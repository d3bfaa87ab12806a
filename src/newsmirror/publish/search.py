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
import re
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
_YEAR = re.compile(r"^posts/(\d{4})/")
_INDEXED = re.compile(r"Indexed (\d+) pages?")


def years_of(paths: list[str]) -> set[str]:
    return {m.group(1) for p in paths if (m := _YEAR.match(p))}


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
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OutputError(
            f"Pagefind could not run: {exc}",
            hint="Install it with: pip install 'pagefind[extended]'",
        ) from exc
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip())[-800:]
        raise OutputError(
            f"Pagefind failed on {year} (exit {done.returncode}): {said}",
            hint="Build without the search index with --no-search; the pages are written.",
        )
    found = _INDEXED.search(done.stdout)
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
