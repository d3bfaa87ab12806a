"""A run killed with SIGKILL while it writes leaves a consistent archive; the next completes it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import Reply, make_config, rss
from newsmirror.errors import ArchiveError
from newsmirror.store import Archive

FEEDS, ITEMS = 30, 60


def count(path) -> int:
    try:
        with Archive.open(path, create=False) as archive:
            return int(archive.conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    except (sqlite3.Error, ArchiveError):
        return 0


def test_kill_minus_nine_then_rerun(tmp_path, server):
    body = "<p>" + "长文内容。" * 400 + "</p>"
    for f in range(FEEDS):
        items = [
            {
                "title": f"源{f}第{i}篇",
                "link": f"https://e.org/{f}/{i}",
                "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
                "content": body,
            }
            for i in range(ITEMS)
        ]
        server.route(f"/f{f}", Reply(body=rss(items)))
    config = make_config(
        tmp_path,
        [(f"s{f}", [f"{server.url}/f{f}"]) for f in range(FEEDS)],
        extra="retries = 0\nconcurrency = 4\n",
    )
    cmd = [sys.executable, "-m", "newsmirror", "-c", str(config.path), "fetch"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed_at = []
    for _ in range(3):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        start = count(config.archive)
        while time.monotonic() < deadline and proc.poll() is None:
            if count(config.archive) > start:
                break
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at.append(count(config.archive))
        with Archive.open(config.archive) as archive:
            assert archive.check() == []
    assert killed_at[0] < FEEDS * ITEMS, "the run finished before it could be killed"
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with Archive.open(config.archive) as archive:
        assert archive.check() == []
        assert archive.counts()["articles"] == FEEDS * ITEMS
        titles = [a.title for a in archive.iter_articles(content=False)]
        assert len(set(titles)) == FEEDS * ITEMS
