"""Commands for archives past one machine: ``worker``, ``schedule`` and
``migrate-archive`` (see :mod:`newsmirror.jobqueue` and :mod:`newsmirror.store.transfer`)."""

from __future__ import annotations

from pathlib import Path

import click

from newsmirror.clibase import Context, echo, handle_errors, pass_ctx
from newsmirror.config import Config, is_postgres_url, shown_url
from newsmirror.errors import ArchiveError, ConfigError
from newsmirror.store import Archive


def queue_url(config: Config) -> str:
    location = config.archive_location
    if not isinstance(location, str):
        raise ConfigError(
            "the job queue needs an archive on PostgreSQL",
            hint='Set [archive] url = "postgresql://…" or NEWSMIRROR_ARCHIVE_URL (README,'
            " PostgreSQL and workers); `newsmirror run` needs no queue.",
        )
    from newsmirror.store.postgres import need_extra

    need_extra("procrastinate")
    return location


@click.command("worker")
@click.option("--until-idle", is_flag=True, help="Stop once the queue is empty.")
@click.option("--name", default="", help="The worker's name in the queue (default: its host).")
@click.option(
    "--stalled-after",
    type=click.FloatRange(2, 3600),
    default=30.0,
    show_default=True,
    help="Seconds without a heartbeat after which a worker counts as dead and its jobs"
    " go back to the queue.",
)
@pass_ctx
@handle_errors
def worker_command(ctx: Context, until_idle: bool, name: str, stalled_after: float) -> None:
    """Work the archive's job queue: fetch feeds, pages and images as they are queued.

    Start as many as you like, on as many machines as you like, all with the same
    PostgreSQL archive. A worker killed at any moment loses nothing: its jobs go back
    to the queue once it has been silent for --stalled-after seconds.

    \b
    Examples:
      NEWSMIRROR_ARCHIVE_URL=postgresql://mirror@db/news newsmirror worker
      newsmirror worker --until-idle
    """
    import asyncio
    import logging
    import socket

    from newsmirror.jobqueue import ensure_queue_schema, work

    config = ctx.config(sources=True)
    url = queue_url(config)
    logging.basicConfig(level=logging.WARNING, format="worker: %(message)s")
    with ctx.archive(create=True, lock=False, path=url) as archive:
        ensure_queue_schema(archive)
        done = asyncio.run(
            work(
                config,
                archive,
                url,
                until_idle=until_idle,
                heartbeat=max(1.0, stalled_after / 6),
                stalled_after=stalled_after,
                name=name or socket.gethostname(),
            )
        )
    jobs = done.jobs
    echo(f"worker done: {jobs['feeds']} feeds, {jobs['pages']} pages, {jobs['images']} images")


@click.command("schedule")
@click.option("--all", "every", is_flag=True, help="Queue every enabled feed, due or not.")
@pass_ctx
@handle_errors
def schedule_command(ctx: Context, every: bool) -> None:
    """Queue the feeds that are due for the workers.

    A source is due every `interval` minutes ([[sources]] interval, 60 by default); one
    that keeps failing waits twice as long after each failure, up to 32 times. A feed
    already waiting in the queue is not queued again. Run it from cron or a timer every
    few minutes.

    \b
    Examples:
      newsmirror schedule
      newsmirror schedule --all
    """
    import asyncio

    from newsmirror.duejobs import due_feeds
    from newsmirror.jobqueue import ensure_queue_schema, queue_app, queue_feeds, queue_images
    from newsmirror.timeutil import now_utc

    config = ctx.config(sources=True)
    url = queue_url(config)
    with ctx.archive(create=True, lock=False, path=url) as archive:
        archive.sync_sources(config.sources)
        ensure_queue_schema(archive)
        health = {h.name: h for h in archive.health()}
        if every:
            feeds = [(s.name, u) for s in config.sources if s.enabled for u in s.feeds]
        else:
            feeds = due_feeds(config.sources, health, now_utc())

        async def queue() -> tuple[int, int]:
            app = queue_app(archive, url)
            async with app.open_async():
                feeds_queued = await queue_feeds(app, feeds)
                return feeds_queued, await queue_images(config, archive, retries=True)

        queued, images = asyncio.run(queue())
    echo(f"queued {queued} feeds ({len(feeds)} due, {len(feeds) - queued} waiting already)")
    if images:
        echo(f"queued {images} images to try again")


def _location(text: str) -> Path | str:
    return text if is_postgres_url(text) else Path(text)


def _shown(location: Path | str) -> str:
    return shown_url(location) if isinstance(location, str) else str(location)


@click.command("migrate-archive")
@click.argument("source")
@click.argument("target")
@pass_ctx
@handle_errors
def migrate_archive_command(ctx: Context, source: str, target: str) -> None:
    """Copy the whole archive SOURCE into the new, empty archive TARGET.

    Each is a SQLite file or a postgresql:// URL. Articles, revisions, export state,
    fetch log, runs and images are copied with their ids, so the copy exports the same
    files; the search index is rebuilt on the next search. SOURCE is not changed (an
    archive of an older newsmirror is first brought to this version, as any command does).
    Images are beside a SQLite file, and in the config's media folder for PostgreSQL.

    \b
    Examples:
      newsmirror migrate-archive archive.sqlite postgresql://mirror@db/news
      newsmirror migrate-archive postgresql://mirror@db/news backup.sqlite
    """
    from newsmirror.store.transfer import copy_archive

    src, dst = _location(source), _location(target)
    if isinstance(src, Path) and src.is_file() and src.stat().st_size == 0:
        raise ArchiveError(
            f"{src} is an empty file, not an archive", hint="Name the archive to copy from."
        )
    shared = ctx.media_dir()  # a PostgreSQL archive's images
    src_media = src.parent / "media" if isinstance(src, Path) else shared
    dst_media = dst.parent / "media" if isinstance(dst, Path) else shared
    with (
        Archive.open(src, create=False, media_dir=src_media) as old,
        Archive.open(dst, create=True, media_dir=dst_media) as new,
    ):
        summary = copy_archive(old, new)
    rows = ", ".join(f"{n} {t}" for t, n in summary.rows.items() if n)
    echo(f"copied {_shown(src)} to {_shown(dst)}: {rows or 'no rows'}")
    if summary.media_files:
        echo(f"copied {summary.media_files} image files")
