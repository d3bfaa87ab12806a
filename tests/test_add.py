"""`newsmirror add`: one page archived on demand, safely."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from conftest import ARTICLE_TEXT, Reply, article_page, make_config, rss
from newsmirror.add import add_url
from newsmirror.config import FetchSettings
from newsmirror.decide import Change
from newsmirror.demo.assets import png
from newsmirror.errors import AddError, ExtractionError
from newsmirror.fetch import Fetcher
from newsmirror.netguard import Guard
from newsmirror.store import Archive
from pgharness import search_tables, set_schema_version
from test_netguard import FAKE_PUBLIC, PublicServer, allow_test


def test_add_local_page(tmp_path, server):
    server.route("/story.html", Reply(body=article_page("人工添加的文章", charset="gbk")))
    server.route("/img/a.png", Reply(body=png()))
    config = make_config(tmp_path, [], media="mirror")
    with Archive.open(config.archive) as archive:
        result = add_url(
            config, archive, f"{server.url}/story.html", source="手动", allow_private=True
        )
        assert result.change is Change.NEW and result.media.stored == 1
        [art] = list(archive.iter_articles())
        assert (art.title, art.author, art.source) == ("人工添加的文章", "记者乙", "手动")
        assert art.published.isoformat() == "2024-03-01T00:00:00+00:00"
        assert ARTICLE_TEXT[:20] in art.content and "栏目1" not in art.content
        again = add_url(
            config, archive, f"{server.url}/story.html", source="手动", allow_private=True
        )
        assert again.change is Change.UNCHANGED


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.org/no-scheme",
        "; rm -rf /",
    ],
)
def test_non_http_urls_are_refused(tmp_path, url):
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive, pytest.raises(AddError, match="http"):
        add_url(config, archive, url)


def test_private_hosts_are_refused_by_default(tmp_path, server):
    server.route("/story.html", Reply(body=article_page("t")))
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive:
        for url in (
            f"{server.url}/story.html",
            f"http://localhost:{server.url.rsplit(':', 1)[1]}/story.html",
        ):
            with pytest.raises(AddError, match="non-public") as info:
                add_url(config, archive, url)
            assert "--allow-private" in info.value.hint
        assert archive.counts()["articles"] == 0
    assert server.requests == []


def test_every_redirect_hop_is_checked(server):
    port = server.url.rsplit(":", 1)[1]
    server.route("/hop", Reply(302, b"", headers={"Location": f"http://localhost:{port}/end"}))
    server.route("/end", Reply(body=b"secret"))
    seen = []

    async def guard(request: httpx.Request) -> None:
        seen.append(request.url.host)
        if request.url.host == "localhost":
            raise AddError("refused")

    async def go() -> None:
        async with Fetcher(FetchSettings(retries=0), on_request=guard) as fetcher:
            await fetcher.fetch(f"{server.url}/hop")

    with pytest.raises(AddError):
        asyncio.run(go())
    assert seen == ["127.0.0.1", "localhost"]
    assert [p for p, _ in server.requests] == ["/hop"]


def media_files(config):
    return sorted(p.name for p in config.media_dir.rglob("*") if p.is_file())


def image_rows(archive):
    return archive.conn.execute(
        "SELECT a.url, m.url, m.sha256, m.attempts, m.last_error FROM article_media m"
        " JOIN articles a ON a.id = m.article_id ORDER BY m.url"
    ).fetchall()


def add_public_page(config, archive, body: bytes, files: dict[str, bytes] | None = None):
    """``add`` with the guard on, of a page on the tests' stand-in for a public host."""
    public = PublicServer(0, body, files=files)
    try:
        return add_url(
            config,
            archive,
            f"http://{FAKE_PUBLIC}:{public.port}/story.html",
            guard=Guard(allow=allow_test),
        )
    finally:
        public.close()


def test_add_with_the_guard_mirrors_images_of_public_hosts(tmp_path):
    config = make_config(tmp_path, [], media="mirror")
    with Archive.open(config.archive) as archive:
        page = article_page("公开图片", img="/img/a.png")
        result = add_public_page(config, archive, page, files={"/img/a.png": png()})
        assert (result.media.stored, result.media.failed) == (1, 0)
    assert len(media_files(config)) == 1


def test_add_refuses_an_image_on_a_private_host_and_records_why(tmp_path, server):
    server.route("/img/a.png", Reply(body=png()))
    page = article_page("公开网页", img=f"{server.url}/img/a.png")
    config = make_config(tmp_path, [], media="mirror")
    with Archive.open(config.archive) as archive:
        result = add_public_page(config, archive, page)
        assert result.change is Change.NEW
        assert (result.media.stored, result.media.failed) == (0, 1)
        [(_, url, sha, _, error)] = image_rows(archive)
        assert url == f"{server.url}/img/a.png" and sha is None and "non-public" in error
        # Refused for good: no later run tries it again.
        assert archive.pending_images(max_attempts=config.media.retries) == []
    assert server.requests == [] and media_files(config) == []


def test_images_of_added_pages_stay_guarded_on_later_fetches(tmp_path, server):
    """An added page's images are mirrored later by a plain `newsmirror fetch` (here: add
    ran in hotlink mode, then the operator switched to mirroring); the guard still holds
    for them, while the images of trusted articles are mirrored as before."""
    server.route("/img/private.png", Reply(body=png()))
    server.route("/img/trusted.png", Reply(body=png(rgb=(1, 2, 3))))
    server.route("/trusted.html", Reply(body=article_page("内网文章", img="/img/trusted.png")))
    server.route("/feed.xml", Reply(body=rss([])))
    hotlink = make_config(tmp_path, [("内网", [f"{server.url}/feed.xml"])], media="hotlink")
    with Archive.open(hotlink.archive) as archive:
        add_public_page(hotlink, archive, article_page("外部", img=f"{server.url}/img/private.png"))
        add_url(hotlink, archive, f"{server.url}/trusted.html", allow_private=True)
    mirror = make_config(tmp_path, [("内网", [f"{server.url}/feed.xml"])], media="mirror")
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-m", "newsmirror", "-c", tmp_path / "newsmirror.toml", "fetch"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
    assert "/img/private.png" not in [p for p, _ in server.requests]
    assert [p for p, _ in server.requests].count("/img/trusted.png") == 1
    assert len(media_files(mirror)) == 1
    with Archive.open(mirror.archive) as archive:
        rows = {
            url.rsplit("/", 1)[1]: (sha, attempts, error)
            for _, url, sha, attempts, error in image_rows(archive)
        }
    assert rows["trusted.png"][0] is not None
    sha, attempts, error = rows["private.png"]
    assert sha is None and attempts == 1 and "non-public" in error


def test_add_mirrors_only_its_own_images(tmp_path, server):
    server.route(
        "/old.html", Reply(body=article_page("旧文", img="http://nonexistent.invalid/x.png"))
    )
    server.route("/new.html", Reply(body=article_page("新文", img="/img/a.png")))
    server.route("/img/a.png", Reply(body=png()))
    config = make_config(tmp_path, [], media="mirror")
    with Archive.open(config.archive) as archive:
        first = add_url(config, archive, f"{server.url}/old.html", allow_private=True)
        assert first.media.failed == 1
        before = image_rows(archive)
        second = add_url(config, archive, f"{server.url}/new.html", allow_private=True)
        assert (second.media.stored, second.media.failed) == (1, 0)
        after = image_rows(archive)
    old = [row for row in after if row[1] == "http://nonexistent.invalid/x.png"]
    assert old == [row for row in before if row[1] == "http://nonexistent.invalid/x.png"]


def test_an_image_that_cannot_be_fetched_never_makes_add_fail(tmp_path):
    config = make_config(tmp_path, [], media="mirror")
    page = article_page("图片坏了", img="http://nonexistent.invalid/x.png")
    with Archive.open(config.archive) as archive:
        result = add_public_page(config, archive, page)
        assert result.change is Change.NEW
        assert (result.media.stored, result.media.failed) == (0, 1)
        assert "1 failed" in result.media.line()
        assert archive.counts()["articles"] == 1


def test_articles_added_before_the_guard_was_stored_keep_it(tmp_path, server):
    """Migration 5: an archive from before it takes every added article as guarded."""
    server.route("/img/a.png", Reply(body=png()))
    config = make_config(tmp_path, [], media="mirror")
    with Archive.open(config.archive) as archive:
        add_public_page(config, archive, article_page("旧版", img=f"{server.url}/img/a.png"))
        conn = archive.conn
        conn.execute("UPDATE article_media SET refused = 0, attempts = 0")
        conn.execute("ALTER TABLE articles DROP COLUMN net_guard")
        conn.execute("ALTER TABLE article_media DROP COLUMN refused")
        conn.execute("DROP TABLE runs")  # (migration 7)
        conn.execute("ALTER TABLE articles DROP COLUMN imported_text")  # (migration 8)
        conn.execute("ALTER TABLE articles DROP COLUMN imported_version")
        conn.execute("DROP TABLE redirects")  # (migration 9)
        for table in search_tables(conn):  # (migration 10)
            conn.execute(f"DROP TABLE {table}")
        conn.execute("ALTER TABLE search_state DROP COLUMN digest")
        conn.execute("ALTER TABLE revisions DROP COLUMN origin")  # (migration 11)
        conn.execute("DROP INDEX articles_unscanned")  # (migration 12)
        set_schema_version(conn, 4)
    with Archive.open(config.archive) as archive:
        [(guard,)] = archive.conn.execute("SELECT net_guard FROM articles").fetchall()
        assert guard == 1
        assert archive.pending_images(max_attempts=5, guarded=False) == []
        assert len(archive.pending_images(max_attempts=5, guarded=True)) == 1


def test_adding_again_with_allow_private_lifts_the_guard(tmp_path, server):
    """The operator's explicit --allow-private for the same page: its refused images are
    tried again, without the guard."""
    server.route("/img/a.png", Reply(body=png()))
    page = article_page("内网图片", img=f"{server.url}/img/a.png")
    server.route("/story.html", Reply(body=page))
    config = make_config(tmp_path, [], media="mirror")
    with Archive.open(config.archive) as archive:
        public = PublicServer(0, page)
        url = f"http://{FAKE_PUBLIC}:{public.port}/story.html"
        try:
            assert add_url(config, archive, url, guard=Guard(allow=allow_test)).media.failed == 1
            assert server.requests == []
            again = add_url(config, archive, url, allow_private=True)
        finally:
            public.close()
        assert (again.media.stored, again.media.failed) == (1, 0)
    assert len(media_files(config)) == 1


@pytest.mark.parametrize("url", ["ftp://example.org/x", "http://:80/story", "https://@/story"])
def test_a_refused_url_says_why_and_what_to_give(tmp_path, url):
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive, pytest.raises(AddError) as info:
        add_url(config, archive, f"  {url} ")
    assert info.value.message == f"not an http(s) URL: {url!r}"
    assert info.value.hint == "Give the address of an article page, starting with https://."
    assert info.value.exit_code == 1


def test_a_page_that_cannot_be_fetched_is_named_with_the_reason(tmp_path, server):
    config = make_config(tmp_path, [])
    url = f"{server.url}/gone.html"
    with Archive.open(config.archive) as archive:
        with pytest.raises(AddError) as info:
            add_url(config, archive, url, allow_private=True)
        assert archive.counts()["articles"] == 0
    assert info.value.message == f"cannot fetch {url}: HTTP 404 Not Found"


@pytest.mark.parametrize(
    ("body", "kind", "said"),
    [
        (png(), "image/png", "its bytes are a PNG image (image/png)"),
        (png(), "text/html", "its bytes are a PNG image (text/html)"),  # a mislabelled file
        (b"%PDF-1.7\n...", "application/pdf", "its bytes are a PDF document (application/pdf)"),
        (b"\x00\x01binary", "application/octet-stream", "it is served as application/octet-stream"),
        (b"ID3\x03 mp3", "audio/mpeg", "it is served as audio/mpeg"),
    ],
)
def test_a_file_that_is_no_web_page_is_refused_and_nothing_stored(
    tmp_path, server, body, kind, said
):
    # `add` of an image's address archived it as an article whose text was the PNG's bytes
    server.route("/file", Reply(200, body, {"Content-Type": kind}))
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive:
        with pytest.raises(ExtractionError) as info:
            add_url(config, archive, f"{server.url}/file", allow_private=True)
        assert archive.counts()["articles"] == 0
    assert info.value.message == f"not a web page: {said}"
    assert info.value.hint == "Give the address of the article's web page."


def test_a_page_served_with_a_wrong_type_is_still_read(tmp_path, server):
    page = article_page("标题", ARTICLE_TEXT)
    server.route("/p", Reply(200, page, {"Content-Type": "image/jpeg"}))
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive:
        added = add_url(config, archive, f"{server.url}/p", allow_private=True)
        assert added.title == "标题"


def test_add_uses_the_configured_source_and_the_final_address(tmp_path, server):
    """A page of a configured source: its selector, time zone and the [content] iframe
    hosts apply; the server's charset wins over the page's; relative images resolve
    against the address the redirects ended at; the result names the stored article."""
    page = (
        article_page("配置的来源", img="pic.png", charset="gbk")
        .replace(b'charset="gbk"', b'charset="windows-1251"')
        .replace(
            b"<p>",
            b'<iframe src="https://player.example.org/v/1"></iframe>'
            b'<iframe src="https://www.youtube.com/embed/x"></iframe>'
            b'<div class="share-box">share-box</div><p>',
            1,
        )
    )
    server.route("/go", Reply(302, b"", headers={"Location": "/news/2024/story.html"}))
    server.route(
        "/news/2024/story.html",
        Reply(body=page, headers={"Content-Type": "text/html; charset=gbk"}),
    )
    server.route("/news/2024/pic.png", Reply(body=png()))
    extra = 'retries = 1\n[content]\niframe_hosts = ["player.example.org"]\n'
    config = make_config(
        tmp_path,
        [("站", [f"{server.url}/feed.xml"])],
        extra,
        media="mirror",
        source_extra='selector = "article"\ntimezone = "Europe/Berlin"',
    )
    with Archive.open(config.archive) as archive:
        result = add_url(config, archive, f"{server.url}/go", source="站", allow_private=True)
        [art] = list(archive.iter_articles())
        rows = image_rows(archive)
    assert (result.article_id, result.title, result.source) == (art.id, "配置的来源", "站")
    assert (art.title, art.source, art.timezone) == ("配置的来源", "站", "Europe/Berlin")
    assert (result.media.stored, result.media.failed) == (1, 0)
    assert [row[1] for row in rows] == [f"{server.url}/news/2024/pic.png"]
    assert art.content.count(ARTICLE_TEXT) == 2 and "share-box" in art.content  # the selector
    assert "https://player.example.org/v/1" in art.content
    assert "youtube.com" not in art.content


@pytest.mark.parametrize("date", [None, "2024-03-01"])
def test_a_page_without_a_full_date_is_dated_when_added(tmp_path, server, date):
    """No date: the article is dated when it was added (a date without a time zone is
    read in Asia/Shanghai on a Chinese page); a page without a title is named by its
    address."""
    stamp = b"2024-03-01T08:00:00+08:00"
    page = article_page("")
    page = page.replace(stamp, date.encode()) if date else page.replace(stamp, b"")
    server.route("/story.html", Reply(body=page))
    config = make_config(tmp_path, [])
    url = f"{server.url}/story.html"
    with Archive.open(config.archive) as archive:
        result = add_url(config, archive, url, allow_private=True)
        [art] = list(archive.iter_articles())
    assert result.title == art.title == url
    assert art.source == result.source == "127.0.0.1"  # no --source: the host's name
    if date:  # a day without a zone on a Chinese page: midnight in Asia/Shanghai
        assert art.published.isoformat() == "2024-02-29T16:00:00+00:00"
    else:
        assert art.published == art.first_seen


def test_refetch_keeps_the_guard_for_pages_of_added_articles(tmp_path, server):
    """`refetch` fetches an added article's page through the guard on every hop: a page
    that now redirects into the intranet is refused and recorded as that page's failure,
    while the pages of trusted articles are fetched again as before."""
    from newsmirror.fulltext import refetch

    server.route("/secret", Reply(body=article_page("内网机密")))
    server.route("/trusted.html", Reply(body=article_page("内网文章")))
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive:
        public = PublicServer(0, article_page("公开文章"))
        add_url(
            config,
            archive,
            f"http://{FAKE_PUBLIC}:{public.port}/story.html",
            guard=Guard(allow=allow_test),
        )
        public.close()
        add_url(config, archive, f"{server.url}/trusted.html", allow_private=True)
        before = {art.url: art.content for art in archive.iter_articles()}
        moved = PublicServer(public.port, b"", location=f"{server.url}/secret")
        try:
            pages, _media = refetch(config, archive, guard=Guard(allow=allow_test))
        finally:
            moved.close()
        rows = dict(archive.conn.execute("SELECT url, page_error FROM articles"))
        after = {art.url: art.content for art in archive.iter_articles()}
    assert [path for path, _ in server.requests] == ["/trusted.html", "/trusted.html"]
    assert moved.hits == [("/story.html", f"{FAKE_PUBLIC}:{public.port}")]
    assert (pages.fetched, pages.failed) == (1, 1)
    public_url = f"http://{FAKE_PUBLIC}:{public.port}/story.html"
    assert "127.0.0.1 is a non-public address" in rows[public_url]
    assert rows[f"{server.url}/trusted.html"] is None
    assert after == before
