"""Two feed readers behind one shape: fastfeedparser first, feedparser as the fallback.

fastfeedparser (lxml) reads a well-formed feed about 25 times faster than
feedparser; feedparser is kept for what it reads better: malformed feeds
(with a ``bozo`` diagnosis), YouTube's ``media:description``, and feeds whose
encoding only the HTTP header names. Both give a :class:`RawFeed` of
:class:`RawItem`, so normalising does not care which one read the feed.

fastfeedparser parses in lxml's recover mode, which silently drops or mangles
text around an error (one backspace turns ``</p><p>`` into the text ``/pp``), so
:func:`prepare_feed` first checks that the feed is well-formed XML in the
encoding it declares. When it is not, the feed is decoded as well as can be
(:func:`decode.decode_feed`), the characters XML forbids are removed, and the
text is handed on as UTF-8 that says so; a feed that needed anything but a new
encoding is read by feedparser, and counted as such.
"""

from __future__ import annotations

import calendar
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fastfeedparser
from lxml import etree

from newsmirror.decode import (
    binary_kind,
    decode_feed,
    header_charset,
    looks_western_but_is_not,
    prolog_charset,
    split_bom,
)
from newsmirror.errors import FeedParseError
from newsmirror.isolate import one_line

_ITEM_START = re.compile(rb"<(?:\w+:)?(?:item|entry)[\s>/]")
_RAW_DATE = re.compile(
    rb"<((?:\w+:)?(?:pubDate|published|updated|date|issued|modified))[^>]*>\s*"
    rb"(?:<!\[CDATA\[)?\s*([^<\]]{4,80}?)\s*(?:\]\]>)?\s*</\1>"
)
_PROLOG_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=", re.I)
_FEEDPARSER_ONLY = (b"media:description", b"yt:videoId")
_LOOKS_LIKE_TAG = re.compile(r"</?[A-Za-z][^<>]*>|&[#\w]+;")
# What XML 1.0 forbids: C0 controls but tab, LF and CR, U+FFFE/U+FFFF, and references to them.
_NOT_XML = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
    r"|&#(?:[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]));"
)
_XML_PROLOG = re.compile(r"\A\s*<\?xml\b([^>]*?)\?>")
_PROLOG_ENCODING_ATTR = re.compile(r"""\s+encoding\s*=\s*(["'])[^"']*\1""")
_PROLOG_VERSION_ATTR = re.compile(r"""\A\s+version\s*=\s*(["'])[^"']*\1""")
_TOO_DEEP = "Excessive depth"
_TOO_DEEP_NOTE = "elements nested over 2048 deep: what lies deeper is left out"
_STRICT = threading.local()  # one strict lxml parser per thread (a parser is not shared)


def title_is_html(title: str) -> bool:
    """Whether a title carries markup to strip (the same rule for both readers)."""
    return bool(_LOOKS_LIKE_TAG.search(title))


@dataclass
class RawItem:
    """One item as a reader saw it, before normalising."""

    title: str = ""
    title_is_html: bool = False
    link: str = ""
    links: list[dict[str, Any]] = field(default_factory=list)
    guid: str = ""
    author: str = ""
    contents: list[str] = field(default_factory=list)
    summary: str = ""
    published: datetime | None = None
    published_raw: str = ""
    categories: list[str] = field(default_factory=list)  # category terms (or labels)


def _categories(raw: Any) -> list[str]:
    """An item's category names as either reader gives them (``tags``: term, label)."""
    out = []
    for tag in (raw.get("tags") or [])[:100]:
        if isinstance(tag, dict):
            name = tag.get("term") or tag.get("label")
            if isinstance(name, str):
                out.append(name)
    return out


@dataclass
class RawFeed:
    title: str
    items: list[RawItem]
    version: str = ""
    problem: str = ""  # why the feed is not well-formed, when it is not
    reader: str = "feedparser"


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _iso_to_dt(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _raw_dates(body: bytes) -> list[str] | None:
    """The date text of each item as written in the feed, or None if items can't be split."""
    starts = [m.start() for m in _ITEM_START.finditer(body)]
    if not starts:
        return None
    bounds = [*starts[1:], len(body)]
    out = []
    for start, end in zip(starts, bounds, strict=True):
        match = _RAW_DATE.search(body, start, end)
        out.append(match.group(2).decode("utf-8", "replace").strip() if match else "")
    return out


def xml_error(body: bytes) -> str:
    """lxml's first error on the feed without recovery ("" when it reads it without any)."""
    parser = getattr(_STRICT, "parser", None)
    if parser is None:
        parser = _STRICT.parser = etree.XMLParser(
            recover=False, resolve_entities=False, huge_tree=True, collect_ids=False
        )
    try:
        etree.fromstring(body, parser=parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        return " ".join(str(exc).split()) or "not well-formed"
    return ""


def is_well_formed(body: bytes) -> bool:
    """Whether lxml reads the feed without any error (as fastfeedparser does, without recovery)."""
    return not xml_error(body)


@dataclass(frozen=True)
class FeedBytes:
    """A feed's bytes as the readers get them, and what was done to them."""

    body: bytes
    content_type: str
    fast: bool  # well-formed in the encoding it declares: fastfeedparser may read it
    notes: tuple[str, ...] = ()


def _utf8_prolog(text: str) -> str:
    """The text with an XML prolog that declares UTF-8 (its version and standalone kept)."""
    match = _XML_PROLOG.match(text)
    attrs = _PROLOG_ENCODING_ATTR.sub("", match.group(1)) if match else ""
    version = _PROLOG_VERSION_ATTR.match(attrs)
    if version is None:
        prolog = '<?xml version="1.0" encoding="utf-8"?>'
    else:
        prolog = f'<?xml{version.group(0)} encoding="utf-8"{attrs[version.end() :]}?>'
    return prolog + (text[match.end() :] if match else text)


def _repaired(body: bytes, content_type: str, assumed: str) -> FeedBytes:
    """The feed decoded as well as can be, without what XML forbids, as UTF-8 that says so."""
    decoded = decode_feed(body, content_type)
    if decoded is None:
        raise FeedParseError(
            f"cannot read the feed's text: its bytes are not {assumed}, "
            "and no encoding detected fits them",
            hint="The feed's encoding is broken at its origin; tell its publisher.",
        )
    notes = []
    if decoded.codec != assumed:
        notes.append(f"feed bytes are not {assumed}; read as {decoded.codec}")
    if not decoded.exact:
        notes.append(f"bytes that are not {decoded.codec} were replaced")
    text, removed = _NOT_XML.subn("", decoded.text)
    if removed:
        notes.append(f"removed {removed} control characters that XML does not allow")
    fixed = _utf8_prolog(text).encode("utf-8")
    mime = content_type.split(";", 1)[0].strip() or "application/xml"
    fast = not removed and is_well_formed(fixed)
    return FeedBytes(fixed, f"{mime}; charset=utf-8", fast, tuple(notes))


def prepare_feed(body: bytes, content_type: str = "") -> FeedBytes:
    """The feed as it came when it is well-formed in the encoding it declares (the usual
    case: one strict lxml parse); else repaired. Raise FeedParseError if no encoding reads it.
    """
    if not body.strip():
        return FeedBytes(body, content_type, fast=False)  # nothing to repair
    kind = binary_kind(body)
    if kind is not None:
        raise FeedParseError(
            f"not a feed: its bytes are {kind}",
            hint="The address gives a file, not an RSS or Atom feed: check the source's "
            "feeds in the config (the site's page usually links its feed).",
        )
    header = header_charset(content_type)
    bom, rest = split_bom(body)
    declared = bom or prolog_charset(body)
    header_only = header is not None and declared is None
    assumed = (header if header_only else declared) or "utf-8"
    if not looks_western_but_is_not(rest, assumed):
        if header_only:  # feedparser reads it in the header's encoding, as before
            if _decodes(rest, assumed):
                return FeedBytes(body, content_type, fast=False)
        elif not (error := xml_error(body)):
            return FeedBytes(body, content_type, fast=True)
        elif error.startswith(_TOO_DEEP):  # feedparser would take seconds a megabyte
            return FeedBytes(body, content_type, fast=True, notes=(_TOO_DEEP_NOTE,))
    return _repaired(body, content_type, assumed)


def _decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def read_fast(
    body: bytes, content_type: str = "", *, well_formed: bool | None = None
) -> RawFeed | None:
    """fastfeedparser's reading, or None when feedparser should read this feed instead
    (``well_formed``: the caller has checked it with :func:`is_well_formed`)."""
    if any(marker in body for marker in _FEEDPARSER_ONLY):
        return None
    if "charset=" in content_type.lower() and not _PROLOG_ENCODING.match(body):
        return None  # the encoding is named only by the HTTP header
    if not (is_well_formed(body) if well_formed is None else well_formed):
        return None  # lxml's recover mode would lose or mangle text around the error
    raw_dates = _raw_dates(body)
    if raw_dates is None:
        return None
    try:
        parsed = fastfeedparser.parse(body)
    except Exception:
        return None
    entries = parsed.get("entries") or []
    if len(entries) != len(raw_dates):
        return None
    items = []
    for raw, raw_date in zip(entries, raw_dates, strict=True):
        contents = [str(c.get("value") or "") for c in raw.get("content") or []]
        published = _iso_to_dt(raw.get("published")) or _iso_to_dt(raw.get("updated"))
        items.append(
            RawItem(
                title=str(raw.get("title") or ""),
                title_is_html=title_is_html(str(raw.get("title") or "")),
                link=str(raw.get("link") or ""),
                links=list(raw.get("links") or []),
                guid=str(raw.get("id") or ""),
                author=str(raw.get("author") or ""),
                contents=contents,
                summary=str(raw.get("description") or ""),
                published=published,
                published_raw=raw_date,
                categories=_categories(raw),
            )
        )
    if not any(item.link or item.guid for item in items):
        return None
    feed = parsed.get("feed") or {}
    return RawFeed(
        title=str(feed.get("title") or ""), items=items, version="fast", reader="fastfeedparser"
    )


def read_feedparser(body: bytes, content_type: str = "") -> RawFeed:
    """feedparser's reading: slower, lenient, and says why a feed is malformed.

    Its built-in sanitiser and URI resolver, which cost most of its time, are off:
    we sanitise with nh3. It is imported here, when a feed needs it.
    """
    import feedparser

    headers = {"content-type": content_type} if content_type else {}
    try:
        parsed = feedparser.parse(
            body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # e.g. a lone surrogate as a character reference
        return RawFeed(title="", items=[], problem=f"unreadable ({one_line(exc)})")
    items = []
    for raw in parsed.get("entries") or []:
        author = (
            raw.get("author")
            or raw.get("dc_creator")
            or (raw.get("author_detail") or {}).get("name")
            or ""
        )
        items.append(
            RawItem(
                title=str(raw.get("title") or ""),
                title_is_html=title_is_html(str(raw.get("title") or "")),
                link=str(raw.get("link") or ""),
                links=list(raw.get("links") or []),
                guid=str(raw.get("id") or raw.get("guid") or ""),
                author=str(author),
                contents=[str(c.get("value") or "") for c in raw.get("content") or []],
                summary=str(
                    raw.get("media_description")
                    or raw.get("summary")
                    or raw.get("description")
                    or ""
                ),
                published=_struct_to_dt(raw.get("published_parsed"))
                or _struct_to_dt(raw.get("updated_parsed")),
                published_raw=str(raw.get("published") or raw.get("updated") or ""),
                categories=_categories(raw),
            )
        )
    problem = ""
    if parsed.get("bozo"):
        problem = str(parsed.get("bozo_exception") or "not well-formed")
    return RawFeed(
        title=str((parsed.get("feed") or {}).get("title") or ""),
        items=items,
        version=str(parsed.get("version") or ""),
        problem=problem,
    )


def read_feed(feed: FeedBytes) -> RawFeed:
    """The fast reader where it can, feedparser where it must."""
    if feed.fast:
        fast = read_fast(feed.body, feed.content_type, well_formed=True)
        if fast is not None:
            return fast
    slow = read_feedparser(feed.body, feed.content_type)
    if slow.items or feed.fast:
        return slow
    # feedparser read nothing (it crashed, say): lxml's lenient reading, flagged, is all there is.
    lenient = read_fast(feed.body, feed.content_type, well_formed=True)
    if lenient is None or not lenient.items:
        return slow
    lenient.problem = slow.problem or "not well-formed"
    return lenient
