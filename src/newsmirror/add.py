"""``newsmirror add URL``: archive one article page on demand.

What the old "archive this URL" bots did, without their holes: only http(s)
URLs; by default no connection to a host on a private, loopback, link-local or
otherwise non-public address (:mod:`newsmirror.netguard`: checked in the
connection layer for every connection, redirects included, and the connection
made to the very address checked, so neither a redirect nor DNS rebinding can
bounce the fetch into an intranet); the URL is only ever passed to the HTTP
client, never to a shell. The page gets the same decoding, extraction,
sanitising and image mirroring as feed articles. Its images obey the same guard,
now and on every later run; only its own images are fetched, and an image that
fails never makes ``add`` fail.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from newsmirror import fulltext
from newsmirror.clean import clean_text
from newsmirror.config import Config, Source
from newsmirror.decide import Change
from newsmirror.errors import AddError
from newsmirror.extractpool import ExtractionPool, extract_page
from newsmirror.fetch import Fetcher
from newsmirror.fulltext import fetch_page
from newsmirror.media import mirror_images
from newsmirror.netguard import Guard, guarded_transport
from newsmirror.store import Archive
from newsmirror.summaries import MediaSummary
from newsmirror.timeutil import now_utc
from newsmirror.urls import is_http_url


@dataclass(frozen=True)
class AddResult:
    article_id: int
    title: str
    source: str
    change: Change
    media: MediaSummary


def check_url(url: str) -> str:
    url = url.strip()
    if not is_http_url(url) or not urlsplit(url).hostname:
        raise AddError(
            f"not an http(s) URL: {url!r}",
            hint="Give the address of an article page, starting with https://.",
        )
    return url


def _parse_date(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip())  # takes a trailing Z since 3.11
    except ValueError:
        return None
    return moment if moment.tzinfo else None


async def _own_images(
    config: Config, archive: Archive, fetcher: Fetcher, article_id: int, guard: Guard | None
) -> MediaSummary:
    """Mirror the images of the added article only (each failure is recorded and counted
    by :func:`mirror_images`, never raised)."""
    return await mirror_images(
        archive,
        fetcher,
        config.media,
        config.media_dir,
        article_id=article_id,
        guard=guard,
    )


async def _add(
    config: Config, archive: Archive, url: str, source: Source, guard: Guard | None
) -> AddResult:
    transport = guarded_transport(guard, config.fetch) if guard else None
    async with Fetcher(config.fetch, transport=transport) as fetcher:
        with ExtractionPool(1) as pool:
            pool.start()  # while the page is fetched
            result = await fetch_page(fetcher, url)
            if result.status != "ok":
                raise AddError(f"cannot fetch {url}: {result.error}")
            extracted = await pool(
                fulltext.EXTRACT_SECONDS,
                extract_page,
                result.body,
                result.content_type,
                result.final_url or url,
                source.selector,
                source.remove,
                config.content.iframe_hosts,
                True,
            )
        now = now_utc()
        title = clean_text(extracted.title) or url  # the page's, as a feed's title is read
        published = _parse_date(extracted.date)
        article_id, change = archive.add_article(
            source=source.name,
            url=url,
            title=title,
            author=clean_text(extracted.author) or source.name,
            content=extracted.html,
            published=min(published, now) if published else now,
            published_raw=extracted.date_text or extracted.date,
            now=now,
            timezone=source.timezone,
            guarded=guard is not None,
        )
        media = await _own_images(config, archive, fetcher, article_id, guard)
    return AddResult(article_id, title, source.name, change, media)


def add_url(
    config: Config,
    archive: Archive,
    url: str,
    *,
    source: str | None = None,
    allow_private: bool = False,
    guard: Guard | None = None,
) -> AddResult:
    """Fetch, extract and store one article page, and mirror its images.

    Unless ``allow_private``, every connection goes through the network ``guard`` (by
    default the real one: system DNS, public addresses only); a non-public host raises
    :class:`~newsmirror.netguard.PrivateAddressError`.
    """
    url = check_url(url)
    name = source or str(urlsplit(url).hostname)  # check_url made sure there is one
    chosen = next((s for s in config.sources if s.name == name), Source(name=name, feeds=()))
    active = None if allow_private else (guard or Guard())
    return asyncio.run(_add(config, archive, url, chosen, active))
