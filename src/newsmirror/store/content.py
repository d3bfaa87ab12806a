"""The archive's bookkeeping of full text (article pages) and mirrored images."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import date, datetime, time
from typing import Any

from newsmirror.decide import Change
from newsmirror.models import ImageTask, PageTask
from newsmirror.timeutil import to_iso, zone_or_default

MAX_PAGE_ATTEMPTS = 3


def _page_task(row: tuple[Any, ...]) -> PageTask:
    article_id, url, source, content, content_origin, attempts, guarded = row
    return PageTask(article_id, url, source, content, content_origin, attempts, bool(guarded))


def day_start(day: str, zone: str) -> str:
    """The stored (UTC) form of the first moment of ``day`` (YYYY-MM-DD) in ``zone``."""
    start = datetime.combine(date.fromisoformat(day), time(), zone_or_default(zone))
    return to_iso(start)


class ContentMixin:
    conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    # -- pages -------------------------------------------------------------

    _TASK = (
        "SELECT a.id, a.url, s.name, a.content, a.content_origin, a.page_attempts,"
        " a.net_guard"
        " FROM articles a JOIN sources s ON s.id = a.source_id"
    )

    def pending_pages(self, limit: int, sources: Iterable[str] | None = None) -> list[PageTask]:
        """Articles whose page is to be fetched for the full text, newest first."""
        sql = self._TASK + " WHERE a.needs_page = 1 AND a.removed_at IS NULL"
        args: list[object] = []
        if sources is not None:
            names = list(sources)
            sql += f" AND s.name IN ({', '.join('?' * len(names))})"
            args += names
        rows = self.conn.execute(
            sql + " ORDER BY a.first_seen DESC, a.id DESC LIMIT ?", (*args, limit)
        ).fetchall()
        return [_page_task(row) for row in rows]

    def page_task(self, article_id: int) -> PageTask | None:
        """The article's page task if its page is still to be fetched, else None."""
        row = self.conn.execute(
            self._TASK + " WHERE a.id = ? AND a.needs_page = 1 AND a.removed_at IS NULL",
            (article_id,),
        ).fetchone()
        return None if row is None else _page_task(row)

    def page_tasks(self, *, source: str | None = None, since: str | None = None) -> list[PageTask]:
        """Stored articles to look at again (``refetch``), oldest first.

        ``since`` (YYYY-MM-DD): published on that day or later in its source's time zone.
        """
        sql, args = self._TASK, []
        if since:
            zones = self.conn.execute("SELECT DISTINCT timezone FROM sources").fetchall()
            if not zones:
                return []
            marks = ", ".join(["(?, ?)"] * len(zones))
            sql = (
                f"WITH since (zone, moment) AS (VALUES {marks}) {sql}"
                " JOIN since ON since.zone = s.timezone AND a.published >= since.moment"
            )
            args = [value for (zone,) in zones for value in (zone, day_start(since, zone))]
        sql += " WHERE 1 = 1"
        if source:
            sql += " AND s.name = ?"
            args.append(source)
        rows = self.conn.execute(sql + " ORDER BY a.published, a.id", args).fetchall()
        return [_page_task(row) for row in rows]

    def store_page(self, task: PageTask, *, html: str, origin: str, now: datetime) -> bool:
        """Store a page's extraction as the article body; True if the body changed.

        Every replaced body is kept as a revision (the feed's summary or text replaced by
        the page's, and a page's text replaced by a changed page), and the version goes up.
        """
        return self._store_body(task.article_id, html=html, origin=origin, now=now)

    def _store_body(self, article_id: int, *, html: str, origin: str, now: datetime) -> bool:
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT title, author, content, version, content_origin FROM articles WHERE id = ?",
                (article_id,),
            ).fetchone()
            title, author, content, version, was = row
            changed = bool(content != html)
            if changed:
                conn.execute(
                    "INSERT OR IGNORE INTO revisions (article_id, version, title,"
                    " author, content, recorded, origin) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (article_id, version, title, author, content, to_iso(now), was),
                )
            conn.execute(
                "UPDATE articles SET content = ?, content_origin = ?, needs_page = 0,"
                " page_error = NULL, page_checked = ?, removed_at = NULL,"
                " version = version + ?, updated = CASE WHEN ? = 1 THEN ? ELSE updated END"
                " WHERE id = ?",
                (
                    html,
                    origin,
                    to_iso(now),
                    int(changed),
                    int(changed),
                    to_iso(now),
                    article_id,
                ),
            )
        return changed

    def fill_from_page(
        self, article_id: int, *, author: str, published: datetime | None, published_raw: str
    ) -> None:
        """What the feed did not give, from the article's page: the author where the article
        has none or only its source's name, the date where the feed had none."""
        with self.transaction() as conn:
            if author:
                conn.execute(
                    "UPDATE articles SET author = ? WHERE id = ? AND (author = '' OR author ="
                    " (SELECT name FROM sources WHERE id = articles.source_id))",
                    (author, article_id),
                )
            if published is not None:
                conn.execute(
                    "UPDATE articles SET published = ?, published_raw = ?, date_known = 1"
                    " WHERE id = ? AND date_known = 0",
                    (to_iso(published), published_raw, article_id),
                )

    def page_checked(
        self, task: PageTask, *, now: datetime, error: str | None = None, gone: bool = False
    ) -> None:
        """Record a look at an article's page that did not change its body."""
        with self.transaction() as conn:
            if gone:
                conn.execute(
                    "UPDATE articles SET needs_page = 0, page_checked = ?,"
                    " removed_at = COALESCE(removed_at, ?), page_error = ?"
                    " WHERE id = ?",
                    (to_iso(now), to_iso(now), error, task.article_id),
                )
            elif error:
                conn.execute(
                    "UPDATE articles SET page_attempts = page_attempts + 1, page_error = ?,"
                    " page_checked = ?, needs_page = CASE WHEN page_attempts + 1 >= ?"
                    " THEN 0 ELSE needs_page END WHERE id = ?",
                    (error, to_iso(now), MAX_PAGE_ATTEMPTS, task.article_id),
                )
            else:
                conn.execute(
                    "UPDATE articles SET needs_page = 0, page_error = NULL,"
                    " page_checked = ?, removed_at = NULL WHERE id = ?",
                    (to_iso(now), task.article_id),
                )

    # -- images --------------------------------------------------------------

    def scan_images(
        self,
        find: Callable[[str], list[str]],
        batch: int = 500,
        scanned: list[int] | None = None,
    ) -> int:
        """Register the images of articles new or changed since their last scan.

        ``find`` lists the image URLs of an article body. Returns how many articles were
        scanned (their ids are added to ``scanned``); like the search index, this catches
        up after an interrupted run.
        """
        done = 0
        while True:
            with self.transaction() as conn:
                rows = conn.execute(
                    "SELECT id, version, content FROM articles"
                    " WHERE images_scanned != version LIMIT ?",
                    (batch,),
                ).fetchall()
                for article_id, version, content in rows:
                    if scanned is not None:
                        scanned.append(article_id)
                    conn.executemany(
                        "INSERT OR IGNORE INTO article_media (article_id, url) VALUES (?, ?)",
                        [(article_id, url) for url in find(content)],
                    )
                    conn.execute(
                        "UPDATE articles SET images_scanned = ? WHERE id = ?", (version, article_id)
                    )
            done += len(rows)
            if len(rows) < batch:
                return done

    def pending_images(
        self,
        *,
        max_attempts: int,
        limit: int = 5000,
        guarded: bool | None = None,
        article_id: int | None = None,
    ) -> list[ImageTask]:
        """Images not yet mirrored whose earlier attempts were fewer than ``max_attempts``
        and that the network guard did not refuse.

        ``guarded`` selects the images of articles archived by ``add`` with its guard on
        (True) or the others (False); ``article_id`` those of one article.
        """
        sql = (
            "SELECT m.article_id, m.url, a.url, m.attempts FROM article_media m"
            " JOIN articles a ON a.id = m.article_id WHERE m.sha256 IS NULL AND m.attempts < ?"
            " AND m.refused = 0"
        )
        args: list[object] = [max_attempts]
        if guarded is not None:
            sql += " AND a.net_guard = ?"
            args.append(int(guarded))
        if article_id is not None:
            sql += " AND m.article_id = ?"
            args.append(article_id)
        rows = self.conn.execute(
            sql + " ORDER BY m.article_id DESC LIMIT ?", (*args, limit)
        ).fetchall()
        return [ImageTask(*row) for row in rows]

    def known_image(self, url: str) -> tuple[str, str] | None:
        """(sha256, ext) of an image already mirrored from ``url`` for any article."""
        row = self.conn.execute(
            "SELECT md.sha256, md.ext FROM article_media m JOIN media md ON md.sha256 = m.sha256"
            " WHERE m.url = ? LIMIT 1",
            (url,),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def store_image(
        self, url: str, *, sha256: str, mime: str, ext: str, size: int, now: datetime
    ) -> None:
        """Record a mirrored image for every article that uses ``url``."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO media (sha256, mime, ext, size, first_url,"
                " fetched) VALUES (?, ?, ?, ?, ?, ?)",
                (sha256, mime, ext, size, url, to_iso(now)),
            )
            conn.execute(
                "UPDATE articles SET media_rev = media_rev + 1 WHERE id IN"
                " (SELECT article_id FROM article_media WHERE url = ?"
                " AND sha256 IS NULL)",
                (url,),
            )
            conn.execute(
                "UPDATE article_media SET sha256 = ?, last_error = NULL, last_try = ?"
                " WHERE url = ? AND sha256 IS NULL",
                (sha256, to_iso(now), url),
            )

    def image_failed(
        self, task: ImageTask, error: str, *, now: datetime, refused: bool = False
    ) -> None:
        """Record a failed attempt; an image ``refused`` by the network guard is not
        tried again."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE article_media SET attempts = attempts + 1, last_error = ?,"
                " last_try = ?, refused = ? WHERE article_id = ? AND url = ?",
                (error, to_iso(now), int(refused), task.article_id, task.url),
            )

    def media_maps(self) -> dict[int, dict[str, tuple[str, str]]]:
        """Mirrored images of every article at once (for whole-site builds)."""
        out: dict[int, dict[str, tuple[str, str]]] = {}
        for article_id, url, sha, ext in self.conn.execute(
            "SELECT m.article_id, m.url, md.sha256, md.ext FROM article_media m"
            " JOIN media md ON md.sha256 = m.sha256"
        ):
            out.setdefault(article_id, {})[url] = (sha, ext)
        return out

    def contents(self, ids: Iterable[int]) -> dict[int, str]:
        """Bodies of the given articles, in one query."""
        wanted = list(ids)
        marks = ", ".join("?" * len(wanted))
        rows = self.conn.execute(
            f"SELECT id, content FROM articles WHERE id IN ({marks})", wanted
        ).fetchall()
        return dict(rows)

    def media_map(self, article_id: int) -> dict[str, tuple[str, str]]:
        """Mirrored images of an article: original URL -> (sha256, ext)."""
        rows = self.conn.execute(
            "SELECT m.url, md.sha256, md.ext FROM article_media m JOIN media md"
            " ON md.sha256 = m.sha256 WHERE m.article_id = ?",
            (article_id,),
        ).fetchall()
        return {url: (sha, ext) for url, sha, ext in rows}

    # -- single pages (newsmirror add) ------------------------------------------

    def add_article(
        self,
        *,
        source: str,
        url: str,
        title: str,
        author: str,
        content: str,
        published: datetime,
        published_raw: str,
        now: datetime,
        timezone: str = "Asia/Shanghai",
        guarded: bool = True,
    ) -> tuple[int, Change]:
        """Store an article taken from its page; an archived URL gets a new revision
        when its text changed.

        ``guarded``: its images are only ever fetched through the network guard (added
        without --allow-private); unguarded, the images the guard refused are tried again.
        """
        from newsmirror.urls import canonical_url

        canonical = canonical_url(url)
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO sources (name, timezone) VALUES (?, ?)", (source, timezone)
            )
            sid = conn.execute("SELECT id FROM sources WHERE name = ?", (source,)).fetchone()[0]
            row = conn.execute(
                "SELECT id FROM articles WHERE canonical_url = ?", (canonical,)
            ).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO articles (source_id, url, canonical_url, guid, title, author,"
                    " content, published, published_raw, date_known, first_seen, updated,"
                    " content_origin, origin, page_checked, net_guard) VALUES (?, ?, ?, ?, ?,"
                    " ?, ?, ?, ?, ?, ?, ?, 'page', 'add', ?, ?) RETURNING id",
                    (
                        sid,
                        url,
                        canonical,
                        url,
                        title,
                        author,
                        content,
                        to_iso(published),
                        published_raw,
                        int(bool(published_raw)),
                        to_iso(now),
                        to_iso(now),
                        to_iso(now),
                        int(guarded),
                    ),
                )
                return int(cur.fetchone()[0]), Change.NEW
            article_id = int(row[0])
            conn.execute(
                "UPDATE articles SET net_guard = ? WHERE id = ?", (int(guarded), article_id)
            )
            if not guarded:
                conn.execute(
                    "UPDATE article_media SET refused = 0, attempts = 0"
                    " WHERE article_id = ? AND refused = 1",
                    (article_id,),
                )
        changed = self._store_body(article_id, html=content, origin="page", now=now)
        return article_id, Change.CHANGED if changed else Change.UNCHANGED
