"""Bookkeeping of what each export target holds: which file each article was written to."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager

from newsmirror.models import ExportRecord


class ExportStateMixin:
    conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def export_records(self, target: str) -> dict[int, ExportRecord]:
        rows = self.conn.execute(
            "SELECT article_id, path, version, size, media_rev FROM exports WHERE target = ?",
            (target,),
        ).fetchall()
        return {r[0]: ExportRecord(*r) for r in rows}

    def save_exports(
        self, target: str, records: Iterable[ExportRecord], removed: Iterable[int] = ()
    ) -> None:
        records = list(records)
        gone = [*removed, *(r.article_id for r in records)]
        with self.transaction() as conn:
            conn.executemany(
                "DELETE FROM exports WHERE target = ? AND article_id = ?",
                [(target, a) for a in gone],
            )
            conn.executemany(
                "INSERT INTO exports (target, article_id, path, version, size, media_rev)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(target, r.article_id, r.path, r.version, r.size, r.media_rev) for r in records],
            )

    def site_stamps(self, target: str) -> dict[str, str]:
        """What each file of the site built in ``target`` was made from."""
        rows = self.conn.execute(
            "SELECT path, stamp FROM site_pages WHERE target = ?", (target,)
        ).fetchall()
        return dict(rows)

    def save_site_stamps(self, target: str, stamps: dict[str, str]) -> None:
        """Replace the record of the site in ``target`` by ``stamps``."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM site_pages WHERE target = ?", (target,))
            conn.executemany(
                "INSERT INTO site_pages (target, path, stamp) VALUES (?, ?, ?)",
                [(target, path, stamp) for path, stamp in stamps.items()],
            )
