"""End-to-end tests of the command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import SEED, Reply, rss
from newsmirror.config import load_config
from newsmirror.store import Archive

SEED_NAME = "2023-10-29-分析：拜登习近平11月会谈的背后原因.md"


def snapshot(folder):
    """Every file under ``folder`` with its bytes and mtime."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_clean_error(result, code, *needles):
    """Exit ``code``, and on stderr exactly one 'error:' line and one 'hint:' line."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def nm(*args, cwd=None, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "newsmirror", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.sqlite_only  # the demo's archive is DIRECTORY/archive.sqlite by design
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    result = nm("demo", out)
    assert "5 ok" in result.stdout and "0 failed" in result.stdout
    # The teaser-only source got its full articles from the pages, with local images.
    assert "3 full texts" in result.stdout and "images: 4 mirrored" in result.stdout
    posts = sorted((out / "site/_posts").iterdir())
    assert len(posts) >= 20
    full = [
        p.read_text(encoding="utf-8")
        for p in posts
        if "[ 自由新闻 ]" in p.read_text(encoding="utf-8")
    ]
    assert len(full) == 3
    for text in full:
        assert "阅读全文" not in text and "相关新闻" not in text and "版权所有" not in text
        for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', text):
            assert src.startswith("../media/") and (out / "site/_posts" / src).is_file()
    assert (out / "site/_posts" / SEED_NAME).read_bytes() == SEED.read_bytes()
    again = nm("demo", out)
    assert "0 new" in again.stdout and "0 written" in again.stdout
    search = nm("--archive", out / "archive.sqlite", "search", "拜登")
    assert "分析：拜登习近平11月会谈的背后原因" in search.stdout
    assert "2023-10-29 11:36 北京时间" in search.stdout  # shown in Asia/Shanghai, named as pages do
    health = nm("-c", out / "newsmirror.toml", "sources")
    assert "大纪元\tok\tarticles=1" in health.stdout


def test_init_writes_starter_config_with_real_outlets(tmp_path):
    nm("init", tmp_path)
    config = load_config(tmp_path / "newsmirror.toml")
    feeds = {s.name: s.feeds[0] for s in config.sources}
    assert feeds["大纪元"] == "https://www.epochtimes.com/gb/nsc413.xml"
    assert feeds["自由亚洲电台"] == "https://www.rfa.org/mandarin/yataibaodao/rss2.xml"
    assert feeds["中国数字时代"] == "https://chinadigitaltimes.net/chinese/feed/"
    assert len(feeds) >= 8
    with Archive.open(config.archive, create=False) as archive:  # made, sources in it
        assert len(archive.health()) == len(feeds)
    again = nm("init", tmp_path, check=False)
    assert again.returncode == 3 and "--force" in again.stderr


def test_init_from_subs(tmp_path):
    subs = tmp_path / "subs.json"
    subs.write_text(
        json.dumps(
            [
                {"site": "美国之音", "url": "https://www.voachinese.com/api/zm_yql-vomx-tpeybti"},
                {"site": "美国之音", "url": "https://www.voachinese.com/api/other"},
                {"site": "BBC", "url": "https://feeds.bbci.co.uk/zhongwen/simp/rss.xml"},
                "中国数字时代",  # perform.js's built-in source, by its name alone
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    nm("init", tmp_path / "m", "--from-subs", subs)
    config = load_config(tmp_path / "m/newsmirror.toml")
    assert [(s.name, len(s.feeds)) for s in config.sources] == [
        ("美国之音", 2),
        ("BBC", 1),
        ("中国数字时代", 1),
    ]
    assert config.sources[2].feeds == ("https://chinadigitaltimes.net/chinese/feed/",)
    subs.write_text('[{"site": "a", "url": "https://e.org/f"}, "某某网"]', encoding="utf-8")
    bad = nm("init", tmp_path / "n", "--from-subs", subs, check=False)
    assert bad.returncode == 3 and "entry '某某网' is a name perform.js does not know" in bad.stderr
    assert 'subs.json is a JSON array of {"site": NAME, "url": FEED}' in bad.stderr
    both = nm("init", tmp_path / "o", "--from-subs", subs, "--from-opml", subs, check=False)
    assert both.returncode == 2 and "give --from-subs or --from-opml, not both" in both.stderr


def test_fetch_exit_codes_and_summary(tmp_path, server):
    server.route("/ok", Reply(body=rss([{"title": "好", "link": "https://e.org/1"}])))
    (tmp_path / "newsmirror.toml").write_text(
        f'[fetch]\nretries = 0\n[[sources]]\nname = "good"\nfeeds = ["{server.url}/ok"]\n'
        f'[[sources]]\nname = "bad"\nfeeds = ["{server.url}/missing"]\n',
        encoding="utf-8",
    )
    result = nm("fetch", "-v", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "1 ok" in result.stdout and "1 failed" in result.stdout and "1 new" in result.stdout
    assert "2 sources: " in result.stdout and "read by feedparser" not in result.stdout  # -v
    assert "bad" in result.stderr and "HTTP 404" in result.stderr
    assert "good: ok, 1 new, 0 updated" in result.stderr  # -v: one line per source
    only_good = nm("fetch", "--source", "good", cwd=tmp_path, check=False)
    assert only_good.returncode == 0
    health = nm("sources", cwd=tmp_path)
    assert "bad\tFAILING" in health.stdout and "HTTP 404" in health.stdout
    unknown = nm("fetch", "--source", "nope", cwd=tmp_path, check=False)
    assert unknown.returncode == 3 and "good" in unknown.stderr


def test_bad_config_names_file_key_and_hint(tmp_path):
    (tmp_path / "newsmirror.toml").write_text(
        '[[sources]]\nname = "x"\nfeeds = ["ftp://nope"]\n', encoding="utf-8"
    )
    result = nm("fetch", cwd=tmp_path, check=False)
    assert result.returncode == 3
    assert "newsmirror.toml" in result.stderr and "sources[0].feeds" in result.stderr
    assert "hint:" in result.stderr
    (tmp_path / "newsmirror.toml").write_text("[[sources]\n", encoding="utf-8")
    assert "not valid TOML" in nm("fetch", cwd=tmp_path, check=False).stderr
    missing = nm("-c", tmp_path / "nope.toml", "fetch", check=False)
    assert missing.returncode == 3 and "newsmirror init" in missing.stderr


@pytest.mark.sqlite_only  # a file that is no SQLite database
def test_unusable_archive_exit_code(tmp_path):
    (tmp_path / "archive.sqlite").write_bytes(b"garbage" * 1000)
    (tmp_path / "newsmirror.toml").write_text(
        '[[sources]]\nname = "x"\nfeeds = ["http://127.0.0.1:9/f"]\n', encoding="utf-8"
    )
    before = snapshot(tmp_path)
    result = nm("fetch", cwd=tmp_path, check=False)
    assert_clean_error(result, 4, "cannot open archive", "not a database")
    assert snapshot(tmp_path) == before


def test_export_and_import_commands(tmp_path):
    site = tmp_path / "old" / "_posts"
    site.mkdir(parents=True)
    (site / SEED_NAME).write_bytes(SEED.read_bytes())
    archive = tmp_path / "a.sqlite"
    imported = nm("--archive", archive, "import", "jekyll", tmp_path / "old")
    assert "1 new" in imported.stdout
    exported = nm("--archive", archive, "export", "jekyll", tmp_path / "new")
    assert "1 written" in exported.stdout
    assert (tmp_path / "new/_posts" / SEED_NAME).read_bytes() == SEED.read_bytes()


def test_every_command_has_help_with_example():
    import click

    from newsmirror.cli import cli

    commands = [[], *([name] for name in cli.commands)]
    for name, group in cli.commands.items():
        if isinstance(group, click.Group):
            commands += [[name, sub] for sub in group.commands]
    assert ["export", "jekyll"] in commands and ["run"] in commands
    for cmd in commands:
        out = CliRunner().invoke(cli, [*cmd, "--help"]).output
        assert "Example" in out, cmd


def test_add_and_refetch_commands(tmp_path, server):
    from conftest import article_page

    server.route("/s.html", Reply(body=article_page("命令行添加")))
    (tmp_path / "newsmirror.toml").write_text('[media]\nmode = "hotlink"\n', encoding="utf-8")
    refused = nm("add", f"{server.url}/s.html", cwd=tmp_path, check=False)
    assert refused.returncode == 1 and "--allow-private" in refused.stderr
    added = nm("add", f"{server.url}/s.html", "--allow-private", "-s", "手动", cwd=tmp_path)
    assert added.stdout.startswith("new: [手动] 命令行添加")
    server.route("/s.html", Reply(410, b"gone"))
    again = nm("refetch", "--since", "2020-01-01", cwd=tmp_path)
    assert "1 gone at origin" in again.stdout
    # each page as it is done, on stderr (a long refetch is not silent)
    assert again.stderr.startswith(f"page 1 {server.url}/s.html: ")
    bad = nm("refetch", "--since", "yesterday", cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "not a date" in bad.stderr


def test_the_demo_builds_its_site_and_its_config_explains_itself(tmp_path):
    out = tmp_path / "演示 demo"
    result = nm("demo", out)
    assert (out / "public/index.html").is_file() and "files:" in result.stdout
    assert "; sitemap.xml left out: it needs the site's address" in result.stdout
    archive = out / "archive.sqlite"
    for base, note in (("", True), ("https://m.example/", False)):
        built = nm("--archive", archive, "build", tmp_path / "s", "--base-url", base, "--no-search")
        assert ("sitemap.xml left out" in built.stdout) is note, built.stdout
        assert (tmp_path / "s/sitemap.xml").is_file() is not note
    [hint] = [line for line in result.stdout.splitlines() if line.startswith("read it: ")]
    assert hint == f"read it: {sys.executable} -m newsmirror serve '{out / 'public'}'"
    config = (out / "newsmirror.toml").read_text(encoding="utf-8")
    assert config.startswith("# The demo's sources")
    for command in (["fetch"], ["run"]):
        later = nm("-c", out / "newsmirror.toml", *command, check=False)
        assert later.returncode == 3, later.stderr
        assert "the demo's sources" in later.stderr and "newsmirror demo" in later.stderr
