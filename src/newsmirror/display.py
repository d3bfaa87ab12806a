"""What a run shows on stderr while it works.

On a terminal: a live display (rich, imported only then) with a bar for the feeds
and counters for pages, images and the outputs. Elsewhere (cron mail, CI logs,
``2> run.log``): with ``plain`` one plain line per event, as it happens, never
wrapped to a width; without it nothing but the per-source lines of ``-v``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

STAGES = ("feed", "page", "image", "output", "target")


def source_line(outcome: Any) -> str:
    """One source's result: ``name: status, N new, M updated (errors)``."""
    line = f"{outcome.name}: {outcome.status}, {outcome.new} new, {outcome.updated} updated"
    if outcome.errors:
        line += f" ({'; '.join(outcome.errors)})"
    return line


class Display:
    """Hears of feeds (``feed``: the pipeline's per-feed callback) and of pages, images,
    outputs and targets (``event``), and shows them."""

    def __init__(self, total_feeds: int, verbose: bool, plain: bool) -> None:
        self.total_feeds = total_feeds
        self.verbose = verbose
        self.plain = plain
        self.counts = dict.fromkeys(STAGES, 0)
        self._show: Callable[[str, str], None] = self._line
        self._advance: Callable[[str], None] = lambda _stage: None

    def _line(self, stage: str, text: str) -> None:
        click.echo(f"{stage} {text}".replace("\n", " "), err=True)

    def feed(self, outcome: Any, url: str, status: str) -> None:
        self.counts["feed"] += 1
        self._advance("feed")
        if self.plain:
            done = f"{self.counts['feed']}/{self.total_feeds}"
            self._show("feed", f"{done} {outcome.name}: {status} {url}")
        source_done = outcome.ok + outcome.not_modified + outcome.failed == outcome.feeds
        if self.verbose and source_done:
            self._show("source", source_line(outcome))

    def event(self, stage: str, text: str) -> None:
        self.counts[stage] = self.counts.get(stage, 0) + 1
        self._advance(stage)
        if self.plain:
            self._show(stage, f"{self.counts[stage]} {text}")


@contextmanager
def run_display(total_feeds: int, *, verbose: bool, plain: bool) -> Iterator[Display]:
    """A :class:`Display` for one run: live on a terminal, else plain lines (``plain``)."""
    display = Display(total_feeds, verbose, plain)
    if not sys.stderr.isatty():
        yield display
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        tasks = {"feed": progress.add_task("feeds", total=total_feeds)}

        def advance(stage: str) -> None:
            if stage not in tasks:  # pages, images, outputs: counted as they come
                tasks[stage] = progress.add_task(f"{stage}s", total=None)
            progress.advance(tasks[stage])

        def show(stage: str, text: str) -> None:
            if stage == "source" or stage in ("output", "target"):
                progress.console.print(f"{stage} {text}", markup=False, highlight=False)

        display._advance = advance
        display._show = show
        display.plain = True  # every event reaches show(), which prints the lasting ones
        yield display
