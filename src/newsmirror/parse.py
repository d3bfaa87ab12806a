"""Parse feeds (RSS, Atom, RDF) into normalised, sanitised entries.

:func:`feedreaders.read_feed` reads the feed (fastfeedparser, else feedparser);
each item is then normalised: a clean title, an absolute link (else the guid),
an author (else the source's name), the richest content the feed carries
(content:encoded, YouTube media:description, content, summary) sanitised with
nh3, and a UTC publication time clamped to now with the original text kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from newsmirror.clean import clean_text, sanitize_html, strip_tags
from newsmirror.errors import FeedParseError
from newsmirror.feedreaders import RawItem, read_feed, read_feedparser
from newsmirror.models import Entry
from newsmirror.urls import absolute, is_http_url


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[Entry]
    warning: str = ""
    reader: str = ""


# Bounds on what one item may bring (a hostile feed cannot fill the archive).
MAX_TITLE = 1000
MAX_AUTHOR = 300
MAX_URL = 4096
MAX_CONTENT = 2_000_000
MAX_ITEMS = 5000


def clamp_to_now(moment: datetime | None, now: datetime) -> datetime | None:
    """A publication time in the future is clamped to now."""
    if moment is None:
        return None
    return min(moment, now)


def _pick_link(raw: RawItem, base_url: str) -> str:
    link = clean_text(raw.link)
    if not link:
        for candidate in raw.links:
            if (candidate.get("rel") or "alternate") == "alternate" and candidate.get("href"):
                link = clean_text(str(candidate["href"]))
                break
    guid = clean_text(raw.guid)
    if link:
        return absolute(base_url, link)
    return guid if is_http_url(guid) else ""


def normalise_entry(
    raw: RawItem, *, base_url: str, fallback_author: str, now: datetime
) -> Entry | None:
    """One read item as an :class:`Entry`; None when it has no usable link."""
    link = _pick_link(raw, base_url)
    if not is_http_url(link) or len(link) > MAX_URL:
        return None
    title = strip_tags(raw.title) if raw.title_is_html else raw.title
    content = (max(raw.contents, key=len, default="") or raw.summary).strip()
    return Entry(
        url=link,
        guid=clean_text(raw.guid)[:MAX_URL] or link,
        title=clean_text(title)[:MAX_TITLE].strip() or link,
        author=clean_text(strip_tags(raw.author))[:MAX_AUTHOR].strip() or fallback_author,
        content=sanitize_html(content[:MAX_CONTENT], base_url=link),
        published=clamp_to_now(raw.published, now),
        published_raw=clean_text(raw.published_raw),
    )


def _looks_like_html_page(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str = "",
    fallback_author: str = "",
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse the bytes of a feed; raise FeedParseError if they are not a feed."""
    now = now or datetime.now(UTC)
    feed = read_feed(body, content_type)
    entries = [
        e
        for raw in feed.items
        if (e := normalise_entry(raw, base_url=url, fallback_author=fallback_author, now=now))
        is not None
    ]
    if not entries and feed.reader != "feedparser":
        feed = read_feedparser(body, content_type)
        entries = [
            e
            for raw in feed.items
            if (e := normalise_entry(raw, base_url=url, fallback_author=fallback_author, now=now))
            is not None
        ]
    if not feed.version and not feed.items:
        if _looks_like_html_page(body):
            raise FeedParseError(
                "got an HTML page, not a feed",
                hint="The feed URL may have moved; open it in a browser.",
            )
        raise FeedParseError(
            f"not a feed: {feed.problem or 'no RSS/Atom elements found'}",
            hint="Check that the URL serves RSS or Atom.",
        )
    warning = ""
    if feed.problem:
        if not entries:
            raise FeedParseError(
                f"malformed feed: {feed.problem}",
                hint="The feed is broken at its origin; tell its publisher.",
            )
        warning = f"feed is not well-formed ({feed.problem}); read {len(entries)} items leniently"
    return ParsedFeed(
        title=clean_text(feed.title), entries=entries, warning=warning, reader=feed.reader
    )
