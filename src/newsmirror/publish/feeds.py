"""Atom and RSS feeds for the whole site, each source and each tag.

Every feed that shows a new article is rewritten whole on each run, so what feeds hold
bounds what a run commits (30 full texts made each feed 0.4-0.65 MB; with 20 entries and
32 kB of full text each, a run of 10 new articles in 10 sources rewrote 22 feeds, 0.8 MB).

- The site's feeds (``feed.xml``, the one every page links to as 订阅, and ``rss.xml``)
  hold the newest :data:`FEED_ITEMS` entries. In ``feed.xml`` the newest carry their full
  text while the feed's full texts stay within :data:`FULL_BYTES`, the others a short
  summary; ``rss.xml`` carries summaries only (the same texts twice cost 30 kB a run). A reader
  who polls regularly meets each new item while it is among the newest, that is with its
  full text. Both are set in ``[publish.site]`` (``feed_items``, ``feed_full_kb``).
- A source's or a tag's feed (``feed.xml`` in its folder) is Atom only and holds the
  newest :data:`GROUP_ITEMS` entries with summaries, without categories and without a
  second link to the original (the entry's id is its address, the page links to it): its
  item links lead to
  the mirror's page, on the same host as the feed, and the full text is in the site's
  feed. A new article costs well under 1 kB in its source's feed, not its text twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime
from html import escape as html_escape
from xml.sax.saxutils import escape as _escape
from xml.sax.saxutils import quoteattr as _quoteattr

from newsmirror.publish.pages import Entry, excerpt, is_http_url
from newsmirror.timeutil import to_iso

FEED_ITEMS = 20
FULL_BYTES = 32 * 1024  # UTF-8 bytes of full texts in one feed
GROUP_ITEMS = 10  # entries in a source's or tag's feed (at most feed_items)
GROUP_FULL_BYTES = 0  # a source's or tag's feed: summaries only
SUMMARY_CHARS = 60  # as a listing's excerpt: 10 of them in each source's and tag's feed
# Characters XML 1.0 does not allow at all (a feed holding one does not parse).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """``text`` as XML character data."""
    return _escape(_NOT_XML.sub("", text))


def quoteattr(text: str) -> str:
    """``text`` as a quoted XML attribute value."""
    return _quoteattr(_NOT_XML.sub("", text))


def _cdata(text: str) -> str:
    return "<![CDATA[" + _NOT_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def summary(content: str) -> str:
    """A short plain-text summary of article HTML (the listings' excerpt, longer), as HTML."""
    return f"<p>{html_escape(excerpt(content, SUMMARY_CHARS))}</p>"


def bodies(
    entries: Sequence[Entry], contents: dict[int, str], budget: int = FULL_BYTES
) -> dict[int, str]:
    """Each entry's body in a feed: the full text for the newest entries while their
    total stays within ``budget`` UTF-8 bytes, a summary for the rest (and for every
    entry after the first that did not fit, so that full texts are always the newest)."""
    out: dict[int, str] = {}
    used = 0
    full = True
    for e in entries:
        content = contents.get(e.id, "")
        size = len(content.encode("utf-8", "surrogatepass"))
        full = full and used + size <= budget
        if full:
            used += size
            out[e.id] = content
        else:
            out[e.id] = summary(content)
    return out


def atom(
    title: str,
    self_href: str,
    site_href: str,
    entries: Sequence[Entry],
    contents: dict[int, str],
    updated: datetime,
    via: bool = True,
) -> str:
    """An Atom feed. Links are relative to the feed's own location (xml:base). With
    ``via`` (the site's feed) each entry also links to the original (it is always the
    entry's id), has its ``published`` time (the same as ``updated``, which Atom
    requires) and its source and tags as categories; a source's or tag's feed leaves
    these out (its entries' source is their author; ten articles with topic tags touch
    20-40 tag feeds, and their categories were a third of each entry)."""
    items = []
    for e in entries:
        items.append(
            "<entry>"
            f"<title>{escape(e.title)}</title>"
            f'<link rel="alternate" href={quoteattr(e.href)}/>'
            + (f'<link rel="via" href={quoteattr(e.url)}/>' if via and is_http_url(e.url) else "")
            + f"<id>{escape(e.url)}</id>"
            + (f"<published>{e.iso}</published>" if via else "")
            + f"<updated>{e.iso}</updated>"
            f"<author><name>{escape(e.source)}</name></author>"
            + (_categories(e) if via else "")
            + f'<content type="html">{_cdata(contents.get(e.id, ""))}</content>'
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base={quoteattr(site_href)}>'
        f"<title>{escape(title)}</title>"
        f'<link rel="self" href={quoteattr(self_href)}/>'
        f'<link rel="alternate" href={quoteattr("index.html")}/>'
        f"<id>urn:newsmirror:{escape(title)}</id><updated>{to_iso(updated)}</updated>"
        + "".join(items)
        + "</feed>\n"
    )


def _categories(e: Entry) -> str:
    return f"<category term={quoteattr(e.source)}/>" + "".join(
        f"<category term={quoteattr(t)}/>" for t in e.tags
    )


def rss(title: str, entries: Sequence[Entry], contents: dict[int, str], site_href: str) -> str:
    """An RSS 2.0 feed; item links point at the mirror's page (relative to the site)."""
    items = []
    for e in entries:
        published = datetime.fromisoformat(e.iso)  # Python 3.11 reads the "Z"
        items.append(
            "<item>"
            f"<title>{escape(e.title)}</title>"
            f"<link>{escape(site_href + e.href)}</link>"
            f'<guid isPermaLink="false">{escape(e.url)}</guid>'
            f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
            f"<category>{escape(e.source)}</category>"
            f"<description>{_cdata(contents.get(e.id, ''))}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(site_href)}index.html</link>"
        f"<description>{escape(title)}</description>" + "".join(items) + "</channel></rss>\n"
    )
