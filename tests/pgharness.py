"""Running the test suite's archive tests on PostgreSQL.

``NEWSMIRROR_TEST_BACKEND=postgresql pytest -m "not sqlite_only"`` runs every test with
its archives on PostgreSQL (``NEWSMIRROR_TEST_PG``, default ``postgresql:///newsmirror_test``):
each test gets fresh schemas. The CLI finds its archive through ``NEWSMIRROR_ARCHIVE_URL``
(in this process and in the ones it starts); a test that opens an archive file directly
gets the same schema for the first file it opens, and a schema of its own for each other
(so does an in-process ``--archive FILE``). A file that exists on disk was written as
SQLite by someone else (a subprocess given ``--archive FILE``, a module's fixture) and is
opened as the SQLite file it is. Tests about the SQLite file itself (its lock file, a
damaged file, PRAGMAs) are marked ``sqlite_only``; tests that need a server are marked
``postgres`` and skip when none answers, unless ``NEWSMIRROR_REQUIRE_PG=1``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsmirror.store import Archive

BACKEND = os.environ.get("NEWSMIRROR_TEST_BACKEND", "sqlite")
PG_BASE = os.environ.get("NEWSMIRROR_TEST_PG", "postgresql:///newsmirror_test")
_COUNTER = itertools.count()


def schema_url(schema: str, base: str = PG_BASE) -> str:
    """``base`` with its current schema set to ``schema`` (public kept for pg_trgm)."""
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}%2Cpublic"


class Schemas:
    """Fresh schemas in the test database, dropped at the end."""

    def __init__(self) -> None:
        import psycopg

        self.conn = psycopg.connect(PG_BASE, autocommit=True)
        self.made: list[str] = []

    def new(self) -> str:
        name = f"t{os.getpid()}_{next(_COUNTER)}"
        self.conn.execute(f'CREATE SCHEMA "{name}"')
        self.made.append(name)
        return schema_url(name)

    def close(self) -> None:
        for name in self.made:
            self.conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self.conn.close()


@pytest.fixture
def pg_schemas() -> Iterator[Schemas]:
    """Fresh PostgreSQL schemas for a test (the server must be running)."""
    schemas = Schemas()
    try:
        yield schemas
    finally:
        schemas.close()


_URLS: dict[Path, str] = {}


def set_schema_version(conn: Any, version: int) -> None:
    """Record ``version`` as the archive's schema version (as an older or newer
    newsmirror left it), on either engine."""
    from newsmirror.store.dialect import PgConnection

    if isinstance(conn, PgConnection):
        conn.execute("UPDATE newsmirror_schema SET version = ?", (version,))
    else:
        conn.execute(f"PRAGMA user_version = {version}")


def search_tables(conn: Any) -> tuple[str, ...]:
    """The tables migration 10 made for the search index on this connection's engine."""
    from newsmirror.store.dialect import PgConnection

    if isinstance(conn, PgConnection):
        return ("search_text", "search_stale", "search_meta")
    return ("search_index", "search_stale", "search_meta")


def archive_option(path: Path) -> list[str]:
    """``--archive PATH`` for a CLI process; nothing on PostgreSQL, where the process
    finds the test's archive through NEWSMIRROR_ARCHIVE_URL (``path`` must be the
    test's first archive file, the one on that URL)."""
    if not mapped(path):
        return ["--archive", str(path)]
    url = _URLS.get(Path(path).absolute())
    if url is None or url != os.environ.get("NEWSMIRROR_ARCHIVE_URL"):
        raise ValueError(f"{path} is not the test's first archive")
    return []


def mapped(path: Path) -> bool:
    """True when ``path`` is on PostgreSQL in this test (not an existing SQLite file)."""
    return BACKEND == "postgresql" and not Path(path).is_file()


_REACHABLE: list[str | None] = []


def server_problem() -> str | None:
    """Why no PostgreSQL server answers at ``PG_BASE`` (None when one does); asked once."""
    if not _REACHABLE:
        try:
            import psycopg

            psycopg.connect(PG_BASE, connect_timeout=5).close()
            _REACHABLE.append(None)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _REACHABLE.append(f"no PostgreSQL server at {PG_BASE}: {first}")
    return _REACHABLE[0]


def require_server() -> None:
    """Skip the test when no server answers, or fail under NEWSMIRROR_REQUIRE_PG=1."""
    problem = server_problem()
    if problem is None:
        return
    if os.environ.get("NEWSMIRROR_REQUIRE_PG") == "1":
        pytest.fail(f"{problem} (NEWSMIRROR_REQUIRE_PG=1)")
    pytest.skip(f"{problem} (start one, or set NEWSMIRROR_TEST_PG)")


def use_postgres(monkeypatch: pytest.MonkeyPatch, schemas: Schemas) -> str:
    """Point the CLI and direct ``Archive.open`` calls at fresh schemas; the CLI's URL."""
    from newsmirror.clibase import Context

    url = schemas.new()
    monkeypatch.setenv("NEWSMIRROR_ARCHIVE_URL", url)
    real_open = Archive.open.__func__  # type: ignore[attr-defined]
    real_location = Context.archive_location
    _URLS.clear()

    def location_url(key: Path) -> str:
        if key not in _URLS:
            _URLS[key] = url if not _URLS else schemas.new()
        return _URLS[key]

    def open_on_postgres(
        cls: Any, location: Path | str, *, create: bool = True, media_dir: Path | None = None
    ) -> Archive:
        if isinstance(location, str) or not mapped(Path(location)):
            return real_open(cls, location, create=create, media_dir=media_dir)  # type: ignore[no-any-return]
        key = Path(location).absolute()
        media = media_dir or key.parent / "media"
        return real_open(cls, location_url(key), create=create, media_dir=media)  # type: ignore[no-any-return]

    def archive_location(self: Context) -> Path | str:
        override = self.archive_override
        if override is None or not mapped(override):
            return real_location(self)
        return location_url(override.absolute())

    real_archive = Context.archive

    def archive(self: Context, **kw: Any) -> Any:
        path = kw.get("path")
        if isinstance(path, Path) and mapped(path):
            kw["path"] = location_url(path.absolute())
        return real_archive(self, **kw)

    monkeypatch.setattr(Archive, "open", classmethod(open_on_postgres))
    monkeypatch.setattr(Context, "archive_location", archive_location)
    monkeypatch.setattr(Context, "archive", archive)
    return url
