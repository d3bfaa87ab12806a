"""Storing what a fetch or an import brings: a feed's entries, classified as new, changed
or unchanged (a change keeps the previous version as a revision), and imported posts.

A feed's entries are matched to stored articles by canonical URL, else by guid within
the source, all looked up in a few queries before any is stored (:meth:`_prefetch`)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from newsmirror.decide import Change, classify_entry, classify_feed_update
from newsmirror.models import Entry, FeedState, StoredArticle
from newsmirror.store.health import HealthMixin
from newsmirror.store.history import COPY
from newsmirror.timeutil import to_iso
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


def kept_author(entry_author: str, stored_author: str, source: str) -> str:
    """The author to store for an entry of an archived article. A feed that gives none
    (its entry carries ``source``, the source's name, instead) keeps the stored one,
    which may have been read from the article's page."""
    if entry_author in ("", source) and stored_author:
        return stored_author
    return entry_author


def _never(_entry: Entry) -> bool:
    return False


class EntriesMixin(HealthMixin):
    conn: sqlite3.Connection

    if TYPE_CHECKING:  # the archive's own (declared here for the type checker only)

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def _source_id(self, name: str) -> int: ...

        def ensure_source(self, name: str, timezone: str = "Asia/Shanghai") -> int: ...

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
            canonicals = [canonical_url(entry.url) for entry in entries]
            known = _Known(*self._prefetch(conn, sid, canonicals, entries))
            for entry, canonical in zip(entries, canonicals, strict=True):
                change = self._store_entry(
                    conn, sid, entry, canonical, now, wants_page, source, known
                )
                new += change is Change.NEW
                updated += change is Change.CHANGED
            self._save_feed_state(sid, feed_url, state)
            self._log(sid, feed_url, started, now, "ok", http_status, new, updated)
        return new, updated

    _STORED = "id, title, author, content, version, feed_hash, content_origin, source_id"
    _FIND = f"SELECT {_STORED} FROM articles WHERE "

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
        self, conn: sqlite3.Connection, sid: int, canonicals: list[str], entries: list[Entry]
    ) -> tuple[dict[str, StoredArticle], dict[str, StoredArticle]]:
        """The stored articles a feed's entries may be, in a few queries rather than one
        or two per entry: by canonical URL, and by guid in the source."""
        guids = sorted({e.guid for e in entries if e.guid})
        by_url = self._stored_by(conn, "canonical_url", sorted(set(canonicals)))
        by_guid = self._stored_by(conn, "guid", guids, "source_id = ? AND ", (sid,))
        return by_url, by_guid

    def _stored_by(
        self,
        conn: sqlite3.Connection,
        column: str,
        values: list[str],
        where: str = "",
        args: tuple[Any, ...] = (),
    ) -> dict[str, StoredArticle]:
        """``column`` value -> the first stored article (lowest id) with it, for
        ``values``, :attr:`_CHUNK` at a time; ``where``/``args``: a further condition."""
        found: dict[str, StoredArticle] = {}
        for start in range(0, len(values), self._CHUNK):
            part = values[start : start + self._CHUNK]
            sql = (
                f"SELECT {column}, {self._STORED} FROM articles"
                f" WHERE {where}{column} IN ({', '.join('?' * len(part))}) ORDER BY id"
            )
            for key, *row in conn.execute(sql, [*args, *part]):
                found.setdefault(key, StoredArticle(*row))
        return found

    def _store_entry(
        self,
        conn: sqlite3.Connection,
        sid: int,
        entry: Entry,
        canonical: str,
        now: datetime,
        wants_page: Callable[[Entry], bool],
        source: str,
        known: _Known,
    ) -> Change:
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
        origin: str | None = None,
    ) -> None:
        """Keep the previous version as a revision and update the article. ``origin``:
        the revision's, when not its body's origin (COPY: the new version is another copy
        of the same article, not an edit)."""
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
                origin or old.content_origin,
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
            # Two copies of one article (a fetched one and an old mirror's, say) are no
            # edit at the origin: the revision is marked COPY and listed as no edit.
            if len(content) >= len(existing.content):
                self._revise(conn, existing, title, author, content, now, origin=COPY)
            else:
                # Numbered below the article's own versions: 0, -1, -2 ...
                lowest = conn.execute(
                    "SELECT COALESCE(MIN(version), 1) FROM revisions WHERE article_id = ?",
                    (existing.id,),
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO revisions (article_id, version, title, author, content,"
                    " recorded, origin) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        existing.id,
                        min(0, int(lowest) - 1),
                        title,
                        author,
                        content,
                        to_iso(now),
                        COPY,
                    ),
                )
        return change
