"""The Jekyll tree: one post per article (the format: :mod:`newsmirror.publish.postformat`),
written incrementally by :func:`export_jekyll`, each article in exactly one file; and the
files that make the tree a Jekyll site (:func:`write_site_files`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from newsmirror.decide import needs_write
from newsmirror.files import is_leftover
from newsmirror.forked import can_fork, side_by_side
from newsmirror.publish import internal_links, redirects
from newsmirror.publish.pages import fold
from newsmirror.publish.postformat import (
    MEDIA_DIR,
    POSTS_DIR,
    disambiguated,
    localise_images,
    post_filename,
    render_post,
    valid_filename,
    yaml_quoted,
)
from newsmirror.publish.writer import OutputWriter
from newsmirror.store import Archive, ArticleRecord, ExportRecord
from newsmirror.store.exports import ExportHead

BATCH = 100  # posts whose bodies (and images) are read in one query

__all__ = [
    "MEDIA_DIR",
    "POSTS_DIR",
    "ExportSummary",
    "export_jekyll",
    "localise_images",
    "post_filename",
    "render_post",
    "valid_filename",
    "write_site_files",
]


@dataclass
class ExportSummary:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    total: int = 0

    def line(self) -> str:
        return (
            f"{self.total} posts: {self.written} written, {self.unchanged} unchanged, "
            f"{self.removed} removed"
        )


def _preferred_name(article: ArticleRecord | ExportHead) -> str:
    if article.jekyll_name and valid_filename(article.jekyll_name):
        return article.jekyll_name
    return post_filename(article.published, article.title)


class _Candidates:
    """The article's possible files, in order of preference, each made when first asked
    for: the plain name is cheap, the hashed ones cost a canonical URL and a SHA-1, and
    most articles keep their plain name."""

    def __init__(self, head: ArticleRecord | ExportHead) -> None:
        self._head = head
        self._made: list[str] = []
        self._name = ""

    def _next(self) -> bool:
        head, made = self._head, len(self._made)
        if made == 0:
            self._name = _preferred_name(head)
            name = self._name
        elif made == 1:
            name = disambiguated(self._name, head.url)
        elif made == 2:
            name = disambiguated(self._name, head.url, head.source)
        elif made == 3:
            name = disambiguated(self._name, head.url, head.source, None)
        else:
            return False
        self._made.append(f"{POSTS_DIR}/{name}")
        return True

    def __iter__(self) -> Iterator[str]:
        i = 0
        while i < len(self._made) or self._next():
            yield self._made[i]
            i += 1

    def last(self) -> str:
        while self._next():
            pass
        return self._made[-1]


def _choose_path(
    head: ArticleRecord | ExportHead,
    record: ExportRecord | None,
    owners: dict[str, int],
    on_disk: set[str],
) -> str:
    """The article's file: the one it has, else its name, else its name with a hash; never
    one that differs only by case from another article's file or a foreign file (they
    would be one file on Windows and macOS). ``owners`` and ``on_disk`` are keyed by
    :func:`fold`."""
    candidates = _Candidates(head)
    if (
        record is not None
        and owners.get(fold(record.path)) == head.id
        and record.path in candidates
    ):
        return record.path
    for path in candidates:
        owner = owners.get(fold(path))
        if owner == head.id or (owner is None and fold(path) not in on_disk):
            return path
    return f"{POSTS_DIR}/{candidates.last()[len(POSTS_DIR) + 1 : -3]}-{head.id}.md"


def _files_in(folder: Path) -> set[str]:
    """The posts' folder's files (folded), a killed export's temporary files removed."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return set()
    for name in filter(is_leftover, names):
        with contextlib.suppress(OSError):
            (folder / name).unlink()
    return {fold(f"{POSTS_DIR}/{name}") for name in names if not is_leftover(name)}


def export_jekyll(archive: Archive, out: Path, *, media_dir: Path | None = None) -> ExportSummary:
    """Write or update ``out/_posts`` so that it holds one post per article.

    With ``media_dir`` (the archive's mirrored images), the images a post uses are
    copied to ``out/media/`` and the post points at them with relative paths. Only
    articles whose export record is out of date are rendered; when none is, nothing is
    read beyond the records and the articles' heads, and nothing is written.
    """
    writer = OutputWriter(out)
    target = str(writer.root)
    records = archive.export_records(target)
    owners: dict[str, int] = {}  # fold(path) -> article; the older record wins a clash
    for aid in sorted(records):
        owners.setdefault(fold(records[aid].path), aid)
    on_disk = _files_in(writer.root / POSTS_DIR)
    summary = ExportSummary()
    todo: list[tuple[ExportHead, str]] = []  # (head, file) of the posts to write
    stale: list[str] = []
    retitled: list[tuple[int, str]] = []  # (article, its post's file before)
    kept: dict[int, tuple[ExportHead, str]] = {}  # every article's head and file
    heads = archive.export_heads()
    new = [h.url for h in heads if h.id not in records]  # links to them stay inside
    recheck = internal_links.export_recheck(archive, new, len(records))
    for head in heads:
        summary.total += 1
        record = records.get(head.id)
        path = _choose_path(head, record, owners, on_disk)
        kept[head.id] = (head, path)
        if head.id not in recheck and not needs_write(
            record,
            version=head.version,
            path=path,
            on_disk_size=writer.size(path),
            media_rev=head.media_rev,
        ):
            summary.unchanged += 1
            continue
        if record is not None and record.path != path:
            stale.append(record.path)
            if record.size >= 0:  # it was published: its URL redirects to the new one
                retitled.append((head.id, record.path))
            if owners.get(fold(record.path)) == head.id:
                del owners[fold(record.path)]
        owners[fold(path)] = head.id
        todo.append((head, path))
    moved: dict[int, list[str]] = {}  # article -> its old URLs: one small query
    if todo:
        # A post written at a URL another article redirected from takes that URL over:
        # the other's post is written again without it (else two posts claim one URL).
        known = redirects.redirects_of(archive)
        posts = [(head.id, path) for head, path in todo]
        moved, lost = redirects.update_moved(archive, known, posts, retitled)
        writing = {head.id for head, _path in todo}
        for aid in sorted(lost - writing):
            if aid in kept:
                todo.append(kept[aid])
                summary.unchanged -= 1
    # A renamed post's old file goes before its new one is claimed and written: an export
    # stopped between the two then leaves neither an orphan nor a second post.
    planned = {fold(path): path for _head, path in todo} | {
        fold(r.path): r.path for aid, r in records.items() if owners.get(fold(r.path)) == aid
    }
    for path in stale:
        if _is_own_file(writer.root, path, planned.get(fold(path))) and writer.remove(path):
            summary.removed += 1
    _claim(archive, target, records, todo)
    changed: list[ExportRecord] = []
    pages = _PostPages(owners)
    links = (
        internal_links.LinkMap(
            (head.url, page)
            for head, path in kept.values()
            if (page := internal_links.post_page(path))
        )
        if todo
        else None
    )
    render = _Render(writer, media_dir, pages, moved, links)
    done: tuple[tuple[list[ExportRecord], int], ...]
    for part in _parts(todo, parallel=can_fork()):
        batches = [_read_batch(archive, batch, media_dir) for batch in part]
        if len(batches) == 2:  # the second on the other core (forked.side_by_side)
            first, second = (functools.partial(render, b) for b in batches)
            done = side_by_side(first, second)
        else:
            done = (render(batches[0]),)
        for made, written in done:
            changed += made
            summary.written += written
            summary.unchanged += len(made) - written
    if changed:
        archive.save_exports(target, changed)
    if todo:
        _write_moved(writer, moved, records, changed, pages)
    return summary


def _claim(
    archive: Archive, target: str, records: dict[int, ExportRecord], todo: list[_Todo]
) -> None:
    """Record the files of new and renamed posts before they are written: after an export
    is killed (kill -9, Ctrl-C, a full disk), the next one finds the posts written so far
    as these articles' own, not as someone else's files beside which each article would
    get a second post under another name. Their size, -1, makes the next export write
    them again (the same bytes: counted unchanged)."""
    claimed = [
        ExportRecord(head.id, path, head.version, -1, head.media_rev)
        for head, path in todo
        if (record := records.get(head.id)) is None or record.path != path
    ]
    if claimed:
        archive.save_exports(target, claimed)


MOVED_DATA = "_data/moved.json"


def _write_moved(
    writer: OutputWriter,
    olds: dict[int, list[str]],
    records: dict[int, ExportRecord],
    changed: list[ExportRecord],
    pages: _PostPages,
) -> None:
    """``_data/moved.json``: each redirected old URL -> the page of its post now. The
    redirect layout reads it: jekyll-redirect-from's own target goes through Addressable's
    normalisation, which NFKC-folds the path (a post named "调查：巧用" would be sent to
    "调查:巧用", a page that does not exist)."""
    moved: dict[str, str] = {}
    paths = {aid: records[aid].path for aid in olds if aid in records}
    paths |= {r.article_id: r.path for r in changed if r.article_id in olds}
    for article_id, old in olds.items():
        path = paths.get(article_id)
        page = redirects.old_url(path[len(POSTS_DIR) + 1 :]) if path else None
        if page is not None:
            moved |= {o: page for o in pages.free(old) if o != page}
    if moved:
        text = json.dumps(dict(sorted(moved.items())), ensure_ascii=False, indent=0)
        writer.write(MOVED_DATA, (text + "\n").encode())
    elif writer.size(MOVED_DATA) is not None:
        writer.remove(MOVED_DATA)


_Todo = tuple[ExportHead, str]  # an article's head and its post's file
PARALLEL_FROM = 2 * BATCH  # posts to write for the second core to take half


def _parts(todo: list[_Todo], *, parallel: bool) -> Iterator[list[list[_Todo]]]:
    """The posts to write in parts of one or two lists (two: one for each core, when
    ``parallel`` and there are enough), each of at most 10 batches read at once."""
    if not parallel or len(todo) < PARALLEL_FROM:
        for start in range(0, len(todo), BATCH):
            yield [todo[start : start + BATCH]]
        return
    half = max(BATCH, min(10 * BATCH, len(todo) // 2))
    for start in range(0, len(todo), 2 * half):
        part = todo[start : start + 2 * half]
        yield [part[:half], part[half:]] if len(part) > half else [part]


@dataclass
class _Batch:
    """Posts to write with what they need from the archive, read before the writing
    starts (the writing may happen in a forked child, which must not use the archive)."""

    todo: list[_Todo]
    articles: dict[int, tuple[ArticleRecord, str | None]]
    media: dict[int, dict[str, tuple[str, str]]]


def _read_batch(archive: Archive, todo: list[_Todo], media_dir: Path | None) -> _Batch:
    """The posts' bodies (and images) read in one query each, BATCH posts at a time."""
    articles: dict[int, tuple[ArticleRecord, str | None]] = {}
    media: dict[int, dict[str, tuple[str, str]]] = {}
    for start in range(0, len(todo), BATCH):
        ids = [head.id for head, _path in todo[start : start + BATCH]]
        articles |= archive.export_articles(ids)
        if media_dir is not None:
            media |= archive.media_maps_of(ids)
    return _Batch(todo, articles, media)


@dataclass
class _Render:
    """Renders and writes posts (no archive access: see :class:`_Batch`)."""

    writer: OutputWriter
    media_dir: Path | None
    pages: _PostPages
    moved: dict[int, list[str]]
    links: internal_links.LinkMap | None

    def __call__(self, batch: _Batch) -> tuple[list[ExportRecord], int]:
        """Write the batch's posts: their new export records, and how many were written
        (the others were already there, byte for byte)."""
        records, written = [], 0
        for head, path in batch.todo:
            article, imported = batch.articles[head.id]
            data = self._post(head, path, article, imported, batch.media.get(head.id))
            written += self.writer.write(path, data)
            records.append(
                ExportRecord(head.id, path, article.version, len(data), article.media_rev)
            )
        return records, written

    def _post(
        self,
        head: ExportHead,
        path: str,
        article: ArticleRecord,
        imported: str | None,
        media: dict[str, tuple[str, str]] | None,
    ) -> bytes:
        content = article.content
        original = imported if path == f"{POSTS_DIR}/{head.jekyll_name}" else None
        if self.media_dir is not None and media:
            content, used = localise_images(content, media, f"../{MEDIA_DIR}/")
            for relpath in used:
                if original is None or f"../{MEDIA_DIR}/{relpath}" in original:
                    self.writer.copy_in(f"{MEDIA_DIR}/{relpath}", self.media_dir / relpath)
        if original is not None:  # an imported post unchanged since: its own bytes
            return original.encode()
        old = self.pages.free(self.moved.get(head.id, ()))
        if self.links is not None:
            content = internal_links.rewrite(content, self.links.page_of)
        if not article.imported:  # a fed article's topic tags (topics.py) are the site's only
            article = replace(article, tags=())
        return render_post(article, content, old).encode()


class _PostPages:
    """The pages of the tree's posts (folded), made when a redirect first needs them: an
    old URL is redirected only where no post has its page."""

    def __init__(self, owners: dict[str, int]) -> None:
        self._owners = owners
        self._pages: set[str] | None = None

    def free(self, paths: Sequence[str]) -> list[str]:
        if not paths:
            return []
        if self._pages is None:
            self._pages = set()
            for path in self._owners:
                url = redirects.old_url(path[len(POSTS_DIR) + 1 :])
                if url is not None:
                    self._pages.add(fold(redirects.file_of(url)))
        return [p for p in paths if fold(redirects.file_of(p)) not in self._pages]


def _is_own_file(root: Path, stale: str, current: str | None) -> bool:
    """Whether the stale file ``stale`` may go: no article's file has its name, or one has
    a name differing by case that is a separate file here (on a case-insensitive disk the
    two are one file, which must stay)."""
    if current is None:
        return True
    try:
        return not os.path.samefile(root / stale, root / current)
    except OSError:
        return True


SITE_FILES = {  # packaged file -> path in the tree
    "jekyll_site/_config.yml": "_config.yml",
    "jekyll_site/default.html": "_layouts/default.html",
    "jekyll_site/post.html": "_layouts/post.html",
    "jekyll_site/redirect.html": "_layouts/redirect.html",
    "jekyll_site/index.html": "index.html",
    "jekyll_site/archive.html": "archive.html",
    "static/style.css": "assets/style.css",
}


def write_site_files(out: Path, title: str = "新闻镜像") -> int:
    """The files that make ``out`` a Jekyll site (config, layouts, index, archive, style);
    return how many were written (unchanged ones are left alone)."""
    here = Path(__file__).parent
    writer = OutputWriter(out)
    written = 0
    for name, relpath in SITE_FILES.items():
        data = (here / name).read_bytes()
        if relpath == "_config.yml":
            data = data.replace(b"{{TITLE}}", yaml_quoted(title).encode())
        written += writer.write(relpath, data)
    return written
