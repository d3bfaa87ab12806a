"""The archive: one article per URL, revisions on change, nothing on an unchanged refetch."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import Reply, make_config, rss
from newsmirror.decide import Change, classify_entry
from newsmirror.models import FeedState, StoredArticle
from newsmirror.pipeline import update
from newsmirror.store import Archive
from newsmirror.urls import canonical_url

ITEM = {
    "title": "原标题",
    "link": "https://e.org/a?utm_source=rss",
    "guid": "id-1",
    "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
    "content": "<p>第一版</p>",
}


def dump(archive: Archive) -> list[tuple]:
    return archive.conn.execute("SELECT * FROM articles ORDER BY id").fetchall()


def test_unchanged_refetch_changes_nothing_and_change_makes_revision(tmp_path, server):
    feed = {"body": rss([ITEM])}
    server.route("/f", lambda _h: Reply(body=feed["body"]))
    config = make_config(tmp_path, [("src", [server.url + "/f"])])
    with Archive.open(config.archive) as archive:
        assert update(config, archive).new == 1
        before = dump(archive)
        # The same items in a different byte layout (so the feed is re-parsed).
        feed["body"] = rss([ITEM], title="Other channel title")
        second = update(config, archive)
        assert (second.new, second.updated) == (0, 0)
        assert dump(archive) == before
        feed["body"] = rss([{**ITEM, "title": "新标题", "content": "<p>第二版</p>"}])
        third = update(config, archive)
        assert (third.new, third.updated) == (0, 1)
        [art] = list(archive.iter_articles())
        assert (art.title, art.content, art.version) == ("新标题", "<p>第二版</p>", 2)
        assert archive.revisions(art.id)[0][:2] == (1, "原标题")
        assert [h.title for h in archive.search("第二版")] == ["新标题"]
        assert archive.search("第一版") == []
        assert archive.check() == []


def test_same_article_matched_by_guid_and_by_canonical_url(tmp_path, server):
    moved = {**ITEM, "link": "https://e.org/moved"}
    encoded = {**ITEM, "guid": "other", "link": "HTTPS://E.ORG:443/a#comments"}
    server.route("/f", Reply(body=rss([ITEM, moved, encoded])))
    config = make_config(tmp_path, [("src", [server.url + "/f"])])
    with Archive.open(config.archive) as archive:
        update(config, archive)
        assert len(list(archive.iter_articles())) == 1


def test_canonical_url_forms():
    assert canonical_url("https://E.org/中文?utm_source=x&a=1#f") == canonical_url(
        "https://e.org/%e4%b8%ad%e6%96%87?a=1"
    )
    assert canonical_url("http://e.org:80") == "http://e.org/"
    assert canonical_url("https://e.org/a?b=2&a=1") != canonical_url("https://e.org/a?a=1&b=2")


def test_classify_entry():
    old = StoredArticle(1, "t", "a", "<p>c</p>", 1)
    assert classify_entry(None, title="t", author="a", content="") is Change.NEW
    assert classify_entry(old, title="t", author="a", content="<p>c</p>") is Change.UNCHANGED
    assert classify_entry(old, title="t2", author="a", content="<p>c</p>") is Change.CHANGED
    assert classify_entry(old, title="t", author="a", content="") is Change.UNCHANGED


def test_chinese_search_short_and_long_words(archive):
    from newsmirror.config import Source
    from newsmirror.parse import Entry

    archive.sync_sources([Source("s", ("https://e.org/f",))])
    now = datetime(2024, 1, 1, tzinfo=UTC)
    entries = [
        Entry(f"https://e.org/{i}", "", title, "a", f"<p>{body}</p>", now, "")
        for i, (title, body) in enumerate(
            [
                ("拜登会见习近平", "两国元首在旧金山会谈"),
                ("台湾选举", "民进党赢得选举，100% 完成"),
            ]
        )
    ]
    archive.store_entries("s", "https://e.org/f", entries, state=FeedState(), started=now, now=now)
    assert [h.title for h in archive.search("拜登")] == ["拜登会见习近平"]
    assert [h.title for h in archive.search("旧金山")] == ["拜登会见习近平"]
    assert [h.title for h in archive.search("民进党 选举")] == ["台湾选举"]
    assert [h.title for h in archive.search("100%")] == ["台湾选举"]
    assert archive.search("拜登 民进党") == []
    assert archive.search('"') == []


def test_newer_schema_is_refused(tmp_path):
    import sqlite3

    import pytest

    from newsmirror.errors import ArchiveError

    path = tmp_path / "a.sqlite"
    Archive.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ArchiveError, match="newer"):
        Archive.open(path)


def test_not_a_database_is_a_clear_error(tmp_path):
    import pytest

    from newsmirror.errors import ArchiveError

    path = tmp_path / "a.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ArchiveError, match="cannot open archive"):
        Archive.open(path)


def test_full_disk_is_a_clear_error_and_nothing_is_half_written(tmp_path, server):
    import pytest

    from newsmirror.errors import ArchiveError

    body = "<p>" + "长" * 20000 + "</p>"
    items = [
        {**ITEM, "link": f"https://e.org/{i}", "guid": f"g{i}", "content": body} for i in range(50)
    ]
    server.route("/f", Reply(body=rss(items)))
    config = make_config(tmp_path, [("src", [server.url + "/f"])])
    with Archive.open(config.archive) as archive:
        archive.sync_sources(config.sources)
        pages = archive.conn.execute("PRAGMA page_count").fetchone()[0]
        archive.conn.execute(f"PRAGMA max_page_count = {pages + 20}")
        with pytest.raises(ArchiveError, match="full") as info:
            update(config, archive)
        assert "disk is full" in info.value.hint
        assert archive.counts()["articles"] == 0
        assert archive.check() == []
    with Archive.open(config.archive) as archive:
        assert update(config, archive).new == 50
