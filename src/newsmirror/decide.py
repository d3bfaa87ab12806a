"""Decisions, kept apart from I/O so they can be tested on their own.

Is an entry new, unchanged or changed? Is a feed body the one we already
parsed? Does an exported file need writing?
"""

from __future__ import annotations

import enum

from newsmirror.models import ExportRecord, FeedState, StoredArticle


class Change(enum.Enum):
    NEW = "new"
    UNCHANGED = "unchanged"
    CHANGED = "changed"


def classify_entry(
    existing: StoredArticle | None, *, title: str, author: str, content: str
) -> Change:
    """New when not stored; changed when its title, author or content differ."""
    if existing is None:
        return Change.NEW
    if (existing.title, existing.author, existing.content) == (title, author, content):
        return Change.UNCHANGED
    if not content and existing.content and (existing.title, existing.author) == (title, author):
        # A feed that dropped the body of an item it had carried does not erase it.
        return Change.UNCHANGED
    return Change.CHANGED


def body_unchanged(state: FeedState, body_sha256: str) -> bool:
    """The server sent the very bytes we parsed last time (it ignored our conditional GET)."""
    return state.body_sha256 is not None and state.body_sha256 == body_sha256


def needs_write(
    record: ExportRecord | None, *, version: int, path: str, on_disk_size: int | None
) -> bool:
    """An exported file must be (re)written unless it is the same version, path and size."""
    if record is None or on_disk_size is None:
        return True
    return record.version != version or record.path != path or record.size != on_disk_size
