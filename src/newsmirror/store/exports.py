"""Bookkeeping of what each export target holds: which file each article was written to."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from newsmirror.models import ArticleRecord, ExportRecord
from newsmirror.timeutil import from_iso

_BUILDING = ""  # site_pages path of the mark of a build that is writing files


class ExportHead(NamedTuple):
    """What the export decides on before reading an article: is its file up to date?"""

    id: int
    version: int
    media_rev: int
    jekyll_name: str | None
    published: datetime
    title: str
    url: str
    source: str


class ExportStateMixin:
    conn: sqlite3.Connection
    _FULL_SQL: ClassVar[str]  # the archive's query of whole articles (ArticleRecord rows)

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    @staticmethod
    def _record(row: tuple[Any, ...]) -> ArticleRecord:
        raise NotImplementedError

    def export_heads(self) -> list[ExportHead]:
        """Every article's head, in the order of :meth:`Archive.iter_articles` (oldest
        first, ties by id)."""
        rows = self.conn.execute(
            "SELECT a.id, a.version, a.media_rev, a.jekyll_name, a.published, a.title, a.url,"
            " s.name FROM articles a JOIN sources s ON s.id = a.source_id"
            " ORDER BY a.published, a.id"
        ).fetchall()
        return [ExportHead(r[0], r[1], r[2], r[3], from_iso(r[4]), *r[5:]) for r in rows]

    def export_articles(self, ids: Sequence[int]) -> dict[int, tuple[ArticleRecord, str | None]]:
        """The given articles, whole, in one query, each with its imported post's exact
        text while the article is still at the version it was imported as (else None)."""
        marks = ", ".join("?" * len(ids))
        query = self._FULL_SQL.replace(
            " FROM articles a",
            ", CASE WHEN a.imported_version = a.version THEN a.imported_text END FROM articles a",
            1,
        )
        rows = self.conn.execute(f"{query} WHERE a.id IN ({marks})", list(ids))
        return {row[0]: (self._record(row[:-1]), row[-1]) for row in rows}

    def export_records(self, target: str) -> dict[int, ExportRecord]:
        rows = self.conn.execute(
            "SELECT article_id, path, version, size, media_rev FROM exports WHERE target = ?",
            (target,),
        ).fetchall()
        return {r[0]: ExportRecord(*r) for r in rows}

    def media_maps_of(self, ids: Sequence[int]) -> dict[int, dict[str, tuple[str, str]]]:
        """Mirrored images of the given articles, in one query: article -> original URL
        -> (sha256, ext); articles without any are left out."""
        marks = ", ".join("?" * len(ids))
        out: dict[int, dict[str, tuple[str, str]]] = {}
        for article_id, url, sha, ext in self.conn.execute(
            "SELECT m.article_id, m.url, md.sha256, md.ext FROM article_media m"
            f" JOIN media md ON md.sha256 = m.sha256 WHERE m.article_id IN ({marks})",
            list(ids),
        ):
            out.setdefault(article_id, {})[url] = (sha, ext)
        return out

    def save_exports(
        self, target: str, records: Iterable[ExportRecord], removed: Iterable[int] = ()
    ) -> None:
        records = list(records)
        gone = [*removed, *(r.article_id for r in records)]
        with self.transaction() as conn:
            conn.executemany(
                "DELETE FROM exports WHERE target = ? AND article_id = ?",
                [(target, a) for a in gone],
            )
            conn.executemany(
                "INSERT INTO exports (target, article_id, path, version, size, media_rev)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(target, r.article_id, r.path, r.version, r.size, r.media_rev) for r in records],
            )

    def site_stamps(self, target: str) -> dict[str, str]:
        """What each file of the site built in ``target`` was made from (see
        :meth:`site_record`)."""
        return self.site_record(target)[0]

    def site_record(self, target: str) -> tuple[dict[str, str], bool]:
        """:meth:`site_stamps`, and whether the last build did not end (killed, a full
        disk: see :meth:`mark_site_building`). Then every stamp is empty, so that every
        file is made again: the dead build may have written any of them from inputs that
        have changed back since (the paths stay, for removals)."""
        rows = dict(
            self.conn.execute(
                "SELECT path, stamp FROM site_pages WHERE target = ?", (target,)
            ).fetchall()
        )
        if rows.pop(_BUILDING, None) is not None:
            return dict.fromkeys(rows, ""), True
        return rows, False

    def mark_site_building(self, target: str) -> None:
        """Record that a build of ``target`` is writing files: until
        :meth:`save_site_stamps` replaces the record, :meth:`site_stamps` trusts none."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM site_pages WHERE target = ? AND path = ?", (target, _BUILDING)
            )
            conn.execute(
                "INSERT INTO site_pages (target, path, stamp) VALUES (?, ?, ?)",
                (target, _BUILDING, "building"),
            )

    def save_site_stamps(self, target: str, stamps: dict[str, str]) -> None:
        """Replace the record of the site in ``target`` by ``stamps`` (a build's end)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM site_pages WHERE target = ?", (target,))
            conn.executemany(
                "INSERT INTO site_pages (target, path, stamp) VALUES (?, ?, ?)",
                [(target, path, stamp) for path, stamp in stamps.items()],
            )
