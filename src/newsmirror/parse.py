"""Parse feeds (RSS, Atom, RDF) into normalised, sanitised entries.

:func:`feedreaders.read_feed` reads the feed (fastfeedparser, else feedparser);
each item is then normalised: a clean title, an absolute link (else the guid),
an author (else the source's name), the richest content the feed carries
(content:encoded, YouTube media:description, content, summary) sanitised with
nh3, and a UTC publication time clamped to now with the original text kept (dates
written the Chinese way, ``2024年01月05日 08:30``, are read in the source's time zone).
A feed of more than :data:`MAX_ITEMS` items keeps its newest ones; every field is cut to a
bound before any work is done on it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from newsmirror.clean import clean_text, sanitize_html, strip_tags
from newsmirror.errors import FeedParseError
from newsmirror.feedreaders import RawItem, prepare_feed, read_feed, read_feedparser
from newsmirror.models import Entry
from newsmirror.models import ParsedFeed as ParsedFeed  # (its home: apart from the parser)
from newsmirror.timeutil import DEFAULT_ZONE, parse_local_date
from newsmirror.topics import article_tags
from newsmirror.urls import absolute, is_http_url

# Bounds on what one item may bring (a hostile feed cannot fill the archive).
MAX_TITLE = 1000
MAX_AUTHOR = 300
MAX_URL = 4096
MAX_CONTENT = 2_000_000
MAX_ITEMS = 5000  # per feed and run: the newest are kept
MAX_DATE_RAW = 200


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


def item_time(raw: RawItem, zone: str = DEFAULT_ZONE) -> datetime | None:
    """An item's publication time in UTC: a date written the Chinese way (or without a
    zone) is read in the source's ``zone``; else what the feed reader understood."""
    return parse_local_date(raw.published_raw, zone) or raw.published


def normalise_entry(
    raw: RawItem,
    *,
    base_url: str,
    fallback_author: str,
    now: datetime,
    zone: str = DEFAULT_ZONE,
) -> Entry | None:
    """One read item as an :class:`Entry`; None when it has no usable link."""
    link = _pick_link(raw, base_url)
    if not is_http_url(link) or len(link) > MAX_URL:
        return None
    # Cut before cleaning: a 10 MB title costs no more than a short one.
    title = raw.title[: MAX_TITLE * 8]
    title = strip_tags(title) if raw.title_is_html else title
    content = (max(raw.contents, key=len, default="") or raw.summary).strip()
    content = sanitize_html(content[:MAX_CONTENT], base_url=link)
    return Entry(
        url=link,
        guid=clean_text(raw.guid[: MAX_URL * 2])[:MAX_URL] or link,
        title=clean_text(title)[:MAX_TITLE].strip() or link,
        author=clean_text(strip_tags(raw.author[: MAX_AUTHOR * 8]))[:MAX_AUTHOR].strip()
        or fallback_author,
        content=content,
        published=clamp_to_now(item_time(raw, zone), now),
        published_raw=clean_text(raw.published_raw[:MAX_DATE_RAW]),
        tags=article_tags(raw.categories, content),
    )


def newest_items(items: list[RawItem], limit: int, zone: str, now: datetime) -> list[RawItem]:
    """The ``limit`` newest items, in the feed's order (an undated item counts as new)."""
    if len(items) <= limit:
        return items
    times = [item_time(raw, zone) or now for raw in items]
    order = sorted(range(len(items)), key=lambda i: times[i], reverse=True)
    keep = set(order[:limit])
    return [raw for i, raw in enumerate(items) if i in keep]


def _looks_like_html_page(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]


def _normalise_all(
    items: list[RawItem], url: str, fallback_author: str, now: datetime, zone: str
) -> list[Entry]:
    return [
        e
        for raw in newest_items(items, MAX_ITEMS, zone, now)
        if (
            e := normalise_entry(
                raw, base_url=url, fallback_author=fallback_author, now=now, zone=zone
            )
        )
        is not None
    ]


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str = "",
    fallback_author: str = "",
    now: datetime | None = None,
    timezone: str = DEFAULT_ZONE,
) -> ParsedFeed:
    """Parse the bytes of a feed; raise FeedParseError if they are not a feed.

    ``timezone`` is the source's: dates written without a zone are read in it.
    """
    now = now or datetime.now(UTC)
    source = prepare_feed(body, content_type)
    feed = read_feed(source)
    entries = _normalise_all(feed.items, url, fallback_author, now, timezone)
    if not entries and feed.reader != "feedparser":
        feed = read_feedparser(source.body, source.content_type)
        entries = _normalise_all(feed.items, url, fallback_author, now, timezone)
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
    warnings = list(source.notes)
    if feed.problem:
        if not entries:
            raise FeedParseError(
                f"malformed feed: {feed.problem}",
                hint="The feed is broken at its origin; tell its publisher.",
            )
        warnings.append(
            f"feed is not well-formed ({feed.problem}); read {len(entries)} items leniently"
        )
    if len(feed.items) > MAX_ITEMS:
        warnings.append(f"kept the newest {MAX_ITEMS} of {len(feed.items)} items")
    warning = "; ".join(warnings)
    return ParsedFeed(
        title=clean_text(feed.title), entries=entries, warning=warning, reader=feed.reader
    )


# A small feed whose parse runs every lazily made part of the parser once (the feed
# reader, dates, the sanitiser's cleaners and its lxml pass, topic tags): a parse worker
# does it while it waits for its first body, which then takes a third of the time.
_WARM_UP = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>新闻</title>'
    "<item><title>标题</title><link>https://example.org/a/1.html</link><guid>1</guid>"
    "<pubDate>Mon, 01 Jan 2024 08:00:00 +0800</pubDate><category>要闻</category>"
    '<description><![CDATA[<p>正文 <a href="/tag/%E6%96%B0">新</a> <img src="/a.png" '
    'srcset="/a.png 1x"> <iframe src="https://www.youtube.com/embed/x"></iframe></p>'
    '<figure><img data-src="/b.png"></figure>]]></description></item></channel></rss>'
).encode()


def warm_up() -> ParsedFeed:
    """Parse a small built-in feed (see _WARM_UP); its result is of no use."""
    return parse_feed(_WARM_UP, url="https://example.org/feed.xml")
