"""What the site's parts (extras, sitemaps, redirect pages, status) may use of a build:
a small public interface, so that none of them imports the site module or reaches into
its private state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from newsmirror.publish import feeds, pages
from newsmirror.publish.writer import OutputWriter

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from newsmirror.publish.status import Moment
    from newsmirror.store import Archive


@dataclass(frozen=True)
class SiteOptions:
    title: str = "新闻镜像"
    base_url: str = ""  # absolute URL of the site root, for the sitemap and RSS; optional
    per_page: int = pages.PER_PAGE  # the home page and the site-wide listings
    group_per_page: int = pages.GROUP_PER_PAGE  # a source's or tag's listing
    search: bool = True
    # The site's public mirrors, (name, http(s) URL) pairs, listed on mirrors.html.
    mirrors: tuple[tuple[str, str], ...] = ()
    feed_items: int = feeds.FEED_ITEMS  # entries per feed
    feed_full_bytes: int = feeds.FULL_BYTES  # full texts per feed; the rest summaries
    min_tag_articles: int = 3  # a topic tag of fewer articles has no page (topics.py)


class Files:
    """The files one build (or its search index) made below ``root``: path -> stamp, and
    how many it wrote; ``old`` is what the last build made."""

    def __init__(self, root: Path, old: Mapping[str, str]) -> None:
        self.writer = OutputWriter(root)
        self.old = old
        self.made: dict[str, str] = {}
        self.written = 0

    def emit(self, path: str, text: str | bytes, stamp: str | None = None) -> None:
        """Write ``path`` (only if its bytes changed) and count it as made."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        if self.writer.write(path, data):
            self.written += 1
        self.made[path] = stamp or hashlib.sha1(data).hexdigest()

    def record(self, path: str, stamp: str, written: bool) -> None:
        """Book a file another process wrote below the root (the search index's workers:
        :class:`newsmirror.publish.search.SharedOutput`) as if it had been emitted."""
        if written:
            self.writer.claim(path)
            self.written += 1
        self.made[path] = stamp

    def unchanged(self, path: str, stamp: str) -> bool:
        """Whether ``path`` was made from the same inputs last time (and is still there);
        if so it counts as made without being rendered."""
        if self.old.get(path) == stamp and self.writer.size(path) is not None:
            self.made[path] = stamp
            return True
        return False

    def merge(self, other: Files) -> None:
        """Book the files ``other`` made (of the same root) as made here too."""
        for path in other.writer.written:
            self.writer.claim(path)  # a file both wrote: OutputError, as in one writer
        self.made.update(other.made)
        self.written += other.written


class SiteBuild(Protocol):
    """One build of the site, as its parts see it."""

    archive: Archive
    options: SiteOptions
    folders: pages.Folders
    updated: Moment | None  # the mirror's last update
    hidden: set[str]  # pages made but left out of the sitemap

    @property
    def made(self) -> Mapping[str, str]:
        """Every file this build made so far: path -> stamp."""
        ...

    def log(self, message: str) -> None:
        """Tell the person running the build."""
        ...

    def note(self, message: str) -> None:
        """Tell the person running the build something to act on: it ends the build's
        summary line too (``build`` and ``run`` print it)."""
        ...

    def emit(self, path: str, text: str | bytes, stamp: str | None = None) -> None:
        """Write ``path`` (only if its bytes changed) and count it as made."""
        ...

    def render(self, path: str, template: str, stamp: str | None = None, **context: object) -> None:
        """Render a template of the site to ``path`` (``stamp``: what it was made from)."""
        ...

    def stub(
        self, folder: str, heading: str, entries: list[pages.Entry], per_page: int | None = None
    ) -> None:
        """The small page at a listing's newest chunk (pages.newest_stub)."""
        ...

    def unchanged(self, path: str, stamp: str) -> bool:
        """Whether ``path`` was made from the same ``stamp`` last time (and is still
        there); if so it counts as made, and need not be rendered again."""
        ...
