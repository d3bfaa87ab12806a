"""The archive's full-text search on PostgreSQL: folded text under ``pg_trgm`` indexes.

The rules are the SQLite index's (:mod:`newsmirror.store.search`): an article matches
when its folded title and text (:func:`textsearch.searchable`: 简/繁 and variants
folded, case and width folded) contain every folded term as a substring. PostgreSQL
keeps that folded text in ``search_text`` with a trigram GIN index on it, and a term is
one ``LIKE '%term%'``, which is the substring test itself: every candidate is a match,
and the count is exact without reading the articles. A term of three characters or
more is found through the index; a shorter one (拜登) has no trigram and is checked on
every row, which stays correct and costs a scan.

The text is brought up to date on demand, as on SQLite: ``search_state`` records the
version indexed, and changed articles are folded again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from newsmirror import textsearch as ts
from newsmirror.htmltext import plain_text
from newsmirror.store.search import Candidate, SearchMixin, candidate_rows, rules_stamp


def like_pattern(term: str) -> str:
    """``LIKE`` pattern for text containing ``term`` (``\\``, ``%`` and ``_`` escaped)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class PgSearchMixin(SearchMixin):
    """:class:`SearchMixin` with PostgreSQL's index: same results, other bookkeeping."""

    conn: Any
    _INDEX_TABLE = "search_text"

    def pending_index(self) -> int:
        total, changed = self.conn.execute(
            "SELECT count(*), coalesce(sum(CASE WHEN s.version IS DISTINCT FROM a.version"
            " THEN 1 ELSE 0 END), 0) FROM articles a"
            " LEFT JOIN search_state s ON s.article_id = a.id"
        ).fetchone()
        return int(total if self._meta("rules") != rules_stamp() else changed)

    def _tidy(self) -> None:
        with self.transaction() as conn:
            if self._meta("rules") != rules_stamp():
                conn.execute("DELETE FROM search_text")
                conn.execute("DELETE FROM search_state")
                conn.execute(
                    "INSERT INTO search_meta (key, value) VALUES ('rules', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (rules_stamp(),),
                )
            conn.execute(
                "DELETE FROM search_state WHERE article_id NOT IN (SELECT id FROM articles)"
            )

    def update_index(self, batch: int = 1000) -> int:
        """Fold the text of new and changed articles; return how many. Each batch is one
        transaction, so an interrupted catch-up resumes where it stopped."""
        self._tidy()
        done = 0
        while True:
            with self.transaction() as conn:
                rows = conn.execute(
                    "SELECT a.id, a.version, a.title, a.content FROM articles a"
                    " LEFT JOIN search_state s ON s.article_id = a.id"
                    " WHERE s.version IS DISTINCT FROM a.version ORDER BY a.id LIMIT ?",
                    (batch,),
                ).fetchall()
                conn.executemany(
                    "INSERT INTO search_text (article_id, body) VALUES (?, ?)"
                    " ON CONFLICT (article_id) DO UPDATE SET body = excluded.body",
                    [(i, ts.searchable(t, plain_text(c))) for i, _, t, c in rows],
                )
                conn.executemany(
                    "INSERT INTO search_state (article_id, version, digest) VALUES (?, ?, 0)"
                    " ON CONFLICT (article_id) DO UPDATE SET version = excluded.version",
                    [(i, v) for i, v, _, _ in rows],
                )
            done += len(rows)
            if len(rows) < batch:
                return done

    @staticmethod
    def _index_decides(words: Sequence[str]) -> bool:
        return True  # LIKE on the folded text is the substring test itself

    def _candidates(self, words: Sequence[str]) -> list[Candidate]:
        tests = " AND ".join(["x.body LIKE ?"] * len(words))
        rows = self.conn.execute(
            "SELECT a.id, a.published, s.name, a.title, a.url, s.timezone,"
            " st.version = a.version"
            " FROM search_text x JOIN articles a ON a.id = x.article_id"
            " JOIN sources s ON s.id = a.source_id"
            " JOIN search_state st ON st.article_id = a.id"
            f" WHERE {tests}",
            [like_pattern(w) for w in words],
        ).fetchall()
        return candidate_rows(rows, words)
