"""Hostile review of the git target that commits the output where it lies (commit
354e2f5): names git or Python treat specially, the user's git config, nested
repositories in the output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from test_targets import bare, git, git_target, tree_files, write

SITE = {"index.html": "首页\n", "posts/1.html": "第一篇\n"}


def blob(repo: Path, ref: str, rel: str) -> bytes:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run(
        ["git", "cat-file", "blob", f"{ref}:{rel}"], cwd=repo, capture_output=True, env=env
    ).stdout


def raw_tree(repo: Path, ref: str = "main") -> set[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    out = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--name-only", ref], cwd=repo, capture_output=True, env=env
    ).stdout
    return {name for name in out.split(b"\0") if name}


def test_names_that_are_not_utf8_are_published_from_the_output_and_the_folder(tmp_path):
    # A Jekyll tree unpacked from a GBK zip has such names; git takes them as bytes.
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, SITE)
    gbk = "新闻".encode("gbk")
    (out / os.fsdecode(gbk + b".html")).write_bytes(b"gbk page")
    target = git_target(work, [remote])
    assert target.publish(out, message="cold").added == 3
    (work / os.fsdecode(b"notes-" + gbk + b".txt")).write_bytes(b"mine")
    assert target.publish(out, message="kept").added == 1
    assert raw_tree(remote) == {
        b"index.html",
        b"posts/1.html",
        gbk + b".html",
        b"notes-" + gbk + b".txt",
    }
    assert blob(remote, "main", os.fsdecode(gbk + b".html")) == b"gbk page"
    assert "no change" in target.publish(out, message="idle").detail
    # a new runner checks the user's file out, under its own name
    fresh = git_target(tmp_path / "w2", [remote])
    assert "no change" in fresh.publish(out, message="again").detail
    assert (tmp_path / "w2" / os.fsdecode(b"notes-" + gbk + b".txt")).read_bytes() == b"mine"


def test_the_users_global_attributes_and_filters_never_change_what_is_published(
    tmp_path, monkeypatch
):
    home = tmp_path / "home"
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".gitconfig").write_text(
        '[core]\n\tautocrlf = true\n[filter "up"]\n\tclean = tr a-z A-Z\n\trequired = true\n',
        encoding="utf-8",
    )
    (home / ".config" / "git" / "attributes").write_text(
        "*.html filter=up\n*.jpg text eol=crlf\n", encoding="utf-8"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    image = b"\xff\xd8\xff\r\n\x00jpeg\r\n"
    write(out, {"index.html": "hello\r\n"})
    (out / "a.jpg").write_bytes(image)
    target = git_target(work, [remote])
    target.publish(out, message="cold")
    assert blob(remote, "main", "index.html") == b"hello\r\n"
    assert blob(remote, "main", "a.jpg") == image
    # a .gitattributes the user keeps in the target's folder is theirs, not the site's
    write(work, {".gitattributes": "* text=auto\n"})
    (out / "b.html").write_bytes(b"two\r\nlines\r\n")
    target.publish(out, message="hourly")
    assert blob(remote, "main", "b.html") == b"two\r\nlines\r\n"
    assert blob(remote, "main", ".gitattributes") == b"* text=auto\n"
    # and a new runner's checkout of that file is not converted either
    fresh = git_target(tmp_path / "w2", [remote])
    assert "no change" in fresh.publish(out, message="again").detail


def test_a_nested_repository_in_the_output_is_left_out_and_the_rest_published(tmp_path):
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, {**SITE, "theme/x.css": "css", "vendor/y.js": "js"})
    git(out / "theme", "init", "-q")  # a repository without a commit
    (out / "vendor" / ".git").write_text("gitdir: /nowhere\n", encoding="utf-8")
    target = git_target(work, [remote])
    assert target.publish(out, message="cold").added == 2
    assert tree_files(remote, "main") == set(SITE)
    assert "no change" in target.publish(out, message="idle").detail


def test_a_folder_that_becomes_a_nested_repository_leaves_the_branch(tmp_path):
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, {**SITE, "theme/x.css": "css"})
    target = git_target(work, [remote])
    target.publish(out, message="cold")
    assert "theme/x.css" in tree_files(remote, "main")
    git(out / "theme", "init", "-q")
    assert target.publish(out, message="nested").removed == 1
    assert tree_files(remote, "main") == set(SITE)
