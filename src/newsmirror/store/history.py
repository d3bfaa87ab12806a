"""The archive's record of what changed at the origin: each article's earlier versions
(table ``revisions``) and the articles whose page was taken down (``removed_at``: set when
a page fetch or ``refetch`` gets HTTP 404 or 410, cleared when the page is back; see
:meth:`ContentMixin.page_checked`)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

# Where a body came from: its feed, or the article's page (extracted, or by a selector).
PAGE_ORIGINS = ("page", "selector")
# A revision's origin when the version after it is another copy of the same article (an
# import merged an old mirror's post into the fetched one, or the other way): no edit.
COPY = "copy"


@dataclass(frozen=True)
class RevisionHead:
    """One earlier version of an article (no bodies)."""

    id: int
    article_id: int
    version: int
    title: str
    author: str
    recorded: str  # when the archive replaced it (UTC ISO)
    origin: str | None  # where its body came from; None: recorded before newsmirror kept it


@dataclass(frozen=True)
class Version:
    """An article's title, author and body at one version."""

    title: str
    author: str
    content: str


class HistoryMixin:
    conn: sqlite3.Connection

    def revision_heads(self) -> list[RevisionHead]:
        """Every revision, by article and version."""
        rows = self.conn.execute(
            "SELECT id, article_id, version, title, author, recorded, origin FROM revisions"
            " ORDER BY article_id, version"
        ).fetchall()
        return [RevisionHead(*row) for row in rows]

    def content_origins(self) -> dict[int, str]:
        """Where each article's current body came from (feed, page, selector)."""
        return dict(self.conn.execute("SELECT id, content_origin FROM articles").fetchall())

    def version_pair(self, article_id: int, version: int) -> tuple[Version, Version]:
        """An article at ``version`` (a revision) and at the version after it (the next
        revision, or the article as it is now)."""
        old = self.conn.execute(
            "SELECT title, author, content FROM revisions WHERE article_id = ? AND version = ?",
            (article_id, version),
        ).fetchone()
        new = (
            self.conn.execute(
                "SELECT title, author, content FROM revisions WHERE article_id = ? AND version > ?"
                " ORDER BY version LIMIT 1",
                (article_id, version),
            ).fetchone()
            or self.conn.execute(
                "SELECT title, author, content FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
        )
        return Version(*old), Version(*new)

    def removed_counts(self) -> dict[str, int]:
        """Per source, how many of its articles were taken down at their origin."""
        rows = self.conn.execute(
            "SELECT s.name, count(*) FROM articles a JOIN sources s ON s.id = a.source_id"
            " WHERE a.removed_at IS NOT NULL GROUP BY s.name"
        ).fetchall()
        return dict(rows)
