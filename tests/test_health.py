"""The run's bookkeeping: feed state, fetch log and source health, written once per run.

An hourly run that finds nothing new should leave the archive as it was but for
one small record of the check (issue 12: the idle run writes nothing else).
"""

from __future__ import annotations

import dataclasses

from conftest import Reply, make_config, rss
from newsmirror.pipeline import update
from newsmirror.store import Archive

ITEM = {"title": "标题", "link": "https://e.org/a", "content": "<p>正文</p>"}


def _writes(archive: Archive, action) -> list[str]:
    """The write transactions ``action`` opens on the archive."""
    seen: list[str] = []
    archive.conn.set_trace_callback(seen.append)
    try:
        action()
    finally:
        archive.conn.set_trace_callback(None)
    return [s for s in seen if s.startswith("BEGIN")]


def test_an_idle_run_is_one_write_with_every_feeds_check(tmp_path, server):
    tags = {"/a": '"a1"', "/b": '"b1"'}

    def feed(handler):
        tag = tags[handler.path]
        if handler.headers.get("If-None-Match") == tag:
            return Reply(304, headers={"ETag": tag})
        return Reply(
            body=rss([{**ITEM, "link": f"https://e.org{handler.path}"}]), headers={"ETag": tag}
        )

    server.route("/a", feed)
    server.route("/b", feed)
    server.route("/gone", Reply(410, b"gone"))
    feeds = [("甲", [server.url + "/a", server.url + "/gone"]), ("乙", [server.url + "/b"])]
    config = make_config(tmp_path, feeds, extra="retries = 0\n")
    with Archive.open(config.archive) as archive:
        update(config, archive)
        assert len(_writes(archive, lambda: update(config, archive))) == 1
        rows = archive.conn.execute(
            "SELECT s.name, l.feed_url, l.outcome, l.http_status, l.error FROM fetch_log l"
            " JOIN sources s ON s.id = l.source_id WHERE l.id > 3 ORDER BY l.feed_url"
        ).fetchall()
        health = {h.name: h for h in archive.health()}
    assert rows == [
        ("甲", server.url + "/a", "not_modified", 304, None),
        ("乙", server.url + "/b", "not_modified", 304, None),
        ("甲", server.url + "/gone", "failed", 410, "HTTP 410 Gone"),
    ]
    assert health["甲"].consecutive_failures == 2 and "HTTP 410" in health["甲"].last_error
    assert health["乙"].consecutive_failures == 0 and health["乙"].last_success


def test_the_same_body_under_a_new_etag_keeps_the_new_etag(tmp_path, server):
    sent: list[str | None] = []
    tag = ['"v1"']

    def feed(handler):
        sent.append(handler.headers.get("If-None-Match"))
        if handler.headers.get("If-None-Match") == tag[0]:
            return Reply(304, headers={"ETag": tag[0]})
        return Reply(body=rss([ITEM]), headers={"ETag": tag[0]})

    server.route("/f", feed)
    config = make_config(tmp_path, [("源", [server.url + "/f"])], extra="retries = 0\n")
    with Archive.open(config.archive) as archive:
        update(config, archive)
        tag[0] = '"v2"'  # the server changed its ETag, not the feed
        summary = update(config, archive)
        update(config, archive)
    assert summary.new == 0 and summary.updated == 0
    assert sent == [None, '"v1"', '"v2"']


def test_sources_are_written_only_when_the_config_changed(tmp_path):
    config = make_config(tmp_path, [("源", ["https://e.org/a.xml", "https://e.org/b.xml"])])
    with Archive.open(config.archive) as archive:
        assert len(_writes(archive, lambda: archive.sync_sources(config.sources))) == 1
        assert _writes(archive, lambda: archive.sync_sources(config.sources)) == []
        source = config.sources[0]
        for change in (
            {"feeds": ("https://e.org/a.xml",)},
            {"timezone": "Asia/Taipei"},
            {"tags": ("台湾",)},
            {"enabled": False},
        ):
            source = dataclasses.replace(source, **change)
            assert len(_writes(archive, lambda s=source: archive.sync_sources([s]))) == 1
            assert _writes(archive, lambda s=source: archive.sync_sources([s])) == []
        feeds = archive.conn.execute("SELECT url FROM feeds").fetchall()
        stored = archive.conn.execute("SELECT timezone, tags, enabled FROM sources").fetchall()
    assert feeds == [("https://e.org/a.xml",)]
    assert stored == [("Asia/Taipei", '["台湾"]', 0)]
