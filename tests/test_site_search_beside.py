"""The search index is built in a thread of its own while the pages render
(publish/sitesearch.py): its texts come from the archive through the main thread, its
files are counted and recorded with the site's, and a failure on either side stops both."""

from __future__ import annotations

import hashlib
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsmirror.errors import OutputError
from newsmirror.publish.searchread import Reader
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.store import Archive

WORDS = ["蝴蝶标本", "潜水艇", "銀杏葉", "zebracrossing", "灯塔守护人"]


def fill(archive: Archive) -> list[str]:
    """One article per word, its body the only place the word is; their URLs."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    urls = []
    for i, word in enumerate(WORDS):
        url = f"https://news.example/{i}"
        archive.import_article(
            source="来源甲",
            url=url,
            title=f"第{i}篇",
            author="",
            content=f"<p>开头的话。</p><p>正文提到{word}一次。</p>",
            tags=[],
            published=start + timedelta(hours=i),
            date_known=True,
            published_raw="",
            jekyll_name="",
            now=start,
        )
        urls.append(url)
    archive.conn.commit()
    return urls


def page_of(url: str) -> str:
    return f"posts/2024/03/{hashlib.sha1(url.encode()).hexdigest()[:12]}.html"


def reader(root: Path) -> Reader:
    def load(name: str) -> bytes | None:
        path = root / "search" / f"{name}.js"
        return path.read_bytes() if path.exists() else None

    return Reader(load)


def index_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "search index" in t.name]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """Where the indexer makes its scratch folder."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_the_index_holds_every_body_and_its_files_count_as_the_sites(tmp_path, scratch):
    out = tmp_path / "site"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        urls = fill(archive)
        first = build_site(archive, out, SiteOptions())
        on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
        again = build_site(archive, out, SiteOptions())
    found = reader(out)
    for word, url in zip(WORDS, urls, strict=True):  # each body reached the index
        assert found.search(word).urls == [page_of(url)], word
    assert first.search_pages == len(WORDS)
    assert first.written == first.pages == len(on_disk)  # the index's files included
    assert any(p.startswith("search/") for p in on_disk)
    assert (again.written, again.removed, again.pages) == (0, 0, first.pages)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == on_disk
    assert index_threads() == []
    assert list(scratch.iterdir()) == []


def test_a_page_that_cannot_be_written_stops_the_index(tmp_path, scratch):
    out = tmp_path / "site"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for url in fill(archive):
            (out / page_of(url)).mkdir(parents=True)  # a folder where the page goes
        with pytest.raises(OutputError, match="cannot write"):
            build_site(archive, out, SiteOptions())
    assert index_threads() == []  # no thread left waiting for texts
    assert list(scratch.iterdir()) == []  # nor its scratch folder
    assert not (out / "search" / "manifest.js").exists()


def test_an_index_that_cannot_be_written_fails_the_build_plainly(tmp_path, scratch):
    out = tmp_path / "site"
    (out / "search" / "manifest.js").mkdir(parents=True)
    with Archive.open(tmp_path / "a.sqlite") as archive:
        fill(archive)
        with pytest.raises(OutputError, match=r"manifest\.js"):
            build_site(archive, out, SiteOptions())
        assert archive.site_stamps(str(out.resolve())) == {}  # nothing recorded as made
    assert (out / "index.html").is_file()  # the pages were done meanwhile
    assert index_threads() == []
    assert list(scratch.iterdir()) == []


def test_a_request_taken_but_not_answered_when_the_build_stops_does_not_hang_the_index():
    # A Ctrl-C between taking the index's request and answering it: the build cancels the
    # index, which must end instead of waiting for that answer forever.
    from newsmirror.publish.sitesearch import Cancelled, _Relay

    relay = _Relay(lambda ids: dict.fromkeys(ids, "text"))
    outcome: list[object] = []

    def index() -> None:
        try:
            outcome.append(relay.ask([1, 2]))
        except Cancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=index)
    thread.start()
    taken = relay._requests.get(timeout=5)  # what serve() does before the interruption
    assert taken is not None
    relay.close()
    thread.join(5)
    assert not thread.is_alive()
    assert outcome == ["cancelled"]


@pytest.mark.parametrize("where", ["start", "finish"])
def test_a_ctrl_c_as_the_index_starts_or_is_awaited_stops_it(tmp_path, scratch, monkeypatch, where):
    # Ctrl-C can come while the thread is being started or while the build waits for the
    # index: either way the thread must not be left waiting for texts (the process then
    # hung at exit).
    from newsmirror.publish.sitesearch import SearchJob

    jobs: list[SearchJob] = []
    original = getattr(SearchJob, where)

    def interrupted(self: SearchJob) -> object:
        jobs.append(self)
        if where == "start":
            original(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(SearchJob, where, interrupted)
    # Nothing answered between two files: the index waits for its texts when the build
    # turns to it.
    monkeypatch.setattr(SearchJob, "serve", lambda self: None)
    try:
        with Archive.open(tmp_path / "a.sqlite") as archive:
            fill(archive)
            with pytest.raises(KeyboardInterrupt):
                build_site(archive, tmp_path / "site", SiteOptions())
        for thread in index_threads():
            thread.join(5)
        assert index_threads() == []
        assert list(scratch.iterdir()) == []
    finally:
        for job in jobs:  # a failing run leaves no thread behind for the next tests
            job.cancel()
