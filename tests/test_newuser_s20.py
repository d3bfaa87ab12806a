"""A new user following the README (session 20): what they met, as tests."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
import urllib.request

import pytest

from conftest import Reply, rss
from test_cli import nm

ITEMS = [{"title": "新闻一", "link": "https://e.org/1", "content": "<p>" + "正文" * 200 + "</p>"}]


def _config(tmp_path, server, targets: str = "") -> None:
    (tmp_path / "newsmirror.toml").write_text(
        f"""
[fetch]
retries = 0
[media]
mode = "hotlink"
[publish.site]
path = "public"
search = false
{targets}
[[sources]]
name = "源"
feeds = ["{server.url}/feed"]
full_text = "feed"
""",
        encoding="utf-8",
    )


def test_a_failed_targets_report_says_what_to_do_and_names_it_once(tmp_path, server):
    # A user puts a CNAME into the git target's new folder before the first run: the
    # run refuses the folder; its report must carry the hint (it only had the message)
    # and not say the target's name twice ("target git0 (...): FAILED: git0: ...").
    server.route("/feed", Reply(body=rss(ITEMS)))
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "r.git")], check=True)
    _config(
        tmp_path,
        server,
        f'[[publish.targets]]\nkind = "git"\npath = "deploy"\nremotes = ["{tmp_path / "r.git"}"]',
    )
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "CNAME").write_text("mirror.example.org\n", encoding="utf-8")
    plain = nm("run", cwd=tmp_path, check=False)
    assert plain.returncode == 7, plain.stderr
    lines = plain.stdout.splitlines()
    failed = next(i for i, line in enumerate(lines) if "FAILED" in line)
    assert lines[failed].startswith("target git0 (git, site): FAILED: ")
    assert "git0: git0:" not in plain.stderr and "FAILED: git0:" not in lines[failed]
    assert "not empty and not a git work tree" in lines[failed]
    assert lines[failed + 1].startswith("  hint: ") and "empty folder" in lines[failed + 1]
    report = json.loads(nm("run", "--json", cwd=tmp_path, check=False).stdout)
    assert "empty folder" in report["targets"][0]["hint"]


def test_serve_on_a_taken_port_does_not_first_say_it_is_serving(tmp_path):
    (tmp_path / "index.html").write_text("<p>x</p>", encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = nm("serve", tmp_path, "-p", port, check=False)
    assert result.returncode == 2
    assert "serving" not in result.stderr, result.stderr
    assert "the port is taken" in result.stderr
    # On a free port it says where it serves, once the port is its own.
    running = subprocess.Popen(
        [sys.executable, "-m", "newsmirror", "serve", str(tmp_path), "-p", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert running.stderr is not None
        said, _, _ = select.select([running.stderr], [], [], 10)
        assert said, "serve said nothing in 10 s"
        assert running.stderr.readline().startswith(f"serving {tmp_path} at http://127.0.0.1:")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
            assert reply.read() == b"<p>x</p>"
    finally:
        running.terminate()
        running.wait(timeout=10)


def test_sources_no_longer_in_the_config_are_not_shown_as_waiting(tmp_path, server):
    # `init` writes real outlets; the user replaces them with their own feed. `sources`
    # listed the removed outlets as "never fetched", as if they would be fetched.
    server.route("/feed", Reply(body=rss(ITEMS)))
    nm("init", tmp_path)
    _config(tmp_path, server)
    nm("fetch", cwd=tmp_path)
    listed = nm("sources", cwd=tmp_path).stdout.splitlines()
    shown = dict(line.split("\t")[:2] for line in listed if "\t" in line)
    assert shown["源"] == "ok"
    assert shown["大纪元"] == "not in config", shown
    assert "never fetched" not in shown.values()


def test_a_failed_outputs_report_says_what_to_do(tmp_path, server):
    server.route("/feed", Reply(body=rss(ITEMS)))
    _config(tmp_path, server)
    (tmp_path / "public").write_text("a file where the site's folder goes", encoding="utf-8")
    result = nm("run", cwd=tmp_path, check=False)
    assert result.returncode == 5, result.stderr
    lines = result.stdout.splitlines()
    failed = next(i for i, line in enumerate(lines) if "FAILED" in line)
    assert lines[failed + 1].startswith("  hint: "), result.stdout
    report = json.loads(nm("run", "--json", cwd=tmp_path, check=False).stdout)
    assert report["outputs"][0]["hint"]


@pytest.mark.sqlite_only  # about --archive FILE (the PostgreSQL harness names no file)
def test_sources_of_an_archive_named_by_path_ignore_a_config_of_the_folder(tmp_path, server):
    # `sources --archive FILE` in a folder whose newsmirror.toml is another mirror's (the
    # demo's, say): that config does not say which of this archive's sources are gone.
    server.route("/feed", Reply(body=rss(ITEMS)))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _config(mirror, server)
    nm("fetch", cwd=mirror)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "newsmirror.toml").write_text(
        '[[sources]]\nname = "别的"\nfeeds = ["https://feeds.example/x"]\n', encoding="utf-8"
    )
    listed = nm("--archive", mirror / "archive.sqlite", "sources", cwd=elsewhere)
    shown = dict(line.split("\t")[:2] for line in listed.stdout.splitlines() if "\t" in line)
    assert shown == {"源": "ok"}
