"""What a run did (per source, and what the page and image steps did: counts and
reasons), kept apart from those steps so that a run with nothing to do for them need not
import them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Progress events of a run: (stage, one line), e.g. ("page", "https://…: full text").
# Stages: "page", "image", and in `run` "output" and "target".
Events = Callable[[str, str], None]


@dataclass(frozen=True)
class Budget:
    """When a run stops starting page and image work (``run --max-minutes``): a moment on
    the monotonic clock, or None for no limit. Work already started finishes."""

    deadline: float | None = None

    @classmethod
    def minutes(cls, minutes: float | None, *, share: float = 0.75) -> Budget:
        """A budget of ``minutes`` of which ``share`` may go to pages and images (the rest
        is kept for writing and publishing the outputs)."""
        if minutes is None:
            return cls()
        return cls(time.monotonic() + minutes * 60 * share)

    def spent(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


@dataclass
class PageSummary:
    fetched: int = 0
    extracted: int = 0
    kept_feed: int = 0
    changed: int = 0
    gone: int = 0
    failed: int = 0
    deferred: int = 0  # not started: the run's time budget was spent
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"pages: {self.fetched} fetched, {self.extracted} full texts "
            f"({self.changed} changed), {self.kept_feed} kept the feed's text, "
            f"{self.gone} gone at origin, {self.failed} failed"
            + (f", {self.deferred} left for the next run (time budget)" if self.deferred else "")
        )


@dataclass
class MediaSummary:
    stored: int = 0
    reused: int = 0
    failed: int = 0
    deferred: int = 0  # not started: the run's time budget was spent
    errors: list[str] = field(default_factory=list)

    def absorb(self, other: MediaSummary) -> None:
        """Count ``other``'s images here too."""
        self.stored += other.stored
        self.reused += other.reused
        self.failed += other.failed
        self.deferred += other.deferred
        self.errors += other.errors

    def line(self) -> str:
        return f"images: {self.stored} mirrored, {self.reused} reused, {self.failed} failed" + (
            f", {self.deferred} left for the next run (time budget)" if self.deferred else ""
        )


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
            f"{len(self.sources)} source{'' if len(self.sources) == 1 else 's'}: "
            f"{self.count('ok')} ok, "
            f"{self.count('not_modified')} not modified, {self.count('partial')} partial, "
            f"{self.count('failed')} failed; {self.new} new, {self.updated} updated articles"
            + (f"; {self.pages.line()}" if self.pages.fetched or self.pages.failed else "")
            + (f"; {self.media.line()}" if self.media.stored or self.media.failed else "")
            + (f"; {self.deferred_line()}" if self.pages.deferred or self.media.deferred else "")
        )


ProgressCallback = Callable[[SourceResult, str, str], None]
