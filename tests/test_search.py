"""`newsmirror search` and the archive's full-text index, on real SQLite files.

The index (FTS5, trigram) answers words of three or more characters; shorter words
are matched by substring (LIKE). Both must find exactly what a reader typed, in order,
and stay right after articles change.
"""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from newsmirror.cli import cli
from newsmirror.config import Source
from newsmirror.models import Entry, FeedState, SearchHit
from newsmirror.store import Archive

FEED = "https://feeds.example/f"
T0 = datetime(2024, 1, 1, 4, 30, tzinfo=UTC)


def _store(archive: Archive, items: list[tuple[str, str]], *, source: str = "新闻", day: int = 1):
    """Store (title, body) items; item i is published on ``day`` + i (later = newer)."""
    archive.sync_sources([Source(source, (FEED,), timezone="Asia/Shanghai")])
    entries = [
        Entry(
            f"https://e.org/{source}/{day + i}",
            f"g{day + i}",
            title,
            "作者",
            f"<p>{body}</p>",
            T0.replace(day=day + i),
            "",
        )
        for i, (title, body) in enumerate(items)
    ]
    archive.store_entries(source, FEED, entries, state=FeedState(), started=T0, now=T0)


def _titles(archive: Archive, query: str) -> list[str]:
    return [h.title for h in archive.search(query)]


def test_hits_carry_every_field_newest_first(archive):
    _store(archive, [("旧闻 economy", "body one"), ("新闻 economy", "body two")])
    ids = [r[0] for r in archive.conn.execute("SELECT id FROM articles ORDER BY id")]
    assert archive.search("economy") == [
        SearchHit(ids[1], T0.replace(day=2), "新闻", "新闻 economy", "https://e.org/新闻/2"),
        SearchHit(ids[0], T0.replace(day=1), "新闻", "旧闻 economy", "https://e.org/新闻/1"),
    ]
    other = Source("NYT", (FEED + "2",), timezone="America/New_York")
    archive.sync_sources([other])
    entry = Entry("https://e.org/ny", "", "economy report", "", "<p>x</p>", T0, "")
    archive.store_entries("NYT", FEED + "2", [entry], state=FeedState(), started=T0, now=T0)
    assert archive.search("report")[0].timezone == "America/New_York"


def test_several_long_words_must_all_match(archive):
    # No article text contains the word "and": the words are joined by FTS5's AND.
    _store(archive, [("拜登会见习近平", "两国元首在旧金山会谈"), ("习近平访问欧洲", "巴黎会谈")])
    assert _titles(archive, "习近平 旧金山") == ["拜登会见习近平"]
    assert _titles(archive, "习近平 会谈") == ["习近平访问欧洲", "拜登会见习近平"]
    assert _titles(archive, "习近平 柏林墙") == []


def test_words_with_quotes_and_like_wildcards_are_literal(archive):
    _store(
        archive,
        [
            ('He said "yes" loudly', "quoted"),
            ('Screen 12" wide', "inches"),
            ("涨幅 50 点", "五十"),
            ("涨幅 5% 点", "百分之五"),
            ("a_b 下划线", "x"),
            ("axb 字母", "y"),
        ],
    )
    assert _titles(archive, '"yes"') == ['He said "yes" loudly']
    assert _titles(archive, 'said "yes"') == ['He said "yes" loudly']
    assert _titles(archive, '12"') == ['Screen 12" wide']
    assert _titles(archive, '"12') == []
    assert _titles(archive, "5%") == ["涨幅 5% 点"]
    assert _titles(archive, "a_") == ["a_b 下划线"]
    assert _titles(archive, "%") == ["涨幅 5% 点"]


def test_three_letter_words_use_the_index_which_folds_case(archive):
    """Words of three characters go to the trigram index, which folds the case of
    every alphabet (SQLite's LIKE folds only ASCII)."""
    _store(archive, [("Été à Paris", "vacances"), ("Hiver", "froid")])
    assert _titles(archive, "ÉTÉ") == ["Été à Paris"]
    assert _titles(archive, "été") == ["Été à Paris"]
    assert _titles(archive, "PARIS") == ["Été à Paris"]


def test_limit_defaults_to_twenty_newest(archive):
    _store(archive, [(f"第{i}篇 report", "正文") for i in range(21)])
    hits = archive.search("report")
    assert len(hits) == 20
    assert hits[0].title == "第20篇 report" and hits[-1].title == "第1篇 report"
    assert [h.title for h in archive.search("report", limit=2)] == [
        "第20篇 report",
        "第19篇 report",
    ]


def test_changed_article_is_found_by_its_new_words_only(archive):
    _store(archive, [("标题", "第一版 original wording")])
    assert _titles(archive, "original") == ["标题"]
    _store(archive, [("新标题", "第二版 replacement wording")])
    assert archive.pending_index() == 1
    assert _titles(archive, "original") == []
    assert _titles(archive, "replacement") == ["新标题"]
    assert _titles(archive, "wording") == ["新标题"]
    assert archive.check() == []
    assert archive.conn.execute("SELECT count(*) FROM articles_fts").fetchone()[0] == 1


def test_update_index_counts_every_batch_and_resumes(archive):
    _store(archive, [(f"t{i}", f"body {i}") for i in range(5)])
    assert archive.pending_index() == 5
    assert archive.update_index(batch=2) == 5
    assert archive.pending_index() == 0
    assert archive.update_index(batch=2) == 0
    _store(archive, [(f"u{i}", f"body {i}") for i in range(4)], day=10)
    assert archive.update_index(batch=2) == 4
    assert archive.update_index() == 0


def test_search_without_refresh_sees_only_the_indexed_articles(archive):
    _store(archive, [("first", "alpha text")])
    assert _titles(archive, "alpha") == ["first"]
    _store(archive, [("second", "alpha again")], day=5)
    assert [h.title for h in archive.search("alpha", refresh=False)] == ["first"]
    assert _titles(archive, "alpha") == ["second", "first"]


def test_search_command_prints_local_dates_sources_and_count(tmp_path):
    path = tmp_path / "archive.sqlite"
    with Archive.open(path) as archive:
        _store(archive, [("拜登会见习近平", "旧金山"), ("习近平访问欧洲", "巴黎")])
    result = CliRunner().invoke(cli, ["--archive", str(path), "search", "习近平"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2024-01-02 12:30 CST\t新闻\t习近平访问欧洲\thttps://e.org/新闻/2",
        "2024-01-01 12:30 CST\t新闻\t拜登会见习近平\thttps://e.org/新闻/1",
    ]
    assert result.stderr.splitlines() == ["indexing 2 new or changed articles…", "2 results"]
    result = CliRunner().invoke(cli, ["--archive", str(path), "search", "-n", "1", "习近平"])
    assert result.stdout.splitlines() == [
        "2024-01-02 12:30 CST\t新闻\t习近平访问欧洲\thttps://e.org/新闻/2"
    ]
    assert result.stderr.splitlines() == ["1 results"]
