"""The fetching commands: ``fetch`` (into the archive) and ``run`` (the scheduled job:
fetch, outputs, targets)."""

from __future__ import annotations

import os
import shlex
import sys

import click

from newsmirror.clibase import Context, echo, handle_errors, json_text, pass_ctx
from newsmirror.clijobs import queue_url
from newsmirror.config import Config, Source
from newsmirror.display import run_display
from newsmirror.errors import EXIT_SOURCES_FAILED, ConfigError


@click.command()
@click.option("-s", "--source", "names", multiple=True, help="Only this source (repeatable).")
@click.option("-v", "--verbose", is_flag=True, help="One line per source as it is done.")
@pass_ctx
@handle_errors
def fetch(ctx: Context, names: tuple[str, ...], verbose: bool) -> None:
    """Fetch the sources' feeds into the archive.

    Exit code 0: all sources ok; 1: some sources failed (see `newsmirror sources`);
    3: bad config or no sources; 4: archive unusable; 6: another run holds the archive.

    \b
    Examples:
      newsmirror fetch
      newsmirror fetch -s 大纪元 -v
    """
    from newsmirror.pipeline import select_sources, update

    config = ctx.config(sources=True)
    chosen = select_sources(config, list(names))
    _refuse_demo_sources(config, chosen)
    total = sum(len(s.feeds) for s in chosen)
    with (
        ctx.archive(create=True, path=config.archive_location) as archive,
        run_display(total, verbose=verbose, plain=False) as display,
    ):
        summary = update(config, archive, list(names) or None, progress=display.feed)
    for result in summary.sources:
        for message in result.errors:
            echo(f"failed: {result.name}: {message}", err=True)
    if verbose and summary.fallbacks:
        feeds = "feed" if summary.fallbacks == 1 else "feeds"
        click.echo(f"{summary.fallbacks} {feeds} read by feedparser (fastfeedparser could not)")
    click.echo(summary.line())
    if summary.any_failed:
        sys.exit(EXIT_SOURCES_FAILED)


@click.command()
@click.option("-s", "--source", "names", multiple=True, help="Only this source (repeatable).")
@click.option("-v", "--verbose", is_flag=True, help="One line per source as it is done.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's report as JSON.")
@click.option(
    "--max-minutes",
    type=click.FloatRange(min=0.1, max=7 * 24 * 60),  # a week at most
    default=None,
    callback=lambda _ctx, _param, value: _finite(value),
    help="Time budget: no page or image is started after 3/4 of it (the rest wait for "
    "the next run); the outputs are always written.",
)
@click.option(
    "--queue",
    "use_queue",
    is_flag=True,
    help="Fetch through the PostgreSQL archive's job queue, with any workers running"
    " (README, PostgreSQL and workers), instead of in this process.",
)
@pass_ctx
@handle_errors
def run(
    ctx: Context,
    names: tuple[str, ...],
    verbose: bool,
    as_json: bool,
    max_minutes: float | None,
    use_queue: bool,
) -> None:
    """Fetch, then write every output [publish] names: the scheduled job.

    One command for cron, systemd or CI: it holds the archive's lock, fetches the
    feeds, pages and images, then updates the Jekyll tree ([publish.jekyll]) and the
    static site ([publish.site]). An output that fails is reported and the others
    are still written.

    On a terminal it shows a live display; elsewhere (cron, CI) one line per
    event on stderr (each feed, page, image and output).

    Exit code 0: all well; 1: some sources failed; 5: an output failed; 7: a
    publish target failed; 3: bad config; 4: archive unusable; 6: another run
    holds the archive.

    \b
    Examples:
      newsmirror run
      newsmirror run --max-minutes 50 --json > report.json   # a CI job's hour
    """
    from newsmirror.pipeline import select_sources
    from newsmirror.runjob import run_job
    from newsmirror.summaries import Budget

    config = ctx.config(sources=True)
    if not config.publish.outputs:
        click.echo(
            "note: [publish] names no output; only the archive is updated "
            "(add [publish.site] or [publish.jekyll] with a path)",
            err=True,
        )
    chosen = select_sources(config, list(names))
    _refuse_demo_sources(config, chosen)
    total = sum(len(s.feeds) for s in chosen)
    budget = Budget.minutes(max_minutes)
    with (
        ctx.archive(create=True, path=config.archive_location) as archive,
        run_display(total, verbose=verbose, plain=True) as display,
    ):
        report = run_job(
            config,
            archive,
            ctx.output,
            names=list(names) or None,
            progress=display.feed,
            events=display.event,
            budget=budget,
            queue=queue_url(config) if use_queue else None,
        )
        archive.record_job(report.as_dict())
    for result in report.fetch.sources:
        for message in result.errors:
            echo(f"failed: {result.name}: {message}", err=True)
    if as_json:
        click.echo(json_text(report.as_dict()))
    else:
        echo("\n".join(report.lines()))
    sys.exit(report.exit_code)


def this_program() -> str:
    """How the user started newsmirror, to repeat in a hint (.venv/bin/newsmirror, …)."""
    program = sys.argv[0]
    if program.endswith("__main__.py"):
        return f"{shlex.quote(sys.executable)} -m newsmirror"
    return shlex.quote(program) if os.sep in program else "newsmirror"


def _finite(value: float | None) -> float | None:
    if value is not None and value != value:  # nan passes every range check
        raise click.BadParameter("must be a number of minutes")
    return value


def _refuse_demo_sources(config: Config, chosen: list[Source]) -> None:
    from newsmirror.demo.host import is_demo_config

    if is_demo_config([url for source in chosen for url in source.feeds]):
        raise ConfigError(
            "these are the demo's sources: its feeds are served only while `newsmirror demo` runs",
            path=str(config.path),
            hint="Run `newsmirror demo` again, or `newsmirror init DIR` for real outlets.",
        )
