"""An extraction worker process killed in the middle of a run (the kernel's OOM killer
on a small host, an operator's kill): the run goes on, and no page fails for it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ARTICLE_TEXT, Reply, article_page, make_config, rss
from newsmirror.extractpool import POOL_REBUILDS
from newsmirror.pipeline import update
from newsmirror.store import Archive
from processes import children, extraction_workers


def _kill_workers_once_they_run(killed: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        workers = extraction_workers()
        if workers:
            time.sleep(0.3)  # (started or extracting: the pool breaks either way)
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            killed.extend(workers)
            return
        time.sleep(0.02)


def _six_pages(tmp_path, server, delay, paragraphs=1):
    """A source of six article pages, page ``i`` answered after ``delay(i)`` seconds, each
    of ``paragraphs`` more paragraphs (2,000 take a worker about half a second)."""
    items = []
    body = ARTICLE_TEXT + "</p><p>第二段，记者现场报道。" * (paragraphs - 1)
    for i in range(6):
        server.route(f"/p/{i}", Reply(body=article_page(f"标题{i}", body), delay=delay(i)))
        items.append({"title": f"标题{i}", "link": f"{server.url}/p/{i}", "description": "摘要"})
    server.route("/feed", Reply(body=rss(items)))
    return make_config(
        tmp_path, [("源", [server.url + "/feed"])], extra="retries = 0\n", full_text="page"
    )


@contextlib.contextmanager
def _killing(kill):
    """``kill(killed, stop)`` in a thread while the block runs; the pids it killed."""
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=kill, args=(killed, stop))
    killer.start()
    try:
        yield killed
    finally:
        stop.set()
        killer.join()


def test_an_extraction_worker_killed_mid_run_costs_no_page(tmp_path, server):
    config = _six_pages(tmp_path, server, lambda i: 1.5 if i == 5 else 0)  # the last, late
    with _killing(_kill_workers_once_they_run) as killed, Archive.open(config.archive) as archive:
        summary = update(config, archive)
        stored = {a.title: a.content for a in archive.iter_articles()}
    assert killed, "no extraction worker was seen"
    assert summary.pages.failed == 0, summary.pages.errors
    assert summary.pages.extracted == 6
    assert all(ARTICLE_TEXT[:20] in stored[f"标题{i}"] for i in range(6))


def _kill_workers_until(killed: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        for pid in extraction_workers():
            if pid not in killed:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.02)


@pytest.mark.slow  # two runs, one of them waiting for workers that keep dying
def test_workers_that_keep_dying_fail_the_pages_plainly_and_the_next_run_gets_them(
    tmp_path, server
):
    """Every new worker killed at once: after a few new pools the run's pages fail with a
    plain reason (no traceback, the run ends), stay marked, and the next run extracts them."""
    # Pages long enough that a worker forked in a millisecond is killed before it ends one.
    config = _six_pages(tmp_path, server, lambda i: 0.3 * i, paragraphs=2_000)
    with _killing(_kill_workers_until) as killed, Archive.open(config.archive) as archive:
        summary = update(config, archive)
    assert 2 <= len(killed) <= 2 * (1 + POOL_REBUILDS)  # two workers a pool at most
    assert summary.pages.failed == 6 and summary.pages.extracted == 0
    assert all("(out of memory, " in error for error in summary.pages.errors)
    assert any(f"died {POOL_REBUILDS + 1} times in this run" in e for e in summary.pages.errors)
    assert all("Traceback" not in error for error in summary.pages.errors)
    with Archive.open(config.archive) as archive:
        again = update(config, archive)
        stored = {a.title: a.content for a in archive.iter_articles()}
    assert again.pages.extracted == 6, again.pages.errors
    assert all(ARTICLE_TEXT[:20] in stored[f"标题{i}"] for i in range(6))


POOL_SCRIPT = """
import asyncio, sys
from newsmirror.extractpool import ExtractionPool

async def main():
    pool = ExtractionPool(1)
    print(await pool(30.0, abs, -7), flush=True)
    if sys.argv[1] == "hang":
        await asyncio.sleep(60)  # killed here, the pool never closed
    pool.close()

if __name__ == "__main__":
    asyncio.run(main())
"""


def _grandchildren(pid: int) -> list[int]:
    """The processes below ``pid`` (its fork server's workers, its resource tracker...)."""
    tree, found, todo = children(), [], [pid]
    while todo:
        for child, _cmdline in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_workers_end_when_the_run_is_killed(tmp_path):
    """A run killed with SIGKILL cannot close its pool: its extraction worker, the fork
    server and multiprocessing's resource tracker end by themselves."""
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    run = subprocess.Popen([sys.executable, str(script), "hang"], stdout=subprocess.PIPE, text=True)
    try:
        assert run.stdout.readline().strip() == "7"
        below = _grandchildren(run.pid)
        assert len(below) >= 2  # the fork server and its worker at least
        run.kill()
        run.wait()
        end = time.monotonic() + 10
        while time.monotonic() < end and any(Path(f"/proc/{p}").exists() for p in below):
            time.sleep(0.1)
        left = [p for p in below if Path(f"/proc/{p}").exists()]
        assert left == [], f"still running after the run was killed: {left}"
    finally:
        run.kill()


def test_workers_are_spawned_where_no_fork_server_can_start(tmp_path):
    """A fork server's socket lives under TMPDIR; a path too long for a socket (108 bytes)
    stops it from starting: the pages are extracted by spawned workers instead."""
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    deep = tmp_path / ("t" * 100)
    deep.mkdir()
    done = subprocess.run(
        [sys.executable, str(script), "close"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(deep)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7"
    assert "Traceback" not in done.stderr
