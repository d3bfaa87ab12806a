"""Running the test suite's archive tests on PostgreSQL.

``NEWSMIRROR_TEST_BACKEND=postgresql pytest -m "not sqlite_only"`` runs every test with
its archives on PostgreSQL (``NEWSMIRROR_TEST_PG``, default ``postgresql:///newsmirror_test``):
each test gets fresh schemas. The CLI finds its archive through ``NEWSMIRROR_ARCHIVE_URL``
(in this process and in the ones it starts); a test that opens an archive file directly
gets the same schema for the first file it opens, and a schema of its own for each other.
Tests about the SQLite file itself (its lock file, a damaged file, kill -9 on a file) are
marked ``sqlite_only``.
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


def use_postgres(monkeypatch: pytest.MonkeyPatch, schemas: Schemas) -> str:
    """Point the CLI and direct ``Archive.open`` calls at fresh schemas; the CLI's URL."""
    url = schemas.new()
    monkeypatch.setenv("NEWSMIRROR_ARCHIVE_URL", url)
    real_open = Archive.open.__func__  # type: ignore[attr-defined]
    urls: dict[Path, str] = {}

    def open_on_postgres(
        cls: Any, location: Path | str, *, create: bool = True, media_dir: Path | None = None
    ) -> Archive:
        if isinstance(location, str):
            return real_open(cls, location, create=create, media_dir=media_dir)  # type: ignore[no-any-return]
        key = Path(location).absolute()
        if key not in urls:
            urls[key] = url if not urls else schemas.new()
        media = media_dir or key.parent / "media"
        return real_open(cls, urls[key], create=create, media_dir=media)  # type: ignore[no-any-return]

    monkeypatch.setattr(Archive, "open", classmethod(open_on_postgres))
    return url
