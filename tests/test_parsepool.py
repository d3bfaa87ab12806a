"""Feeds parsed on a second core (issue 12): one thread here, one worker process there.

Real processes and real feeds: the worker is a forked process; runs fetch from a local
FeedServer into real archives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import newsmirror.parsepool as parsepool
from conftest import ARTICLE_TEXT, Reply, make_config, rss
from newsmirror.errors import FeedParseError
from newsmirror.httpclient import httpx
from newsmirror.lock import archive_lock
from newsmirror.models import FeedState
from newsmirror.parse import parse_feed
from newsmirror.parsepool import (
    ParsePool,
    expect_parsing,
    pick,
    usable_cpus,
    worker_count,
)
from newsmirror.pipeline import update
from newsmirror.store import Archive

two_cpus = pytest.mark.skipif(usable_cpus() < 2, reason="the worker needs a second CPU")
NOW = datetime(2024, 3, 1, tzinfo=UTC)


def test_workers_are_forked_on_linux_with_a_second_cpu_and_take_the_shorter_queue():
    assert worker_count(2, "linux") == 2 and worker_count(64, "linux") == parsepool.MAX_WORKERS
    assert worker_count(1, "linux") == 0  # no second CPU: the thread alone
    assert worker_count(4, "darwin") == 0 and worker_count(4, "win32") == 0  # no safe fork
    assert pick([0, 0]) == 0 and pick([10, 0]) == 1 and pick([5, 7, 3]) == 2
    assert pick([3, 3, 9]) == 0


HTML = "<!DOCTYPE html><html><head><title>首页</title></head><body><p>x</p></body></html>".encode()
# A feed with a stray "&" and an unclosed element: the lenient reader still reads it.
BROKEN = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T & T</title>'
    b"<item><title>\xe5\x9d\x8f & \xe5\xa5\xbd</title><link>https://e.org/b</link>"
    b"<description><p>\xe6\xad\xa3\xe6\x96\x87</description></item></channel></rss>"
)


def _feed(n: int, items: int = 4) -> bytes:
    return rss(
        [
            {
                "title": f"新闻{n}-{i}",
                "link": f"https://e.org/{n}/{i}",
                "content": f"<p>{ARTICLE_TEXT}</p><p><a href='/rel/{i}'>链接</a></p>",
                "pubDate": "Fri, 01 Mar 2024 08:00:00 GMT",
            }
            for i in range(items)
        ]
    )


def _options(n: int) -> dict[str, object]:
    return {"url": f"https://e.org/feed{n}.xml", "fallback_author": f"源{n}", "now": NOW}


def _outcome(call) -> object:
    try:
        return call()
    except FeedParseError as exc:
        return exc


def _here(bodies: list[bytes]) -> list[object]:
    """What parsing in this process gives for each body (a ParsedFeed or the error)."""
    return [_outcome(lambda b=b, n=n: parse_feed(b, **_options(n))) for n, b in enumerate(bodies)]


async def _pairs(pool: ParsePool, bodies: list[bytes], start: int = 0) -> list[object]:
    async def one(n: int, body: bytes) -> object:
        try:
            return await pool.parse(body, **_options(n))
        except FeedParseError as exc:
            return exc

    return list(await asyncio.gather(*(one(n, b) for n, b in enumerate(bodies, start))))


async def _up(pool: ParsePool) -> list[int]:
    """Start the workers; their pids."""
    pool.start_workers()
    assert pool.worker_pids
    return pool.worker_pids


def _same(got: object, want: object) -> bool:
    if isinstance(want, FeedParseError):
        return (
            type(got) is type(want)
            and got.message == want.message  # type: ignore[attr-defined]
            and got.hint == want.hint  # type: ignore[attr-defined]
        )
    return got == want


@two_cpus
def test_the_worker_gives_what_parsing_here_gives_errors_included():
    bodies = [_feed(0), _feed(1), _feed(2), HTML, BROKEN, _feed(5), _feed(6), b"not xml"]

    async def run() -> list[object]:
        with ParsePool() as pool:
            await _up(pool)
            got = await _pairs(pool, bodies)
            assert pool.in_worker >= 1  # some bodies went to the worker
            return got

    got, want = asyncio.run(run()), _here(bodies)
    assert isinstance(want[3], FeedParseError) and want[3].hint
    assert isinstance(got[3], FeedParseError) and isinstance(got[7], FeedParseError)
    assert all(_same(g, w) for g, w in zip(got, want, strict=True))


@two_cpus
def test_a_feed_in_a_killed_worker_is_parsed_here():
    bodies = [_feed(0), _feed(1), _feed(2), _feed(3)]

    async def run() -> list[object]:
        with ParsePool() as pool:
            pids = await _up(pool)
            for pid in pids:  # the workers die (before or while they are given work)
                os.kill(pid, signal.SIGKILL)
                while Path(f"/proc/{pid}").exists() and "\nState:\tZ" not in _status(pid):
                    await asyncio.sleep(0.01)
            first = asyncio.ensure_future(pool.parse(bodies[0], **_options(0)))
            second = asyncio.ensure_future(pool.parse(bodies[1], **_options(1)))  # another's
            got = list(await asyncio.gather(first, second))
            got += await _pairs(pool, bodies[2:], start=2)  # the rest of the run: the thread only
            assert pool.in_worker == 0
            return got

    assert asyncio.run(run()) == _here(bodies)


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return "\nState:\tZ"


def _articles(path: Path) -> list[tuple[object, ...]]:
    archive = Archive.open(path, create=False)
    try:
        return archive.conn.execute(
            "SELECT s.name, a.url, a.guid, a.title, a.author, a.content, a.published"
            " FROM articles a JOIN sources s ON s.id = a.source_id ORDER BY a.url"
        ).fetchall()
    finally:
        archive.close()


def _serve(server, feeds: int) -> list[tuple[str, list[str]]]:
    server.route("/html", Reply(body=HTML))
    for n in range(feeds):
        server.route(f"/f{n}", Reply(body=_feed(n, items=8)))
    return [(f"源{n}", [f"{server.url}/f{n}"]) for n in range(feeds)] + [
        ("坏", [f"{server.url}/html"])
    ]


def _open_files(pid: int) -> set[str]:
    """What a process has open beyond stdin, stdout and stderr: "pipe", "socket" or a path."""
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        if int(fd.name) > 2:
            with contextlib.suppress(FileNotFoundError):
                target = os.readlink(fd)
                found.add(
                    target.split(":")[0] if target.startswith(("pipe:", "socket:")) else target
                )
    return found


_OLDER: set[int] = set()  # processes other tests left running (not this test's)


@pytest.fixture(autouse=True)
def _older_children() -> Iterator[None]:
    _OLDER.clear()
    _OLDER.update(_children())
    yield
    _OLDER.clear()


def _children(pid: int | None = None) -> set[int]:
    """The processes this test (or ``pid``) started, and the ones they started (the first
    worker forks the others), read from /proc."""
    return _descendants(pid) - _OLDER


def _descendants(pid: int | None = None) -> set[int]:
    found: set[int] = set()
    try:
        tasks = list(Path(f"/proc/{pid or os.getpid()}/task").iterdir())
    except FileNotFoundError:  # it just ended
        return found
    for task in tasks:
        try:
            found |= {int(p) for p in (task / "children").read_text().split()}
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    for child in list(found):
        found |= _descendants(child)
    return found


def test_the_workers_start_before_the_fetching_when_two_feeds_are_new():
    new, kept = FeedState(), FeedState(etag='"1"')
    assert expect_parsing([new, new]) and expect_parsing([kept, new, kept, new])
    assert not expect_parsing([new]) and not expect_parsing([kept, kept, new])
    assert not expect_parsing([FeedState(body_sha256="ab"), FeedState(last_modified="x"), new])
    assert not expect_parsing([])


class _Looking(httpx.AsyncBaseTransport):
    """httpx's own transport, noting how many children this process has at each request."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.children: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.children.append(len(_children()))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@two_cpus
def test_a_first_run_forks_its_workers_before_the_first_request(tmp_path, server):
    """A first run parses for sure: its workers import the parser while it fetches. The
    second run of the same feeds (all unchanged) forks none."""
    config = make_config(tmp_path, _serve(server, 3)[:-1])
    first, second = _Looking(), _Looking()
    with Archive.open(tmp_path / "archive.sqlite") as archive:
        assert update(config, archive, transport=first).new == 3 * 8
        assert update(config, archive, transport=second).count("not_modified") == 3
    assert first.children[0] >= 1  # (the first forks the others once it has the parser)
    assert second.children == [0, 0, 0] and _children() == set()


@two_cpus
def test_same_articles_with_and_without_the_worker(tmp_path, server, monkeypatch):
    sources = _serve(server, 6)
    runs = {}
    for side in ("worker", "thread"):
        if side == "thread":
            monkeypatch.setattr(parsepool, "usable_cpus", lambda: 1)
        folder = tmp_path / side
        folder.mkdir()
        config = make_config(folder, sources)
        seen: list[int] = []

        def look(*_: object, seen: list[int] = seen, folder: Path = folder) -> None:
            children = _children()
            seen.append(len(children))
            for child in children:  # the worker holds no socket, archive or lock
                assert _open_files(child) <= {"pipe"}

        with Archive.open(folder / "archive.sqlite") as archive:
            summary = update(config, archive, progress=look)
        runs[side] = (summary.line(), summary.sources[-1].errors, seen)
        assert _children() == set()  # no worker outlives its run, nor is left a zombie
    assert max(runs["worker"][2]) == worker_count(usable_cpus()) and max(runs["thread"][2]) == 0
    assert runs["worker"][:2] == runs["thread"][:2]
    assert "got an HTML page" in runs["worker"][1][0]
    stored = _articles(tmp_path / "worker" / "archive.sqlite")
    assert len(stored) == 6 * 8
    assert stored == _articles(tmp_path / "thread" / "archive.sqlite")


@two_cpus
def test_a_run_whose_worker_is_killed_loses_no_feed(tmp_path, server):
    sources = _serve(server, 8)
    config = make_config(tmp_path, sources)
    killed: list[int] = []

    def kill(*_: object) -> None:
        for child in _children():
            if not killed:
                os.kill(child, signal.SIGKILL)
                killed.append(child)

    with Archive.open(tmp_path / "archive.sqlite") as archive:
        summary = update(config, archive, progress=kill)
    assert killed
    assert summary.count("ok") == 8 and summary.new == 8 * 8
    assert len(_articles(tmp_path / "archive.sqlite")) == 8 * 8
    assert _children() == set()


@two_cpus
def test_a_run_that_stops_on_an_error_leaves_no_worker(tmp_path, server):
    config = make_config(tmp_path, _serve(server, 6))

    def stop(*_: object) -> None:
        assert len(_children()) == worker_count(usable_cpus())  # the workers were there
        raise RuntimeError("stopped")

    with Archive.open(tmp_path / "archive.sqlite") as archive, pytest.raises(RuntimeError):
        update(config, archive, progress=stop)
    assert _children() == set()


def test_an_idle_run_starts_no_process(tmp_path, server):
    sources = _serve(server, 3)[:-1]  # (the HTML page fails, so it is parsed every run)
    config = make_config(tmp_path, sources)
    with Archive.open(tmp_path / "archive.sqlite") as archive:
        update(config, archive)
        before = _children()
        during: set[int] = set()
        summary = update(config, archive, progress=lambda *_: during.update(_children()))
    assert summary.count("not_modified") == 3 and summary.new == 0
    assert during <= before


# A program that uses newsmirror's pool while it holds the archive's lock.
_PARENT = """
import asyncio, sys, time
from pathlib import Path
from newsmirror.httpclient import httpx
from newsmirror.lock import archive_lock
from newsmirror.parse import parse_feed
from newsmirror.parsepool import ParsePool

async def main():
    with archive_lock(Path(sys.argv[1]), wait=0):
        pool = ParsePool()
        pool.start_workers()
        print(" ".join(map(str, pool.worker_pids)), flush=True)
        time.sleep(60)

if __name__ == "__main__":
    asyncio.run(main())
"""


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


@two_cpus
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_killed_parent_leaves_no_worker_holding_the_archive_lock(tmp_path):
    archive = tmp_path / "archive.sqlite"
    script = tmp_path / "program.py"
    script.write_text(_PARENT, encoding="utf-8")
    parent = subprocess.Popen(
        [sys.executable, str(script), str(archive)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == worker_count(usable_cpus())
        lock = str(archive) + ".lock"
        deadline = time.monotonic() + 10  # each closes what it inherited as soon as it starts
        for worker in workers:
            while lock in _open_files(worker) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _open_files(worker) <= {"pipe"}
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while not all(map(_gone, workers)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert all(map(_gone, workers))
        with archive_lock(archive, wait=0):
            pass
    finally:
        parent.kill()
        parent.wait(10)


@two_cpus
def test_a_bug_in_a_worker_shows_as_it_would_here_and_the_worker_goes_on(monkeypatch):
    real = parsepool.parse

    def buggy(body: bytes, options: dict[str, object]) -> object:
        if b"BUG" in body:
            raise ZeroDivisionError("a bug")
        return real(body, options)

    monkeypatch.setattr(parsepool, "parse", buggy)  # (before the fork: the workers have it)

    async def run() -> tuple[BaseException, list[object], int]:
        with ParsePool() as pool:
            pids = await _up(pool)
            with pytest.raises(ZeroDivisionError) as info:  # parsed again here: the bug shows
                await pool.parse(_feed(0) + b"<!-- BUG -->", **_options(0))
            got = await _pairs(pool, [_feed(1), _feed(2), _feed(3)], start=1)
            assert pool.worker_pids == pids and pool.in_worker == 3
            return info.value, got, len(_children())

    error, got, children = asyncio.run(run())
    assert str(error) == "a bug" and children == worker_count(usable_cpus())
    assert _children() == set()
    assert got == [parse_feed(_feed(n), **_options(n)) for n in (1, 2, 3)]


PARSER_MODULES = ("newsmirror.parse", "lxml", "nh3", "fastfeedparser", "feedparser")


def _dotted(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{name}." for name in names)


@two_cpus
def test_a_run_whose_workers_parse_loads_no_parser_here(tmp_path, server):
    """The workers parse; what they send back is read here without the parser, which the
    run's own process then never loads (issue 12: a cold run's CPU time and memory)."""
    sources = _serve(server, 3)[:-1]
    make_config(tmp_path, sources)
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from newsmirror.config import load_config\n"
        "from newsmirror.pipeline import update\n"
        "from newsmirror.store import Archive\n"
        f"folder = Path({str(tmp_path)!r})\n"
        "config = load_config(folder / 'newsmirror.toml')\n"
        "with Archive.open(folder / 'archive.sqlite') as archive:\n"
        "    summary = update(config, archive)\n"
        "print(json.dumps([summary.new, sorted(sys.modules)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    new, modules = json.loads(out.stdout.splitlines()[-1])
    assert new == 3 * 8
    parser = [m for m in modules if m in PARSER_MODULES or m.startswith(_dotted(PARSER_MODULES))]
    assert parser == []
    assert len(_articles(tmp_path / "archive.sqlite")) == 3 * 8
