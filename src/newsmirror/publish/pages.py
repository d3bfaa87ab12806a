"""The shape of the static site: every page's path, and what each listing holds.

Plain functions over article heads, no I/O: paths (relative to the site root,
UTF-8 on disk, percent-encoded in links), the entries of listings grouped by
month, pagination, and the neighbours of each article.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote

from newsmirror.models import ArticleRecord
from newsmirror.timeutil import in_zone, to_iso

PER_PAGE = 20  # a listing's front page is rewritten by every run that adds to it
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

    @property
    def href(self) -> str:
        return href(self.path)


def local_time(article: ArticleRecord) -> str:
    """The publication time in the source's time zone, with the zone shown."""
    moment = in_zone(article.published, article.timezone)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()}"


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
        newer = (
            href(f"{folder}page/{number + 1}.html")
            if number + 1 < count
            else href(f"{folder}index.html")
        )
        older = href(f"{folder}page/{number - 1}.html") if number > 1 else None
        pages.append((f"{folder}page/{number}.html", chunk, Pager(number, newer, older)))
    return pages


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
