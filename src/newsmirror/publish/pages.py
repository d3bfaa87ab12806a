"""The shape of the static site: every page's path, and what each listing holds.

Plain functions over article heads, no I/O: paths (relative to the site root,
UTF-8 on disk, percent-encoded in links), the entries of listings grouped by
month, pagination, and the neighbours of each article.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from urllib.parse import quote

from newsmirror.models import ArticleRecord
from newsmirror.timeutil import (
    from_iso,
    in_zone,
    to_iso,
    zone_or_default,
    zone_words,
)

PER_PAGE = 20  # a listing's front page is rewritten by every run that adds to it
# A source's or tag's listing: a run of new articles rewrites the front page of every
# source and tag it touches (ten articles with topic tags touch 20-40 of them), so these
# front pages are half the home page's.
GROUP_PER_PAGE = 10
SEGMENT_BYTES = 200
_ENDS = re.compile(r"^[\s.]+|[\s.]+$")
# Device names Windows reserves, with or without an extension.
_RESERVED = re.compile(
    r"(?i)^(con|prn|aux|nul|conin\$|conout\$|(com|lpt)[0-9\u00b9\u00b2\u00b3])\s*(\.|$)"
)
_HTTP = re.compile(r"https?://[^\s\x00-\x1f\x7f]", re.I)
_UNSAFE_SEGMENT = re.compile(r'[<>:"/\\|?*#%\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]')


def segment(name: str) -> str:
    """A name as one path segment, valid on every system (CJK kept as it is): no character
    Windows or URLs forbid, no leading or trailing dot or space, no reserved device name,
    at most 200 bytes. Different names may give the same segment: see :func:`unique_folders`."""
    cleaned = _UNSAFE_SEGMENT.sub("-", unicodedata.normalize("NFC", name))
    return _finish(cleaned, SEGMENT_BYTES)


def _finish(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes, its ends cleaned, a reserved name suffixed."""
    text = text.encode()[:limit].decode(errors="ignore")  # no surrogates: segment() drops them
    text = _ENDS.sub("", text) or "-"
    reserved = _RESERVED.match(text)
    return f"{reserved.group(1)}-{text[reserved.end(1) :]}" if reserved else text


def fold(path: str) -> str:
    """The form in which two names collide on a case-insensitive file system."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def _digest(text: str, size: int) -> str:
    return hashlib.sha1(text.encode(errors="surrogatepass")).hexdigest()[:size]


def unique_folders(first_seen: dict[str, int]) -> dict[str, str]:
    """A folder segment for each name, all distinct case-insensitively.

    ``first_seen`` ranks the names (the lowest id of their articles). Of the names whose
    segments collide (``新闻:一`` and ``新闻/一``, ``RFA`` and ``rfa``), the one seen first keeps
    the plain segment and the others get a hash of their name appended, so the same archive
    gives the same folders on every build and adding articles never renames a folder.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in sorted(first_seen, key=lambda n: (first_seen[n], n)):
        plain = segment(name)
        if fold(plain) not in taken:
            out[name] = plain
            taken.add(fold(plain))
    for name in sorted(set(first_seen) - set(out)):
        for size in (8, 16, 40):
            digest = _digest(name, size)
            folder = f"{_finish(segment(name), SEGMENT_BYTES - size - 1)}-{digest}"
            if fold(folder) not in taken:
                break
        out[name] = folder
        taken.add(fold(folder))
    return out


@dataclass(frozen=True)
class Folders:
    """The folders of the sources and tags of one site."""

    sources: dict[str, str]
    tags: dict[str, str]

    def source(self, name: str) -> str:
        return f"sources/{self.sources[name]}/"

    def tag(self, name: str) -> str:
        return f"tags/{self.tags[name]}/"


def folders(entries: Iterable[Entry]) -> Folders:
    sources: dict[str, int] = {}
    tags: dict[str, int] = {}
    for entry in entries:
        sources[entry.source] = min(sources.get(entry.source, entry.id), entry.id)
        for tag in entry.tags:
            tags[tag] = min(tags.get(tag, entry.id), entry.id)
    return Folders(unique_folders(sources), unique_folders(tags))


def is_http_url(url: object) -> bool:
    """Whether ``url`` may be a link's target: http(s) from its very first character (a
    browser strips leading spaces and controls, so " javascript:" would run)."""
    return isinstance(url, str) and _HTTP.match(url) is not None


def href(path: str) -> str:
    """A site path as a link: percent-encoded UTF-8, relative to the site root."""
    return quote(path)  # "/" stays: quote's default safe


def root_of(path: str) -> str:
    """The relative prefix from ``path`` back to the site root ("", "../", ...)."""
    return "../" * path.count("/")


def article_path(article: ArticleRecord) -> str:
    digest = hashlib.sha1(article.url.encode()).hexdigest()[:12]  # stored URL: stable
    return f"posts/{article.published:%Y}/{article.published:%m}/{digest}.html"


def unique_paths(entries: Sequence[Entry]) -> list[Entry]:
    """``entries`` with distinct page paths: when two articles share one (the same URL in
    two sources), the one with the lowest id keeps it, the other gets a hash of its source
    and URL, so adding an article never moves an existing page."""
    taken: dict[str, int] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        taken.setdefault(entry.path, entry.id)
    out = []
    for entry in entries:
        if taken[entry.path] != entry.id:
            folder = entry.path.rsplit("/", 1)[0]
            seed = f"{entry.source}\n{entry.url}"
            for size in (12, 20, 40):
                path = f"{folder}/{_digest(seed, size)}.html"
                if path not in taken:
                    break
            else:
                path = f"{folder}/{_digest(seed, 40)}-{entry.id}.html"
            taken[path] = entry.id
            entry = replace(entry, path=path)
        out.append(entry)
    return out


def page_path(folder: str, number: int = 0) -> str:
    """The front page of a listing in ``folder`` (``number`` > 0: an older page)."""
    return f"{folder}page/{number}.html" if number else f"{folder}index.html"


@dataclass(frozen=True)
class Entry:
    """An article as listings show it."""

    id: int
    path: str
    title: str
    source: str
    url: str
    iso: str
    local: str
    month: str
    tags: tuple[str, ...]
    version: int = 0  # with media_rev: what a listing's excerpt and image depend on
    media_rev: int = 0

    @cached_property  # listings show an entry's link on several pages
    def href(self) -> str:
        return href(self.path)


def zone_time(when: datetime, zone: str) -> str:
    """``when`` in ``zone``, to the minute, with the zone named: "2024-01-05 16:30 北京时间"."""
    moment = in_zone(when, zone)
    return f"{moment:%Y-%m-%d %H:%M} {zone_words(moment, zone_or_default(zone).key)}"


def zone_day(iso: str, zone: str) -> str:
    """The day (YYYY-MM-DD) of a stored UTC time in ``zone``: what a reader of that
    source's pages calls that day (never the UTC day cut from the ISO string)."""
    return f"{in_zone(from_iso(iso), zone):%Y-%m-%d}"


def local_time(article: ArticleRecord) -> str:
    """The publication time in the source's time zone, with the zone shown."""
    return zone_time(article.published, article.timezone)


def entry_of(article: ArticleRecord) -> Entry:
    moment = in_zone(article.published, article.timezone)
    tags = tuple(
        dict.fromkeys(t for t in (*article.source_tags, *article.tags) if t != article.source)
    )
    return Entry(
        article.id,
        article_path(article),
        article.title,
        article.source,
        article.url,
        to_iso(article.published),
        local_time(article),
        f"{moment:%Y年%m月}",
        tags,
        article.version,
        article.media_rev,
    )


def month_groups(entries: Sequence[Entry]) -> list[tuple[str, list[Entry]]]:
    """Entries (newest first) grouped by their month in their source's time zone, newest
    month first. Sources in different zones interleave near a month's end, so a month's
    entries need not be adjacent: each month is one group all the same."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.month, []).append(entry)
    return sorted(groups.items(), reverse=True)  # by month: the keys are distinct


def day_groups(
    entries: Sequence[Entry],
) -> list[tuple[str, list[tuple[str, list[Entry]]]]]:
    """Entries (newest first) by month ("2023年10月") and day ("2023-10-05"), both in the
    source's time zone, newest first."""
    months: dict[str, dict[str, list[Entry]]] = {}
    for entry in entries:
        months.setdefault(entry.month, {}).setdefault(entry.local[:10], []).append(entry)
    return [
        (month, sorted(days.items(), reverse=True))
        for month, days in sorted(months.items(), reverse=True)
    ]


def day_path(day: str) -> str:
    """The archive page of the day ``day`` ("2023-10-05")."""
    return f"archive/{day[:4]}/{day[5:7]}/{day[8:10]}.html"


def day_name(day: str) -> str:
    return f"{day[:4]}年{day[5:7]}月{day[8:10]}日"


@dataclass(frozen=True)
class Pager:
    number: int  # counted from the oldest page, so a page keeps its number forever
    newer: str | None
    older: str | None


def paginate(
    folder: str, entries: Sequence[Entry], per_page: int = PER_PAGE
) -> list[tuple[str, list[Entry], Pager]]:
    """The pages of a listing (entries newest first): (path, entries, pager).

    The first page shows the newest ``per_page`` entries. Older pages are fixed
    chunks numbered from the oldest (``page/1.html`` holds the oldest entries), so
    when articles are added only the newest chunk and the first page change: the
    other pages keep their bytes, which keeps incremental builds and git history small.
    """
    oldest_first = list(reversed(entries))
    chunks = [oldest_first[i : i + per_page] for i in range(0, len(oldest_first), per_page)]
    count = len(chunks)
    pages: list[tuple[str, list[Entry], Pager]] = []
    front_older = None
    if count > 1:
        # The front page shows the newest chunk (topped up from the one before it).
        front_older = href(f"{folder}page/{count - 1}.html")
    pages.append((f"{folder}index.html", list(entries[:per_page]), Pager(count, None, front_older)))
    for number in range(1, count):  # every chunk but the newest, which the front page shows
        chunk = list(reversed(chunks[number - 1]))
        # Always the next number: the newest of these pages links to the stub at
        # page/{count}.html (see newest_stub), so that it keeps its bytes when the
        # next page starts.
        newer = href(f"{folder}page/{number + 1}.html")
        older = href(f"{folder}page/{number - 1}.html") if number > 1 else None
        pages.append((f"{folder}page/{number}.html", chunk, Pager(number, newer, older)))
    return pages


def newest_stub(folder: str, entries: Sequence[Entry], per_page: int = PER_PAGE) -> str | None:
    """The path of the listing's newest chunk, which the front page shows: a small page
    there sends the reader to the front page (the newest full page links to it as
    newer). None while the listing has one page. When the chunk fills and the next one
    starts, the stub becomes that chunk's page and a new stub follows it."""
    count = -(-len(entries) // per_page)
    return f"{folder}page/{count}.html" if count > 1 else None


@dataclass(frozen=True)
class Neighbours:
    newer: Entry | None
    older: Entry | None
    newer_in_source: Entry | None
    older_in_source: Entry | None


def neighbours(entries: Sequence[Entry]) -> dict[int, Neighbours]:
    """Previous/next overall and within the same source, for entries newest first."""
    by_source: dict[str, list[Entry]] = {}
    for entry in entries:
        by_source.setdefault(entry.source, []).append(entry)
    within: dict[int, tuple[Entry | None, Entry | None]] = {}
    for items in by_source.values():
        for i, entry in enumerate(items):
            within[entry.id] = (
                items[i - 1] if i else None,
                items[i + 1] if i + 1 < len(items) else None,
            )
    out = {}
    for i, entry in enumerate(entries):
        newer = entries[i - 1] if i else None
        older = entries[i + 1] if i + 1 < len(entries) else None
        out[entry.id] = Neighbours(newer, older, *within[entry.id])
    return out


def by_key(entries: Iterable[Entry], keys: str) -> dict[str, list[Entry]]:
    """Entries by source (``keys="source"``) or by each of their tags (``"tags"``)."""
    out: dict[str, list[Entry]] = {}
    for entry in entries:
        names = [entry.source] if keys == "source" else list(entry.tags)
        for name in names:
            out.setdefault(name, []).append(entry)
    return out


# -- what pages show of an article's body ----------------------------------------------------

EXCERPT_CHARS = 60  # two lines on a phone (CSS clamps it there); each costs its bytes in every
# listing that shows the article, rewritten with it (issue 8's budget)
_BLOCK = re.compile(
    r"</?(?:p|div|h[1-6]|li|ul|ol|blockquote|figure|figcaption|table|tr|td|th|pre|section|"
    r"article|header|footer|br|hr|dd|dt|dl)\b[^>]*>",
    re.I,
)
_HIDDEN = re.compile(r"<(script|style|template|figcaption)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[A-Za-z/!?](?:[^>\"']|\"[^\"]*\"|'[^']*')*>")


_OPENS_HIDDEN = re.compile(r"<(?:script|style|template|figcaption)\b", re.I)


def excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of an article's text, plain (no markup, entities read), at most ``limit``
    characters and an ellipsis."""
    # The first limit * 10 (else 20) characters of markup mostly suffice: read more only
    # when their text is short, a hidden block starts there and ends past the cut, or a tag
    # is left there as text (a "<" stays only where a tag did not close: the cut fell inside
    # one whose quoted value holds a ">", and the tag's text would be shown). The margin
    # keeps an entity cut at the end out of the characters shown.
    for size in (limit * 10, limit * 20):
        if len(body) <= size:
            break
        start = _HIDDEN.sub(" ", body[:size])
        if _OPENS_HIDDEN.search(start):
            continue
        markup_free = _untagged(start)
        if "<" not in markup_free:
            text = _collapsed(markup_free)
            if len(text) >= limit + 40:
                return text[:limit].rstrip() + "…"
    text = _plain(_HIDDEN.sub(" ", body[: limit * 40]))  # enough, whatever markup's share
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def _plain(markup: str) -> str:
    return _collapsed(_untagged(markup))


def _untagged(markup: str) -> str:
    # A tag the cut left open: from the first "<" after the last ">" (what the regex
    # "<[^>]*$" removes, found without trying each "<").
    cut = markup.find("<", markup.rfind(">") + 1)
    text = markup if cut < 0 else markup[:cut]
    return _TAG.sub("", _BLOCK.sub(" ", text))


def _collapsed(text: str) -> str:
    """``text`` with its entities read and each run of white space one space, stripped
    (str.split's white space is the regex ``\\s``'s: test_site_a11y proves it)."""
    return " ".join(html.unescape(text).split())


_IMG = re.compile(r"<img\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.I)
_FIGURE = re.compile(r"<figure\b.*?</figure\s*>", re.I | re.S)
_SRC = re.compile(r"""\ssrc\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_IFRAME = re.compile(r"<iframe\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>.*?</iframe\s*>", re.I | re.S)
_YOUTUBE = re.compile(r"youtube(?:-nocookie)?\.com/embed/([\w-]{6,})", re.I)


def _has(tag: str, name: str) -> bool:
    return re.search(rf"\s{name}\s*=", tag, re.I) is not None


def _with(tag: str, extra: str) -> str:
    """``tag`` with the attributes ``extra`` added before its end."""
    end = len(tag) - (2 if tag.endswith("/>") else 1)
    return f"{tag[:end].rstrip()} {extra}{tag[end:]}"


def finish_content(content: str, title: str) -> str:
    """An article's body as its page shows it: every image with ``alt`` (an image in a
    captioned figure: empty, the caption says it; the first other image: the article's title;
    the rest: empty, as decoration) and loaded lazily; every frame loaded lazily, a YouTube
    frame followed by a link to the video (behind the wall the frame stays blank)."""
    captioned: set[int] = set()
    for figure in _FIGURE.finditer(content):
        if "<figcaption" in figure.group(0).lower():
            captioned.update(m.start() + figure.start() for m in _IMG.finditer(figure.group(0)))
    titled = False

    def image(match: re.Match[str]) -> str:
        nonlocal titled
        tag = match.group(0)
        extra = []
        if not _has(tag, "alt"):
            alt = "" if titled or match.start() in captioned else title
            titled = titled or match.start() not in captioned
            extra.append(f'alt="{html.escape(alt)}"')
        if not _has(tag, "loading"):
            extra.append('loading="lazy"')
        return _with(tag, " ".join(extra)) if extra else tag

    def frame(match: re.Match[str]) -> str:
        whole = match.group(0)
        opening = _IFRAME_OPEN.match(whole)
        assert opening is not None  # the pattern starts with it
        tag = opening.group(0)
        if not _has(tag, "loading"):
            whole = _with(tag, 'loading="lazy"') + whole[len(tag) :]
        src = _SRC.search(tag)
        video = _YOUTUBE.search(next(g for g in src.groups() if g is not None)) if src else None
        if video is None:
            return whole
        watch = f"https://www.youtube.com/watch?v={video.group(1)}"
        return f'{whole}<a class="video-link" href="{watch}">在 YouTube 观看视频</a>'

    return _IFRAME.sub(frame, _IMG.sub(image, content))


_IFRAME_OPEN = re.compile(r"<iframe\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.I)


def first_image(content: str, local: dict[str, str]) -> str | None:
    """The site path of the article's first image that has a local copy (``local``: the
    original URL -> its path in the site), or None."""
    for tag in _IMG.finditer(content):
        src = _SRC.search(tag.group(0))
        if src:
            url = html.unescape(next(g for g in src.groups() if g is not None))
            if url in local:
                return local[url]
    return None
