"""Revisions: every replaced title, author or body is kept; nothing else makes one.

Through the real commands (``newsmirror fetch``/``refetch`` and the pipeline's
``update``) against local servers whose feeds and pages change.
"""

from __future__ import annotations

import itertools

from click.testing import CliRunner

from conftest import ARTICLE_TEXT, Reply, article_page, make_config, rss
from newsmirror.cli import cli
from newsmirror.pipeline import update
from newsmirror.store import Archive

NEW_TEXT = "更正后的报道内容，记者补充了新的细节与当局的回应。" * 20


def revisions(archive: Archive, article_id: int) -> list[tuple[int, str, str, str]]:
    return archive.conn.execute(
        "SELECT version, title, author, content FROM revisions WHERE article_id = ?"
        " ORDER BY version",
        (article_id,),
    ).fetchall()


def nm(config, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-c", str(config.path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_refetch_keeps_the_replaced_feed_text_as_a_revision(tmp_path, server):
    """A full feed text replaced by a changed page on ``refetch`` is kept, not lost."""
    feed_body = f"<p>{ARTICLE_TEXT}</p>"
    item = {"title": "报道", "link": f"{server.url}/news/1.html", "content": feed_body}
    server.route("/feed", Reply(body=rss([item])))
    server.route("/news/1.html", Reply(body=article_page("报道", body=ARTICLE_TEXT)))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    nm(config, "fetch")
    with Archive.open(config.archive) as archive:
        [art] = list(archive.iter_articles())
        assert (art.content, art.version) == (feed_body, 1)  # a full feed text: no page fetched
    # The page now carries a corrected, longer text.
    server.route("/news/1.html", Reply(body=article_page("报道", body=NEW_TEXT)))
    out = nm(config, "refetch")
    assert "(1 changed)" in out
    with Archive.open(config.archive) as archive:
        [art] = list(archive.iter_articles())
        assert NEW_TEXT[:30] in art.content and art.version == 2
        assert revisions(archive, art.id) == [(1, "报道", "源", feed_body)]
    # Refetching the unchanged page keeps everything as it is.
    nm(config, "refetch")
    with Archive.open(config.archive) as archive:
        [again] = list(archive.iter_articles())
        assert (again.version, again.content) == (2, art.content)
        assert len(revisions(archive, art.id)) == 1


def test_first_page_fill_keeps_the_teaser_as_a_revision(tmp_path, server):
    teaser = "这是摘要……阅读全文"
    item = {"title": "摘要", "link": f"{server.url}/news/2.html", "description": teaser}
    server.route("/feed", Reply(body=rss([item])))
    server.route("/news/2.html", Reply(body=article_page("摘要")))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        assert summary.pages.extracted == 1 and summary.pages.changed == 1
        [art] = list(archive.iter_articles())
        assert ARTICLE_TEXT[:30] in art.content and art.version == 2
        [(version, title, author, content)] = revisions(archive, art.id)
        assert (version, title, author) == (1, "摘要", "源") and teaser in content


def test_same_url_in_two_sources_without_author_stays_put(tmp_path, server):
    """Two sources carrying one URL with no author: the first source keeps it; idle runs
    write nothing (each run's feed bytes differ, as real feeds' build dates do)."""
    item = {
        "title": "同一篇",
        "link": "https://e.org/shared",
        "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
        "content": f"<p>{ARTICLE_TEXT}</p>",
    }
    counter = itertools.count()
    for path in ("/a", "/b"):
        server.route(path, lambda _h: Reply(body=rss([item], title=f"run {next(counter)}")))
    config = make_config(tmp_path, [("甲", [server.url + "/a"]), ("乙", [server.url + "/b"])])
    with Archive.open(config.archive) as archive:
        first = update(config, archive)
        assert first.new == 1
        [art] = list(archive.iter_articles())
        stamp = archive.conn.execute("SELECT updated FROM articles").fetchone()[0]
        for _ in range(4):
            idle = update(config, archive)
            assert (idle.new, idle.updated) == (0, 0)
        [after] = list(archive.iter_articles())
        assert after.version == 1 and revisions(archive, art.id) == []
        assert after.author == art.author and after.source == art.source
        assert archive.conn.execute("SELECT updated FROM articles").fetchone()[0] == stamp


def test_adding_a_changed_page_again_keeps_the_old_text(tmp_path, server):
    from newsmirror.add import add_url
    from newsmirror.decide import Change

    server.route("/s.html", Reply(body=article_page("手动")))
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive:
        url = f"{server.url}/s.html"
        assert add_url(config, archive, url, source="手", allow_private=True).change is Change.NEW
        [old] = list(archive.iter_articles())
        server.route("/s.html", Reply(body=article_page("手动", body=NEW_TEXT)))
        again = add_url(config, archive, url, source="手", allow_private=True)
        assert again.change is Change.CHANGED
        [new] = list(archive.iter_articles())
        assert new.version == 2 and NEW_TEXT[:30] in new.content
        assert revisions(archive, old.id) == [(1, old.title, old.author, old.content)]
