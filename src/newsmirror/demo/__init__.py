"""The demo: the main job on bundled feeds, served on 127.0.0.1, with no internet.

The feeds in ``feeds/`` were made from real posts of the old mirrors by
``scripts/feeds_from_posts.py``; the 大纪元 feed carries the seed article, so
the demo's export contains a post byte-identical to the seed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from newsmirror.config import load_config
from newsmirror.demo.server import serve_folder
from newsmirror.pipeline import update
from newsmirror.publish.jekyll import export_jekyll
from newsmirror.store import Archive

FEEDS = Path(__file__).parent / "feeds"
DEMO_SOURCES = (
    ("大纪元", "epochtimes.xml"),
    ("评论", "oped.xml"),
    ("Matters", "teahouse.xml"),
    ("方斌", "society.xml"),
)


@dataclass(frozen=True)
class DemoResult:
    archive: Path
    posts: Path
    fetch_line: str
    export_line: str
    failed: bool


def write_demo_config(directory: Path, base_url: str) -> Path:
    lines = ["[archive]", 'path = "archive.sqlite"', "", "[fetch]", "retries = 0", ""]
    for name, file in DEMO_SOURCES:
        lines += [
            "[[sources]]",
            f"name = {json.dumps(name, ensure_ascii=False)}",
            f'feeds = ["{base_url}/{file}"]',
            "",
        ]
    path = directory / "newsmirror.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_demo(directory: Path, log: Callable[[str], None] = lambda _line: None) -> DemoResult:
    """Serve the demo feeds, fetch them into ``directory`` and export Jekyll posts."""
    directory.mkdir(parents=True, exist_ok=True)
    with serve_folder(FEEDS) as base_url:
        log(f"serving demo feeds at {base_url}")
        config = load_config(write_demo_config(directory, base_url))
        with Archive.open(config.archive) as archive:
            summary = update(config, archive)
            exported = export_jekyll(archive, directory / "site")
    return DemoResult(
        config.archive,
        directory / "site" / "_posts",
        summary.line(),
        exported.line(),
        summary.any_failed,
    )
