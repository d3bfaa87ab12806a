"""Hostile tests of the run's publishing (targets at once, the git work tree holding copies) and
of tag links broken over lines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from newsmirror.publish.targets import TargetConfig, make_target
from newsmirror.runjob import OutputResult, publish_targets
from newsmirror.topics import link_tags
from test_targets import bare, git, write

START = datetime(2024, 3, 1, tzinfo=UTC)


def test_a_target_raising_a_base_exception_never_hangs_the_run(tmp_path, monkeypatch):
    # Two targets in one place take turns in one thread; the first one raising anything
    # that is not an Exception (SystemExit from a library) ended the turn without telling
    # the job about the second, and the job waited on its queue forever.
    from newsmirror.publish.targets import folder as folder_module

    real = folder_module.FolderTarget.publish

    def publish(self, folder, *, message):
        if self.config.name == "boom":
            raise SystemExit(3)
        return real(self, folder, message=message)

    monkeypatch.setattr(folder_module.FolderTarget, "publish", publish)
    out = tmp_path / "public"
    write(out, {"index.html": "首页"})
    www = tmp_path / "www"
    boom = TargetConfig("folder", "site", "boom", options={"path": www})
    web = TargetConfig("folder", "site", "web", options={"path": www})
    config = SimpleNamespace(publish=SimpleNamespace(targets=(boom, web)))
    ended: list[object] = []

    def job() -> None:
        try:
            ended.append(publish_targets(config, [OutputResult("site", out)], nullcontext, "m"))
        except BaseException as exc:  # what it raises is the caller's affair; not hanging
            ended.append(exc)

    runner = threading.Thread(target=job, daemon=True)
    runner.start()
    runner.join(5)
    assert ended, "publish_targets hangs when a target raises a BaseException"


CTRL_C_JOB = textwrap.dedent(
    """
    import socket, sys, threading
    from contextlib import nullcontext
    from pathlib import Path
    from types import SimpleNamespace
    from newsmirror.publish.targets import TargetConfig
    from newsmirror.publish.targets import gitcmd
    from newsmirror.runjob import OutputResult, publish_targets

    gitcmd.STALL_SECONDS = 20
    tmp = Path(sys.argv[1])
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    threading.Thread(target=lambda: [silent.accept() for _ in range(9)], daemon=True).start()
    hung = f"http://127.0.0.1:{silent.getsockname()[1]}/m.git"
    work = str(tmp / "work")
    first = TargetConfig("git", "site", "hung", options={"path": work, "remotes": [hung],
                         "retries": 0})
    second = TargetConfig("git", "site", "later", options={"path": work,
                          "remotes": [str(tmp / "later.git")], "retries": 0})
    config = SimpleNamespace(publish=SimpleNamespace(targets=(first, second)))
    print("ready", flush=True)
    publish_targets(config, [OutputResult("site", tmp / "public")], nullcontext, "m")
    """
)


@pytest.mark.slow
def test_ctrl_c_stops_the_targets_still_waiting_their_turn(tmp_path):
    # Before the targets ran in threads, Ctrl-C ended the job at once (git killed, no
    # further target started). Now the main thread stops waiting, but the pool's exit
    # waits for every turn to finish: the next target in the turn still publishes.
    write(tmp_path / "public", {"index.html": "首页"})
    later = bare(tmp_path / "later.git")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    child = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_JOB, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's job
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(1.5)  # the first target's push is hanging by now
        os.killpg(child.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        child.wait(30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    heads = git(later, "for-each-ref", "refs/heads")
    assert heads == "", "a target still published after Ctrl-C"


def test_an_in_place_edit_in_the_git_work_tree_never_reaches_the_output(tmp_path):
    # The work tree's files are hard links to the output's: an editor that saves in place
    # (nano, VS Code; vim whenever the file has more than one link) writes the site
    # itself. The next build keeps the page (its stamp is unchanged), so the edit stays
    # in the output and every other target (the web root) publishes it.
    from newsmirror.publish.site import SiteOptions, build_site
    from test_targets_speed import archive_of_one

    out, work, www = tmp_path / "public", tmp_path / "work", tmp_path / "www"
    options = SiteOptions(search=False, base_url="https://m.example/")
    with archive_of_one(tmp_path / "a.sqlite") as archive:
        build_site(archive, out, options)
        page = next(p for p in out.rglob("posts/**/*.html"))
        rel = page.relative_to(out)
        original = page.read_bytes()
        gh = make_target(TargetConfig("git", "site", "gh", options={"path": work, "remotes": []}))
        gh.publish(out, message="one")
        assert not (work / rel).exists()  # the work tree now holds no copy of the site
        (work / rel).parent.mkdir(parents=True)
        with open(work / rel, "wb") as edited:  # a file of the page's path, saved there
            edited.write(b"<!-- local note -->")
        build_site(archive, out, options)  # the next run: nothing new
    make_target(TargetConfig("folder", "site", "web", options={"path": www})).publish(
        out, message="two"
    )
    assert page.read_bytes() == original, "an edit in the git work tree changed the site"
    assert (www / rel).read_bytes() == original


def test_a_tag_link_whose_href_is_broken_over_lines_still_names_its_tag():
    # urlsplit (as browsers) drops tabs and line breaks inside a URL, so the slow path
    # reads /tag/香港; the prefilter looks for "tag" in the raw text and misses it.
    assert link_tags('<a href="/ta\ng/香港">香港</a>') == ["香港"]
    assert link_tags('<a href="/t\tag/香港">香港</a>') == ["香港"]
    assert link_tags('<a href="https://e.org/ta\r\ng/香港">香港</a>') == ["香港"]
