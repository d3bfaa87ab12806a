"""`newsmirror migrate-archive`: SQLite -> PostgreSQL -> SQLite loses nothing (issue 11),
and the queue's workers keep to the per-host limit together."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, FeedServer, Reply, make_config, rss
from pgharness import Schemas, pg_schemas  # noqa: F401 (fixture)
from test_workers import _same_tree

pytestmark = [pytest.mark.postgres]

NEWSMIRROR = (sys.executable, "-m", "newsmirror")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _cli(config: Path, *args: str, env: dict[str, str] | None = None) -> str:
    if env is None:  # the config's archive, not the one the PostgreSQL test pass names
        env = {k: v for k, v in os.environ.items() if k != "NEWSMIRROR_ARCHIVE_URL"}
    done = subprocess.run(
        [*NEWSMIRROR, "-c", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _items(server: FeedServer, version: int) -> list[dict[str, str]]:
    return [
        {
            "title": f"第{i}篇 {'修改后' if version and i == 0 else ''}标题",
            "link": f"https://news.example/{i}.html",
            "guid": f"g{i}",
            "pubDate": f"Tue, 0{1 + i} Oct 2024 08:00:00 +0800",
            "author": "记者甲",
            "content": f'<p>习近平 正文{i} 內容</p><img src="{server.url}/img/{i}.png" alt="图{i}">'
            + "<p>更多的文字。</p>" * 5,
        }
        for i in range(6)
    ]


def test_sqlite_to_postgresql_and_back_exports_the_same_files(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    state = {"version": 0}
    server.route("/feed.xml", lambda _h: Reply(body=rss(_items(server, state["version"]))))
    for i in range(6):
        server.route(f"/img/{i}.png", Reply(body=PNG, headers={"Content-Type": "image/png"}))
    first = tmp_path / "first"
    first.mkdir()
    make_config(first, [("源", [server.url + "/feed.xml"])], media="mirror")
    config = first / "newsmirror.toml"
    _cli(config, "fetch")
    state["version"] = 1  # a revision
    _cli(config, "fetch")
    _cli(config, "export", "jekyll", str(first / "out"))

    url = pg_schemas.new()
    back = tmp_path / "back"
    back.mkdir()
    to_pg = _cli(config, "migrate-archive", str(first / "archive.sqlite"), url)
    assert "6 articles" in to_pg and "1 revisions" in to_pg
    assert "@" not in to_pg or "***" in to_pg
    _cli(config, "migrate-archive", url, str(back / "archive.sqlite"))
    make_config(back, [("源", [server.url + "/feed.xml"])], media="mirror")
    _cli(back / "newsmirror.toml", "export", "jekyll", str(back / "out"))
    _same_tree(first / "out", back / "out")
    assert len(list((back / "out" / "media").rglob("*.png"))) == 1  # one image, six uses

    pg_env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": url}
    _cli(config, "export", "jekyll", str(tmp_path / "from-pg"), env=pg_env)
    _same_tree(first / "out", tmp_path / "from-pg")
    lite = _cli(config, "search", "習近平", "--json")
    on_pg = _cli(config, "search", "習近平", "--json", env=pg_env)
    assert lite == on_pg and lite.count('"url"') >= 6


def test_migrating_into_an_archive_that_is_not_empty_is_refused(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    server.route("/feed.xml", Reply(body=rss(_items(server, 0))))
    make_config(tmp_path, [("源", [server.url + "/feed.xml"])])
    config = tmp_path / "newsmirror.toml"
    _cli(config, "fetch")
    url = pg_schemas.new()
    _cli(config, "migrate-archive", str(tmp_path / "archive.sqlite"), url)
    again = subprocess.run(
        [*NEWSMIRROR, "-c", str(config), "migrate-archive", str(tmp_path / "archive.sqlite"), url],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert again.returncode != 0
    assert "not empty" in again.stderr and "hint:" in again.stderr


def test_workers_together_keep_the_per_host_limit(
    tmp_path: Path,
    server: FeedServer,
    pg_schemas: Schemas,  # noqa: F811
) -> None:
    """Three workers, 30 feeds on one host with `per_host = 1`: never two requests to the
    host at once, although each worker alone would allow one."""
    active, peak, lock = [0], [0], threading.Lock()

    def slow(_handler: object) -> Reply:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return Reply(body=rss(_items(server, 0)[:1]))

    feeds = []
    for i in range(30):
        server.route(f"/f{i}.xml", slow)
        feeds.append(server.url + f"/f{i}.xml")
    make_config(tmp_path, [("源", feeds)], extra="per_host = 1\nretries = 0\n")
    config = tmp_path / "newsmirror.toml"
    env = {**os.environ, "NEWSMIRROR_ARCHIVE_URL": pg_schemas.new()}
    _cli(config, "schedule", "--all", env=env)
    workers = [
        subprocess.Popen(
            [*NEWSMIRROR, "-c", str(config), "worker", "--until-idle"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    served = sum(1 for path, _ in server.requests if path.startswith("/f"))
    assert served == 30
    assert peak[0] == 1


def test_an_empty_source_file_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    done = subprocess.run(
        [*NEWSMIRROR, "migrate-archive", str(empty), str(tmp_path / "copy.sqlite")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 4
    assert "empty file, not an archive" in done.stderr and "hint:" in done.stderr
    assert empty.stat().st_size == 0 and not (tmp_path / "copy.sqlite").exists()
