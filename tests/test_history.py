"""What changed at the origin, on the site: revision pages with a CJK-aware diff, the
edits listing and feed, and articles taken down (404/410) with their listing, feed and
count in ``newsmirror sources``. Real local servers, real archives, a real build."""

from __future__ import annotations

import html
import re
import sqlite3

import feedparser
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    Reply,
    article_page,
    local_only_context,
    make_config,
    rss,
)
from newsmirror.cli import cli
from newsmirror.fulltext import refetch
from newsmirror.pipeline import update
from newsmirror.publish.history import diff, text_of, tokens
from newsmirror.publish.site import build_site
from newsmirror.publish.sitebuild import SiteOptions
from newsmirror.store import Archive
from newsmirror.store.schema import MIGRATIONS, _apply

FIRST = "当局随后发表声明，但拒绝回答记者的提问。The minister said nothing new today. " * 8
EDITED = FIRST.replace("拒绝回答", "愿意回答", 1).replace("said nothing", "denied everything", 1)
# Paragraphs whose text is markup: one removed, one added, one kept (all shown as text).
KEPT = "</p><p>不变的段落：&lt;i onclick=alert(3)&gt;照旧。</p><p>"
REMOVED = "删去的段落：&lt;img src=x onerror=alert(1)&gt;</p><p>"
ADDED = "</p><p>新增的段落：&lt;svg onload=alert(2)&gt;"
NO_SEARCH = SiteOptions(search=False)
HOSTILE = '<script>alert("标题")</script> & <b>粗</b>'

# -- the diff -----------------------------------------------------------------------

TEXT = st.text(
    alphabet=st.sampled_from(
        list("的一是不了人我在有他这中大来上国个到说们为")
        + list("abcXYZ é")
        + [" ", "\n", "\u3000", "，", "。", "<", "&", "'"]
    ),
    max_size=80,
)


def _side(ops, keep):
    return "".join(text for op, text in ops if op in ("equal", keep))


@settings(max_examples=200, deadline=None)
@given(TEXT, TEXT)
def test_diff_gives_back_both_texts(old, new):
    ops = diff(old, new)
    assert _side(ops, "delete") == old and _side(ops, "insert") == new
    assert all(text for _op, text in ops)  # no empty pieces
    assert "".join(tokens(old)) == old


def test_diff_marks_han_characters_and_latin_words():
    ops = diff("今天天气很好，we walked home.", "今天天气不好，we drove home.")
    assert ("delete", "很") in ops and ("insert", "不") in ops  # by character, not the phrase
    assert ("delete", "walked") in ops and ("insert", "drove") in ops  # whole words
    assert ("equal", "今天天气") in ops


def test_text_of_keeps_paragraphs_and_decodes_entities():
    assert text_of("<p>甲 &amp; <b>乙</b></p><p>丙<br>丁</p>") == "甲 & 乙\n\n丙\n\n丁"


# -- a real archive with revisions, built ------------------------------------------


def _site(server, tmp_path, title="报道"):
    """A feed with a teaser whose page has the full text (a fill, no edit)."""
    link = f"{server.url}/news/1.html"
    item = {"title": title, "link": link, "description": "摘要……阅读全文"}
    server.route("/feed", Reply(body=rss([item])))
    server.route("/news/1.html", Reply(body=article_page(title, body=FIRST + KEPT + REMOVED)))
    return make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto"), item


def _read(path):
    return path.read_text(encoding="utf-8")


@pytest.mark.slow  # three real builds
def test_revision_pages_edits_page_and_feed(tmp_path, server):
    config, item = _site(server, tmp_path)
    out = tmp_path / "public"
    with Archive.open(config.archive) as archive:
        update(config, archive)  # teaser -> full text: a revision, not an edit
        build_site(archive, out, NO_SEARCH)
        [page] = (out / "posts").rglob("*.html")
        assert "已修改" not in _read(page)
        assert not (out / "revisions").exists()
        assert "还没有" in _read(out / "edits" / "index.html")
        # The origin edits the text, then the feed retitles it.
        page_body = EDITED + KEPT + "结尾。" + ADDED
        server.route("/news/1.html", Reply(body=article_page("报道", body=page_body)))
        refetch(config, archive)
        server.route("/feed", Reply(body=rss([{**item, "title": "新标题"}])))
        update(config, archive)
        # Titles are text: markup in one (an imported post's, say) is shown, never run.
        archive.conn.execute("UPDATE articles SET title = ?", (HOSTILE,))
        build_site(archive, out, NO_SEARCH)
    article = _read(page)
    assert "已修改 2 次" in article and "<script>alert" not in article
    [first, second] = sorted((out / "revisions").rglob("*.html"))
    body = _read(first)
    assert "<del>拒绝</del><ins>愿意</ins>" in body
    assert "<del>said nothing</del><ins>denied everything</ins>" in body
    assert "第 1 次修改" in body and "正文没有改动" not in body
    assert "<del>删去的段落：&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<ins>新增的段落：&lt;svg onload=alert(2)&gt;" in body
    assert "不变的段落：&lt;i onclick=alert(3)&gt;照旧。" in body
    assert not any(tag in body for tag in ("<img src=x", "<svg", "<i onclick"))
    title_page = _read(second)
    assert "正文没有改动" in title_page
    assert "<script>alert" not in title_page and "&lt;script&gt;" in title_page
    assert "<del>报道</del>" in title_page and "<b>粗" not in title_page
    # The page links to both revisions; they link back to it and to the listing.
    rel = first.relative_to(out).as_posix()
    assert rel.split("/", 1)[1] in article
    listing = _read(out / "edits" / "index.html")
    assert listing.index("第 2 次修改") < listing.index("第 1 次修改")  # newest first
    assert "<script>alert" not in listing
    raw = (out / "edits" / "feed.xml").read_bytes()
    assert b"<svg onload" not in raw and b"&lt;svg onload" in raw
    feed = feedparser.parse(raw)
    assert not feed.bozo and len(feed.entries) == 2
    assert feed.entries[0].title == HOSTILE
    assert "<del>拒绝</del>" in feed.entries[1].content[0].value


@pytest.mark.slow  # three real builds
def test_a_build_with_nothing_new_writes_no_history_file(tmp_path, server):
    config, _item = _site(server, tmp_path)
    out = tmp_path / "public"
    with Archive.open(config.archive) as archive:
        update(config, archive)
        server.route("/news/1.html", Reply(body=article_page("报道", body=EDITED)))
        refetch(config, archive)
        build_site(archive, out, NO_SEARCH)
        files = [*(out / "revisions").rglob("*"), *(out / "edits").rglob("*")]
        files += list((out / "removed").rglob("*"))
        before = {p: p.stat().st_mtime_ns for p in files}
        assert len(before) >= 5
        summary = build_site(archive, out, NO_SEARCH)
    assert {p: p.stat().st_mtime_ns for p in files} == before
    assert summary.written <= 2, summary.line()  # status page and updated.css at most


# -- taken down at the origin --------------------------------------------------------


def _sources(config) -> str:
    result = CliRunner().invoke(cli, ["-c", str(config.path), "sources"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_taken_down_recorded_listed_counted_and_cleared(tmp_path, server):
    items = [
        {
            "title": f"文章{i}",
            "link": f"{server.url}/n/{i}.html",
            "description": "摘要……阅读全文",
        }
        for i in range(3)
    ]
    server.route("/feed", Reply(body=rss(items)))
    for i in range(3):
        server.route(f"/n/{i}.html", Reply(body=article_page(f"文章{i}", body=FIRST)))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    out = tmp_path / "public"
    with Archive.open(config.archive) as archive:
        update(config, archive)
        archive.conn.execute("UPDATE articles SET title = ? WHERE title = '文章0'", (HOSTILE,))
        server.route("/n/0.html", Reply(410, b"gone"))
        server.route("/n/1.html", Reply(404, b"not found"))
        server.route("/n/2.html", Reply(500, b"oops"))  # a failure, not a removal
        refetch(config, archive)
        removed = {a.title: a.removed_at for a in archive.iter_articles()}
        assert removed[HOSTILE] and removed["文章1"] and removed["文章2"] is None
        build_site(archive, out, NO_SEARCH)
    assert "removed_at_origin=2" in _sources(config)
    listing = _read(out / "removed" / "index.html")
    assert "文章1" in listing and "文章2" not in listing and "发现删除：" in listing
    assert "<script>alert" not in listing and "&lt;script&gt;" in listing
    feed = feedparser.parse((out / "removed" / "feed.xml").read_bytes())
    assert not feed.bozo and {e.title for e in feed.entries} == {HOSTILE, "文章1"}
    # One page comes back: it is no longer listed or counted.
    server.route("/n/1.html", Reply(body=article_page("文章1", body=FIRST)))
    with Archive.open(config.archive) as archive:
        refetch(config, archive)
        assert [a.title for a in archive.iter_articles() if a.removed_at] == [HOSTILE]
        build_site(archive, out, NO_SEARCH)
    assert "removed_at_origin=1" in _sources(config)
    assert "文章1" not in _read(out / "removed" / "index.html")


def test_a_new_article_whose_page_is_gone_is_recorded(tmp_path, server):
    """At the first full-text fetch, not only at refetch."""
    item = {"title": "新", "link": f"{server.url}/n/9.html", "description": "摘要……阅读全文"}
    server.route("/feed", Reply(body=rss([item])))
    server.route("/n/9.html", Reply(404, b"nope"))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    with Archive.open(config.archive) as archive:
        update(config, archive)
        [art] = list(archive.iter_articles())
        assert art.removed_at is not None
    assert "removed_at_origin=1" in _sources(config)


def test_migration_11_marks_the_feed_versions(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for version, migration in enumerate(MIGRATIONS[:10], 1):
        _apply(conn, migration)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO sources (id, name) VALUES (1, '源')")
    for aid, origin in ((1, "page"), (2, "feed")):
        conn.execute(
            "INSERT INTO articles (id, source_id, url, canonical_url, title, author, content,"
            " published, first_seen, updated, version, content_origin) VALUES (?, 1, ?, ?,"
            " 't', 'a', 'c', '2024', '2024', '2024', 3, ?)",
            (aid, f"u{aid}", f"u{aid}", origin),
        )
        for v in (1, 2):
            conn.execute(
                "INSERT INTO revisions (article_id, version, title, author, content, recorded)"
                " VALUES (?, ?, 't', 'a', 'c', '2024')",
                (aid, v),
            )
    conn.close()
    with Archive.open(path) as archive:
        rows = archive.conn.execute(
            "SELECT article_id, version, origin FROM revisions ORDER BY 1, 2"
        ).fetchall()
    assert rows == [(1, 1, "feed"), (1, 2, None), (2, 1, "feed"), (2, 2, "feed")]


# -- in a browser ---------------------------------------------------------------------


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
@pytest.mark.browser
def test_revision_page_in_a_phone_browser(tmp_path, server):
    config, _item = _site(server, tmp_path)
    long_word = "https://example.org/" + "a" * 300
    out = tmp_path / "public"
    with Archive.open(config.archive) as archive:
        update(config, archive)
        server.route("/news/1.html", Reply(body=article_page("报道", body=EDITED + long_word)))
        refetch(config, archive)
        build_site(archive, out, NO_SEARCH)
    [rev] = (out / "revisions").rglob("*.html")
    from playwright.sync_api import sync_playwright

    from newsmirror.demo.server import serve_folder

    with serve_folder(out) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context, outside = local_only_context(browser)
        tab = context.new_page()
        tab.set_viewport_size({"width": 390, "height": 844})
        tab.goto(f"{base}/{rev.relative_to(out).as_posix()}")
        assert "拒绝" in tab.locator(".diff del").first.inner_text()
        assert "愿意" in tab.locator(".diff ins").first.inner_text()
        assert tab.locator(".diff ins").last.is_visible()
        wide = tab.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, wide
        browser.close()
    assert outside == []


# -- dates in the source's time zone --------------------------------------------------

LATE = "2026-11-25T20:30:00.000Z"  # 2026-11-26 04:30 in Beijing, 15:30 in New York
PUBLISHED = "Sat, 10 Jan 2026 12:00:00 +0000"  # a day far from both


def _visible(page: str) -> str:
    """A page's text as a reader sees it (not its tags' machine-readable attributes)."""
    return html.unescape(re.sub(r"<[^>]*>", "", page))


@pytest.mark.parametrize(
    ("zone", "day", "words"),
    [
        ("Asia/Shanghai", "2026-11-26", "2026-11-26 04:30 北京时间"),
        ("America/New_York", "2026-11-25", "2026-11-25 15:30 UTC-5"),
    ],
)
def test_edit_and_removal_dates_read_in_the_source_zone(tmp_path, server, zone, day, words):
    """An edit and a removal noticed at 20:30 UTC: every page shows the source's day."""
    link = f"{server.url}/news/1.html"
    item = {"title": "报道", "link": link, "description": "摘要……阅读全文", "pubDate": PUBLISHED}
    server.route("/feed", Reply(body=rss([item])))
    server.route("/news/1.html", Reply(body=article_page("报道", body=FIRST)))
    config = make_config(
        tmp_path,
        [("源", [server.url + "/feed"])],
        full_text="auto",
        source_extra=f'timezone = "{zone}"',
    )
    out = tmp_path / "public"
    with Archive.open(config.archive) as archive:
        update(config, archive)
        server.route("/news/1.html", Reply(body=article_page("报道", body=EDITED)))
        refetch(config, archive)
        archive.conn.execute("UPDATE revisions SET recorded = ?", (LATE,))
        archive.conn.execute("UPDATE articles SET removed_at = ?", (LATE,))
        build_site(archive, out, NO_SEARCH)
    [page] = (out / "posts").rglob("*.html")
    [rev] = (out / "revisions").rglob("*.html")
    article, revision = _visible(_read(page)), _visible(_read(rev))
    edits = _visible(_read(out / "edits" / "index.html"))
    removed = _visible(_read(out / "removed" / "index.html"))
    assert f"第 1 次（{day}）" in article
    assert f"原文已删除（{day} 发现）" in article
    assert words in revision and words in edits
    assert f"发现删除：{day}" in removed
    feed = feedparser.parse((out / "removed" / "feed.xml").read_bytes())
    assert f"发现删除：{day}" in feed.entries[0].content[0].value
    other = "2026-11-25" if day == "2026-11-26" else "2026-11-26"
    for text in (article, revision, edits, removed):
        assert other not in text


@pytest.mark.slow  # two real builds
def test_the_edits_listings_older_pages_stay_out_of_the_sitemap(tmp_path, server):
    """Like every listing's, the edits listing's older pages are reached by its links and
    left out of the sitemap (a page that starts in a run would rewrite its sitemap)."""
    config, item = _site(server, tmp_path)
    out = tmp_path / "public"
    options = SiteOptions(search=False, per_page=1, base_url="https://mirror.example/")
    with Archive.open(config.archive) as archive:
        update(config, archive)
        page_body = EDITED + KEPT + "结尾。" + ADDED
        server.route("/news/1.html", Reply(body=article_page("报道", body=page_body)))
        refetch(config, archive)
        server.route("/feed", Reply(body=rss([{**item, "title": "新标题"}])))
        update(config, archive)  # two edits: two pages of one a page
        build_site(archive, out, options)
    assert (out / "edits" / "page" / "1.html").is_file()
    index = _read(out / "sitemap.xml")
    urls = "".join(
        _read(out / name) for name in re.findall(r"<loc>https://mirror\.example/([^<]+)<", index)
    )
    assert "https://mirror.example/edits/index.html" in urls
    assert "edits/page/" not in urls


@pytest.mark.parametrize("longer", [False, True])
def test_an_old_mirrors_copy_merged_into_an_article_is_no_edit(tmp_path, server, longer):
    # Importing an old mirror's post of an article already fetched (same URL, another
    # title, the same or a longer body) merges two copies: the site listed that as an
    # edit at the origin ("已修改 1 次", edits page "正文没有改动"), which it is not.
    from newsmirror.jekyll_import import import_jekyll
    from newsmirror.publish.jekyll import export_jekyll

    config, _ = _site(server, tmp_path)
    out, tree = tmp_path / "public", tmp_path / "old-mirror"
    with Archive.open(config.archive) as archive:
        update(config, archive)
        export_jekyll(archive, tree)
        [post] = (tree / "_posts").iterdir()
        text = _read(post).replace("title: 报道", "title: 报道 - 旧镜像", 1)
        if longer:
            text = text.replace("</div>", "<p>旧镜像多出来的一段。</p></div>", 1)
        post.write_text(text, encoding="utf-8")
        summary = import_jekyll(archive, tree)
        assert summary.merged == 1
        assert archive.conn.execute("SELECT COUNT(*) FROM revisions").fetchone()[0] >= 1
        build_site(archive, out, NO_SEARCH)
    [page] = (out / "posts").rglob("*.html")
    assert "已修改" not in _read(page)
    assert not (out / "revisions").exists()
    assert "还没有" in _read(out / "edits" / "index.html")
