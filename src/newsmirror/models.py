"""Plain records passed across the archive's interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FeedState:
    """What the last successful fetch of a feed left for the next one."""

    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None


@dataclass(frozen=True)
class FeedCheck:
    """A fetch of one feed that stored no entries: not modified, or failed. The pipeline
    records a run's checks together at its end (one transaction for an idle run)."""

    source: str
    url: str
    outcome: str  # "not_modified" or "failed"
    started: datetime
    finished: datetime
    http_status: int | None = None
    error: str | None = None
    state: FeedState | None = None  # the feed's new conditional-GET state, if it changed


@dataclass(frozen=True)
class SourceOutcome:
    """A source's result in one run, for its health record."""

    name: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """One `newsmirror run` as the archive keeps it."""

    started: str
    finished: str
    exit_code: int
    new: int
    updated: int
    failures: int  # sources, outputs and targets that failed


@dataclass(frozen=True)
class StoredArticle:
    """The parts of a stored article needed to decide whether an entry changed it."""

    id: int
    title: str
    author: str
    content: str
    version: int
    feed_hash: str = ""
    content_origin: str = "feed"
    source_id: int = 0  # the source that stored it first, which it belongs to


@dataclass(frozen=True)
class ArticleRecord:
    """A whole article, as read for publishing."""

    id: int
    source: str
    timezone: str
    url: str
    title: str
    author: str
    content: str
    tags: tuple[str, ...]
    published: datetime
    date_known: bool
    first_seen: datetime
    version: int
    jekyll_name: str | None
    media_rev: int = 0
    removed_at: str | None = None
    source_tags: tuple[str, ...] = ()  # the source's configured tags (the site uses them)
    imported: bool = False  # from a Jekyll post: its tags are the post's, not topic tags


@dataclass(frozen=True)
class ExportRecord:
    article_id: int
    path: str
    version: int
    size: int
    media_rev: int = 0


@dataclass(frozen=True)
class PageTask:
    """An article whose page is to be fetched for its full text (or checked)."""

    article_id: int
    url: str
    source: str
    content: str
    content_origin: str
    attempts: int
    guarded: bool = False  # archived by `add`: fetched only through its network guard


@dataclass(frozen=True)
class ImageTask:
    """An image of an article still to be mirrored."""

    article_id: int
    url: str
    referer: str
    attempts: int


@dataclass(frozen=True)
class SourceHealth:
    name: str
    enabled: bool
    articles: int
    last_attempt: str | None
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    consecutive_failures: int
    feeds: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SearchHit:
    id: int
    published: datetime
    source: str
    title: str
    url: str
    timezone: str = "Asia/Shanghai"
    # A piece of the text around the first match, and where the terms are in it and
    # in the title ((start, end) offsets).
    snippet: str = ""
    marks: tuple[tuple[int, int], ...] = ()
    title_marks: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class SearchResults:
    """How many articles match a search, and the requested page of them."""

    total: int
    hits: list[SearchHit]


@dataclass(frozen=True)
class Entry:
    """One feed item, normalised and sanitised."""

    url: str
    guid: str
    title: str
    author: str
    content: str
    published: datetime | None
    published_raw: str
    tags: tuple[str, ...] = ()  # feed categories and in-article tag links (topics.py)


@dataclass(frozen=True)
class ParsedFeed:
    """What parsing one feed gives (parse.parse_feed). A parse worker sends it back
    pickled; living here, apart from the parser, it unpickles in the run's own process
    without importing lxml, nh3 or fastfeedparser (parsepool)."""

    title: str
    entries: list[Entry]
    warning: str = ""
    reader: str = ""
