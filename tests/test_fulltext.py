"""Full text from article pages: when it is fetched, what is kept, what refetch records."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import ARTICLE_TEXT, Reply, article_page, make_config, rss
from newsmirror.decide import needs_full_text
from newsmirror.demo.assets import png
from newsmirror.fulltext import refetch
from newsmirror.pipeline import update
from newsmirror.publish.jekyll import export_jekyll
from newsmirror.store import Archive

PAGES = 4  # pages of a site: more than the extraction workers (one a CPU, two here)


def teaser_site(server, count=2):
    items = []
    for i in range(count):
        server.route(
            f"/news/{i}.html",
            Reply(body=article_page(f"标题{i}"), headers={"Content-Type": "text/html"}),
        )
        items.append(
            {
                "title": f"标题{i}",
                "link": f"{server.url}/news/{i}.html",
                "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
                "description": "这是摘要……阅读全文",
            }
        )
    server.route("/img/a.png", Reply(body=png(), headers={"Content-Type": "image/png"}))
    server.route("/feed", Reply(body=rss(items)))


def page_requests(server):
    return [p for p, _ in server.requests if p.startswith("/news/")]


def test_teaser_feed_ends_with_full_articles_and_local_images(tmp_path, server):
    teaser_site(server)
    config = make_config(
        tmp_path, [("源", [server.url + "/feed"])], full_text="auto", media="mirror"
    )
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        assert summary.pages.extracted == 2 and summary.media.stored == 1
        articles = list(archive.iter_articles())
        for art in articles:
            assert ARTICLE_TEXT[:30] in art.content
            assert "栏目3" not in art.content and "版权所有" not in art.content
            assert "阅读全文" not in art.content and "<figcaption>现场照片" in art.content
            assert f'src="{server.url}/img/a.png"' in art.content  # lazy image made real
        export_jekyll(archive, tmp_path / "out", media_dir=config.media_dir)
    media_files = [p for p in config.media_dir.rglob("*.png")]
    assert len(media_files) == 1  # one image for both articles, stored once
    for post in (tmp_path / "out/_posts").iterdir():
        text = post.read_text(encoding="utf-8")
        [src] = re.findall(r'<img[^>]*\ssrc="([^"]+)"', text)
        assert src.startswith("../media/") and (post.parent / src).resolve().is_file()
        assert f'data-original-src="{server.url}/img/a.png"' in text
        assert yaml.safe_load(text.split("---\n")[1])["from"].startswith(server.url)
    # Nothing is fetched again on the next run: the feed did not change.
    before = len(server.requests)
    with Archive.open(config.archive) as archive:
        again = update(config, archive)
    assert again.new == 0 and again.pages.fetched == 0
    assert len(server.requests) == before + 1  # only the feed


def test_modes_decide_which_pages_are_fetched(tmp_path, server):
    teaser_site(server, count=1)
    long_item = {
        "title": "长文",
        "link": f"{server.url}/news/long.html",
        "content": f"<p>{ARTICLE_TEXT}</p>",
    }
    server.route("/feed2", Reply(body=rss([long_item])))
    server.route("/news/long.html", Reply(body=article_page("长文")))
    for mode, expected in (
        ("feed", []),
        ("auto", ["/news/0.html"]),
        ("page", ["/news/0.html", "/news/long.html"]),
    ):
        server.requests.clear()
        folder = tmp_path / mode
        folder.mkdir()
        config = make_config(
            folder, [("a", [server.url + "/feed"]), ("b", [server.url + "/feed2"])], full_text=mode
        )
        with Archive.open(config.archive) as archive:
            update(config, archive)
        assert sorted(page_requests(server)) == expected, mode


def test_needs_full_text_decisions():
    assert needs_full_text("auto", "")
    assert needs_full_text("auto", "<p>短摘要</p>")
    assert needs_full_text("auto", f"<p>{ARTICLE_TEXT}……</p>")
    assert needs_full_text("auto", f"<p>{ARTICLE_TEXT}</p><p><a href='x'>阅读全文</a></p>")
    assert not needs_full_text("auto", f"<p>{ARTICLE_TEXT}</p>")
    assert not needs_full_text("feed", "")
    assert needs_full_text("page", f"<p>{ARTICLE_TEXT}</p>")


def test_selector_and_remove_from_config(tmp_path, server):
    page = (
        "<html><body><div id='story'><p>选择器选中的正文。</p><div class='ad'>广告内容</div>"
        "</div><div id='other'>" + ARTICLE_TEXT + "</div></body></html>"
    ).encode()
    server.route("/news/s.html", Reply(body=page))
    server.route("/feed", Reply(body=rss([{"title": "t", "link": f"{server.url}/news/s.html"}])))
    config = make_config(
        tmp_path,
        [("源", [server.url + "/feed"])],
        full_text="page",
        source_extra='selector = "#story"\nremove = [".ad"]',
    )
    with Archive.open(config.archive) as archive:
        update(config, archive)
        [art] = list(archive.iter_articles())
    assert "选择器选中的正文" in art.content
    assert "广告内容" not in art.content and "现场" not in art.content


def test_page_shorter_than_feed_keeps_feed_text(tmp_path, server):
    server.route("/news/x.html", Reply(body=b"<html><body><p>only a stub page</p></body></html>"))
    item = {
        "title": "t",
        "link": f"{server.url}/news/x.html",
        "content": f"<p>{ARTICLE_TEXT}</p><p>……</p>",
    }
    server.route("/feed", Reply(body=rss([item])))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        [art] = list(archive.iter_articles())
    assert summary.pages.fetched == 1 and summary.pages.kept_feed == 1
    assert ARTICLE_TEXT[:20] in art.content


def test_an_item_that_links_to_an_image_keeps_the_feed_text(tmp_path, server):
    # A feed item whose link is an image (or a PDF): the page step says so, the
    # article keeps the feed's text and is not overwritten with the file's bytes.
    server.route("/pic.png", Reply(body=png(), headers={"Content-Type": "image/png"}))
    item = {"title": "t", "link": f"{server.url}/pic.png", "description": "摘要……阅读全文"}
    server.route("/feed", Reply(body=rss([item])))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        [art] = list(archive.iter_articles())
    assert summary.pages.failed == 1 and summary.pages.extracted == 0
    assert summary.pages.errors == [
        f"{server.url}/pic.png: not a web page: its bytes are a PNG image (image/png)"
    ]
    assert "摘要" in art.content and "PNG" not in art.content


def test_a_filtered_refetch_looks_only_at_its_articles_and_takes_any_archived_source(
    tmp_path, server
):
    # `refetch --source A` retried every failed image of the whole archive (8 minutes of
    # dead hosts after an import), and refused a source that only the archive knows.
    items = {}
    for name, key in (("甲", "a"), ("乙", "b")):
        server.route(f"/img/{key}.png", Reply(503, b"down"))
        items[name] = {
            "title": f"{name}报道",
            "link": f"https://example.org/{key}",  # never fetched: full_text = feed
            "content": f'<p>正文</p><img src="{server.url}/img/{key}.png">',
        }
        server.route(f"/feed-{key}", Reply(body=rss([items[name]])))
    feeds = [("甲", [f"{server.url}/feed-a"]), ("乙", [f"{server.url}/feed-b"])]
    config = make_config(tmp_path, feeds, media="mirror")
    with Archive.open(config.archive) as archive:
        update(config, archive)  # both images fail (503)
        only_b = make_config(tmp_path, feeds[1:], media="mirror")  # 甲 left the config
        before = len(server.requests)
        pages, media = refetch(only_b, archive, source="甲")
        asked = {path for path, _ in server.requests[before:]}
    assert asked == {"/img/a.png"}  # 甲's image only, not 乙's
    assert media.failed == 1 and pages.fetched == 0


def test_refetch_records_revision_and_removal(tmp_path, server):
    teaser_site(server, count=2)
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    with Archive.open(config.archive) as archive:
        update(config, archive)
        # The origin edits one article and deletes the other.
        server.route(
            "/news/0.html", Reply(body=article_page("标题0", body="更正后的报道内容。" * 30))
        )
        server.route("/news/1.html", Reply(404, b"gone"))
        pages, _ = refetch(config, archive)
        assert (pages.changed, pages.gone) == (1, 1)
        arts = {a.title: a for a in archive.iter_articles()}
        # Version 1 was the teaser, 2 the full text, 3 the edit: 1 and 2 are kept.
        assert "更正后的报道内容" in arts["标题0"].content and arts["标题0"].version == 3
        assert [r[0] for r in archive.revisions(arts["标题0"].id)] == [1, 2]
        assert arts["标题1"].removed_at is not None
        assert ARTICLE_TEXT[:20] in arts["标题1"].content  # the archive keeps what was there
        # Unchanged pages make no revision.
        pages, _ = refetch(config, archive, source="源")
        assert pages.changed == 0
        assert [a.version for a in archive.iter_articles() if a.title == "标题0"] == [3]


def test_teaser_update_in_feed_does_not_overwrite_full_text(tmp_path, server):
    teaser_site(server, count=1)
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    with Archive.open(config.archive) as archive:
        update(config, archive)
        server.route(
            "/feed",
            Reply(
                body=rss(
                    [
                        {
                            "title": "标题0",
                            "link": f"{server.url}/news/0.html",
                            "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
                            "description": "新的摘要……阅读全文",
                        }
                    ]
                )
            ),
        )
        second = update(config, archive)
        [art] = list(archive.iter_articles())
    assert ARTICLE_TEXT[:20] in art.content and "新的摘要" not in art.content
    assert second.pages.fetched == 1  # the changed teaser sent us to the page again


def test_max_pages_bounds_the_pages_fetched_in_one_run(tmp_path, server):
    teaser_site(server, count=5)
    config = make_config(
        tmp_path,
        [("源", [server.url + "/feed"])],
        extra="retries = 0\n[content]\nmax_pages = 2\n",
        full_text="auto",
    )
    with Archive.open(config.archive) as archive:
        first = update(config, archive)
        assert first.pages.fetched == 2 and len(page_requests(server)) == 2
        second = update(config, archive)  # the rest come in the next runs
        assert second.pages.fetched == 2 and len(page_requests(server)) == 4


def test_page_whose_extraction_crashes_is_that_page_failure(tmp_path, server):
    """Whatever the extractor raises (here a selector that cssselect only rejects when it is
    used, put in after the config check) fails that page alone, with a one-line reason."""
    import dataclasses

    teaser_site(server, count=PAGES)  # more pages than workers
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    [source] = config.sources
    broken = dataclasses.replace(source, selector="a:nth-child(x)")
    config = dataclasses.replace(config, sources=(broken,))
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        assert summary.sources[0].status == "ok" and summary.new == PAGES
        assert summary.pages.failed == PAGES
        assert all("\n" not in e and "Invalid series" in e for e in summary.pages.errors)
        assert len(list(archive.iter_articles())) == PAGES


def big_teaser_site(server, count, repeat=120, slow=0.0):
    """Teaser items whose pages are long: the feed takes little room, the pages much;
    the last page comes ``slow`` seconds late."""
    items = []
    for i in range(count):
        page = article_page(f"长文{i}", body=ARTICLE_TEXT * repeat)
        server.route(f"/news/{i}.html", Reply(body=page, delay=slow if i == count - 1 else 0))
        items.append({"title": f"长文{i}", "link": f"{server.url}/news/{i}.html"})
    server.route("/feed", Reply(body=rss(items)))


@pytest.mark.sqlite_only  # SQLite's max_page_count as a full disk
def test_full_archive_during_the_page_step_stops_the_run_cleanly(tmp_path, server, caplog, capfd):
    """The archive fills up while pages are stored (SQLite's max_page_count as a full
    disk): one ArchiveError, no asyncio traceback from the other pages, nothing
    half-written; the next run with room fills the pages."""
    import gc
    import logging

    from newsmirror.errors import ArchiveError

    big_teaser_site(server, count=PAGES - 1, slow=0.5)  # still coming at the error
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    with Archive.open(config.archive) as archive:
        archive.sync_sources(config.sources)
        pages = archive.conn.execute("PRAGMA page_count").fetchone()[0]
        archive.conn.execute(f"PRAGMA max_page_count = {pages + 30}")
        with caplog.at_level(logging.DEBUG, logger="asyncio"):
            with pytest.raises(ArchiveError, match="full") as info:
                update(config, archive)
            gc.collect()  # an orphaned task's error is logged when it is collected
        assert info.value.exit_code == 4 and "disk is full" in info.value.hint
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
        assert "Traceback" not in "".join(capfd.readouterr())
        assert archive.check() == []
        assert archive.counts()["articles"] == PAGES - 1  # the feed step fitted
        rows = archive.conn.execute(
            "SELECT a.content_origin, a.version, COUNT(r.id) FROM articles a"
            " LEFT JOIN revisions r ON r.article_id = a.id GROUP BY a.id"
        ).fetchall()
        # Each page stored whole (with the teaser as a revision) or not at all.
        assert set(rows) <= {("feed", 1, 0), ("page", 2, 1)} and ("feed", 1, 0) in rows
    with Archive.open(config.archive) as archive:
        again = update(config, archive)
        assert again.pages.failed == 0
        origins = archive.conn.execute("SELECT content_origin FROM articles").fetchall()
        assert origins == [("page",)] * (PAGES - 1)


def test_a_spent_time_budget_leaves_pages_and_images_for_the_next_run(tmp_path, server):
    import time

    from newsmirror.summaries import Budget

    teaser_site(server, count=3)
    config = make_config(
        tmp_path, [("源", [server.url + "/feed"])], full_text="auto", media="mirror"
    )
    with Archive.open(config.archive) as archive:
        spent = update(config, archive, budget=Budget(time.monotonic()))
        assert spent.new == 3  # every feed is still fetched and stored
        assert spent.pages.fetched == 0 and spent.pages.deferred == 3
        assert page_requests(server) == []
        assert "3 pages and 0 images left for the next run" in spent.line()
        later = update(config, archive, budget=Budget.minutes(10))
        assert later.pages.extracted == 3 and later.media.stored == 1
        assert later.pages.deferred == 0 and "time budget" not in later.line()


def test_images_wait_when_the_budget_is_spent_after_the_pages(tmp_path, server):
    import time

    from newsmirror.summaries import Budget

    server.route("/img/a.png", Reply(body=png(), headers={"Content-Type": "image/png"}))
    items = [
        {
            "title": f"图{i}",
            "link": f"https://e.org/{i}",
            "content": f'<p>{ARTICLE_TEXT}</p><img src="{server.url}/img/a.png">',
        }
        for i in range(2)
    ]
    server.route("/feed", Reply(body=rss(items)))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], media="mirror")
    with Archive.open(config.archive) as archive:
        spent = update(config, archive, budget=Budget(time.monotonic()))
        assert spent.media.stored == 0 and spent.media.deferred == 1
        assert [p for p, _ in server.requests if p.startswith("/img/")] == []
        later = update(config, archive)
        assert later.media.stored == 1
