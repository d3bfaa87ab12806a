"""The archive's full-text search: a postings-only index of character pairs, brought up
to date on demand, whose candidates are confirmed against the articles' own text.

The rules are :mod:`newsmirror.textsearch`'s (folded 简/繁 and variants, terms,
substring matches). The index (``search_index``, a contentless FTS5 table with
``detail=none``) holds, per article, no text: only which character pairs occur in
its folded title and text (:func:`index_tokens`). A pair at the end of a run of
non-space characters is paired with an end mark, so every character starts some
pair and a one-character term is a prefix query. A term of one or two characters is
then decided by the index alone; a longer one selects the articles having all its
pairs, which are confirmed with :func:`textsearch.matches` before they are counted
or shown. So the count is exact and every result contains the query.

Indexing is not done during fetch: :meth:`SearchMixin.update_index` catches up with new
and changed articles (``search_state`` records the version and a digest of what is
indexed). A contentless table forgets a row only when given its old tokens: they are
made again from the revision the archive keeps of the old version. When they cannot
be (no such revision), the row's old pairs stay behind and the article is listed in
``search_stale``: its candidates are always confirmed, and once stale rows are many
the index is rebuilt.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from functools import lru_cache
from operator import add
from typing import Any

from newsmirror import textsearch as ts
from newsmirror.htmltext import plain_text
from newsmirror.models import SearchHit, SearchResults
from newsmirror.timeutil import from_iso

# Version of the tokens below: a change rebuilds every archive's index.
TOKENS_VERSION = "pairs-2"
_END = "\U000f0000"  # a private-use character, marks a run's end (and is punctuation)
STALE_MIN = 1000  # rebuild when more than this many, and a quarter of the index, are stale
OPTIMIZE_MIN = 200  # merge the index into one segment after this many new rows
SNIPPET_BEFORE = 20
SNIPPET_LENGTH = 80


@lru_cache(maxsize=1)
def punctuation() -> frozenset[str]:
    """Characters no pair is made with: ASCII other than letters, digits and white
    space; punctuation and symbols of Latin-1, general punctuation, CJK punctuation and
    the small and full-width forms; and the end mark. Each one an article has is a
    token of its own."""
    ranges = ((0x0, 0x80), (0xA1, 0xC0), (0x2000, 0x2070), (0x3000, 0x3040), (0xFE10, 0xFE70))
    chars = (chr(c) for start, end in ranges for c in range(start, end))
    return frozenset(
        c
        for c in chars
        if not c.isspace()
        and (unicodedata.category(c)[0] in "PS" or (c.isascii() and not c.isalnum()))
    ) | {_END}


@lru_cache(maxsize=1)
def _separators() -> re.Pattern[str]:
    """White space and :func:`punctuation`: what ends a run of paired characters."""
    return re.compile("[\\s" + re.escape("".join(sorted(punctuation()))) + "]+")


def _alone(char: str) -> str:
    """The token saying that a text has the punctuation character ``char``: the end
    mark and the character, ASCII moved to private use (the ``ascii`` tokenizer
    splits at ASCII punctuation)."""
    return _END + (chr(0xF0100 + ord(char)) if char.isascii() else char)


def index_tokens(folded: str) -> str:
    """The index's tokens for folded article text (``textsearch.searchable``): each pair
    of adjacent characters in a run between white space and punctuation, each run's
    last character with the end mark, and each punctuation character on its own
    (:func:`_alone`); space-separated, without repeats."""
    marked = _separators().sub(_END, folded) + _END
    tokens = set(map(add, marked, marked[1:]))
    tokens.difference_update([_END + c for c in set(marked)])  # runs' starts
    tokens.update(map(_alone, set(folded) & punctuation()))
    return " ".join(tokens)


def term_tokens(term: str) -> list[str]:
    """The FTS5 query tokens an article has when it contains a folded ``term``: the
    pairs (:func:`textsearch.term_grams`) of each piece between punctuation, a
    one-character piece as a prefix (it starts a pair), each punctuation character."""
    marks = punctuation()
    parts = [f'"{_alone(c)}"' for c in dict.fromkeys(c for c in term if c in marks)]
    for piece in _separators().split(term):
        parts += [f'"{g}"' + ("*" if len(g) == 1 else "") for g in ts.term_grams(piece)]
    return parts


def match_expression(words: Sequence[str]) -> str:
    """The FTS5 query selecting the candidates for folded ``words``: every token of
    every word (each character of a word is in a token)."""
    return " AND ".join(dict.fromkeys(t for w in words for t in term_tokens(w)))


def exact_by_tokens(words: Sequence[str]) -> bool:
    """True when the index alone decides a match: every word is one character, or two
    without punctuation."""
    return all(len(w) == 1 or (len(w) == 2 and not set(w) & punctuation()) for w in words)


def digest(folded: str) -> int:
    """A signed 64-bit digest of indexed text, to tell that a revision is what was indexed."""
    raw = hashlib.blake2b(folded.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(raw, "big", signed=True)


@lru_cache(maxsize=1)
def rules_stamp() -> str:
    """What the index's tokens depend on: the fold table and the token encoding."""
    table = ts.format_fold_table(ts.fold_table()).encode("utf-8")
    return TOKENS_VERSION + ":" + hashlib.sha256(table).hexdigest()[:16]


def article_text(title: str, content: str) -> tuple[str, str]:
    """An article's searchable text unfolded and folded (same length: offsets agree)."""
    text = plain_text(content)
    folded = ts.searchable(title, text)
    shown = " ".join(title.split()) + "\n" + " ".join(text.split())
    return (shown if len(shown) == len(folded) else folded), folded


@dataclass
class Candidate:
    id: int
    published: str
    source: str
    title: str
    url: str
    timezone: str
    trusted: bool
    in_title: bool


def candidate_rows(rows: Iterable[Sequence[Any]], words: Sequence[str]) -> list[Candidate]:
    """Candidates from (id, published, source, title, url, zone, trusted) rows; whether
    the title alone matches is decided here."""
    return [
        Candidate(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            trusted=bool(row[6]),
            in_title=ts.matches(ts.fold(row[3]), words),
        )
        for row in rows
    ]


def snippet(
    shown: str, folded: str, words: Sequence[str]
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A short piece of the article's text around its first match, and where the terms
    are in it; the text's start when only the title matches."""
    body = folded.find("\n") + 1
    found = [s for s in ts.spans(folded, words) if s[0] >= body]
    start = max(body, found[0][0] - SNIPPET_BEFORE) if found else body
    end = min(len(shown), start + SNIPPET_LENGTH)
    marks = tuple((a - start, min(b, end) - start) for a, b in found if a < end and b > start)
    text = shown[start:end]
    prefix = "…" if start > body else ""
    suffix = "…" if end < len(shown) else ""
    marks = tuple((a + len(prefix), b + len(prefix)) for a, b in marks)
    return prefix + text + suffix, marks


class SearchMixin:
    conn: sqlite3.Connection
    _INDEX_TABLE = "search_index"  # one row per indexed article

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    # -- the index -------------------------------------------------------------

    def pending_index(self) -> int:
        """How many articles are new or changed since the search index last caught up."""
        total, changed = self.conn.execute(
            "SELECT count(*), coalesce(sum(s.version IS NOT a.version), 0) FROM articles a"
            " LEFT JOIN search_state s ON s.article_id = a.id"
        ).fetchone()
        return int(total if self._meta("rules") != rules_stamp() else changed)

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM search_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _reset_index(self, conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO search_index (search_index) VALUES ('delete-all')")
        conn.execute("DELETE FROM search_state")
        conn.execute("DELETE FROM search_stale")
        conn.execute(
            "INSERT OR REPLACE INTO search_meta (key, value) VALUES ('rules', ?)", (rules_stamp(),)
        )

    def _forget(self, conn: sqlite3.Connection, article_id: int) -> None:
        """Drop a row whose tokens cannot be made again: its pairs stay, as stale."""
        conn.execute(
            "INSERT INTO search_index (search_index, rowid, grams) VALUES ('delete', ?, '')",
            (article_id,),
        )
        conn.execute("INSERT OR IGNORE INTO search_stale (article_id) VALUES (?)", (article_id,))

    def _tidy(self) -> None:
        """Start again when the rules changed or stale rows are many; forget the rows of
        articles no longer in the archive."""
        with self.transaction() as conn:
            stale = conn.execute("SELECT count(*) FROM search_stale").fetchone()[0]
            indexed = conn.execute("SELECT count(*) FROM search_state").fetchone()[0]
            if self._meta("rules") != rules_stamp() or stale > max(STALE_MIN, indexed // 4):
                self._reset_index(conn)
                return
            gone = conn.execute(
                "SELECT id FROM search_index_docsize WHERE id NOT IN"
                " (SELECT s.article_id FROM search_state s JOIN articles a ON a.id = s.article_id)"
            ).fetchall()
            for (article_id,) in gone:
                self._forget(conn, article_id)
            conn.execute(
                "DELETE FROM search_state WHERE article_id NOT IN (SELECT id FROM articles)"
            )

    def _unindex(self, conn: sqlite3.Connection, article_id: int, version: int, old: int) -> None:
        """Remove an article's indexed version, made again from its revision."""
        row = conn.execute(
            "SELECT title, content FROM revisions WHERE article_id = ? AND version = ?",
            (article_id, version),
        ).fetchone()
        folded = ts.searchable(row[0], plain_text(row[1])) if row else None
        if folded is not None and digest(folded) == old:
            conn.execute(
                "INSERT INTO search_index (search_index, rowid, grams) VALUES ('delete', ?, ?)",
                (article_id, index_tokens(folded)),
            )
        else:
            self._forget(conn, article_id)

    def update_index(self, batch: int = 1000) -> int:
        """Bring the full-text index up to date; return how many articles were indexed.

        Each batch is one transaction, so an interrupted catch-up resumes where it stopped.
        """
        self._tidy()
        done = 0
        while True:
            with self.transaction() as conn:
                rows = conn.execute(
                    "SELECT a.id, a.version, a.title, a.content, s.version, s.digest"
                    " FROM articles a LEFT JOIN search_state s ON s.article_id = a.id"
                    " WHERE s.version IS NOT a.version LIMIT ?",
                    (batch,),
                ).fetchall()
                for article_id, version, title, content, indexed, old in rows:
                    if indexed is not None:
                        self._unindex(conn, article_id, indexed, old)
                    folded = ts.searchable(title, plain_text(content))
                    conn.execute(
                        "INSERT INTO search_index (rowid, grams) VALUES (?, ?)",
                        (article_id, index_tokens(folded)),
                    )
                    conn.execute(
                        "INSERT OR REPLACE INTO search_state (article_id, version, digest)"
                        " VALUES (?, ?, ?)",
                        (article_id, version, digest(folded)),
                    )
            done += len(rows)
            if len(rows) < batch:
                break
        if done >= max(OPTIMIZE_MIN, self._indexed() // 5):
            # Many new rows: one segment is a fifth smaller than the merges leave.
            with self.transaction() as conn:
                conn.execute("INSERT INTO search_index (search_index) VALUES ('optimize')")
            self._compact()
        return done

    def _compact(self) -> None:
        """Give the file back its free pages when they are a tenth of it (left by the
        merges of a large catch-up, or by an older archive's index with its copy of the
        text): the index is small only if the file is."""
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        if free * 10 > pages:
            with suppress(sqlite3.Error):  # busy or out of disk: the archive stays as it was
                self.conn.execute("VACUUM")

    def _indexed(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM search_state").fetchone()[0])

    def index_problems(self) -> list[str]:
        """Where the index and its bookkeeping disagree (for :meth:`Archive.check`)."""
        rows = self.conn.execute(
            "SELECT (SELECT count(*) FROM search_state) -"
            f" (SELECT count(*) FROM {self._INDEX_TABLE})"
        ).fetchone()[0]
        if rows:
            return [f"search index differs from its bookkeeping by {rows} rows"]
        return []

    # -- searching -------------------------------------------------------------

    @staticmethod
    def _index_decides(words: Sequence[str]) -> bool:
        """Whether a trusted candidate for ``words`` needs no look at its text."""
        return exact_by_tokens(words)

    def _candidates(self, words: Sequence[str]) -> list[Candidate]:
        rows = self.conn.execute(
            "SELECT a.id, a.published, s.name, a.title, a.url, s.timezone,"
            " st.version IS a.version AND NOT EXISTS"
            " (SELECT 1 FROM search_stale x WHERE x.article_id = a.id)"
            " FROM articles a JOIN sources s ON s.id = a.source_id"
            " LEFT JOIN search_state st ON st.article_id = a.id"
            " WHERE a.id IN (SELECT rowid FROM search_index WHERE search_index MATCH ?)",
            (match_expression(words),),
        ).fetchall()
        return candidate_rows(rows, words)

    def _texts(self, ids: Iterable[int]) -> Iterator[tuple[int, str, str]]:
        """(id, shown, folded) of each article, a few hundred at a time."""
        ids = list(ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for article_id, title, content in self.conn.execute(
                f"SELECT id, title, content FROM articles WHERE id IN ({marks})", chunk
            ):
                yield (article_id, *article_text(title, content))

    def find(
        self, query: str, limit: int = 20, offset: int = 0, *, refresh: bool = True
    ) -> SearchResults:
        """The articles whose title or text contain every term of ``query`` (folded,
        :func:`textsearch.terms`): how many, and ``limit`` of them from ``offset``,
        title matches first, then newest first.

        With ``refresh`` the index first catches up with new and changed articles.
        """
        if refresh:
            self.update_index()
        words = ts.terms(query)
        if not words:
            return SearchResults(0, [])
        rows = self._candidates(words)
        exact = self._index_decides(words)
        unsure = [r.id for r in rows if not r.in_title and not (exact and r.trusted)]
        wrong = {i for i, _, folded in self._texts(unsure) if not ts.matches(folded, words)}
        found = [r for r in rows if r.id not in wrong]
        found.sort(key=lambda r: (r.published, r.id), reverse=True)
        found.sort(key=lambda r: not r.in_title)
        page = found[offset : offset + limit]
        texts = {i: (shown, folded) for i, shown, folded in self._texts(r.id for r in page)}
        hits = []
        for r in page:
            shown, folded = texts[r.id]
            if not ts.matches(folded, words):  # every result shown is confirmed
                continue
            text, marks = snippet(shown, folded, words)
            title_marks = tuple(ts.spans(ts.fold(r.title), words))
            hits.append(
                SearchHit(
                    r.id,
                    from_iso(r.published),
                    r.source,
                    r.title,
                    r.url,
                    r.timezone,
                    snippet=text,
                    marks=marks,
                    title_marks=title_marks,
                )
            )
        return SearchResults(len(found), hits)

    def search(self, query: str, limit: int = 20, *, refresh: bool = True) -> list[SearchHit]:
        """The first ``limit`` results of :meth:`find`."""
        return self.find(query, limit, refresh=refresh).hits
