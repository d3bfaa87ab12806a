"""What a run shows on stderr while it works.

On a terminal: a live display (rich, imported only then) with a bar for the feeds
and counters for pages, images and the outputs. Elsewhere (cron mail, CI logs,
``2> run.log``): with ``plain`` one plain line per event, as it happens, never
wrapped to a width; without it nothing but the per-source lines of ``-v``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from newsmirror.clibase import shown

STAGES = ("feed", "page", "image", "output", "target")


def source_line(outcome: Any) -> str:
    """One source's result: ``name: status, N new, M updated (errors)``."""
    line = f"{outcome.name}: {outcome.status}, {outcome.new} new, {outcome.updated} updated"
    if outcome.errors:
        line += f" ({'; '.join(outcome.errors)})"
    return line


def one_line(text: str) -> str:
    """An event's text (names, URLs and errors from outside) as one line for a terminal."""
    return shown(" ".join(text.split()))


class Display:
    """Hears of feeds (``feed``: the pipeline's per-feed callback) and of pages, images,
    outputs and targets (``event``); without a terminal, with ``plain``, one line each."""

    def __init__(self, total_feeds: int, verbose: bool, plain: bool) -> None:
        self.total_feeds = total_feeds
        self.verbose = verbose
        self.plain = plain
        self.counts = dict.fromkeys(STAGES, 0)

    def show(self, stage: str, text: str) -> None:
        click.echo(f"{stage} {one_line(text)}", err=True)

    def advance(self, stage: str) -> None:
        self.counts[stage] = self.counts.get(stage, 0) + 1

    def feed(self, outcome: Any, url: str, status: str) -> None:
        self.advance("feed")
        if self.plain:
            done = f"{self.counts['feed']}/{self.total_feeds}"
            self.show("feed", f"{done} {outcome.name}: {status} {url}")
        source_done = outcome.ok + outcome.not_modified + outcome.failed == outcome.feeds
        if self.verbose and source_done:
            self.show("source", source_line(outcome))

    def event(self, stage: str, text: str) -> None:
        self.advance(stage)
        if self.plain:
            self.show(stage, f"{self.counts[stage]} {text}")


class LiveDisplay(Display):
    """On a terminal: a bar for the feeds, counters for the rest (rich); only the lasting
    lines (per source with -v, outputs, targets) are printed above them."""

    def __init__(self, total_feeds: int, verbose: bool, progress: Any) -> None:
        super().__init__(total_feeds, verbose, plain=True)
        self.progress = progress
        self.tasks = {"feed": progress.add_task("feeds", total=total_feeds)} if total_feeds else {}

    def advance(self, stage: str) -> None:
        super().advance(stage)
        if stage not in self.tasks:  # pages, images, outputs: counted as they come
            self.tasks[stage] = self.progress.add_task(f"{stage}s", total=None)
        self.progress.advance(self.tasks[stage])

    def show(self, stage: str, text: str) -> None:
        if stage in ("source", "output", "target"):  # as text: no markup, no :emoji: codes
            line = f"{stage} {one_line(text)}"
            self.progress.console.print(line, markup=False, highlight=False, emoji=False)


@contextmanager
def run_display(total_feeds: int, *, verbose: bool, plain: bool) -> Iterator[Display]:
    """A :class:`Display` for one run: live on a terminal, else plain lines (``plain``)."""
    if not sys.stderr.isatty():
        yield Display(total_feeds, verbose, plain)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield LiveDisplay(total_feeds, verbose, progress)
