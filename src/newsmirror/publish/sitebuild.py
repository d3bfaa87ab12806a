"""What the site's parts (extras, sitemaps, redirect pages, status) may use of a build:
a small public interface, so that none of them imports the site module or reaches into
its private state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from newsmirror.publish import feeds, pages

if TYPE_CHECKING:
    from collections.abc import Mapping

    from newsmirror.publish.status import Moment
    from newsmirror.store import Archive


@dataclass(frozen=True)
class SiteOptions:
    title: str = "新闻镜像"
    base_url: str = ""  # absolute URL of the site root, for the sitemap and RSS; optional
    per_page: int = pages.PER_PAGE
    search: bool = True
    # The site's public mirrors, (name, http(s) URL) pairs, listed on mirrors.html.
    mirrors: tuple[tuple[str, str], ...] = ()
    feed_items: int = feeds.FEED_ITEMS  # entries per feed
    feed_full_bytes: int = feeds.FULL_BYTES  # full texts per feed; the rest summaries
    min_tag_articles: int = 3  # a topic tag of fewer articles has no page (topics.py)


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

    def emit(self, path: str, text: str | bytes, stamp: str | None = None) -> None:
        """Write ``path`` (only if its bytes changed) and count it as made."""
        ...

    def render(self, path: str, template: str, stamp: str | None = None, **context: object) -> None:
        """Render a template of the site to ``path`` (``stamp``: what it was made from)."""
        ...

    def stub(self, folder: str, heading: str, entries: list[pages.Entry]) -> None:
        """The small page at a listing's newest chunk (pages.newest_stub)."""
        ...

    def unchanged(self, path: str, stamp: str) -> bool:
        """Whether ``path`` was made from the same ``stamp`` last time (and is still
        there); if so it counts as made, and need not be rendered again."""
        ...
