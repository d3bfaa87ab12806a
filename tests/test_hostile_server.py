"""Servers that misbehave on purpose: every bad answer ends as that feed's, page's or image's
recorded failure with a one-line reason, and the healthy source in the same run is stored."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sqlite3
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, Reply, make_config, reset, rss
from newsmirror.demo.assets import png
from newsmirror.errors import ArchiveError, FetchError
from newsmirror.parse import MAX_ITEMS, MAX_TITLE
from newsmirror.pipeline import update
from newsmirror.store import Archive

ITEM = {
    "title": "标题一",
    "link": "https://example.org/1",
    "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
    "content": "<p>正文一</p>",
}
TESTS = Path(__file__).parent


def run_pair(tmp_path, server, bad_url, extra="retries = 0\nread_timeout = 1\n", **kw):
    """One run over a healthy source ("good") and a misbehaving one ("bad").

    The bad URL is put in after the config is read: the pipeline must survive any URL,
    whatever the config accepts (old archives, `add`)."""
    server.route("/good", Reply(body=rss([ITEM])))
    config = make_config(
        tmp_path,
        [("good", [server.url + "/good"]), ("bad", [server.url + "/placeholder"])],
        extra=extra,
        **kw,
    )
    good, bad = config.sources
    good = dataclasses.replace(good, full_text="feed")  # its item's page is not on this machine
    config = dataclasses.replace(config, sources=(good, dataclasses.replace(bad, feeds=(bad_url,))))
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        health = {h.name: h for h in archive.health()}
        titles = sorted(a.title for a in archive.iter_articles())
    return summary, {r.name: r for r in summary.sources}, health, titles


def assert_bad_recorded(results, health, titles, *, good_titles=("标题一",)) -> str:
    """The good source stored, the bad one failed with a one-line reason; return it."""
    assert results["good"].status == "ok"
    assert set(good_titles) <= set(titles)
    assert health["good"].last_success and health["good"].consecutive_failures == 0
    assert results["bad"].status == "failed"
    [error] = results["bad"].errors
    assert error and "\n" not in error and len(error) < 600
    assert health["bad"].consecutive_failures == 1
    assert health["bad"].last_error and "\n" not in health["bad"].last_error
    return error


@pytest.mark.parametrize(
    ("encoding", "word"),
    [("gzip", "gzip"), ("x-gzip", "gzip"), ("deflate", "deflate"), ("br", "br")],
)
def test_body_that_is_not_what_its_content_encoding_says(tmp_path, server, encoding, word):
    server.route(
        "/bad",
        Reply(
            body=b"<rss>this is not compressed at all</rss>", headers={"Content-Encoding": encoding}
        ),
    )
    _, results, health, titles = run_pair(tmp_path, server, server.url + "/bad")
    error = assert_bad_recorded(results, health, titles)
    assert word in error


def test_raw_deflate_without_zlib_header_is_read(tmp_path, server):
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    feed = rss([{**ITEM, "title": "原始压缩", "link": "https://e.org/raw"}])
    body = raw.compress(feed) + raw.flush()
    server.route("/raw", Reply(body=body, headers={"Content-Encoding": "deflate"}))
    _, results, _, titles = run_pair(tmp_path, server, server.url + "/raw")
    assert results["bad"].status == "ok" and "原始压缩" in titles


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/feed",
        "http://127.0.0.1:65536/feed",
        "http://[::1/feed",
        "http://exa mple.org/feed",
        "http://127.0.0.1:80:80/feed",
        "http:///feed",
    ],
)
def test_unusable_feed_url(tmp_path, server, url):
    _, results, health, titles = run_pair(tmp_path, server, url)
    error = assert_bad_recorded(results, health, titles)
    assert "URL" in error


def chunked_cut_mid_chunk(conn: socket.socket) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n400\r\n<rss version='2.0'><channel>"
    )


def content_length_too_long(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<rss version='2.0'><channel>")


def reset_mid_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<rss version='2.0'>")
    reset(conn)


def invalid_header_bytes(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-B\x00d: \x01\xff\r\nContent-Length: 2\r\n\r\nok")


def header_line_without_colon(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nthis is no header\r\nContent-Length: 2\r\n\r\nok")


def not_http_at_all(conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def status_out_of_range(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 99999999999999999999 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.mark.parametrize(
    "answer",
    [
        chunked_cut_mid_chunk,
        content_length_too_long,
        reset_mid_body,
        invalid_header_bytes,
        header_line_without_colon,
        not_http_at_all,
        status_out_of_range,
    ],
)
def test_malformed_http(tmp_path, server, raw_server, answer):
    raw_server.route("/feed", answer)
    _, results, health, titles = run_pair(tmp_path, server, raw_server.url + "/feed")
    assert_bad_recorded(results, health, titles)


def gzip_bomb(gigabytes: int = 1):
    """A gzip stream of ``gigabytes`` GB of zeros, made from one small compressed block repeated
    (about 1 KB per MB), so that neither side ever holds the whole thing."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    yield compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    for _ in range(1024 * gigabytes - 1):
        yield block


def test_gzip_bomb_fails_at_the_cap(tmp_path, server):
    server.route("/bomb", Reply(stream=gzip_bomb, headers={"Content-Encoding": "gzip"}))
    _, results, health, titles = run_pair(
        tmp_path, server, server.url + "/bomb", extra="retries = 0\nmax_bytes = 2000000\n"
    )
    error = assert_bad_recorded(results, health, titles)
    assert "exceeds the cap of 2000000" in error


BOMB_SCRIPT = """
import asyncio, gzip, json, sys
sys.path.insert(0, sys.argv[1])
from conftest import FeedServer, Reply
from test_hostile_server import gzip_bomb
from newsmirror.config import FetchSettings
from newsmirror.fetch import Fetcher

CAP = int(sys.argv[2])

def peak_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

async def main():
    srv = FeedServer()
    srv.route("/bomb", Reply(stream=gzip_bomb, headers={"Content-Encoding": "gzip"}))
    small = gzip.compress(b"<rss></rss>" * 1000)
    srv.route("/small", Reply(body=small, headers={"Content-Encoding": "gzip"}))
    settings = FetchSettings(max_bytes=CAP, retries=0, connect_timeout=5, read_timeout=5)
    async with Fetcher(settings) as fetcher:
        warm = await fetcher.fetch(srv.url + "/small")
        before = peak_bytes()
        result = await fetcher.fetch(srv.url + "/bomb")
        after = peak_bytes()
    print(json.dumps({"warm": warm.status, "status": result.status, "error": result.error,
                      "growth": after - before}))

asyncio.run(main())
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_gzip_bomb_memory_stays_near_the_cap():
    cap = 16 * 1024 * 1024
    out = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, str(TESTS), str(cap)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["warm"] == "ok" and seen["status"] == "failed"
    assert f"exceeds the cap of {cap}" in seen["error"]
    assert seen["growth"] < cap * 1.3, f"peak memory grew by {seen['growth'] / cap:.1f} x the cap"


@pytest.mark.slow
def test_feed_with_100000_items_keeps_the_newest(tmp_path, server):
    start = datetime(2020, 1, 1, tzinfo=UTC)
    parts = [
        f"<item><title>t{i}</title><link>https://e.org/{i}</link><pubDate>"
        f"{(start + timedelta(minutes=i)).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate></item>"
        for i in range(100_000)  # oldest first: the newest are at the end
    ]
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>'
        + "".join(parts)
        + "</channel></rss>"
    ).encode()
    server.route("/huge", Reply(body=body))
    summary, results, _, titles = run_pair(
        tmp_path, server, server.url + "/huge", extra="retries = 0\nread_timeout = 5\n"
    )
    assert results["good"].status == "ok" and results["bad"].status == "ok"
    assert results["bad"].new == MAX_ITEMS
    assert f"kept the newest {MAX_ITEMS} of 100000 items" in results["bad"].warnings[0]
    stored = {t for t in titles if t.startswith("t")}
    assert stored == {f"t{i}" for i in range(100_000 - MAX_ITEMS, 100_000)}
    assert summary.new == MAX_ITEMS + 1


def test_10_mb_title_is_cut(tmp_path, server):
    huge = "标" * (10 * 1024 * 1024 // 3)
    server.route("/title", Reply(body=rss([{**ITEM, "title": huge, "link": "https://e.org/t"}])))
    _, results, _, titles = run_pair(tmp_path, server, server.url + "/title")
    assert results["bad"].status == "ok"
    assert "标" * MAX_TITLE in titles


def test_feed_that_crashes_the_lenient_parser(tmp_path, server):
    # A lone surrogate as a character reference: feedparser raises UnicodeEncodeError.
    body = rss([{**ITEM, "title": "a&#xD800;b", "link": "https://e.org/s"}])
    server.route("/surrogate", Reply(body=body))
    _, results, health, titles = run_pair(tmp_path, server, server.url + "/surrogate")
    assert_bad_recorded(results, health, titles)


def test_image_that_claims_png_and_is_not(tmp_path, server):
    server.route("/real.png", Reply(body=png(), headers={"Content-Type": "image/png"}))
    server.route(
        "/fake.png", Reply(body=b"<html>gotcha</html>", headers={"Content-Type": "image/png"})
    )
    content = f'<p>正文</p><img src="{server.url}/real.png"><img src="{server.url}/fake.png">'
    server.route(
        "/imgs", Reply(body=rss([{**ITEM, "link": "https://e.org/i", "content": content}]))
    )
    summary, results, _, _ = run_pair(tmp_path, server, server.url + "/imgs", media="mirror")
    assert results["good"].status == "ok" and results["bad"].status == "ok"
    assert summary.media.stored == 1 and summary.media.failed == 1
    [error] = summary.media.errors
    assert error.endswith("fake.png: not an image (by its bytes)")
    assert len(list((tmp_path / "media").rglob("*.png"))) == 1


def test_article_pages_that_misbehave(tmp_path, server, raw_server):
    raw_server.route("/reset.html", reset_mid_body)
    server.route("/gz.html", Reply(body=b"not gzip", headers={"Content-Encoding": "gzip"}))
    items = [
        {"title": "甲", "link": f"{server.url}/gz.html", "description": "摘要……阅读全文"},
        {"title": "乙", "link": f"{raw_server.url}/reset.html", "description": "摘要……阅读全文"},
        {"title": "丙", "link": "http://127.0.0.1:99999/x.html", "description": "摘要……阅读全文"},
    ]
    server.route("/teasers", Reply(body=rss(items)))
    summary, results, _, titles = run_pair(
        tmp_path, server, server.url + "/teasers", full_text="auto"
    )
    assert results["bad"].status == "ok" and {"甲", "乙", "丙"} <= set(titles)
    assert summary.pages.failed == 3 and len(summary.pages.errors) == 3
    assert all("\n" not in e for e in summary.pages.errors)


@pytest.mark.sqlite_only  # another connection holds the SQLite file's write lock
def test_archive_error_stops_the_run_and_is_not_a_source_failure(tmp_path, server):
    """A locked (or full) archive stops the run with ArchiveError; no source failure recorded."""
    config = make_config(tmp_path, [("good", [server.url + "/good"])])
    holder = {}

    def lock_then_answer(_handler):
        conn = holder["conn"] = sqlite3.connect(
            config.archive, isolation_level=None, check_same_thread=False
        )
        conn.execute("BEGIN EXCLUSIVE")
        return Reply(body=rss([ITEM]))

    server.route("/good", lock_then_answer)
    with Archive.open(config.archive) as archive:
        archive.conn.execute("PRAGMA busy_timeout = 50")
        with pytest.raises(ArchiveError, match="busy or unwritable"):
            update(config, archive)
        holder["conn"].execute("ROLLBACK")
        holder["conn"].close()
        [health] = archive.health()
        assert health.consecutive_failures == 0 and health.last_error is None


def nm(*args):
    return subprocess.run(
        [sys.executable, "-m", "newsmirror", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def test_cli_fetch_with_bad_gzip_and_bad_port(tmp_path, server):
    server.route("/good", Reply(body=rss([ITEM])))
    server.route("/gz", Reply(body=b"not gzip", headers={"Content-Encoding": "gzip"}))
    make_config(
        tmp_path,
        [("good", [server.url + "/good"]), ("gz", [server.url + "/gz"])],
        extra="retries = 0\n",
    )
    config = tmp_path / "newsmirror.toml"
    result = nm("-c", config, "fetch", "-v")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "gzip" in result.stderr
    assert "1 ok" in result.stdout and "1 failed" in result.stdout
    sources = nm("-c", config, "sources").stdout
    assert "good\tok\tarticles=1" in sources and "gzip" in sources

    # A port out of range: the config may refuse it (exit 3, one line), or the run records
    # it as that source's failure (exit 1); never a traceback.
    text = config.read_text(encoding="utf-8").replace(
        server.url + "/gz", "http://127.0.0.1:99999/feed"
    )
    config.write_text(text, encoding="utf-8")
    result = nm("-c", config, "fetch")
    assert "Traceback" not in result.stderr
    assert result.returncode in (1, 3), result.stderr
    assert "99999" in result.stderr or "port" in result.stderr.lower()
    if result.returncode == 1:
        assert "1 failed" in result.stdout


def test_unwritable_media_folder_stops_the_run_with_one_line(tmp_path, server):
    """Images are the archive's: a media folder that cannot be written (here a file is in its
    way; a full disk alike) stops the run with exit 4, not one failed image after another."""
    server.route("/real.png", Reply(body=png(), headers={"Content-Type": "image/png"}))
    content = f'<p>正文</p><img src="{server.url}/real.png">'
    server.route("/feed", Reply(body=rss([{**ITEM, "content": content}])))
    make_config(tmp_path, [("src", [server.url + "/feed"])], media="mirror")
    (tmp_path / "media").write_text("in the way", encoding="utf-8")
    result = nm("-c", tmp_path / "newsmirror.toml", "fetch")
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: cannot write the media folder")
    with Archive.open(tmp_path / "archive.sqlite") as archive:
        assert [a.title for a in archive.iter_articles()] == ["标题一"]  # the feed was kept


class RefusingTransport(httpx.AsyncHTTPTransport):
    """The real transport, with a policy in front that refuses one port by raising a
    NewsmirrorError (as `add`'s network guard does): such errors pass through the fetcher."""

    def __init__(self, refused_port: int) -> None:
        super().__init__()
        self.refused_port = refused_port

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.port == self.refused_port:
            raise FetchError(f"refused by policy: {request.url.host}:{request.url.port}")
        return await super().handle_async_request(request)


def test_error_raised_through_the_fetcher_is_that_feed_failure(tmp_path, server, raw_server):
    server.route("/good", Reply(body=rss([ITEM])))
    config = make_config(
        tmp_path, [("good", [server.url + "/good"]), ("bad", [raw_server.url + "/feed"])]
    )
    port = int(raw_server.url.rsplit(":", 1)[1])
    with Archive.open(config.archive) as archive:
        summary = update(config, archive, transport=RefusingTransport(port))
        health = {h.name: h for h in archive.health()}
        titles = [a.title for a in archive.iter_articles()]
    results = {r.name: r for r in summary.sources}
    error = assert_bad_recorded(results, health, titles)
    assert "refused by policy" in error and raw_server.requests == []


def test_error_raised_through_the_fetcher_is_that_image_failure(tmp_path, server, raw_server):
    server.route("/real.png", Reply(body=png(), headers={"Content-Type": "image/png"}))
    content = (
        f'<p>正文</p><img src="{raw_server.url}/refused.png"><img src="{server.url}/real.png">'
    )
    server.route("/feed", Reply(body=rss([{**ITEM, "content": content}])))
    config = make_config(tmp_path, [("src", [server.url + "/feed"])], media="mirror")
    port = int(raw_server.url.rsplit(":", 1)[1])
    with Archive.open(config.archive) as archive:
        summary = update(config, archive, transport=RefusingTransport(port))
    assert summary.sources[0].status == "ok" and summary.media.stored == 1
    [error] = summary.media.errors
    assert error.endswith(f"refused.png: refused by policy: 127.0.0.1:{port}")


def test_control_characters_and_mislabelled_chinese_feeds_through_a_run(tmp_path, server):
    """Review findings 4 and 6: one backspace in escaped HTML, a GBK feed declared UTF-8 and
    a Big5 feed under a wrong HTTP charset are stored right; an undecodable feed fails alone."""
    marks = ["", "\x08", ""]
    paragraphs = "".join(f"&lt;p&gt;第{i}段{m}&lt;/p&gt;" for i, m in enumerate(marks))
    ctl = rss([{"title": "控制\x1b字符", "link": "https://e.org/ctl", "description": paragraphs}])
    gbk = rss([{**ITEM, "title": "简体标题", "link": "https://e.org/gbk"}], encoding="gbk")
    big5 = rss([{**ITEM, "title": "繁體標題", "link": "https://e.org/big5"}], encoding="big5")
    garbage = rss([{**ITEM, "title": "X", "link": "https://e.org/x"}]).replace(
        b">X<", b">" + bytes(range(0x80, 0x100)) * 8 + b"<"
    )
    routes = {
        "/good": Reply(body=rss([ITEM])),
        "/ctl": Reply(body=ctl),
        "/gbk": Reply(body=gbk.replace(b'encoding="gbk"', b'encoding="utf-8"')),
        "/big5": Reply(
            body=big5.replace(b' encoding="big5"', b""),
            headers={"Content-Type": "application/rss+xml; charset=utf-8"},
        ),
        "/garbage": Reply(body=garbage),
    }
    for path, reply in routes.items():
        server.route(path, reply)
    config = make_config(tmp_path, [(p.strip("/"), [server.url + p]) for p in routes])
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        articles = {a.url: a for a in archive.iter_articles()}
        health = {h.name: h for h in archive.health()}
    results = {r.name: r for r in summary.sources}
    assert {n: r.status for n, r in results.items()} == {
        "good": "ok",
        "ctl": "ok",
        "gbk": "ok",
        "big5": "ok",
        "garbage": "failed",
    }
    assert articles["https://example.org/1"].title == "标题一"
    assert articles["https://e.org/ctl"].title == "控制字符"
    assert articles["https://e.org/ctl"].content == "<p>第0段</p><p>第1段</p><p>第2段</p>"
    assert articles["https://e.org/gbk"].title == "简体标题"
    assert articles["https://e.org/big5"].title == "繁體標題"
    assert not any("\ufffd" in a.title + a.content for a in articles.values())
    assert summary.fallbacks == 1  # the feed with a control character, read by feedparser
    [error] = results["garbage"].errors
    assert "encoding" in error and "\n" not in error
    assert health["garbage"].consecutive_failures == 1 and health["good"].last_success
