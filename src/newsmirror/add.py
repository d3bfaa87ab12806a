"""``newsmirror add URL``: archive one article page on demand.

What the old "archive this URL" bots did, without their holes: only http(s)
URLs; by default no host that resolves to a private, loopback, link-local or
otherwise non-public address (checked for every request, redirects included, so
a public URL cannot bounce the fetch into an intranet); the URL is only ever
passed to the HTTP client, never to a shell. The page gets the same decoding,
extraction, sanitising and image mirroring as feed articles.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from newsmirror.config import Config, Source
from newsmirror.decide import Change
from newsmirror.errors import AddError
from newsmirror.fetch import Fetcher
from newsmirror.fulltext import extract_page, fetch_page
from newsmirror.media import MediaSummary, mirror_images
from newsmirror.store import Archive
from newsmirror.timeutil import now_utc
from newsmirror.urls import is_http_url

PRIVATE_HINT = "Pass --allow-private to archive pages on an intranet or this machine."


@dataclass(frozen=True)
class AddResult:
    article_id: int
    title: str
    source: str
    change: Change
    media: MediaSummary


def is_public(address: str) -> bool:
    """Whether an IP address is a public, routable unicast address."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_public_host(host: str) -> None:
    """AddError unless every address ``host`` resolves to is public."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddError(f"cannot resolve {host!r}: {exc}") from exc
    for info in infos:
        address = str(info[4][0])
        if not is_public(address):
            raise AddError(
                f"{host} resolves to the non-public address {address}", hint=PRIVATE_HINT
            )


def check_url(url: str) -> str:
    url = url.strip()
    if not is_http_url(url):
        raise AddError(
            f"not an http(s) URL: {url!r}",
            hint="Give the address of an article page, starting with https://.",
        )
    return url


def _parse_date(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


async def _guard(request: httpx.Request) -> None:
    await asyncio.to_thread(check_public_host, request.url.host)


async def _add(
    config: Config,
    archive: Archive,
    url: str,
    source: Source,
    allow_private: bool,
    transport: httpx.AsyncBaseTransport | None,
) -> AddResult:
    async with Fetcher(
        config.fetch, transport=transport, on_request=None if allow_private else _guard
    ) as fetcher:
        result = await fetch_page(fetcher, url)
        if result.status != "ok":
            raise AddError(f"cannot fetch {url}: {result.error}")
        extracted = await asyncio.to_thread(
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
        published = _parse_date(extracted.date)
        article_id, change = archive.add_article(
            source=source.name,
            url=url,
            title=extracted.title or url,
            author=extracted.author or source.name,
            content=extracted.html,
            published=min(published, now) if published else now,
            published_raw=extracted.date,
            now=now,
            timezone=source.timezone,
        )
        media = await mirror_images(archive, fetcher, config.media, config.media_dir)
    return AddResult(article_id, extracted.title or url, source.name, change, media)


def add_url(
    config: Config,
    archive: Archive,
    url: str,
    *,
    source: str | None = None,
    allow_private: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AddResult:
    """Fetch, extract and store one article page."""
    url = check_url(url)
    name = source or urlsplit(url).hostname or "added"
    chosen = next((s for s in config.sources if s.name == name), Source(name=name, feeds=()))
    return asyncio.run(_add(config, archive, url, chosen, allow_private, transport))
