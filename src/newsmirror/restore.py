"""Rebuild a lost archive from the published Jekyll tree (``newsmirror run``).

The archive is the truth, but a CI runner may start without it (cache evicted, new
runner). Then, before fetching, :func:`restore_archive` imports the Jekyll tree that
``[publish.jekyll]`` names: each post's source, title, author, URL, tags, date, body and
file name, and the mirrored images of ``media/``, so that exporting the restored
archive writes the same files byte for byte. What the tree does not hold is not
restored: revisions, whether a date was known (every restored date counts as known),
fetch history and feed state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsmirror.store import Archive, ExportRecord


@dataclass
class RestoreResult:
    """What rebuilding the archive from a published tree did."""

    path: Path
    line: str = ""
    error: str | None = None


def should_restore(archive: Archive, tree: Path | None) -> bool:
    """Restore when the archive holds no article (it was just created: the file was
    gone) and the published tree holds posts."""
    if tree is None or archive.counts()["articles"]:
        return False
    posts = tree / "_posts"
    try:
        return posts.is_dir() and any(posts.iterdir())
    except OSError:
        return False


def claim_posts(archive: Archive, tree: Path) -> int:
    """Record each restored post's file in ``tree/_posts`` as its article's export, so
    that the next export into ``tree`` keeps the file's name (a file with no record is
    another's, and the article would take a hashed name beside it). The size recorded
    is no size, so each post is rendered once more and written only if its bytes differ."""
    from newsmirror.publish.writer import OutputWriter

    posts = tree / "_posts"
    records = [
        ExportRecord(head.id, f"_posts/{head.jekyll_name}", head.version, -1, head.media_rev)
        for head in archive.export_heads()
        if head.jekyll_name and (posts / head.jekyll_name).is_file()
    ]
    archive.save_exports(str(OutputWriter(tree).root), records)
    return len(records)


def restore_archive(archive: Archive, tree: Path | None) -> RestoreResult | None:
    """When :func:`should_restore`, import newsmirror's own Jekyll export at ``tree`` into
    ``archive``; None when there was nothing to do. A tree that cannot be imported is
    reported, and the run goes on with the empty archive."""
    if tree is None or not should_restore(archive, tree):
        return None  # (before the importer's imports: PyYAML, lxml and nh3 cost 20 ms)
    from newsmirror.errors import ArchiveError, NewsmirrorError
    from newsmirror.jekyll_import import import_jekyll

    result = RestoreResult(tree)
    try:
        result.line = import_jekyll(archive, tree).line()
        claim_posts(archive, tree)
    except ArchiveError:
        raise
    except NewsmirrorError as exc:
        result.error = " ".join(exc.message.split())
    return result
