"""What the page and image steps of a run did (counts and reasons), kept apart from
those steps so that a run with nothing to do for them need not import them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PageSummary:
    fetched: int = 0
    extracted: int = 0
    kept_feed: int = 0
    changed: int = 0
    gone: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"pages: {self.fetched} fetched, {self.extracted} full texts "
            f"({self.changed} changed), {self.kept_feed} kept the feed's text, "
            f"{self.gone} gone at origin, {self.failed} failed"
        )


@dataclass
class MediaSummary:
    stored: int = 0
    reused: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"images: {self.stored} mirrored, {self.reused} reused, {self.failed} failed"
