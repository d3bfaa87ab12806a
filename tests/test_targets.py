"""Publish targets `folder` and `git` (issue 8): real folders, real git, bare repositories
on disk as remotes, and `newsmirror run` against a local feed server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import ARTICLE_TEXT, Reply, rss
from newsmirror.config import parse_config
from newsmirror.errors import ConfigError, PublishError
from newsmirror.pipeline import RunSummary, SourceResult
from newsmirror.publish.targets import TargetConfig, folder, make_target
from newsmirror.runjob import OutputResult, RunReport, TargetOutcome
from test_cli import nm

HOSTILE = [
    "with space.html",
    'it\'s "quoted".html',
    "-rf",
    "--force.html",
    "新闻 报道.md",
    "$(touch pwned).txt",
    "-n/; rm -rf ~.html",
]


def git(cwd, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def bare(path):
    path.mkdir(parents=True)
    git(path, "init", "-q", "--bare")
    return path


def commits(repo, ref="HEAD"):
    """The commit messages of ``ref``, newest first."""
    return git(repo, "log", "--format=%s", ref).splitlines()


def tree_files(repo, ref="HEAD"):
    return set(
        git(repo, "-c", "core.quotepath=off", "ls-tree", "-r", "--name-only", "-z", ref)
        .strip("\0")
        .split("\0")
    )


def write(root, files):
    """Write files into an output as newsmirror's writer does: each replaced, not
    rewritten in place (a folder target may have linked the old one)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp-write")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def files_of(root):
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts and not p.name.startswith(".")
    }


def folder_target(path):
    return make_target(TargetConfig("folder", "site", "web", options={"path": path}))


def git_target(path, remotes=(), **options):
    options = {"path": path, "remotes": [str(r) for r in remotes], "backoff": 0.01, **options}
    return make_target(TargetConfig("git", "site", "gh", options=options))


# -- folder --------------------------------------------------------------------------------


def test_folder_sync_adds_changes_removes_and_leaves_unchanged_files_alone(tmp_path):
    out, web = tmp_path / "public", tmp_path / "www"
    write(out, {"index.html": "首页", "a/1.html": "one", "a/2.html": "two", "old/x.html": "x"})
    target = folder_target(web)
    first = target.publish(out, message="m")
    assert (first.added, first.changed, first.removed) == (4, 0, 0)
    assert files_of(web) == files_of(out)
    (web / "CNAME").write_text("mirror.example.org", encoding="utf-8")  # not ours
    before = {p: (web / p).stat().st_mtime_ns for p in ("index.html", "a/1.html")}

    write(out, {"a/2.html": "TWO", "b/new.html": "new"})
    (out / "old/x.html").unlink()
    (out / "old").rmdir()
    second = target.publish(out, message="m")
    assert (second.added, second.changed, second.removed) == (1, 1, 1)
    assert files_of(web) == {**files_of(out), "CNAME": "mirror.example.org"}
    assert not (web / "old").exists()  # the folder it emptied is gone
    assert {p: (web / p).stat().st_mtime_ns for p in before} == before
    idle = target.publish(out, message="m")
    assert (idle.added, idle.changed, idle.removed) == (0, 0, 0)
    (web / ".newsmirror-cache.json").unlink()  # compared by bytes then
    idle = target.publish(out, message="m")
    assert (idle.added, idle.changed, idle.removed) == (0, 0, 0)
    assert {p: (web / p).stat().st_mtime_ns for p in before} == before


def test_folder_files_are_links_to_the_outputs_until_the_output_replaces_them(tmp_path):
    """On one file system the web root gets hard links (no byte copied); a page the site
    replaces keeps its old bytes there until the next publish links the new one."""
    out, web = tmp_path / "public", tmp_path / "www"
    write(out, {"index.html": "首页", "a/1.html": "one"})
    target = folder_target(web)
    target.publish(out, message="m")
    assert os.path.samefile(out / "a/1.html", web / "a/1.html")
    write(out, {"a/1.html": "ONE"})
    assert (web / "a/1.html").read_text(encoding="utf-8") == "one"  # not published yet
    again = target.publish(out, message="m")
    assert (again.added, again.changed) == (0, 1)
    assert os.path.samefile(out / "a/1.html", web / "a/1.html")
    (web / ".newsmirror-cache.json").unlink()  # a link is the same file: nothing to do
    idle = target.publish(out, message="m")
    assert (idle.added, idle.changed, idle.removed) == (0, 0, 0)


@pytest.mark.parametrize("link", [True, False])
@pytest.mark.parametrize("swap", ["file", "folder"])
def test_a_file_swapped_for_a_link_while_publishing_never_publishes_what_is_outside(
    tmp_path, swap, link
):
    """The output's file is listed, then (a race) it or its folder becomes a symlink to a
    file outside: the web root must get neither that symlink nor a hard link to the file
    outside nor a copy of it, only a line saying the file could not be synced."""
    out, web, outside = tmp_path / "public", tmp_path / "www", tmp_path / "outside"
    write(out, {"d/page.html": "page"})
    write(outside, {"page.html": "secret"})
    (outside / "page.html").chmod(0o644)
    listed = folder.list_files(out)
    if swap == "file":
        (out / "d/page.html").unlink()
        (out / "d/page.html").symlink_to(outside / "page.html")
    else:
        shutil.rmtree(out / "d")
        (out / "d").symlink_to(outside, target_is_directory=True)
    web.mkdir()
    sync = folder._Sync(out, web.resolve(), {}, link=link)
    with pytest.raises(OSError):
        sync.copy("d/page.html", listed["d/page.html"])
    placed = web / "d/page.html"
    assert not placed.is_symlink() and not placed.exists()
    assert not any(p.name.endswith(".tmp") for p in web.rglob("*"))


def test_folder_copies_what_it_may_not_link(tmp_path):
    """A file whose mode is not 0644 is copied (a link would share the mode it gets),
    as is every file with link = false; the output's own files stay as they were."""
    out, web, plain = tmp_path / "public", tmp_path / "www", tmp_path / "plain"
    write(out, {"private.html": "p", "page.html": "x"})
    (out / "private.html").chmod(0o600)
    folder_target(web).publish(out, message="m")
    assert not os.path.samefile(out / "private.html", web / "private.html")
    assert stat.S_IMODE((web / "private.html").stat().st_mode) == 0o644
    assert stat.S_IMODE((out / "private.html").stat().st_mode) == 0o600
    assert os.path.samefile(out / "page.html", web / "page.html")
    options = {"path": plain, "link": False}
    make_target(TargetConfig("folder", "site", "web", options=options)).publish(out, message="m")
    assert files_of(plain) == files_of(out)
    assert not any(os.path.samefile(out / n, plain / n) for n in ("private.html", "page.html"))


def test_folder_on_another_file_system_gets_copies(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system here")
    web = Path(tempfile.mkdtemp(dir=shm))
    try:
        out = tmp_path / "public"
        write(out, {"a/1.html": "one", "index.html": "首页"})
        result = folder_target(web / "www").publish(out, message="m")
        assert result.added == 2 and files_of(web / "www") == files_of(out)
    finally:
        shutil.rmtree(web)


def test_folder_files_are_readable_by_others_whatever_the_umask(tmp_path):
    out, web = tmp_path / "public", tmp_path / "www"
    write(out, {"a/b/page.html": "x"})
    old = os.umask(0o077)
    try:
        folder_target(web).publish(out, message="m")
    finally:
        os.umask(old)
    assert stat.S_IMODE((web / "a/b/page.html").stat().st_mode) == 0o644
    assert stat.S_IMODE((web / "a/b").stat().st_mode) == 0o755
    assert stat.S_IMODE((web / "a").stat().st_mode) == 0o755


def test_folder_sync_never_reaches_outside_its_folder(tmp_path):
    out, web, outside = tmp_path / "public", tmp_path / "www", tmp_path / "outside"
    write(outside, {"victim.html": "keep me", "secret.txt": "secret"})
    write(out, {"sub/page.html": "page", "victim.html": "published"})
    (out / "link.txt").symlink_to(outside / "secret.txt")  # a symlink in the output
    web.mkdir()
    (web / "sub").symlink_to(outside, target_is_directory=True)  # a planted folder link
    (web / "victim.html").symlink_to(outside / "victim.html")  # a planted file link
    (web / ".newsmirror-files").write_text(
        json.dumps(["../outside/secret.txt", "sub/../../outside/victim.html", "/etc/hostname"])
    )
    folder_target(web).publish(out, message="m")
    assert files_of(outside) == {"victim.html": "keep me", "secret.txt": "secret"}
    assert (web / "sub").is_dir() and not (web / "sub").is_symlink()
    assert (web / "victim.html").read_text(encoding="utf-8") == "published"
    assert not (web / "victim.html").is_symlink()
    assert not (web / "link.txt").exists()  # symlinks are not published


def test_folder_reports_a_foreign_file_in_the_way_and_syncs_the_rest(tmp_path):
    out, web = tmp_path / "public", tmp_path / "www"
    write(out, {"a/page.html": "page", "b.html": "b"})
    write(web, {"a": "a file of someone else where the output has a folder"})
    with pytest.raises(PublishError) as caught:
        folder_target(web).publish(out, message="m")
    assert "a/page.html" in caught.value.message
    assert (web / "b.html").read_text(encoding="utf-8") == "b"
    assert (web / "a").read_text(encoding="utf-8").startswith("a file of someone else")


# -- git -----------------------------------------------------------------------------------


def test_git_commits_only_changes_with_the_message_and_pushes_to_two_remotes(tmp_path):
    out, work = tmp_path / "public", tmp_path / "work"
    remotes = [bare(tmp_path / "r1.git"), bare(tmp_path / "r2.git")]
    write(out, {"index.html": "首页", "a/1.html": "one", "a/2.html": "two"})
    target = git_target(work, remotes)
    first = target.publish(out, message="newsmirror: 3 new, 0 updated articles (T1)")
    assert first.added == 3 and "2 of 2 remotes up to date" in first.detail
    for remote in remotes:
        assert commits(remote, "main") == ["newsmirror: 3 new, 0 updated articles (T1)"]
        assert {"index.html", "a/1.html", "a/2.html"} <= tree_files(remote, "main")

    remotes[1].rename(tmp_path / "away")  # an idle run does not even contact the remotes
    files = {p: p.stat().st_mtime_ns for p in [work, *work.rglob("*")]}
    idle = target.publish(out, message="newsmirror: 0 new, 0 updated articles (T2)")
    assert "no change" in idle.detail
    # No file written, in .git/ either (no index, no object refreshed, no lock file made)
    assert {p: p.stat().st_mtime_ns for p in [work, *work.rglob("*")]} == files
    (tmp_path / "away").rename(remotes[1])
    assert len(commits(work)) == 1 and len(commits(remotes[0], "main")) == 1

    write(out, {"a/2.html": "TWO"})
    (out / "a/1.html").unlink()
    third = target.publish(out, message="newsmirror: 0 new, 1 updated articles (T3)")
    assert (third.added, third.changed, third.removed) == (0, 1, 1)
    for remote in remotes:
        assert commits(remote, "main")[0] == "newsmirror: 0 new, 1 updated articles (T3)"
        assert "a/1.html" not in tree_files(remote, "main")
        assert len(commits(remote, "main")) == 2
    assert git(work, "status", "--porcelain") == ""


def test_a_dead_remote_is_retried_and_reported_while_the_others_get_the_push(tmp_path):
    out, work = tmp_path / "public", tmp_path / "work"
    live, dead = bare(tmp_path / "live.git"), tmp_path / "no such repo.git"
    other = bare(tmp_path / "other.git")
    write(out, {"index.html": "x"})
    target = git_target(work, [live, dead, other], retries=2)
    with pytest.raises(PublishError) as caught:
        target.publish(out, message="first")
    message = caught.value.message
    assert str(dead) in message and "after 3 tries" in message
    assert str(live) not in message and "2 of 3 remotes up to date" in message
    assert commits(live, "main") == ["first"] == commits(other, "main")

    # The next run, with nothing new, still owes the dead remote its commit.
    with pytest.raises(PublishError):
        target.publish(out, message="second")
    bare(dead)  # it comes back
    result = target.publish(out, message="third")
    assert "3 of 3 remotes up to date" in result.detail
    assert commits(dead, "main") == ["first"]  # the same commit, no new one


def test_flat_history_keeps_one_commit_here_and_on_the_remote(tmp_path):
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    target = git_target(work, [remote], flat=True, branch="gh-pages")
    for run in range(3):
        write(out, {f"post{run}.html": f"post {run}", "index.html": f"index {run}"})
        target.publish(out, message=f"run {run}")
        assert commits(work) == [f"run {run}"]
        assert commits(remote, "gh-pages") == [f"run {run}"]
    assert {"post0.html", "post1.html", "post2.html"} <= tree_files(remote, "gh-pages")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "gh-pages", str(remote), str(clone))
    assert (clone / "index.html").read_text(encoding="utf-8") == "index 2"
    files = {p: p.stat().st_mtime_ns for p in [work, *work.rglob("*")]}
    assert "no change" in target.publish(out, message="idle").detail
    assert {p: p.stat().st_mtime_ns for p in [work, *work.rglob("*")]} == files


def _objects(repo):
    """(loose objects, packs) of a repository."""
    counts = dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())
    return int(counts["count"]), int(counts["packs"])


def test_a_flat_push_sends_what_changed_not_the_whole_site_again(tmp_path):
    # A flat branch's new commit has no parent: the push can leave out what the remote
    # holds only while the commit it replaces is still here to compare with.
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    target = git_target(work, [remote], flat=True)
    write(out, {f"posts/{i}.html": f"第{i}篇 " * 50 for i in range(300)})
    target.publish(out, message="cold")
    assert _objects(remote) == (0, 1)  # the whole site, in one pack
    cold = git(work, "rev-parse", "HEAD").strip()
    write(out, {"posts/7.html": "改过的第7篇"})
    target.publish(out, message="hourly")
    assert commits(remote, "main") == ["hourly"]
    # the new commit, its two trees and one page: below git's unpack limit, loose
    assert _objects(remote) == (4, 1)
    assert len(commits(work)) == 1
    gone = subprocess.run(["git", "cat-file", "-e", cold], cwd=work, check=False)
    assert gone.returncode != 0  # pushed: the replaced commit is dropped here
    assert not (work / ".git" / "shallow").exists()  # the repository is whole again


def test_a_fresh_work_tree_clones_the_remote_and_keeps_its_foreign_files(tmp_path):
    out, remote = tmp_path / "public", bare(tmp_path / "r.git")
    write(out, {"index.html": "one", "gone.html": "gone"})
    git_target(tmp_path / "w1", [remote]).publish(out, message="first")
    seed = tmp_path / "seed"  # someone adds a CNAME to the published branch
    git(tmp_path, "clone", "-q", "--branch", "main", str(remote), str(seed))
    write(seed, {"CNAME": "mirror.example.org"})
    git(seed, "add", "CNAME")
    git(seed, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "cname")
    git(seed, "push", "-q", "origin", "main")

    (out / "gone.html").unlink()
    git_target(tmp_path / "w2", [remote]).publish(out, message="second")  # a new runner
    assert commits(remote, "main") == ["second", "cname", "first"]
    assert tree_files(remote, "main") == {"index.html", "CNAME"}


def test_the_published_branch_holds_the_output_and_no_bookkeeping(tmp_path):
    # The list of placed files is the target's own state (in .git/), not a file that
    # every run with a new article rewrote and committed (200 kB for 2,000 articles).
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    write(out, {"index.html": "x", "posts/1.html": "one"})
    target = git_target(work, [remote])
    target.publish(out, message="first")
    write(out, {"posts/2.html": "two"})
    target.publish(out, message="second")
    assert tree_files(remote, "main") == {"index.html", "posts/1.html", "posts/2.html"}
    changed = git(remote, "diff", "--name-only", "main~1", "main").split()
    assert changed == ["posts/2.html"]


def test_a_new_runner_keeps_a_foreign_file_that_an_earlier_run_committed(tmp_path):
    # Someone puts a CNAME into the work tree; newsmirror commits it with the rest. A new
    # runner (a fresh clone, no state in .git/) must still know that it is not newsmirror's.
    out, remote = tmp_path / "public", bare(tmp_path / "r.git")
    write(out, {"index.html": "one", "gone.html": "gone"})
    git_target(tmp_path / "w1", [remote]).publish(out, message="first")
    write(tmp_path / "w1", {"CNAME": "mirror.example.org"})
    write(out, {"index.html": "two"})
    git_target(tmp_path / "w1", [remote]).publish(out, message="second")
    assert "CNAME" in tree_files(remote, "main")
    (out / "gone.html").unlink()
    git_target(tmp_path / "w2", [remote]).publish(out, message="third")
    assert tree_files(remote, "main") == {"index.html", "CNAME"}
    assert commits(remote, "main") == ["third", "second", "first"]


def test_a_branch_published_with_a_committed_list_of_placed_files_is_taken_over(tmp_path):
    # Before, the list was committed as .newsmirror-files: a new runner reads it once,
    # removes what left the output, keeps the rest, and the list leaves the branch.
    out, remote, seed = tmp_path / "public", bare(tmp_path / "r.git"), tmp_path / "seed"
    git(tmp_path, "init", "-q", "--initial-branch=main", str(seed))
    write(seed, {"index.html": "one", "gone.html": "gone", "CNAME": "mirror.example.org"})
    write(seed, {".newsmirror-files": json.dumps(["gone.html", "index.html"])})
    git(seed, "add", "--all")
    git(seed, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "old")
    git(seed, "push", "-q", str(remote), "main")
    write(out, {"index.html": "two"})
    git_target(tmp_path / "w", [remote]).publish(out, message="new")
    assert tree_files(remote, "main") == {"index.html", "CNAME"}


def test_hostile_file_names_survive_folder_and_git(tmp_path):
    out, web, work = tmp_path / "public", tmp_path / "www", tmp_path / "work"
    remote = bare(tmp_path / "r.git")
    write(out, {name: f"content of {name}" for name in HOSTILE})
    folder_target(web).publish(out, message="m")
    git_target(work, [remote]).publish(out, message="-rf 'quoted' $(touch pwned) 新闻")
    assert files_of(web) == files_of(out)
    assert set(HOSTILE) <= tree_files(remote, "main")
    assert commits(remote, "main") == ["-rf 'quoted' $(touch pwned) 新闻"]
    assert not list(tmp_path.rglob("pwned"))
    for name in HOSTILE[:3]:
        (out / name).unlink()
    git_target(work, [remote]).publish(out, message="removed")
    assert not set(HOSTILE[:3]) & tree_files(remote, "main")
    assert set(HOSTILE[3:]) <= tree_files(remote, "main")


# -- the job -------------------------------------------------------------------------------


def test_exit_code_order_output_then_target_then_source():
    def code(output_error, target_error, sources_failed):
        summary = RunSummary([SourceResult("s", feeds=1, failed=int(sources_failed), ok=1)])
        report = RunReport(started="", fetch=summary)
        report.outputs = [OutputResult("site", Path("p"), error=output_error)]
        report.targets = [TargetOutcome("t", "git", "site", error=target_error)]
        return report.exit_code

    assert code("disk full", "push failed", True) == 5
    assert code(None, "push failed", True) == 7
    assert code(None, None, True) == 1
    assert code(None, None, False) == 0


ITEMS = [
    {"title": f"新闻{i}", "link": f"https://e.org/{i}", "content": f"<p>{ARTICLE_TEXT}</p>"}
    for i in range(3)
]


def test_run_publishes_every_target_and_a_dead_remote_gives_exit_7(tmp_path, server):
    server.route("/feed", Reply(body=rss(ITEMS)))
    live = bare(tmp_path / "live.git")
    dead = tmp_path / "dead.git"
    (tmp_path / "newsmirror.toml").write_text(
        f"""
[fetch]
retries = 0
[media]
mode = "hotlink"
[publish.jekyll]
path = "jekyll"
[publish.site]
path = "public"
search = false
[[publish.targets]]
kind = "git"
output = "jekyll"
path = "deploy"
remotes = ["{dead}", "{live}"]
retries = 1
backoff = 0
[[publish.targets]]
kind = "folder"
name = "web root"
output = "site"
path = "www"
public_url = "https://mirror.example.org/"
[[sources]]
name = "源"
feeds = ["{server.url}/feed"]
full_text = "feed"
""",
        encoding="utf-8",
    )
    result = nm("run", "--json", cwd=tmp_path, check=False)
    assert result.returncode == 7, result.stderr
    report = json.loads(result.stdout)
    git_report, folder_report = report["targets"]
    assert git_report["name"] == "git0" and str(dead) in git_report["error"]
    assert folder_report["name"] == "web root" and folder_report["error"] is None
    assert commits(live, "main")[0].startswith("newsmirror: 3 new, 0 updated articles, 3 in the")
    assert len([p for p in tree_files(live, "main") if p.startswith("_posts/")]) == 3
    assert (tmp_path / "www/index.html").read_bytes() == (
        tmp_path / "public/index.html"
    ).read_bytes()

    bare(dead)
    again = nm("run", cwd=tmp_path)
    assert "target git0 (git, jekyll): 0 added, 0 changed, 0 removed; no change" in again.stdout
    assert "target web root (folder, site): " in again.stdout
    assert len(commits(live, "main")) == 1 and len(commits(dead, "main")) == 1


# -- config --------------------------------------------------------------------------------

BASE = "[publish.site]\npath = 'public'\n"
GIT = "[[publish.targets]]\nkind = 'git'\npath = 'deploy'\n"


def test_target_config_errors_name_the_key(tmp_path):
    cases = {
        GIT + "remots = []\n": "publish.targets[0].remots",
        GIT + "bucket = 'b'\n": "publish.targets[0].bucket",
        "[[publish.targets]]\npath = 'd'\n": "publish.targets[0].kind",
        "[[publish.targets]]\nkind = 'ftp'\npath = 'd'\n": "publish.targets[0].kind",
        "[[publish.targets]]\nkind = 'folder'\n": "publish.targets[0].path",
        GIT + "output = 'jekyll'\n": "publish.targets[0].output",
        GIT + "output = 'feeds'\n": "publish.targets[0].output",
        GIT + "remotes = ['--upload-pack=touch x']\n": "publish.targets[0].remotes",
        GIT + "remotes = 'git@host:x.git'\n": "publish.targets[0].remotes",
        GIT + "retries = -1\n": "publish.targets[0].retries",
        GIT + "retries = true\n": "publish.targets[0].retries",
        GIT + "backoff = nan\n": "publish.targets[0].backoff",
        GIT + "flat = 'yes'\n": "publish.targets[0].flat",
        GIT + "branch = '-x'\n": "publish.targets[0].branch",
        GIT + "branch = 'a..b'\n": "publish.targets[0].branch",
        GIT + "public_url = 'mirror.org'\n": "publish.targets[0].public_url",
        GIT.replace("'deploy'", "'public/deploy'"): "publish.targets[0].path",
        GIT.replace("'deploy'", "'.'"): "publish.targets[0].path",
        GIT + "name = 'a'\n[[publish.targets]]\nkind = 'folder'\npath = 'w'\nname = 'a'\n": (
            "publish.targets[1].name"
        ),
        GIT + GIT: "publish.targets[1].path",
        "[[publish.targets]]\nkind = 's3'\n": "publish.targets[0].bucket",
        "[[publish.targets]]\nkind = 's3'\nbucket = 'b'\nendpoint_url = 'x'\n": (
            "publish.targets[0].endpoint_url"
        ),
        "[[publish.targets]]\nkind = 's3'\nbucket = 'b'\nworkers = 'many'\n": "publish.targets[0]",
        "[publish]\ntargets = 'git'\n": "publish.targets",
        "[publish]\ntargets = [1]\n": "publish.targets[0]",
    }
    for text, key in cases.items():
        try:
            parse_config(BASE + text, tmp_path / "newsmirror.toml")
        except ConfigError as exc:
            assert exc.key == key, (text, exc.key, exc.message)
            assert exc.hint
        else:
            raise AssertionError(f"accepted: {text!r}")


def test_target_config_defaults_and_paths_relative_to_the_config(tmp_path):
    text = (
        BASE
        + GIT
        + "[[publish.targets]]\nkind = 's3'\nbucket = 'b'\npublic_url = 'https://b.example/'\n"
    )
    config = parse_config(text, tmp_path / "sub" / "newsmirror.toml")
    git_config, s3_config = config.publish.targets
    assert (git_config.name, git_config.output, git_config.kind) == ("git0", "site", "git")
    assert git_config.options == {
        "path": tmp_path / "sub" / "deploy",
        "remotes": [],
        "branch": "main",
        "flat": False,
        "retries": 3,
        "backoff": 2.0,
        "author_name": "newsmirror",
        "author_email": "newsmirror@localhost",
    }
    assert s3_config.name == "s31"
    assert s3_config.options["bucket"] == "b" and s3_config.public_url == "https://b.example/"
    config = parse_config(
        BASE + "[[publish.targets]]\nkind = 's3'\nbucket = 'b'\nworkers = 4\n",
        tmp_path / "newsmirror.toml",
    )
    assert config.publish.targets[0].options == {
        "bucket": "b",
        "endpoint_url": "",
        "region": "",
        "prefix": "",
        "workers": 4,
    }


def test_a_token_in_a_remote_url_is_never_reported(tmp_path):
    out, live = tmp_path / "public", bare(tmp_path / "live.git")
    write(out, {"index.html": "x"})
    secret = "https://nm:s3cr3t-token@127.0.0.1:9/mirror.git"  # nothing listens on port 9
    target = git_target(tmp_path / "work", [live, secret], retries=0)
    with pytest.raises(PublishError) as caught:
        target.publish(out, message="m")
    assert "https://***@127.0.0.1:9/mirror.git (after 1 tries" in caught.value.message
    assert "s3cr3t" not in caught.value.message + caught.value.hint
    assert commits(live, "main") == ["m"]


# -- hostile and careless setups (review of issue 8) ---------------------------------------


def test_a_git_target_never_commits_a_folder_that_was_already_full(tmp_path):
    out, remote = tmp_path / "public", bare(tmp_path / "r.git")
    write(out, {"index.html": "x"})
    home = tmp_path / "home"  # e.g. path = "~" or "." by mistake
    write(home, {"secret.txt": "TOKEN", ".ssh/id_ed25519": "KEY"})
    with pytest.raises(PublishError) as caught:
        git_target(home, [remote]).publish(out, message="m")
    assert str(home) in caught.value.message and "not empty" in caught.value.message
    assert caught.value.hint
    assert git(remote, "branch", "--list") == ""  # nothing was pushed
    assert not (home / ".git").exists() and not (home / "index.html").exists()


def test_a_work_tree_on_another_branch_is_refused_not_switched(tmp_path):
    out, remote = tmp_path / "public", bare(tmp_path / "r.git")
    write(out, {"index.html": "x"})
    repo = tmp_path / "repo"  # someone's checkout, on the branch they work on
    repo.mkdir()
    git(repo, "init", "-q", "-b", "dev")
    write(repo, {"mine.txt": "work in progress"})
    git(repo, "add", "mine.txt")
    git(repo, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "mine")
    with pytest.raises(PublishError) as caught:
        git_target(repo, [remote]).publish(out, message="m")
    assert "dev" in caught.value.message and "main" in caught.value.message
    assert git(repo, "branch", "--show-current").strip() == "dev"
    assert git(remote, "branch", "--list") == ""
    assert not (repo / "index.html").exists()


def test_transport_helpers_such_as_ext_are_refused_in_the_config(tmp_path):
    for remote in ("ext::sh -c touch% pwned", "fd::3", "file::/tmp/x", "FOO::bar"):
        with pytest.raises(ConfigError) as caught:
            parse_config(BASE + GIT + f"remotes = [{remote!r}]\n", tmp_path / "newsmirror.toml")
        assert caught.value.key == "publish.targets[0].remotes" and caught.value.hint
    for remote in ("git@github.com:me/m.git", "ssh://git@h:22/m.git", "/srv/m.git", "C:x"):
        parse_config(BASE + GIT + f"remotes = [{remote!r}]\n", tmp_path / "newsmirror.toml")


def test_git_runs_only_plain_transports_whatever_the_users_git_config(tmp_path, monkeypatch):
    home = tmp_path / "home"  # a git config that allows every transport
    write(home, {".gitconfig": "[protocol]\n\tallow = always\n"})
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_ALLOW_PROTOCOL", raising=False)
    out, remote = tmp_path / "public", bare(tmp_path / "r.git")
    write(out, {"index.html": "x"})
    evil = f"ext::sh -c touch% {tmp_path / 'pwned'}"
    with pytest.raises(PublishError):
        git_target(tmp_path / "work", [remote, evil], retries=0).publish(out, message="m")
    assert not (tmp_path / "pwned").exists()
    assert commits(remote, "main") == ["m"]


def silent_remote(monkeypatch, stall: float) -> tuple[socket.socket, int]:
    """A git server address that accepts and never answers, and git made to give up on a
    transfer stalled for ``stall`` seconds: (the listening socket, its port)."""
    from newsmirror.publish.targets import gitcmd

    monkeypatch.setattr(gitcmd, "STALL_SECONDS", stall)
    monkeypatch.delenv("GIT_HTTP_LOW_SPEED_LIMIT", raising=False)
    monkeypatch.delenv("GIT_HTTP_LOW_SPEED_TIME", raising=False)
    silent = socket.create_server(("127.0.0.1", 0))
    held: list[object] = []
    threading.Thread(target=lambda: held.append(silent.accept()), daemon=True).start()
    return silent, silent.getsockname()[1]


def test_a_remote_that_never_answers_fails_soon_and_the_others_get_the_push(tmp_path, monkeypatch):
    import time

    from newsmirror.publish.targets import git as git_module

    silent, port = silent_remote(monkeypatch, 1)  # a stall of 1 s ends the transfer
    monkeypatch.setattr(git_module, "GIT_TIMEOUT", 15.0)
    hung = f"http://nm:tok3n@127.0.0.1:{port}/mirror.git"
    out, live = tmp_path / "public", bare(tmp_path / "live.git")
    write(out, {"index.html": "x"})
    started = time.monotonic()
    with pytest.raises(PublishError) as caught:
        git_target(tmp_path / "work", [live, hung], retries=0).publish(out, message="m")
    assert time.monotonic() - started < 8
    assert "***@127.0.0.1" in caught.value.message and "tok3n" not in caught.value.message
    assert commits(live, "main") == ["m"]
    silent.close()


def test_a_target_holding_the_config_and_archive_is_refused(tmp_path):
    public = tmp_path / "elsewhere" / "public"
    base = f"[publish.site]\npath = '{public}'\n"
    config_dir = tmp_path / "mirror" / "conf"
    for kind in ("folder", "git"):
        for path in (".", "..", str(tmp_path), "/"):
            text = f"{base}[[publish.targets]]\nkind = '{kind}'\npath = '{path}'\n"
            with pytest.raises(ConfigError) as caught:
                parse_config(text, config_dir / "newsmirror.toml")
            assert caught.value.key == "publish.targets[0].path", (kind, path)
            assert "archive" in caught.value.message and caught.value.hint
    text = f"{base}[[publish.targets]]\nkind = 'folder'\npath = 'www'\n"  # inside: fine
    assert parse_config(text, config_dir / "newsmirror.toml").publish.targets


def test_a_public_url_with_a_password_or_token_is_refused(tmp_path):
    for url in ("https://me:ghp_s3cret@github.com/me/m.git", "https://ghp_s3cret@github.com/m"):
        text = BASE + GIT + f"public_url = '{url}'\n"
        with pytest.raises(ConfigError) as caught:
            parse_config(text, tmp_path / "newsmirror.toml")
        assert caught.value.key == "publish.targets[0].public_url"
        assert "s3cret" not in caught.value.message + caught.value.hint
    with pytest.raises(ConfigError) as caught:  # a typo that no browser can open
        parse_config(BASE + GIT + "public_url = 'https://[me.github.io/'\n", tmp_path / "n.toml")
    assert caught.value.key == "publish.targets[0].public_url"
    text = BASE + GIT + "public_url = 'https://me.github.io/m/?a=b@c'\n"
    assert parse_config(text, tmp_path / "newsmirror.toml").publish.targets


def test_a_bulk_push_skips_the_search_for_deltas_and_an_hourly_one_keeps_it():
    from newsmirror.publish.targets.gitcmd import BULK_FILES, push_config

    bulk = ["-c", "pack.window=0", "-c", "pack.compression=1"]
    assert push_config(BULK_FILES, first=False) == bulk  # a cold run's 4,700 files
    assert push_config(3, first=True) == bulk  # a new remote gets everything
    assert push_config(BULK_FILES - 1, first=False) == []  # listings delta against their last


def test_an_edit_in_the_git_work_tree_never_reaches_the_output(tmp_path):
    # The work tree holds no copy of the output: a file a user saves there at a page's
    # path changes neither the site nor what is committed (the output's file is), and
    # it is left as it is.
    from newsmirror.publish.writer import OutputWriter

    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    OutputWriter(out).write("index.html", "第一版".encode())
    target = git_target(work, [remote])
    assert target.publish(out, message="one").added == 1
    assert not (work / "index.html").exists()
    (work / "index.html").write_text("改了", encoding="utf-8")
    assert "no change" in target.publish(out, message="two").detail
    OutputWriter(out).write("new.html", "新".encode())
    again = target.publish(out, message="three")
    assert (again.added, again.changed, again.removed) == (1, 0, 0)
    assert (out / "index.html").read_text(encoding="utf-8") == "第一版"
    assert (work / "index.html").read_text(encoding="utf-8") == "改了"
    assert git(remote, "show", "main:index.html") == "第一版"
    assert commits(remote, "main") == ["three", "one"]


def test_targets_publish_at_once_so_a_hanging_remote_delays_no_other(tmp_path, monkeypatch):
    from contextlib import nullcontext
    from types import SimpleNamespace

    from newsmirror.runjob import publish_targets

    silent, port = silent_remote(monkeypatch, 2)
    hung = f"http://127.0.0.1:{port}/mirror.git"
    out = tmp_path / "public"
    write(out, {"index.html": "首页"})
    git = TargetConfig(
        "git", "site", "gh", options={"path": tmp_path / "work", "remotes": [hung], "retries": 0}
    )
    web = TargetConfig("folder", "site", "web", options={"path": tmp_path / "www"})
    same = TargetConfig("folder", "site", "web2", options={"path": tmp_path / "www"})
    config = SimpleNamespace(publish=SimpleNamespace(targets=(git, web, same)))
    heard = []
    outcomes = publish_targets(
        config,
        [OutputResult("site", out)],
        lambda folder: nullcontext(folder),
        "m",
        lambda kind, line: heard.append(line.split(":")[0]),
    )
    # The folders were published while the push hung: they are heard of first ...
    assert heard == ["web", "web2", "gh"]
    # ... and the report keeps the config's order; web2, in web's folder, waited its turn.
    assert [(o.name, o.error is None) for o in outcomes] == [
        ("gh", False),
        ("web", True),
        ("web2", True),
    ]
    assert outcomes[2].line.startswith("0 added, 0 changed, 0 removed")
    assert (tmp_path / "www/index.html").read_text(encoding="utf-8") == "首页"
    silent.close()
