"""`newsmirror search` and the archive's full-text index, on real SQLite files.

A query finds exactly the articles whose folded title or text contain every term
(textsearch's rules: 简/繁 and variants folded), title matches first, then newest; the
index keeps no copy of the text and stays right after articles change or go.
"""

from __future__ import annotations

import html
import json
import os
import sqlite3
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED, FeedServer, Reply, make_config, rss
from newsmirror import textsearch as ts
from newsmirror.cli import cli
from newsmirror.config import Source
from newsmirror.htmltext import plain_text
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
            f"<p>{html.escape(body)}</p>",
            T0.replace(day=day + i),
            "",
        )
        for i, (title, body) in enumerate(items)
    ]
    archive.store_entries(source, FEED, entries, state=FeedState(), started=T0, now=T0)


def _titles(archive: Archive, query: str) -> list[str]:
    return [h.title for h in archive.search(query)]


def _brute_force(archive: Archive, query: str) -> list[tuple[bool, str, int]]:
    """What a query must find, by scanning every article: (not a title match,
    published, id) of each, in the order results are shown."""
    words = ts.terms(query)
    found = []
    for article_id, title, content, published in archive.conn.execute(
        "SELECT id, title, content, published FROM articles"
    ):
        if words and ts.matches(ts.searchable(title, plain_text(content)), words):
            found.append((not ts.matches(ts.fold(title), words), published, article_id))
    found.sort(key=lambda f: (f[0], [-ord(c) for c in f[1]], -f[2]))
    return found


def _ids(archive: Archive, query: str) -> list[int]:
    result = archive.find(query, limit=10_000)
    assert result.total == len(result.hits)
    return [h.id for h in result.hits]


def test_hits_carry_every_field_newest_first(archive):
    _store(archive, [("旧闻", "economy one"), ("新闻", "body two economy")])
    ids = [r[0] for r in archive.conn.execute("SELECT id FROM articles ORDER BY id")]
    assert archive.search("ECONOMY") == [
        SearchHit(
            ids[1],
            T0.replace(day=2),
            "新闻",
            "新闻",
            "https://e.org/新闻/2",
            snippet="body two economy",
            marks=((9, 16),),
        ),
        SearchHit(
            ids[0],
            T0.replace(day=1),
            "新闻",
            "旧闻",
            "https://e.org/新闻/1",
            snippet="economy one",
            marks=((0, 7),),
        ),
    ]
    other = Source("NYT", (FEED + "2",), timezone="America/New_York")
    archive.sync_sources([other])
    entry = Entry("https://e.org/ny", "", "economy report", "", "<p>x</p>", T0, "")
    archive.store_entries("NYT", FEED + "2", [entry], state=FeedState(), started=T0, now=T0)
    [hit] = archive.search("report")
    assert (hit.timezone, hit.title_marks, hit.snippet) == ("America/New_York", ((8, 14),), "x")


def test_title_matches_come_first_then_newest(archive):
    _store(
        archive, [("台湾大选", "正文"), ("无关", "臺灣的选举"), ("另一篇", "台湾"), ("臺灣", "x")]
    )
    assert _titles(archive, "台湾") == ["臺灣", "台湾大选", "另一篇", "无关"]
    result = archive.find("台湾", limit=2, offset=2)
    assert result.total == 4
    assert [h.title for h in result.hits] == ["另一篇", "无关"]


def test_simplified_and_traditional_find_each_other(archive):
    _store(archive, [("習近平訪歐", "巴黎"), ("习近平会见", "北京"), ("学习", "近平")])
    assert _titles(archive, "习近平") == ["习近平会见", "習近平訪歐"]
    assert _titles(archive, "習近平") == ["习近平会见", "習近平訪歐"]
    assert _titles(archive, "裏面") == _titles(archive, "里面") == []


def test_a_query_matches_only_where_its_terms_are_substrings(archive):
    """The pairs of 拜登 are in 參拜 ... 登山 only as characters, not as a pair; and
    a long term's pairs all being there is not enough."""
    _store(
        archive,
        [
            ("參拜靖國神社", "之後去登山"),
            ("拜登会见", "x"),
            ("习近", "平安 and 近平"),
            ("习近平", "x"),
        ],
    )
    assert _titles(archive, "拜登") == ["拜登会见"]
    assert _titles(archive, "拜") == ["拜登会见", "參拜靖國神社"]
    assert _titles(archive, "习近平") == ["习近平"]
    assert archive.find("近平").total == 2


def test_several_words_must_all_match(archive):
    _store(archive, [("拜登会见习近平", "两国元首在旧金山会谈"), ("习近平访问欧洲", "巴黎会谈")])
    assert _titles(archive, "习近平 旧金山") == ["拜登会见习近平"]
    assert _titles(archive, "习近平 会谈") == ["习近平访问欧洲", "拜登会见习近平"]
    assert _titles(archive, "习近平 柏林墙") == []
    assert _titles(archive, "  ") == []


def test_punctuation_quotes_and_wildcards_are_literal(archive):
    _store(
        archive,
        [
            ('He said "yes" loudly', "quoted"),
            ('Screen 12" wide', "inches"),
            ("涨幅 50 点", "五十"),
            ("涨幅 5% 点", "百分之五"),
            ("a_b 下划线", "x"),
            ("axb 字母", "y"),
            ("全角", "百分之百％"),
            ("句号", "完。"),
        ],
    )
    assert _titles(archive, '"yes"') == ['He said "yes" loudly']
    assert _titles(archive, 'said "yes"') == ['He said "yes" loudly']
    assert _titles(archive, '12"') == ['Screen 12" wide']
    assert _titles(archive, '"12') == []
    assert _titles(archive, "5%") == ["涨幅 5% 点"]
    assert _titles(archive, "a_") == ["a_b 下划线"]
    assert _titles(archive, "%") == ["涨幅 5% 点", "全角"]
    assert _titles(archive, "完。") == ["句号"]
    assert _titles(archive, "。") == ["句号"]


def test_case_is_folded_in_every_alphabet(archive):
    _store(archive, [("Été à Paris", "vacances"), ("Hiver", "froid")])
    assert _titles(archive, "ÉTÉ") == ["Été à Paris"]
    assert _titles(archive, "été") == ["Été à Paris"]
    assert _titles(archive, "PARIS") == ["Été à Paris"]


# Simplified, traditional and variant forms, Latin, digits, punctuation, the index's
# own end mark, and white space.
ALPHABET = "习習近平台臺湾灣里裏裡为為着著拜登参參山abAB19,%\"'*。、\U000f0000\U000f0125 "


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    items=st.lists(
        st.tuples(st.integers(0, 5), st.text(ALPHABET, max_size=6), st.text(ALPHABET, max_size=30)),
        min_size=1,
        max_size=6,
    ),
    queries=st.lists(st.text(ALPHABET, min_size=1, max_size=6), min_size=1, max_size=4),
)
def test_results_are_exactly_a_brute_force_scan(archive, items, queries):
    """Random articles (some replacing earlier ones at the same URL, so changed
    articles too) and queries: the results and their order are a full scan's."""
    for slot, title, body in items:
        _store(archive, [(title, body)], day=slot + 1)
    archive.update_index()
    texts = [
        ts.searchable(t, plain_text(c))
        for t, c in archive.conn.execute("SELECT title, content FROM articles")
    ]
    for text in texts[:2]:  # and queries drawn from the articles themselves
        queries += [text[:3], text[1:2], text[-2:]]
    for query in queries:
        expected = [f[2] for f in _brute_force(archive, query)]
        assert _ids(archive, query) == expected, query
    assert archive.check() == []


def test_changed_article_is_found_by_its_new_words_only(archive, archive_backend):
    _store(archive, [("标题", "第一版 original wording")])
    assert _titles(archive, "original") == ["标题"]
    assert _titles(archive, "一版") == ["标题"]
    _store(archive, [("新标题", "第二版 replacement wording")])
    assert archive.pending_index() == 1
    assert _titles(archive, "original") == []
    assert _titles(archive, "一版") == []
    assert _titles(archive, "replacement") == ["新标题"]
    assert _titles(archive, "wording") == ["新标题"]
    assert archive.check() == []
    # The old version's pairs were removed, not only outvoted: nothing is stale.
    assert archive.conn.execute("SELECT count(*) FROM search_stale").fetchone()[0] == 0
    if archive_backend == "sqlite":  # the FTS5 pair index itself
        hits = "SELECT count(*) FROM search_index WHERE search_index MATCH '\"一版\"'"
        assert archive.conn.execute(hits).fetchone()[0] == 0


def test_changed_article_without_its_old_revision_is_still_exact(archive, archive_backend):
    """When the indexed version cannot be made again, its pairs stay in the index:
    the article is then always checked against its text, even for two characters."""
    _store(archive, [("标题", "第一版")])
    assert _titles(archive, "一版") == ["标题"]
    _store(archive, [("标题", "第二版")])
    archive.conn.execute("DELETE FROM revisions")
    assert archive.find("一版").total == 0
    assert _titles(archive, "一版") == []
    assert _titles(archive, "二版") == ["标题"]
    if archive_backend == "sqlite":  # its pairs kept, marked stale (PostgreSQL: refolded)
        assert archive.conn.execute("SELECT article_id FROM search_stale").fetchall() == [(1,)]
    assert archive.check() == []


def test_deleted_article_is_no_longer_found(archive, archive_backend):
    _store(archive, [("留下", "拜登"), ("删除", "拜登")])
    assert _titles(archive, "拜登") == ["删除", "留下"]
    gone = archive.conn.execute("SELECT id FROM articles WHERE title = '删除'").fetchone()[0]
    archive.conn.execute("DELETE FROM search_state WHERE article_id = ?", (gone,))
    archive.conn.execute("DELETE FROM articles WHERE id = ?", (gone,))
    assert archive.search("拜登", refresh=False)[0].title == "留下"
    if archive_backend == "sqlite":  # PostgreSQL's folded text went with the article
        assert archive.check() == ["search index differs from its bookkeeping by -1 rows"]
    assert _titles(archive, "拜登") == ["留下"]
    assert archive.check() == []


def test_update_index_counts_every_batch_and_resumes(archive):
    _store(archive, [(f"t{i}", f"body {i}") for i in range(5)])
    assert archive.pending_index() == 5
    assert archive.update_index(batch=2) == 5
    assert archive.pending_index() == 0
    assert archive.update_index(batch=2) == 0
    _store(archive, [(f"u{i}", f"body {i}") for i in range(4)], day=10)
    assert archive.update_index(batch=2) == 4
    assert archive.update_index() == 0


def test_an_interrupted_catch_up_keeps_its_whole_batches(archive, archive_backend):
    _store(archive, [(f"第{i}篇", "正文") for i in range(5)])
    last = archive.conn.execute("SELECT max(id) FROM articles").fetchone()[0]
    if archive_backend == "sqlite":
        archive.conn.execute(
            "CREATE TEMP TRIGGER stop BEFORE INSERT ON search_state"
            f" WHEN new.article_id = {last} BEGIN SELECT RAISE(ABORT, 'interrupted'); END"
        )
    else:
        archive.conn.execute(
            "CREATE FUNCTION stop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.article_id = {last} THEN RAISE EXCEPTION 'interrupted'; END IF;"
            " RETURN NEW; END $$"
        )
        archive.conn.execute(
            "CREATE TRIGGER stop BEFORE INSERT ON search_state FOR EACH ROW EXECUTE FUNCTION stop()"
        )
    with pytest.raises(Exception, match="interrupted"):
        archive.update_index(batch=2)
    assert archive.pending_index() == 1
    assert archive.check() == []
    archive.conn.execute("DROP TRIGGER stop" + (" ON search_state" * (archive_backend != "sqlite")))
    assert archive.update_index(batch=2) == 1
    assert len(_titles(archive, "正文")) == 5
    assert archive.check() == []


def test_search_without_refresh_sees_only_the_indexed_articles(archive):
    _store(archive, [("first", "alpha text")])
    assert _titles(archive, "alpha") == ["first"]
    _store(archive, [("second", "alpha again")], day=5)
    assert [h.title for h in archive.search("alpha", refresh=False)] == ["first"]
    assert _titles(archive, "alpha") == ["second", "first"]


def test_new_rules_rebuild_the_index(archive):
    _store(archive, [("标题", "正文")])
    assert _titles(archive, "正文") == ["标题"]
    archive.conn.execute("UPDATE search_meta SET value = 'older rules'")
    assert archive.pending_index() == 1
    assert archive.update_index() == 1
    assert _titles(archive, "正文") == ["标题"]
    assert archive.check() == []


def _real_posts() -> list[tuple[str, str]]:
    from newsmirror.jekyll_import import read_post

    posts = sorted((SHARED / "corpus" / "nodebe4-posts").glob("*/_posts/*.md"))
    if not posts:
        pytest.skip("../shared/corpus is not here")
    return [(p.title, p.content) for p in map(read_post, posts)]


@pytest.mark.sqlite_only  # the SQLite file's size
@pytest.mark.slow
def test_index_keeps_no_copy_of_the_text(tmp_path):
    """The index holds no copy of the text: with it, an archive of the real posts (all
    different) is at most 1.35 times its size without it (a copy of the text would
    double it; archives of more articles share more pairs: 1.17 at 3,000)."""
    path = tmp_path / "a.sqlite"
    with Archive.open(path) as archive:
        archive.sync_sources([Source("s", (FEED,))])
        entries = [
            Entry(f"https://e.org/{i}", "", title, "", content, T0, "")
            for i, (title, content) in enumerate(_real_posts())
        ]
        archive.store_entries("s", FEED, entries, state=FeedState(), started=T0, now=T0)
        archive.conn.execute("VACUUM")
        archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = os.path.getsize(path)
        assert archive.update_index() == len(entries)
        archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after = os.path.getsize(path)
        assert _titles(archive, "中国") != []
    assert after <= 1.35 * before, (before, after)


def test_search_command_prints_hits_snippets_and_count(tmp_path):
    path = tmp_path / "archive.sqlite"
    with Archive.open(path) as archive:
        _store(archive, [("拜登会见習近平", "旧金山"), ("访问欧洲", "国家主席习近平抵达巴黎")])
    result = CliRunner().invoke(cli, ["--archive", str(path), "search", "习近平"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2024-01-01 12:30 北京时间\t新闻\t拜登会见習近平\thttps://e.org/新闻/1",
        "    旧金山",
        "2024-01-02 12:30 北京时间\t新闻\t访问欧洲\thttps://e.org/新闻/2",
        "    国家主席[习近平]抵达巴黎",
    ]
    assert result.stderr.splitlines() == ["indexing 2 new or changed articles…", "2 articles"]
    result = CliRunner().invoke(cli, ["--archive", str(path), "search", "-n", "1", "習近平"])
    assert result.stdout.splitlines()[0].endswith("拜登会见習近平\thttps://e.org/新闻/1")
    assert result.stderr.splitlines() == ["2 articles (showing 1-1)"]
    result = CliRunner().invoke(
        cli, ["--archive", str(path), "search", "-n", "1", "--page", "2", "習近平"]
    )
    assert result.stdout.splitlines()[0].endswith("访问欧洲\thttps://e.org/新闻/2")
    assert result.stderr.splitlines() == ["2 articles (showing 2-2)"]
    result = CliRunner().invoke(cli, ["--archive", str(path), "search", "习近平", "巴黎"])
    assert result.stderr.splitlines() == ["1 article"]
    result = CliRunner().invoke(cli, ["--archive", str(path), "search", "--json", "习近平", "巴黎"])
    data = json.loads(result.stdout)
    assert (data["total"], data["page"], data["limit"]) == (1, 1, 20)
    assert data["results"] == [
        {
            "id": 2,
            "title": "访问欧洲",
            "source": "新闻",
            "url": "https://e.org/新闻/2",
            "published": "2024-01-02T12:30:00+08:00",
            "snippet": "国家主席习近平抵达巴黎",
            "marks": [[4, 7], [9, 11]],
            "title_marks": [],
        }
    ]


def test_the_terminal_gets_no_control_characters_from_the_archive(tmp_path):
    """An escape sequence in an article (kept by the sanitiser as text) must not reach
    the reader's terminal: each control character is shown as one U+FFFD."""
    path = tmp_path / "archive.sqlite"
    with Archive.open(path) as archive:
        _store(archive, [("标题", "前\x1b]0;owned\x07 中\x1b[2J 拜登\x9b31m 后")])
    result = CliRunner().invoke(cli, ["--archive", str(path), "search", "拜登"])
    assert result.exit_code == 0, result.output
    assert not any(c in result.stdout for c in "\x1b\x07\x9b")
    assert "    前\ufffd]0;owned\ufffd 中\ufffd[2J [拜登]\ufffd31m 后" in result.stdout


def test_offsets_are_written_as_utc_plus_hours() -> None:
    from datetime import timedelta, timezone

    from newsmirror.timeutil import offset_label

    moment = datetime(2024, 1, 1, tzinfo=UTC)
    assert offset_label(moment) == "UTC"
    assert offset_label(moment.astimezone(timezone(timedelta(hours=8)))) == "UTC+8"
    assert offset_label(moment.astimezone(timezone(timedelta(hours=-3, minutes=-30)))) == (
        "UTC-3:30"
    )
    assert offset_label(moment.astimezone(timezone(timedelta(hours=5, minutes=45)))) == ("UTC+5:45")


def test_a_long_text_shows_a_piece_around_the_match(archive):
    body = "开头" + "很长的正文" * 20 + "台湾选举" + "结尾" * 50
    _store(archive, [("标题", body)])
    [hit] = archive.search("臺灣")
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    start, end = hit.marks[0]
    assert hit.snippet[start:end] == "台湾"
    assert start == 21  # the ellipsis and twenty characters before the match


def test_fetch_source_names_fold_too(tmp_path, server: FeedServer):
    """`fetch -s` finds a source named in the other script (臺灣 for 台湾)."""
    server.route("/a", Reply(body=rss([{"title": "甲", "link": "https://e.org/a"}])))
    server.route("/b", Reply(body=rss([{"title": "乙", "link": "https://e.org/b"}])))
    config = make_config(
        tmp_path, [("台湾新闻", [server.url + "/a"]), ("其他", [server.url + "/b"])]
    )
    assert config.source("臺灣新聞").name == "台湾新闻"
    os.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["fetch", "-s", "臺灣新聞"])
    assert result.exit_code == 0, result.output
    with Archive.open(config.archive) as archive:
        assert [a.title for a in archive.iter_articles()] == ["甲"]
    result = CliRunner().invoke(cli, ["fetch", "-s", "臺灣"])
    assert result.exit_code != 0
    assert "no source named '臺灣'" in result.output


def test_migrated_archive_loses_the_old_copy_of_the_text(tmp_path):
    from newsmirror.store.schema import MIGRATIONS, _apply

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:9]:
        _apply(conn, migration)
    conn.execute("PRAGMA user_version = 9")
    conn.close()
    with Archive.open(path) as archive:
        names = {r[0] for r in archive.conn.execute("SELECT name FROM sqlite_master")}
        assert "articles_fts" not in names and "search_index" in names
