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

Steps 2 to 6 are :func:`feedrun.run_feeds`, imported once the parse workers are forked
(when the run will surely parse): the workers import the parser on the other core while
this process imports the HTTP client.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from newsmirror.config import Config, Source
from newsmirror.parsepool import ParsePool, expect_parsing
from newsmirror.store import Archive
from newsmirror.summaries import Budget, Events, ProgressCallback, RunSummary, SourceResult

if TYPE_CHECKING:
    from newsmirror.httpclient import httpx

__all__ = [
    "ProgressCallback",
    "RunSummary",
    "SourceResult",
    "fewer_collections",
    "select_sources",
    "update",
]


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
        states = {(s.name, u): archive.feed_state(s.name, u) for s in sources for u in s.feeds}
        with ParsePool() as parser:
            if expect_parsing(states.values()):
                # forked before the HTTP client is imported: the workers import the parser
                # on the other core meanwhile
                parser.start_workers(early=True)
            import asyncio

            from newsmirror.feedrun import run_feeds

            run = run_feeds(
                config,
                archive,
                sources,
                states,
                parser,
                progress,
                transport,
                budget or Budget(),
                events,
            )
            return asyncio.run(run)
