"""Fetch work on a job queue, for archives on PostgreSQL: any number of ``newsmirror
worker`` processes, on any number of machines, share the work and the archive.

The queue is procrastinate's, in the archive's own database and schema. Three jobs:

- ``feed(source, url)``: fetch, parse and store one feed, exactly as ``run`` does for
  each feed (:func:`pipeline.handle_feed`), and record its health; then queue a
  ``page`` job for each article it marked for its page and an ``images`` job for each
  article with images to mirror.
- ``page(article_id)``: fetch one article's page and store its text.
- ``images(article_id, url)``: mirror one image of an article.

``newsmirror schedule`` queues the feeds that are due (:mod:`newsmirror.duejobs`); a
queueing lock per feed, page and article keeps a job from being queued twice.

Nothing is lost when a worker dies: a job stays ``doing`` until it ends, and a job
whose worker stopped sending heartbeats is given back to the queue by the other workers
(:func:`recover_stalled`); a job a living worker ran but could not mark done (the
database ended its session just then) is given back by that worker
(:func:`recover_orphans`). A job done twice stores nothing twice: an article is found
by its canonical URL under the archive's write lock (:mod:`newsmirror.store.postgres`).

Per-host politeness holds across all workers: a request holds one of ``per_host``
advisory locks of its host (:class:`HostSlots`) in a database session, which the server
ends with the worker, so even a killed worker frees its slots at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from newsmirror.config import Config, Source
from newsmirror.errors import ArchiveError, NewsmirrorError
from newsmirror.jobledger import JobLedger
from newsmirror.summaries import Budget, MediaSummary, PageSummary
from newsmirror.workerloop import keep_working

if TYPE_CHECKING:
    import procrastinate

    from newsmirror.fetch import Fetcher
    from newsmirror.pipeline import RunSummary
    from newsmirror.store import Archive

log = logging.getLogger(__name__)

FEEDS, PAGES, IMAGES = "feeds", "pages", "images"
HEARTBEAT = 5.0  # seconds between a worker's heartbeats
STALLED_AFTER = 30.0  # a worker silent this long is dead: its jobs go back to the queue


@dataclass
class WorkDone:
    """What one worker did: jobs of each kind, and its pages' and images' outcomes."""

    jobs: dict[str, int] = field(default_factory=lambda: {FEEDS: 0, PAGES: 0, IMAGES: 0})
    pages: PageSummary = field(default_factory=PageSummary)
    media: MediaSummary = field(default_factory=MediaSummary)


def _add(total: PageSummary | MediaSummary, part: PageSummary | MediaSummary) -> None:
    for name in vars(part):
        value = getattr(part, name)
        if isinstance(value, int):
            setattr(total, name, getattr(total, name) + value)
        elif isinstance(value, list):  # the errors
            getattr(total, name).extend(value)


@dataclass
class WorkerState:
    """What the jobs of one worker process use: its config, archive and fetcher."""

    config: Config
    archive: Archive
    fetcher: Fetcher
    sources: dict[str, Source] = field(default_factory=dict)
    budget: Budget | None = None  # no page or image is started once it is spent
    done: WorkDone = field(default_factory=WorkDone)
    url: str = ""  # the archive's, to connect again after a restart of the database


_STATE: list[WorkerState] = []


def _session(url: str) -> Any:
    """A new ``psycopg`` session (errors without the URL's password)."""
    from newsmirror.store.dialect import PgConnection

    try:
        return PgConnection(url).raw
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot reach the archive database: {exc}") from exc


def _reconnect_if_lost(state: WorkerState) -> None:
    """A worker outlives a restart of its database: the archive's session, ended by the
    server, is replaced before the next job (the jobs that met it are retried)."""
    from newsmirror.store.dialect import PgConnection

    conn = state.archive.conn
    if state.url and isinstance(conn, PgConnection) and conn.raw.closed:
        state.archive.conn = PgConnection(state.url)  # raises: the job is retried
        log.warning("the archive database ended the session; connected again")


def _state() -> WorkerState:
    if not _STATE:
        raise NewsmirrorError("a newsmirror job ran outside `newsmirror worker`")
    _reconnect_if_lost(_STATE[-1])
    return _STATE[-1]


# -- host slots -------------------------------------------------------------------


class HostSlots:
    """At most ``per_host`` requests to one host at a time, across every worker: a
    request holds one of the host's advisory locks in this session. When the server
    ends the session (a restart), its locks go with it and a new session is opened."""

    def __init__(self, url: str, per_host: int, poll: float = 0.05) -> None:
        self._url = url
        self._conn = _session(url)
        self._lock = asyncio.Lock()  # one statement at a time on the session
        self.per_host = max(1, per_host)
        self.poll = poll
        self._held: set[tuple[str, int]] = set()  # this process's slots in this session

    def _take(self, host: str) -> tuple[int, Any] | None:
        import psycopg

        if self._conn.closed:  # ended by the server: no slot is held any more
            self._held.clear()
            self._conn = _session(self._url)
        session = self._conn
        for slot in range(self.per_host):
            if (host, slot) in self._held:  # a session may take its own lock again
                continue
            try:
                row = session.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s), %s)",
                    (f"newsmirror-host:{host}", slot),
                ).fetchone()
            except psycopg.OperationalError:
                if session.closed:
                    return None  # the next try opens a new session
                raise
            if row and row[0]:
                self._held.add((host, slot))
                return slot, session
        return None

    @contextlib.asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[None]:
        import psycopg

        while True:
            async with self._lock:
                taken = self._take(host)
            if taken is not None:
                break
            await asyncio.sleep(self.poll)
        slot, session = taken
        try:
            yield
        finally:
            async with self._lock:
                if session is self._conn:  # else it ended, and its locks with it
                    self._held.discard((host, slot))
                    with contextlib.suppress(psycopg.OperationalError):
                        session.execute(
                            "SELECT pg_advisory_unlock(hashtext(%s), %s)",
                            (f"newsmirror-host:{host}", slot),
                        )

    def close(self) -> None:
        self._conn.close()


# -- the jobs ---------------------------------------------------------------------


async def feed_job(source: str, url: str) -> None:
    """Fetch, parse and store one feed; queue its pages and images."""
    from newsmirror.feedrun import handle_feed

    state = _state()
    src = state.sources.get(source)
    if src is None or url not in src.feeds:
        log.warning("feed %s of %s is no longer configured", url, source)
        return
    await handle_feed(state.archive, state.fetcher, src, url)
    state.done.jobs[FEEDS] += 1
    await _queue_follow_ups(state, [source])


async def page_job(article_id: int) -> None:
    """Fetch one article's page and store its text."""
    from newsmirror.fulltext import fill_pages

    state = _state()
    task = state.archive.page_task(article_id)
    if task is None:  # done meanwhile, or removed
        return
    if state.budget is not None and state.budget.spent():
        state.done.pages.deferred += 1  # still marked: the next feed job queues it again
        return
    _add(state.done.pages, await fill_pages(state.archive, state.fetcher, state.config, [task]))
    state.done.jobs[PAGES] += 1
    await _queue_images(state)


async def images_job(article_id: int, url: str) -> None:
    """Mirror one image of an article."""
    from newsmirror.media import mirror_images

    state = _state()
    config = state.config
    if state.budget is not None and state.budget.spent():
        state.done.media.deferred += 1
        return
    done = await mirror_images(
        state.archive,
        state.fetcher,
        config.media,
        config.media_dir,
        article_id=article_id,
        url=url,
    )
    _add(state.done.media, done)
    state.done.jobs[IMAGES] += 1


async def _queue_follow_ups(state: WorkerState, sources: list[str]) -> None:
    tasks = state.archive.pending_pages(state.config.content.max_pages, sources)
    for task in tasks:
        await _defer(PAGES, {"article_id": task.article_id}, f"page:{task.article_id}")
    await _queue_images(state)


async def _queue_images(state: WorkerState) -> None:
    """Queue the images never tried (of new and changed articles); images that failed
    are tried again by ``schedule`` (:func:`queue_images` with ``retries``), once per
    call, as ``run`` tries them once per run."""
    await queue_images(state.config, state.archive, retries=False)


async def queue_images(config: Config, archive: Archive, *, retries: bool) -> int:
    """Queue an ``images`` job per image to mirror (an article and a URL): those of the
    articles scanned now (new and changed ones), or with ``retries`` every image not yet
    mirrored that failed fewer than ``[media] retries`` times (and any a dead worker
    scanned but did not queue)."""
    if config.media.mode != "mirror":
        return 0
    from newsmirror.media import image_urls

    limit = config.media.max_per_article
    scanned: list[int] = []
    archive.scan_images(lambda content: image_urls(content, limit), scanned=scanned)
    if retries:
        pending = archive.pending_images(max_attempts=config.media.retries)
    else:  # a feed or page job: only its own articles, not the whole archive again
        pending = [
            task
            for article_id in scanned
            for task in archive.pending_images(max_attempts=1, article_id=article_id)
        ]
    queued = 0
    for task in sorted(pending, key=lambda t: (t.article_id, t.url)):
        args = {"article_id": task.article_id, "url": task.url}
        key = hashlib.sha1(task.url.encode("utf-8", "surrogatepass")).hexdigest()
        queued += await _defer(IMAGES, args, f"image:{task.article_id}|{key}")
    return queued


# -- the queue ----------------------------------------------------------------------

_APP: list[procrastinate.App] = []
_LEDGER = JobLedger()  # the runs of jobs in this process (:func:`recover_orphans`)


def queue_conninfo(archive: Archive, url: str) -> str:
    """``url`` with its search_path cut down to the archive's own schema: a queue found
    further along the path (``mirror2,public`` with an archive in public) is another
    archive's, and its functions would make procrastinate's calls ambiguous."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    schema = str(archive.conn.execute("SELECT quote_ident(current_schema())").fetchone()[0])
    given = str(conninfo_to_dict(url).get("options") or "")
    escaped = schema.replace("\\", "\\\\").replace(" ", "\\ ")
    return make_conninfo(url, options=f"{given} -csearch_path={escaped}".strip())


def queue_app(archive: Archive, url: str) -> procrastinate.App:
    """The procrastinate app of the archive at ``url``, with newsmirror's jobs."""
    import procrastinate

    connector = procrastinate.PsycopgConnector(conninfo=queue_conninfo(archive, url))
    app = procrastinate.App(connector=connector)
    # A lost database session (sqlite3.OperationalError through the dialect) is retried
    # too: the next attempt runs on a new one (_reconnect_if_lost).
    retry = procrastinate.RetryStrategy(
        max_attempts=5, wait=5, retry_exceptions={ArchiveError, sqlite3.OperationalError}
    )
    for name, job in ((FEEDS, feed_job), (PAGES, page_job), (IMAGES, images_job)):
        app.task(name=name, queue=name, retry=retry, pass_context=True)(_LEDGER.track(job))
    _APP[:] = [app]
    return app


async def _defer(task: str, kwargs: dict[str, Any], lock: str) -> bool:
    """Queue a job unless one with the same lock waits already; True if queued."""
    import procrastinate.exceptions

    try:
        await _APP[-1].configure_task(task, queueing_lock=lock).defer_async(**kwargs)
    except procrastinate.exceptions.AlreadyEnqueued:
        return False
    return True


def ensure_queue_schema(archive: Archive) -> None:
    """Create procrastinate's tables in the archive's schema unless they exist (under
    the archive's write lock, so that workers starting together create them once).
    Looked up in the archive's own schema: one found further along the search_path is
    another archive's queue."""
    from procrastinate import schema

    with archive.transaction() as conn:
        row = conn.execute(
            "SELECT to_regclass(quote_ident(current_schema()) || '.procrastinate_jobs') IS NOT NULL"
        ).fetchone()
        if not row[0]:
            conn.execute(schema.SchemaManager.get_schema())


async def queue_feeds(app: procrastinate.App, feeds: Iterable[tuple[str, str]]) -> int:
    """Queue a ``feed`` job for each (source, url) not queued already; how many."""
    _APP[:] = [app]
    queued = 0
    for source, url in feeds:
        queued += await _defer(FEEDS, {"source": source, "url": url}, f"feed:{source}|{url}")
    return queued


async def recover_stalled(app: procrastinate.App, after: float = STALLED_AFTER) -> int:
    """Give the jobs of workers silent for ``after`` seconds back to the queue."""
    manager = app.job_manager
    stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=after))
    for job in stalled:
        await manager.retry_job(job)
    return len(stalled)


async def recover_orphans(
    app: procrastinate.App, ledger: JobLedger = _LEDGER, grace: float = STALLED_AFTER
) -> int:
    """Give back to the queue the jobs this process ran that ended ``grace`` seconds
    ago and are still ``doing`` at the attempt it ran: procrastinate could not mark
    them (the database ended its session then), and no other worker would take them
    while this one sends heartbeats (:mod:`newsmirror.jobledger`)."""
    import time
    from datetime import UTC, datetime

    due = ledger.due(time.monotonic(), grace)
    if not due:
        return 0
    rows = await app.connector.execute_query_all_async(
        "SELECT id, attempts FROM procrastinate_jobs WHERE status = 'doing' AND id = ANY(%(ids)s)",
        ids=[job_id for job_id, _ in due],
    )
    doing = {(int(row["id"]), int(row["attempts"])) for row in rows}
    given = 0
    for run in due:
        if run in doing:
            await app.job_manager.retry_job_by_id_async(run[0], retry_at=datetime.now(UTC))
            given += 1
        ledger.forget([run])
    return given


async def _recover_forever(app: procrastinate.App, after: float) -> None:
    rounds: tuple[tuple[Callable[[], Awaitable[int]], str], ...] = (
        (lambda: recover_stalled(app, after), "jobs of a silent worker"),
        (lambda: recover_orphans(app, grace=after), "jobs left unmarked by a lost session"),
    )
    while True:
        for recover, what in rounds:  # each on its own: one failing leaves the other
            try:
                count = await recover()
                if count:
                    log.warning("gave %d %s back to the queue", count, what)
            except Exception as exc:  # the next round tries again; the worker goes on
                log.warning("could not look for %s: %s", what, exc)
        await asyncio.sleep(max(1.0, after / 3))


async def _has_todo(app: procrastinate.App) -> bool:
    return bool((await queue_counts(app))["todo"])


async def queue_counts(app: procrastinate.App) -> dict[str, int]:
    """How many jobs wait (todo, due now: not a retry set for later) and run (doing)."""
    rows = await app.connector.execute_query_all_async(
        "SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs"
        " WHERE status = 'doing' OR (status = 'todo'"
        " AND (scheduled_at IS NULL OR scheduled_at <= now())) GROUP BY status"
    )
    counts = {"todo": 0, "doing": 0}
    counts.update({row["status"]: int(row["n"]) for row in rows})
    return counts


async def work(
    config: Config,
    archive: Archive,
    url: str,
    *,
    until_idle: bool = False,
    heartbeat: float = HEARTBEAT,
    stalled_after: float = STALLED_AFTER,
    name: str | None = None,
    budget: Budget | None = None,
    concurrency: int | None = None,
) -> WorkDone:
    """Run a worker on the archive's queue until stopped (SIGINT/SIGTERM), or until the
    queue is empty with ``until_idle``, through the database's restarts
    (:mod:`newsmirror.workerloop`); return what it did. It runs up to
    ``concurrency`` jobs at once (default: ``[fetch] concurrency``): they wait on the
    network together, and each archive call runs whole (none awaits inside a
    transaction), so they share one connection."""
    from newsmirror.fetch import Fetcher

    app = queue_app(archive, url)
    slots = HostSlots(url, config.fetch.per_host)
    try:
        async with Fetcher(config.fetch, host_slot=slots.slot) as fetcher, app.open_async():
            sources = {s.name: s for s in config.sources}
            state = WorkerState(config, archive, fetcher, sources, budget, url=url)
            _STATE.append(state)
            recovering = asyncio.create_task(_recover_forever(app, stalled_after))
            try:
                await keep_working(
                    lambda: app.run_worker_async(
                        wait=not until_idle,
                        concurrency=concurrency or config.fetch.concurrency,
                        name=name or "newsmirror",
                        update_heartbeat_interval=heartbeat,
                        stalled_worker_timeout=stalled_after,
                        delete_jobs="successful",
                        install_signal_handlers=False,
                        listen_notify=True,
                        fetch_job_polling_interval=1.0,
                    ),
                    until_idle=until_idle,
                    has_todo=lambda: _has_todo(app),
                    handle_signals=not until_idle,
                )
            finally:
                recovering.cancel()
                _STATE.remove(state)
            return state.done
    finally:
        slots.close()


# -- `run --queue` ----------------------------------------------------------------


def update_by_queue(
    config: Config,
    archive: Archive,
    url: str,
    names: list[str] | None = None,
    *,
    budget: Budget | None = None,
) -> RunSummary:
    """``run``'s fetch step through the queue: queue every chosen feed, work the queue in
    this process until it is empty (other workers help), wait for the jobs others are
    still doing, and sum up what the feeds did since the start."""
    from newsmirror.pipeline import select_sources
    from newsmirror.timeutil import now_utc

    archive.sync_sources(config.sources)
    sources = select_sources(config, names)
    started = now_utc()
    ensure_queue_schema(archive)

    async def go() -> WorkDone:
        app = queue_app(archive, url)
        async with app.open_async():
            await queue_feeds(app, [(s.name, u) for s in sources for u in s.feeds])
        done = WorkDone()
        while True:
            _merge(done, await work(config, archive, url, until_idle=True, budget=budget))
            if not await _wait_for_others(archive, url, budget):
                return done

    done = asyncio.run(go())
    return summary_since(archive, sources, started, done)


async def _wait_for_others(archive: Archive, url: str, budget: Budget | None) -> bool:
    """Wait while other workers do jobs, until none is left or the budget is spent;
    True when jobs wait in the queue again (queued by theirs, or a silent worker's
    given back) for this process to do."""
    app = queue_app(archive, url)
    async with app.open_async():
        while not (budget is not None and budget.spent()):
            recovered = await recover_stalled(app)
            counts = await queue_counts(app)
            if recovered or counts["todo"]:
                return True
            if not counts["doing"]:
                break
            await asyncio.sleep(0.5)
    return False


def _merge(total: WorkDone, part: WorkDone) -> None:
    for kind, count in part.jobs.items():
        total.jobs[kind] += count
    _add(total.pages, part.pages)
    _add(total.media, part.media)


def summary_since(
    archive: Archive, sources: list[Source], started: Any, done: WorkDone
) -> RunSummary:
    """A run's summary made from the fetch log since ``started``."""
    from newsmirror.pipeline import RunSummary, SourceResult

    results = {s.name: SourceResult(s.name, feeds=len(s.feeds)) for s in sources}
    for source, feed, outcome, new, updated, error in archive.fetches_since(started):
        result = results.get(source)
        if result is None:
            continue
        if outcome == "ok":
            result.ok += 1
            result.new += new
            result.updated += updated
        elif outcome == "not_modified":
            result.not_modified += 1
        else:
            result.failed += 1
            result.errors.append(f"{feed}: {error or outcome}")
    return RunSummary(list(results.values()), done.pages, done.media)
