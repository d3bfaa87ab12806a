"""Two runs on one archive or one output folder: the second waits a bounded time, then
stops with exit 6 and one clear line; nothing interleaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import SEED, Reply, rss
from test_cli import SEED_NAME, assert_clean_error
from test_cli_errors import make_archive, run, write_config

HOLD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from newsmirror.lock import archive_lock, folder_lock
    lock = archive_lock if sys.argv[1] == "archive" else folder_lock
    with lock(Path(sys.argv[2]), wait=0):
        print("held", flush=True)
        sys.stdin.read()
    """
)


class Holder:
    """Another process holding a newsmirror lock until it is released or killed."""

    def __init__(self, kind, path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, kind, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "held"

    def release(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=10) == 0


@pytest.mark.sqlite_only  # the SQLite file's lock file
def test_commands_wait_for_the_archive_then_give_up(tmp_path):
    archive = make_archive(tmp_path / "a.sqlite", articles=3)
    (tmp_path / "old/_posts").mkdir(parents=True)
    (tmp_path / "old/_posts" / SEED_NAME).write_bytes(SEED.read_bytes())
    write_config(tmp_path, '[[sources]]\nname = "x"\nfeeds = ["http://127.0.0.1:9/f"]\n')
    holder = Holder("archive", archive)
    try:
        for args in (
            ["fetch"],
            ["build", "out"],
            ["export", "jekyll", "out"],
            ["import", "jekyll", "old"],
            ["refetch"],
            ["add", "http://127.0.0.1:9/x", "--allow-private"],
        ):
            started = time.monotonic()
            result = run("--archive", archive, "--wait", "0.1", *args, cwd=tmp_path)
            waited = time.monotonic() - started
            assert_clean_error(result, 6, "in use by another newsmirror run", "0.1 s")
            assert f"pid {holder.proc.pid}" in result.stderr  # who holds it
            assert 0.1 <= waited < 3, args
        # Reading commands do not wait.
        assert run("--archive", archive, "sources", cwd=tmp_path).returncode == 0
    finally:
        holder.release()
    assert not (tmp_path / "a.sqlite.lock").exists()
    result = run("--archive", archive, "export", "jekyll", "out", cwd=tmp_path)
    assert result.returncode == 0 and "3 written" in result.stdout


def test_output_folder_is_locked(tmp_path):
    archive = make_archive(tmp_path / "a.sqlite", articles=3)
    other = make_archive(tmp_path / "b.sqlite", articles=2)
    out = tmp_path / "out"
    out.mkdir()
    holder = Holder("folder", out)
    try:
        for args in (["export", "jekyll", out], ["build", out, "--no-search"]):
            for path in (archive, other):  # another archive, the same output
                result = run("--archive", path, "--wait", "0.2", *args, cwd=tmp_path)
                assert_clean_error(result, 6, "output folder", "in use")
        assert list(out.iterdir()) == []  # nothing written into it
    finally:
        holder.release()
    assert run("--archive", archive, "export", "jekyll", out, cwd=tmp_path).returncode == 0


def test_a_killed_holder_releases_the_lock(tmp_path):
    archive = make_archive(tmp_path / "a.sqlite", articles=1)
    holder = Holder("archive", archive)
    os.kill(holder.proc.pid, signal.SIGKILL)
    holder.proc.wait()
    result = run("--archive", archive, "--wait", "0", "export", "jekyll", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.sqlite_only  # the SQLite file's lock file
@pytest.mark.slow
def test_two_real_fetches_one_waits_for_the_other(tmp_path, server):
    """Two `newsmirror fetch` processes: the second waits while the first runs, gives
    up with exit 6 when told to wait less, and runs after the first when it may wait."""
    server.route("/f", Reply(body=rss([{"title": "慢", "link": "https://e.org/1"}]), delay=1.5))
    write_config(
        tmp_path,
        f'[[sources]]\nname = "x"\nfull_text = "feed"\nfeeds = ["{server.url}/f"]\n',
    )
    cmd = [sys.executable, "-m", "newsmirror", "fetch"]
    env = {**os.environ, "NO_COLOR": "1"}
    first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    lock = tmp_path / "archive.sqlite.lock"
    deadline = time.monotonic() + 20
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert f"pid {first.pid}" in lock.read_text()
    impatient = subprocess.run(
        [*cmd[:3], "--wait", "0.2", "fetch"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert_clean_error(impatient, 6, "in use", f"pid {first.pid}")
    patient = subprocess.run(
        [*cmd[:3], "--wait", "30", "fetch"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert first.wait(timeout=30) == 0
    assert "1 new" in first.stdout.read()
    assert patient.returncode == 0, patient.stderr
    assert "0 new" in patient.stdout  # it ran after the first had stored the article
    assert len([r for r in server.requests if r[0] == "/f"]) == 2
    assert not lock.exists()
