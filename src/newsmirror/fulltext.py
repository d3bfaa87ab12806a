"""Full text: article pages fetched and their main content extracted.

:func:`decide.needs_full_text` marks the feed items that need their page (in
``auto`` mode: no body, a short one, or a teaser). :func:`fill_pages` fetches
those pages with the same :class:`Fetcher` (per-host limits, retries, size caps),
decodes and extracts them in worker processes, and stores the result, keeping
the feed's body when the page gives less (:func:`decide.use_page_text`).
Whatever goes wrong with one page (HTTP, decoding, extraction) is that page's
recorded failure; the others go on. ``newsmirror refetch`` runs the same step over
stored articles: a changed text becomes a new revision, and a page that is gone
(404/410) marks the article as removed at its origin. The pages of articles archived
by ``newsmirror add`` with its guard on are only ever fetched through the network guard
(:mod:`newsmirror.netguard`, every redirect hop); a page the guard refuses is that
page's failure, with the reason.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from newsmirror.aio import run_all
from newsmirror.config import Config, Source
from newsmirror.decide import use_page_text
from newsmirror.errors import ExtractionError
from newsmirror.extractpool import ExtractionPool, extract_page
from newsmirror.fetch import Fetcher, FetchResult
from newsmirror.htmltext import plain_text
from newsmirror.isolate import failure_reason
from newsmirror.models import PageTask
from newsmirror.netguard import Guard, guarded_transport
from newsmirror.store import Archive
from newsmirror.summaries import Budget, Events, MediaSummary, PageSummary
from newsmirror.timeutil import from_iso, now_utc

if TYPE_CHECKING:
    import httpx


PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
PAGE_MAX_BYTES = 10 * 1024 * 1024
GONE = (404, 410)
EXTRACT_SECONDS = 60.0  # one page's extraction, at most (see extractpool)


async def fetch_page(fetcher: Fetcher, url: str) -> FetchResult:
    return await fetcher.fetch(url, headers={"Accept": PAGE_ACCEPT}, max_bytes=PAGE_MAX_BYTES)


async def fill_pages(
    archive: Archive,
    fetcher: Fetcher,
    config: Config,
    tasks: list[PageTask],
    *,
    refetch: bool = False,
    guard: Guard | None = None,
    budget: Budget | None = None,
    events: Events | None = None,
) -> PageSummary:
    """Fetch and extract the pages of ``tasks``; store what they give.

    The pages of guarded tasks (articles archived by ``add`` with its guard on) are
    fetched through the network guard (``guard``, by default the real one). Once the
    ``budget`` is spent no page is started: the rest stay marked for the next run.
    ``events`` hears of each page as it is done.
    """
    summary = PageSummary()
    gate = asyncio.Semaphore(config.fetch.concurrency)  # a page starts when a slot frees
    sources = {s.name: s for s in config.sources}
    runner = ExtractionPool(len(tasks))
    if tasks:
        runner.start()  # while the first pages are fetched
    fetchers = {False: fetcher}

    async def one(task: PageTask) -> str:
        source = sources.get(task.source) or Source(name=task.source, feeds=())
        result = await fetch_page(fetchers[task.guarded], task.url)
        now = now_utc()
        if result.status != "ok":
            gone = result.http_status in GONE
            summary.gone += gone
            summary.failed += not gone
            summary.errors.append(f"{task.url}: {result.error}")
            archive.page_checked(task, now=now, error=result.error, gone=gone)
            return "gone at its origin" if gone else f"failed: {result.error}"
        summary.fetched += 1
        if refetch and source.full_text == "feed":
            archive.page_checked(task, now=now)
            return "checked"
        try:
            extracted = await runner(
                EXTRACT_SECONDS,
                extract_page,
                result.body,
                result.content_type,
                result.final_url or task.url,
                source.selector,
                source.remove,
                config.content.iframe_hosts,
                True,  # the page's author and date, for an item whose feed gave none
                plain_text(task.content) if task.content_origin == "feed" else "",
            )
        except ExtractionError as exc:
            summary.failed += 1
            summary.errors.append(f"{task.url}: {exc.message}")
            archive.page_checked(task, now=now, error=exc.message)
            return f"failed: {exc.message}"
        published = from_iso(extracted.date) if extracted.date else None

        def fill() -> None:  # after the body's revision, which keeps the feed's author
            archive.fill_from_page(
                task.article_id,
                author=extracted.author,
                published=min(published, now) if published else None,
                published_raw=extracted.date_text,
            )

        if (
            task.content_origin == "feed"
            and source.full_text == "auto"
            and not use_page_text(plain_text(task.content), extracted.text)
        ):
            summary.kept_feed += 1
            archive.page_checked(task, now=now)
            fill()
            return "kept the feed's text"
        origin = "selector" if source.selector else "page"
        summary.extracted += 1
        changed = archive.store_page(task, html=extracted.html, origin=origin, now=now)
        fill()
        summary.changed += changed
        return "full text" + (" (changed)" if changed else "")

    async def isolated(task: PageTask) -> None:
        async with gate:
            if budget is not None and budget.spent():
                summary.deferred += 1
                return
            outcome = await guarded(task)
        if events is not None:
            events("page", f"{task.url}: {outcome}")

    async def guarded(task: PageTask) -> str:
        try:
            return await one(task)
        except Exception as exc:  # this page's failure only (archive errors stop the run)
            reason = failure_reason(exc)
            summary.failed += 1
            summary.errors.append(f"{task.url}: {reason}")
            archive.page_checked(task, now=now_utc(), error=reason)
            return f"failed: {reason}"

    try:
        async with AsyncExitStack() as stack:
            if any(task.guarded for task in tasks):
                transport = guarded_transport(guard or Guard(), fetcher.settings)
                own = Fetcher(fetcher.settings, transport=transport)
                fetchers[True] = await stack.enter_async_context(own)
            await run_all(isolated(task) for task in tasks)
    finally:
        runner.close()
    return summary


async def _refetch(
    config: Config,
    archive: Archive,
    tasks: list[PageTask],
    transport: httpx.AsyncBaseTransport | None,
    guard: Guard | None,
    whole: bool,
    events: Events | None,
) -> tuple[PageSummary, MediaSummary]:
    """The pages of ``tasks`` again, then the images still missing: every article's when
    the refetch is ``whole``, else only those of the articles looked at."""
    from newsmirror.media import mirror_images

    async with Fetcher(config.fetch, transport=transport) as fetcher:
        pages = await fill_pages(
            archive, fetcher, config, tasks, refetch=True, guard=guard, events=events
        )
        args = (archive, fetcher, config.media, config.media_dir)
        if whole:
            return pages, await mirror_images(*args, guard=guard, events=events)
        media = MediaSummary()
        for article_id in sorted({task.article_id for task in tasks}):
            one = await mirror_images(*args, article_id=article_id, guard=guard, events=events)
            media.absorb(one)
    return pages, media


def refetch(
    config: Config,
    archive: Archive,
    *,
    source: str | None = None,
    since: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    guard: Guard | None = None,
    events: Events | None = None,
) -> tuple[PageSummary, MediaSummary]:
    """Fetch and extract the pages of stored articles again (``newsmirror refetch``).

    A changed text becomes a new revision; a page gone (404/410) marks its article as
    removed at the origin, with the time that was noticed. The pages and images of
    articles archived by ``add`` with its guard on go through the network ``guard``
    (by default the real one). ``events`` hears of each page and image as it is done.
    """
    archive.sync_sources(config.sources)
    if source is not None and source not in {h.name for h in archive.health()}:
        config.source(source)  # a clear error for a name neither config nor archive has
    tasks = archive.page_tasks(source=source, since=since)
    whole = source is None and since is None
    return asyncio.run(_refetch(config, archive, tasks, transport, guard, whole, events))
