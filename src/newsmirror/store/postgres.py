"""The archive on PostgreSQL, for mirrors that several machines write to at once.

``[archive] url = "postgresql://user@host/db"`` (or ``NEWSMIRROR_ARCHIVE_URL``) selects
it. The archive's tables live in the connection's current schema (a URL may choose it:
``?options=-csearch_path%3Dmirror2``), so one database can hold several archives.

Everything above the connection is the SQLite archive's own code
(:class:`~newsmirror.store.archive.Archive`), its statements run through
:mod:`newsmirror.store.dialect`. Two things differ:

- **Writers take turns.** Each write transaction first takes a transaction-level
  advisory lock of the archive, as SQLite's ``BEGIN IMMEDIATE`` takes its file's write
  lock: the read-decide-write steps of storing a feed (is this URL new? changed?) can
  never interleave between two workers, so no article is stored twice. Reads never wait.
- **Search** keeps folded text under ``pg_trgm`` (:mod:`newsmirror.store.pgsearch`).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from newsmirror.config import shown_url
from newsmirror.errors import ArchiveError, BusyError
from newsmirror.store.archive import Archive
from newsmirror.store.dialect import PgConnection
from newsmirror.store.pgsearch import PgSearchMixin
from newsmirror.store.schema import migrate, schema_version

LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema()))"
SESSION_LOCK = "SELECT pg_try_advisory_lock(hashtext(current_schema()), 1)"
SESSION_UNLOCK = "SELECT pg_advisory_unlock(hashtext(current_schema()), 1)"


def _foreign_tables(conn: PgConnection) -> bool:
    """True when the schema holds tables but is not a newsmirror archive."""
    names = {
        row[0]
        for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    }
    return bool(names) and "newsmirror_schema" not in names


_FIRST_NAME = re.compile(r'\s*("(?:[^"]|"")*"|[^,]*)')


def _missing_schema(conn: PgConnection) -> str | None:
    """The schema the search_path names first when it does not exist (PostgreSQL then
    uses the next one: a misspelt ``mirror2,public`` would write to public)."""
    path, current = conn.execute(
        "SELECT current_setting('search_path'), current_schema()"
    ).fetchone() or ("", None)
    match = _FIRST_NAME.match(str(path))
    first = match.group(1).strip() if match else ""
    name = first[1:-1].replace('""', '"') if first.startswith('"') else first.lower()
    if not name or name == "$user" or name == current:
        return None
    return first


def need_extra(module: str) -> None:
    """Stop with a hint when the ``postgres`` extra (psycopg, procrastinate) is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ArchiveError(
            f"an archive on PostgreSQL needs the Python package {module}",
            hint="Install newsmirror's postgres extra: pip install 'newsmirror[postgres]'"
            " (from a clone: pip install -e '.[postgres]').",
        )


class PgArchive(PgSearchMixin, Archive):
    """:class:`Archive` on a PostgreSQL connection."""

    conn: Any

    @classmethod
    def connect(cls, url: str, *, create: bool = True, media_dir: Path | None = None) -> PgArchive:
        """Connect to the archive at ``url``, creating or migrating its tables."""
        need_extra("psycopg")
        try:
            conn = PgConnection(url)
        except sqlite3.Error as exc:
            raise ArchiveError(
                f"cannot connect to the archive database {shown_url(url)}: {exc}",
                hint="Check that PostgreSQL is running and the URL's user, password and"
                " database are right (README, PostgreSQL and workers).",
            ) from exc
        try:
            if (conn.execute("SELECT current_schema()").fetchone() or (None,))[0] is None:
                raise ArchiveError(
                    f"the archive database {shown_url(url)} has no schema to write to",
                    hint="Create the schema named in the URL's search_path first.",
                )
            if (missing := _missing_schema(conn)) is not None:
                raise ArchiveError(
                    f"the schema {missing} named first in the search_path of {shown_url(url)}"
                    " does not exist (PostgreSQL would write to the next one)",
                    hint=f"Create it first (CREATE SCHEMA {missing}), or correct the URL.",
                )
            if _foreign_tables(conn):
                raise ArchiveError(
                    f"{shown_url(url)} holds tables that are not a newsmirror archive",
                    hint="Give newsmirror its own database or schema.",
                )
            if not create and schema_version(conn) == 0:
                raise ArchiveError(
                    f"no archive at {shown_url(url)}",
                    hint="Run `newsmirror init` or `newsmirror fetch` first.",
                )
            migrate(conn)
        except ArchiveError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise ArchiveError(f"cannot open archive {shown_url(url)}: {exc}") from exc
        media = media_dir or Path.cwd() / "media"
        return cls(cast(Any, conn), media.parent / "archive", media_dir=media)

    def _begin(self) -> None:
        """BEGIN, then the archive's write lock: writers one at a time (see the module)."""
        try:
            self.conn.execute("BEGIN")
            self.conn.execute(LOCK)
        except sqlite3.Error as exc:
            self._rollback()
            raise ArchiveError(f"archive is busy or unreachable: {exc}") from exc

    def _stream(self, sql: str, args: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        return cast(PgConnection, self.conn).stream(sql, args)

    def check(self) -> list[str]:
        """Problems found in the archive (PostgreSQL checks its own pages)."""
        return self.index_problems()

    def try_lock(self) -> bool:
        """Take the archive's run lock (one ``run``/``fetch``/``build`` at a time, on
        any machine) if free; released when the connection closes."""
        return bool(self.conn.execute(SESSION_LOCK).fetchone()[0])


@contextmanager
def run_lock(archive: Archive, *, wait: float) -> Iterator[None]:
    """Hold the archive's run lock (see :meth:`PgArchive.try_lock`) for the block,
    waiting up to ``wait`` seconds for another run to finish."""
    assert isinstance(archive, PgArchive)
    deadline = time.monotonic() + wait
    while not archive.try_lock():
        if time.monotonic() >= deadline:
            raise BusyError(
                "another newsmirror run holds this archive",
                hint="Wait for it to finish, or pass --wait SECONDS to wait longer.",
            )
        time.sleep(0.2)
    try:
        yield
    finally:
        archive.conn.execute(SESSION_UNLOCK)
