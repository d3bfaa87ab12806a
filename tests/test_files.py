"""Atomic writes: the permissions of a plain file, whole files only, nothing left behind."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from newsmirror.files import atomic_write, is_leftover


@contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0, 0o666)])
def test_a_written_file_has_the_mode_of_a_plainly_created_one(tmp_path, mask, expected):
    with umask(mask):
        atomic_write(tmp_path / "new" / "deeper" / "page.html", b"<p>one</p>")
        (tmp_path / "plain.html").write_bytes(b"x")
    assert mode(tmp_path / "new" / "deeper" / "page.html") == expected
    assert mode(tmp_path / "plain.html") == expected


def test_the_umask_is_left_as_it_was(tmp_path):
    with umask(0o027):
        atomic_write(tmp_path / "page.html", b"x")
        assert os.umask(0o027) == 0o027


def test_a_file_is_replaced_whole_and_nothing_stays_behind(tmp_path):
    target = tmp_path / "site" / "index.html"
    atomic_write(target, b"old")
    atomic_write(target, b"new and longer")
    assert target.read_bytes() == b"new and longer"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["index.html", "site"]


def test_a_failed_write_keeps_the_old_content_and_leaves_no_temporary_file(tmp_path):
    folder = tmp_path / "out"
    (folder / "taken" / "inside").mkdir(parents=True)  # a folder where the file goes
    with pytest.raises(OSError):
        atomic_write(folder / "taken", b"data")
    assert sorted(p.name for p in folder.iterdir()) == ["taken"]
    assert (folder / "taken" / "inside").is_dir()


def test_concurrent_writes_of_one_file_never_mix(tmp_path):
    """Each writer has its own temporary file: the result is one writer's bytes whole."""
    target = tmp_path / "page.html"
    blobs = [bytes([65 + i]) * 200_000 for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(atomic_write, target, blob) for blob in blobs]:
            done.result()
    assert target.read_bytes() in blobs
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_a_file_below_a_root_is_reached_with_no_symlink_followed(tmp_path):
    """Outputs are read below their root (folder and s3 targets, the writer): a folder or
    file there swapped for a symlink never leads outside."""
    import errno

    import pytest

    from newsmirror.files import read_below

    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "page.html").write_text("page", encoding="utf-8")
    outside.mkdir()
    (outside / "page.html").write_text("secret", encoding="utf-8")
    assert read_below(root, "a/b/page.html") == b"page"
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "a" / "file").symlink_to(outside / "page.html")
    for relpath in ("link/page.html", "a/file"):
        with pytest.raises(OSError) as raised:
            read_below(root, relpath)
        assert raised.value.errno in (errno.ELOOP, errno.ENOTDIR)
    assert read_below(tmp_path / "root", "a/b/page.html") == b"page"


def test_a_fifo_where_a_file_was_is_refused_at_once(tmp_path):
    """A FIFO swapped in for an output file while a target reads it: refused, not a read
    that waits for a writer forever (the publish hung)."""
    from newsmirror.files import read_below

    (tmp_path / "a").mkdir()
    os.mkfifo(tmp_path / "a" / "page.html")
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(read_below, tmp_path, "a/page.html")
        try:
            error = reading.exception(timeout=10)
        finally:
            if not reading.done():  # unblock the hung open, then fail
                fd = os.open(tmp_path / "a" / "page.html", os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
    assert isinstance(error, OSError) and "not a regular file" in str(error)


# -- from a mutation pass: each test fails on a seeded bug the suite let through --


def test_the_temporary_name_of_atomic_write_counts_as_a_leftover(tmp_path, monkeypatch):
    """A killed run's .nm-*.tmp must be recognised (and cleaned) by the Jekyll export."""
    names = []
    real_replace = os.replace

    def spy(src, dst):
        names.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write(tmp_path / "f.txt", b"x")
    assert len(names) == 1 and is_leftover(names[0])
    assert not is_leftover(".nm-" + "0" * 23 + ".tmp")


def test_an_explicit_mode_is_set_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "pub.html", b"x", mode=0o644)
    finally:
        os.umask(old)
    assert (tmp_path / "pub.html").stat().st_mode & 0o777 == 0o644
