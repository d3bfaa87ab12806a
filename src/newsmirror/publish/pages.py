"""The shape of the static site: every page's path, and what each listing holds.

Plain functions over article heads, no I/O: paths (relative to the site root,
UTF-8 on disk, percent-encoded in links), the entries of listings grouped by
month, pagination, and the neighbours of each article.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from urllib.parse import quote

from newsmirror.models import ArticleRecord
from newsmirror.timeutil import in_zone, to_iso

PER_PAGE = 50
_UNSAFE_SEGMENT = re.compile(r'[<>:"/\\|?*#%\x00-\x1f\x7f]')


def segment(name: str) -> str:
    """A name as one path segment, valid on every system (CJK kept as it is)."""
    cleaned = _UNSAFE_SEGMENT.sub("-", name).strip().strip(".") or "-"
    return cleaned[:80]


def href(path: str) -> str:
    """A site path as a link: percent-encoded UTF-8, relative to the site root."""
    return quote(path, safe="/")


def root_of(path: str) -> str:
    """The relative prefix from ``path`` back to the site root ("", "../", ...)."""
    return "../" * path.count("/")


def article_path(article: ArticleRecord) -> str:
    digest = hashlib.sha1(article.url.encode("utf-8")).hexdigest()[:12]  # stored URL: stable
    return f"posts/{article.published:%Y}/{article.published:%m}/{digest}.html"


def source_dir(name: str) -> str:
    return f"sources/{segment(name)}/"


def tag_dir(name: str) -> str:
    return f"tags/{segment(name)}/"


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
    """Entries (newest first) grouped by month, in order."""
    return [(month, list(group)) for month, group in groupby(entries, key=lambda e: e.month)]


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
