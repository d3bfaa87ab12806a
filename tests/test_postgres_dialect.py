"""The PostgreSQL archive's own parts: the SQL translation (store/dialect.py) checked on
the real server against SQLite's answers, writers in two processes at once, and a
password that never shows in a message.

Tests marked ``postgres`` need a server (``NEWSMIRROR_TEST_PG``, default
``postgresql:///newsmirror_test``) and skip without one, unless NEWSMIRROR_REQUIRE_PG=1.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Reply, make_config, rss
from newsmirror.config import shown_url
from newsmirror.errors import ArchiveError
from newsmirror.store import Archive
from newsmirror.store.dialect import PgConnection, to_postgres
from pgharness import Schemas, require_server

# -- the translation, as text ------------------------------------------------------------

# Plain SQL text with none of the words the translation rewrites (no "in", no "instr").
PLAIN = st.text(alphabet=" ,=+-*/<>()0123456789_abcxyz中文\n\t", max_size=12)
QUOTED_TEXT = st.text(alphabet="?%'\"ab 中\\;", max_size=8)


@st.composite
def statements(draw: st.DrawFn) -> tuple[str, str]:
    """A statement of plain text, placeholders, ``%`` operators and quoted text (strings
    and names holding ``?`` and ``%``), with the PostgreSQL spelling expected: a ``?``
    in quotes is text, a ``%`` anywhere doubles (psycopg reads it inside quotes too)."""
    sql, expected = [], []
    for kind in draw(st.lists(st.sampled_from("p?%sn"), max_size=12)):
        if kind == "p":
            text = draw(PLAIN)
            sql.append(text)
            expected.append(text)
        elif kind == "?":
            sql.append("?")
            expected.append("%s")
        elif kind == "%":
            sql.append(" % ")
            expected.append(" %% ")
        else:
            mark = "'" if kind == "s" else '"'
            body = draw(QUOTED_TEXT).replace(mark, mark * 2)
            quoted = f" {mark}{body}{mark} "
            sql.append(quoted)
            expected.append(quoted.replace("%", "%%"))  # psycopg reads % in quotes too
    return "SELECT " + "".join(sql), "SELECT " + "".join(expected)


@given(statements())
def test_placeholders_outside_quotes_become_s_and_every_percent_doubles(case):
    sql, expected = case
    assert to_postgres(sql) == expected
    assert to_postgres(sql, params=False) == sql  # run without parameters: as written


def test_insert_or_ignore_gets_on_conflict_do_nothing():
    sql = "INSERT OR IGNORE INTO tags (name) VALUES (?);"
    assert to_postgres(sql) == "INSERT INTO tags (name) VALUES (%s) ON CONFLICT DO NOTHING"
    quoted = "INSERT INTO t (x) VALUES ('INSERT OR IGNORE INTO')"
    assert to_postgres(quoted, params=False) == quoted


# -- the translation, run on the server and compared with SQLite -------------------------


@pytest.fixture(scope="module")
def pg():
    """One connection for the module, in a schema of its own."""
    require_server()
    schemas = Schemas()
    conn = PgConnection(schemas.new())
    yield conn
    conn.close()
    schemas.close()


def _both(pg: PgConnection, setup: list[str]):
    """A fresh SQLite database and the same tables on PostgreSQL (a temporary table)."""
    lite = sqlite3.connect(":memory:")
    for statement in setup:
        lite.execute(statement)
        pg.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE"))
    return lite


VALUES = st.text(alphabet="?%'\\ab中", max_size=6)


@pytest.mark.postgres
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(st.tuples(st.booleans(), VALUES), min_size=1, max_size=6))
def test_translated_statement_gives_sqlites_values_on_the_server(pg, items):
    """Parameters and quoted literals holding ``?`` and ``%``, and a ``%`` operator: the
    server returns what SQLite returns for the statement as written."""
    parts, params = [], []
    for as_param, value in items:
        if as_param:
            parts.append("?")
            params.append(value)
        else:
            parts.append("'" + value.replace("'", "''") + "'")
    sql = "SELECT " + ", ".join(parts) + ", 17 % 5"
    expected = sqlite3.connect(":memory:").execute(sql, params).fetchone()
    assert pg.execute(sql, params).fetchone() == expected


@pytest.mark.postgres
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.one_of(st.none(), st.integers(-3, 3)), max_size=6),
    listed=st.lists(st.integers(-3, 3), max_size=3),
    negate=st.booleans(),
)
def test_in_lists_empty_or_not_select_what_sqlite_selects(pg, rows, listed, negate):
    """``x IN (...)``/``x NOT IN (...)``, the empty list included, NULLs in the column:
    same rows on both engines (SQLite: nothing is in ``()``, NULL is NOT IN ``()``)."""
    pg.execute("DROP TABLE IF EXISTS nums")
    lite = _both(pg, ["CREATE TABLE nums (id INTEGER, x INTEGER, t TEXT)"])
    for i, value in enumerate(rows):
        for conn in (lite, pg):
            conn.execute(
                "INSERT INTO nums VALUES (?, ?, ?)",
                (i, value, None if value is None else str(value)),
            )
    op = "NOT IN" if negate else "IN"
    marks = ", ".join("?" * len(listed))
    for column, args in (("x", listed), ("t", [str(v) for v in listed])):
        sql = f"SELECT id FROM nums WHERE {column} {op} ({marks}) ORDER BY id"
        want = [r[0] for r in lite.execute(sql, args).fetchall()]
        got = [r[0] for r in pg.execute(sql, args or None).fetchall()]
        assert got == want, sql


@pytest.mark.postgres
def test_insert_or_ignore_keeps_the_first_row_on_the_server(pg):
    pg.execute("DROP TABLE IF EXISTS names")
    pg.execute("CREATE TEMP TABLE names (name TEXT PRIMARY KEY, n INTEGER)")
    for n in (1, 2):
        pg.execute("INSERT OR IGNORE INTO names (name, n) VALUES (?, ?)", ("甲", n))
    assert pg.execute("SELECT name, n FROM names").fetchall() == [("甲", 1)]


# -- two writers at once -------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from newsmirror.config import load_config
    from newsmirror.pipeline import update
    from newsmirror.store import Archive

    def hold(save):
        def saving(*args, **kwargs):  # the feed's articles are written, not committed
            save(*args, **kwargs)
            print("holding", flush=True)
            sys.stdin.readline()
        return saving

    config = load_config(Path(sys.argv[2]))
    with Archive.open(sys.argv[1]) as archive:
        if sys.argv[3] == "hold":
            archive._save_feed_state = hold(archive._save_feed_state)
        print("ready", flush=True)
        sys.stdin.readline()
        print(update(config, archive).line(), flush=True)
    """
)


def _writer(url: str, config_path: Path, role: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "NEWSMIRROR_ARCHIVE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(config_path), role],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _go(proc: subprocess.Popen[str]) -> None:
    proc.stdin.write("go\n")
    proc.stdin.flush()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_storing_the_same_feed_at_once_store_each_article_once(tmp_path, server):
    """One process has written a feed's articles and not yet committed when another
    stores the same feed: the second waits for the first, then finds every article
    stored (no duplicate, no unique-key error)."""
    require_server()
    items = [
        {"title": f"同时{i}", "link": f"https://e.org/{i}", "content": f"<p>正文{i}</p>"}
        for i in range(20)
    ]
    server.route("/f", Reply(body=rss(items)))
    config = make_config(tmp_path, [("源", [server.url + "/f"])])
    schemas = Schemas()
    try:
        url = schemas.new()
        first = _writer(url, config.path, "hold")
        second = _writer(url, config.path, "store")
        _go(first)
        assert first.stdout.readline().strip() == "holding", first.stderr.read()
        _go(second)
        time.sleep(1.0)  # the second has fetched the feed and is storing it
        _go(first)  # the first commits
        results = [proc.communicate(timeout=60) for proc in (first, second)]
        assert [p.returncode for p in (first, second)] == [0, 0], results
        assert "20 new" in results[0][0] and "0 new" in results[1][0], results
        with Archive.open(url, create=False) as archive:
            rows = archive.conn.execute(
                "SELECT url, count(*) FROM articles GROUP BY url ORDER BY url"
            ).fetchall()
            assert archive.check() == []
        assert sorted(u for u, _ in rows) == sorted(f"https://e.org/{i}" for i in range(20))
        assert {n for _, n in rows} == {1}
    finally:
        schemas.close()


# -- a password never shows ----------------------------------------------------------------

SECRET = st.text(alphabet="abc%@:/?&=#' 中", min_size=1, max_size=10)


@given(SECRET)
def test_shown_url_hides_the_password_wherever_the_url_puts_it(secret):
    from urllib.parse import quote

    encoded = quote(secret, safe="")
    for template in (
        "postgresql://mirror:{}@db.example:5432/news",
        "postgresql://mirror:{}@[::1]/news?sslmode=require",
        "postgresql:///news?user=mirror&password={}&host=db",
        "postgresql:///news?host=db&PASSWORD={}",
    ):
        assert shown_url(template.format(encoded)) == template.format("***")
    raw = f"postgres://mirror:{secret}@db/news"  # not even encoded
    assert shown_url(raw) == "postgres://mirror:***@db/news"
    assert shown_url("postgresql://mirror@db:5432/news") == "postgresql://mirror@db:5432/news"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://mirror:Se%zzcret@127.0.0.1:1/news",  # a bad %-escape libpq repeats
        "postgresql://mirror:Se%25cret@127.0.0.1:1/news",  # nothing listens
        "postgresql:///news?host=127.0.0.1&port=1&password=Se%25cret",
        "postgresql://mirror:Se%25cret@127.0.0.1:notaport/news",
    ],
)
def test_a_password_never_appears_in_an_error(url, tmp_path):
    with pytest.raises(ArchiveError) as info:
        Archive.open(url)
    text = f"{info.value.message} {info.value.hint}"
    assert "cannot connect to the archive database" in text
    assert "Se%" not in text and "Secret" not in text and "Se%25cret" not in text, text
    done = subprocess.run(
        [sys.executable, "-m", "newsmirror", "sources"],
        capture_output=True,
        text=True,
        env={**os.environ, "NEWSMIRROR_ARCHIVE_URL": url},
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 4, done.stderr
    assert "Se%" not in done.stderr and "cret" not in done.stderr, done.stderr
