"""Start-up cost: what a run with nothing new must not import (issue 12).

An hourly run that finds every feed unchanged is mostly interpreter start-up, so
the heavy parts (feed parsers, sanitiser, extractor, rich's display, httpx's own
command-line client) are imported only when there is work for them.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "httpx._main",  # httpx's CLI: click, rich.syntax, pygments
    "pygments",
    "rich",
    "lxml",
    "nh3",
    "fastfeedparser",
    "feedparser",
    "charset_normalizer",
    "trafilatura",
    "yaml",
    "multiprocessing",
    "newsmirror.parse",
    "newsmirror.fulltext",
)


def _imported(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_an_idle_fetch_imports_nothing_heavy(tmp_path, server):
    from tests.conftest import ARTICLE_TEXT, Reply, rss

    item = {"title": "一", "link": "https://e.org/1", "content": f"<p>{ARTICLE_TEXT}</p>"}
    server.route("/feed", Reply(body=rss([item])))
    config = tmp_path / "newsmirror.toml"
    config.write_text(f'[[sources]]\nname = "源"\nfeeds = ["{server.url}/feed"]\n', "utf-8")
    run = f"""
import sys
from newsmirror.cli import main
sys.argv = ["newsmirror", "-c", {str(config)!r}, "fetch"]
try:
    main()
except SystemExit:
    pass
"""
    first = _imported(run)  # the first stores the item: it parses, but detects nothing
    assert "newsmirror.parse" in first
    parsing = ("lxml", "nh3", "fastfeedparser", "newsmirror.parse")
    assert [m for m in _heavy(first) if not m.startswith(parsing)] == []
    idle = _imported(run)  # the second finds nothing new
    assert _heavy(idle) == []
    # httpcore imports sniffio for every lock it makes: when it is missing, each of those
    # is a failed import that searches all of sys.path again.
    assert "sniffio" in idle


def test_httpx_keeps_its_command_line_client_importable():
    modules = _imported("import newsmirror.fetch\nimport httpx._main")
    assert "httpx._main" in modules
