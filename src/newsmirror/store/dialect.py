"""One archive, two engines: the archive's SQL is written for SQLite, and this module
runs it on PostgreSQL.

Why a small dialect layer rather than an ORM: the archive's ~130 statements are plain
SQL that both engines share but for a few spellings, and the SQLite path is the one
whose speed matters (issue 12: every import and every wrapper call is on the clock).
So SQLite keeps its own connection, untouched, and :class:`PgConnection` gives a
``psycopg`` connection the part of the ``sqlite3`` interface the archive uses:
``execute``/``executemany`` returning a cursor, ``in_transaction``, ``close``, and
``sqlite3``'s exception classes, so the archive's error handling is one.

:func:`to_postgres` is the translation, a pure function of the statement:

- ``?`` placeholders outside quoted text become ``%s``, and every ``%`` doubles (psycopg
  reads ``%`` inside quoted text too);
- ``INSERT OR IGNORE INTO`` becomes ``INSERT INTO ... ON CONFLICT DO NOTHING``;
- ``BEGIN IMMEDIATE`` is ``BEGIN``; ``instr(a, b)`` is ``strpos(a, b)``; an empty
  ``IN ()`` is ``= ANY('{}')`` (and ``NOT IN ()`` is ``<> ALL('{}')``);
- in DDL, ``id INTEGER PRIMARY KEY`` is ``id BIGSERIAL PRIMARY KEY`` (the row id SQLite
  gives) and other ``INTEGER`` columns are ``BIGINT``.

Statements the engines do not share (the search index, the schema version, integrity
checks) are not translated: they live in each engine's own module.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from newsmirror.config import is_postgres_url

__all__ = ["PgConnection", "is_postgres_url", "to_postgres"]

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[?%]|[^'\"?%]+", re.S)
_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.I)
_IMMEDIATE = re.compile(r"^\s*BEGIN\s+IMMEDIATE\s*$", re.I)
_INSTR = re.compile(r"\binstr\s*\(", re.I)
_ROWID_KEY = re.compile(r"\bid\s+INTEGER\s+PRIMARY\s+KEY\b", re.I)
_INTEGER = re.compile(r"\bINTEGER\b", re.I)
_EMPTY_LIST = re.compile(r"\b(NOT\s+)?IN\s*\(\s*\)", re.I)
_DDL = re.compile(r"^\s*(CREATE\s+TABLE|ALTER\s+TABLE)\b", re.I)


def _placeholders(sql: str) -> str:
    """``?`` to ``%s`` and every ``%`` to ``%%``: a ``?`` in quoted text or a quoted name
    is text, but psycopg reads ``%`` everywhere in the statement, quotes or not."""
    out = []
    for token in _TOKENS.findall(sql):
        if token == "?":
            out.append("%s")
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


# A plain INSERT of many rows (no conflict clause, no RETURNING) goes by COPY.
_PLAIN_INSERT = re.compile(
    r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([\w\s,]+)\)\s*VALUES\s*\(\s*\?(?:\s*,\s*\?)*\s*\)\s*$",
    re.I,
)
COPY_FROM = 500  # rows

_IN_LIST = re.compile(r"\b(NOT\s+)?IN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.I)


def _marks(sql: str) -> int:
    return sum(1 for token in _TOKENS.findall(sql) if token == "?")


def pack_lists(sql: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
    """Each list of placeholders, ``IN (?, ?, …)``, as ``= ANY(?)`` (``NOT IN`` as
    ``<> ALL(?)``) whose one parameter is the list's values as an array: PostgreSQL takes
    at most 65,535 parameters a statement (a build of 100,000 articles asks for more),
    and the statement stays the same whatever the list's length."""
    if not _IN_LIST.search(sql):
        return sql, list(params)
    out: list[str] = []
    args: list[Any] = []
    last = index = 0
    for match in _IN_LIST.finditer(sql):
        before = sql[last : match.start()]
        ahead = _marks(before)
        args.extend(params[index : index + ahead])
        index += ahead
        count = match.group(0).count("?")
        args.append(list(params[index : index + count]))
        index += count
        out.append(before + ("<> ALL(?)" if match.group(1) else "= ANY(?)"))
        last = match.end()
    out.append(sql[last:])
    args.extend(params[index:])
    return "".join(out), args


def _empty_list(match: re.Match[str]) -> str:
    """An empty list: no value is in it, every value is not (the array takes the type of
    what it is compared with)."""
    return "<> ALL('{}')" if match.group(1) else "= ANY('{}')"


@lru_cache(maxsize=1024)
def to_postgres(sql: str, *, params: bool = True) -> str:
    """The PostgreSQL spelling of one archive statement (see the module's docstring).
    ``params``: the statement is run with parameters (placeholders are translated)."""
    if _IMMEDIATE.match(sql):
        return "BEGIN"
    if _IGNORE.match(sql):
        sql = _IGNORE.sub("INSERT INTO", sql, count=1).rstrip().rstrip(";")
        sql += " ON CONFLICT DO NOTHING"
    sql = _INSTR.sub("strpos(", sql)
    sql = _EMPTY_LIST.sub(_empty_list, sql)
    if _DDL.match(sql):
        sql = _INTEGER.sub("BIGINT", _ROWID_KEY.sub("id BIGSERIAL PRIMARY KEY", sql))
    return _placeholders(sql) if params else sql


_NAMES = itertools.count()


def _sqlite_error(exc: Exception) -> sqlite3.Error:
    """The ``sqlite3`` exception matching a ``psycopg`` one, carrying its message."""
    import psycopg

    kind: type[sqlite3.Error] = sqlite3.DatabaseError
    if isinstance(exc, psycopg.IntegrityError):
        kind = sqlite3.IntegrityError
    elif isinstance(exc, psycopg.OperationalError | psycopg.errors.LockNotAvailable):
        kind = sqlite3.OperationalError
    elif isinstance(exc, psycopg.InterfaceError):
        kind = sqlite3.InterfaceError
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return kind(message)


def _secrets(url: str) -> set[str]:
    """The password of ``url`` as written and decoded (``user:password@``, ``password=``)."""
    found = re.findall(r"^[A-Za-z][\w+.-]*://[^:@/?#]*:(.*)@", url, re.S)
    found += re.findall(r"(?i)[?&]password=([^&#]*)", url)
    return {s for raw in found for s in (raw, unquote(raw)) if s}


def _without_secrets(message: str, url: str) -> str:
    """``message`` with the URL's password masked (libpq quotes a bad %-escape in it)."""
    for secret in sorted(_secrets(url), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


class PgCursor:
    """A cursor's rows and counts, as ``sqlite3.Cursor`` gives them."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._cursor.description is None:
            return None
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._cursor.description is None:
            return []
        rows: list[tuple[Any, ...]] = self._cursor.fetchall()
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


class PgConnection:
    """A ``psycopg`` connection that runs the archive's SQLite-spelled statements.

    Autocommit, with transactions opened and closed by the statements the archive sends
    (``BEGIN``/``COMMIT``/``ROLLBACK``), as with ``sqlite3``'s ``isolation_level=None``.
    """

    def __init__(self, url: str) -> None:
        import psycopg

        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=30)
        except psycopg.Error as exc:
            error = _sqlite_error(exc)
            raise type(error)(_without_secrets(str(error), url)) from None
        self._trace: Callable[[str], object] | None = None

    def set_trace_callback(self, callback: Callable[[str], object] | None) -> None:
        """Call ``callback`` with each statement run, as written by the archive (its
        SQLite spelling), as ``sqlite3.Connection.set_trace_callback`` does."""
        self._trace = callback

    @property
    def raw(self) -> Any:
        """The ``psycopg`` connection, for engine-specific statements."""
        return self._conn

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        import psycopg

        args = list(params) if params else None
        if self._trace is not None:
            self._trace(sql)
        if args is not None:
            sql, args = pack_lists(sql, args)
        try:
            cursor = self._conn.execute(to_postgres(sql, params=args is not None), args)
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from exc
        return PgCursor(cursor)

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of a query that may be large, a few hundred at a time from a
        server-side cursor (held past commits, so other statements can run meanwhile)."""
        import psycopg

        args = list(params) if params else None
        if self._trace is not None:
            self._trace(sql)
        try:
            with self._conn.cursor(
                name=f"nm_stream_{id(self)}_{next(_NAMES)}", withhold=True
            ) as cur:
                cur.itersize = 500
                cur.execute(to_postgres(sql, params=args is not None), args)
                yield from cur
        except psycopg.Error as exc:
            raise _sqlite_error(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        import psycopg

        batch = [list(row) for row in rows]
        if self._trace is not None:
            for _row in batch:
                self._trace(sql)
        cursor = self._conn.cursor()
        if batch:
            plain = _PLAIN_INSERT.match(sql) if len(batch) >= COPY_FROM else None
            try:
                if plain is not None:  # many rows: COPY, a round trip for all of them
                    table, names = plain.group(1), " ".join(plain.group(2).split())
                    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for row in batch:
                            copy.write_row(row)
                else:
                    cursor.executemany(to_postgres(sql), batch)
            except psycopg.Error as exc:
                raise _sqlite_error(exc) from exc
        return PgCursor(cursor)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self._conn.info.transaction_status != TransactionStatus.IDLE)

    def commit(self) -> None:
        """Nothing to do: statements outside BEGIN ... COMMIT are committed at once."""

    def close(self) -> None:
        self._conn.close()
