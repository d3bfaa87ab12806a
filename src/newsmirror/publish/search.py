"""The site's search index: files under ``search/`` that the search page loads as
scripts (so that it works from any static host and from disk).

The site hands :func:`update_index` one :class:`SearchDoc` per article and what the
last build recorded; this module decides (with the plain functions of
``searchindex``) which articles need a new doc id, which segments to build or merge,
and writes only those files through the site's writer. An unchanged article keeps its
doc file, an unchanged segment its shard files: adding a few articles writes their doc
files, one small segment and the manifest.

Grams are counted with numpy in a pool of processes; (gram, doc) pairs, packed in one
integer each, go through partition files in a scratch folder (each worker appends to its
own), so that memory stays bounded at any size; each partition is then sorted and encoded
into whole shards. Doc files hold PACK docs each (fewer files: creating one costs more
than writing it). When the site lets them (SharedOutput), the workers write the doc
files and shards they make, so that creating files is spread over the cores too.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, cast

import numpy as np

from newsmirror.htmltext import plain_text
from newsmirror.publish import searchfiles as sf
from newsmirror.publish import searchindex as si
from newsmirror.publish import searchshards
from newsmirror.publish.writer import OutputWriter
from newsmirror.textsearch import fold_table

BATCH = 400  # docs per task
POOL_FROM = 1500  # docs: fewer are indexed in this process


@dataclass(frozen=True)
class SearchDoc:
    """An article as the index needs it (its text is read only when it is indexed)."""

    article: int
    url: str  # relative to the site root
    title: str
    source: str
    iso: str
    zone: str
    version: int

    @cached_property
    def key(self) -> str:
        """What its doc file is made of: a new key gives the article a new doc id."""
        parts = (si.VERSION, self.version, self.url, self.title, self.source, self.iso, self.zone)
        return hashlib.sha1(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


class Output(Protocol):
    """Where the files go (the site: its writer and its record of what it made)."""

    def emit(self, path: str, text: str | bytes, stamp: str | None = None) -> None: ...

    def unchanged(self, path: str, stamp: str) -> bool: ...


class SharedOutput(Output, Protocol):
    """An output whose files the indexer's workers may write themselves, each through
    an OutputWriter of ``writer.root`` (atomically, only there, never the same bytes
    again); ``record`` then books each one as if it had been emitted (``written``: its
    bytes changed). Creating a file costs far more than computing it: this spreads the
    cost over the workers instead of the one process that emits."""

    writer: OutputWriter

    def record(self, path: str, stamp: str, written: bool) -> None: ...


def _shared(out: Output) -> SharedOutput | None:
    """``out`` if it lets the workers write (see SharedOutput)."""
    writer = getattr(out, "writer", None)
    if callable(getattr(out, "record", None)) and isinstance(writer, OutputWriter):
        return cast(SharedOutput, out)
    return None


Contents = Callable[[list[int]], Mapping[int, str]]


@dataclass
class IndexSummary:
    seconds: float = 0.0
    indexed: int = 0  # docs whose grams were counted this time
    segments: int = 0


def previous_docs(previous: Mapping[str, str]) -> dict[int, tuple[int, str]]:
    """article id -> (doc id, key), from the stamps of the last build's doc files
    ("docs <doc>:<article>:<key> ..."); the newest doc id of an article wins."""
    out: dict[int, tuple[int, str]] = {}
    prefix = f"{si.FOLDER}/d/"
    for path, stamp in previous.items():
        if path.startswith(prefix) and stamp.startswith("docs "):
            for item in stamp.split(" ")[1:]:
                doc, article, key = item.split(":")
                if int(article) not in out or out[int(article)][0] < int(doc):
                    out[int(article)] = (int(doc), key)
    return out


def load_manifest(data: bytes | None, previous: Mapping[str, str]) -> si.Manifest | None:
    """The last build's manifest if it is there, readable and matches its record."""
    if data is None:
        return None
    try:
        name, value = sf.read_js(data)
        manifest = si.parse_manifest(value)
    except ValueError:
        return None
    for segment in manifest.segments:
        if any(
            sf.path_of(f"{segment.name}/{shard:x}") not in previous
            for shard in range(segment.shards)
        ):
            return None
    return manifest if name == si.MANIFEST else None


def update_index(
    docs: Sequence[SearchDoc],
    contents: Contents,
    out: Output,
    previous: Mapping[str, str],
    manifest: bytes | None,
) -> IndexSummary:
    """Bring ``search/`` up to date with ``docs`` (in order of publication).

    ``previous``: path -> stamp of the last build's files; ``manifest``: the bytes of
    its ``search/manifest.js`` (None if there is none)."""
    started = time.perf_counter()
    old = load_manifest(manifest, previous)
    before = previous_docs(previous) if old else {}
    old = old or si.Manifest()
    plan = si.plan_docs(before, [(d.article, d.key) for d in docs], old.next)
    by_article = {d.article: d for d in docs}
    live = {**plan.keep, **plan.new}  # article -> doc id
    article_of = {doc: article for article, doc in live.items()}
    segments = list(old.segments)
    if plan.new:
        first, last = min(plan.new.values()), max(plan.new.values())
        segments.append(si.Segment(si.segment_name(first, last), first, last, 0, len(plan.new)))
    deleted = sorted(set(old.deleted) | set(plan.deleted))
    rebuild = _rebuild(segments, out, previous, set(article_of) | set(deleted))
    summary = IndexSummary(segments=len(rebuild.segments))
    packs = _Packs(article_of, by_article, set(plan.new.values()), contents, out)
    packs.touch(plan.deleted)
    for segment in rebuild.segments:
        members = [d for d in range(segment.first, segment.last + 1) if d in article_of]
        fresh = {d for d in members if article_of[d] in plan.new}
        built = _build_segment(segment, members, fresh, article_of, packs, contents, out)
        summary.indexed += len(members)
        deleted = [d for d in deleted if not segment.first <= d <= segment.last]
        rebuild.final[rebuild.final.index(segment)] = built
    packs.finish(previous)
    final = si.Manifest(len(live), plan.next, rebuild.final, deleted)
    out.emit(sf.path_of(si.MANIFEST), sf.js_file(si.MANIFEST, final.value()))
    out.emit(sf.path_of(si.FOLD), sf.js_file(si.FOLD, si.fold_value(fold_table())))
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass
class _Rebuild:
    final: list[si.Segment]
    segments: list[si.Segment]  # those to build (placeholders in ``final``)


def _rebuild(
    segments: list[si.Segment], out: Output, previous: Mapping[str, str], known: set[int]
) -> _Rebuild:
    """Which segments to build: the new one and the merges it sets off; a kept segment
    whose files are gone is built again too, and so is one whose first doc id is neither
    live nor deleted (``known``: those that are). A segment counts its docs from its
    first live one, which it names as its first; one that names a doc neither live nor
    deleted was built by an earlier newsmirror, which counted from another doc than it
    named, so that every result of the segment was another article."""
    sizes = [s.docs for s in segments]
    final = list(segments)
    fresh = {s.name for s in segments if s.shards == 0}
    for count in si.merges(sizes):
        group = final[-count:]
        merged = si.Segment(
            si.segment_name(group[0].first, group[-1].last),
            group[0].first,
            group[-1].last,
            0,
            sum(s.docs for s in group),
        )
        final[-count:] = [merged]
        fresh.add(merged.name)
    for segment in final:
        if segment.name in fresh:
            continue
        if segment.docs and segment.first not in known:
            fresh.add(segment.name)
            continue
        for shard in range(segment.shards):
            path = sf.path_of(f"{segment.name}/{shard:x}")
            if not out.unchanged(path, previous.get(path, "")):
                fresh.add(segment.name)
    return _Rebuild(final, [s for s in final if s.name in fresh])


class _Packs:
    """The doc files: PACK docs each. A pack is written when one of its docs is new, or
    was deleted, or its file is not as the last build left it; docs that are not new
    are read again for that (only at the edges of a build, or after a loss)."""

    def __init__(
        self,
        article_of: dict[int, int],
        by_article: dict[int, SearchDoc],
        fresh: set[int],
        contents: Contents,
        out: Output,
    ) -> None:
        self.article_of, self.by_article, self.contents, self.out = (
            article_of,
            by_article,
            contents,
            out,
        )
        self.waiting: dict[int, int] = {}  # pack -> new docs not seen yet
        for doc in fresh:
            self.waiting[doc // sf.PACK] = self.waiting.get(doc // sf.PACK, 0) + 1
        self.values: dict[int, dict[int, str]] = {}  # pack -> doc -> value (js_text)
        self.touched: set[int] = set(self.waiting)
        self.done: set[int] = set()

    def touch(self, docs: Sequence[int]) -> None:
        self.touched |= {d // sf.PACK for d in docs}

    def whole(self, docs: Sequence[int], fresh: set[int]) -> list[int]:
        """The packs waiting to be written whose live docs are all among ``docs`` and
        all fresh: a worker that has those docs can write them by itself."""
        here = set(docs)
        packs = sorted(p for p in {d // sf.PACK for d in docs if d in fresh} if p in self.waiting)
        return [p for p in packs if all(m in here and m in fresh for m in self.members(p))]

    def written_by_worker(self, pack: int, written: bool, out: SharedOutput) -> None:
        """Book a pack a worker wrote (or found as it is)."""
        self.waiting.pop(pack, None)
        self.values.pop(pack, None)
        self.done.add(pack)
        out.record(sf.path_of(sf.pack_name(pack)), self.stamp(pack), written)

    def members(self, pack: int) -> list[int]:
        return [d for d in range(pack * sf.PACK, pack * sf.PACK + sf.PACK) if d in self.article_of]

    def stamp(self, pack: int) -> str:
        items = [
            f"{d}:{self.article_of[d]}:{self.by_article[self.article_of[d]].key}"
            for d in self.members(pack)
        ]
        return " ".join(["docs", *items])

    def add(self, doc: int, value: str) -> None:
        pack = doc // sf.PACK
        self.values.setdefault(pack, {})[doc] = value
        self.waiting[pack] -= 1
        if not self.waiting[pack]:
            self._emit(pack)

    def _emit(self, pack: int) -> None:
        values = self.values.pop(pack, {})
        self.done.add(pack)
        if not self.members(pack):
            return  # no live doc: the file goes
        missing = [d for d in self.members(pack) if d not in values]
        if missing:
            texts = self.contents([self.article_of[d] for d in missing])
            for d in missing:
                x = self.by_article[self.article_of[d]]
                text = plain_text(texts.get(x.article, ""))
                values[d] = sf.js_text(sf.doc_value(x.url, x.title, x.source, x.iso, text, x.zone))
        path = sf.path_of(sf.pack_name(pack))
        self.out.emit(path, sf.pack_file(pack, values), self.stamp(pack))

    def finish(self, previous: Mapping[str, str]) -> None:
        """Write the packs not written yet that need it."""
        packs = {d // sf.PACK for d in self.article_of} | self.touched
        for pack in sorted(packs - self.done):
            path = sf.path_of(sf.pack_name(pack))
            stamp = self.stamp(pack)
            kept = previous.get(path) == stamp and self.out.unchanged(path, stamp)
            if pack in self.touched or not kept:
                self._emit(pack)


# -- building one segment ------------------------------------------------------------------


def _build_segment(
    segment: si.Segment,
    members: list[int],
    fresh: set[int],
    article_of: dict[int, int],
    packs: _Packs,
    contents: Contents,
    out: Output,
) -> si.Segment:
    """Count the grams of the segment's live docs, write its shards and the doc files
    of its fresh docs; the segment as built.

    Map: each batch of docs becomes doc files and packed (gram, doc) keys, appended by
    the worker to its own file of each partition (by gram hash). Reduce: each partition
    is sorted and encoded into whole shards. The workers write the files themselves
    when ``out`` lets them (SharedOutput), else hand them back to be emitted here."""
    parts = si.partition_count(len(members))
    pairs = 0
    shared = _shared(out)
    root = str(shared.writer.root) if shared else None
    with _scratch() as scratch, _pool(len(members)) as pool:
        tasks = _map_tasks(members, fresh, article_of, packs, contents, scratch, parts, root)
        for doc_values, written, count in _run(pool, _map_batch, tasks):
            for doc, value in doc_values:
                packs.add(doc, value)
            for pack, changed in written:
                packs.written_by_worker(pack, changed, cast(SharedOutput, shared))
            pairs += count
        shards = si.shard_count(pairs, parts, len(members))
        masks = len(members) >= si.MASKS_FROM
        reduce_tasks = (
            _Reduce(scratch, p, parts, segment, shards, masks, root) for p in range(parts)
        )
        for files in _run(pool, _reduce_partition, reduce_tasks):
            for path, data, stamp, changed in files:
                if shared is not None and data is None:
                    shared.record(path, stamp, changed)
                elif data is not None:
                    out.emit(path, data, stamp)  # the stamp the worker computed
    first = members[0] if members else segment.first  # what the keys count from
    return si.Segment(segment.name, first, segment.last, shards, len(members))


@dataclass(frozen=True)
class _Batch:
    scratch: str
    parts: int
    first: int  # the segment's first doc id
    docs: list[tuple[Any, ...]]
    root: str | None = None  # where the worker writes its packs (None: it hands them back)
    packs: tuple[int, ...] = ()  # the packs it writes: all their live docs are here, fresh


def _map_tasks(
    members: list[int],
    fresh: set[int],
    article_of: dict[int, int],
    packs: _Packs,
    contents: Contents,
    scratch: str,
    parts: int,
    root: str | None,
) -> Iterator[_Batch]:
    """The map batches of a segment's live ``members``; their keys count docs from the
    first of them, which the segment as built names as its first (a deleted doc before
    it is no doc of the segment)."""
    first = members[0] if members else 0
    for start in range(0, len(members), BATCH):
        part = members[start : start + BATCH]
        texts = contents([article_of[d] for d in part])
        batch = []
        for doc in part:
            d = packs.by_article[article_of[doc]]
            html = texts.get(d.article, "")
            batch.append((doc, doc in fresh, d.url, d.title, d.source, d.iso, d.zone, html))
        whole = tuple(packs.whole(part, fresh)) if root is not None else ()
        yield _Batch(scratch, parts, first, batch, root, whole)


def _map_batch(batch: _Batch) -> tuple[list[tuple[int, str]], list[tuple[int, bool]], int]:
    """The doc values of the batch's fresh docs (those of its whole packs written to
    files, the others handed back); its keys go to the partition files. Also which
    packs were written (True) or found as they are (False), and the number of body
    keys."""
    docs_out = []
    whole: dict[int, dict[int, str]] = {p: {} for p in batch.packs}
    body: list[tuple[Any, int]] = []
    masks: list[Any] = []
    title: list[tuple[Any, int]] = []
    for doc, write, url, head, source, iso, zone, html in batch.docs:
        text = si.clean_plain(plain_text(html))
        if write:
            value = sf.js_text(sf.doc_value(url, head, source, iso, text, zone, cleaned=True))
            if doc // sf.PACK in whole:
                whole[doc // sf.PACK][doc] = value
            else:
                docs_out.append((doc, value))
        head = si.clean(head)
        codes, follow = si.codes_and_masks(head + "\n" + text, folded=False)
        body.append((codes, doc))
        masks.append(follow)
        title.append((si.codes_of(head, folded=False), doc))
    count = 0
    for kind, rows in (("b", body), ("t", title)):
        codes = np.concatenate([c for c, _ in rows]) if rows else np.zeros(0, np.int64)
        docs = np.repeat(np.array([d for _, d in rows], dtype=np.int64), [len(c) for c, _ in rows])
        nexts = np.concatenate(masks) if kind == "b" and masks else None
        _append_parts(batch, kind, codes, docs, nexts)
        if kind == "b":
            count = len(codes)
    written = []
    if whole:
        writer = OutputWriter(Path(str(batch.root)))
        for pack, values in whole.items():
            written.append(
                (pack, writer.write(sf.path_of(sf.pack_name(pack)), sf.pack_file(pack, values)))
            )
    return docs_out, written, count


def _append_parts(batch: _Batch, kind: str, codes: Any, docs: Any, masks: Any = None) -> None:
    """Packed keys (and their masks, in a file beside), each to its partition's file of
    this worker (by the gram's hash)."""
    if not len(codes):
        return
    keys = si.pack_keys(codes, docs, batch.first)
    part = (si.hash_codes(codes) % np.uint32(batch.parts)).astype(np.uint16)
    order = np.argsort(part, kind="stable")
    keys, part = keys[order], part[order]
    masks = masks[order] if masks is not None else None
    bounds = np.searchsorted(part, np.arange(batch.parts + 1))
    for p in range(batch.parts):
        lo, hi = bounds[p], bounds[p + 1]
        if lo < hi:
            with open(f"{batch.scratch}/{kind}{p}.{os.getpid()}", "ab") as f:
                keys[lo:hi].tofile(f)
            if masks is not None:
                with open(f"{batch.scratch}/m{kind}{p}.{os.getpid()}", "ab") as f:
                    masks[lo:hi].tofile(f)


@dataclass(frozen=True)
class _Reduce:
    scratch: str
    part: int
    parts: int
    segment: si.Segment
    shards: int
    masks: bool  # with neighbour masks
    root: str | None  # where the worker writes the shards (None: it hands them back)


def _reduce_partition(task: _Reduce) -> list[tuple[str, bytes | None, str, bool]]:
    """The shards of one partition: its keys sorted, grouped and encoded (with the
    neighbour masks of pairs and trigrams if ``task.masks``), each as (path, bytes,
    stamp, changed); written here if ``task.root`` is given (bytes None)."""
    grams = []
    for kind in ("b", "t"):
        files = sorted(Path(task.scratch).glob(f"{kind}{task.part}.*"))
        keys = [np.fromfile(f, dtype=np.uint64) for f in files]
        data = np.concatenate(keys) if keys else np.zeros(0, np.uint64)
        masks = None
        if kind == "b":
            nexts = [np.fromfile(f.with_name("m" + f.name), dtype=np.uint8) for f in files]
            masks = np.concatenate(nexts) if nexts else np.zeros(0, np.uint8)
            _release([f.with_name("m" + f.name) for f in files])
        _release(files)
        grams.append(searchshards.grams(data, masks if task.masks else None, task.shards))
        del data, keys, masks
    # Every shard is written, empty ones too: a build checks that all of a segment's
    # files are still there before it keeps the segment.
    shards = range(task.part, task.shards, task.parts)
    made = searchshards.files(task.segment.name, grams[0], grams[1], shards)
    writer = OutputWriter(Path(task.root)) if task.root is not None else None
    out: list[tuple[str, bytes | None, str, bool]] = []
    for shard, file in made:
        path = sf.path_of(f"{task.segment.name}/{shard:x}")
        stamp = hashlib.sha1(file).hexdigest()
        if writer is None:
            out.append((path, file, stamp, True))
        else:
            out.append((path, None, stamp, writer.write(path, file)))
    return out


def _release(files: list[Path]) -> None:
    """Free the disk space of scratch files read for the last time, keeping the files
    (emptied) until the scratch folder goes at the end: on ext4 without a journal,
    every file created soon after a removal pays for skipping each inode recently freed
    in its group (``recently_deleted``), which made creating the shards after removing
    the partition files cost up to a millisecond each."""
    for f in files:
        os.truncate(f, 0)


@contextmanager
def _scratch() -> Iterator[str]:
    """A scratch folder, removed on the way out even when Ctrl-C or SIGTERM comes
    during the removal (they are held back until it is done)."""
    held = {signal.SIGINT, signal.SIGTERM}
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        folder = tempfile.mkdtemp(prefix="nm-search-")
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
            yield folder
        finally:
            signal.pthread_sigmask(signal.SIG_BLOCK, held)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


# -- the process pool ------------------------------------------------------------------------


@contextmanager
def _pool(docs: int) -> Iterator[Pool | None]:
    workers = min(os.cpu_count() or 1, 4)
    if docs < POOL_FROM or workers < 2:
        yield None
        return
    context = multiprocessing.get_context("forkserver")
    # The fork server (when it starts) imports this module and numpy once for all the
    # workers it forks, rather than each worker for itself. "__main__": as by default.
    context.set_forkserver_preload(["__main__", __name__])
    pool = context.Pool(workers, initializer=_quiet_worker, initargs=(_umask(),))
    try:
        yield pool
        pool.close()
        pool.join()
    finally:
        pool.terminate()


def _quiet_worker(umask: int) -> None:
    """Workers leave Ctrl-C to the parent, which stops them; they create files under
    the parent's umask (the fork server keeps the one it started with)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.umask(umask)


def _umask() -> int:
    """This process's umask, read without setting it where Linux tells it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _run(pool: Pool | None, func: Callable[[Any], Any], tasks: Iterator[Any]) -> Iterator[Any]:
    """func over tasks in order, a few at a time (tasks are read lazily: their inputs
    are large), in the pool if there is one."""
    if pool is None:
        for task in tasks:
            yield func(task)
        return
    window: deque[AsyncResult[Any]] = deque()
    for task in tasks:
        window.append(pool.apply_async(func, (task,)))
        if len(window) >= 4:
            yield window.popleft().get()
    while window:
        yield window.popleft().get()


# -- interrupts ------------------------------------------------------------------------------


def _raise_for(signum: int, _frame: FrameType | None) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the cleanup finish
    raise SystemExit(128 + signum)


@contextmanager
def terminate_cleanly() -> Iterator[None]:
    """While inside, SIGTERM ends the run as an exception (SystemExit 143) rather than on
    the spot, so that the indexer's workers are stopped and its scratch folder removed
    on the way out, as on Ctrl-C. Only in the main thread, and only when nobody else
    handles SIGTERM."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_for)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
