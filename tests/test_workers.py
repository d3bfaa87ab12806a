"""Workers on the PostgreSQL job queue, as processes: killed with SIGKILL mid-run, they
lose nothing and store nothing twice, and the result exports byte for byte as a
single-machine SQLite run does (issue 11)."""

from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, FeedServer, Reply, make_config, rss
from newsmirror.duejobs import due_feeds, wait_after
from newsmirror.models import SourceHealth
from pgharness import Schemas, pg_schemas  # noqa: F401 (fixture)

pytestmark = [pytest.mark.postgres]

SOURCES, FEEDS_PER_SOURCE, ITEMS = 20, 10, 5
NEWSMIRROR = (sys.executable, "-m", "newsmirror")


def _feeds(server: FeedServer, delay: float) -> list[tuple[str, list[str]]]:
    sources = []
    for s in range(SOURCES):
        urls = []
        for f in range(FEEDS_PER_SOURCE):
            path = f"/s{s}/f{f}.xml"
            items = [
                {
                    "title": f"来源{s} 频道{f} 第{i}条 报道",
                    "link": f"https://news{s}.example/{f}/{i}.html",
                    "guid": f"s{s}-f{f}-{i}",
                    "pubDate": f"Mon, 0{1 + i} Jan 2024 0{f % 10}:{s:02d}:00 +0800",
                    "author": f"记者{s}",
                    "content": f"<p>来源{s}频道{f}第{i}条的正文，足够长的一段文字。</p>" * 8,
                }
                for i in range(ITEMS)
            ]
            server.route(path, Reply(body=rss(items), delay=delay))
            urls.append(server.url + path)
        sources.append((f"源{s}", urls))
    return sources


def _cli(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NEWSMIRROR, "-c", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=ROOT,
    )


def _worker(config: Path, env: dict[str, str], name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*NEWSMIRROR, "-c", str(config), "worker", "--name", name, "--stalled-after", "3"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _count(conn: object, sql: str) -> int:
    return int(conn.execute(sql).fetchone()[0])  # type: ignore[attr-defined]


def _wait_for(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _same_tree(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(p) for p in files_a], shallow=False)
    assert mismatch == [] and errors == []


@pytest.mark.slow
def test_workers_killed_twice_lose_nothing_and_export_as_a_sqlite_run(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    import psycopg

    sources = _feeds(server, delay=0.03)
    pg_dir, lite_dir = tmp_path / "pg", tmp_path / "lite"
    pg_dir.mkdir()
    lite_dir.mkdir()
    make_config(pg_dir, sources)
    make_config(lite_dir, sources)
    url = pg_schemas.new()
    env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": url}

    queued = _cli(pg_dir / "newsmirror.toml", "schedule", "--all", env=env)
    assert queued.returncode == 0, queued.stderr
    assert f"queued {SOURCES * FEEDS_PER_SOURCE} feeds" in queued.stdout

    conn = psycopg.connect(url, autocommit=True)
    logged = "SELECT count(DISTINCT feed_url) FROM fetch_log"
    busy = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    config = pg_dir / "newsmirror.toml"

    def start(name: str) -> tuple[subprocess.Popen[str], int]:
        """A worker and its id in the queue (it registers when it starts)."""
        known = {r[0] for r in conn.execute("SELECT id FROM procrastinate_workers")}
        proc = _worker(config, env, name)
        new: list[int] = []

        def registered() -> bool:
            new[:] = [r[0] for r in conn.execute("SELECT id FROM procrastinate_workers")]
            new[:] = [i for i in new if i not in known]
            return bool(new)

        _wait_for(registered, 30)
        return proc, new[0]

    def held_by(worker_id: int) -> list[int]:
        rows = conn.execute(
            "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = %s",
            (worker_id,),
        )
        return [r[0] for r in rows]

    workers = [start(f"w{i}") for i in range(3)]
    lost: list[int] = []  # the jobs the killed workers were doing
    try:
        for kill_at in (30, 90):
            _wait_for(lambda n=kill_at: _count(conn, logged) >= n, 60)
            victim, victim_id = workers.pop(0)
            _wait_for(lambda i=victim_id: bool(held_by(i)), 30)  # killed mid-job
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            lost += held_by(victim_id)
            workers.append(start(f"w{kill_at}"))
        _wait_for(lambda: _count(conn, busy) == 0, 90)
    finally:
        for w, _ in workers:
            w.send_signal(signal.SIGTERM)
        for w, _ in workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
    assert len(lost) >= 2  # at least one job was doing at each kill
    # Given back to the queue and done by another worker (done jobs are deleted).
    assert _count(conn, f"SELECT count(*) FROM procrastinate_jobs WHERE id IN {tuple(lost)}") == 0
    total = SOURCES * FEEDS_PER_SOURCE * ITEMS
    assert _count(conn, "SELECT count(*) FROM articles") == total
    assert _count(conn, "SELECT count(DISTINCT guid) FROM articles") == total
    assert _count(conn, logged) == SOURCES * FEEDS_PER_SOURCE
    assert _count(conn, "SELECT count(*) FROM revisions") == 0
    conn.close()

    fetched = _cli(lite_dir / "newsmirror.toml", "fetch")
    assert fetched.returncode == 0, fetched.stderr
    for where, extra in ((pg_dir, env), (lite_dir, None)):
        done = _cli(where / "newsmirror.toml", "export", "jekyll", str(where / "out"), env=extra)
        assert done.returncode == 0, done.stderr
    _same_tree(pg_dir / "out", lite_dir / "out")
    assert len(list((pg_dir / "out" / "_posts").rglob("*.md"))) == total


def _health(name: str, last: str | None, failures: int) -> SourceHealth:
    return SourceHealth(name, True, 0, last, None, None, None, failures)


def test_a_failing_source_backs_off_and_a_new_one_is_due_at_once(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from newsmirror.config import Source

    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    fine = Source("好", ("https://a.example/f",), interval=60)
    failing = Source("坏", ("https://b.example/f",), interval=60)
    new = Source("新", ("https://c.example/f", "https://c.example/g"), interval=60)
    off = Source("关", ("https://d.example/f",), enabled=False)
    an_hour_ago = (now - timedelta(minutes=61)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    health = {
        "好": _health("好", an_hour_ago, 0),
        "坏": _health("坏", an_hour_ago, 3),
    }
    due = due_feeds([fine, failing, new, off], health, now)
    assert due == [
        ("好", "https://a.example/f"),
        ("新", "https://c.example/f"),
        ("新", "https://c.example/g"),
    ]
    assert wait_after(failing, 3) == timedelta(hours=8)
    assert wait_after(failing, 40) == timedelta(hours=32)  # at most 32 intervals
    assert wait_after(Source("慢", (), interval=600), 10) == timedelta(days=7)


def test_run_through_the_queue_fetches_with_a_worker_and_publishes(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """`run --queue`: the feeds go through the queue (a worker helps), a failing feed is
    reported with exit 1, and the Jekyll tree is written."""
    import json

    sources = _feeds(server, delay=0.0)[:3]
    sources.append(("坏源", [server.url + "/missing.xml"]))
    make_config(tmp_path, sources, extra="retries = 0\n")
    config = tmp_path / "newsmirror.toml"
    with config.open("a", encoding="utf-8") as out:
        out.write('\n[publish.jekyll]\npath = "jekyll"\n')
    env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": pg_schemas.new()}
    helper = _worker(config, env, "helper")
    try:
        done = _cli(config, "run", "--queue", "--json", env=env)
    finally:
        helper.send_signal(signal.SIGTERM)
        helper.wait(timeout=20)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["new"] == 3 * FEEDS_PER_SOURCE * ITEMS
    assert "missing.xml" in done.stderr
    posts = list((tmp_path / "jekyll" / "_posts").rglob("*.md"))
    assert len(posts) == 3 * FEEDS_PER_SOURCE * ITEMS


def test_schedule_queues_a_feed_once_and_only_when_due(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    sources = _feeds(server, delay=0.0)[:2]
    make_config(tmp_path, sources)
    config = tmp_path / "newsmirror.toml"
    env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": pg_schemas.new()}
    feeds = 2 * FEEDS_PER_SOURCE
    first = _cli(config, "schedule", env=env)
    assert first.stdout.strip() == f"queued {feeds} feeds ({feeds} due, 0 waiting already)"
    again = _cli(config, "schedule", "--all", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"queued 0 feeds ({feeds} due, {feeds} waiting already)"
    worked = _cli(config, "worker", "--until-idle", env=env)
    assert f"worker done: {feeds} feeds" in worked.stdout
    later = _cli(config, "schedule", env=env)  # fetched a moment ago: nothing is due
    assert later.stdout.strip() == "queued 0 feeds (0 due, 0 waiting already)"


def test_workers_fetch_pages_and_images_and_retry_a_failed_image(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """A teaser feed: a page job takes each article's text, an images job its picture; an
    image that failed is queued again by the next `schedule`, not by every feed job."""
    import base64

    import psycopg

    from conftest import article_page

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    broken = {"yes": True}
    server.route(
        "/img/a.png",
        lambda _h: Reply(503, b"busy") if broken["yes"] else Reply(body=png),
    )
    items = []
    for i in range(3):
        server.route(f"/a{i}.html", Reply(body=article_page(f"页面文章{i}")))
        items.append(
            {
                "title": f"页面文章{i}",
                "link": f"{server.url}/a{i}.html",
                "guid": f"p{i}",
                "pubDate": "Mon, 01 Jan 2024 08:00:00 +0800",
                "description": "摘要",
            }
        )
    server.route("/teasers.xml", Reply(body=rss(items)))
    make_config(
        tmp_path, [("页面源", [server.url + "/teasers.xml"])], full_text="page", media="mirror"
    )
    config = tmp_path / "newsmirror.toml"
    url = pg_schemas.new()
    env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": url}
    assert _cli(config, "schedule", env=env).returncode == 0
    first = _cli(config, "worker", "--until-idle", env=env)
    assert "worker done: 1 feeds, 3 pages, 3 images" in first.stdout, first.stderr
    with psycopg.connect(url, autocommit=True) as conn:
        assert _count(conn, "SELECT count(*) FROM articles WHERE content_origin = 'page'") == 3
        assert _count(conn, "SELECT count(*) FROM article_media WHERE attempts = 1") == 3
    broken["yes"] = False
    again = _cli(config, "schedule", env=env)  # the feed is not due; the image is retried
    assert "queued 3 images to try again" in again.stdout
    second = _cli(config, "worker", "--until-idle", env=env)
    assert "0 feeds, 0 pages, 3 images" in second.stdout
    assert len([p for p in (tmp_path / "media").rglob("*.png")]) == 1


def test_each_image_is_a_job_of_its_own(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """One article with two images: two image jobs, one of which fails alone."""
    import base64

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    server.route("/good.png", Reply(body=png))
    server.route("/bad.png", Reply(404, b"gone"))
    body = f'<p>图文</p><img src="{server.url}/good.png"><img src="{server.url}/bad.png">' * 3
    item = {
        "title": "两张图",
        "link": "https://news.example/two.html",
        "guid": "two",
        "pubDate": "Mon, 01 Jan 2024 08:00:00 +0800",
        "content": body,
    }
    server.route("/two.xml", Reply(body=rss([item])))
    make_config(tmp_path, [("图源", [server.url + "/two.xml"])], media="mirror")
    config = tmp_path / "newsmirror.toml"
    env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": pg_schemas.new()}
    assert _cli(config, "schedule", env=env).returncode == 0
    done = _cli(config, "worker", "--until-idle", env=env)
    assert "worker done: 1 feeds, 0 pages, 2 images" in done.stdout, done.stderr
    assert len(list((tmp_path / "media").rglob("*.png"))) == 1
