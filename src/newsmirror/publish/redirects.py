"""Redirects at the old URLs of imported posts that could not keep their file names.

An old mirror's post whose file name is not valid on Linux, macOS and Windows (``:``,
``|``, ``?``, ``#``, ``..`` ...) is exported under a new name, which moves its page. Its
old URL is the one newsmirror's Jekyll site gives a post file in ``_posts/``
(``permalink: /posts:path:output_ext``): ``/posts/<file name without suffix>.html``,
percent-encoded. The archive keeps it (table ``redirects``, migration 9); the Jekyll
export writes it as ``redirect_from`` (the jekyll-redirect-from plugin's convention, on
by default on GitHub Pages once listed in ``_config.yml``), and the static site writes a
small page there that sends the reader on.

Jekyll turns ".." in a URL into "/", so ``a...b.md`` had its page at ``/posts/a/.b.html``.
Old names and redirect paths are untrusted input (an old repository, a restored tree):
only a path below ``/posts/`` ending in ``.html`` is accepted, as Jekyll would leave it,
each segment with no ``/``, ``\\``, control character or lone surrogate, not ``.`` or
``..``, at most 255 bytes; a redirect page never lands outside ``posts/``, and never on a
page of the site itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from newsmirror.urls import canonical_url

if TYPE_CHECKING:
    from newsmirror.publish.pages import Entry
    from newsmirror.publish.sitebuild import SiteBuild
    from newsmirror.store import Archive

FOLDER = "posts"
MAX_SEGMENT_BYTES = 255  # one file name on Linux, macOS and Windows
MAX_SEGMENTS = 16
_POST_SUFFIX = re.compile(r"\.(?:md|markdown|html)\Z", re.IGNORECASE)
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


def _segment_ok(segment: str) -> bool:
    if segment in ("", ".", "..", ".html") or _UNSAFE.search(segment):
        return False
    try:
        return len(segment.encode("utf-8")) <= MAX_SEGMENT_BYTES
    except UnicodeEncodeError:  # a lone surrogate: no file name at all
        return False


def _as_path(segments: list[str]) -> str:
    return f"/{FOLDER}/" + "/".join(quote(segment, safe="") for segment in segments)


def _jekyll_url(path: str) -> str:
    """``path`` as Jekyll 4 makes a URL of it (URL#sanitize_url): ".." becomes "/", "./"
    goes, runs of "/" become one; repeated until nothing changes."""
    while True:
        clean = re.sub("/{2,}", "/", path.replace("..", "/").replace("./", ""))
        if clean == path:
            return path
        path = clean


def _segments(path: str) -> list[str] | None:
    """The segments below ``posts/`` of a decoded page path, if every one is safe."""
    if not path.startswith(f"/{FOLDER}/") or not path.endswith(".html"):
        return None
    segments = path[len(FOLDER) + 2 :].split("/")
    if len(segments) > MAX_SEGMENTS or not all(map(_segment_ok, segments)):
        return None
    return segments


def old_url(name: str) -> str | None:
    """The URL path (percent-encoded) of the page Jekyll made for the post file ``name`` in
    ``_posts/``, or None when ``name`` is no post file name or its page could not be a file."""
    stem = _POST_SUFFIX.sub("", name)
    if stem == name or _UNSAFE.search(stem):
        return None
    segments = _segments(_jekyll_url(f"/{FOLDER}/{stem}.html"))
    return None if segments is None else _as_path(segments)


def clean_path(path: object) -> str | None:
    """``path`` (from front matter or the archive) in its one encoded form when it is a
    redirect path newsmirror writes (``/posts/...html``, every segment safe, as Jekyll
    leaves it), else None."""
    if not isinstance(path, str) or not path.startswith(f"/{FOLDER}/"):
        return None
    try:
        decoded = [unquote(part, errors="strict") for part in path[1:].split("/")]
    except UnicodeDecodeError:
        return None
    if any(not _segment_ok(part) for part in decoded):  # a "/" encoded inside a segment
        return None
    joined = "/" + "/".join(decoded)
    segments = _segments(joined)
    return None if segments is None or _jekyll_url(joined) != joined else _as_path(segments)


def paths_of(value: Any) -> list[str]:
    """The accepted redirect paths of a front matter's ``redirect_from`` (a string or a
    list); anything else is dropped."""
    values = value if isinstance(value, list) else [value]
    return list(dict.fromkeys(p for v in values if (p := clean_path(v)) is not None))


def file_of(path: str) -> str:
    """The site file (relative to the output folder) serving the redirect ``path``."""
    return unquote(path.lstrip("/"))


# --- The archive --------------------------------------------------------------------------


def record(archive: Archive, url: str, paths: Iterable[str]) -> int:
    """Keep ``paths`` as old URLs of the article at ``url``; return how many were new."""
    found = archive.conn.execute(
        "SELECT id FROM articles WHERE canonical_url = ? ORDER BY id LIMIT 1",
        (canonical_url(url),),
    ).fetchone()
    if found is None:
        return 0
    added = 0
    for path in paths:
        if (clean := clean_path(path)) is not None:
            added += archive.conn.execute(
                "INSERT OR IGNORE INTO redirects (article_id, path) VALUES (?, ?)",
                (found[0], clean),
            ).rowcount
    return added


def redirects_of(archive: Archive, ids: Sequence[int] | None = None) -> dict[int, list[str]]:
    """article -> its old URL paths (all articles', or those of ``ids``), sorted."""
    sql = "SELECT article_id, path FROM redirects"
    args: list[int] = []
    if ids is not None:
        sql += f" WHERE article_id IN ({', '.join('?' * len(ids))})"
        args = list(ids)
    out: dict[int, list[str]] = {}
    for article_id, path in archive.conn.execute(sql + " ORDER BY article_id, path", args):
        if (clean := clean_path(path)) is not None:
            out.setdefault(article_id, []).append(clean)
    return out


# --- The static site ------------------------------------------------------------------------


def redirect_page(title: str, target: str, canonical: str) -> str:
    """A page that sends the reader to ``target`` (relative), with ``canonical`` as the
    page's address for search engines and a plain link for browsers without refresh."""
    title, target, canonical = (html.escape(v, quote=True) for v in (title, target, canonical))
    return (
        '<!DOCTYPE html>\n<html lang="zh">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        f'<link rel="canonical" href="{canonical}">\n'
        f'<meta http-equiv="refresh" content="0; url={target}">\n'
        '<meta name="robots" content="noindex">\n</head>\n<body>\n'
        f'<p>本文已移至：<a href="{target}">{title}</a></p>\n</body>\n</html>\n'
    )


def write_redirect_pages(site: SiteBuild, entries: list[Entry]) -> int:
    """A redirect page at each old URL the archive keeps, pointing at the article's page;
    never over a page of the site. Return how many pages there are."""
    from newsmirror.publish.pages import fold, root_of

    by_id = {e.id: e for e in entries}
    taken = {fold(p) for p in site.made}
    count = 0
    for article_id, paths in sorted(redirects_of(site.archive).items()):
        entry = by_id.get(article_id)
        if entry is None:
            continue
        for path in paths:
            relpath = file_of(path)
            if fold(relpath) in taken:
                continue
            taken.add(fold(relpath))
            target = root_of(relpath) + entry.href
            canonical = site.options.base_url + entry.href if site.options.base_url else target
            site.emit(relpath, redirect_page(entry.title, target, canonical))
            count += 1
    return count
