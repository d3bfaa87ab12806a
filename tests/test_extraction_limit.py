"""A page made to be slow to extract fails alone, after a time limit, and does not hold
the run, with many pages or few: stopped by the worker's own timer, or, when the timer
cannot stop it (one long C call), by killing its worker."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from conftest import Reply, article_page, make_config, rss
from newsmirror import extractpool, fulltext
from newsmirror.errors import ExtractionError
from newsmirror.extractpool import ExtractionPool
from newsmirror.pipeline import update
from newsmirror.store import Archive
from newsmirror.timelimit import within
from processes import extraction_workers, only_this_thread

# 50,000 tiny blocks: as many start tags as clean.cap_tags reads, and several seconds of
# trafilatura's time (7 s on a 2-core test machine, 2 s on a fast one).
SLOW_PAGE = (
    article_page("慢").decode().replace("</article>", "<p>短句。</p>" * 50_000 + "</article>")
).encode()


def _run(tmp_path, server, names, monkeypatch, limit=1.0):
    monkeypatch.setattr(fulltext, "EXTRACT_SECONDS", limit)
    items = []
    for i, name in enumerate(names):
        body = SLOW_PAGE if name == "慢" else article_page(name)
        server.route(f"/p/{i}", Reply(body=body, headers={"Content-Type": "text/html"}))
        items.append({"title": name, "link": f"{server.url}/p/{i}", "description": "摘要"})
    server.route("/feed", Reply(body=rss(items)))
    config = make_config(
        tmp_path, [("源", [server.url + "/feed"])], extra="retries = 0\n", full_text="page"
    )
    started = time.monotonic()
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        took = time.monotonic() - started
        rows = archive.conn.execute(
            "SELECT title, content_origin, page_error, page_attempts, needs_page FROM articles"
        ).fetchall()
    return summary, {row[0]: row[1:] for row in rows}, took


def test_a_slow_page_among_many_fails_alone_in_the_workers(tmp_path, server, monkeypatch):
    names = ["慢", "甲", "乙", "丙", "丁", "戊"]  # more pages than workers
    summary, rows, _took = _run(tmp_path, server, names, monkeypatch)
    assert summary.pages.extracted == 5
    assert summary.pages.failed == 1
    assert any("took over 1 s and was stopped" in e for e in summary.pages.errors)
    _origin, error, attempts, needs_page = rows["慢"]
    assert error.startswith("extracting the page took over 1 s and was stopped")
    assert (attempts, needs_page) == (1, 1)  # tried again next run
    assert all(rows[n][0] == "page" and rows[n][1] is None for n in names[1:])


def test_a_slow_page_among_few_does_not_hold_the_run(tmp_path, server, monkeypatch):
    names = ["慢", "甲"]
    summary, rows, took = _run(tmp_path, server, names, monkeypatch)
    assert (summary.pages.extracted, summary.pages.failed) == (1, 1)
    assert rows["慢"][1].startswith("extracting the page took over 1 s and was stopped")
    assert rows["甲"][0] == "page"
    assert took < 5, f"the run waited for the slow page: {took:.1f} s"


def _spin(end: float) -> int:
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def _busy(seconds: float) -> int:
    """Python steps for ``seconds``, inside a broad ``except Exception`` as libraries
    write them (the limit must not be swallowed by one)."""
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        try:  # noqa: SIM105 - as a library might write it
            n += _spin(end)  # (a signal's handler runs in here, inside the try)
        except Exception:
            pass
    return n


def test_within_stops_a_long_call_and_leaves_no_timer_behind():
    rang: list[int] = []

    def handler(signum, _frame):
        rang.append(signum)

    before = signal.signal(signal.SIGALRM, handler)
    try:
        started = time.monotonic()
        with pytest.raises(ExtractionError, match=r"took over 0\.2 s and was stopped"):
            within(0.2, _busy, 5.0)
        assert time.monotonic() - started < 2
        assert within(1.0, _busy, 0.05) > 0  # a short call keeps its result
        time.sleep(1.2)  # past the limit of the call above: its timer was disarmed
        assert rang == []
        assert signal.getsignal(signal.SIGALRM) is handler  # the handler before it is back
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    finally:
        signal.signal(signal.SIGALRM, before)


def test_within_passes_the_calls_own_error_and_no_limit_means_none():
    def broken():
        raise ValueError("its own")

    with pytest.raises(ValueError, match="its own"):
        within(1.0, broken)
    assert within(0, _busy, 0.3) > 0  # 0: no limit
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_add_of_a_slow_page_fails_with_the_reason_and_stores_nothing(tmp_path, server, monkeypatch):
    from newsmirror.add import add_url

    monkeypatch.setattr(fulltext, "EXTRACT_SECONDS", 1.0)
    server.route("/slow.html", Reply(body=SLOW_PAGE, headers={"Content-Type": "text/html"}))
    config = make_config(tmp_path, [])
    started = time.monotonic()
    with Archive.open(config.archive) as archive:
        with pytest.raises(
            ExtractionError, match=r"^extracting the page took over 1 s and was stopped$"
        ):
            add_url(config, archive, f"{server.url}/slow.html", allow_private=True)
        assert list(archive.iter_articles()) == []
    assert time.monotonic() - started < 5


def test_within_rings_again_when_a_ring_is_lost():
    """A ring raised where Python only reports it (a __del__, a weakref callback) is lost:
    the timer rings again until the call ends."""
    from newsmirror.timelimit import _Overtime

    lost = []

    def swallow_the_first(seconds: float) -> int:
        end, n = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            try:
                n += _spin(end)
            except _Overtime:
                if lost:
                    raise
                lost.append(1)  # as if raised inside a __del__
        return n

    started = time.monotonic()
    with pytest.raises(ExtractionError, match=r"took over 0\.2 s"):
        within(0.2, swallow_the_first, 5.0)
    assert lost == [1] and time.monotonic() - started < 2
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def _deaf(seconds: float) -> str:
    """A call the limit's timer cannot stop, as one long C call of lxml would be."""
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(seconds)
    return "woke"


def _double(n: int) -> int:
    return 2 * n


def _gone(pids: list[int], within: float = 5.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not set(pids) & set(extraction_workers()):
            return True
        time.sleep(0.05)
    return False


def test_a_page_the_timer_cannot_stop_has_its_worker_killed(monkeypatch):
    """Its worker is killed soon after the limit (KILL_AFTER), the page fails with the
    reason, the pages that shared the pool come back from a new one, and no process
    is left working on it."""
    monkeypatch.setattr(extractpool, "KILL_AFTER", 1.0)

    async def go() -> tuple[float, list[int], list[int], int]:
        with ExtractionPool(2) as pool:
            assert await pool(5.0, _double, 0) == 0  # the workers are up
            first = extraction_workers()
            started = time.monotonic()
            deaf = asyncio.ensure_future(pool(0.5, _deaf, 120.0))
            others = [asyncio.ensure_future(pool(5.0, _double, i)) for i in range(1, 5)]
            with pytest.raises(ExtractionError, match=r"^extracting the page took over 0\.5 s"):
                await deaf
            took = time.monotonic() - started
            doubled = [await other for other in others]
            return took, first, doubled, pool.rebuilt

    took, first, doubled, rebuilt = asyncio.run(go())
    assert took < 6, f"the stuck page held the pool for {took:.1f} s"
    assert doubled == [2, 4, 6, 8]
    assert rebuilt == 0  # a stopped page is no dead worker: it counts against no limit
    assert first and _gone(first), "the stuck worker is still there"
    assert _gone(extraction_workers()), "a worker outlived the closed pool"


def _sends_much_late(delay: float, size: int) -> bytes:
    time.sleep(delay)
    return b"x" * size


@pytest.mark.parametrize("delay", [0.2, 0.3, 0.45])
def test_a_page_whose_worker_is_killed_while_sending_its_result_is_extracted_again(
    monkeypatch, delay
):
    """A stuck page's pool is killed while the page beside it sends a large result: half a
    message stayed in the pool's pipe, the pool's manager thread waited for the rest for
    ever, the page failed as over its own limit after that limit, and the process could
    not exit (that thread is joined at exit). Now the page comes back from a new pool,
    and no thread of the old one is left."""
    monkeypatch.setattr(extractpool, "KILL_AFTER", 0.5)

    async def go() -> tuple[int, float]:
        with ExtractionPool(2) as pool:
            assert await pool(5.0, _double, 0) == 0  # the workers are up
            deaf = asyncio.ensure_future(pool(0.5, _deaf, 60.0))
            big = asyncio.ensure_future(pool(20.0, _sends_much_late, delay, 300_000_000))
            with pytest.raises(ExtractionError, match=r"took over 0\.5 s"):
                await deaf
            started = time.monotonic()
            return len(await big), time.monotonic() - started

    size, waited = asyncio.run(go())
    assert size == 300_000_000 and waited < 15
    only_this_thread(timeout=5)  # no manager thread waiting for half a message


def test_many_stuck_pages_fail_alone_and_cost_the_others_nothing(monkeypatch):
    """More stuck pages than the pool may be rebuilt for dead workers: each fails with its
    reason, and a page after them is extracted (it does not fail for them)."""
    monkeypatch.setattr(extractpool, "KILL_AFTER", 0.3)

    async def go() -> list[object]:
        with ExtractionPool(2) as pool:
            calls = [pool(0.2, _deaf, 60.0) for _ in range(extractpool.POOL_REBUILDS + 9)]
            calls.append(pool(5.0, _double, 21))
            return await asyncio.gather(*calls, return_exceptions=True)

    *stuck, last = asyncio.run(go())
    assert last == 42
    assert all(isinstance(e, ExtractionError) and "took over 0.2 s" in e.message for e in stuck)


def test_a_page_cancelled_while_it_runs_has_its_worker_killed():
    """The run stops (an archive error, Ctrl-C) while a page runs that its timer cannot
    stop: its worker is killed, and closing the pool does not wait for the page."""

    async def go() -> list[int]:
        with ExtractionPool(1) as pool:
            task = asyncio.ensure_future(pool(60.0, _deaf, 60.0))
            await asyncio.sleep(0.5)
            while not extraction_workers():
                await asyncio.sleep(0.05)
            workers = extraction_workers()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return workers

    started = time.monotonic()
    workers = asyncio.run(go())
    assert time.monotonic() - started < 10
    assert workers and _gone(workers)
