"""Tests from a hand-seeded mutation pass over the publishing code (publish/jekyll.py,
pages.py, history.py, sitemaps.py, redirects.py, status.py) and the archive's content and
history bookkeeping (store/content.py, store/history.py): each kills a mutant the suite
let through; the mutant's id is in the test's comment. Real archives, real builds."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime

import pytest
import yaml

from newsmirror.config import Source
from newsmirror.errors import OutputError
from newsmirror.media import image_urls, write_media
from newsmirror.publish.jekyll import export_jekyll
from newsmirror.publish.site import build_site
from newsmirror.publish.sitebuild import SiteOptions
from newsmirror.store import Archive, ExportRecord

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)


def put(archive, title, url, when=JAN1, source="源", content=None):
    archive.import_article(
        source=source,
        url=url,
        title=title,
        author="",
        content=content or f"<p>{title}</p>",
        tags=[],
        published=when,
        date_known=True,
        published_raw="",
        jekyll_name="",
        now=when,
    )
    archive.conn.commit()


def retitle(archive, url, title):
    """The origin changed the headline (what a feed update stores, without a server)."""
    archive.conn.execute(
        "UPDATE articles SET title = ?, version = version + 1 WHERE url = ?", (title, url)
    )
    archive.conn.commit()


def front(path):
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])


# -- publish/jekyll.py ---------------------------------------------------------------------


def test_a_new_post_at_an_old_url_rewrites_the_post_that_redirected_from_it(tmp_path):
    # J5: the article whose old URL a new post takes over is written again; it must not
    # also be counted unchanged ("2 posts: 2 written, 1 unchanged").
    # J11: no old URL redirects any more: the redirect layout's data file goes too.
    out = tmp_path / "out"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "第0篇", "https://e.org/0")
        export_jekyll(archive, out)
        retitle(archive, "https://e.org/0", "甲")  # 第0篇's URL now redirects to 甲
        export_jekyll(archive, out)
        assert len(json.loads((out / "_data" / "moved.json").read_text())) == 1
        put(archive, "第0篇", "https://e.org/1")  # a new article takes that URL over
        summary = export_jekyll(archive, out)
    assert summary.line() == "2 posts: 2 written, 0 unchanged, 0 removed"
    assert front(out / "_posts" / "2024-01-01-甲.md").get("redirect_from") is None
    assert not (out / "_data" / "moved.json").exists()


def test_a_post_claimed_by_a_killed_export_and_then_renamed_gets_no_redirect(tmp_path):
    # J4: a file claimed by an export that was killed before writing it (size -1) was never
    # published: the post's new name must not redirect from it.
    out = tmp_path / "out"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "旧标题", "https://e.org/0")
        [head] = archive.iter_articles(content=False)
        claimed = ExportRecord(head.id, "_posts/2024-01-01-旧标题.md", head.version, -1, 0)
        archive.save_exports(str(out.resolve()), [claimed])
        retitle(archive, "https://e.org/0", "新标题")
        export_jekyll(archive, out)
    assert [p.name for p in (out / "_posts").iterdir()] == ["2024-01-01-新标题.md"]
    assert front(out / "_posts" / "2024-01-01-新标题.md").get("redirect_from") is None
    assert not (out / "_data" / "moved.json").exists()


def test_an_export_cut_short_leaves_no_second_post_of_an_article_it_wrote(tmp_path):
    # J15: an export that stops half-way (here: a mirrored image it cannot read) must have
    # claimed the files it wrote; else the next export takes them for foreign files and
    # writes those articles again under hashed names: two posts of one article.
    out, media = tmp_path / "out", tmp_path / "media"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "甲", "https://e.org/a")
        put(archive, "乙", "https://e.org/b", content='<p>乙</p><img src="https://i.e/b.png">')
        archive.scan_images(lambda content: image_urls(content, 10))
        sha = write_media(media, b"image b", "png")
        archive.store_image(
            "https://i.e/b.png", sha256=sha, mime="image/png", ext="png", size=7, now=JAN1
        )
        image = media / sha[:2] / f"{sha}.png"
        image.rename(tmp_path / "aside.png")
        with pytest.raises(OutputError):
            export_jekyll(archive, out, media_dir=media)
        assert [p.name for p in (out / "_posts").iterdir()] == ["2024-01-01-甲.md"]
        (tmp_path / "aside.png").rename(image)
        summary = export_jekyll(archive, out, media_dir=media)
    names = sorted(p.name for p in (out / "_posts").iterdir())
    assert names == ["2024-01-01-乙.md", "2024-01-01-甲.md"]
    assert (summary.total, summary.removed) == (2, 0)


def test_a_post_whose_every_name_is_taken_is_still_linked_to(tmp_path):
    # J1: the last resort name (every other name held by foreign files) is a file in
    # _posts like any other: another post's link to the article opens it.
    url = "https://e.org/1"
    short = hashlib.sha1(url.encode()).hexdigest()[:8]
    full = hashlib.sha1(f"源\n{url}".encode()).hexdigest()
    out = tmp_path / "out"
    posts = out / "_posts"
    posts.mkdir(parents=True)
    for name in ("T", f"T-{short}", f"T-{full[:8]}", f"T-{full}"):
        (posts / f"2024-01-01-{name}.md").write_text("foreign")
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "T", url)
        put(archive, "链接", "https://e.org/2", content=f'<p><a href="{url}">T</a></p>')
        [aid] = [a.id for a in archive.iter_articles(content=False) if a.url == url]
        export_jekyll(archive, out)
    mine = f"2024-01-01-T-{full}-{aid}"
    assert (posts / f"{mine}.md").is_file()
    linking = (posts / "2024-01-01-链接.md").read_text(encoding="utf-8")
    assert re.search(rf'<a href="[^"]*{mine}\.html"', linking), linking


# -- publish/pages.py ----------------------------------------------------------------------


def test_a_listing_thumbnail_is_found_for_an_image_url_with_an_entity():
    # P16: the src attribute is markup ("&amp;"); the mirrored copy is keyed by the URL
    from newsmirror.publish.pages import first_image

    content = '<p>图</p><img src="https://e.org/x.png?a=1&amp;b=2"><img src="https://e.org/y.png">'
    local = {"https://e.org/x.png?a=1&b=2": "media/ab/x.png", "https://e.org/y.png": "media/y.png"}
    assert first_image(content, local) == "media/ab/x.png"


def test_an_original_url_that_only_contains_http_gets_no_link(tmp_path):
    # P17: "http(s) from its very first character": an imported post's URL that runs
    # script and merely mentions https:// later is shown as no link at all
    url = "javascript:alert(document.cookie)//https://e.org/1"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "T", url)
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    [page] = (tmp_path / "site" / "posts").rglob("*.html")
    text = page.read_text(encoding="utf-8")
    assert 'href="javascript:' not in text and 'class="orig"' not in text


def test_a_tag_naming_the_articles_own_source_is_no_tag(tmp_path):
    # P18: old mirrors tagged each post with its source; the source has its own listing,
    # so the tag gives no second page (tags/源/) of the very same articles
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for i in range(3):
            archive.import_article(
                source="源",
                url=f"https://e.org/{i}",
                title=f"第{i}篇",
                author="",
                content="<p>正文</p>",
                tags=["源", "政治"],
                published=datetime(2024, 1, 1 + i, tzinfo=UTC),
                date_known=True,
                published_raw="",
                jekyll_name="",
                now=JAN1,
            )
        archive.conn.commit()
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    tags = tmp_path / "site" / "tags"
    assert sorted(p.name for p in tags.iterdir()) == ["index.html", "政治"]


# -- publish/history.py --------------------------------------------------------------------


def _feed_versions(archive, versions):
    """One article as its feed gave it at successive runs: (title, author, body) each."""
    from newsmirror.config import Source
    from newsmirror.models import Entry, FeedState

    archive.sync_sources([Source("源", ("https://feeds.example/源",))])
    for day, (title, author, body) in enumerate(versions, start=1):
        when = datetime(2024, 5, day, tzinfo=UTC)
        entry = Entry("https://e.org/1", "g1", title, author, body, JAN1, "")
        archive.store_entries(
            "源", "https://feeds.example/源", [entry], state=FeedState(), started=when, now=when
        )


def test_revision_pages_show_the_author_change_and_link_to_the_next_edit(tmp_path):
    # H12: the author before the edit is the one struck out, the new one is inserted
    # H11: the first of two edits links on to the second
    with Archive.open(tmp_path / "a.sqlite") as archive:
        _feed_versions(
            archive,
            [
                ("标题", "旧作者", "<p>第一版。</p>"),
                ("标题", "新作者", "<p>第二版。</p>"),
                ("标题", "新作者", "<p>第三版。</p>"),
            ],
        )
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    first, second = sorted((tmp_path / "site" / "revisions").rglob("*.html"))
    page = first.read_text(encoding="utf-8")
    assert '<p class="diff"><del>旧作者</del> <ins>新作者</ins></p>' in page
    links = re.findall(r'<a rel="next" href="([^"]+)">第 2 次修改 →</a>', page)
    assert links and (first.parent / links[0]).resolve() == second.resolve()
    assert 'rel="next"' not in second.read_text(encoding="utf-8")  # the last edit
    # H15: the edits feed was updated when its newest edit was recorded (3 May), not its oldest
    feed = (tmp_path / "site" / "edits" / "feed.xml").read_text(encoding="utf-8")
    assert re.search(r"<updated>2024-05-03T00:00:00(\.000)?Z</updated>", feed.split("<entry>")[0])


def test_the_edits_feed_keeps_no_unchanged_text_after_the_last_change():
    # H4: context is kept around each change; the unchanged end of the text is cut to
    # the context after the change and an ellipsis, as the start is
    from newsmirror.publish.history import FEED_CONTEXT, compact

    tail = "尾" * (3 * FEED_CONTEXT)
    head = "头" * (3 * FEED_CONTEXT)
    ops = [("equal", head), ("delete", "甲"), ("insert", "乙"), ("equal", tail)]
    assert compact(ops) == [
        ("equal", "…" + "头" * FEED_CONTEXT),
        ("delete", "甲"),
        ("insert", "乙"),
        ("equal", "尾" * FEED_CONTEXT + "…"),
    ]


# -- publish/status.py ---------------------------------------------------------------------


def test_an_http_500_is_the_servers_error_in_plain_words():
    # ST5: 500 itself is a server error, not "refused the request"
    from newsmirror.publish.status import plain_error

    assert plain_error("https://e.org/feed: HTTP 500") == (
        "来源网站的服务器出错（HTTP 500），通常过一会儿会恢复"
    )


def test_an_error_detail_is_cut_to_its_limit_with_the_ellipsis():
    # ST6: at most MAX_DETAIL characters, the ellipsis included; ST7: all parts: twice that
    from newsmirror.publish.status import MAX_DETAIL, cut, short_error

    assert cut("长" * (MAX_DETAIL + 5)) == "长" * (MAX_DETAIL - 1) + "…"
    assert len(cut("长" * (MAX_DETAIL + 5))) == MAX_DETAIL
    assert cut("长" * MAX_DETAIL) == "长" * MAX_DETAIL
    error = "; ".join(f"https://e.org/{i}: " + "x" * 200 for i in range(3))
    assert len(short_error(error)) == 2 * MAX_DETAIL and short_error(error).endswith("…")


def test_an_error_ending_in_a_separator_gives_no_empty_sentence():
    # ST8: an empty part is no error of its own ("抓取失败" with an empty detail)
    from newsmirror.publish.status import error_lines

    lines = error_lines("https://e.org/a: HTTP 404; ")
    assert [line["plain"] for line in lines] == ["订阅地址不存在（HTTP 404），来源可能已更换地址"]


def test_a_day_with_one_article_beside_a_busy_day_still_shows_a_bar():
    # ST9: a day with articles is never drawn as nothing (height 0), however busy the
    # busiest day; ST16: bars side by side, BAR + GAP apart
    from newsmirror.publish.status import BAR, GAP, HEIGHT, chart_svg, window

    win = window("2024-05-10T04:00:00.000Z", days=3)
    svg = str(chart_svg("源", [200, 1, 0], win))
    rects = re.findall(r'<rect class="([^"]+)" x="(\d+)" y="(\d+)" width="\d+" height="(\d+)"', svg)
    assert rects == [
        ("bar", "0", "0", str(HEIGHT)),
        ("bar", str(BAR + GAP), str(HEIGHT - 1), "1"),
        ("bar zero", str(2 * (BAR + GAP)), str(HEIGHT - 1), "1"),
    ]


def test_only_a_repository_address_on_a_git_host_is_a_repository():
    # ST15: a page deeper in github.com is no repository `git clone` can copy
    from newsmirror.publish.status import looks_like_git

    assert looks_like_git("https://github.com/user/mirror")
    assert looks_like_git("https://codeberg.org/user/mirror/")
    assert not looks_like_git("https://github.com/user/mirror/blob/main/README.md")
    assert not looks_like_git("https://github.com/user")


def test_the_status_summary_says_all_fine_and_alerts_on_never_fetched_sources():
    # ST18: every source fine: "都正常" (an empty summary), not "2 个正常";
    # ST19: sources never fetched need attention (bold), stopped ones do not
    from newsmirror.models import SourceHealth
    from newsmirror.publish.status import state_counts, status_rows

    def health(name, enabled=True, success="2024-05-01T00:00:00.000Z", failures=0):
        return SourceHealth(name, enabled, 1, success, success, None, None, failures)

    fine = status_rows([health("甲"), health("乙")], {}, None)
    assert state_counts(fine) == []
    mixed = status_rows([health("甲"), health("新", success=None), health("停", False)], {}, None)
    assert state_counts(mixed) == [
        (1, "个尚未抓取", True),
        (1, "个已停用", False),
        (1, "个正常", False),
    ]


# -- publish/sitemaps.py -------------------------------------------------------------------


def test_sitemaps_are_xml_whatever_the_sites_address():
    # S1, S3: the address is text in XML: an "&" in it is escaped in both the sitemaps and
    # their index (else no search engine reads the file)
    import xml.etree.ElementTree as ET

    from newsmirror.publish.sitemaps import index, urlset

    base = "https://m.example/news&views/"
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    pages = ET.fromstring(urlset(["posts/2024/01/a.html", "sources/源/index.html"], base))
    assert [e.text for e in pages.iter(f"{ns}loc")] == [
        base + "posts/2024/01/a.html",
        base + "sources/%E6%BA%90/index.html",
    ]
    maps = ET.fromstring(index(["sitemaps/2024-01-01.xml"], base))
    assert [e.text for e in maps.iter(f"{ns}loc")] == [base + "sitemaps/2024-01-01.xml"]
    # S8, S9: the protocol's own names: <urlset> of <url>, <sitemapindex> of <sitemap>
    assert pages.tag == f"{ns}urlset" and [e.tag for e in pages] == [f"{ns}url"] * 2
    assert maps.tag == f"{ns}sitemapindex" and [e.tag for e in maps] == [f"{ns}sitemap"]


def test_each_sitemap_lists_its_pages_sorted_whatever_order_the_build_made_them():
    # S6: a sitemap keeps its bytes when a build makes the same pages in another order
    from newsmirror.publish.sitemaps import split

    made = ["tags/乙/index.html", "index.html", "tags/甲/index.html", "404.html"]
    assert split(made, []) == {
        "sitemaps/pages-root.xml": ["404.html", "index.html"],
        "sitemaps/pages-tags.xml": ["tags/乙/index.html", "tags/甲/index.html"],
    }
    assert split(list(reversed(made)), []) == split(made, [])


# -- store/content.py ----------------------------------------------------------------------


def _fed(archive, author="源", published=JAN1):
    from newsmirror.config import Source
    from newsmirror.models import Entry, FeedState

    archive.sync_sources([Source("源", ("https://feeds.example/源",))])
    entry = Entry("https://e.org/1", "g1", "标题", author, "<p>摘要</p>", published, "")
    archive.store_entries(
        "源", "https://feeds.example/源", [entry], state=FeedState(), started=JAN1, now=JAN1
    )
    [article] = archive.iter_articles(content=False)
    return article.id


def _author_and_date(archive, article_id):
    return archive.conn.execute(
        "SELECT author, published FROM articles WHERE id = ?", (article_id,)
    ).fetchone()


def test_the_page_fills_in_an_author_that_is_only_the_sources_name(tmp_path):
    # C9: a feed that gives its own name as every item's author: the page's byline wins
    with Archive.open(tmp_path / "a.sqlite") as archive:
        aid = _fed(archive, author="源")
        archive.fill_from_page(aid, author="记者甲", published=None, published_raw="")
        assert _author_and_date(archive, aid)[0] == "记者甲"
        # a real author from the feed stays
        archive.fill_from_page(aid, author="记者乙", published=None, published_raw="")
        assert _author_and_date(archive, aid)[0] == "记者甲"


def test_the_page_never_moves_a_date_the_feed_gave(tmp_path):
    # C8: only a date the feed lacked is taken from the page
    with Archive.open(tmp_path / "a.sqlite") as archive:
        aid = _fed(archive, author="记者", published=datetime(2024, 1, 5, 8, tzinfo=UTC))
        before = _author_and_date(archive, aid)[1]
        archive.fill_from_page(
            aid, author="", published=datetime(2023, 6, 1, tzinfo=UTC), published_raw="2023-06-01"
        )
        assert _author_and_date(archive, aid)[1] == before == "2024-01-05T08:00:00.000Z"


def test_an_image_is_tried_at_most_max_attempts_times(tmp_path):
    # C12: after max_attempts failures an image is no longer pending
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "图", "https://e.org/1", content='<p>图</p><img src="https://i.e/1.png">')
        archive.scan_images(lambda content: image_urls(content, 10))
        for attempt in range(2):
            [task] = archive.pending_images(max_attempts=2)
            archive.image_failed(task, f"HTTP 503 ({attempt})", now=JAN1)
        assert archive.pending_images(max_attempts=2) == []
        assert len(archive.pending_images(max_attempts=3)) == 1


# -- store/history.py ----------------------------------------------------------------------


def test_each_edit_is_compared_with_the_version_right_after_it(tmp_path):
    # SH3: edit 1 of three shows the change from the first version to the second, not to
    # the last revision
    with Archive.open(tmp_path / "a.sqlite") as archive:
        _feed_versions(archive, [("标题", "作者", f"<p>第{n}版正文。</p>") for n in "一二三四"])
        old, new = archive.version_pair(archive.revision_heads()[0].article_id, 1)
        assert (old.content, new.content) == ("<p>第一版正文。</p>", "<p>第二版正文。</p>")
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    pages = sorted((tmp_path / "site" / "revisions").rglob("*.html"))
    assert len(pages) == 3
    for page, (a, b) in zip(pages, ["一二", "二三", "三四"], strict=True):
        assert f"第<del>{a}</del><ins>{b}</ins>版正文。" in page.read_text(encoding="utf-8")


def test_a_teaser_replaced_by_the_text_a_selector_took_from_the_page_is_no_edit(tmp_path):
    # SH4: a selector's extraction is the page's full text as much as the extractor's
    from newsmirror.config import Source
    from newsmirror.models import Entry, FeedState

    with Archive.open(tmp_path / "a.sqlite") as archive:
        archive.sync_sources([Source("源", ("https://feeds.example/源",))])
        entry = Entry("https://e.org/1", "g1", "标题", "作者", "<p>摘要……</p>", JAN1, "")
        archive.store_entries(
            "源",
            "https://feeds.example/源",
            [entry],
            state=FeedState(),
            started=JAN1,
            now=JAN1,
            wants_page=lambda _e: True,
        )
        [task] = archive.pending_pages(5)
        assert archive.store_page(task, html="<p>全文。</p>", origin="selector", now=JAN1)
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    assert not (tmp_path / "site" / "revisions").exists()
    assert "还没有" in (tmp_path / "site" / "edits" / "index.html").read_text(encoding="utf-8")


# -- publish/redirects.py ------------------------------------------------------------------


def test_old_urls_are_kept_for_the_article_under_any_form_of_its_link(tmp_path):
    # R2: an old post's link with a tracking parameter (or another case of its host) is
    # the same article: its old URL is kept and redirects
    from newsmirror.publish.redirects import record, redirects_of

    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "标题", "https://e.org/a")
        [aid] = [a.id for a in archive.iter_articles(content=False)]
        link = "https://E.org/a?utm_source=rss"
        assert record(archive, link, ["/posts/2024-01-01-a%3Ab.html"]) == 1
        assert redirects_of(archive) == {aid: ["/posts/2024-01-01-a%3Ab.html"]}
        # R3: kept in the one form it is read in: the same URL written another way is
        # no second old URL (a post would list it twice in redirect_from)
        assert record(archive, link, ["/posts/2024-01-01-a:b.html"]) == 0
        assert redirects_of(archive) == {aid: ["/posts/2024-01-01-a%3Ab.html"]}


# -- publish/status.py (times) -------------------------------------------------------------


def test_a_last_success_late_in_the_utc_day_is_the_next_day_in_beijing():
    # ST2: the day shown (and status.json's last_success_day) is Beijing's
    from newsmirror.publish.status import day, moment

    assert day("2024-05-01T17:00:00.000Z").iso == "2024-05-02"
    assert moment("2024-05-01T17:00:00.000Z").text == "2024-05-02 01:00 北京时间（UTC+8）"


def test_a_stopped_source_reads_as_stopped_even_after_failures():
    # ST11: a source stopped in the config says so, whatever its last runs did
    from newsmirror.models import SourceHealth
    from newsmirror.publish.status import status_rows

    stopped = SourceHealth("停", False, 3, None, None, "HTTP 503", "2024-05-01T00:00:00.000Z", 4)
    [row] = status_rows([stopped], {}, None)
    assert row["state"] == "已停用"


def test_the_mirrors_page_quotes_an_address_for_the_shell(tmp_path):
    # ST14: a pasted `git clone` / `wget` line must not run what an address holds
    mirror = "https://git.example.org/team/mirror.git?a=1&touch=$(id)"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        build_site(
            archive, tmp_path / "site", SiteOptions(search=False, mirrors=(("镜像", mirror),))
        )
    html = (tmp_path / "site" / "mirrors.html").read_text(encoding="utf-8")
    quoted = "&#39;https://git.example.org/team/mirror.git?a=1&amp;touch=$(id)&#39;"
    assert f"git clone {quoted}</code>" in html
    assert f"--no-parent {quoted}</code>" in html


def test_a_redirect_page_is_kept_out_of_search_engines():
    # R10: the old URL's page says noindex (its canonical is the article's page)
    from newsmirror.publish.redirects import redirect_page

    page = redirect_page(
        "标题", "../posts/2024/01/a.html", "https://m.example/posts/2024/01/a.html"
    )
    assert '<meta name="robots" content="noindex">' in page
    assert '<link rel="canonical" href="https://m.example/posts/2024/01/a.html">' in page


def test_an_old_url_that_is_a_page_of_the_site_gets_no_redirect_page(tmp_path):
    # R11: an imported old URL that names another article's page never replaces it
    from newsmirror.publish.redirects import record

    other = "https://e.org/b"
    digest = hashlib.sha1(other.encode()).hexdigest()[:12]
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "甲文", "https://e.org/a")
        put(archive, "乙文", other)
        assert record(archive, "https://e.org/a", [f"/posts/2024/01/{digest}.html"]) == 1
        archive.conn.commit()
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    page = (tmp_path / "site" / "posts" / "2024" / "01" / f"{digest}.html").read_text("utf-8")
    assert "<h1>乙文</h1>" in page or ">乙文</h1>" in page
    assert 'http-equiv="refresh"' not in page


def test_a_stopped_source_is_not_counted_as_failing_on_the_status_page(tmp_path):
    """A source that failed and was then stopped (enabled = false) says 已停用 in its own
    section; the summary must say so too, not "1 个正在失败" in bold."""
    now = datetime(2024, 5, 1, tzinfo=UTC)
    with Archive.open(tmp_path / "a.sqlite") as archive:
        archive.sync_sources(
            [Source("好", ("https://e.org/g",)), Source("坏", ("https://e.org/b",))]
        )
        archive.record_source_result("好", ok=True, error=None, now=now)
        archive.record_source_result("坏", ok=False, error="https://e.org/b: HTTP 503", now=now)
        archive.sync_sources(
            [Source("好", ("https://e.org/g",)), Source("坏", ("https://e.org/b",), enabled=False)]
        )
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    html = (tmp_path / "site" / "status.html").read_text(encoding="utf-8")
    assert '<h2>坏 <span class="state">已停用</span></h2>' in html
    summary = re.search(r"共 \d+ 个来源.*?。", html).group(0)
    assert "正在失败" not in summary, summary
    assert "1 个已停用" in summary, summary


def test_an_export_stopped_while_it_writes_renamed_posts_leaves_one_post_each(
    tmp_path, monkeypatch
):
    # Review H18: every title changed at the origin, the export was killed (or met a full
    # disk) while it wrote the renamed posts; the next one kept the new files it found as
    # foreign ones and wrote each article again under a -hash name: two posts each.
    from newsmirror.publish import jekyll

    out = tmp_path / "out"
    urls = [f"https://e.org/r{i}" for i in range(6)]
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for i, url in enumerate(urls):
            put(archive, f"旧标题{i}", url)
        export_jekyll(archive, out)
        for i, url in enumerate(urls):
            retitle(archive, url, f"新标题{i}")
        post = jekyll._Render._post
        written = [0]

        def stops_after_three(self, *args, **kwargs):
            written[0] += 1
            if written[0] > 3:
                raise KeyboardInterrupt  # as kill -9 or a full disk would stop it
            return post(self, *args, **kwargs)

        monkeypatch.setattr(jekyll._Render, "_post", stops_after_three)
        with pytest.raises(KeyboardInterrupt):
            export_jekyll(archive, out)
        monkeypatch.setattr(jekyll._Render, "_post", post)
        export_jekyll(archive, out)
        again = export_jekyll(archive, out)
    names = sorted(p.name for p in (out / "_posts").iterdir())
    assert names == sorted(f"2024-01-01-新标题{i}.md" for i in range(6))
    assert again.written == 0
    moved = json.loads((out / "_data" / "moved.json").read_text(encoding="utf-8"))
    assert len(moved) == 6  # every old URL still leads to its post
