"""Review of the two-core export (forked), the flat git history and the run's targets
(session 19): each test reproduces a defect a user would hit, with real parts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmirror.forked import side_by_side
from newsmirror.models import Entry, FeedState
from newsmirror.publish.targets import gitcmd
from newsmirror.store import Archive
from pgharness import archive_option
from processes import only_this_thread
from test_targets import bare, git, git_target, write


def _archive(path: Path, count: int, words: int = 1) -> Path:
    """An archive of ``count`` articles (stored without a feed server: its thread would
    keep the export on one core)."""
    body = "<p>" + "这是一段正文。" * words + "</p>"
    entries = [
        Entry(
            f"https://e.org/{i}",
            "",
            f"第{i}篇",
            "作者",
            f"{body}<p>{i}</p>",
            datetime(2024, 1, 1 + i % 28, tzinfo=UTC),
            "",
        )
        for i in range(count)
    ]
    with Archive.open(path) as archive:
        archive.ensure_source("源")
        now = datetime.now(UTC)
        archive.store_entries(
            "源", "https://e.org/feed", entries, state=FeedState(), started=now, now=now
        )
    return path


def _export(archive: Path, out: Path, **popen: object) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "newsmirror", *archive_option(archive)]
    return subprocess.Popen(
        [*command, "export", "jekyll", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


# -- forked.side_by_side: a parent whose children are reaped for it ----------------------


def _ignore_sigchld() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)


@pytest.mark.skipif(sys.platform != "linux", reason="the export forks on Linux only")
def test_an_export_started_with_sigchld_ignored_writes_every_post(tmp_path):
    # A supervisor (or a shell script's `trap '' CHLD`) that starts newsmirror with SIGCHLD
    # ignored: the kernel reaps the export's child itself, so waitpid() finds none. The
    # export stopped with a ChildProcessError traceback, a third of the posts unwritten.
    archive = _archive(tmp_path / "a.sqlite", 450)
    out = tmp_path / "jekyll"
    done = _export(archive, out, preexec_fn=_ignore_sigchld)
    stdout, stderr = done.communicate(timeout=60)
    assert done.returncode == 0, stderr[-600:]
    assert stdout.strip() == "450 posts: 450 written, 0 unchanged, 0 removed"
    assert len(os.listdir(out / "_posts")) == 450


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_side_by_side_with_sigchld_ignored_uses_the_childs_result_or_runs_it_here():
    parent = os.getpid()

    def dies() -> int:
        if os.getpid() != parent:
            os._exit(3)
        return -1

    only_this_thread()  # else side_by_side runs both parts here (seen once in CI)
    old = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        mine, theirs = side_by_side(os.getpid, os.getpid)
        fallback = side_by_side(os.getpid, dies)
    finally:
        signal.signal(signal.SIGCHLD, old)
    assert mine == parent and theirs != parent  # the child's whole result is used
    assert fallback == (parent, -1)  # nothing came back: its part ran here


# -- an export stopped midway -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_an_export_killed_midway_does_not_publish_every_post_twice_on_the_next_run(tmp_path):
    # kill -9 (an OOM kill, a CI job cancelled) during `export jekyll`: the posts written
    # so far have no export record yet (saved at the end), so the next export takes them
    # for someone else's files and writes every one of those articles again under a
    # hashed name: the Jekyll site then shows each of them twice.
    archive = _archive(tmp_path / "a.sqlite", 3000, words=40)
    out = tmp_path / "jekyll"
    running = _export(archive, out)
    posts = out / "_posts"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and running.poll() is None:
        if posts.is_dir() and len(os.listdir(posts)) >= 100:
            break
        time.sleep(0.005)
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=30)
    assert running.returncode == -signal.SIGKILL, "the export ended before it was killed"
    time.sleep(1.5)  # a forked child, if one was running, finishes its part
    killed = len(
        [n for n in os.listdir(posts) if not n.startswith(".")]
    )  # .nm-*.tmp: a write cut short
    assert 100 <= killed < 3000
    again = _export(archive, out)
    stdout, stderr = again.communicate(timeout=60)
    assert again.returncode == 0, stderr[-600:]
    names = os.listdir(posts)
    assert len(names) == 3000, f"{len(names) - 3000} more files than posts after a killed export"
    assert stdout.strip().endswith(f"{3000 - killed} written, {killed} unchanged, 0 removed")


# -- git target, flat history: the work tree's size ---------------------------------------


def _objects_here(repo: Path) -> int:
    counts = dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())
    return int(counts["count"]) + int(counts["in-pack"])


def test_a_flat_work_tree_stays_the_size_of_one_commit_after_whole_site_rewrites(
    tmp_path, monkeypatch
):
    # flat = true keeps one commit "so that the repository here stays the size of one
    # commit" (git.py). A sync of BULK_FILES files or more (the first publish, and every
    # run that rewrites the whole site: a new layout, a new title) now goes into a pack,
    # and the prune that drops the replaced commits removes loose objects only: each
    # such run left the whole previous site in the work tree (1,200 pages x 4 runs:
    # 4 packs, 10.7 MB, where one commit is 2.7 MB).
    monkeypatch.setattr(gitcmd, "BULK_FILES", 10)
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    target = git_target(work, [remote], flat=True)
    for layout in range(3):
        write(out, {f"posts/{i}.html": f"版式{layout} 第{i}篇" for i in range(20)})
        target.publish(out, message=f"layout {layout}")
    one_commit = len(git(work, "rev-list", "--objects", "HEAD").splitlines())
    assert one_commit == 20 + 2 + 1  # pages, two trees, the commit
    assert _objects_here(work) == one_commit
