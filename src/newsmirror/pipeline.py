"""The update run, the heart of newsmirror.

    sources (config) -> fetch (HTTP) -> parse (feeds) -> store (archive)
        -> full text (article pages) -> media (images)

1. The configured sources are synced into the archive (:meth:`Archive.sync_sources`).
2. Every feed of the chosen sources is fetched concurrently by :class:`Fetcher`,
   with conditional GET, per-host limits, retries and size caps.
3. As each response arrives it is decided whether it needs parsing at all
   (:func:`decide.body_unchanged`); if so it is parsed and sanitised
   (:func:`parse.parse_feed`, in forked workers on the other cores: :mod:`parsepool`),
   and its entries are classified as new, changed or unchanged and stored in one
   transaction per feed (:meth:`Archive.store_entries`).
   Entries whose body is missing or a teaser are marked for their page
   (:func:`decide.needs_full_text`).
4. Marked articles get their page fetched and its main text extracted
   (:func:`fulltext.fill_pages`).
5. Images of new and changed articles are mirrored into the media folder
   (:func:`media.mirror_images`), unless the operator chose hotlinks.
6. Each source's health (last success, last error, consecutive failures) is
   updated, and a :class:`RunSummary` with one :class:`SourceResult` per source
   (and what the page and image steps did) is returned. A failing source never
   stops the others: whatever goes wrong with one feed (HTTP, parser, decoder) is
   that feed's failure with a one-line reason (:mod:`newsmirror.isolate`); only
   archive errors stop the run, cleanly and once.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from newsmirror.aio import run_all
from newsmirror.config import Config, Source
from newsmirror.decide import body_unchanged, needs_full_text
from newsmirror.errors import NewsmirrorError
from newsmirror.fetch import Fetcher, FetchResult
from newsmirror.httpclient import httpx
from newsmirror.isolate import failure_reason
from newsmirror.models import FeedCheck, SourceOutcome
from newsmirror.parsepool import ParsePool, expect_parsing
from newsmirror.store import Archive, FeedState
from newsmirror.summaries import Budget, Events, MediaSummary, PageSummary
from newsmirror.timeutil import now_utc


@dataclass
class SourceResult:
    """What one run did for one source."""

    name: str
    feeds: int = 0
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    new: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.failed and not (self.ok or self.not_modified):
            return "failed"
        if self.failed:
            return "partial"
        if self.ok:
            return "ok"
        return "not_modified"


@dataclass
class RunSummary:
    sources: list[SourceResult]
    pages: PageSummary = field(default_factory=PageSummary)
    media: MediaSummary = field(default_factory=MediaSummary)
    fallbacks: int = 0  # feeds that fastfeedparser could not read, read by feedparser

    def count(self, status: str) -> int:
        return sum(1 for s in self.sources if s.status == status)

    @property
    def new(self) -> int:
        return sum(s.new for s in self.sources)

    @property
    def updated(self) -> int:
        return sum(s.updated for s in self.sources)

    @property
    def any_failed(self) -> bool:
        return any(s.failed for s in self.sources)

    def deferred_line(self) -> str:
        return (
            f"time budget spent: {self.pages.deferred} pages and {self.media.deferred} images"
            " left for the next run"
        )

    def line(self) -> str:
        return (
            f"{len(self.sources)} sources: {self.count('ok')} ok, "
            f"{self.count('not_modified')} not modified, {self.count('partial')} partial, "
            f"{self.count('failed')} failed; {self.new} new, {self.updated} updated articles"
            + (f"; {self.pages.line()}" if self.pages.fetched or self.pages.failed else "")
            + (f"; {self.media.line()}" if self.media.stored or self.media.failed else "")
            + (f"; {self.deferred_line()}" if self.pages.deferred or self.media.deferred else "")
        )


ProgressCallback = Callable[[SourceResult, str, str], None]


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


async def _run(
    config: Config,
    archive: Archive,
    sources: list[Source],
    progress: ProgressCallback | None,
    transport: httpx.AsyncBaseTransport | None,
    budget: Budget,
    events: Events | None,
) -> RunSummary:
    results = {s.name: SourceResult(s.name, feeds=len(s.feeds)) for s in sources}
    readers: list[str] = []
    checks = _Checks()
    states = {(s.name, url): archive.feed_state(s.name, url) for s in sources for url in s.feeds}
    with ParsePool() as parser:
        if expect_parsing(states.values()):
            parser.start_workers(early=True)  # they import the parser while this fetches
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
            pages, media = await _pages_and_images(
                config, archive, fetcher, sources, budget, events
            )
    outcomes = [
        SourceOutcome(r.name, not r.failed, "; ".join(r.errors) or None) for r in results.values()
    ]
    archive.record_run(checks, outcomes, now=now_utc())
    fallbacks = readers.count("feedparser")
    return RunSummary([results[s.name] for s in sources], pages, media, fallbacks)


_QUIET = [0]  # how many fewer_collections() are open
YOUNG_THRESHOLD = 20_000  # allocations between collections of young objects (Python's: 700)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's cycle collector, during a run: whatever exists when the run starts (the
    imported modules, the config) is set aside, and young objects are collected less
    often. A run makes hundreds of thousands of short-lived objects, and without this
    the collector spends 20 ms and more re-examining the modules' objects.
    Everything is as before when the outermost block ends."""
    _QUIET[0] += 1
    outermost, old = _QUIET[0] == 1, gc.get_threshold()
    if outermost:
        gc.freeze()
        gc.set_threshold(max(old[0], YOUNG_THRESHOLD), old[1], old[2])
    try:
        yield
    finally:
        _QUIET[0] -= 1
        if outermost:
            gc.set_threshold(*old)
            gc.unfreeze()


def select_sources(config: Config, names: list[str] | None) -> list[Source]:
    """The sources a run covers: the named ones, else every enabled one."""
    if names:
        return [config.source(n) for n in names]
    return [s for s in config.sources if s.enabled]


def update(
    config: Config,
    archive: Archive,
    names: list[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    budget: Budget | None = None,
    events: Events | None = None,
) -> RunSummary:
    """Fetch the chosen sources into ``archive`` and return what happened; with a
    ``budget``, no page or image is started once it is spent (they wait for the next
    run), while every feed is still fetched. ``progress`` hears of each feed as it is done,
    ``events`` of each page and image."""
    with fewer_collections():
        archive.sync_sources(config.sources)
        sources = select_sources(config, names)
        run = _run(config, archive, sources, progress, transport, budget or Budget(), events)
        return asyncio.run(run)
