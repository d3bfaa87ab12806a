"""The archive's schema, as numbered migrations applied in order, one set for SQLite
and PostgreSQL.

The version records how many have run (SQLite: ``PRAGMA user_version``; PostgreSQL: the
table ``newsmirror_schema``). A migration is SQL statements, a Python function of the
connection, or :class:`PerEngine` where the engines differ (the search index: FTS5 on
SQLite, ``pg_trgm`` on PostgreSQL); the shared SQL is written for SQLite and translated
by :mod:`newsmirror.store.dialect`. Each runs in one transaction with the version bump,
so an archive is always at a whole version; on PostgreSQL the transaction holds the
archive's lock, so processes starting together migrate once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from newsmirror.urls import canonical_url

Step = str | Callable[[Any], None]


@dataclass(frozen=True)
class PerEngine:
    """A migration whose SQL differs between the engines."""

    sqlite: Step
    postgresql: Step


Migration = Step | PerEngine


@dataclass(frozen=True)
class Recanonical:
    """An article whose stored canonical URL is not what :func:`canonical_url` gives now."""

    article_id: int
    old: str
    new: str


def plan_recanonical(
    changes: Sequence[Recanonical], holder: Callable[[str], int | None]
) -> dict[int, str]:
    """The new canonical value of each article in ``changes`` that can take it.

    ``changes`` come oldest article first; ``holder`` names the article that holds a
    value before the migration. An article keeps its old value when its new one is
    held by an article that keeps its own (one already at its current form, or one that
    keeps its old value) or taken by an older article: the two were duplicates, and the
    older one is matched from now on. Values stay unique; no article is lost.
    """
    moving = {c.article_id for c in changes}
    kept: set[int] = set()
    while True:
        claimed: dict[str, int] = {}
        losers: set[int] = set()
        for change in changes:
            if change.article_id in kept:
                continue
            held_by = holder(change.new)
            stays = held_by is not None and (held_by not in moving or held_by in kept)
            if stays or change.new in claimed:
                losers.add(change.article_id)
            else:
                claimed[change.new] = change.article_id
        if not losers:
            return {article_id: new for new, article_id in claimed.items()}
        kept |= losers


def _stale_canonicals(conn: sqlite3.Connection) -> Iterator[Recanonical]:
    rows = conn.execute("SELECT id, url, canonical_url FROM articles ORDER BY first_seen, id")
    for article_id, url, old in rows:
        new = canonical_url(url)
        if new != old:
            yield Recanonical(article_id, old, new)


def recanonicalise(conn: sqlite3.Connection) -> None:
    """Give every article the canonical URL that :func:`canonical_url` makes of its link
    today (see :func:`plan_recanonical` for two articles that now share one)."""
    changes = list(_stale_canonicals(conn))

    def holder(value: str) -> int | None:
        row = conn.execute("SELECT id FROM articles WHERE canonical_url = ?", (value,)).fetchone()
        return None if row is None else int(row[0])

    plan = plan_recanonical(changes, holder)
    # Through values no URL has (a NUL), so that no step meets UNIQUE half-way.
    conn.executemany(
        "UPDATE articles SET canonical_url = char(0) || id WHERE id = ?",
        [(article_id,) for article_id in plan],
    )
    conn.executemany(
        "UPDATE articles SET canonical_url = ? WHERE id = ?",
        [(new, article_id) for article_id, new in plan.items()],
    )


def add_redirects(conn: sqlite3.Connection) -> None:
    """Migration 9: each renamed imported post's old URL (``redirects``), filled in for the
    posts already imported, whose files the next export then checks again."""
    from newsmirror.publish.postformat import valid_filename
    from newsmirror.publish.posturls import old_url

    conn.execute(
        "CREATE TABLE IF NOT EXISTS redirects (article_id INTEGER NOT NULL REFERENCES articles(id)"
        " ON DELETE CASCADE, path TEXT NOT NULL, PRIMARY KEY (article_id, path))"
    )
    rows = conn.execute(
        "SELECT id, jekyll_name FROM articles WHERE origin = 'jekyll' AND jekyll_name != ''"
    ).fetchall()
    for article_id, name in rows:
        path = None if valid_filename(name) else old_url(name)
        if path is not None:
            conn.execute(
                "INSERT OR IGNORE INTO redirects (article_id, path) VALUES (?, ?)",
                (article_id, path),
            )
            conn.execute("UPDATE exports SET size = -1 WHERE article_id = ?", (article_id,))


def drop_misread_frames(conn: sqlite3.Connection) -> None:
    """Migration 13: the frames a feed or page could pass to any host before the sanitiser
    read a frame's URL as browsers do (``https://evil.example\\@www.youtube.com/`` was
    youtube to urlsplit, evil.example to a browser) are taken out of stored bodies and
    revisions (clean.drop_misread_frames); when any was, the Jekyll tree checks those
    posts again, and each site is marked as if its last build had not ended, so that the
    next one writes every page again (and still removes what it no longer makes)."""
    changed: set[int] = set()
    for table, key in (("articles", "id"), ("revisions", "article_id")):
        rows = conn.execute(
            f"SELECT id, {key}, content FROM {table} WHERE content LIKE ?", ("%<iframe%",)
        ).fetchall()
        if rows:  # the sanitiser (lxml, nh3) only then: a new archive has none
            from newsmirror.clean import drop_misread_frames as drop
        for row_id, article_id, content in rows:
            kept = drop(content)
            if kept != content:
                conn.execute(f"UPDATE {table} SET content = ? WHERE id = ?", (kept, row_id))
                changed.add(article_id)
    for article_id in sorted(changed):
        conn.execute("UPDATE exports SET size = -1 WHERE article_id = ?", (article_id,))
    if changed:  # every site as if its last build had not ended (store/exports.py)
        conn.execute("DELETE FROM site_pages WHERE path = ''")
        conn.execute(
            "INSERT INTO site_pages (target, path, stamp)"
            " SELECT DISTINCT target, '', 'building' FROM site_pages"
        )


MIGRATIONS: list[Migration] = [
    # 1: the first schema.
    """
    CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        timezone TEXT NOT NULL DEFAULT 'Asia/Shanghai',
        tags TEXT NOT NULL DEFAULT '[]',
        enabled INTEGER NOT NULL DEFAULT 1,
        last_attempt TEXT,
        last_success TEXT,
        last_error TEXT,
        last_error_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        url TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        body_sha256 TEXT,
        UNIQUE (source_id, url)
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        url TEXT NOT NULL,
        canonical_url TEXT NOT NULL UNIQUE,
        guid TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL,
        author TEXT NOT NULL,
        content TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        published TEXT NOT NULL,
        published_raw TEXT NOT NULL DEFAULT '',
        date_known INTEGER NOT NULL DEFAULT 1,
        first_seen TEXT NOT NULL,
        updated TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        origin TEXT NOT NULL DEFAULT 'feed',
        jekyll_name TEXT
    );
    CREATE INDEX articles_guid ON articles (source_id, guid);
    CREATE INDEX articles_published ON articles (published);
    CREATE TABLE revisions (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        version INTEGER NOT NULL,
        title TEXT NOT NULL,
        author TEXT NOT NULL,
        content TEXT NOT NULL,
        recorded TEXT NOT NULL,
        UNIQUE (article_id, version)
    );
    CREATE TABLE fetch_log (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        feed_url TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT NOT NULL,
        outcome TEXT NOT NULL,
        http_status INTEGER,
        new INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE INDEX fetch_log_source ON fetch_log (source_id, finished);
    CREATE VIRTUAL TABLE articles_fts USING fts5 (title, body, tokenize = 'trigram');
    CREATE TABLE exports (
        target TEXT NOT NULL,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        path TEXT NOT NULL,
        version INTEGER NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (target, article_id),
        UNIQUE (target, path)
    );
    """,
    # 2: the search index is brought up to date on demand, not during fetch (it costs
    # more than everything else a fetch does); this table says what it holds.
    PerEngine(
        sqlite="""
    CREATE TABLE search_state (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id),
        version INTEGER NOT NULL
    );
    INSERT INTO search_state (article_id, version)
        SELECT a.id, a.version FROM articles a WHERE a.id IN (SELECT rowid FROM articles_fts);
    """,
        postgresql="""
    CREATE TABLE search_state (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id),
        version INTEGER NOT NULL
    );
    """,
    ),
    # 3: full text from article pages, mirrored images, articles gone at their origin.
    """
    ALTER TABLE articles ADD COLUMN feed_hash TEXT NOT NULL DEFAULT '';
    ALTER TABLE articles ADD COLUMN content_origin TEXT NOT NULL DEFAULT 'feed';
    ALTER TABLE articles ADD COLUMN needs_page INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE articles ADD COLUMN page_attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE articles ADD COLUMN page_error TEXT;
    ALTER TABLE articles ADD COLUMN page_checked TEXT;
    ALTER TABLE articles ADD COLUMN removed_at TEXT;
    ALTER TABLE articles ADD COLUMN media_rev INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE articles ADD COLUMN images_scanned INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX articles_needs_page ON articles (needs_page) WHERE needs_page = 1;
    CREATE TABLE media (
        sha256 TEXT PRIMARY KEY,
        mime TEXT NOT NULL,
        ext TEXT NOT NULL,
        size INTEGER NOT NULL,
        first_url TEXT NOT NULL,
        fetched TEXT NOT NULL
    );
    CREATE TABLE article_media (
        article_id INTEGER NOT NULL REFERENCES articles(id),
        url TEXT NOT NULL,
        sha256 TEXT REFERENCES media(sha256),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_try TEXT,
        PRIMARY KEY (article_id, url)
    );
    CREATE INDEX article_media_url ON article_media (url);
    ALTER TABLE exports ADD COLUMN media_rev INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: what each file of a built site was made from, for incremental builds.
    """
    CREATE TABLE site_pages (
        target TEXT NOT NULL,
        path TEXT NOT NULL,
        stamp TEXT NOT NULL,
        PRIMARY KEY (target, path)
    );
    """,
    # 5: the images of articles archived by `add` keep its network guard on every later
    # run (net_guard; articles added before this version are taken as guarded); an
    # image the guard refused is not tried again (refused).
    """
    ALTER TABLE articles ADD COLUMN net_guard INTEGER NOT NULL DEFAULT 0;
    UPDATE articles SET net_guard = 1 WHERE origin = 'add';
    ALTER TABLE article_media ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;
    """,
    # 6: canonical URLs as canonical_url makes them since it became idempotent (encoded
    # "&", "=" and "+" in queries kept, IPv6 hosts in brackets, upper-case non-ASCII
    # hosts as xn--), so a link stored before still finds its article.
    recanonicalise,
    # 7: each `newsmirror run`, for monitors and the status page: when, how it ended, its
    # counts and its whole report (JSON).
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT NOT NULL,
        exit_code INTEGER NOT NULL,
        new INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        report TEXT NOT NULL
    );
    """,
    # 8: an imported post's exact text, exported as it was while the article stays at the
    # version it was imported as (an old mirror adopted without rewriting its files).
    """
    ALTER TABLE articles ADD COLUMN imported_text TEXT;
    ALTER TABLE articles ADD COLUMN imported_version INTEGER;
    """,
    # 9: the old URLs of imported posts renamed on export (publish/redirects.py).
    add_redirects,
    # 10: the search index keeps no copy of the text: only which character pairs each
    # article has (store/search.py), rebuilt on the next search. PostgreSQL keeps the
    # folded text under pg_trgm indexes instead (store/pgsearch.py).
    PerEngine(
        sqlite="""
    DROP TABLE IF EXISTS articles_fts;
    DELETE FROM search_state;
    ALTER TABLE search_state ADD COLUMN digest INTEGER NOT NULL DEFAULT 0;
    CREATE VIRTUAL TABLE search_index USING fts5 (
        grams, content = '', detail = none, tokenize = 'ascii'
    );
    CREATE TABLE search_stale (article_id INTEGER PRIMARY KEY);
    CREATE TABLE search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
        postgresql="""
    DELETE FROM search_state;
    ALTER TABLE search_state ADD COLUMN digest INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE search_stale (article_id INTEGER PRIMARY KEY);
    CREATE TABLE search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
    CREATE TABLE search_text (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
        body TEXT NOT NULL
    );
    CREATE INDEX search_text_body ON search_text USING gin (body public.gin_trgm_ops);
    """,
    ),
    # 11: where each revision's body came from (feed, page, selector), so that a feed's
    # teaser replaced by the page's full text is not shown as an edit (publish/history.py).
    # Filled in where it is certain: the first version of an article from a feed, and
    # every version of one whose body still comes from its feed.
    """
    ALTER TABLE revisions ADD COLUMN origin TEXT;
    UPDATE revisions SET origin = 'feed'
        WHERE version = 1 AND article_id IN (SELECT id FROM articles WHERE origin = 'feed');
    UPDATE revisions SET origin = 'feed' WHERE article_id IN
        (SELECT id FROM articles WHERE origin = 'feed' AND content_origin = 'feed');
    """,
    # 12: the articles whose images are still to be registered (store/content.py
    # scan_images), found without reading every row on every run: 65-108 ms at 100,000
    # articles, 5 us with the index.
    """
    CREATE INDEX articles_unscanned ON articles (id) WHERE images_scanned != version;
    """,
    # 13: stored frames that led to another host than the sanitiser read (see above).
    drop_misread_frames,
    # 14: a post whose body has a srcset (an <img>'s or a <picture> source's) is written
    # again: with its image mirrored, the export now drops what a browser would load from
    # the origin instead of the copy (publish/postformat.localise_images).
    """
    UPDATE exports SET size = -1 WHERE article_id IN
        (SELECT id FROM articles WHERE content LIKE '%srcset%');
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def _postgres(conn: Any) -> bool:
    from newsmirror.store.dialect import PgConnection

    return isinstance(conn, PgConnection)


def _apply(conn: Any, migration: Migration, postgres: bool = False) -> None:
    if isinstance(migration, PerEngine):
        migration = migration.postgresql if postgres else migration.sqlite
    if callable(migration):
        migration(conn)
        return
    for statement in migration.split(";\n"):
        if not statement.strip():
            continue
        if postgres and statement.lstrip().upper().startswith("CREATE VIRTUAL TABLE"):
            continue  # SQLite's FTS5 search index; PostgreSQL's is made in migration 10
        conn.execute(statement)


_PG_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS newsmirror_schema (version INTEGER NOT NULL)"


def schema_version(conn: Any) -> int:
    """How many migrations the archive has run."""
    if not _postgres(conn):
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_name = 'newsmirror_schema'"
    ).fetchone()
    if not row[0]:
        return 0
    found = conn.execute("SELECT max(version) FROM newsmirror_schema").fetchone()
    return int(found[0] or 0)


def _set_version(conn: Any, version: int, postgres: bool) -> None:
    if not postgres:
        conn.execute(f"PRAGMA user_version = {version}")
        return
    conn.execute(_PG_VERSION_TABLE)
    conn.execute("DELETE FROM newsmirror_schema")
    conn.execute("INSERT INTO newsmirror_schema (version) VALUES (?)", (version,))


def migrate(conn: Any, *, mark: str = "") -> int:
    """Bring ``conn`` to :data:`SCHEMA_VERSION`; return the version it was at.

    ``mark``: a statement run in the first migration's transaction (SQLite: the archive's
    application id), so that another process opening the file meanwhile sees an empty
    file or a marked archive, never tables of unknown origin."""
    postgres = _postgres(conn)
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        from newsmirror.errors import ArchiveError

        raise ArchiveError(
            f"archive schema version {current} is newer than this newsmirror ({SCHEMA_VERSION})",
            hint="Upgrade newsmirror to read this archive.",
        )
    version = current
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")  # SQLite's write lock
        try:
            if postgres:
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            if schema_version(conn) > version:  # another process migrated meanwhile
                conn.execute("COMMIT")
                version = schema_version(conn)
                continue
            # A new archive takes every migration in one transaction: one commit, so its
            # write-ahead log holds the schema once (about 100 kB), not once per step (270 kB).
            last = SCHEMA_VERSION if version == 0 else version + 1
            for step in range(version, last):
                _apply(conn, MIGRATIONS[step], postgres)
            if version == 0 and mark:
                conn.execute(mark)
            _set_version(conn, last, postgres)
            conn.execute("COMMIT")
            version = last
        except BaseException:
            if getattr(conn, "in_transaction", True):  # a failed COMMIT may have ended it
                conn.execute("ROLLBACK")
            raise
    return current
