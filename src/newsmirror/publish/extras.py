"""The site's other files: stylesheet, 简/繁 switch, search page, 404, status page and
status.json, mirrors page, the footer's freshness line, sitemap, robots.txt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from newsmirror.publish import status
from newsmirror.publish.pages import Entry, href, page_path
from newsmirror.publish.redirects import write_redirect_pages
from newsmirror.publish.sitemaps import write_sitemaps
from newsmirror.publish.zhconvert import write_zh_files
from newsmirror.timeutil import ZONE_NAMES

STATIC = Path(__file__).parent / "static"  # the site's packaged files

if TYPE_CHECKING:
    from newsmirror.publish.sitebuild import SiteBuild


def write_extras(site: SiteBuild, entries: list[Entry]) -> None:
    site.emit("style.css", (STATIC / "style.css").read_bytes())
    write_zh_files(site)  # the 简/繁 switch and the converter it loads when used
    site.render("search.html", "search.html", zones=ZONE_NAMES)  # as pages name them
    for script in ("search-index.js", "search.js"):  # reading the index; the page
        site.emit(script, (STATIC / script).read_bytes())
    site.render(  # served for a missing URL at any depth: links from the base path
        "404.html", "404.html", root=base_path(site.options.base_url), css=_css_text()
    )
    site.emit("updated.css", status.updated_css(site.updated))
    write_status(site)
    write_mirrors(site)
    base = site.options.base_url
    html_pages = sorted(
        p for p in site.made if p.endswith(".html") and p != "404.html" and p not in site.hidden
    )
    if base:  # a sitemap's addresses must be absolute
        write_sitemaps(site, html_pages, entries)
    else:
        site.note("sitemap.xml left out: it needs the site's address (set base_url, --base-url)")
    robots = "User-agent: *\nAllow: /\n" + (f"Sitemap: {base}sitemap.xml\n" if base else "")
    site.emit("robots.txt", robots)
    write_redirect_pages(site, entries)  # after the sitemap: old URLs are not listed there


def base_path(base_url: str) -> str:
    """The path of the site's root on its host ("/news/"), "/" when unknown."""
    path = urlsplit(base_url).path if base_url else ""
    return quote(path.rstrip("/"), safe="/%") + "/"


def _css_text() -> str:
    return (STATIC / "style.css").read_text(encoding="utf-8").replace("</", "<\\/")


def write_status(site: SiteBuild) -> None:
    """status.html for readers (changes once a day or with a source's health),
    status.json for monitors (also with the mirror's last update)."""
    archive = site.archive
    updated = archive.last_updated()
    win = status.window(updated)
    per_day = archive.articles_per_day(win.start, win.end, status.OFFSET_HOURS) if win else {}
    rows = status.status_rows(archive.health(), per_day, win)
    for row in rows:
        name = row["name"]
        row["href"] = (
            href(page_path(site.folders.source(name))) if name in site.folders.sources else None
        )
    site.render(
        "status.html",
        "status.html",
        rows=rows,
        fetched=site.updated is not None,  # the time itself: updated.css, as in the footer
        states=status.state_counts(rows),
        days=len(win.days) if win else status.DAYS,
    )
    data = status.status_json(rows, updated, win)
    site.emit("status.json", json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")


def write_mirrors(site: SiteBuild) -> None:
    mirrors, refused = status.mirror_list(site.options.mirrors)
    for name in refused:
        site.note(f"mirror {name!r} left off mirrors.html: its address is not an http(s) URL")
    site.render("mirrors.html", "mirrors.html", mirrors=mirrors)
