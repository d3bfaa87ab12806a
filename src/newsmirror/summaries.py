"""What the page and image steps of a run did (counts and reasons), kept apart from
those steps so that a run with nothing to do for them need not import them."""

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

    def line(self) -> str:
        return f"images: {self.stored} mirrored, {self.reused} reused, {self.failed} failed" + (
            f", {self.deferred} left for the next run (time budget)" if self.deferred else ""
        )
