"""Read-only figures for the site's status page: when the mirror last got news, and how
many articles each source published per day."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from newsmirror.timeutil import from_iso


class StatsMixin:
    conn: sqlite3.Connection

    def last_updated(self) -> str | None:
        """The newest time (UTC ISO) the archive took in news: an article stored, changed
        or imported. None for an empty archive.

        A fetch that brings nothing new is no update (and leaves the published site as
        it was: an idle run writes no file); failed fetches do not count either."""
        row = self.conn.execute("SELECT max(updated), max(first_seen) FROM articles").fetchone()
        return max(row[0] or "", row[1] or "") or None

    def articles_per_day(
        self, start: str, end: str, offset_hours: int = 8
    ) -> dict[str, dict[str, int]]:
        """Articles published from ``start`` (inclusive) to ``end`` (exclusive), both UTC
        ISO strings, counted per source and per day (``YYYY-MM-DD``) in the zone
        ``offset_hours`` east of UTC: {source: {day: count}}. Sources without such
        articles are left out."""
        rows = self.conn.execute(
            "SELECT s.name, a.published FROM articles a JOIN sources s ON s.id = a.source_id"
            " WHERE a.published >= ? AND a.published < ?",
            (start, end),
        )
        shift = timedelta(hours=offset_hours)
        out: dict[str, dict[str, int]] = {}
        for name, published in rows:
            day = (from_iso(published) + shift).date().isoformat()
            counts = out.setdefault(name, {})
            counts[day] = counts.get(day, 0) + 1
        return out
