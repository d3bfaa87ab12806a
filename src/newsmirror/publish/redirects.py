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
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from newsmirror.publish.posturls import FOLDER, clean_path, file_of, old_url, paths_of
from newsmirror.urls import canonical_url

if TYPE_CHECKING:
    from newsmirror.publish.pages import Entry
    from newsmirror.publish.sitebuild import SiteBuild
    from newsmirror.store import Archive

__all__ = [  # the pure part (page paths of post names) is posturls', used here and by callers
    "FOLDER",
    "clean_path",
    "file_of",
    "old_url",
    "paths_of",
    "record",
    "redirect_page",
    "redirects_of",
    "update_moved",
    "write_redirect_pages",
]


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


def update_moved(
    archive: Archive,
    known: dict[int, list[str]],
    written: Iterable[tuple[int, str]],
    moves: Iterable[tuple[int, str]],
) -> tuple[dict[int, list[str]], set[int]]:
    """The old URLs (``known``: :func:`redirects_of`) after an export that wrote the posts
    ``written`` and moved the posts ``moves`` (article, post file it had: its title or date
    changed at the origin): a moved post's old URL redirects to its new one, as an
    imported post's does, and a post written at a URL another article redirected from
    takes it over. Kept in the archive; returns the URLs and the articles that lost one
    (their posts must be written again)."""
    taken = {url: aid for aid, path in written if (url := _page_url(path)) is not None}
    gone = {(aid, url) for aid, urls in known.items() for url in urls if taken.get(url, aid) != aid}
    added = {
        (aid, url)
        for aid, path in moves
        if (url := _page_url(path)) is not None and url not in known.get(aid, ())
    }
    if gone or added:
        with archive.transaction() as conn:
            conn.executemany("DELETE FROM redirects WHERE article_id = ? AND path = ?", gone)
            conn.executemany(
                "INSERT OR IGNORE INTO redirects (article_id, path) VALUES (?, ?)", added
            )
    after: dict[int, set[str]] = {aid: set(urls) for aid, urls in known.items()}
    for aid, url in gone:
        after[aid].discard(url)
    for aid, url in added:
        after.setdefault(aid, set()).add(url)
    moved = {aid: sorted(urls) for aid, urls in sorted(after.items()) if urls}
    return moved, {aid for aid, _url in gone}


def _page_url(path: str) -> str | None:
    return old_url(path.rpartition("/")[2])


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
