"""Which feeds are due: the decision behind ``newsmirror schedule``, without I/O.

A source is fetched every ``interval`` minutes (``[[sources]] interval``, 60 by
default). A source that keeps failing backs off: after ``n`` failures in a row it waits
``interval * 2**n`` minutes, at most :data:`MAX_BACKOFF` times its interval and never
more than a week, so a blocked or dead outlet costs the workers little, and one that
comes back is tried again within a day or so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from newsmirror.config import Source
from newsmirror.models import SourceHealth
from newsmirror.timeutil import from_iso

MAX_BACKOFF = 32  # times a source's interval
MAX_WAIT = timedelta(days=7)


def wait_after(source: Source, failures: int) -> timedelta:
    """How long ``source`` waits after its last attempt, given its failures in a row."""
    factor = min(2 ** min(max(failures, 0), 16), MAX_BACKOFF)
    return min(timedelta(minutes=source.interval * factor), MAX_WAIT)


def is_due(source: Source, health: SourceHealth | None, now: datetime) -> bool:
    """Whether ``source`` is to be fetched at ``now``: enabled, and never tried or
    tried longer ago than :func:`wait_after` says."""
    if not source.enabled:
        return False
    if health is None or not health.last_attempt:
        return True
    last = from_iso(health.last_attempt)
    return now - last >= wait_after(source, health.consecutive_failures)


def due_feeds(
    sources: Iterable[Source], health: Mapping[str, SourceHealth], now: datetime
) -> list[tuple[str, str]]:
    """(source name, feed URL) of every feed of every due source, in config order."""
    return [
        (source.name, url)
        for source in sources
        if is_due(source, health.get(source.name), now)
        for url in source.feeds
    ]
