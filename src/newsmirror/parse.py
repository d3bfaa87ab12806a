"""Parse feeds (RSS, Atom, RDF) into normalised entries.

feedparser reads the feed with its own sanitiser turned off (we sanitise with
nh3, which is faster and keeps article markup intact). Each entry is
normalised: a clean title, an absolute link, an author, the richest content
the feed carries and a UTC publication time clamped to now.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from newsmirror.clean import clean_text, sanitize_html, strip_tags
from newsmirror.errors import FeedParseError
from newsmirror.urls import absolute, is_http_url

# feedparser's built-in sanitiser and URI resolver cost most of its time.
feedparser.SANITIZE_HTML = False
feedparser.RESOLVE_RELATIVE_URIS = False


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


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[Entry]
    warning: str = ""


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def clamp_to_now(moment: datetime | None, now: datetime) -> datetime | None:
    """A publication time in the future is clamped to now."""
    if moment is None:
        return None
    return min(moment, now)


def _pick_content(raw: Any) -> str:
    contents = raw.get("content") or []
    best = ""
    for item in contents:
        value = item.get("value") or ""
        if len(value) > len(best):
            best = value
    if best:
        return str(best)
    for key in ("media_description", "summary", "description"):
        value = raw.get(key)
        if value:
            return str(value)
    return ""


def _pick_author(raw: Any, fallback: str) -> str:
    for key in ("author", "dc_creator", "creator"):
        value = clean_text(strip_tags(str(raw.get(key) or "")))
        if value:
            return value
    detail = raw.get("author_detail") or {}
    name = clean_text(str(detail.get("name") or ""))
    return name or fallback


def _pick_title(raw: Any) -> str:
    title = str(raw.get("title") or "")
    detail = raw.get("title_detail") or {}
    if "html" in str(detail.get("type", "")):
        title = strip_tags(title)
    return clean_text(title)


def normalise_entry(
    raw: Any, *, base_url: str, fallback_author: str, now: datetime
) -> Entry | None:
    """One feedparser entry as an :class:`Entry`; None when it has no usable link."""
    guid = clean_text(str(raw.get("id") or raw.get("guid") or ""))
    link = clean_text(str(raw.get("link") or ""))
    if not link:
        for candidate in raw.get("links") or []:
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = clean_text(str(candidate["href"]))
                break
    if link:
        link = absolute(base_url, link)
    elif is_http_url(guid):
        link = guid
    if not is_http_url(link):
        return None
    published_raw = str(raw.get("published") or raw.get("updated") or "")
    published = _struct_to_dt(raw.get("published_parsed")) or _struct_to_dt(
        raw.get("updated_parsed")
    )
    content = sanitize_html(_pick_content(raw))
    return Entry(
        url=link,
        guid=guid or link,
        title=_pick_title(raw) or link,
        author=_pick_author(raw, fallback_author),
        content=content,
        published=clamp_to_now(published, now),
        published_raw=clean_text(published_raw),
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
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    version = parsed.get("version") or ""
    entries_raw = parsed.get("entries") or []
    if not version and not entries_raw:
        if _looks_like_html_page(body):
            raise FeedParseError(
                "got an HTML page, not a feed",
                hint="The feed URL may have moved; open it in a browser.",
            )
        reason = parsed.get("bozo_exception")
        raise FeedParseError(
            f"not a feed: {reason or 'no RSS/Atom elements found'}",
            hint="Check that the URL serves RSS or Atom.",
        )
    feed_title = clean_text(str(parsed.get("feed", {}).get("title") or ""))
    entries = []
    for raw in entries_raw:
        entry = normalise_entry(raw, base_url=url, fallback_author=fallback_author, now=now)
        if entry is not None:
            entries.append(entry)
    warning = ""
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        if not entries:
            raise FeedParseError(
                f"malformed feed: {problem}",
                hint="The feed is broken at its origin; tell its publisher.",
            )
        warning = f"feed is not well-formed ({problem}); read {len(entries)} items leniently"
    return ParsedFeed(title=feed_title, entries=entries, warning=warning)
