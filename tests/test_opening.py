"""What the user reads when the archive cannot be opened, read or written.

Every SQLite error becomes an ArchiveError with one message and a hint the user can act
on. The errors here are real ones, made by SQLite on real files: a full archive (a
page limit stands in for a full disk), a damaged file, a file that is not SQLite.
More cases through the command line: tests/test_cli_errors.py and tests/test_store.py.
"""

from __future__ import annotations

import sqlite3

import pytest

from newsmirror.errors import ArchiveError
from newsmirror.store import Archive
from newsmirror.store.opening import (
    DAMAGED_HINT,
    damaged_archive_error,
    open_hint,
    root_error,
    write_hint,
)
from pgharness import set_schema_version
from test_cli_errors import archive_setup, corrupt_middle, make_archive, run

FULL_HINT = "The disk is full: free space and run again; nothing was half-written."
RETRY_HINT = "Nothing was half-written; run again. If it repeats, check the archive file."
DEFAULT_HINT = "Check the archive path and free disk space; `newsmirror init` creates one."
NOT_SQLITE_HINT = "The file is not a SQLite archive: pass the path of a newsmirror archive."


def fill_up(conn: sqlite3.Connection) -> sqlite3.Error:
    """Write into ``conn`` until SQLite reports the database full; return that error
    (SQLite has then ended the transaction itself)."""
    conn.execute("CREATE TABLE IF NOT EXISTS filler (x TEXT)")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for _ in range(100):
            conn.execute("INSERT INTO filler VALUES (?)", ("x" * 3000,))
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("the database never became full")


@pytest.fixture
def conn(tmp_path):
    connection = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    yield connection
    connection.close()


def test_full_archive_message_and_hint(conn):
    exc = fill_up(conn)
    assert str(exc) == "database or disk is full"
    error = damaged_archive_error(exc)
    assert error.message == "cannot write the archive: database or disk is full"
    assert error.hint == FULL_HINT
    assert write_hint(exc) == FULL_HINT
    assert open_hint(exc) == FULL_HINT


def test_failed_rollback_after_a_full_archive_reports_the_full_archive(conn):
    full = fill_up(conn)
    assert not conn.in_transaction  # SQLite rolled back the whole transaction itself
    try:
        try:
            raise full
        except sqlite3.Error:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        assert str(exc) == "cannot rollback - no transaction is active"
        assert root_error(exc) is full
        assert open_hint(root_error(exc)) == FULL_HINT
    else:
        raise AssertionError("ROLLBACK outside a transaction must fail")


def test_other_errors_are_their_own_root(conn):
    conn.execute("CREATE TABLE t (x TEXT NOT NULL)")
    try:
        try:
            conn.execute("INSERT INTO t VALUES (NULL)")
        except sqlite3.Error:
            conn.execute("SELECT * FROM missing")
    except sqlite3.Error as exc:
        assert isinstance(exc.__context__, sqlite3.IntegrityError)
        assert root_error(exc) is exc
    lone = sqlite3.OperationalError("cannot rollback - no transaction is active")
    assert root_error(lone) is lone


def test_other_sqlite_error_is_a_plain_archive_error(conn):
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("SELECT * FROM missing")
    error = damaged_archive_error(info.value)
    assert error.message == "cannot read or write the archive: no such table: missing"
    assert error.hint == DEFAULT_HINT
    assert error.exit_code == 4
    assert write_hint(info.value) == RETRY_HINT
    assert open_hint(info.value) == RETRY_HINT


@pytest.mark.sqlite_only  # a damaged SQLite file
def test_damaged_page_met_while_reading(tmp_path):
    path = make_archive(tmp_path / "a.sqlite")
    corrupt_middle(path)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError) as info:
        conn.execute("SELECT count(*), sum(length(content)) FROM articles").fetchall()
    conn.close()
    error = damaged_archive_error(info.value)
    assert error.message == "the archive is damaged: database disk image is malformed"
    assert error.hint == DAMAGED_HINT
    assert open_hint(info.value) == DAMAGED_HINT


@pytest.mark.sqlite_only  # a damaged SQLite file
def test_damage_met_by_a_command_is_one_line_and_the_recover_hint(tmp_path, monkeypatch):
    import newsmirror.store.opening as opening

    archive_setup(tmp_path)
    corrupt_middle(make_archive(tmp_path / "archive.sqlite"))
    monkeypatch.setattr(opening, "QUICK_CHECK_MAX_BYTES", 0)
    result = run("search", "新闻", cwd=tmp_path)
    assert result.returncode == 4
    assert result.stderr.splitlines() == [
        "error: the archive is damaged: database disk image is malformed",
        "hint: Restore the archive from a backup, or salvage it with"
        " `sqlite3 ARCHIVE .recover | sqlite3 NEW.sqlite` and use NEW.sqlite.",
    ]


def test_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"my notes, not a database\n" * 200)
    with pytest.raises(ArchiveError) as info:
        Archive.open(path)
    assert info.value.message == f"cannot open archive {path}: file is not a database"
    assert info.value.hint == NOT_SQLITE_HINT
    assert path.read_bytes() == b"my notes, not a database\n" * 200


def test_failed_write_in_a_transaction_is_rolled_back_with_the_retry_hint(
    tmp_path, archive_backend
):
    with Archive.open(tmp_path / "a.sqlite") as archive:
        with pytest.raises(ArchiveError) as info, archive.transaction() as conn:
            conn.execute("INSERT INTO sources (name) VALUES ('kept?')")
            conn.execute("INSERT INTO sources (name) VALUES (NULL)")
        assert info.value.message == (
            "cannot write the archive: NOT NULL constraint failed: sources.name"
            if archive_backend == "sqlite"
            else 'cannot write the archive: null value in column "name" of relation "sources"'
            " violates not-null constraint"
        )
        assert info.value.hint == RETRY_HINT
        assert archive.counts()["sources"] == 0
        assert not archive.conn.in_transaction


@pytest.mark.sqlite_only  # SQLite's max_page_count as a full disk
def test_full_archive_in_a_transaction_keeps_nothing(tmp_path):
    with Archive.open(tmp_path / "a.sqlite") as archive:
        archive.ensure_source("s")
        pages = archive.conn.execute("PRAGMA page_count").fetchone()[0]
        archive.conn.execute(f"PRAGMA max_page_count = {pages + 3}")
        with pytest.raises(ArchiveError) as info, archive.transaction() as conn:
            for i in range(100):
                conn.execute("INSERT INTO sources (name) VALUES (?)", (f"{i}" + "长" * 2000,))
        assert info.value.message == "cannot write the archive: database or disk is full"
        assert info.value.hint == FULL_HINT
        assert archive.counts()["sources"] == 1
        assert archive.check() == []


# -- what a file is, and the exact refusals ------------------------------------------


def test_a_file_with_exactly_our_tables_and_a_version_is_an_unmarked_archive():
    from newsmirror.store.opening import _OUR_TABLES, archive_kind

    assert archive_kind(0, 3, _OUR_TABLES) == "unmarked"
    assert archive_kind(0, 3, _OUR_TABLES | {"media"}) == "unmarked"
    assert archive_kind(0, 0, _OUR_TABLES) == "foreign"
    assert archive_kind(0, 3, _OUR_TABLES - {"feeds"}) == "foreign"


def test_an_archive_from_a_newer_newsmirror_is_refused_with_the_upgrade_hint(tmp_path):
    from newsmirror.store.schema import SCHEMA_VERSION

    path = tmp_path / "a.sqlite"
    with Archive.open(path) as archive:
        set_schema_version(archive.conn, SCHEMA_VERSION + 3)
    with pytest.raises(ArchiveError) as info:
        Archive.open(path)
    assert info.value.message == (
        f"archive schema version {SCHEMA_VERSION + 3} is newer than this newsmirror "
        f"({SCHEMA_VERSION})"
    )
    assert info.value.hint == "Upgrade newsmirror to read this archive."


def test_a_foreign_file_with_a_high_version_is_called_foreign_not_newer(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (x)")
        conn.execute("PRAGMA user_version = 999")
    before = path.read_bytes()
    with pytest.raises(ArchiveError) as info:
        Archive.open(path)
    assert info.value.message == (
        f"{path} is not a newsmirror archive (a SQLite file of another program)"
    )
    assert info.value.hint == (
        "Pass the path of a newsmirror archive, or a new file name to start one."
    )
    assert path.read_bytes() == before


OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
from newsmirror.store import Archive
path, go = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
Archive.open(path).close()
"""


@pytest.mark.sqlite_only
def test_processes_opening_a_new_archive_at_once_all_open_it(tmp_path):
    # A run and a `status` (or two workers) started together on a new archive: each
    # migrates it only if the other has not, under the write lock; none fails.
    import subprocess
    import sys

    for attempt in range(4):
        path, go = tmp_path / f"a{attempt}.sqlite", tmp_path / f"go{attempt}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_AT_ONCE, str(path), str(go)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        go.touch()
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
        with Archive.open(path) as archive:
            assert archive.check() == []


@pytest.mark.sqlite_only  # counts SQLite's COMMIT statements
def test_a_new_archive_takes_its_schema_in_one_commit_and_an_old_one_step_by_step(tmp_path):
    # One commit per migration left ~270 kB of write-ahead log for an empty archive: a
    # small full disk failed at creation, not where the data went (CI's full-disk test).
    from newsmirror.store.schema import SCHEMA_VERSION, migrate, schema_version

    def commits(conn: sqlite3.Connection) -> list[str]:
        seen: list[str] = []
        conn.set_trace_callback(lambda s: seen.append(s) if s.strip() == "COMMIT" else None)
        return seen

    new = sqlite3.connect(tmp_path / "new.sqlite", isolation_level=None)
    seen = commits(new)
    assert migrate(new) == 0 and schema_version(new) == SCHEMA_VERSION
    assert len(seen) == 1
    new.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 2}")  # two steps behind
    seen.clear()
    assert migrate(new) == SCHEMA_VERSION - 2 and schema_version(new) == SCHEMA_VERSION
    assert len(seen) == 2
