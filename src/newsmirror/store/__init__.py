"""The archive: the single source of truth everything published derives from.

:class:`~newsmirror.store.archive.Archive` is the one narrow interface the rest
of newsmirror talks to; SQLite (one file, WAL, FTS5) is its implementation, and
PostgreSQL (:mod:`newsmirror.store.postgres`, registered here and imported only when
a ``postgresql://`` URL is opened) the other.
"""

from __future__ import annotations

from pathlib import Path

from newsmirror.config import is_postgres_url
from newsmirror.models import (
    ArticleRecord,
    ExportRecord,
    FeedState,
    SearchHit,
    SourceHealth,
    StoredArticle,
)
from newsmirror.store.archive import Archive

__all__ = [
    "Archive",
    "ArticleRecord",
    "ExportRecord",
    "FeedState",
    "SearchHit",
    "SourceHealth",
    "StoredArticle",
]


def _open_postgres(url: str, *, create: bool, media_dir: Path | None) -> Archive:
    from newsmirror.store.postgres import PgArchive

    return PgArchive.connect(url, create=create, media_dir=media_dir)


Archive.register_backend(is_postgres_url, _open_postgres)
