"""No control character from the web or an archive reaches the reader's terminal.

Titles, source names (a foreign subs.json or OPML names them), file names of an old
mirror and servers' error texts may hold ESC, CSI (U+009B), BEL or CR: printed raw
they could retitle, clear or overwrite the terminal, or hide a line. Every command
shows them as U+FFFD; JSON output escapes them."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from conftest import Reply, article_page, rss
from newsmirror.cli import cli
from newsmirror.clibase import echo, json_text, shown
from newsmirror.config import render_config
from newsmirror.display import Display, LiveDisplay

# What must never reach a terminal raw: C0 but tab and newline, DEL, C1, lone surrogates.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
HOSTILE = "N\x1b]0;owned\x07\x9b2J\rX"  # retitle the window, clear the screen, overwrite


def no_raw(*texts: str) -> None:
    for text in texts:
        assert not RAW.search(text), repr(text)


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def hostile_mirror(tmp_path: Path, server: object, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mirror whose hand-written config names sources with controls (TOML escapes allow
    any; `init --from-subs` cleans a subs.json's names)."""
    server.route("/feed", Reply(body=rss([{"title": "一条", "link": "https://e.org/1"}])))
    server.route("/down", Reply(500, b""))
    sources = [(HOSTILE, [f"{server.url}/feed"]), ("Down\x1b[5m", [f"{server.url}/down"])]
    mirror = tmp_path / "m"
    mirror.mkdir()
    text = render_config(sources).replace("retries = 2", "retries = 0")
    (mirror / "newsmirror.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(mirror)
    return mirror


@pytest.mark.slow  # fetch, sources, run (with a site build): about 1.5 s
def test_hostile_source_names_never_reach_the_terminal_raw(hostile_mirror: Path) -> None:
    fetched = invoke("fetch", "-v")
    assert fetched.exit_code == 1  # the second source fails
    no_raw(fetched.stdout, fetched.stderr)
    assert "source N\ufffd]0;owned\ufffd\ufffd2J X: ok" in fetched.stderr  # CR: a space
    listed = invoke("sources")
    no_raw(listed.stdout, listed.stderr)
    names = {line.split("\t")[0] for line in listed.stdout.splitlines() if "\t" in line}
    assert names == {"N\ufffd]0;owned\ufffd\ufffd2J\ufffdX", "Down\ufffd[5m"}
    assert "  last error at " in listed.stdout  # the failing source's server error
    ran = invoke("run", "-v")
    no_raw(ran.stdout, ran.stderr)
    assert re.search("^feed [12]/2 N\ufffd]0;owned", ran.stderr, re.M)  # in either order
    unknown = invoke("fetch", "-s", "nope")  # the hint lists the configured names
    assert unknown.exit_code == 3
    no_raw(unknown.stderr)
    assert "N\ufffd]0;owned" in unknown.stderr


def test_json_reports_escape_what_json_leaves_raw(hostile_mirror: Path) -> None:
    """json.dumps(ensure_ascii=False) escapes C0 but leaves DEL and C1 as they are."""
    invoke("fetch")
    ran = invoke("run", "--json")
    no_raw(ran.stdout)
    assert json.loads(ran.stdout)["sources"][0]["name"] == HOSTILE  # the same value
    found = invoke("search", "一条", "--json")
    no_raw(found.stdout)
    assert json.loads(found.stdout)["results"][0]["source"] == HOSTILE


def test_add_shows_a_hostile_page_title_without_its_controls(
    tmp_path: Path, server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.route("/p.html", Reply(body=article_page("Added \x1b[2J\x9b1m title\r\x07")))
    (tmp_path / "newsmirror.toml").write_text('[media]\nmode = "hotlink"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    added = invoke("add", f"{server.url}/p.html", "--allow-private")
    assert added.exit_code == 0, added.stderr
    no_raw(added.stdout, added.stderr)
    assert added.stdout.startswith("new: [127.0.0.1] Added ")
    assert "1m title" in added.stdout


def test_import_names_a_hostile_file_without_its_controls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = tmp_path / "old" / "_posts"
    posts.mkdir(parents=True)
    (posts / "2024-01-01-a\x1b]0;owned\x07\r.md").write_text("no front matter", encoding="utf-8")
    good = "---\ntitle: 好\nfrom: https://e.org/x\n---\nbody\n"
    (posts / "2024-01-02-b.md").write_text(good, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    done = invoke("--archive", "a.sqlite", "import", "jekyll", "old")
    assert done.exit_code == 0
    no_raw(done.stdout, done.stderr)
    assert "skipped: " in done.stderr and "a\ufffd]0;owned\ufffd\ufffd.md: no front matter" in (
        done.stderr
    )


@pytest.mark.skipif(os.name != "posix", reason="bytes in file names")
def test_import_names_a_file_whose_name_is_not_utf8(tmp_path: Path) -> None:
    """An undecodable byte (a lone surrogate in Python) is shown, never a crash."""
    posts = tmp_path / "old" / "_posts"
    posts.mkdir(parents=True)
    Path(os.fsdecode(bytes(posts) + b"/2024-01-01-\xff.md")).write_text("x", encoding="utf-8")
    done = invoke("--archive", str(tmp_path / "a.sqlite"), "import", "jekyll", str(posts.parent))
    no_raw(done.stderr)
    assert "2024-01-01-\ufffd.md: no front matter" in done.stderr


def outcome(name: str, errors: list[str]) -> SimpleNamespace:
    return SimpleNamespace(
        name=name, status="partial", new=1, updated=0, errors=errors,
        ok=1, not_modified=0, failed=1, feeds=2,
    )  # fmt: skip


def test_plain_display_lines_carry_no_controls(capsys: pytest.CaptureFixture[str]) -> None:
    display = Display(2, verbose=True, plain=True)
    display.event("page", "https://e.org/\x9b2J: failed: HTTP 500 \x1b[8mhidden")
    display.feed(outcome(HOSTILE, ["x: line\rover"]), "https://e.org/f\x07", "ok")
    lines = capsys.readouterr().err.splitlines()
    no_raw(*lines)
    assert len(lines) == 3
    assert lines[0] == "page 1 https://e.org/\ufffd2J: failed: HTTP 500 \ufffd[8mhidden"


def test_live_display_prints_outside_text_as_text() -> None:
    """The live display (rich) prints the lasting lines: no raw control from the text,
    no :emoji: codes or [markup] interpreted."""
    from rich.console import Console
    from rich.progress import Progress

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    with Progress(console=console, transient=True) as progress:
        display = LiveDisplay(2, verbose=True, progress=progress)
        display.feed(outcome(HOSTILE + " :smile: [red]", ["e\x9b2J"]), "https://e.org/", "ok")
        display.event("output", "site out: \x1b]0;owned\x07")
    text = out.getvalue()
    for raw in ("\x1b]0;owned", "\x07", "\x9b", "\rX"):
        assert raw not in text
    assert "source N\ufffd]0;owned\ufffd\ufffd2J X :smile: [red]: partial" in text
    assert "output 1 site out: \ufffd]0;owned\ufffd" in text


ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),  # everything but surrogates
        st.sampled_from("\x1b\x9b\x07\r\n\t\x7f\x85\u2028\u2029\ud800\udfff\x00"),
    )
)


@given(ANY_TEXT)
def test_shown_keeps_one_character_per_character_and_no_control(text: str) -> None:
    out = shown(text)
    assert len(out) == len(text)  # search marks' offsets still hold
    assert not re.search("[\x00-\x1f\x7f-\x9f\ud800-\udfff]", out)
    assert all(a == b or b == "\ufffd" for a, b in zip(text, out, strict=True))


@given(ANY_TEXT)
def test_echo_keeps_the_layout_and_drops_controls(text: str) -> None:
    import click.testing

    runner = click.testing.CliRunner()
    result = runner.invoke(click.command()(lambda: echo(text)), [])
    assert result.exit_code == 0, result.output
    no_raw(result.stdout)
    assert result.stdout.count("\n") == text.count("\n") + 1
    assert result.stdout.count("\t") == text.count("\t")


@given(st.dictionaries(ANY_TEXT, st.lists(ANY_TEXT, max_size=3), max_size=3))
def test_json_text_is_the_same_json_with_nothing_raw(data: object) -> None:
    text = json_text(data)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]", text.replace("\n", ""))
    assert json.loads(text) == data
