"""The archive's full-text search: an FTS5 trigram index, brought up to date on demand.

Indexing Chinese text costs more than everything else a fetch does, so it is not
done during fetch: :meth:`SearchMixin.update_index` catches up with new and
changed articles (``search_state`` records which version of each is indexed),
and ``newsmirror search`` calls it before searching.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import AbstractContextManager

from newsmirror.htmltext import plain_text
from newsmirror.models import SearchHit
from newsmirror.timeutil import from_iso


class SearchMixin:
    conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def pending_index(self) -> int:
        """How many articles are new or changed since the search index last caught up."""
        return int(
            self.conn.execute(
                "SELECT count(*) FROM articles a LEFT JOIN search_state s ON s.article_id = a.id"
                " WHERE s.version IS NOT a.version"
            ).fetchone()[0]
        )

    def update_index(self, batch: int = 500) -> int:
        """Bring the full-text index up to date; return how many articles were indexed.

        Each batch is one transaction, so an interrupted catch-up resumes where it stopped.
        """
        done = 0
        while True:
            with self.transaction() as conn:
                rows = conn.execute(
                    "SELECT a.id, a.version, a.title, a.content, s.version FROM articles a"
                    " LEFT JOIN search_state s ON s.article_id = a.id"
                    " WHERE s.version IS NOT a.version LIMIT ?",
                    (batch,),
                ).fetchall()
                for article_id, version, title, content, indexed in rows:
                    if indexed is not None:
                        conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (article_id,))
                    conn.execute(
                        "INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)",
                        (article_id, title, plain_text(content)),
                    )
                    conn.execute(
                        "INSERT OR REPLACE INTO search_state (article_id, version) VALUES (?, ?)",
                        (article_id, version),
                    )
            done += len(rows)
            if len(rows) < batch:
                return done

    def search(self, query: str, limit: int = 20, *, refresh: bool = True) -> list[SearchHit]:
        """Articles whose title or text contain every word of ``query``, newest first.

        The FTS5 trigram index answers words of three or more characters; shorter
        words (most Chinese words are two characters) are matched by substring.
        With ``refresh`` the index first catches up with new and changed articles.
        """
        if refresh:
            self.update_index()
        words = query.split()
        if not words:
            return []
        clauses, args = [], []
        for word in words:
            if len(word) >= 3:
                clauses.append("articles_fts MATCH ?")
                args.append('"' + word.replace('"', '""') + '"')
            else:
                clauses.append("(title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')")
                pattern = "%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"
                args += [pattern, pattern]
        sql = (
            "SELECT a.id, a.published, s.name, a.title, a.url, s.timezone FROM articles a"
            " JOIN sources s ON s.id = a.source_id WHERE a.id IN (SELECT rowid FROM"
            f" articles_fts WHERE {' AND '.join(clauses)}) ORDER BY a.published DESC LIMIT ?"
        )
        rows = self.conn.execute(sql, (*args, limit)).fetchall()
        return [SearchHit(r[0], from_iso(r[1]), r[2], r[3], r[4], r[5]) for r in rows]
