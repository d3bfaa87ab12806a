"""The archive's interface, and its SQLite implementation.

Other backends subclass :class:`Archive` and register how they open a URL
(:meth:`Archive.register_backend`; the PostgreSQL one is registered by the package,
``newsmirror.store``), so that this module imports none of them and every caller opens
any archive with :meth:`Archive.open`.

SQLite: one file in WAL mode. Every change a run makes to one feed (its articles, their
revisions, the search index, the feed's conditional-GET state and the fetch
log) is written in one transaction, so a run killed at any moment leaves the
archive at a consistent state and the next run completes what was missed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol

from newsmirror.config import Source
from newsmirror.errors import ArchiveError
from newsmirror.models import (
    ArticleRecord,
    FeedState,
)
from newsmirror.store.content import ContentMixin
from newsmirror.store.entries import EntriesMixin
from newsmirror.store.exports import ExportStateMixin
from newsmirror.store.health import HealthMixin
from newsmirror.store.history import HistoryMixin
from newsmirror.store.opening import (
    APPLICATION_ID,
    inspect_file,
    open_hint,
    root_error,
    use_wal,
    write_hint,
)
from newsmirror.store.schema import migrate
from newsmirror.store.search import SearchMixin
from newsmirror.store.stats import StatsMixin
from newsmirror.timeutil import from_iso


def _source_row(source: Source) -> tuple[str, str, int, frozenset[str]]:
    tags = json.dumps(list(source.tags), ensure_ascii=False)
    return (source.timezone, tags, int(source.enabled), frozenset(source.feeds))


def sources_match(
    stored: dict[str, tuple[str, str, int, frozenset[str]]], sources: Iterable[Source]
) -> bool:
    """Whether every configured source is stored with the same settings and feeds."""
    return all(stored.get(s.name) == _source_row(s) for s in sources)


class Opener(Protocol):
    """How a registered backend opens the archive at a URL (see :meth:`Archive.open`)."""

    def __call__(self, url: str, *, create: bool, media_dir: Path | None) -> Archive: ...


class Archive(
    EntriesMixin,
    SearchMixin,
    ExportStateMixin,
    ContentMixin,
    HealthMixin,
    StatsMixin,
    HistoryMixin,
):
    """The archive of sources, articles, revisions, fetch log and search index."""

    _backends: ClassVar[list[tuple[Callable[[Path | str], bool], Opener]]] = []

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, media_dir: Path | None = None
    ) -> None:
        self.conn = conn
        self.path = path
        self._media_dir = media_dir

    # -- opening -----------------------------------------------------------

    @staticmethod
    def register_backend(accepts: Callable[[Path | str], bool], opener: Opener) -> None:
        """Open with ``opener`` every archive whose path or URL ``accepts`` takes (the
        first registered that does), instead of as a SQLite file."""
        Archive._backends.append((accepts, opener))

    @classmethod
    def open(
        cls, path: Path | str, *, create: bool = True, media_dir: Path | None = None
    ) -> Archive:
        """Open (and create or migrate) the archive at ``path``: a SQLite file, or a
        URL a registered backend takes, such as ``postgresql://``
        (:mod:`newsmirror.store.postgres`; its images go to ``media_dir``).

        Before anything is written the file is checked (:mod:`newsmirror.store.opening`):
        a SQLite file that is not a newsmirror archive, or a damaged one, is refused
        with :class:`ArchiveError` and left as it was.
        """
        for accepts, opener in Archive._backends:
            if accepts(path):
                return opener(str(path), create=create, media_dir=media_dir)
        path = Path(path)
        if path.is_dir() or (not create and not path.is_file()):
            raise ArchiveError(
                f"no archive at {path}", hint="Run `newsmirror init` or `newsmirror fetch` first."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise ArchiveError(f"cannot create archive {path}: {exc}") from exc
        try:
            kind = inspect_file(conn, path)
            use_wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            mark = f"PRAGMA application_id = {APPLICATION_ID}"
            migrate(conn, mark=mark)
            if kind != "ours":
                conn.execute(mark)  # an archive from before the mark
        except ArchiveError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            cause = root_error(exc)
            raise ArchiveError(
                f"cannot open archive {path}: {cause}", hint=open_hint(cause)
            ) from exc
        return cls(conn, path, media_dir=media_dir)

    @property
    def media_dir(self) -> Path:
        """Mirrored images, content-addressed: beside the archive file unless given."""
        return self._media_dir or self.path.parent / "media"

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _begin(self) -> None:
        """Start a write transaction, holding the archive's write lock."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise ArchiveError(f"archive is busy or unwritable: {exc}") from exc

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: :meth:`_begin` ... COMMIT, ROLLBACK on any error."""
        self._begin()
        try:
            yield self.conn
        except sqlite3.Error as exc:
            self._rollback()
            raise ArchiveError(f"cannot write the archive: {exc}", hint=write_hint(exc)) from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise ArchiveError(f"cannot write the archive: {exc}", hint=write_hint(exc)) from exc

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def check(self) -> list[str]:
        """Problems found by SQLite's integrity check (empty when consistent)."""
        rows = self.conn.execute("PRAGMA integrity_check").fetchall()
        problems = [r[0] for r in rows if r[0] != "ok"]
        return problems + self.index_problems()

    # -- sources and feeds ---------------------------------------------------

    def _source_rows(self) -> dict[str, tuple[str, str, int, frozenset[str]]]:
        feeds: dict[int, set[str]] = {}
        for sid, url in self.conn.execute("SELECT source_id, url FROM feeds"):
            feeds.setdefault(sid, set()).add(url)
        return {
            name: (timezone, tags, enabled, frozenset(feeds.get(sid, ())))
            for sid, name, timezone, tags, enabled in self.conn.execute(
                "SELECT id, name, timezone, tags, enabled FROM sources"
            )
        }

    def sync_sources(self, sources: Iterable[Source]) -> None:
        """Make the archive's sources match the config (sources are never deleted); when
        they match already, nothing is written."""
        sources = list(sources)
        if sources_match(self._source_rows(), sources):
            return
        with self.transaction() as conn:
            for src in sources:
                conn.execute(
                    "INSERT INTO sources (name, timezone, tags, enabled) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET timezone = excluded.timezone,"
                    " tags = excluded.tags, enabled = excluded.enabled",
                    (
                        src.name,
                        src.timezone,
                        json.dumps(list(src.tags), ensure_ascii=False),
                        int(src.enabled),
                    ),
                )
                sid = self._source_id(src.name)
                for url in src.feeds:
                    conn.execute(
                        "INSERT OR IGNORE INTO feeds (source_id, url) VALUES (?, ?)", (sid, url)
                    )
                marks = ", ".join("?" * len(src.feeds))
                conn.execute(
                    f"DELETE FROM feeds WHERE source_id = ? AND url NOT IN ({marks})",
                    (sid, *src.feeds),
                )

    def ensure_source(self, name: str, timezone: str = "Asia/Shanghai") -> int:
        self.conn.execute(
            "INSERT OR IGNORE INTO sources (name, timezone) VALUES (?, ?)", (name, timezone)
        )
        return self._source_id(name)

    def _source_id(self, name: str) -> int:
        row = self.conn.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ArchiveError(f"unknown source {name!r}")
        return int(row[0])

    def feed_state(self, source: str, url: str) -> FeedState:
        row = self.conn.execute(
            "SELECT etag, last_modified, body_sha256 FROM feeds f JOIN sources s"
            " ON s.id = f.source_id WHERE s.name = ? AND f.url = ?",
            (source, url),
        ).fetchone()
        return FeedState(*row) if row else FeedState()

    # -- reading -----------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM articles),"
            " (SELECT count(*) FROM revisions)"
        ).fetchone()
        return {"sources": row[0], "articles": row[1], "revisions": row[2]}

    _ARTICLE_SQL = (
        "SELECT a.id, s.name, s.timezone, a.url, a.title, a.author, {content}, a.tags,"
        " a.published, a.date_known, a.first_seen, a.version, a.jekyll_name, a.media_rev,"
        " a.removed_at, s.tags, a.origin = 'jekyll'"
        " FROM articles a JOIN sources s ON s.id = a.source_id"
    )
    _FULL_SQL = _ARTICLE_SQL.format(content="a.content")
    _BRIEF_SQL = _ARTICLE_SQL.format(content="''")

    @staticmethod
    def _record(row: tuple[Any, ...]) -> ArticleRecord:
        return ArticleRecord(
            id=row[0],
            source=row[1],
            timezone=row[2],
            url=row[3],
            title=row[4],
            author=row[5],
            content=row[6],
            tags=tuple(json.loads(row[7])),
            published=from_iso(row[8]),
            date_known=bool(row[9]),
            first_seen=from_iso(row[10]),
            version=row[11],
            jekyll_name=row[12],
            media_rev=row[13],
            removed_at=row[14],
            source_tags=tuple(json.loads(row[15])),
            imported=bool(row[16]),
        )

    def iter_articles(
        self, source: str | None = None, *, content: bool = True
    ) -> Iterator[ArticleRecord]:
        """Every article, oldest first (ties by id); ``content=False`` leaves bodies out."""
        sql = self._FULL_SQL if content else self._BRIEF_SQL
        args: tuple[Any, ...] = ()
        if source is not None:
            sql += " WHERE s.name = ?"
            args = (source,)
        for row in self._stream(sql + " ORDER BY a.published, a.id", args):
            yield self._record(row)

    def _stream(self, sql: str, args: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of a query that may be large (every article with its body), read as
        they are used."""
        return iter(self.conn.execute(sql, args))

    def article(self, article_id: int) -> ArticleRecord:
        sql = self._FULL_SQL + " WHERE a.id = ?"
        row = self.conn.execute(sql, (article_id,)).fetchone()
        if row is None:
            raise ArchiveError(f"no article with id {article_id}")
        return self._record(row)

    def revisions(self, article_id: int) -> list[tuple[int, str, str]]:
        return self.conn.execute(
            "SELECT version, title, recorded FROM revisions WHERE article_id = ? ORDER BY version",
            (article_id,),
        ).fetchall()
