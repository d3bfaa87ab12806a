"""The sitemap in pieces that a run leaves alone: ``sitemap.xml`` is an index of
``sitemaps/<day>.xml`` (the article pages of each day of publication, UTC) and
``sitemaps/pages-<section>.xml`` (every other page, by its first folder). A run with new
articles rewrites the sitemaps of their days and, when a day or section is new, the index,
not a list of every page of the site."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from newsmirror.publish.pages import Entry, href

if TYPE_CHECKING:
    from newsmirror.publish.sitebuild import SiteBuild

FOLDER = "sitemaps"


def urlset(paths: list[str], base_url: str) -> str:
    """A sitemap; absolute URLs when the site's address is known, else relative ones."""
    urls = "".join(f"<url><loc>{escape(base_url + href(p))}</loc></url>" for p in paths)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + urls + "</urlset>\n"
    )


def index(paths: list[str], base_url: str) -> str:
    maps = "".join(f"<sitemap><loc>{escape(base_url + href(p))}</loc></sitemap>" for p in paths)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + maps
        + "</sitemapindex>\n"
    )


def split(pages: list[str], entries: list[Entry]) -> dict[str, list[str]]:
    """Sitemap file -> its pages (sorted): article pages by their UTC day, the others by
    their first folder ("" for the root's own pages)."""
    day_of = {e.path: e.iso[:10] for e in entries}
    out: dict[str, list[str]] = {}
    for page in sorted(pages):
        day = day_of.get(page)
        if day is not None:
            name = f"{FOLDER}/{day}.xml"
        else:
            section = page.split("/", 1)[0] if "/" in page else "root"
            name = f"{FOLDER}/pages-{section}.xml"
        out.setdefault(name, []).append(page)
    return out


def write_sitemaps(site: SiteBuild, pages: list[str], entries: list[Entry]) -> None:
    base = site.options.base_url
    parts = split(pages, entries)
    for name, paths in sorted(parts.items()):
        site.emit(name, urlset(paths, base))
    site.emit("sitemap.xml", index(sorted(parts), base))
