"""Checks made when an archive is opened, before anything is written to it.

A SQLite file that is not a newsmirror archive is refused (archives are marked with
``PRAGMA application_id``), and so is a damaged one (``PRAGMA quick_check``); every
SQLite error met later becomes an :class:`~newsmirror.errors.ArchiveError` the user
can act on.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from newsmirror.errors import ArchiveError
from newsmirror.store.schema import SCHEMA_VERSION

__all__ = [
    "APPLICATION_ID",
    "QUICK_CHECK_MAX_BYTES",
    "archive_kind",
    "damaged_archive_error",
    "inspect_file",
    "open_hint",
    "root_error",
    "write_hint",
]


def write_hint(exc: sqlite3.Error) -> str:
    if "full" in str(exc).lower():
        return "The disk is full: free space and run again; nothing was half-written."
    return "Nothing was half-written; run again. If it repeats, check the archive file."


# PRAGMA application_id of every newsmirror archive ("nmAr"), set when one is created
# or when an archive made before it existed is first opened.
APPLICATION_ID = 0x6E6D4172
# PRAGMA quick_check reads every page: ~20 ms for a 56 MB archive in the page cache,
# ~0.7 s from a cold disk. Larger files are opened without it (a damaged page then
# shows as an ArchiveError when it is read).
QUICK_CHECK_MAX_BYTES = 1 << 30
_OUR_TABLES = frozenset({"sources", "feeds", "articles"})
DAMAGED_HINT = (
    "Restore the archive from a backup, or salvage it with"
    " `sqlite3 ARCHIVE .recover | sqlite3 NEW.sqlite` and use NEW.sqlite."
)


def archive_kind(application_id: int, user_version: int, tables: frozenset[str]) -> str:
    """What a SQLite file is: "ours" (marked as an archive), "new" (empty, to be made
    an archive), "unmarked" (an archive from before the mark) or "foreign"."""
    if application_id == APPLICATION_ID:
        return "ours"
    if application_id != 0:
        return "foreign"
    if not tables and user_version == 0:
        return "new"
    if user_version > 0 and tables >= _OUR_TABLES:
        return "unmarked"
    return "foreign"


def use_wal(conn: sqlite3.Connection, wait: float = 30.0) -> None:
    """Put the file in WAL mode. SQLite refuses the switch at once, without waiting, while
    another process reads or makes the file (two commands started together on a new
    archive): it is tried again for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def inspect_file(conn: sqlite3.Connection, path: Path) -> str:
    """Classify the file and check it for damage, reading only (nothing is written)."""
    conn.execute("BEGIN")  # one snapshot: another process may be making the archive
    try:
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = frozenset(
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        )
    finally:
        if conn.in_transaction:  # (a file that is not a database may have ended it)
            conn.execute("ROLLBACK")
    kind = archive_kind(app_id, version, tables)
    if kind != "foreign" and version > SCHEMA_VERSION:
        raise ArchiveError(
            f"archive schema version {version} is newer than this newsmirror ({SCHEMA_VERSION})",
            hint="Upgrade newsmirror to read this archive.",
        )
    if kind == "foreign":
        raise ArchiveError(
            f"{path} is not a newsmirror archive (a SQLite file of another program)",
            hint="Pass the path of a newsmirror archive, or a new file name to start one.",
        )
    if kind != "new" and path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
        problems = [str(r[0]) for r in rows if r[0] != "ok"]
        if problems:
            first = problems[0].replace("\n", " ").removeprefix("*** in database main *** ")
            raise ArchiveError(f"the archive {path} is damaged: {first}", hint=DAMAGED_HINT)
    return kind


def root_error(exc: sqlite3.Error) -> sqlite3.Error:
    """The error behind a failed ROLLBACK (a full disk ends the transaction itself)."""
    context = exc.__context__
    if "cannot rollback" in str(exc) and isinstance(context, sqlite3.Error):
        return context
    return exc


def open_hint(exc: sqlite3.Error) -> str:
    if "not a database" in str(exc):
        return "The file is not a SQLite archive: pass the path of a newsmirror archive."
    if "malformed" in str(exc):
        return DAMAGED_HINT
    return write_hint(exc)


def one_line_repr(exc: Exception) -> str:
    """The error's text with anything unprintable shown escaped (damaged bytes)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(exc))


def damaged_archive_error(exc: sqlite3.Error) -> ArchiveError:
    """A SQLite error met while reading or writing, as the error the user sees."""
    if "full" in str(exc).lower():
        return ArchiveError(f"cannot write the archive: {exc}", hint=write_hint(exc))
    text = str(exc).lower()
    # Bytes that are no UTF-8 in a text column: the archive writes only valid text, so
    # the page holding them was damaged (as a malformed page would be).
    if isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in text or "could not decode to utf-8" in text
    ):
        return ArchiveError(f"the archive is damaged: {one_line_repr(exc)}", hint=DAMAGED_HINT)
    return ArchiveError(f"cannot read or write the archive: {exc}")
