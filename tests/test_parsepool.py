"""Feeds parsed on a second core (issue 12): one thread here, one worker process there.

Real processes and real feeds: the worker is a spawned interpreter; runs fetch from a
local FeedServer into real archives.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from multiprocessing import active_children
from pathlib import Path

import pytest

import newsmirror.parsepool as parsepool
from conftest import ARTICLE_TEXT, Reply, make_config, rss
from newsmirror.errors import FeedParseError
from newsmirror.lock import archive_lock
from newsmirror.parse import parse_feed
from newsmirror.parsepool import (
    ParsePool,
    to_worker,
    usable_cpus,
    worker_on_backlog,
)
from newsmirror.pipeline import update
from newsmirror.store import Archive

two_cpus = pytest.mark.skipif(usable_cpus() < 2, reason="the worker needs a second CPU")
NOW = datetime(2024, 3, 1, tzinfo=UTC)


def test_the_worker_starts_on_a_backlog_of_bytes_and_takes_the_shorter_queue():
    backlog = parsepool.BACKLOG_BYTES
    assert worker_on_backlog(backlog, cpus=2) and worker_on_backlog(5 * backlog, cpus=4)
    assert not worker_on_backlog(backlog - 1, cpus=2)  # the thread alone is as quick
    assert not worker_on_backlog(9 * backlog, cpus=1)  # no second CPU
    assert to_worker(1, 0) and to_worker(3000, 2999)
    assert not to_worker(0, 0) and not to_worker(10, 10) and not to_worker(10, 20)


@pytest.fixture
def eager_worker(monkeypatch):
    """The worker starts with the first body, backlog or not (the tests' feeds are small
    and, on a loaded machine, may never pile up)."""
    monkeypatch.setattr(parsepool, "worker_on_backlog", lambda _waiting, cpus: cpus >= 2)


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


async def _up(pool: ParsePool) -> int:
    """Start the worker and wait until it answers; its pid."""
    pool.start_worker()
    for _ in range(1500):
        if pool.worker_pid:
            return pool.worker_pid
        await asyncio.sleep(0.01)
    raise AssertionError("the worker did not start")


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
            pid = await _up(pool)
            os.kill(pid, signal.SIGKILL)  # the worker dies (before or while it is given work)
            while Path(f"/proc/{pid}").exists() and "\nState:\tZ" not in _status(pid):
                await asyncio.sleep(0.01)
            first = asyncio.ensure_future(pool.parse(bodies[0], **_options(0)))
            second = asyncio.ensure_future(pool.parse(bodies[1], **_options(1)))  # the worker's
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
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT s.name, a.url, a.guid, a.title, a.author, a.content, a.published"
            " FROM articles a JOIN sources s ON s.id = a.source_id ORDER BY a.url"
        ).fetchall()
    finally:
        conn.close()


def _serve(server, feeds: int) -> list[tuple[str, list[str]]]:
    server.route("/html", Reply(body=HTML))
    for n in range(feeds):
        server.route(f"/f{n}", Reply(body=_feed(n, items=8)))
    return [(f"源{n}", [f"{server.url}/f{n}"]) for n in range(feeds)] + [
        ("坏", [f"{server.url}/html"])
    ]


def _children() -> set[int]:
    """This process's child processes, read from /proc."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            found |= {int(p) for p in (task / "children").read_text().split()}
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    return found


@two_cpus
def test_same_articles_with_and_without_the_worker(tmp_path, server, eager_worker, monkeypatch):
    sources = _serve(server, 6)
    runs = {}
    for side in ("worker", "thread"):
        if side == "thread":
            monkeypatch.setattr(parsepool, "usable_cpus", lambda: 1)
        folder = tmp_path / side
        folder.mkdir()
        config = make_config(folder, sources)
        seen: list[int] = []
        with Archive.open(folder / "archive.sqlite") as archive:
            summary = update(
                config, archive, progress=lambda *_, seen=seen: seen.append(len(active_children()))
            )
        runs[side] = (summary.line(), summary.sources[-1].errors, seen)
        assert active_children() == []  # no worker outlives its run
    assert max(runs["worker"][2]) == 1 and max(runs["thread"][2]) == 0
    assert runs["worker"][:2] == runs["thread"][:2]
    assert "got an HTML page" in runs["worker"][1][0]
    stored = _articles(tmp_path / "worker" / "archive.sqlite")
    assert len(stored) == 6 * 8
    assert stored == _articles(tmp_path / "thread" / "archive.sqlite")


@two_cpus
def test_a_run_whose_worker_is_killed_loses_no_feed(tmp_path, server, eager_worker):
    sources = _serve(server, 8)
    config = make_config(tmp_path, sources)
    killed: list[int] = []

    def kill(*_: object) -> None:
        for child in active_children():
            if not killed and child.pid:
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)

    with Archive.open(tmp_path / "archive.sqlite") as archive:
        summary = update(config, archive, progress=kill)
    assert killed
    assert summary.count("ok") == 8 and summary.new == 8 * 8
    assert len(_articles(tmp_path / "archive.sqlite")) == 8 * 8
    assert active_children() == []


@two_cpus
def test_a_run_that_stops_on_an_error_leaves_no_worker(tmp_path, server, eager_worker):
    config = make_config(tmp_path, _serve(server, 6))

    def stop(*_: object) -> None:
        assert len(active_children()) == 1  # the worker was there
        raise RuntimeError("stopped")

    with Archive.open(tmp_path / "archive.sqlite") as archive, pytest.raises(RuntimeError):
        update(config, archive, progress=stop)
    assert active_children() == []


def test_an_idle_run_starts_no_process(tmp_path, server):
    sources = _serve(server, 3)
    config = make_config(tmp_path, sources)
    with Archive.open(tmp_path / "archive.sqlite") as archive:
        update(config, archive)
        before = _children()
        during: set[int] = set()
        summary = update(config, archive, progress=lambda *_: during.update(_children()))
    assert summary.count("not_modified") == 3 and summary.new == 0
    assert during <= before


# A program that uses newsmirror's pool (with the main guard that spawn needs).
_PARENT = """
import asyncio, sys, time
from pathlib import Path
from newsmirror.lock import archive_lock
from newsmirror.parse import parse_feed
from newsmirror.parsepool import ParsePool

async def main():
    with archive_lock(Path(sys.argv[1]), wait=0):
        pool = ParsePool()
        pool.start_worker()
        for _ in range(1000):
            if pool.worker_pid:
                break
            await asyncio.sleep(0.02)
        print(pool.worker_pid or 0, flush=True)
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
        worker = int(parent.stdout.readline())
        assert worker
        lock = str(archive) + ".lock"
        fds = Path(f"/proc/{worker}/fd")
        assert lock not in {os.readlink(fd) for fd in fds.iterdir()}
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while not _gone(worker) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _gone(worker)
        with archive_lock(archive, wait=0):
            pass
    finally:
        parent.kill()
        parent.wait(10)
