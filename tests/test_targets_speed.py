"""The cold run's publish without needless work (issue 8's benchmark): a bulk commit's
blobs go into one pack, not a file each; a target publishes as soon as its own output is
written, while the next output is still being built."""

from __future__ import annotations

import time
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from newsmirror.publish.targets import gitcmd, gitprime
from test_targets import bare, git, git_target, tree_files, write

START = datetime(2024, 3, 1, tzinfo=UTC)


def loose_objects(repo: Path) -> dict[str, str]:
    """Every loose object of ``repo`` (id -> type)."""
    ids = [
        p.parent.name + p.name
        for p in (repo / ".git" / "objects").glob("??/*")
        if len(p.parent.name) == 2
    ]
    return {i: git(repo, "cat-file", "-t", i).strip() for i in ids}


def packs(repo: Path) -> list[Path]:
    return sorted((repo / ".git" / "objects" / "pack").glob("*.pack"))


def test_a_bulk_commit_writes_its_blobs_into_one_pack_not_a_file_each(tmp_path, monkeypatch):
    # Making a file is the dearest step of a cold publish here: the benchmark's cold site
    # (4,775 files) as loose objects cost `git add` 2.3 s of system time, one pack 0.1 s.
    monkeypatch.setattr(gitcmd, "BULK_FILES", 6)
    out, work, remote = tmp_path / "public", tmp_path / "work", bare(tmp_path / "r.git")
    pages = {f"posts/{i}.html": f"第{i}篇" for i in range(8)}
    write(out, {"index.html": "首页", **pages})
    target = git_target(work, [remote])
    assert target.publish(out, message="cold").added == 9
    assert "blob" not in loose_objects(work).values()
    assert len(packs(work)) == gitprime.cores()  # a pack for each core's share
    assert git(remote, "show", "main:posts/3.html") == "第3篇"
    assert git(work, "status", "--porcelain") == ""

    # An hourly run (a few files) does not leave a pack behind each time.
    write(out, {"posts/9.html": "第9篇", "index.html": "新首页"})
    assert target.publish(out, message="hourly").added == 1
    assert len(packs(work)) == gitprime.cores()
    assert git(remote, "show", "main:posts/9.html") == "第9篇"
    assert tree_files(remote, "main") == {"index.html", *pages, "posts/9.html"}


def test_a_primed_bulk_commit_is_the_commit_one_process_makes(tmp_path, monkeypatch):
    """The blobs of a bulk add are written by a git process per core first; the commit
    is the same as one process's, and when priming fails (or a killed run left its index
    locked) the add writes what is missing itself."""
    monkeypatch.setattr(gitcmd, "BULK_FILES", 6)
    out = tmp_path / "public"
    pages = {f"posts/{i}.html": f"第{i}篇" * (i + 1) for i in range(30)}
    write(out, {"index.html": "首页", "名字 with space.html": "xyz", **pages})
    trees = {}
    for cores in (1, 2):
        monkeypatch.setattr(gitprime, "cores", lambda cores=cores: cores)
        work = tmp_path / f"work{cores}"
        git_target(work).publish(out, message="cold")
        trees[cores] = git(work, "rev-parse", "HEAD^{tree}")
        assert len(packs(work)) == cores and "blob" not in loose_objects(work).values()
        assert not list((work / ".git").glob("newsmirror-prime-*"))
    assert trees[1] == trees[2]
    write(out, {rel: text + "改" for rel, text in pages.items()})  # a killed run's lock
    (tmp_path / "work2/.git" / (gitprime.PRIME_INDEX.format(0) + ".lock")).touch()
    git_target(tmp_path / "work2").publish(out, message="all changed")
    assert len(packs(tmp_path / "work2")) == 4
    assert not list((tmp_path / "work2/.git").glob("newsmirror-prime-*"))  # lock gone too
    assert "blob" not in loose_objects(tmp_path / "work2").values()
    monkeypatch.setattr(gitprime, "prime", lambda *args: False)
    git_target(tmp_path / "work3").publish(out, message="cold")
    assert git(tmp_path / "work3", "rev-parse", "HEAD^{tree}") == git(
        tmp_path / "work2", "rev-parse", "HEAD^{tree}"
    )


def test_prime_reports_a_share_git_could_not_add(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "out").mkdir()
    (tmp_path / "out/a.html").write_text("a", encoding="utf-8")
    add = ["--work-tree", str(tmp_path / "out"), "add"]
    env = gitcmd.git_env()
    assert gitprime.prime(tmp_path, tmp_path / "out", [("a.html", 1)], add, env, 60)
    assert not gitprime.prime(tmp_path, tmp_path / "out", [("gone.html", 1)], add, env, 60)
    files = [("b", 1), ("a", 5), ("d", 0), ("c", 4), ("e", 9)]
    assert gitprime.shares(files, 2) == [["a", "b", "c"], ["d", "e"]]  # 10 bytes each
    assert gitprime.shares([("a", 1)] * 4 + [("b", 1)] * 4, 2) == [["a"] * 4, ["b"] * 4]
    assert gitprime.shares(files[:1], 2) == [["b"]]


def test_a_bulk_add_compresses_fast_and_an_hourly_one_keeps_loose_objects():
    from newsmirror.publish.targets.gitcmd import BULK_FILES, add_config

    bulk = ["-c", "core.bigFileThreshold=1", "-c", "pack.compression=1"]
    assert add_config(BULK_FILES) == bulk
    assert add_config(BULK_FILES - 1) == []


# -- a target publishes as soon as its output is written ------------------------------------

PUBLISH = """
[publish.jekyll]
path = "jekyll"
[publish.site]
path = "public"
search = false
[[publish.targets]]
kind = "folder"
name = "jekyll-web"
output = "jekyll"
path = "www-jekyll"
[[publish.targets]]
kind = "folder"
name = "site-web"
output = "site"
path = "www-site"
"""


def archive_of_one(path: Path):  # -> Archive (open)
    from newsmirror.store import Archive

    archive = Archive.open(path)
    with archive.transaction():
        archive.import_article(
            source="源",
            url="https://e.org/1",
            title="标题",
            author="",
            content="<p>正文</p>",
            tags=[],
            published=START,
            date_known=True,
            published_raw="",
            jekyll_name="",
            now=START,
        )
    return archive


def test_the_jekyll_trees_targets_publish_while_the_site_is_built(tmp_path, monkeypatch):
    # A cold run: the Jekyll tree's git target (4 s: copy, add, push) waited for the
    # site's build (5 s) although nothing of the site goes into it.
    from newsmirror import runjob
    from newsmirror.config import parse_config

    config = parse_config(PUBLISH, tmp_path / "newsmirror.toml")
    placed = tmp_path / "www-jekyll" / ".newsmirror-files"  # written when its sync is done
    seen: list[bool] = []
    real = runjob._write_site

    def slow_site(*args):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 5
        while not placed.is_file() and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.append(placed.is_file())
        return real(*args)

    monkeypatch.setattr(runjob, "_write_site", slow_site)
    heard: list[str] = []
    with archive_of_one(tmp_path / "a.sqlite") as archive:
        outputs, targets = runjob.write_and_publish(
            config, archive, nullcontext, "m", lambda kind, line: heard.append(kind)
        )
    assert seen == [True], "the Jekyll tree's target waited for the site's build"
    assert [(o.kind, o.error) for o in outputs] == [("jekyll", None), ("site", None)]
    assert [(t.name, t.error) for t in targets] == [("jekyll-web", None), ("site-web", None)]
    assert len(list((tmp_path / "www-jekyll" / "_posts").iterdir())) == 1
    www = (tmp_path / "www-site" / "index.html").read_bytes()
    assert www == (tmp_path / "public" / "index.html").read_bytes()
    assert sorted(heard) == ["output", "output", "target", "target"]


def test_a_target_whose_output_failed_is_left_alone_and_the_others_publish(tmp_path):
    from newsmirror import runjob
    from newsmirror.config import parse_config

    config = parse_config(PUBLISH, tmp_path / "newsmirror.toml")
    write(tmp_path / "www-site", {"index.html": "the last good site"})
    (tmp_path / "public").write_text("a file where the site's folder should be")
    with archive_of_one(tmp_path / "a.sqlite") as archive:
        outputs, targets = runjob.write_and_publish(config, archive, nullcontext, "m")
    assert outputs[0].error is None and outputs[1].error
    jekyll_web, site_web = targets
    assert jekyll_web.error is None and jekyll_web.line.startswith("1 added")
    assert site_web.error == "not published: the site output failed"
    assert (tmp_path / "www-site" / "index.html").read_text() == "the last good site"
