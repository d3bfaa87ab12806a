"""SQLite implementation of the archive.

One file in WAL mode. Every change a run makes to one feed (its articles, their
revisions, the search index, the feed's conditional-GET state and the fetch
log) is written in one transaction, so a run killed at any moment leaves the
archive at a consistent state and the next run completes what was missed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from newsmirror.config import Source
from newsmirror.decide import Change, classify_entry, classify_feed_update
from newsmirror.errors import ArchiveError
from newsmirror.models import (
    ArticleRecord,
    Entry,
    FeedState,
    StoredArticle,
)
from newsmirror.store.content import ContentMixin
from newsmirror.store.dialect import is_postgres_url
from newsmirror.store.exports import ExportStateMixin
from newsmirror.store.health import HealthMixin
from newsmirror.store.history import HistoryMixin
from newsmirror.store.opening import (
    APPLICATION_ID,
    inspect_file,
    open_hint,
    root_error,
    write_hint,
)
from newsmirror.store.schema import migrate
from newsmirror.store.search import SearchMixin
from newsmirror.store.stats import StatsMixin
from newsmirror.timeutil import from_iso, to_iso
from newsmirror.urls import canonical_url


@dataclass
class _Known:
    """What a feed's entries may be in the archive, read before storing them, and the URLs,
    guids and articles this feed has stored since (an item repeated in one feed)."""

    by_url: dict[str, StoredArticle]
    by_guid: dict[str, StoredArticle]
    touched: set[str] = field(default_factory=set)
    articles: set[int] = field(default_factory=set)


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _source_row(source: Source) -> tuple[str, str, int, frozenset[str]]:
    tags = json.dumps(list(source.tags), ensure_ascii=False)
    return (source.timezone, tags, int(source.enabled), frozenset(source.feeds))


def sources_match(
    stored: dict[str, tuple[str, str, int, frozenset[str]]], sources: Iterable[Source]
) -> bool:
    """Whether every configured source is stored with the same settings and feeds."""
    return all(stored.get(s.name) == _source_row(s) for s in sources)


def kept_author(entry_author: str, stored_author: str, source: str) -> str:
    """The author to store for an entry of an archived article. A feed that gives none
    (its entry carries ``source``, the source's name, instead) keeps the stored one,
    which may have been read from the article's page."""
    if entry_author in ("", source) and stored_author:
        return stored_author
    return entry_author


def _never(_entry: Entry) -> bool:
    return False


class Archive(SearchMixin, ExportStateMixin, ContentMixin, HealthMixin, StatsMixin, HistoryMixin):
    """The archive of sources, articles, revisions, fetch log and search index."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, media_dir: Path | None = None
    ) -> None:
        self.conn = conn
        self.path = path
        self._media_dir = media_dir

    # -- opening -----------------------------------------------------------

    @classmethod
    def open(
        cls, path: Path | str, *, create: bool = True, media_dir: Path | None = None
    ) -> Archive:
        """Open (and create or migrate) the archive at ``path``: a SQLite file, or a
        ``postgresql://`` URL (:mod:`newsmirror.store.postgres`; its images go to
        ``media_dir``).

        Before anything is written the file is checked (:mod:`newsmirror.store.opening`):
        a SQLite file that is not a newsmirror archive, or a damaged one, is refused
        with :class:`ArchiveError` and left as it was.
        """
        if is_postgres_url(path):
            from newsmirror.store.postgres import PgArchive

            return PgArchive.connect(str(path), create=create, media_dir=media_dir)
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
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            migrate(conn)
            if kind != "ours":
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
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

    # -- storing a fetch -------------------------------------------------------

    def store_entries(
        self,
        source: str,
        feed_url: str,
        entries: list[Entry],
        *,
        state: FeedState,
        started: datetime,
        now: datetime,
        http_status: int | None = 200,
        wants_page: Callable[[Entry], bool] = _never,
    ) -> tuple[int, int]:
        """Store a parsed feed in one transaction; return (new, updated) counts.

        ``wants_page`` says which new or changed entries need their page fetched for the
        full text (the decision is :func:`decide.needs_full_text`).
        """
        new = updated = 0
        with self.transaction() as conn:
            sid = self._source_id(source)
            known = _Known(*self._prefetch(conn, sid, entries))
            for entry in entries:
                change = self._store_entry(conn, sid, entry, now, wants_page, source, known)
                new += change is Change.NEW
                updated += change is Change.CHANGED
            self._save_feed_state(sid, feed_url, state)
            self._log(sid, feed_url, started, now, "ok", http_status, new, updated)
        return new, updated

    _FIND = (
        "SELECT id, title, author, content, version, feed_hash, content_origin, source_id"
        " FROM articles WHERE "
    )

    def _find_url(self, conn: sqlite3.Connection, canonical: str) -> StoredArticle | None:
        row = conn.execute(self._FIND + "canonical_url = ?", (canonical,)).fetchone()
        return StoredArticle(*row) if row else None

    def _find(
        self, conn: sqlite3.Connection, sid: int, canonical: str, guid: str, known: _Known
    ) -> StoredArticle | None:
        """The stored article an entry is (by its canonical URL, else its guid in the
        source): from what :meth:`_prefetch` read, unless this feed has stored that URL,
        that guid or that article already (an item repeated in the feed), when it is
        read again."""
        found = known.by_url.get(canonical) or (known.by_guid.get(guid) if guid else None)
        seen = canonical in known.touched or (guid and guid in known.touched)
        if seen or (found is not None and found.id in known.articles):
            found = self._find_url(conn, canonical)
            if found is None and guid:
                row = conn.execute(
                    self._FIND + "source_id = ? AND guid = ?", (sid, guid)
                ).fetchone()
                found = StoredArticle(*row) if row else None
        known.touched.add(canonical)
        if guid:
            known.touched.add(guid)
        if found is not None:
            known.articles.add(found.id)
        return found

    _CHUNK = 500  # values per IN (...) list

    def _prefetch(
        self, conn: sqlite3.Connection, sid: int, entries: list[Entry]
    ) -> tuple[dict[str, StoredArticle], dict[str, StoredArticle]]:
        """The stored articles a feed's entries may be, in a few queries rather than one
        or two per entry: by canonical URL, and by guid in the source."""
        urls = sorted({canonical_url(e.url) for e in entries})
        guids = sorted({e.guid for e in entries if e.guid})
        by_url: dict[str, StoredArticle] = {}
        by_guid: dict[str, StoredArticle] = {}
        for start in range(0, len(urls), self._CHUNK):
            part = urls[start : start + self._CHUNK]
            marks = ", ".join("?" * len(part))
            query = self._FIND.replace("SELECT ", "SELECT canonical_url, ", 1)
            for key, *row in conn.execute(f"{query}canonical_url IN ({marks})", part):
                by_url[key] = StoredArticle(*row)
        for start in range(0, len(guids), self._CHUNK):
            part = guids[start : start + self._CHUNK]
            marks = ", ".join("?" * len(part))
            query = self._FIND.replace("SELECT ", "SELECT guid, ", 1)
            sql = f"{query}source_id = ? AND guid IN ({marks}) ORDER BY id"
            for key, *row in conn.execute(sql, [sid, *part]):
                by_guid.setdefault(key, StoredArticle(*row))
        return by_url, by_guid

    def _store_entry(
        self,
        conn: sqlite3.Connection,
        sid: int,
        entry: Entry,
        now: datetime,
        wants_page: Callable[[Entry], bool],
        source: str,
        known: _Known,
    ) -> Change:
        canonical = canonical_url(entry.url)
        existing = self._find(conn, sid, canonical, entry.guid, known)
        if existing is not None:
            entry = replace(entry, author=kept_author(entry.author, existing.author, source))
            if entry.tags:  # the feed's topic tags now (no write when they are the same)
                tags = json.dumps(list(entry.tags), ensure_ascii=False)
                conn.execute(
                    "UPDATE articles SET tags = ? WHERE id = ? AND tags != ?"
                    " AND origin != 'jekyll'",  # an imported post keeps its own tags
                    (tags, existing.id, tags),
                )
        digest = content_hash(entry.content)
        if existing is not None and existing.content_origin != "feed":
            return self._store_feed_update(conn, sid, existing, entry, digest, now)
        change = classify_entry(
            existing, title=entry.title, author=entry.author, content=entry.content, source_id=sid
        )
        if change is Change.NEW:
            published = entry.published or now
            conn.execute(
                "INSERT INTO articles (source_id, url, canonical_url, guid, title, author,"
                " content, tags, published, published_raw, date_known, first_seen, updated,"
                " feed_hash, needs_page) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sid,
                    entry.url,
                    canonical,
                    entry.guid,
                    entry.title,
                    entry.author,
                    entry.content,
                    json.dumps(list(entry.tags), ensure_ascii=False),
                    to_iso(published),
                    entry.published_raw,
                    int(entry.published is not None),
                    to_iso(now),
                    to_iso(now),
                    digest,
                    int(wants_page(entry)),
                ),
            )
        elif change is Change.CHANGED and existing is not None:
            # A feed that dropped the body but changed the title keeps the stored body.
            body = entry.content or existing.content
            self._revise(conn, existing, entry.title, entry.author, body, now)
            conn.execute(
                "UPDATE articles SET feed_hash = ?, needs_page = ?, page_attempts = 0 WHERE id = ?",
                (digest, int(wants_page(entry)), existing.id),
            )
        return change

    def _store_feed_update(
        self,
        conn: sqlite3.Connection,
        sid: int,
        existing: StoredArticle,
        entry: Entry,
        digest: str,
        now: datetime,
    ) -> Change:
        """An entry for an article whose body came from its page (the feed has a summary)."""
        meta_changed, body_changed = classify_feed_update(
            existing, title=entry.title, author=entry.author, content_hash=digest, source_id=sid
        )
        if meta_changed:
            self._revise(conn, existing, entry.title, entry.author, existing.content, now)
        if body_changed:
            conn.execute(
                "UPDATE articles SET feed_hash = ?, needs_page = 1, page_attempts = 0 WHERE id = ?",
                (digest, existing.id),
            )
        return Change.CHANGED if meta_changed else Change.UNCHANGED

    def _revise(
        self,
        conn: sqlite3.Connection,
        old: StoredArticle,
        title: str,
        author: str,
        content: str,
        now: datetime,
    ) -> None:
        """Keep the previous version as a revision and update the article."""
        conn.execute(
            "INSERT OR IGNORE INTO revisions (article_id, version, title, author, content,"
            " recorded, origin) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                old.id,
                old.version,
                old.title,
                old.author,
                old.content,
                to_iso(now),
                old.content_origin,
            ),
        )
        conn.execute(
            "UPDATE articles SET title = ?, author = ?, content = ?, updated = ?,"
            " version = version + 1 WHERE id = ?",
            (title, author, content, to_iso(now), old.id),
        )

    # -- importing -------------------------------------------------------------

    def import_article(
        self,
        *,
        source: str,
        url: str,
        title: str,
        author: str,
        content: str,
        tags: list[str],
        published: datetime,
        date_known: bool,
        published_raw: str,
        jekyll_name: str,
        now: datetime,
        imported_text: str | None = None,
    ) -> Change:
        """Merge one imported post (one transaction per call is the caller's choice).
        ``imported_text``: the post file's exact text, exported as it was while the new
        article stays at its first version."""
        conn = self.conn
        sid = self.ensure_source(source)
        canonical = canonical_url(url)
        existing = self._find_url(conn, canonical)
        change = classify_entry(existing, title=title, author=author, content=content)
        if change is Change.NEW:
            conn.execute(
                "INSERT INTO articles (source_id, url, canonical_url, guid, title, author,"
                " content, tags, published, published_raw, date_known, first_seen, updated,"
                " origin, jekyll_name, imported_text, imported_version) VALUES (?, ?, ?, '',"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, 'jekyll', ?, ?, 1)",
                (
                    sid,
                    url,
                    canonical,
                    title,
                    author,
                    content,
                    json.dumps(tags, ensure_ascii=False),
                    to_iso(published),
                    published_raw,
                    int(date_known),
                    to_iso(now),
                    to_iso(now),
                    jekyll_name,
                    imported_text,
                ),
            )
        elif change is Change.CHANGED and existing is not None:
            # The same URL under two posts: keep the longer body, the other as a revision.
            if conn.execute(
                "SELECT 1 FROM revisions WHERE article_id = ? AND title = ? AND"
                " author = ? AND content = ?",
                (existing.id, title, author, content),
            ).fetchone():
                return Change.UNCHANGED
            if len(content) >= len(existing.content):
                self._revise(conn, existing, title, author, content, now)
            else:
                # Numbered below the article's own versions: 0, -1, -2 ...
                lowest = conn.execute(
                    "SELECT COALESCE(MIN(version), 1) FROM revisions WHERE article_id = ?",
                    (existing.id,),
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO revisions (article_id, version, title, author, content,"
                    " recorded) VALUES (?, ?, ?, ?, ?, ?)",
                    (existing.id, min(0, int(lowest) - 1), title, author, content, to_iso(now)),
                )
        return change

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
