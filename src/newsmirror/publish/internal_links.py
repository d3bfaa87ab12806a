"""Links stay inside the mirror: a link in an article to another archived article's
original URL points at that article's page (relative), the original kept in
``data-original``.

Matching: the archive's :func:`~newsmirror.urls.canonical_url` (scheme and host case, default
port, fragment, tracking parameters), then, when that finds nothing, a looser key that also
ignores http/https and a trailing slash, used only when it names exactly one article.

The body is already sanitised (nh3): start tags are rewritten in place, nothing else of
the markup changes (the text never does), and only an ``href`` that is an http(s) URL is
touched, so ``data-original`` only ever holds an http(s) URL.

Incremental builds: a page unchanged since the last build is re-rendered when its body
mentions an article that is new to the site (:func:`mentioning`, a cheap text search in
SQLite that may over-report, never under-reports a link spelt as the target's canonical
path or its decoded form), so a newly archived target changes only the pages that link to it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from newsmirror.publish.pages import is_http_url
from newsmirror.urls import canonical_url

if TYPE_CHECKING:
    from newsmirror.store import Archive

VERSION = "1"  # in the site's page stamps: a change re-renders every article page once
_A = re.compile(r"<a\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.I)
_HREF = re.compile(r"""(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
_DATA_ORIGINAL = re.compile(r"\sdata-original\s*=", re.I)
_CHUNK = 200  # needles per SQL query
_SEEN_MAX = 20_000  # page_of answers kept (a build of many articles meets millions of links)
# The host of an absolute URL as written; when it is plain ASCII (letters, digits, dots,
# hyphens), canonical_url gives it lower-cased without its trailing dots.
_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^:/?#]*)")
_PLAIN_HOST = re.compile(r"[a-z0-9.-]+")
_NETLOC_REST = re.compile(r"[^/?#]*")  # what is left of the netloc after the host


def _last_segment(path: str) -> str:
    """The last segment of a URL's path, decoded, a trailing "/" ignored ("" for none)."""
    return unquote(path.rstrip("/").rpartition("/")[2])


def loose_key(canonical: str) -> str:
    """``canonical`` without its scheme and a trailing slash of its path."""
    parts = canonical.split("://", 1)
    rest = parts[-1]
    path, mark, query = rest.partition("?")
    if path.endswith("/") and path.count("/") > 1:
        path = path.rstrip("/")
    return path + mark + query


class LinkMap:
    """The archived articles' canonical URLs -> their page (a site path or a post's URL
    relative to the other posts). Built once per build."""

    def __init__(self, pages: Iterable[tuple[str, str]]) -> None:
        self.exact: dict[str, str] = {}
        loose: dict[str, str | None] = {}
        for url, page in pages:
            key = canonical_url(url)
            self.exact.setdefault(key, page)
            other = loose.get(loose_key(key), page)
            loose[loose_key(key)] = page if other == page else None  # None: ambiguous
        self.loose = {k: v for k, v in loose.items() if v is not None}
        parts = [urlsplit(key) for key in self.exact]
        self.hosts = {part.hostname for part in parts}
        # Each article's last path segment, decoded ("" for a site's front page); None
        # when an article's URL is no web address (the look below is then never made).
        self.segments: set[str] | None = (
            {_last_segment(part.path) for part in parts}
            if all(part.hostname for part in parts)
            else None
        )
        self._seen: dict[str, str | None] = {}  # page_of's answers: bodies repeat links

    def page_of(self, url: str) -> str | None:
        """The page of the archived article ``url`` names, or None."""
        try:
            return self._seen[url]
        except KeyError:
            pass
        page = None
        if self.may_name_one(url):
            key = canonical_url(url)
            page = self.exact.get(key) or self.loose.get(loose_key(key))
        if len(self._seen) >= _SEEN_MAX:
            self._seen.clear()
        self._seen[url] = page
        return page

    def may_name_one(self, url: str) -> bool:
        """False when ``url`` surely names no archived article: its host, written plainly,
        is the host of none, or the last segment of its path is the last of none (most
        links of a body lead elsewhere, and this look costs a fraction of a canonical
        form)."""
        found = _HOST.match(url)
        if found is None:
            return True
        host = found.group(1).lower().rstrip(".")
        if _PLAIN_HOST.fullmatch(host) and host not in self.hosts:
            return False
        # The canonical form changes only the encoding of the path: decoded, its last
        # segment is the same, and it must be some article's (links to a page of the same
        # site that is not archived are the most common after links to other sites).
        if self.segments is None or "\t" in url or "\n" in url or "\r" in url:
            return True  # (urlsplit drops tabs and line breaks anywhere)
        url = url.rstrip()  # (as canonical_url: the link's end is read without its spaces)
        netloc_end = _NETLOC_REST.match(url, found.end())
        path = url[netloc_end.end() if netloc_end else found.end() :]
        path = path.split("?", 1)[0].split("#", 1)[0]
        return _last_segment(path) in self.segments


def rewrite(content: str, page_of: Callable[[str], str | None], prefix: str = "") -> str:
    """``content`` with each ``<a href>`` naming an archived article (``page_of`` gives its
    page, None for any other URL) pointing at ``prefix`` + that page, its fragment kept, the
    original URL in ``data-original``."""

    def swap(match: re.Match[str]) -> str:
        tag = match.group(0)
        found = _HREF.search(tag)
        if found is None or _DATA_ORIGINAL.search(tag):
            return tag
        raw = next(g for g in found.groups()[1:] if g is not None)
        url = html.unescape(raw).strip()
        if not is_http_url(url):
            return tag
        page = page_of(url)
        if page is None:
            return tag
        fragment = urlsplit(url).fragment if "#" in url else ""
        target = prefix + page + (f"#{fragment}" if fragment else "")
        new = f'{found.group(1)}"{html.escape(target)}" data-original="{html.escape(url)}"'
        return tag[: found.start()] + new + tag[found.end() :]

    return _A.sub(swap, content) if "<a" in content or "<A" in content else content


def needles(url: str) -> list[str]:
    """Strings one of which a body linking to ``url`` contains: the last segment of its
    canonical path, as it is and decoded (the host for a site's front page)."""
    canonical = canonical_url(url)
    try:
        parts = urlsplit(canonical)
    except ValueError:
        return [canonical]
    segments = [s for s in parts.path.split("/") if s]
    last = segments[-1] if segments else (parts.hostname or canonical)
    return list(dict.fromkeys((last, unquote(last), last.lower())))


def mentioning(archive: Archive, urls: Iterable[str]) -> set[int]:
    """The articles whose bodies may link to one of ``urls`` (a superset of those that do)."""
    wanted = sorted({n for url in urls for n in needles(url) if n})
    found: set[int] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        test = " OR ".join("instr(content, ?) > 0" for _ in chunk)
        found.update(
            row[0] for row in archive.conn.execute(f"SELECT id FROM articles WHERE {test}", chunk)
        )
    return found


def with_links(archive: Archive) -> set[int]:
    """The articles whose bodies have a link at all."""
    return {
        row[0]
        for row in archive.conn.execute("SELECT id FROM articles WHERE instr(content, '<a ') > 0")
    }


def site_recheck(
    archive: Archive, old: Mapping[str, str], pages: Mapping[str, str], kind: str = "posts/"
) -> set[int]:
    """The article pages of the site to render again whatever their stamps say: those whose
    bodies mention an article whose page the last build did not make (``old``: its stamps;
    ``pages``: each article's URL -> its page path now), or, when an article page the last
    build made is gone, every page with a link."""
    now = set(pages.values())
    if any(_is_article_page(p, kind) and p not in now for p in old):
        return with_links(archive)
    new = [url for url, path in pages.items() if path not in old]
    if not new or len(new) == len(pages):  # a first build renders everything anyway
        return set()
    return mentioning(archive, new)


_ARTICLE_PAGE = re.compile(r"\d{4}/\d{2}/[^/]+\.html")


def _is_article_page(path: str, kind: str) -> bool:
    return path.startswith(kind) and _ARTICLE_PAGE.fullmatch(path[len(kind) :]) is not None


def post_page(path: str, posts_dir: str = "_posts") -> str | None:
    """The URL of the Jekyll post ``path`` (``_posts/NAME.md``) relative to the other posts'
    pages (``/posts/NAME.html``, percent-encoded), or None when Jekyll would give it none."""
    from newsmirror.publish.redirects import FOLDER, old_url

    url = old_url(path[len(posts_dir) + 1 :])
    return None if url is None else url[len(FOLDER) + 2 :]


def export_recheck(archive: Archive, urls: Iterable[str], exported: int) -> set[int]:
    """The Jekyll posts to write again whatever their records say: those whose bodies
    mention one of ``urls``, the articles not exported yet (none when nothing was:
    every post is written anyway)."""
    new = list(urls)
    return mentioning(archive, new) if new and exported else set()
