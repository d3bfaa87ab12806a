"""The static site: every article, listing and feed, rendered from the archive.

    archive -> heads (no bodies) -> pages.py (paths, listings, neighbours)
      -> render: article pages (only those whose inputs changed), listings, feeds,
         sitemap, robots.txt, 404, stylesheet, 简/繁 script, status page and
         status.json, mirrors page (status.py) -> writer (only changed bytes)
      -> search index (publish/search.py: only new segments and doc files)

Links are relative everywhere, so the site works under any base path, on any
mirror host and from disk. An article page is re-rendered only when its
"stamp" changes: the article's version and mirrored images, its two older
neighbours' titles (newer articles are reached through the listings, so a new
article never rewrites an older page), and the template version (``site_pages``).
The mirror's last update is written out on the front and status pages; every other
page's footer shows it through one tiny stylesheet (updated.css), so a run that
brings nothing new rewrites only those few files.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from newsmirror import topics
from newsmirror.files import media_relpath
from newsmirror.models import ArticleRecord
from newsmirror.publish import feeds, history, internal_links, pages, status, zhconvert
from newsmirror.publish.pages import Entry, Neighbours, href, root_of
from newsmirror.publish.postformat import localise_images, youtube_embed, youtube_id
from newsmirror.publish.search import terminate_cleanly
from newsmirror.publish.sitebuild import Files, SiteOptions
from newsmirror.publish.sitesearch import SearchJob, search_docs
from newsmirror.publish.templating import SiteInfo, Templates
from newsmirror.store import Archive
from newsmirror.timeutil import now_utc

TEMPLATE_VERSION = "11"  # article pages
LISTING_VERSION = "12"  # listings (_list.html): a change rewrites every listing page once
HERE = Path(__file__).parent
MEDIA = "media"


class Card(NamedTuple):
    """What a listing shows of an entry's article besides its title."""

    excerpt: str
    thumb: str | None  # the site path of its first local image


NO_CARD = Card("", None)


@dataclass
class BuildSummary:
    pages: int = 0
    written: int = 0
    rendered_articles: int = 0
    removed: int = 0
    seconds: float = 0.0
    search_seconds: float = 0.0
    search_pages: int = 0
    notes: list[str] = field(default_factory=list)  # what the person running it should know

    def line(self) -> str:
        search = (
            f"; search index {self.search_pages} pages in {self.search_seconds:.1f} s"
            if self.search_pages
            else ""
        )
        return (
            f"{self.pages} files: {self.written} written, {self.removed} removed, "
            f"{self.rendered_articles} article pages rendered, in {self.seconds:.1f} s"
            + search
            + "".join(f"; {note}" for note in self.notes)
        )


def _stamp(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode("utf-8")).hexdigest()


class _Site(Files):
    """One build: renders into an OutputWriter and remembers every file it made."""

    def __init__(
        self,
        archive: Archive,
        out: Path,
        options: SiteOptions,
        log: Callable[[str], None] = lambda _m: None,
    ) -> None:
        super().__init__(out, {})
        self.archive = archive
        self.log = log
        self.options = options
        self.target = str(self.writer.root)
        self.old, self.unfinished = archive.site_record(self.target)
        self.summary = BuildSummary()
        self.site = SiteInfo(options.title, options.base_url)
        self.templates = Templates(self.site)
        self.folders = pages.Folders({}, {})
        # The mirror's last update: shown as text on the front and status pages only, so
        # that a run with nothing new rewrites those and updated.css, not every page.
        self.updated = status.moment(archive.last_updated())
        self.media: dict[int, dict[str, tuple[str, str]]] | None = None
        self._cards: dict[int, Card] = {}  # listings' excerpts and images
        self.edits: dict[int, list[dict[str, str]]] = {}  # "已修改 N 次" (publish/history.py)
        self.hidden: set[str] = set()  # left out of the sitemap: listings' older pages, stubs
        self.search: SearchJob | None = None  # the search index, built meanwhile

    def emit(self, path: str, text: str | bytes, stamp: str | None = None) -> None:
        super().emit(path, text, stamp)
        if self.search is not None:
            self.search.serve()  # the index's requests for texts, between two files

    def note(self, message: str) -> None:
        self.summary.notes.append(message)
        self.log(message)

    def keep_folder(self, folder: str) -> None:
        """Keep every file of ``folder`` the last build made."""
        for path, stamp in self.old.items():
            if path.startswith(f"{folder}/") and self.writer.size(path) is not None:
                self.made[path] = stamp

    def render(self, path: str, template: str, stamp: str | None = None, **context: object) -> None:
        root = context.pop("root", root_of(path))  # 404.html gives its own (absolute) root
        context.setdefault("page_href", href(path))
        self.emit(path, self.templates.render(template, str(root), **context), stamp)

    def media_maps(self) -> dict[int, dict[str, tuple[str, str]]]:
        if self.media is None:
            self.media = self.archive.media_maps()
        return self.media

    def cards(self, entries: list[Entry]) -> dict[int, Card]:
        """What a listing shows of each entry's article: a short excerpt and the site path
        of its first local image (None without one). Read once per build."""
        missing = [e.id for e in entries if e.id not in self._cards]
        if missing:
            media = self.media_maps()
            for article_id, body in self.archive.contents(missing).items():
                local = {
                    url: f"{MEDIA}/{media_relpath(sha, ext)}"
                    for url, (sha, ext) in media.get(article_id, {}).items()
                }
                thumb = pages.first_image(body, local) if local else None
                self._cards[article_id] = Card(pages.excerpt(body), thumb)
        return {e.id: self._cards.get(e.id, NO_CARD) for e in entries}

    # -- articles ------------------------------------------------------------

    def article_pages(
        self, heads: list[ArticleRecord], entries: list[Entry], near: dict[int, Neighbours]
    ) -> None:
        media = self.media_maps()
        for found in media.values():  # every mirrored image in use stays in the site
            for sha, ext in found.values():
                relpath = media_relpath(sha, ext)
                self.made.setdefault(f"{MEDIA}/{relpath}", relpath)
        urls = {e.url: e.path for e in entries}  # links to archived articles stay inside
        recheck = internal_links.site_recheck(self.archive, self.old, urls)
        todo: list[tuple[ArticleRecord, Entry, Neighbours, str]] = []
        for head, entry in zip(heads, entries, strict=True):
            n = near[head.id]
            stamp = _stamp(
                TEMPLATE_VERSION,
                internal_links.VERSION,
                self.site,  # title and base_url (canonical links)
                head.version,
                head.media_rev,
                head.removed_at,
                head.timezone,  # the dates shown are in it
                self.edits.get(head.id),
                self.folders.source(entry.source),
                [self.folders.tag(t) for t in entry.tags],
                *[
                    (x.path, x.title) if x else None
                    for x in (n.older, n.older_in_source)  # no newer: pages stay as written
                ],
            )
            if head.id in recheck or not self.unchanged(entry.path, stamp):
                todo.append((head, entry, n, stamp))
        page = _ArticlePage(self, media, urls)
        for start in range(0, len(todo), ARTICLE_BATCH):  # bodies a batch at a time
            chunk = todo[start : start + ARTICLE_BATCH]
            bodies = self.archive.export_articles([head.id for head, *_ in chunk])
            for head, entry, n, stamp in chunk:
                page.write(head, entry, n, stamp, bodies[head.id][0])

    # -- listings and feeds ------------------------------------------------------

    def listing(
        self,
        folder: str,
        heading: str,
        entries: list[Entry],
        feed: str | None = None,
        rss: bool = False,
        in_source: bool = False,
        group: bool = False,
    ) -> None:
        """A paginated listing; pages whose entries did not change are not re-rendered.
        ``in_source``: a source's own listing, whose entries do not repeat its name.
        ``group``: a source's or tag's listing, ``group_per_page`` entries a page."""
        per_page = self.options.group_per_page if group else self.options.per_page
        for path, chunk, pager in pages.paginate(folder, entries, per_page):
            front = path.endswith("index.html")
            if not front:  # reached from the front page; a new one would rewrite a sitemap
                self.hidden.add(path)
            updated = self.updated if front and not folder else None
            stamp = _stamp(
                updated,
                LISTING_VERSION,
                in_source,
                self.site,  # title and base_url (canonical links)
                heading,
                pager,
                feed,
                rss,
                [(e.path, e.title, e.source, e.local, e.version, e.media_rev) for e in chunk],
            )
            if self.unchanged(path, stamp):
                continue
            self.listing_page(
                path,
                stamp,
                heading,
                chunk,
                pages.month_groups(chunk),
                pager=pager if pager.newer or pager.older else None,
                feed=href(f"{folder}feed.xml") if feed is not None else None,
                rss=href(f"{folder}rss.xml") if feed is not None and rss else None,
                updated=updated,
                home=not folder,
                in_source=in_source,
            )
        self.stub(folder, heading, entries, per_page)

    def stub(
        self, folder: str, heading: str, entries: list[Entry], per_page: int | None = None
    ) -> None:
        """The small page at the listing's newest chunk (pages.newest_stub), for a listing
        of ``per_page`` entries a page (the site's ``per_page`` when None)."""
        path = pages.newest_stub(folder, entries, per_page or self.options.per_page)
        if path is not None:
            self.hidden.add(path)
            self.emit(path, stub_page(heading, root_of(path) + href(pages.page_path(folder))))

    def listing_page(
        self,
        path: str,
        stamp: str,
        heading: str,
        entries: list[Entry],
        groups: list[tuple[str, list[Entry]]],
        **extra: object,
    ) -> None:
        """One page of a listing, in the script of its titles."""
        lang = zhconvert.script_of("".join(e.title for e in entries))
        html = self.templates.render(
            "listing.html",
            root_of(path),
            heading=_heading(heading, lang),
            groups=groups,
            cards=self.cards(entries),
            page_href=href(path),
            lang=lang,
            **extra,
        )
        self.emit(path, html, stamp)

    def feed_pair(
        self, folder: str, title: str, entries: list[Entry], contents: dict[int, str]
    ) -> None:
        """The site's feeds (``folder`` ""): Atom and RSS, the newest with full texts
        (``feed_items``, ``feed_full_bytes``); a source's or tag's: Atom only, shorter and
        summaries only (publish/feeds.py says why)."""
        site_wide = not folder
        items, full = self.options.feed_items, self.options.feed_full_bytes
        if not site_wide:
            items, full = min(items, feeds.GROUP_ITEMS), feeds.GROUP_FULL_BYTES
        latest = entries[:items]
        contents = feeds.bodies(latest, contents, full)
        site_href = self.options.base_url or root_of(f"{folder}feed.xml")
        self.emit(
            f"{folder}feed.xml",
            feeds.atom(
                title,
                "feed.xml",
                site_href,
                latest,
                contents,
                now_utc() if not latest else _latest(latest),
                via=site_wide,
            ),
        )
        if site_wide:  # the same entries, summaries only: the full texts are in feed.xml
            summaries = feeds.bodies(latest, contents, 0)
            self.emit(f"{folder}rss.xml", feeds.rss(title, latest, summaries, site_href))

    def groups(self, kind: str, entries: list[Entry], contents: dict[int, str]) -> None:
        folder_of = self.folders.source if kind == "source" else self.folders.tag
        grouped = pages.by_key(entries, kind)
        label = "来源" if kind == "source" else "标签"
        index = []
        for name, items in sorted(grouped.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            folder = folder_of(name)
            in_source = kind == "source"
            self.listing(folder, f"{label}：{name}", items, folder, in_source=in_source, group=True)
            self.feed_pair(folder, f"{self.options.title} · {name}", items, contents)
            index.append({"name": name, "count": len(items), "href": href(pages.page_path(folder))})
        top = "sources/" if kind == "source" else "tags/"
        self.render(f"{top}index.html", "index_of.html", heading=label, items=index)

    def archive_pages(self, entries: list[Entry]) -> None:
        """archive/index.html lists the months, archive/YYYY/MM.html a month's days, and
        archive/YYYY/MM/DD.html a day's articles: a run rewrites today's page and two small
        indexes, not a month of entries (see pages.day_groups)."""
        months = []
        for month, days in pages.day_groups(entries):
            index: list[dict[str, object]] = []
            for day, items in days:
                path = pages.day_path(day)
                stamp = _stamp(
                    LISTING_VERSION,
                    self.site,  # title and base_url (canonical links)
                    day,
                    [
                        (e.path, e.title, e.source, e.local, e.url, e.version, e.media_rev)
                        for e in items
                    ],
                )
                index.append({"name": pages.day_name(day), "count": len(items), "href": href(path)})
                if self.unchanged(path, stamp):
                    continue
                name = pages.day_name(day)
                self.listing_page(path, stamp, f"归档：{name}", items, [(name, items)])
            path = f"archive/{month[:4]}/{month[5:7]}.html"  # month is "2023年10月"
            self.render(path, "index_of.html", heading=f"归档：{month}", items=index)
            count = sum(len(items) for _day, items in days)
            months.append({"name": month, "count": count, "href": href(path)})
        self.render("archive/index.html", "index_of.html", heading="归档", items=months)


def stub_page(heading: str, front: str) -> str:
    """A listing's newest chunk, which its front page shows: it sends the reader there
    (``front``, relative), and search engines keep away from it."""
    heading, front = html.escape(heading), html.escape(front, quote=True)
    return (
        '<!DOCTYPE html>\n<html lang="zh-Hans">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{heading}</title>\n"
        f'<meta http-equiv="refresh" content="0; url={front}">\n'
        '<meta name="robots" content="noindex">\n</head>\n<body>\n'
        f'<p>较新的文章在<a href="{front}">{heading}</a>的首页。</p>\n</body>\n</html>\n'
    )


def _heading(heading: str, lang: str) -> str:
    """A listing's heading for a page of ``lang``: its label ("来源：", "标签：", "归档：")
    in the page's script, the name after it as it is."""
    label, colon, name = heading.partition("：")
    if label not in ("来源", "标签", "归档"):
        return heading
    return zhconvert.in_script(label, lang) + colon + name


_H1 = re.compile(r"<h1>(.*?)</h1>", re.S)
_TAGS = re.compile(r"<[^>]+>")


def _demote_headings(content: str, title: str) -> str:
    """The page has one h1 (the title): a copy of the title in the body goes, other h1 become h2."""
    first = _H1.search(content)
    if first and _TAGS.sub("", first.group(1)).strip() == title.strip():
        content = content[: first.start()] + content[first.end() :]
    return _H1.sub(r"<h2>\1</h2>", content)


def _with_body_tags(archive: Archive, heads: list[ArticleRecord]) -> list[ArticleRecord]:
    """Heads with the tags their stored bodies link to (topics.body_tags): only bodies that
    contain a tag link's marker are read (one LIKE scan); imported posts keep their tags."""
    test = " OR ".join("content LIKE ?" for _ in topics.LINK_MARKERS)
    found = {
        article_id: body
        for article_id, body in archive.conn.execute(
            f"SELECT id, content FROM articles WHERE origin != 'jekyll' AND ({test})",
            [f"%{m}%" for m in topics.LINK_MARKERS],
        )
    }
    return [
        replace(h, tags=topics.body_tags(h.tags, found[h.id]))
        if h.id in found and not h.imported
        else h
        for h in heads
    ]


def _topic_pages(heads: list[ArticleRecord], entries: list[Entry], minimum: int) -> list[Entry]:
    """Entries showing only the tags that get a page (topics.site_tags): a topic tag of at
    least ``minimum`` articles, under the first-seen form of its folded name; the sources'
    configured tags and imported posts' tags always."""
    configured = {t for h in heads for t in (*h.source_tags, *(h.tags if h.imported else ()))}
    pages_of = topics.site_tags([(e.id, e.tags) for e in entries], minimum, configured)
    return [replace(e, tags=topics.shown(e.tags, pages_of)) for e in entries]


def _latest(entries: list[Entry]) -> datetime:
    return datetime.fromisoformat(entries[0].iso.replace("Z", "+00:00"))


def _feed_contents(
    archive: Archive, entries_by_feed: list[list[Entry]], items: int
) -> dict[int, str]:
    wanted = {e.id for entries in entries_by_feed for e in entries[:items]}
    return archive.contents(wanted)


def build_site(
    archive: Archive,
    out: Path,
    options: SiteOptions | None = None,
    *,
    log: Callable[[str], None] = lambda _m: None,
) -> BuildSummary:
    """Build (or update) the static site of ``archive`` in ``out``.

    Interrupted (Ctrl-C, SIGTERM), it stops the search indexer and removes its scratch
    folder; files already written are complete, and the next build finishes the job."""
    with terminate_cleanly():
        return _build(archive, out, options, log)


def _build(
    archive: Archive,
    out: Path,
    options: SiteOptions | None,
    log: Callable[[str], None],
) -> BuildSummary:
    options = options or SiteOptions()
    started = time.perf_counter()
    site = _Site(archive, out, options, log)
    if site.unfinished:  # the last build was cut short: its temporary files go
        site.writer.sweep_leftovers()
    archive.mark_site_building(site.target)  # until the stamps are saved at the end
    heads = sorted(
        archive.iter_articles(content=False), key=lambda a: (a.published, a.id), reverse=True
    )
    heads = _with_body_tags(archive, heads)
    entries = pages.unique_paths([pages.entry_of(h) for h in heads])
    entries = _topic_pages(heads, entries, options.min_tag_articles)
    try:
        if options.search:  # in a thread of its own: its workers count while pages render
            docs = search_docs(heads, entries)
            site.search = SearchJob(docs, archive.contents, site.writer.root, site.old)
            site.search.start()  # known before it starts: a Ctrl-C in start() cancels it
        _pages(site, heads, entries)
        if site.search is not None:
            indexed = site.search.finish()
    except BaseException:  # Ctrl-C or SIGTERM included, wherever it comes
        if site.search is not None:
            site.search.cancel()
        raise
    if site.search is not None:
        site.merge(site.search.files)
        site.summary.search_seconds, site.summary.search_pages = indexed.seconds, indexed.indexed
    removed = [path for path in set(site.old) - set(site.made) if site.writer.remove(path)]
    site.summary.removed += len(removed)
    site.writer.prune(removed)  # the folders those removals emptied (tags/NAME/, ...)
    archive.save_site_stamps(site.target, site.made)
    site.summary.written = site.written
    site.summary.pages = len(site.made)
    site.summary.seconds = time.perf_counter() - started
    return site.summary


def _pages(site: _Site, heads: list[ArticleRecord], entries: list[Entry]) -> None:
    """Every file of the site but the search index's."""
    from newsmirror.publish.extras import write_extras

    archive, options = site.archive, site.options
    site.folders = pages.folders(entries)
    near = pages.neighbours(entries)
    found = history.collect(archive, entries, {h.id: h.timezone for h in heads})
    site.edits = found.links
    site.article_pages(heads, entries, near)
    site.log(f"{site.summary.rendered_articles} article pages rendered")
    contents = _feed_contents(
        archive,
        [
            entries,
            *pages.by_key(entries, "source").values(),
            *pages.by_key(entries, "tags").values(),
        ],
        options.feed_items,
    )
    site.listing("", options.title, entries, feed="", rss=True)
    site.feed_pair("", options.title, entries, contents)
    site.groups("source", entries, contents)
    site.groups("tags", entries, contents)
    site.archive_pages(entries)
    history.write_history(site, found, heads, entries)
    write_extras(site, entries)


LANGS = (zhconvert.HANS, zhconvert.HANT)
ARTICLE_BATCH = 200  # article bodies read at once (one query: a round trip on PostgreSQL)


@lru_cache(maxsize=4096)  # a source's or tag's link, on each of its articles' pages
def _front_href(folder: str) -> str:
    return href(pages.page_path(folder))


class Link(NamedTuple):
    name: str
    href: str


@dataclass(frozen=True)
class ArticleView:
    """What article.html shows of an article (attributes: a template reads them faster
    than a dict's items, which it tries as attributes first)."""

    title: str
    source: str
    author: str
    url: str
    iso: str
    local: str
    content: str  # sanitised HTML, as the page shows it
    source_href: str
    tags: list[Link]
    removed: str
    edits: list[dict[str, str]]
    older: Entry | None
    older_in_source: Entry | None
    description: str
    image: str | None


class _ArticlePage:
    """Renders the article pages of one build (its templates, image maps and links)."""

    def __init__(
        self, site: _Site, media: dict[int, dict[str, tuple[str, str]]], urls: dict[str, str]
    ) -> None:
        self.site = site
        self.media = media
        self.urls = urls
        self.templates = {lang: site.templates.get("article.html", lang) for lang in LANGS}
        self._links: internal_links.LinkMap | None = None

    def links(self) -> internal_links.LinkMap:
        if self._links is None:
            self._links = internal_links.LinkMap(self.urls.items())
        return self._links

    def write(
        self, head: ArticleRecord, entry: Entry, n: Neighbours, stamp: str, article: ArticleRecord
    ) -> None:
        site, path = self.site, entry.path
        root = root_of(path)
        content, used = localise_images(
            article.content, self.media.get(head.id, {}), f"{root}{MEDIA}/"
        )
        for relpath in used:
            site.writer.copy_in(f"{MEDIA}/{relpath}", site.archive.media_dir / relpath)
        content = internal_links.rewrite(content, self.links().page_of, root)
        content = _demote_headings(content, entry.title)
        video = youtube_id(article.url)
        if video and f"/embed/{video}" not in content:
            content = youtube_embed(video) + content
        content = pages.finish_content(content, entry.title)
        view = ArticleView(
            title=entry.title,
            source=entry.source,
            author=article.author,
            url=entry.url,
            iso=entry.iso,
            local=entry.local,
            content=content,
            source_href=_front_href(site.folders.source(entry.source)),
            tags=[Link(t, _front_href(site.folders.tag(t))) for t in entry.tags],
            removed=pages.zone_day(head.removed_at, head.timezone) if head.removed_at else "",
            edits=site.edits.get(head.id, []),
            older=n.older,
            older_in_source=n.older_in_source,
            description=pages.excerpt(article.content, 150),
            image=f"{MEDIA}/{used[0]}" if used else None,
        )
        lang = zhconvert.script_of(entry.title + article.content)
        html = site.templates.render(
            self.templates[lang], root, a=view, lang=lang, page_href=href(path)
        )
        site.emit(path, html, stamp)
        site.summary.rendered_articles += 1
