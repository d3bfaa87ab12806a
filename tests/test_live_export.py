"""A first `run` into a Jekyll tree writes each feed's posts while the other feeds are
still fetched (publish/jekyll.py LiveExport, issue 12): the tree it leaves is the one a
plain export writes, links between articles of different feeds included, and a run
killed in the middle leaves no second post for any article."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

from conftest import ARTICLE_TEXT, Reply, rss
from newsmirror.publish.internal_links import LinkMap
from test_cli import nm, snapshot
from test_run import _config

PUBLISH = """
[publish.jekyll]
path = "jekyll"
[publish.site]
path = "public"
search = false
"""
EARLY = [
    {
        "title": f"先到的新闻{i}",
        "link": f"https://early.example.org/news/{i}.html",
        "pubDate": f"Mon, 0{i + 1} Jan 2024 08:00:00 GMT",
        # a link to an article of the late feed, which is stored after this one
        "content": f'<p>{ARTICLE_TEXT}<a href="https://late.example.org/story/{i}">后来的</a></p>',
    }
    for i in range(3)
]
LATE = [
    {
        "title": f"后到的新闻{i}",
        "link": f"https://late.example.org/story/{i}",
        "pubDate": f"Tue, 0{i + 1} Feb 2024 08:00:00 GMT",
        "content": f"<p>{ARTICLE_TEXT}</p>",
    }
    for i in range(3)
]


def _posts(tree: Path) -> list[Path]:
    return sorted((tree / "_posts").glob("*.md"))


def _contents(tree: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in _posts(tree)}


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_posts_are_written_while_other_feeds_are_fetched_and_match_a_plain_export(tmp_path, server):
    tree = tmp_path / "jekyll"
    seen_early_posts: list[bool] = []

    def late(_handler):
        # The early feed's posts are on disk before this feed is even answered.
        seen_early_posts.append(_wait_for(lambda: len(_posts(tree)) >= 3, 20))
        return Reply(body=rss(LATE))

    server.route("/early", Reply(body=rss(EARLY)))
    server.route("/late", late)
    _config(tmp_path, [server.url + "/early", server.url + "/late"], PUBLISH)
    result = nm("run", cwd=tmp_path)
    assert seen_early_posts == [True]  # (the idle run below asks again)
    assert "6 posts: 6 written, 0 unchanged, 0 removed" in result.stderr + result.stdout
    posts = {p.name: p.read_text(encoding="utf-8") for p in _posts(tree)}
    assert len(posts) == 6
    for i in range(3):
        # the link to the article stored later points at its post, the original kept
        text = next(t for name, t in posts.items() if f"先到的新闻{i}" in name)
        page = quote(f"后到的新闻{i}")
        assert f'.html" data-original="https://late.example.org/story/{i}"' in text
        assert f'{page}.html" data-original' in text
    # The same tree as a plain export of the same archive, byte for byte.
    nm("export", "jekyll", tmp_path / "plain", cwd=tmp_path)
    assert _contents(tmp_path / "plain") == _contents(tree)
    # And the next run, with nothing new, leaves it as it is.
    before = snapshot(tree)
    nm("run", cwd=tmp_path)
    assert snapshot(tree) == before


def test_a_run_killed_after_the_first_posts_leaves_one_post_per_article(tmp_path, server):
    tree = tmp_path / "jekyll"
    release = threading.Event()

    def late(_handler):
        release.wait(30)  # held until the run is killed
        return Reply(body=rss(LATE))

    server.route("/early", Reply(body=rss(EARLY)))
    server.route("/late", late)
    _config(tmp_path, [server.url + "/early", server.url + "/late"], PUBLISH)
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsmirror", "run"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for(lambda: len(_posts(tree)) == 3, 30), "no post was written early"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        release.set()
    nm("run", cwd=tmp_path)
    names = [p.name for p in _posts(tree)]
    assert len(names) == 6, names  # no article has a second post under another name
    nm("export", "jekyll", tmp_path / "plain", cwd=tmp_path)
    assert _contents(tmp_path / "plain") == _contents(tree)


def test_trouble_while_writing_early_is_reported_once_at_the_end(tmp_path, server):
    server.route("/early", Reply(body=rss(EARLY)))
    server.route("/late", Reply(body=rss(LATE)))
    _config(tmp_path, [server.url + "/early", server.url + "/late"], PUBLISH)
    (tmp_path / "jekyll").mkdir()
    (tmp_path / "jekyll" / "_posts").write_text("a file where the posts go", encoding="utf-8")
    result = nm("run", "--json", cwd=tmp_path, check=False)
    assert result.returncode == 5, result.stderr  # an output failed; nothing crashed
    assert '"new": 6' in result.stdout  # every article is in the archive
    assert (tmp_path / "public" / "index.html").is_file()  # the other output is written
    assert "_posts" in result.stdout


def test_a_link_map_answers_anew_once_articles_are_added():
    links = LinkMap([("https://a.example.org/1", "one.html")])
    assert links.page_of("https://b.example.org/2") is None
    links.add([("https://b.example.org/2", "two.html")])
    assert links.page_of("https://b.example.org/2") == "two.html"
    assert links.page_of("https://a.example.org/1") == "one.html"
