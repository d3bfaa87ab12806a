"""Publication date and author of an article page.

    structured data (JSON-LD, Open Graph / meta, <time>, trafilatura's metadata)
      + the page's visible lines (NFKC: full-width digits, colons and brackets folded)
      -> date: declared timestamp > labelled date (发布时间：, 日期：, 发表于 ...) >
         declared day (given its time by a visible date of that day) > the first date
         just under the headline > htmldate's day, only when the page shows that day
      -> author: labelled byline (作者：, 文/, 记者 X, 执笔：...) > declared author >
         names in brackets closing the article ((记者 X), (X Y 北京报道)) > a line of
         names just under the headline > "X 发表于" > 编辑：X
      -> every author checked: never a URL, a site name (og:site_name, <title>
         segments, the host), an organisation or a user id (digits, handles).

Each rule is a general property of page layout. When unsure there is no answer: a
name found without a label must look like a Chinese personal name (a common
surname and one or two more characters), and htmldate's guess must be seen on the
page. A date without a zone on a Chinese page is Asia/Shanghai time; dates are
returned in UTC.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

from newsmirror.bylines import (
    MAX_BYLINE_LINE,
    MENU_ITEM,
    PUBLISHED_BY,
    SENTENCE,
    SiteNames,
    byline,
    clean_declared_author,
    closing_names,
    join_names,
    name_key,
    name_line,
    plausible_name,
)
from newsmirror.timeutil import DEFAULT_ZONE, moment_of, to_iso, zone_or_default

# -- dates -------------------------------------------------------------------------

_DATE = re.compile(
    r"(?<![\d.])(?P<y>(?:19|20)\d{2})\s*(?:年\s*(?P<m1>\d{1,2})\s*月\s*(?P<d1>\d{1,2})\s*日?"
    r"|(?P<sep>[-/.])\s*(?P<m2>\d{1,2})\s*(?P=sep)\s*(?P<d2>\d{1,2})(?![\d.]))"
    r"(?:[\sT,]*(?:上午|下午|早上|晚上|凌晨|中午)?\s*(?P<H>\d{1,2})\s*(?::|时|時|点|點)\s*"
    r"(?P<M>\d{1,2})(?!\d)\s*分?(?:\s*:\s*(?P<S>\d{1,2})(?:[.,]\d{1,9})?|\s*(?P<S2>\d{1,2})\s*秒)?"
    r"\s*(?P<ampm>[AaPp][Mm](?![A-Za-z]))?)?"
    r"(?:\s*(?:(?P<z>Z)(?![A-Za-z])|(?:UTC|GMT)?\s*(?P<zs>[+-])(?P<zh>\d{2}):?(?P<zm>\d{2})"
    r"|(?P<utc>UTC|GMT)))?"
)
_AFTERNOON = re.compile(r"下午|晚上")
# Numeric day and month before the year (7/5/2005): only to confirm htmldate's day.
_DMY = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-]((?:19|20)\d{2})(?!\d)")
_DATE_LABEL = re.compile(
    r"(?:(?:发布|發布|发表|發表|更新|刊发|刊登|出版|发稿|發稿|上传|上傳|成文)"
    r"(?:时间|時間|日期|于|於)?|时间|時間|日期)\s*[:：]?\s*$"
)
_LABEL_WINDOW = 12  # characters before a date searched for its label
HEADLINE_LINES = 4  # lines under the headline where its date line and byline are


@dataclass(frozen=True)
class Found:
    """A date found in text: the moment in UTC, whether it had a time, its text."""

    moment: datetime
    timed: bool
    text: str


def page_zone(root: lxml.html.HtmlElement, lines: list[str]) -> str:
    """Asia/Shanghai for a Chinese page (declared, or mostly Chinese text), else UTC."""
    lang = (root.get("lang") or "").lower()
    if lang.startswith("zh"):
        return DEFAULT_ZONE
    sample = "".join(lines)[:5000]
    han = sum(1 for ch in sample if "\u4e00" <= ch <= "\u9fff")
    return DEFAULT_ZONE if sample and han / len(sample) >= 0.2 else "UTC"


def _moment(match: re.Match[str], zone: str) -> datetime | None:
    g = match.groupdict()
    hour = int(g["H"] or 0)
    if (
        g["H"]
        and hour < 12
        and ((g["ampm"] or "").lower() == "pm" or _AFTERNOON.search(match.group(0)))
    ):
        hour += 12
    return moment_of(g, hour, zone)


def find_dates(text: str, zone: str = DEFAULT_ZONE) -> Iterator[tuple[int, Found]]:
    """Every date written in ``text`` (2023年10月29日, 2023-10-29 10:20, 2023.10.29,
    2023/10/29 8时20分, full-width digits ...), with where it starts; a date without a
    zone is read in ``zone``. Impossible dates (2023-02-30) are skipped."""
    text = unicodedata.normalize("NFKC", text)
    for match in _DATE.finditer(text):
        moment = _moment(match, zone)
        if moment is not None:
            yield match.start(), Found(moment, bool(match.group("H")), match.group(0).strip())


def first_date(text: str, zone: str = DEFAULT_ZONE) -> Found | None:
    return next((found for _, found in find_dates(text, zone)), None)


def parse_declared(value: str, zone: str) -> Found | None:
    """A date a page declares (meta, JSON-LD, <time datetime>): ISO 8601 or a local form."""
    value = unicodedata.normalize("NFKC", value).strip()[:100]
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return first_date(value, zone)
    timed = "T" in value or ":" in value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_or_default(zone))
    return Found(moment.astimezone(UTC), timed, value)


def _local_day(found: Found, zone: str) -> tuple[int, int, int]:
    local = found.moment.astimezone(zone_or_default(zone))
    return local.year, local.month, local.day


def labelled_date(lines: list[str], zone: str) -> Found | None:
    """The first date a label introduces: 发布时间：…, 日期：…, 发表于 …"""
    for line in lines:
        for start, found in find_dates(line, zone):
            if _DATE_LABEL.search(line[max(0, start - _LABEL_WINDOW) : start]):
                return found
    return None


def headline_date(lines: list[str], headline: int | None, zone: str) -> Found | None:
    """The first date on the headline's line (after it) or the few lines under it."""
    if headline is None:
        return None
    for line in lines[headline : headline + HEADLINE_LINES]:
        found = first_date(line, zone)
        if found is not None:
            return found
    return None


def shown_days(lines: list[str], zone: str) -> set[tuple[int, int, int]]:
    """The calendar days written anywhere on the page (also as 7/5/2005, either way)."""
    days: set[tuple[int, int, int]] = set()
    for line in lines:
        days.update(_local_day(found, zone) for _, found in find_dates(line, zone))
        for a, b, year in _DMY.findall(line):
            days.add((int(year), int(b), int(a)))
            days.add((int(year), int(a), int(b)))
    return days


def with_time(day: Found, lines: list[str], zone: str) -> Found:
    """``day`` given the time of the first visible date of that same day that has one."""
    if day.timed:
        return day
    wanted = _local_day(day, zone)
    for line in lines:
        for _, found in find_dates(line, zone):
            if found.timed and _local_day(found, zone) == wanted:
                return found
    return day


# -- the page ------------------------------------------------------------------------

_SKIP = {"script", "style", "noscript", "template", "head", "select", "option", "textarea"}
_INLINE = {
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var",
    "wbr", "label", "nobr", "big", "strike", "tt",
}  # fmt: skip
_SPACES = re.compile(r"\s+")


def visible_lines(root: lxml.html.HtmlElement, limit: int = 5000) -> list[str]:
    """The page's visible text, a line per block (no scripts, styles or head), NFKC."""
    body = root.find("body")
    parts: list[str] = []
    walker = etree.iterwalk(body if body is not None else root, events=("start", "end"))
    append = parts.append
    for event, element in walker:
        tag = element.tag
        tag = tag.lower() if isinstance(tag, str) else ""  # (lxml.html gives lower case)
        if event == "start":
            if not tag or tag in _SKIP:
                walker.skip_subtree()
                continue
            if tag not in _INLINE:
                append("\n")
            append(element.text or "")
        else:
            if tag and tag not in _INLINE:
                append("\n")
            append(element.tail or "")
        if len(parts) > limit * 8:
            break
    text = unicodedata.normalize("NFKC", "".join(parts))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return [line for line in lines if line][:limit]


def _meta(root: lxml.html.HtmlElement, *names: str) -> str:
    """The first non-empty content of a meta tag with the first of ``names`` that has one
    (as property, name or itemprop, in any case)."""
    found: dict[str, str] = {}
    for element in root.iter("meta"):
        value = (element.get("content") or "").strip()
        if value:
            for attr in ("property", "name", "itemprop"):
                found.setdefault((element.get(attr) or "").lower(), value)
    return next((found[name] for name in names if name in found), "")


def _json_ld(root: lxml.html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in root.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                yield item
                stack.extend(v for k, v in item.items() if k == "@graph")


def _ld_names(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _ld_names(value.get("name"))
    if isinstance(value, list):
        return [n for v in value for n in _ld_names(v)]
    return []


_TITLE_SPLIT = re.compile(r"\s*(?:[_|–—-]|::|\s-\s|\s»\s)\s*")


def site_names(root: lxml.html.HtmlElement, url: str, extra: str = "") -> SiteNames:
    """og:site_name, application-name, <title> segments after the first, the host's labels."""
    names = {_meta(root, "og:site_name"), _meta(root, "application-name"), extra}
    for item in _json_ld(root):
        names.update(_ld_names(item.get("publisher")))
    title = root.find(".//title")
    if title is not None:
        segments = _TITLE_SPLIT.split(unicodedata.normalize("NFKC", title.text_content()))
        names.update(segments[1:])
    host = urlsplit(url).hostname or ""
    names.update(label for label in host.split(".") if label not in ("www", "com", "cn", "org"))
    names.update(part for name in list(names) for part in re.split(r"[,，;；]", name))
    return SiteNames(frozenset(k for k in map(name_key, names) if len(k) >= 2))


def headline_candidates(root: lxml.html.HtmlElement) -> list[str]:
    found = [_meta(root, "og:title", "twitter:title")]
    for path in (".//h1", ".//title"):
        element = root.find(path)
        if element is not None:
            text = unicodedata.normalize("NFKC", element.text_content())
            found += [text, _TITLE_SPLIT.split(text.strip())[0]]
    keys = {_SPACES.sub(" ", unicodedata.normalize("NFKC", t)).strip() for t in found}
    return sorted((k for k in keys if len(k) >= 4), key=len, reverse=True)


def headline_line(lines: list[str], titles: list[str], zone: str) -> int | None:
    """The line of the headline: the first line showing the title that has a date at most a
    few lines under it, else the first showing it."""
    matches = [
        i
        for i, line in enumerate(lines)
        if any(t in line and len(t) * 2 >= len(line) for t in titles)
    ]
    for i in matches:
        if headline_date(lines, i, zone) is not None:
            return i
    return matches[0] if matches else None


# -- decisions -----------------------------------------------------------------------

_DECLARED_DATES = (
    "article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate",
    "publish_date", "publication_date", "dc.date.issued", "dcterms.created", "date",
)  # fmt: skip
_DECLARED_AUTHORS = ("author", "article:author", "byl", "dc.creator", "dcterms.creator")


@dataclass(frozen=True)
class PageMeta:
    title: str
    author: str  # names joined (、 between Chinese names), or ""
    date: str  # UTC, to_iso form, or ""
    date_text: str  # the date as the page wrote it


def declared_dates(root: lxml.html.HtmlElement, zone: str) -> list[Found]:
    values = [
        v
        for item in _json_ld(root)
        for v in (item.get("datePublished"), item.get("dateCreated"))
        if isinstance(v, str)
    ]
    values.append(_meta(root, *_DECLARED_DATES))
    values += [t.get("datetime", "") for t in root.xpath("//time[@datetime]")[:1]]
    found = (parse_declared(v, zone) for v in values if v)
    return [f for f in found if f is not None]


def choose_date(
    declared: list[Found],
    lines: list[str],
    headline: int | None,
    guessed_day: str | Callable[[], str | None] | None,
    zone: str,
    now: datetime,
) -> Found | None:
    """The publication date: declared with a time > labelled > declared day > under the
    headline > ``guessed_day`` (htmldate's; a function is called only when it comes to
    that) when the page shows that day. Never later than a day after ``now``."""

    def ok(found: Found | None) -> Found | None:
        return found if found and found.moment <= now + timedelta(days=1) else None

    declared = [f for f in declared if ok(f)]
    timed = next((f for f in declared if f.timed), None)
    found = timed or ok(labelled_date(lines, zone))
    if found is None and declared:
        found = with_time(declared[0], lines, zone)
    found = found or ok(headline_date(lines, headline, zone))
    if found is not None:
        return found
    day = guessed_day() if callable(guessed_day) else guessed_day
    if day:
        guess = first_date(day, zone)
        if ok(guess) and guess and _local_day(guess, zone) in shown_days(lines, zone):
            found = with_time(guess, lines, zone)
    return found


def choose_author(
    declared: list[str] | Callable[[], list[str]],
    lines: list[str],
    headline: int | None,
    sites: SiteNames,
    titles: Sequence[str] = (),
) -> list[str]:
    """The author: a labelled byline (作者, 文/, 记者 ...) > the declared author > names
    closing a paragraph in brackets > a line of names under the headline > "X 发表于" >
    编辑. Bylines are looked for from the headline on (the whole page without one).
    ``declared`` may be a function, called only when no byline is found."""
    start = headline or 0
    after = lines[start:]
    editors: list[str] = []
    for i, line in enumerate(after):
        if len(line) > MAX_BYLINE_LINE or SENTENCE.search(line):
            continue
        kind, names = byline(line, sites)
        if kind == "writer":
            for more in after[i + 1 : i + 2]:  # 本报实习生 X / 本报记者 Y on two lines
                more_kind, more_names = byline(more, sites)
                if more_kind == "writer" and not SENTENCE.search(more):
                    names += [n for n in more_names if n not in names]
            return names
        if kind == "editor" and not editors:
            editors = names
    if callable(declared):
        declared = declared()
    if declared:
        return declared
    for line in after:
        names = closing_names(line, sites)
        if names:
            return names
    top = headline + 1 if headline is not None else 0  # no headline known: the first lines
    for i in range(top, min(top + HEADLINE_LINES - 1, len(lines))):
        names = name_line(lines[i], sites, titles)
        near = lines[max(top, i - 1) : i] + lines[i + 1 : i + 2]
        menu = any(len(n) <= MENU_ITEM for n in near)  # a run of short lines
        if names and not menu:
            return names
    for line in after[: HEADLINE_LINES * 3]:
        match = PUBLISHED_BY.search(line)
        if match and plausible_name(match.group("name"), sites, free=True):
            return [match.group("name")]
    return editors


def declared_authors(
    root: lxml.html.HtmlElement, extra: str | Callable[[], str], sites: SiteNames
) -> list[str]:
    """The authors JSON-LD or a meta tag declare, else ``extra`` (a function is called only
    then)."""
    values = [n for item in _json_ld(root) for n in _ld_names(item.get("author"))]
    values.append(_meta(root, *_DECLARED_AUTHORS))
    for value in values:
        names = clean_declared_author(value, sites) if value else []
        if names:
            return names
    value = extra() if callable(extra) else extra
    return clean_declared_author(value, sites) if value else []


class TheirMetadata:
    """trafilatura's metadata of the page, each part read only when a rule asks for it:
    ``trafilatura.extract_metadata`` reads them all, and its author search (on a copy of
    the whole page) and htmldate's scan cost more than the rest of the page's metadata."""

    def __init__(self, root: lxml.html.HtmlElement, url: str) -> None:
        from trafilatura import metadata

        self._root, self._url, self._lib = root, url, metadata
        self._meta = metadata.examine_meta(root)  # meta tags
        if self._meta.author and " " not in self._meta.author:
            self._meta.author = None  # as trafilatura does: a single word is no name
        with contextlib.suppress(Exception):  # trafilatura's JSON-LD reading has bugs
            self._meta = metadata.extract_meta_json(root, self._meta)

    @functools.cached_property
    def title(self) -> str:
        return self._meta.title or self._lib.extract_title(self._root) or ""

    @functools.cached_property
    def author(self) -> str:
        return self._meta.author or self._lib.extract_author(self._root) or ""

    @functools.cached_property
    def sitename(self) -> str:
        name = (self._meta.sitename or self._lib.extract_sitename(self._root) or "").lstrip("@")
        if name and "." not in name and not name[0].isupper():
            name = name.title()
        return name

    def date(self) -> str | None:
        """htmldate's guess of the publication day (original date, extensive search)."""
        from htmldate import find_date
        from trafilatura.settings import set_date_params

        found = find_date(self._root, url=self._url, **set_date_params(True))
        return found or None


def read_metadata(
    root: lxml.html.HtmlElement, url: str, *, zone: str | None = None, now: datetime | None = None
) -> PageMeta:
    """Title, author and publication date of the article page ``root``.

    ``zone``: the time zone of dates written without one (by default Asia/Shanghai on a
    Chinese page, else UTC).
    """
    lines = visible_lines(root)
    zone = zone or page_zone(root, lines)
    theirs = TheirMetadata(root, url)
    sites = site_names(root, url, theirs.sitename)
    titles = headline_candidates(root)
    headline = headline_line(lines, titles, zone)
    found = choose_date(
        declared_dates(root, zone), lines, headline, theirs.date, zone, now or datetime.now(UTC)
    )
    authors = choose_author(
        lambda: declared_authors(root, lambda: theirs.author, sites), lines, headline, sites, titles
    )
    title = _meta(root, "og:title", "twitter:title") or theirs.title
    return PageMeta(
        title=_SPACES.sub(" ", title).strip(),
        author=join_names(authors) if authors else "",
        date=to_iso(found.moment) if found else "",
        date_text=found.text if found else "",
    )
