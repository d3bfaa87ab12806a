"""Defects found in review: source names from subs.json with controls (and OPML that is
not XML), `serve` and an over-long request line, an unknown time zone in the archive, and
a page's author lost when the feed retitles the article."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import listparser
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Reply, article_page, make_config, rss
from newsmirror.cli import cli
from newsmirror.config import Source, load_config
from newsmirror.opml import write_opml
from newsmirror.store import Archive

CONTROLS = "\x00\x07\x08\x0b\x0c\x1b\x7f\x85\x9b\u2028\ufffe"


def test_init_from_subs_cleans_names_and_sources_opml_is_valid_xml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subs = [
        {"site": "大纪元\x1b[31m\x07", "url": "https://e.org/a.xml"},
        {"site": "美国\r\n之音\x9b2J", "url": "https://v.org/b.xml"},
        {"site": "\x1b\x07", "url": "https://only-controls.org/c.xml"},
    ]
    (tmp_path / "subs.json").write_text(json.dumps(subs), encoding="utf-8")
    runner = CliRunner()
    done = runner.invoke(
        cli, ["init", str(tmp_path / "m"), "--from-subs", str(tmp_path / "subs.json")]
    )
    assert done.exit_code == 0, done.output
    names = [s.name for s in load_config(tmp_path / "m/newsmirror.toml").sources]
    assert names == ["大纪元[31m", "美国 之音2J", "only-controls.org"]
    monkeypatch.chdir(tmp_path / "m")
    out = runner.invoke(cli, ["sources", "--opml"])
    assert out.exit_code == 0, out.output
    parsed = listparser.parse(out.stdout.encode("utf-8"))
    assert not parsed.bozo, parsed.bozo_exception
    assert [(f.title, f.url) for f in parsed.feeds] == [
        (name, sub["url"]) for name, sub in zip(names, subs, strict=True)
    ]


@settings(max_examples=100, deadline=None)
@given(st.text(st.sampled_from(CONTROLS + "\t\n\r &<>\"'a中\ud800"), min_size=1, max_size=12))
def test_written_opml_is_xml_whatever_the_names(name: str) -> None:
    # A hand-written config may hold any name TOML allows; the list must still parse.
    text = write_opml([Source(name=name, feeds=("https://e.org/f.xml",))], title=name)
    root = ET.fromstring(text.encode("utf-8", "surrogatepass"))
    assert root.find("body/outline").get("xmlUrl") == "https://e.org/f.xml"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    return reply


def test_serve_answers_an_overlong_request_line_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>home</p>", encoding="utf-8")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsmirror", "serve", str(tmp_path), "-p", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
                time.sleep(0.05)
        reply = _request(port, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reply.split(b"\r\n", 1)[0] in (
            b"HTTP/1.0 414 Request-URI Too Long",
            b"HTTP/1.0 414 URI Too Long",
            b"HTTP/1.0 400 Bad Request",
        ), reply[:200]
        assert _request(port, b"GET / HTTP/1.0\r\n\r\n").endswith(b"<p>home</p>")
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr


def test_build_shows_the_default_zone_for_a_zone_tzdata_does_not_know(
    tmp_path: Path, server: object
) -> None:
    item = {
        "title": "时区未知的文章",
        "link": "https://example.org/news/1.html",
        "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
        "content": "<p>正文</p>",
    }
    server.route("/feed", Reply(body=rss([item])))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])])
    runner = CliRunner()
    archive = str(config.archive)
    done = runner.invoke(cli, ["--config", str(config.path), "fetch"])
    assert done.exit_code == 0, done.output
    with Archive.open(config.archive) as tampered:  # or a zone tzdata dropped
        tampered.conn.execute("UPDATE sources SET timezone = 'Mars/Olympus_Mons'")
    built = runner.invoke(cli, ["--archive", archive, "build", str(tmp_path / "public")])
    assert built.exit_code == 0, built.output
    pages = [
        p.read_text(encoding="utf-8")
        for p in (tmp_path / "public").rglob("*.html")
        if "时区未知的文章" in p.read_text(encoding="utf-8")
    ]
    assert pages and any("2024-01-01 08:00 北京时间" in page for page in pages)


def test_a_retitled_item_keeps_the_author_read_from_its_page(
    tmp_path: Path, server: object
) -> None:
    server.route("/news/1.html", Reply(body=article_page("原标题")))

    def feed(title: str) -> Reply:  # no author: the feed falls back to the source's name
        item = {
            "title": title,
            "link": f"{server.url}/news/1.html",
            "guid": "item-1",
            "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
            "description": "这是摘要……阅读全文",
        }
        return Reply(body=rss([item]))

    server.route("/feed", feed("原标题"))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    runner = CliRunner()
    fetch = ["--config", str(config.path), "fetch"]
    assert runner.invoke(cli, fetch).exit_code == 0
    with Archive.open(config.archive) as archive:
        [art] = list(archive.iter_articles())
    assert (art.title, art.author) == ("原标题", "记者乙")
    server.route("/feed", feed("新标题"))
    assert runner.invoke(cli, fetch).exit_code == 0
    with Archive.open(config.archive) as archive:
        [art] = list(archive.iter_articles())
    assert (art.title, art.author) == ("新标题", "记者乙")


def test_init_from_opml_cleans_names_too(tmp_path: Path) -> None:
    # XML 1.0 allows C1 controls and U+2028, raw or as references; a name is one line.
    opml = (
        '<?xml version="1.0" encoding="utf-8"?><opml version="2.0"><body>'
        '<outline text="美国\u009b2J之音&#x2028;VOA" xmlUrl="https://v.org/a.xml"/>'
        "</body></opml>"
    )
    (tmp_path / "subs.opml").write_text(opml, encoding="utf-8")
    done = CliRunner().invoke(
        cli, ["init", str(tmp_path / "m"), "--from-opml", str(tmp_path / "subs.opml")]
    )
    assert done.exit_code == 0, done.output
    [source] = load_config(tmp_path / "m/newsmirror.toml").sources
    assert source.name == "美国2J之音 VOA"
