"""The archive's record of fetching: each feed's conditional-GET state, the fetch log
and each source's health (last attempt, last success, last error, failures in a row)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from newsmirror.models import FeedCheck, FeedState, RunRecord, SourceHealth, SourceOutcome
from newsmirror.timeutil import to_iso


class HealthMixin:
    conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _source_id(self, name: str) -> int:
        raise NotImplementedError

    def _save_feed_state(self, sid: int, url: str, state: FeedState) -> None:
        self.conn.execute(
            "INSERT INTO feeds (source_id, url, etag, last_modified, body_sha256)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (source_id, url) DO UPDATE SET"
            " etag = excluded.etag, last_modified = excluded.last_modified,"
            " body_sha256 = excluded.body_sha256",
            (sid, url, state.etag, state.last_modified, state.body_sha256),
        )

    def _log(
        self,
        sid: int,
        url: str,
        started: datetime,
        finished: datetime,
        outcome: str,
        http_status: int | None,
        new: int = 0,
        updated: int = 0,
        error: str | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO fetch_log (source_id, feed_url, started, finished, outcome,"
            " http_status, new, updated, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sid,
                url,
                to_iso(started),
                to_iso(finished),
                outcome,
                http_status,
                new,
                updated,
                error,
            ),
        )

    def record_run(
        self, checks: Iterable[FeedCheck], outcomes: Iterable[SourceOutcome], *, now: datetime
    ) -> None:
        """The end of a run, in one transaction: the feeds that stored nothing (not
        modified or failed: their log lines, and their new conditional-GET state where it
        changed) and every source's health. Feeds that stored entries were logged with
        them (:meth:`Archive.store_entries`)."""
        with self.transaction():
            ids: dict[str, int] = {}
            for check in checks:
                sid = ids.get(check.source) or ids.setdefault(
                    check.source, self._source_id(check.source)
                )
                if check.state is not None:
                    self._save_feed_state(sid, check.url, check.state)
                self._log(
                    sid,
                    check.url,
                    check.started,
                    check.finished,
                    check.outcome,
                    check.http_status,
                    error=check.error,
                )
            for outcome in outcomes:
                self._health(outcome.name, ok=outcome.ok, error=outcome.error, now=now)

    def record_source_result(
        self, source: str, *, ok: bool, error: str | None, now: datetime
    ) -> None:
        """Update a source's health after all its feeds were tried."""
        self.record_run([], [SourceOutcome(source, ok, error)], now=now)

    def _health(self, source: str, *, ok: bool, error: str | None, now: datetime) -> None:
        stamp = to_iso(now)
        if ok:
            self.conn.execute(
                "UPDATE sources SET last_attempt = ?, last_success = ?,"
                " consecutive_failures = 0 WHERE name = ?",
                (stamp, stamp, source),
            )
        else:
            self.conn.execute(
                "UPDATE sources SET last_attempt = ?, last_error = ?,"
                " last_error_at = ?, consecutive_failures ="
                " consecutive_failures + 1 WHERE name = ?",
                (stamp, error, stamp, source),
            )

    def fetches_since(self, start: datetime) -> list[tuple[str, str, str, int, int, str | None]]:
        """(source, feed URL, outcome, new, updated, error) of each feed fetched since
        ``start``: its last fetch, in the order they ended."""
        rows = self.conn.execute(
            "SELECT s.name, f.feed_url, f.outcome, f.new, f.updated, f.error FROM fetch_log f"
            " JOIN sources s ON s.id = f.source_id WHERE f.started >= ? ORDER BY f.id",
            (to_iso(start),),
        ).fetchall()
        last = {(row[0], row[1]): tuple(row) for row in rows}
        return list(last.values())

    def health(self) -> list[SourceHealth]:
        rows = self.conn.execute(
            "SELECT s.id, s.name, s.enabled, (SELECT count(*) FROM articles a"
            " WHERE a.source_id = s.id), s.last_attempt, s.last_success, s.last_error,"
            " s.last_error_at, s.consecutive_failures FROM sources s ORDER BY s.name"
        ).fetchall()
        out = []
        for sid, *rest in rows:
            feeds = [
                r[0]
                for r in self.conn.execute(
                    "SELECT url FROM feeds WHERE source_id = ? ORDER BY id", (sid,)
                )
            ]
            name, enabled, count, attempt, success, error, error_at, failures = rest
            out.append(
                SourceHealth(
                    name, bool(enabled), count, attempt, success, error, error_at, failures, feeds
                )
            )
        return out

    def record_job(self, report: dict[str, Any]) -> None:
        """Keep one `newsmirror run`'s report (``RunReport.as_dict()``): its times, exit
        code, counts, and the number of sources, outputs and targets that failed."""
        failures = sum(s["status"] in ("failed", "partial") for s in report["sources"]) + sum(
            bool(o["error"]) for o in [*report.get("outputs", []), *report.get("targets", [])]
        )
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO runs (started, finished, exit_code, new, updated, failures, report)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    report["started"],
                    report["finished"],
                    report["exit_code"],
                    report["new"],
                    report["updated"],
                    failures,
                    json.dumps(report, ensure_ascii=False, sort_keys=True),
                ),
            )

    def recent_runs(self, limit: int = 20) -> list[RunRecord]:
        """The last ``limit`` runs, newest first."""
        rows = self.conn.execute(
            "SELECT started, finished, exit_code, new, updated, failures FROM runs"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [RunRecord(*row) for row in rows]
