"""A hostile review of the PostgreSQL archive and its workers (issue 11): several
archives in one database, a misspelt schema, the database ending the workers' sessions,
a killed worker's job left `doing` under `run --queue`, and a media folder whose
symlinks lead out of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, FeedServer, Reply, make_config, rss
from pgharness import Schemas, pg_schemas, schema_url  # noqa: F401 (fixture)

NEWSMIRROR = (sys.executable, "-m", "newsmirror")


def _cli(
    config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    if env is None:  # the config's archive, not the one the PostgreSQL test pass names
        env = {k: v for k, v in os.environ.items() if k != "NEWSMIRROR_ARCHIVE_URL"}
    return subprocess.run(
        [*NEWSMIRROR, "-c", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        cwd=ROOT,
    )


def _items(prefix: str, count: int = 3) -> list[dict[str, str]]:
    return [
        {
            "title": f"{prefix} 第{i}条",
            "link": f"https://{prefix}.example/{i}.html",
            "guid": f"{prefix}-{i}",
            "pubDate": f"Mon, 0{1 + i} Jan 2024 08:00:00 +0800",
            "content": f"<p>{prefix} 正文 {i}</p>" * 6,
        }
        for i in range(count)
    ]


def _scalar(url: str, sql: str, args: tuple[Any, ...] = ()) -> Any:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(sql, args).fetchone()
    return row[0] if row else None


@pytest.mark.postgres
def test_two_archives_in_one_database_keep_their_own_queues(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """Archive B's search_path also names archive A's schema (as `…,public` does when
    public holds an archive): B's workers must not take, and drop, A's feed jobs."""
    server.route("/a.xml", Reply(body=rss(_items("a"))))
    server.route("/b.xml", Reply(body=rss(_items("b"))))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    make_config(tmp_path / "a", [("甲", [server.url + "/a.xml"])])
    make_config(tmp_path / "b", [("乙", [server.url + "/b.xml"])])
    url_a = pg_schemas.new()
    schema_a = pg_schemas.made[-1]
    pg_schemas.new()
    schema_b = pg_schemas.made[-1]
    url_b = schema_url(f"{schema_b}%2C{schema_a}")
    env_a = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": url_a}
    env_b = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": url_b}

    assert _cli(tmp_path / "a" / "newsmirror.toml", "schedule", env=env_a).returncode == 0
    queued_b = _cli(tmp_path / "b" / "newsmirror.toml", "schedule", env=env_b)
    assert queued_b.stdout.startswith("queued 1 feeds"), queued_b.stderr
    worked = _cli(tmp_path / "b" / "newsmirror.toml", "worker", "--until-idle", env=env_b)
    assert "worker done: 1 feeds" in worked.stdout, worked.stderr
    assert "no longer configured" not in worked.stderr
    # A's job still waits for A's workers; B's queue is in B's schema.
    assert _scalar(url_a, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'") == 1
    assert _scalar(url_b, "SELECT to_regclass(%s) IS NOT NULL", (f"{schema_b}.procrastinate_jobs",))
    assert _scalar(url_b, "SELECT count(*) FROM articles") == 3
    assert _scalar(url_b, "SELECT count(*) FROM procrastinate_jobs") == 0  # done, deleted
    assert _scalar(url_a, "SELECT count(*) FROM articles") == 0


@pytest.mark.postgres
def test_a_schema_missing_from_the_url_is_refused_not_replaced_by_the_next(
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """`search_path=mirro2,public` with mirro2 misspelt: PostgreSQL falls back to the next
    schema; newsmirror must refuse rather than write its archive there."""
    from newsmirror.errors import ArchiveError
    from newsmirror.store import Archive

    pg_schemas.new()
    decoy = pg_schemas.made[-1]  # stands for public
    missing = f"{decoy}_missing"
    url = schema_url(f"{missing}%2C{decoy}")
    with pytest.raises(ArchiveError) as caught:
        Archive.open(url, create=True)
    assert missing in caught.value.message
    assert "CREATE SCHEMA" in (caught.value.hint or "")
    tables = _scalar(
        url, "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (decoy,)
    )
    assert tables == 0


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_outlives_the_database_ending_its_sessions(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """The server ends every session of a running worker, again and again for 1.5 s (as
    a restart does, at whatever moment): the worker goes on with new ones; no job is
    failed or left `doing` (one whose marking met the end is given back), every feed is
    stored."""
    feeds = []
    for i in range(10):
        server.route(f"/f{i}.xml", Reply(body=rss(_items(f"f{i}")), delay=0.4))
        feeds.append(server.url + f"/f{i}.xml")
    make_config(tmp_path, [("源", feeds)], extra="retries = 0\nper_host = 2\n")
    config = tmp_path / "newsmirror.toml"
    app_name = f"nmhostile{os.getpid()}"
    url = pg_schemas.new() + f"&application_name={app_name}"
    env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": url}
    assert _cli(config, "schedule", env=env).returncode == 0
    worker = subprocess.Popen(
        [*NEWSMIRROR, "-c", str(config), "worker", "--stalled-after", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    logged = "SELECT count(*) FROM fetch_log"
    busy = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    try:
        deadline = time.monotonic() + 30
        while _scalar(url, "SELECT to_regclass('fetch_log') IS NULL") or not _scalar(url, logged):
            assert time.monotonic() < deadline, "the worker stored nothing"
            time.sleep(0.1)
        ended = 0
        for _ in range(50):  # a restart's every moment: mid-job, marking a job, heartbeats
            ended += _scalar(
                url,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                (app_name,),
            )
            time.sleep(0.03)
        assert ended >= 2  # the archive's, the host slots' and the queue's sessions
        deadline = time.monotonic() + 60
        while _scalar(url, busy):
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            assert time.monotonic() < deadline, "jobs stuck after the sessions ended"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            _, err = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            _, err = worker.communicate()
    assert worker.returncode == 0, err
    assert _scalar(url, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'") == 0
    assert _scalar(url, "SELECT count(DISTINCT feed_url) FROM fetch_log") == 10
    assert _scalar(url, "SELECT count(*) FROM articles") == 30


@pytest.mark.postgres
@pytest.mark.slow
def test_run_queue_takes_back_a_job_its_dead_worker_left_doing(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """A worker was killed mid-job and none runs now: `run --queue` (no time budget) must
    not wait for that job forever; it gives it back to the queue and does it."""
    server.route("/a.xml", Reply(body=rss(_items("a"))))
    server.route("/b.xml", Reply(body=rss(_items("b"))))
    make_config(tmp_path, [("甲", [server.url + "/a.xml"]), ("乙", [server.url + "/b.xml"])])
    config = tmp_path / "newsmirror.toml"
    url = pg_schemas.new()
    env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": url}
    assert _cli(config, "schedule", env=env).returncode == 0
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:  # what a SIGKILL leaves behind
        dead = conn.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat)"
            " VALUES (now() - interval '20 seconds') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s, attempts = 0"
            " WHERE args->>'source' = '甲'",
            (dead,),
        )
        conn.execute("DELETE FROM procrastinate_jobs WHERE args->>'source' = '乙'")
    started = time.monotonic()
    try:
        done = _cli(config, "run", "--queue", "-s", "乙", env=env, timeout=70)
    except subprocess.TimeoutExpired:
        pytest.fail("`run --queue` waited for the dead worker's job for over a minute")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60
    busy = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    assert _scalar(url, busy) == 0
    assert _scalar(url, "SELECT count(*) FROM articles") == 6


@pytest.mark.sqlite_only  # SQLite files on both sides: their media folders are the subject
def test_migrating_images_never_writes_through_a_symlink_in_the_target(
    tmp_path: Path, server: FeedServer
) -> None:
    """The target's media folder holds a dangling symlink where an image goes, and a
    subfolder that is a symlink out of it: nothing is written outside the folder."""
    from newsmirror.store import Archive

    source = tmp_path / "old" / "archive.sqlite"
    Archive.open(source).close()
    images = source.parent / "media" / "ab"
    images.mkdir(parents=True)
    (images / "x.png").write_bytes(b"png")
    (source.parent / "media" / "cd" / "sub").mkdir(parents=True)
    (source.parent / "media" / "cd" / "sub" / "y.png").write_bytes(b"png2")
    (source.parent / "media" / "ef").mkdir()
    (source.parent / "media" / "ef" / "z.png").write_bytes(b"png3")
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "new" / "archive.sqlite"
    (target.parent / "media" / "ab").mkdir(parents=True)
    (target.parent / "media" / "ab" / "x.png").symlink_to(outside / "planted.png")
    (target.parent / "media" / "cd").symlink_to(outside)
    (target.parent / "media" / "ef").symlink_to(outside / "gone")  # dangling
    (target.parent / "media" / "gh").symlink_to("..")  # the archive's folder
    (source.parent / "media" / "gh" / "sub").mkdir(parents=True)
    (source.parent / "media" / "gh" / "sub" / "w.png").write_bytes(b"png4")
    env = {k: v for k, v in os.environ.items() if k != "NEWSMIRROR_ARCHIVE_URL"}
    done = subprocess.run(
        [*NEWSMIRROR, "migrate-archive", str(source), str(target)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert list(outside.iterdir()) == []
    assert (target.parent / "media" / "ab" / "x.png").is_symlink()  # left as it was
    assert not (target.parent / "sub").exists()
