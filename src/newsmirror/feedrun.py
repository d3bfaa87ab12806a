"""Steps 2 to 6 of a run (:mod:`newsmirror.pipeline` has the whole flow): every feed
fetched concurrently, each body parsed by the run's :class:`~newsmirror.parsepool.ParsePool`
and stored as it comes, then the pages and images, then the health of each source.

Apart from :mod:`~newsmirror.pipeline` because it imports the HTTP client: a run forks its
parse workers first and imports this module after, so that the workers import the parser
on the other core while this process imports httpx."""

from __future__ import annotations

import hashlib
from datetime import datetime

from newsmirror.aio import run_all
from newsmirror.config import Config, Source
from newsmirror.decide import body_unchanged, needs_full_text
from newsmirror.errors import NewsmirrorError
from newsmirror.fetch import Fetcher, FetchResult
from newsmirror.httpclient import httpx
from newsmirror.isolate import failure_reason
from newsmirror.models import FeedCheck, SourceOutcome
from newsmirror.parsepool import ParsePool
from newsmirror.store import Archive, FeedState
from newsmirror.summaries import (
    Budget,
    Events,
    MediaSummary,
    PageSummary,
    ProgressCallback,
    RunSummary,
    SourceResult,
)
from newsmirror.timeutil import now_utc


class _Checks(list[FeedCheck]):
    """The run's feeds that stored nothing, recorded together at its end."""

    def failed(
        self,
        source: Source,
        result: FetchResult,
        error: str,
        started: datetime,
        outcome: SourceResult,
    ) -> None:
        outcome.failed += 1
        outcome.errors.append(f"{result.url}: {error}")
        self.append(
            FeedCheck(
                source.name, result.url, "failed", started, now_utc(), result.http_status, error
            )
        )

    def unchanged(
        self,
        source: Source,
        result: FetchResult,
        state: FeedState | None,
        started: datetime,
        outcome: SourceResult,
    ) -> None:
        """``state``: the feed's new conditional-GET state, None when it is the same."""
        outcome.not_modified += 1
        self.append(
            FeedCheck(
                source.name,
                result.url,
                "not_modified",
                started,
                now_utc(),
                result.http_status,
                state=state,
            )
        )


async def _handle(
    archive: Archive,
    checks: _Checks,
    source: Source,
    result: FetchResult,
    state: FeedState,
    started: datetime,
    outcome: SourceResult,
    parser: ParsePool,
) -> str:
    """Parse and store one fetch result; record its outcome on ``outcome``.

    Return the feed reader used ("" when nothing was parsed)."""
    if result.status == "failed":
        checks.failed(source, result, result.error, started, outcome)
        return ""
    if result.status == "not_modified":
        checks.unchanged(source, result, None, started, outcome)
        return ""
    digest = hashlib.sha256(result.body).hexdigest()
    new_state = FeedState(result.etag, result.last_modified, digest)
    if body_unchanged(state, digest):
        checks.unchanged(
            source, result, new_state if new_state != state else None, started, outcome
        )
        return ""
    now = now_utc()
    try:  # off the event loop: a huge or hostile feed does not stall the other fetches
        parsed = await parser.parse(
            result.body,
            url=result.final_url or result.url,
            content_type=result.content_type,
            fallback_author=source.name,
            now=now,
            timezone=source.timezone,
        )
    except NewsmirrorError as exc:
        checks.failed(source, result, exc.message, started, outcome)
        return ""
    if parsed.warning:
        outcome.warnings.append(f"{result.url}: {parsed.warning}")
    new, updated = archive.store_entries(
        source.name,
        result.url,
        parsed.entries,
        state=new_state,
        started=started,
        now=now,
        http_status=result.http_status,
        wants_page=lambda entry: needs_full_text(source.full_text, entry.content),
    )
    outcome.ok += 1
    outcome.new += new
    outcome.updated += updated
    return parsed.reader


async def _feed(
    archive: Archive,
    fetcher: Fetcher,
    checks: _Checks,
    source: Source,
    url: str,
    state: FeedState,
    outcome: SourceResult,
    parser: ParsePool,
) -> tuple[str, str]:
    """Fetch, parse and store one feed: (fetch status, feed reader used or "")."""
    started = now_utc()
    try:
        result = await fetcher.fetch(url, state)
        reader = await _handle(archive, checks, source, result, state, started, outcome, parser)
        return result.status, reader
    except Exception as exc:  # any one feed's trouble is that feed's failure only
        checks.failed(source, FetchResult(url, "failed"), failure_reason(exc), started, outcome)
        return "failed", ""


async def handle_feed(archive: Archive, fetcher: Fetcher, source: Source, url: str) -> SourceResult:
    """Steps 2, 3 and 6 for one feed, as a queue worker does them (:mod:`jobqueue`):
    fetch, parse in this process, store, and record the feed's check and its source's
    health."""
    outcome = SourceResult(source.name, feeds=1)
    checks = _Checks()
    with ParsePool(cpus=1) as parser:
        await _feed(
            archive,
            fetcher,
            checks,
            source,
            url,
            archive.feed_state(source.name, url),
            outcome,
            parser,
        )
    error = "; ".join(outcome.errors) or None
    archive.record_run(
        checks, [SourceOutcome(source.name, not outcome.failed, error)], now=now_utc()
    )
    return outcome


async def _pages_and_images(
    config: Config,
    archive: Archive,
    fetcher: Fetcher,
    sources: list[Source],
    budget: Budget,
    events: Events | None,
) -> tuple[PageSummary, MediaSummary]:
    """Steps 4 and 5; their modules (the extractor, the image store) are imported only
    when there is work for them, which keeps a run with nothing new short."""
    pages, media = PageSummary(), MediaSummary()
    tasks = archive.pending_pages(config.content.max_pages, [s.name for s in sources])
    if tasks:
        from newsmirror.fulltext import fill_pages

        pages = await fill_pages(archive, fetcher, config, tasks, budget=budget, events=events)
    if config.media.mode == "mirror":
        from newsmirror.media import mirror_images

        media = await mirror_images(
            archive, fetcher, config.media, config.media_dir, budget=budget, events=events
        )
    return pages, media


async def run_feeds(
    config: Config,
    archive: Archive,
    sources: list[Source],
    states: dict[tuple[str, str], FeedState],
    parser: ParsePool,
    progress: ProgressCallback | None,
    transport: httpx.AsyncBaseTransport | None,
    budget: Budget,
    events: Events | None,
) -> RunSummary:
    """Steps 2 to 6 for ``sources`` (``states``: each feed's conditional-GET state,
    by (source, feed URL)), parsing with ``parser``, which ends before the pages."""
    results = {s.name: SourceResult(s.name, feeds=len(s.feeds)) for s in sources}
    readers: list[str] = []
    checks = _Checks()
    async with Fetcher(config.fetch, transport=transport) as fetcher:

        async def one(source: Source, url: str) -> None:
            outcome = results[source.name]
            status, reader = await _feed(
                archive, fetcher, checks, source, url, states[source.name, url], outcome, parser
            )
            readers.append(reader)
            if progress:
                progress(outcome, url, status)

        await run_all(one(s, u) for s in sources for u in s.feeds)
        parser.close()  # the workers, if any, end before the pages are fetched
        pages, media = await _pages_and_images(config, archive, fetcher, sources, budget, events)
    outcomes = [
        SourceOutcome(r.name, not r.failed, "; ".join(r.errors) or None) for r in results.values()
    ]
    archive.record_run(checks, outcomes, now=now_utc())
    fallbacks = readers.count("feedparser")
    return RunSummary([results[s.name] for s in sources], pages, media, fallbacks)
