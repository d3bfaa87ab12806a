"""Decisions, kept apart from I/O so they can be tested on their own.

Is an entry new, unchanged or changed? Is a feed body the one we already
parsed? Does an exported file need writing?
"""

from __future__ import annotations

import enum

from newsmirror.htmltext import plain_text
from newsmirror.models import ExportRecord, FeedState, StoredArticle


class Change(enum.Enum):
    NEW = "new"
    UNCHANGED = "unchanged"
    CHANGED = "changed"


def classify_entry(
    existing: StoredArticle | None,
    *,
    title: str,
    author: str,
    content: str,
    source_id: int | None = None,
) -> Change:
    """New when not stored; changed when its title, author or content differ.

    With ``source_id`` (the source whose feed carries the entry), an article stored by
    another source is never changed: it belongs to the source that stored it first.
    Two sources carrying one URL (each with its own title, summary or fallback author,
    the source's name) would otherwise overwrite each other on every run.
    """
    if existing is None:
        return Change.NEW
    if belongs_elsewhere(existing, source_id):
        return Change.UNCHANGED
    if (existing.title, existing.author, existing.content) == (title, author, content):
        return Change.UNCHANGED
    if not content and (existing.title, existing.author) == (title, author):
        # A feed that dropped the body of an item it had carried does not erase it.
        return Change.UNCHANGED
    return Change.CHANGED


def belongs_elsewhere(existing: StoredArticle, source_id: int | None) -> bool:
    """The stored article is another source's (``None``: no source to compare)."""
    return source_id is not None and existing.source_id != source_id


def body_unchanged(state: FeedState, body_sha256: str) -> bool:
    """The server sent the very bytes we parsed last time (it ignored our conditional GET)."""
    return state.body_sha256 == body_sha256  # None (never parsed) equals no digest


def needs_write(
    record: ExportRecord | None,
    *,
    version: int,
    path: str,
    on_disk_size: int | None,
    media_rev: int = 0,
) -> bool:
    """An exported file must be (re)written unless it is the same version, path and size
    and no image of the article was mirrored since."""
    if record is None:
        return True  # (a missing file, size None, differs from any size)
    return (record.version, record.path, record.size, record.media_rev) != (
        version,
        path,
        on_disk_size,
        media_rev,
    )


# How a teaser ends ("阅读全文", "閱讀全文" end with "全文", "more»" with "»").
_TRUNCATION_MARKS = (
    "…",
    "...",
    "[…]",
    "[...]",
    "全文",
    "更多",
    "继续阅读",
    "繼續閱讀",
    "read more",
    "continue reading",
    "»",
)
SHORT_TEXT = 200  # characters of text (white space ignored) below which a feed item is a summary


def needs_full_text(mode: str, content: str) -> bool:
    """Whether to fetch the article page, given the source's mode and the feed's HTML.

    ``auto`` fetches when the feed carries nothing, a short text, or a text that ends
    like a teaser (an ellipsis, 阅读全文, "read more").
    """
    if mode == "feed":
        return False
    if mode == "page":
        return True
    # Long HTML is long text: only short bodies are measured.
    if len(content) < 40 * SHORT_TEXT and len("".join(plain_text(content).split())) < SHORT_TEXT:
        return True
    tail = plain_text(content[-400:]).lower()
    return tail.endswith(_TRUNCATION_MARKS)


def use_page_text(feed_text: str, page_text: str) -> bool:
    """Keep the page's extraction unless it is shorter than what the feed carried."""
    return len("".join(page_text.split())) >= len("".join(feed_text.split()))


def classify_feed_update(
    existing: StoredArticle,
    *,
    title: str,
    author: str,
    content_hash: str,
    source_id: int | None = None,
) -> tuple[bool, bool]:
    """For an article whose body came from its page: (title/author changed, feed body changed).

    Its body is not compared with the feed's (a summary); a changed feed body only says
    that the page should be looked at again. Another source's entry changes neither.
    """
    if belongs_elsewhere(existing, source_id):
        return False, False
    return (
        (existing.title, existing.author) != (title, author),
        existing.feed_hash != content_hash,
    )
