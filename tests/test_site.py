"""The static site: valid pages, no broken links, feeds that parse, incremental builds."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import html5lib
import pytest

from conftest import SEED
from newsmirror.demo import run_demo
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.store import Archive

LINK = re.compile(r'\s(?:href|src)="([^"]+)"')


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    run_demo(folder)
    site = folder / "public"
    with Archive.open(folder / "archive.sqlite") as archive:
        first = build_site(archive, site, SiteOptions(base_url="https://mirror.example/"))
    return folder, site, first


def html_files(site: Path) -> list[Path]:
    return [p for p in site.rglob("*.html") if "pagefind" not in p.parts]


def test_every_page_is_valid_html(demo):
    _, site, _ = demo
    parser = html5lib.HTMLParser(strict=True)
    for page in html_files(site):
        parser.parse(page.read_bytes())  # raises on any parse error


def test_no_broken_internal_link(demo):
    _, site, _ = demo
    checked = 0
    for page in html_files(site):
        for link in LINK.findall(page.read_text(encoding="utf-8")):
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("#", "mailto:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.exists(), f"{page.relative_to(site)} -> {link}"
            assert site.resolve() in target.parents or target == site.resolve()
            checked += 1
    assert checked > 500


def test_feeds_parse(demo):
    _, site, _ = demo
    feeds = list(site.rglob("feed.xml")) + list(site.rglob("rss.xml"))
    assert len(feeds) >= 10
    for feed in feeds:
        parsed = feedparser.parse(feed.read_bytes())
        assert not parsed.bozo, (feed, parsed.get("bozo_exception"))
        assert parsed.entries, feed
    top = feedparser.parse((site / "feed.xml").read_bytes())
    assert any("拜登" in (e.get("content") or [{}])[0].get("value", "") for e in top.entries)


def test_cjk_names_work_on_disk_and_in_links(demo):
    _, site, _ = demo
    assert (site / "sources" / "大纪元" / "index.html").is_file()
    assert (site / "tags" / "中美关系" / "index.html").is_file()
    assert (site / "tags" / "中美关系" / "feed.xml").is_file()
    tag_page = (site / "tags" / "社会" / "index.html").read_text(encoding="utf-8")
    assert tag_page.count("<li>") == 11  # two sources carry the tag: 8 + 3 articles
    index = (site / "sources" / "index.html").read_text(encoding="utf-8")
    assert 'href="../sources/%E5%A4%A7%E7%BA%AA%E5%85%83/index.html"' in index


def test_seed_article_page_shows_full_content_and_local_time(demo):
    _, site, _ = demo
    seed_body = SEED.read_text(encoding="utf-8").split("<div>\n", 1)[1].rsplit("\n</div>")[0]
    pages = [p for p in (site / "posts" / "2023" / "10").glob("*.html")]
    [page] = [p for p in pages if "拜登习近平11月会谈" in p.read_text(encoding="utf-8")]
    text = page.read_text(encoding="utf-8")
    assert seed_body in text
    assert "2023-10-29 11:36 CST" in text and "原文" in text
    assert "https://www.epochtimes.com/gb/23/10/29/n14105166.htm" in text


def test_pages_load_nothing_from_other_hosts(demo):
    _, site, _ = demo
    for page in html_files(site):
        html = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html):
            src = re.search(r'\s(?:src|href)="([^"]+)"', tag)
            if src and 'rel="alternate"' not in tag:
                url = src.group(1)
                assert (
                    not url.startswith(("http://", "https://", "//")) or "youtube.com/embed/" in url
                ), (page, tag)


def test_local_images_and_search_index(demo):
    _, site, first = demo
    assert list((site / "media").rglob("*.png"))
    assert (site / "pagefind" / "2023" / "pagefind.js").is_file()
    assert "2023" in (site / "pagefind" / "shards.json").read_text()
    assert first.search_pages >= 28
    search = (site / "search.html").read_text(encoding="utf-8")
    assert "newsmirror serve" in search  # what a reader sees when opened from file://


def test_sitemap_and_robots(demo):
    _, site, _ = demo
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    assert sitemap.count("<loc>https://mirror.example/") > 50
    assert "Sitemap: https://mirror.example/sitemap.xml" in (site / "robots.txt").read_text()
    assert (site / "404.html").is_file()


def test_incremental_build_touches_only_what_changed(demo, tmp_path):
    folder, site, _ = demo
    mtimes = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
    with Archive.open(folder / "archive.sqlite") as archive:
        again = build_site(archive, site, SiteOptions(base_url="https://mirror.example/"))
    assert again.written == 0 and again.removed == 0 and again.rendered_articles == 0
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()} == mtimes
    # One new article: its page, its neighbours, listings and feeds change; old pages don't.
    with Archive.open(folder / "archive.sqlite") as archive:
        from datetime import UTC, datetime

        from newsmirror.models import Entry, FeedState

        archive.ensure_source("大纪元")
        now = datetime.now(UTC)
        entry = Entry(
            "https://www.epochtimes.com/gb/new.htm",
            "",
            "新文章标题",
            "记者",
            "<p>新文章的内容。</p>",
            now,
            "",
        )
        archive.store_entries(
            "大纪元", "https://x/feed", [entry], state=FeedState(), started=now, now=now
        )
        third = build_site(archive, site, SiteOptions(base_url="https://mirror.example/"))
    assert third.rendered_articles <= 4  # the new one and its newer/older neighbours
    changed = [p for p, m in mtimes.items() if p.exists() and p.stat().st_mtime_ns != m]
    old_posts = [p for p in changed if "posts" in p.parts]
    assert len(old_posts) <= 3
    assert len([p for p in site.rglob("*.html") if "posts" in p.parts]) == 29


def test_pagination_is_stable_when_articles_are_added():
    from newsmirror.publish.pages import Entry, paginate

    def entries(n):
        return [
            Entry(i, f"posts/{i}.html", f"t{i}", "s", "u", "2024", "x", "m", ())
            for i in reversed(range(n))
        ]  # newest first

    before = {path: [e.id for e in chunk] for path, chunk, _ in paginate("", entries(230), 50)}
    after = {path: [e.id for e in chunk] for path, chunk, _ in paginate("", entries(245), 50)}
    assert before["page/1.html"] == list(reversed(range(50)))  # the oldest, forever
    changed = [p for p in after if before.get(p) != after[p]]
    assert changed == ["index.html"]  # only the front page
    assert after["index.html"] == list(reversed(range(195, 245)))
    grown = {path: [e.id for e in chunk] for path, chunk, _ in paginate("", entries(260), 50)}
    assert [p for p in grown if before.get(p) != grown[p]] == ["index.html", "page/5.html"]


def test_serve_command_serves_the_site(demo):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    _, site, _ = demo
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsmirror", "serve", str(site), "-p", str(port)],
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/sources/%E5%A4%A7%E7%BA%AA%E5%85%83/index.html"
                ) as r:
                    assert "大纪元" in r.read().decode("utf-8")
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("newsmirror serve did not answer")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
