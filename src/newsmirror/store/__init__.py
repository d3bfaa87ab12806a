"""The archive: the single source of truth everything published derives from.

:class:`~newsmirror.store.archive.Archive` is the one narrow interface the rest
of newsmirror talks to; SQLite (one file, WAL, FTS5) is its implementation.
"""

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
