"""The site's search index, built while the site's pages are rendered.

The index's own worker processes (publish/search.py) count its grams; the thread that
drives them here mostly waits for them. So the build starts the index first, in a thread
of its own, and renders the pages in the main thread meanwhile, instead of leaving one
core idle while the pages are rendered and the other waiting while the index is built.

The archive stays with the main thread (its connection is not shared between threads):
the index's requests for article texts are relayed to it, and it answers them between two
files (:meth:`SearchJob.serve`, which every ``emit`` calls) and, once its own work is
done, until the index is (:meth:`SearchJob.finish`). The index books its files in its own
:class:`~newsmirror.publish.sitebuild.Files`, merged into the site's at the end, in the
order a build without the thread made them.

When the build fails or is interrupted (Ctrl-C, SIGTERM), :meth:`SearchJob.cancel` makes
the index's next request for texts fail, and waits while the thread stops its workers and
removes its scratch folder.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newsmirror.models import ArticleRecord
from newsmirror.publish import search
from newsmirror.publish.pages import Entry
from newsmirror.publish.sitebuild import Files

Contents = Callable[[list[int]], Mapping[int, str]]


class Cancelled(Exception):
    """The build the index belongs to has stopped: the index stops too."""


@dataclass(eq=False)  # each request is itself (kept in a set while it is open)
class _Request:
    ids: list[int]
    done: threading.Event = field(default_factory=threading.Event)
    texts: Mapping[int, str] | None = None
    error: BaseException | None = None


class _Relay:
    """Requests for article texts from the index's thread, answered by the main thread."""

    def __init__(self, contents: Contents) -> None:
        self._contents = contents
        self._requests: queue.Queue[_Request | None] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._open: set[_Request] = set()  # asked and not answered yet

    def ask(self, ids: list[int]) -> Mapping[int, str]:
        """The texts of ``ids`` (the index's thread); Cancelled once the relay is closed."""
        request = _Request(list(ids))
        with self._lock:
            if self._closed:
                raise Cancelled
            self._open.add(request)
            self._requests.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.texts is not None
        return request.texts

    def ended(self) -> None:
        """The index's thread is done (what :meth:`serve_until_ended` waits for)."""
        self._requests.put(None)

    def serve(self) -> None:
        """Answer the requests waiting now (the main thread, between two files)."""
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            if request is None:  # the thread ended: keep the mark for serve_until_ended
                self._requests.put(None)
                return
            self._answer(request)

    def serve_until_ended(self) -> None:
        """Answer requests until the index's thread ends."""
        while True:
            try:
                request = self._requests.get(timeout=0.1)  # a signal gets through meanwhile
            except queue.Empty:
                continue
            if request is None:
                return
            self._answer(request)

    def close(self) -> None:
        """Refuse every request from now on, those waiting included (also one this thread
        had taken but not answered when a Ctrl-C came)."""
        with self._lock:
            self._closed = True
            waiting, self._open = self._open, set()
        for request in waiting:
            if not request.done.is_set():
                request.error = Cancelled()
                request.done.set()

    def _answer(self, request: _Request) -> None:
        try:
            request.texts = self._contents(request.ids)
        except Exception as exc:  # the index's thread raises it; the build reports it
            request.error = exc
        finally:
            if request.texts is None and request.error is None:  # Ctrl-C here
                request.error = Cancelled()
            with self._lock:
                self._open.discard(request)
            request.done.set()


class SearchJob:
    """The search index of one build, in a thread of its own."""

    def __init__(
        self,
        docs: Sequence[search.SearchDoc],
        contents: Contents,
        root: Path,
        previous: Mapping[str, str],
    ) -> None:
        self.files = Files(root, previous)
        self._docs = docs
        self._previous = previous
        manifest = self.files.writer.root / "search" / "manifest.js"
        self._manifest = manifest.read_bytes() if manifest.is_file() else None
        self._relay = _Relay(contents)
        self._summary: search.IndexSummary | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="newsmirror search index")

    def start(self) -> SearchJob:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._summary = search.update_index(
                self._docs, self._relay.ask, self.files, self._previous, self._manifest
            )
        except BaseException as exc:  # handed to the main thread by finish()
            self._error = exc
        finally:
            self._relay.ended()

    def serve(self) -> None:
        """Answer the index's waiting requests for texts (cheap when there are none)."""
        self._relay.serve()

    def finish(self) -> search.IndexSummary:
        """Wait for the index (answering its requests); its error, if it failed."""
        self._relay.serve_until_ended()
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._summary is not None
        return self._summary

    def cancel(self) -> None:
        """Stop the index (the build failed): its workers end, its scratch goes."""
        self._relay.close()
        if self._thread.ident is not None:  # started (a Ctrl-C may come inside start())
            self._thread.join()


def search_docs(heads: list[ArticleRecord], entries: list[Entry]) -> list[search.SearchDoc]:
    """What the index needs of every article, oldest first."""
    return [
        search.SearchDoc(h.id, e.href, e.title, e.source, e.iso, h.timezone, h.version)
        for h, e in zip(reversed(heads), reversed(entries), strict=True)
    ]
