"""Copying a whole archive between engines: ``newsmirror migrate-archive FROM TO``.

Every table that is the archive's record is copied row by row with its ids, so a copy
exports the same files and keeps its revisions, export state, fetch log and run
history: SQLite -> PostgreSQL -> SQLite gives identical exports. What can be made again
is not copied: the search index (rebuilt on the next search) and the job queue.
Images are files (the media folder); they are copied when the two archives keep them in
different folders.

The target must be empty (no source and no article); it is written in one
transaction, so a failed copy leaves it empty.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsmirror.errors import ArchiveError
from newsmirror.store.archive import Archive
from newsmirror.store.dialect import PgConnection

# The archive's record, parents before children (foreign keys hold at every step).
TABLES = (
    "sources",
    "feeds",
    "articles",
    "revisions",
    "fetch_log",
    "exports",
    "media",
    "article_media",
    "site_pages",
    "runs",
    "redirects",
)
BATCH = 1000


@dataclass
class TransferSummary:
    rows: dict[str, int] = field(default_factory=dict)
    media_files: int = 0


def _is_pg(archive: Archive) -> bool:
    return isinstance(archive.conn, PgConnection)


def columns(archive: Archive, table: str) -> list[str]:
    """The columns of ``table``, in their order."""
    if _is_pg(archive):
        rows = archive.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    else:
        rows = [(r[1],) for r in archive.conn.execute(f"PRAGMA table_info({table})").fetchall()]
    return [str(r[0]) for r in rows]


def _rows(archive: Archive, table: str, names: list[str]) -> Iterator[list[tuple[Any, ...]]]:
    """The table's rows in batches, in a stable order."""
    listed = ", ".join(names)
    if "id" in names:  # by id, from where the last batch ended
        last, at = -(2**63), names.index("id")
        while batch := archive.conn.execute(
            f"SELECT {listed} FROM {table} WHERE id > ? ORDER BY id LIMIT ?", (last, BATCH)
        ).fetchall():
            yield [tuple(row) for row in batch]
            last = batch[-1][at]
        return
    offset = 0
    while batch := archive.conn.execute(
        f"SELECT {listed} FROM {table} ORDER BY {listed} LIMIT ? OFFSET ?", (BATCH, offset)
    ).fetchall():
        yield [tuple(row) for row in batch]
        offset += len(batch)


def _refuse_unless_empty(target: Archive) -> None:
    counts = target.counts()
    if counts["sources"] or counts["articles"]:
        raise ArchiveError(
            f"the target archive is not empty ({counts['sources']} sources,"
            f" {counts['articles']} articles)",
            hint="Copy into a new archive: a new SQLite file, or an empty PostgreSQL"
            " database or schema.",
        )


def copy_archive(source: Archive, target: Archive) -> TransferSummary:
    """Copy every row of ``source``'s record into the empty ``target`` (same schema
    version: both are opened, and so migrated, by this newsmirror)."""
    _refuse_unless_empty(target)
    summary = TransferSummary()
    with target.transaction() as conn:
        for table in TABLES:
            known = set(columns(target, table))
            names = [c for c in columns(source, table) if c in known]
            marks = ", ".join("?" * len(names))
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
            count = 0
            for batch in _rows(source, table, names):
                conn.executemany(sql, batch)
                count += len(batch)
            summary.rows[table] = count
            if _is_pg(target) and "id" in names:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
    summary.media_files = copy_media(source, target)
    return summary


def _inside(folder: Path, dst: Path) -> bool:
    """Whether ``folder`` (in ``dst``), once made, lies in ``dst``: its nearest existing
    ancestor does (symlinks resolved) or is above ``dst``, which is still to be made, and
    no missing part of it is a dangling symlink."""
    probe = folder
    while not probe.exists():
        if probe.is_symlink():
            return False
        probe = probe.parent
    if probe != dst and dst.is_relative_to(probe):
        return True
    return probe.resolve().is_relative_to(dst.resolve())


def copy_media(source: Archive, target: Archive) -> int:
    """Copy the image files the target's media folder lacks; how many. Symlinks are
    neither followed in the source nor written through in the target: nothing outside
    the target's folder is written."""
    src, dst = source.media_dir, target.media_dir
    if not src.is_dir() or src.resolve() == dst.resolve():
        return 0
    copied = 0
    for path in sorted(src.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        to = dst / path.relative_to(src)
        if to.exists() or to.is_symlink():
            continue
        if not _inside(to.parent, dst):
            continue  # a folder of the target that is a symlink out of it
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, to)
        copied += 1
    return copied
