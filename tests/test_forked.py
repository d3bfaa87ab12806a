"""Work on two cores (newsmirror.forked) and the Jekyll export that uses it: the same
bytes as one core, nothing lost when the child fails."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsmirror.forked import side_by_side
from newsmirror.models import Entry, FeedState
from newsmirror.publish import jekyll
from newsmirror.store import Archive
from processes import only_this_thread

PARENT = os.getpid()


def test_the_child_does_its_part_on_another_process():
    mine, theirs = side_by_side(os.getpid, os.getpid)
    assert mine == PARENT
    assert theirs != PARENT  # computed in the child, sent back


def test_no_child_is_forked_while_another_thread_runs():
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        mine, theirs = side_by_side(os.getpid, os.getpid)
    finally:
        release.set()
        other.join()
    assert mine == theirs == PARENT  # both here: a lock the thread held could hang a child


def test_a_child_that_dies_leaves_its_part_to_this_process():
    def there():
        if os.getpid() != PARENT:
            os._exit(3)  # killed, out of memory: the result never comes
        return "done here"

    assert side_by_side(lambda: 1, there) == (1, "done here")


def test_an_error_in_the_childs_part_surfaces_here_as_without_the_child():
    calls = []

    def there():
        calls.append(os.getpid())  # only this process's list is seen here
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        side_by_side(lambda: 1, there)
    assert calls == [PARENT]  # the child failed too, then it ran here


def test_an_error_here_ends_the_child_and_goes_on():
    def here():
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        side_by_side(here, lambda: time.sleep(20))
    assert time.monotonic() - started < 5  # the child was killed, not waited for
    assert _children() == []  # none left behind, running or a zombie


def _children() -> list[str]:
    """This process's children (zombies too) but multiprocessing's resource tracker and
    fork server, which an earlier test's extraction pool starts and which live as long as
    this process."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        mine = int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()
        lasting = (b"multiprocessing.resource_tracker", b"multiprocessing.forkserver")
        if mine and not any(name in cmdline for name in lasting):
            found.append(f"{entry.name} {cmdline[:80]!r}")
    return found


def _tree(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def archive_of_posts(tmp_path):
    """30 articles linking to each other, stored without a feed server (its thread would
    keep the export on one core)."""
    links = "".join(f'<a href="https://e.org/{i}">{i}</a>' for i in range(0, 30, 7))
    entries = [
        Entry(
            f"https://e.org/{i}",
            "",
            f"第{i}篇",
            "作者",
            f"<p>内容{i} {links}</p>",
            datetime(2024, 1, 1 + i % 9, tzinfo=UTC),
            "",
        )
        for i in range(30)
    ]
    archive = Archive.open(tmp_path / "archive.sqlite")
    archive.ensure_source("源")
    now = datetime.now(UTC)
    archive.store_entries(
        "源", "https://e.org/feed", entries, state=FeedState(), started=now, now=now
    )
    yield archive
    archive.close()


def test_an_export_on_two_cores_writes_what_one_core_writes(
    tmp_path, archive_of_posts, monkeypatch
):
    monkeypatch.setattr(jekyll, "BATCH", 4)  # 30 posts: parts of two halves of 4 batches
    monkeypatch.setattr(jekyll, "PARALLEL_FROM", 8)
    monkeypatch.setattr(jekyll, "can_fork", lambda: True)
    children = []
    monkeypatch.setattr(jekyll, "side_by_side", lambda *a: children.append(1) or side_by_side(*a))
    only_this_thread()  # else both halves would run here
    two = jekyll.export_jekyll(archive_of_posts, tmp_path / "two")
    assert len(children) == 1  # 30 posts: two halves of 15, the second in a child
    monkeypatch.setattr(jekyll, "can_fork", lambda: False)
    one = jekyll.export_jekyll(archive_of_posts, tmp_path / "one")
    assert (
        (two.written, two.unchanged, two.total) == (one.written, one.unchanged, 30) == (30, 0, 30)
    )
    assert _tree(tmp_path / "two") == _tree(tmp_path / "one")
    assert 'data-original="https://e.org/7"' in (tmp_path / "two" / "_posts").joinpath(
        sorted(os.listdir(tmp_path / "two" / "_posts"))[-1]
    ).read_text("utf-8")
    monkeypatch.setattr(jekyll, "can_fork", lambda: True)
    again = jekyll.export_jekyll(archive_of_posts, tmp_path / "two")
    assert (again.written, again.unchanged) == (0, 30)
