"""The git target commits the output's files where they are (issue 8's speed target: the
copy into the work tree was a cold publish's main cost): its folder holds only the files
newsmirror did not place, and git never writes into the output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsmirror.errors import PublishError
from test_targets import bare, commits, git, git_target, tree_files, write


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry below ``root``: its kind, bytes, mode and mtime (folders' too)."""
    found: dict[str, tuple[object, ...]] = {}
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        found[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns, info.st_ino, data)
    return found


def worktree_files(work: Path) -> set[str]:
    return {
        str(p.relative_to(work))
        for p in work.rglob("*")
        if not p.is_dir() and ".git" not in p.relative_to(work).parts
    }


def mtimes(work: Path) -> dict[Path, int]:
    return {p: p.lstat().st_mtime_ns for p in [work, *work.rglob("*")]}


SITE = {"index.html": "首页", "posts/1.html": "第一篇", "posts/2.html": "第二篇"}


def test_git_reads_the_output_where_it_is_and_never_writes_there(tmp_path):
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, SITE)
    target = git_target(work, [remote])
    before = snapshot(out)
    assert target.publish(out, message="cold").added == 3
    assert snapshot(out) == before, "publishing changed the output folder"
    assert worktree_files(work) == set(), "the work tree holds copies of the output"
    assert tree_files(remote, "main") == set(SITE)
    assert git(work, "status", "--porcelain") == ""  # git there sees the branch as it is

    write(out, {"posts/3.html": "第三篇", "index.html": "新首页"})
    (out / "posts/1.html").unlink()
    before = snapshot(out)
    hourly = target.publish(out, message="hourly")
    assert (hourly.added, hourly.changed, hourly.removed) == (1, 1, 1)
    assert snapshot(out) == before
    assert worktree_files(work) == set()
    assert git(remote, "show", "main:index.html") == "新首页"
    assert tree_files(remote, "main") == {"index.html", "posts/2.html", "posts/3.html"}

    # A new runner (a fresh clone) neither checks the site out nor touches the output.
    fresh = git_target(tmp_path / "w2", [remote])
    assert "no change" in fresh.publish(out, message="again").detail
    assert snapshot(out) == before
    assert worktree_files(tmp_path / "w2") == set()
    assert commits(remote, "main") == ["hourly", "cold"]


def test_an_idle_run_writes_nothing_anywhere(tmp_path):
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, SITE)
    target = git_target(work, [remote])
    target.publish(out, message="cold")
    write(work, {"CNAME": "mirror.example.org"})  # the user's own file
    target.publish(out, message="cname")
    assert tree_files(remote, "main") == {*SITE, "CNAME"}
    for _ in range(2):
        here, there = mtimes(work), snapshot(out)
        idle = target.publish(out, message="idle")
        assert "no change" in idle.detail and (idle.added, idle.changed, idle.removed) == (0, 0, 0)
        assert mtimes(work) == here, "an idle run wrote in the target's folder"
        assert snapshot(out) == there
    # An output file rewritten with the same bytes (a new inode) is no change either.
    (out / "index.html").unlink()
    write(out, {"index.html": SITE["index.html"]})
    assert "no change" in target.publish(out, message="same bytes").detail
    assert commits(remote, "main") == ["cname", "cold"]


def test_the_users_files_in_the_target_folder_are_committed_beside_the_output(tmp_path):
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, SITE)
    target = git_target(work, [remote])
    target.publish(out, message="one")
    hostile = {"-n ; rm -rf ~": "x", ":(top,glob)*.md": "y", "$(touch pwned)": "z", "[ab]": "w"}
    write(work, {"CNAME": "mirror.example.org", "docs/README.md": "读我", **hostile})
    target.publish(out, message="two")
    assert tree_files(remote, "main") == {*SITE, "CNAME", "docs/README.md", *hostile}
    assert not list(tmp_path.rglob("pwned"))
    assert git(remote, "show", "main:docs/README.md") == "读我"
    # its trailer names them, for a new runner
    kept = ["$(touch pwned)", "-n ; rm -rf ~", ":(top,glob)*.md", "CNAME", "[ab]", "docs/README.md"]
    assert f"Newsmirror-Kept: {json.dumps(kept)}" in git(remote, "log", "-1", "main")
    for name in [*hostile, "docs/README.md"]:  # the user takes them away
        (work / name).unlink()
    result = target.publish(out, message="three")
    assert result.removed == 5
    assert tree_files(remote, "main") == {*SITE, "CNAME"}


def test_a_new_runner_checks_out_only_the_files_newsmirror_did_not_place(tmp_path):
    out, remote = tmp_path / "public", bare(tmp_path / "r.git")
    write(out, {**SITE, "gone.html": "gone"})
    git_target(tmp_path / "w1", [remote]).publish(out, message="first")
    write(tmp_path / "w1", {"CNAME": "mirror.example.org"})
    git_target(tmp_path / "w1", [remote]).publish(out, message="cname")
    (out / "gone.html").unlink()
    w2 = tmp_path / "w2"
    git_target(w2, [remote]).publish(out, message="second")
    assert worktree_files(w2) == {"CNAME"}
    assert tree_files(remote, "main") == {*SITE, "CNAME"}
    assert git(w2, "status", "--porcelain") == ""
    here = mtimes(w2)
    assert "no change" in git_target(w2, [remote]).publish(out, message="idle").detail
    assert mtimes(w2) == here


def test_a_users_file_where_the_output_has_one_stays_unpublished_and_untouched(tmp_path):
    # The output's file of that path is what readers get; the user's copy is not
    # deleted (an older version overwrote it).
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, SITE)
    target = git_target(work, [remote])
    target.publish(out, message="one")
    write(work, {"index.html": "the user's own page", "CNAME": "m.example.org", "*": "star"})
    two = target.publish(out, message="two")
    assert "1 of your files not published, the output has its own: index.html" in two.detail
    write(out, {"posts/3.html": "第三篇"})  # the next run reads the user's files again
    target.publish(out, message="three")
    assert git(remote, "show", "main:index.html") == SITE["index.html"]
    assert (work / "index.html").read_text(encoding="utf-8") == "the user's own page"
    assert 'Newsmirror-Kept: ["*", "CNAME"]' in git(remote, "log", "-1", "main")
    here = mtimes(work)
    assert "no change" in target.publish(out, message="idle").detail
    assert mtimes(work) == here


def test_a_users_file_in_the_outputs_way_is_reported_and_the_output_published(tmp_path):
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, {"index.html": "x"})
    git_target(work, [remote]).publish(out, message="one")
    write(work, {"posts": "a file where the output has a folder", "index.html/x": "y"})
    write(out, SITE)
    with pytest.raises(PublishError) as caught:
        git_target(work, [remote]).publish(out, message="two")
    assert "2 files" in caught.value.message and "index.html/x" in caught.value.message
    assert str(work) in caught.value.hint
    assert tree_files(remote, "main") == set(SITE)  # the output is published all the same
    assert (work / "posts").read_text(encoding="utf-8").startswith("a file where")


def test_a_symlink_in_the_output_is_not_published(tmp_path):
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    outside = tmp_path / "outside"
    write(outside, {"secret.txt": "secret"})
    write(out, SITE)
    (out / "link.txt").symlink_to(outside / "secret.txt")
    (out / "linked").symlink_to(outside, target_is_directory=True)
    target = git_target(work, [remote])
    target.publish(out, message="one")
    assert tree_files(remote, "main") == set(SITE)
    here = mtimes(work)
    assert "no change" in target.publish(out, message="idle").detail
    assert mtimes(work) == here


def test_an_older_work_tree_full_of_copies_is_taken_over(tmp_path):
    # Older versions copied the output into the work tree (their stat cache in .git/).
    # The next run removes those copies, never publishes a stale one, keeps the user's.
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, {**SITE, "gone.html": "gone"})
    git_target(work, [remote]).publish(out, message="old")
    write(work, {"CNAME": "mirror.example.org"})
    git_target(work, [remote]).publish(out, message="cname")
    # ... made as an older version left it: copies of the output, a plain index.
    write(work, {**SITE, "gone.html": "gone"})
    (work / ".git" / "newsmirror-layout").unlink()
    (work / ".git" / "newsmirror-output.json").unlink()
    (work / ".git" / "newsmirror-cache.json").write_text("{}", encoding="utf-8")
    git(work, "read-tree", "HEAD")
    git(work, "update-index", "-q", "--refresh")
    assert git(work, "status", "--porcelain") == ""

    (out / "gone.html").unlink()
    write(out, {"index.html": "新首页"})
    before = snapshot(out)
    result = git_target(work, [remote]).publish(out, message="new")
    assert (result.added, result.changed, result.removed) == (0, 1, 1)
    assert tree_files(remote, "main") == {*SITE, "CNAME"}
    assert git(remote, "show", "main:index.html") == "新首页"
    assert worktree_files(work) == {"CNAME"}
    assert not (work / "posts").exists()  # its emptied folder too
    assert not (work / ".git" / "newsmirror-cache.json").exists()
    assert snapshot(out) == before
    here = mtimes(work)
    assert "no change" in git_target(work, [remote]).publish(out, message="idle").detail
    assert mtimes(work) == here


def test_locks_a_killed_git_left_behind_do_not_stop_the_next_publish(tmp_path):
    import os
    import time

    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, SITE)
    target = git_target(work, [remote])
    target.publish(out, message="cold")
    # A run killed inside `git add` and `update-ref` (kill -9, a lost runner) an hour ago.
    old = time.time() - 3600
    for name in ("index.lock", "HEAD.lock", "refs/heads/main.lock"):
        lock = work / ".git" / name
        lock.write_bytes(b"")
        os.utime(lock, (old, old))
    write(out, {"index.html": "新首页"})
    assert target.publish(out, message="hourly").changed == 1
    assert git(remote, "show", "main:index.html") == "新首页"
    # A lock of this moment may be another git's (the user's): it is left alone.
    (work / ".git" / "index.lock").write_bytes(b"")
    write(out, {"index.html": "再一次"})
    with pytest.raises(PublishError):
        target.publish(out, message="blocked")
    assert (work / ".git" / "index.lock").exists()
