"""Lists of values in the archive's statements on PostgreSQL: `IN (?, ?, …)` travels as
one array parameter, so a build of 100,000 articles stays under PostgreSQL's 65,535
parameters a statement, and IN / NOT IN mean what they mean on SQLite."""

from __future__ import annotations

import sqlite3

import pytest

from newsmirror.store.dialect import PgConnection, pack_lists
from pgharness import Schemas, pg_schemas  # noqa: F401 (fixture)

pytestmark = [pytest.mark.postgres]


def test_a_list_becomes_one_array_parameter_in_its_place() -> None:
    sql, args = pack_lists(
        "SELECT a FROM t WHERE x = ? AND id IN (?, ?, ?) AND y NOT IN (?) AND z = '?' || ?",
        [1, 2, 3, 4, 5, 6],
    )
    assert sql == "SELECT a FROM t WHERE x = ? AND id = ANY(?) AND y <> ALL(?) AND z = '?' || ?"
    assert args == [1, [2, 3, 4], [5], 6]


@pytest.mark.parametrize("size", [1, 3, 70_000])
def test_in_and_not_in_lists_of_any_length_agree_with_sqlite(
    size: int,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    pg = PgConnection(pg_schemas.new())
    lite = sqlite3.connect(":memory:")
    for conn in (pg, lite):
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        for i, name in enumerate(["甲", "乙", "丙", "丁", "戊"], 1):
            conn.execute("INSERT INTO t (id, name) VALUES (?, ?)", (i, name))
    ids = list(range(2, 2 + size))
    names = ["乙", "戊", "無"][: min(size, 3)]
    for sql, args in (
        (f"SELECT id FROM t WHERE id IN ({', '.join('?' * len(ids))}) ORDER BY id", ids),
        (f"SELECT id FROM t WHERE id NOT IN ({', '.join('?' * len(ids))}) ORDER BY id", ids),
        (f"SELECT id FROM t WHERE name IN ({', '.join('?' * len(names))}) ORDER BY id", names),
    ):
        if size > 30_000 and sql.startswith("SELECT id FROM t WHERE name"):
            continue
        want = [r[0] for r in lite.execute(sql, args).fetchall()] if size < 30_000 else None
        got = [r[0] for r in pg.execute(sql, args).fetchall()]
        if want is not None:
            assert got == want
        else:
            assert got == ([2, 3, 4, 5] if " IN " in sql and "NOT" not in sql else [1])
    pg.close()


def test_many_rows_go_by_copy_and_come_back_as_written(
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """A plain INSERT of many rows travels as COPY: text with tabs, line breaks,
    backslashes, quotes and 简/繁 comes back byte for byte, NULL stays NULL, and a
    duplicate key is the same error as on SQLite."""
    pg = PgConnection(pg_schemas.new())
    pg.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT, n INTEGER)")
    odd = ["a\tb", "line\nbreak", "back\\slash", "'q' \"qq\"", "習近平 习近平", "\\N", "", "%s ?"]
    rows = [(i, odd[i % len(odd)] if i % 9 else None, i * 7) for i in range(1, 2001)]
    pg.executemany("INSERT INTO t (id, text, n) VALUES (?, ?, ?)", rows)
    back = pg.execute("SELECT id, text, n FROM t ORDER BY id").fetchall()
    assert back == rows
    with pytest.raises(sqlite3.IntegrityError):
        pg.executemany("INSERT INTO t (id, text, n) VALUES (?, ?, ?)", rows[:600])
    pg.close()
