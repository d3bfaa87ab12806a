"""Topic tags: an article's tags from its feed categories and its in-article tag links.

A feed item's ``<category>`` names and the links in its body that point to a tag page of
its site (``/tag/X``, ``/tags/X.html``, ``/topics/X``, ``?tag=X``: the Epoch Times writes
``/gb/tag/%E6%8B%9C%E7%99%BB.html``) give the article's tags, cleaned (one line, at most
:data:`MAX_TAG_CHARS` characters), at most :data:`MAX_TAGS` of them, and one per search
form (:func:`textsearch.fold`: 習近平 and 习近平 are one tag, written as seen first).

The site gives a page and a feed only to the tags of at least ``min_tag_articles``
articles (:func:`site_tags`); a source's configured tags always have theirs.

A build reads the tag links of every stored body again (:func:`body_tags`): a body taken
from the article's own page (full text) and an article archived before tags were read
get the tags their text links to, with no fetch. Only links inside the stored article
count: the page's menus, sidebars and tag clouds are not part of it (extraction drops
them), and the page's ``keywords`` meta is not read (sites set it for every page alike).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

from newsmirror.clean import clean_text
from newsmirror.textsearch import fold

MAX_TAG_CHARS = 40
MAX_TAGS = 20
MAX_SCANNED_LINKS = 2000  # a hostile body cannot make the scan long
_SPACE = re.compile(r"\s+")
_ANCHOR_HREF = re.compile(
    r"""<a\s(?:[^>"']|"[^"]*"|'[^']*')*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""",
    re.I,
)
_TAG_DIRS = frozenset({"tag", "tags", "topic", "topics"})
_TAG_PARAMS = _TAG_DIRS
_PAGE_SUFFIX = re.compile(r"\.(?:s?html?|php|aspx?|jsp)$", re.I)


def clean_tag(name: str) -> str:
    """A tag as shown: one line, spaces folded, at most MAX_TAG_CHARS characters."""
    text = _SPACE.sub(" ", clean_text(name[: MAX_TAG_CHARS * 8].replace("\x00", "")))
    return text.strip()[:MAX_TAG_CHARS].strip()


def clean_tags(names: Iterable[str]) -> tuple[str, ...]:
    """At most MAX_TAGS clean tags, one per search form, each in its first-seen form."""
    out: dict[str, str] = {}
    for name in names:
        tag = clean_tag(name)
        if tag and fold(tag) not in out:
            out[fold(tag)] = tag
            if len(out) >= MAX_TAGS:
                break
    return tuple(out.values())


def _may_name_tag(href: str) -> bool:
    """False only when ``href`` names no tag: a tag page's folder is "tag(s)" or "topic(s)"
    in any case; so is a query key, unless it is written in escapes ("%" after a "?"); and
    urlsplit drops tabs and line breaks, joining what they split."""
    if "%" in href and "?" in href:
        return True
    if "\t" in href or "\n" in href or "\r" in href:
        return True
    lowered = href.lower()  # no other character lowers to one of "tagopics"
    return "tag" in lowered or "topic" in lowered


def tag_of_href(href: str) -> str | None:
    """The tag a link to a tag page names (``/tag/X``, ``/topics/X.html``, ``?tag=X``)."""
    if not _may_name_tag(href):
        return None  # most links
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 2 and segments[-2].lower() in _TAG_DIRS:
        return unquote(_PAGE_SUFFIX.sub("", segments[-1])) or None
    for key, value in parse_qsl(parts.query):
        if key.lower() in _TAG_PARAMS and value:
            return value
    return None


def link_tags(body: str) -> list[str]:
    """The tags named by the body's links to tag pages, in order (uncleaned)."""
    out = []
    for count, match in enumerate(_ANCHOR_HREF.finditer(body)):
        if count >= MAX_SCANNED_LINKS:
            break
        href = match.group(match.lastindex or 0)  # the one of the three that matched
        if "&" in href:
            href = html.unescape(href)
        if not _may_name_tag(href):
            continue  # most links (tag_of_href would say None, after this very test)
        name = tag_of_href(href)
        if name:
            out.append(name)
    return out


def article_tags(categories: Iterable[str], body: str) -> tuple[str, ...]:
    """An article's tags: its feed categories, then its in-article tag links."""
    return clean_tags([*categories, *link_tags(body)])


# Text that a body with a tag link contains (SQL LIKE, ASCII case-insensitive): the build
# reads again only the bodies that have one.
LINK_MARKERS = ("/tag", "/topic", "tag=", "tags=", "topic=", "topics=")


def body_tags(stored: Sequence[str], body: str) -> tuple[str, ...]:
    """An article's tags at build time: those stored (feed categories, links of the feed's
    body), then those its stored body links to (the page's text may be the body now)."""
    return clean_tags([*stored, *link_tags(body)])


def site_tags(
    articles: Sequence[tuple[int, Sequence[str]]],
    minimum: int,
    always: Iterable[str] = (),
) -> dict[str, str]:
    """Which tags get a page: each tag name of ``articles`` ((id, tags) pairs) -> the name
    its page is under. Names of one search form share the form of the lowest article id;
    a form of fewer than ``minimum`` articles has no page (its names are left out). The
    names in ``always`` (sources' configured tags, imported posts' tags) always have one,
    under their own name; a topic tag of the same search form joins them."""
    first: dict[str, tuple[int, str]] = {}
    members: dict[str, set[int]] = {}
    for article_id, names in articles:
        for name in names:
            key = fold(name)
            if key not in first or article_id < first[key][0]:
                first[key] = (article_id, name)
            members.setdefault(key, set()).add(article_id)
    chosen = set(always)
    kept: dict[str, str] = {}
    for name in sorted(chosen):
        kept.setdefault(fold(name), name)
    out: dict[str, str] = {}
    for _article_id, names in articles:
        for name in names:
            key = fold(name)
            if name in chosen:
                out[name] = name
            elif key in kept:
                out[name] = kept[key]
            elif len(members[key]) >= minimum:
                out[name] = first[key][1]
    return out


def shown(tags: Sequence[str], pages_of: Mapping[str, str]) -> tuple[str, ...]:
    """An article's tags as the site shows them: those with a page, in their page's name."""
    return tuple(dict.fromkeys(pages_of[t] for t in tags if t in pages_of))
