"""Fetching against local servers that misbehave: each failure is reported, none stops a run."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import math
import random
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib

from conftest import FeedServer, Reply, make_config, reset, rss
from newsmirror import fetch as fetch_module
from newsmirror.config import FetchSettings
from newsmirror.fetch import MAX_RETRY_AFTER, Fetcher, FetchResult, retry_after_seconds
from newsmirror.models import FeedState
from newsmirror.pipeline import update
from newsmirror.store import Archive

ITEM = {
    "title": "标题一",
    "link": "https://example.org/1",
    "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
    "content": "<p>正文一</p>",
}


def run(tmp_path, server, routes, extra=None):
    for path, reply in routes.items():
        server.route(path, reply)
    sources = [(path.strip("/"), [server.url + path]) for path in routes]
    config = make_config(tmp_path, sources, **({"extra": extra} if extra else {}))
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        health = {h.name: h for h in archive.health()}
        titles = [a.title for a in archive.iter_articles()]
    return {r.name: r for r in summary.sources}, health, titles


def test_404_fails_that_source_only(tmp_path, server):
    results, health, titles = run(
        tmp_path, server, {"/gone": Reply(404, b"nope"), "/good": Reply(body=rss([ITEM]))}
    )
    assert results["gone"].status == "failed"
    assert "HTTP 404" in results["gone"].errors[0]
    assert results["good"].status == "ok" and titles == ["标题一"]
    assert health["gone"].consecutive_failures == 1
    assert "HTTP 404" in (health["gone"].last_error or "")
    assert health["good"].last_success and health["good"].consecutive_failures == 0


def test_500_then_200_is_retried(tmp_path, server):
    calls = []

    def flaky(_handler):
        calls.append(1)
        return Reply(500, b"oops") if len(calls) == 1 else Reply(body=rss([ITEM]))

    results, _, titles = run(tmp_path, server, {"/flaky": flaky})
    assert results["flaky"].status == "ok" and len(calls) == 2 and titles == ["标题一"]


def test_429_honours_retry_after(tmp_path, server):
    calls = []

    def limited(_handler):
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Reply(429, b"slow down", headers={"Retry-After": "1"})
        return Reply(body=rss([ITEM]))

    results, _, _ = run(tmp_path, server, {"/limited": limited})
    assert results["limited"].status == "ok"
    assert calls[1] - calls[0] >= 0.9


def test_conditional_get_304(tmp_path, server):
    def conditional(handler):
        if handler.headers.get("If-None-Match") == '"v1"':
            return Reply(304, b"", headers={"ETag": '"v1"'})
        return Reply(
            body=rss([ITEM]),
            headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"},
        )

    server.route("/feed", conditional)
    config = make_config(tmp_path, [("feed", [server.url + "/feed"])])
    with Archive.open(config.archive) as archive:
        first = update(config, archive)
        second = update(config, archive)
    assert first.sources[0].status == "ok" and first.new == 1
    assert second.sources[0].status == "not_modified" and second.new == 0
    headers = server.requests[-1][1]
    assert headers.get("If-None-Match") == '"v1"'
    assert headers.get("If-Modified-Since") == "Mon, 01 Jan 2024 00:00:00 GMT"


def test_identical_body_without_validators_is_not_reparsed(tmp_path, server):
    server.route("/feed", Reply(body=rss([ITEM])))
    config = make_config(tmp_path, [("feed", [server.url + "/feed"])])
    with Archive.open(config.archive) as archive:
        update(config, archive)
        second = update(config, archive)
    assert second.sources[0].status == "not_modified"


def test_slow_response_times_out(tmp_path, server):
    started = time.monotonic()
    results, health, _ = run(
        tmp_path,
        server,
        {"/slow": Reply(body=rss([ITEM]), delay=3)},
        extra="retries = 0\nread_timeout = 0.5\nconnect_timeout = 1\n",
    )
    assert results["slow"].status == "failed"
    assert "timed out" in results["slow"].errors[0]
    assert time.monotonic() - started < 3
    assert "timed out" in (health["slow"].last_error or "")


def test_endless_redirect_is_bounded(tmp_path, server):
    results, _, _ = run(tmp_path, server, {"/loop": Reply(302, b"", headers={"Location": "/loop"})})
    assert results["loop"].status == "failed"
    assert "redirects" in results["loop"].errors[0]
    assert len(server.requests) <= 10


def test_redirect_is_followed(tmp_path, server):
    server.route("/new", Reply(body=rss([ITEM])))
    results, _, titles = run(
        tmp_path, server, {"/old": Reply(301, b"", headers={"Location": "/new"})}
    )
    assert results["old"].status == "ok" and titles == ["标题一"]


def test_50_mb_body_is_refused(tmp_path, server):
    big = b"<rss>" + b"x" * (50 * 1024 * 1024)
    results, _, _ = run(
        tmp_path,
        server,
        {"/big": Reply(body=big), "/bigchunked": Reply(body=big, send_length=False, chunks=200)},
        extra="retries = 0\nmax_bytes = 2000000\n",
    )
    for name in ("big", "bigchunked"):
        assert results[name].status == "failed"
        assert "exceeds the cap" in results[name].errors[0]


def test_invalid_xml_is_reported(tmp_path, server):
    results, health, _ = run(tmp_path, server, {"/bad": Reply(body=b"<rss><channel><item>")})
    assert results["bad"].status == "failed"
    assert health["bad"].consecutive_failures == 1


def test_html_page_instead_of_feed(tmp_path, server):
    page = b"<!DOCTYPE html><html><head><title>Home</title></head><body>hi</body></html>"
    results, _, _ = run(
        tmp_path, server, {"/page": Reply(body=page, headers={"Content-Type": "text/html"})}
    )
    assert results["page"].status == "failed"
    assert "HTML page" in results["page"].errors[0]


def test_an_image_or_document_instead_of_a_feed_is_named(tmp_path, server):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    pdf = b"%PDF-1.7\n" + "正文".encode("gbk") * 50
    routes = {
        "/logo": Reply(body=png, headers={"Content-Type": "image/png"}),
        "/report": Reply(body=pdf, headers={"Content-Type": "application/xml"}),
        "/good": Reply(body=rss([ITEM])),
    }
    results, health, titles = run(tmp_path, server, routes)
    assert results["logo"].status == "failed"
    assert results["logo"].errors[0].endswith("not a feed: its bytes are a PNG image")
    assert "not a feed: its bytes are a PDF document" in (health["report"].last_error or "")
    assert results["good"].status == "ok" and titles == ["标题一"]


def test_gbk_and_big5_feeds_decode(tmp_path, server):
    gbk = rss([{**ITEM, "title": "简体中文标题", "link": "https://e.org/gbk"}], encoding="gbk")
    big5 = rss([{**ITEM, "title": "繁體中文標題", "link": "https://e.org/big5"}], encoding="big5")
    gb18030 = rss(
        [{**ITEM, "title": "𠮷字与€", "link": "https://e.org/gb18030"}], encoding="gb18030"
    )
    results, _, titles = run(
        tmp_path,
        server,
        {"/gbk": Reply(body=gbk), "/big5": Reply(body=big5), "/gb18030": Reply(body=gb18030)},
    )
    assert all(r.status == "ok" for r in results.values())
    assert sorted(titles) == sorted(["简体中文标题", "繁體中文標題", "𠮷字与€"])


def test_charset_from_http_header(tmp_path, server):
    body = rss([{**ITEM, "title": "頭條新聞"}], encoding="big5").replace(b' encoding="big5"', b"")
    _, _, titles = run(
        tmp_path,
        server,
        {"/hdr": Reply(body=body, headers={"Content-Type": "application/xml; charset=big5"})},
    )
    assert titles == ["頭條新聞"]


def test_gzip_response(tmp_path, server):
    body = gzip.compress(rss([ITEM]))
    results, _, titles = run(
        tmp_path, server, {"/gz": Reply(body=body, headers={"Content-Encoding": "gzip"})}
    )
    assert results["gz"].status == "ok" and titles == ["标题一"]


def test_connection_refused(tmp_path):
    config = make_config(tmp_path, [("dead", ["http://127.0.0.1:9/feed"])], extra="retries = 0\n")
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
    assert summary.sources[0].status == "failed"
    assert "connection failed" in summary.sources[0].errors[0]


# --- Promises of the README that tests check: limits, deadline, caps, retries ----------------


def fetch_one(url, **settings):
    """Fetch ``url`` with a real Fetcher; return (result, seconds taken)."""
    values = {"connect_timeout": 1, "read_timeout": 1, "retries": 0, "backoff": 0.05, **settings}

    async def go():
        async with Fetcher(FetchSettings(**values)) as fetcher:
            return await fetcher.fetch(url)

    started = time.monotonic()
    result = asyncio.run(go())
    return result, time.monotonic() - started


def test_never_more_than_per_host_requests_at_once_to_one_host(tmp_path, server):
    lock = threading.Lock()
    active, peak = [0], [0]

    def counted(handler):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.15)
        with lock:
            active[0] -= 1
        return Reply(body=rss([{**ITEM, "link": f"https://e.org{handler.path}"}]))

    for i in range(6):
        server.route(f"/f{i}", counted)
    config = make_config(
        tmp_path,
        [("host", [f"{server.url}/f{i}" for i in range(6)])],
        extra="retries = 0\nper_host = 2\nconcurrency = 8\n",
    )
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
    assert summary.sources[0].ok == 6
    assert peak[0] == 2  # the limit, and no less: requests to one host do overlap


def test_slow_host_does_not_hold_up_another_host(tmp_path, server):
    other = FeedServer()
    try:
        for i in range(10):
            server.route(
                f"/slow{i}", Reply(body=rss([{**ITEM, "link": f"https://e.org/{i}"}]), delay=0.1)
            )
        other.route("/fast", Reply(body=rss([{**ITEM, "link": "https://e.org/fast"}])))
        config = make_config(
            tmp_path,
            [("A", [f"{server.url}/slow{i}" for i in range(10)]), ("B", [other.url + "/fast"])],
            extra="retries = 0\nper_host = 1\nconcurrency = 2\n",
        )
        done: list[str] = []
        with Archive.open(config.archive) as archive:
            update(
                config, archive, progress=lambda outcome, _url, _status: done.append(outcome.name)
            )
    finally:
        other.close()
    assert done.count("A") == 10
    assert done.index("B") <= 1  # before the second of A's ten slow feeds, not after them


def test_overall_deadline_stops_a_server_that_trickles(server):
    def trickle():
        yield b"<rss>"
        for _ in range(50):  # a byte every 0.2 s: each read is in time, the whole is not
            time.sleep(0.2)
            yield b" "

    server.route("/trickle", Reply(stream=trickle))
    result, took = fetch_one(server.url + "/trickle", connect_timeout=0.2, read_timeout=0.5)
    assert (result.status, result.error) == ("failed", "timed out after 1 s in total")
    assert 1.1 <= took < 2.5  # connect + 2 x read = 1.2 s


def test_cap_applies_to_the_decompressed_body(server):
    small = gzip.compress(b"<rss>" + b" " * 3_000_000 + b"</rss>")
    assert len(small) < 10_000
    server.route("/gz", Reply(body=small, headers={"Content-Encoding": "gzip"}))
    result, _ = fetch_one(server.url + "/gz", max_bytes=1_000_000)
    assert result.status == "failed" and result.error.endswith("exceeds the cap of 1000000 bytes")
    result, _ = fetch_one(server.url + "/gz", max_bytes=3_000_011)
    assert result.status == "ok" and len(result.body) == 3_000_011


def test_retry_after_as_an_http_date(server):
    calls = []

    def limited(_handler):
        calls.append(time.monotonic())
        if len(calls) == 1:
            when = email.utils.formatdate(math.ceil(time.time()) + 1, usegmt=True)
            return Reply(503, b"busy", headers={"Retry-After": when})
        return Reply(body=rss([ITEM]))

    server.route("/busy", limited)
    result, _ = fetch_one(server.url + "/busy", retries=1)
    assert result.status == "ok" and result.attempts == 2
    assert calls[1] - calls[0] >= 0.9  # the date, not the 0.05 s backoff


def test_retry_after_is_capped(server, monkeypatch):
    monkeypatch.setattr(fetch_module, "MAX_RETRY_AFTER", 0.3)
    calls = []

    def limited(_handler):
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Reply(429, b"later", headers={"Retry-After": "3600"})
        return Reply(body=rss([ITEM]))

    server.route("/later", limited)
    result, took = fetch_one(server.url + "/later", retries=1)
    assert result.status == "ok" and result.attempts == 2
    assert 0.25 <= calls[1] - calls[0] < 2 and took < 3


def test_retry_after_values():
    now = 1_700_000_000.0
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds("86400") == MAX_RETRY_AFTER
    later = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_seconds(later, now=now) == 30
    far = email.utils.formatdate(now + 86400, usegmt=True)
    assert retry_after_seconds(far, now=now) == MAX_RETRY_AFTER
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert retry_after_seconds(past, now=now) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds("") is None


def test_timeout_is_retried(server):
    calls = []

    def slow_once(_handler):
        calls.append(1)
        return Reply(body=rss([ITEM]), delay=0 if len(calls) == 2 else 1.0)

    server.route("/once", slow_once)
    result, _ = fetch_one(server.url + "/once", read_timeout=0.3, retries=1)
    assert result.status == "ok" and result.attempts == 2 and len(calls) == 2
    result, _ = fetch_one(server.url + "/once", read_timeout=0.3)
    assert (result.status, result.error) == ("failed", "timed out (ReadTimeout)")


def test_fetch_never_raises_for_a_bad_url():
    for url in ("http://127.0.0.1:99999/", "http://[::1/", "http://a b/", "ftp://e.org/"):
        result, _ = fetch_one(url)
        assert result.status == "failed" and result.error.startswith("invalid URL"), url
        assert (result.url, result.attempts) == (url, 1)


def test_feeds_read_by_the_fallback_parser_are_counted(tmp_path, server):
    # Its encoding is named only by the HTTP header: fastfeedparser leaves it to feedparser.
    big5 = rss([{**ITEM, "title": "頭條", "link": "https://e.org/big5"}], encoding="big5")
    header_only = Reply(
        body=big5.replace(b' encoding="big5"', b""),
        headers={"Content-Type": "application/xml; charset=big5"},
    )
    server.route("/fine", Reply(body=rss([ITEM])))
    server.route("/big5", header_only)
    config = make_config(tmp_path, [("x", [server.url + "/fine", server.url + "/big5"])])
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        assert summary.sources[0].new == 2 and summary.fallbacks == 1
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsmirror",
            "-c",
            config.path,
            "--archive",
            tmp_path / "second.sqlite",
            "fetch",
            "-v",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "1 feed read by feedparser" in out.stdout
    assert "\n1 source: 1 ok" in out.stdout


def test_a_deflate_body_in_many_pieces_is_decoded_whole(server):
    """Only the first piece is probed for the zlib wrapper; later pieces are data."""
    body = random.Random(7).randbytes(300_000)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    for name, data in (
        ("/zlib", zlib.compress(body)),
        ("/raw", raw.compress(body) + raw.flush()),
    ):
        server.route(name, Reply(body=data, headers={"Content-Encoding": "deflate"}))
        result, _ = fetch_one(server.url + name)
        assert (result.status, result.error, result.body == body) == ("ok", "", True), name


def test_a_compression_bomb_is_decoded_a_piece_at_a_time(server):
    """32 MB of zeros in 32 KB: the fetch stops at the cap without ever holding 32 MB."""
    packer = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    bomb = b"".join(packer.compress(bytes(1 << 20)) for _ in range(32)) + packer.flush()
    server.route("/bomb", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        result, _ = fetch_one(server.url + "/bomb", max_bytes=1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.error == "response exceeds the cap of 1000000 bytes"
    assert peak < 8_000_000


def test_backoff_doubles_with_up_to_ten_percent_jitter():
    for attempt in range(5):
        delays = [fetch_module.backoff_delay(attempt, 0.5) for _ in range(300)]
        low = 0.5 * 2**attempt
        assert all(low <= d <= low * 1.1 for d in delays), attempt
        assert max(delays) - min(delays) > low * 0.05  # jitter spreads the retries


def test_a_header_that_is_not_ascii_fails_that_fetch_only(server):
    """A Referer naming an IRI (media sends the article's URL) cannot go on the wire."""
    server.route("/img", Reply(body=b"x"))

    async def go():
        async with Fetcher(FetchSettings(retries=0)) as fetcher:
            return await fetcher.fetch(server.url + "/img", headers={"Referer": "http://例子/"})

    result = asyncio.run(go())
    assert (result.url, result.status, result.attempts, result.error) == (
        server.url + "/img",
        "failed",
        1,
        "invalid URL or request: UnicodeEncodeError: 'ascii' codec can't encode characters"
        " in position 7-8: ordinal not in range(128)",
    )
    assert server.requests == []


# --- Each field of a FetchResult, as the callers (and so the user) see it --------------------


def fetch_with(url, state=None, headers=None, max_bytes=None, **settings):
    """Like fetch_one, with the per-call arguments of Fetcher.fetch; returns the result."""
    values = {"connect_timeout": 1, "read_timeout": 1, "retries": 0, "backoff": 0.01, **settings}

    async def go():
        async with Fetcher(FetchSettings(**values)) as fetcher:
            return await fetcher.fetch(url, state, headers=headers, max_bytes=max_bytes)

    return asyncio.run(go())


def busy_first(reply):
    """A route answering 503 once, then ``reply``: what the second attempt sees."""
    calls = []

    def route(_handler):
        calls.append(1)
        return Reply(503, b"busy") if len(calls) == 1 else reply

    return route


def test_304_carries_the_new_validators_and_where_it_ended(server):
    server.route("/old", Reply(301, b"", headers={"Location": "/feed"}))
    server.route(
        "/feed",
        busy_first(Reply(304, b"", headers={"ETag": '"v2"', "Last-Modified": "Tue, 02 Jan 2024"})),
    )
    url = server.url + "/old"
    state = FeedState(etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    result = fetch_with(url, state, headers={"X-Extra": "yes"}, retries=1)
    assert result == FetchResult(
        url,
        "not_modified",
        http_status=304,
        etag='"v2"',
        last_modified="Tue, 02 Jan 2024",
        final_url=server.url + "/feed",
        attempts=2,
    )
    sent = server.requests[-1][1]
    assert (sent["If-None-Match"], sent["If-Modified-Since"], sent["X-Extra"]) == (
        '"v1"',
        "Mon, 01 Jan 2024 00:00:00 GMT",
        "yes",
    )


def test_ok_carries_body_type_validators_and_final_url(server):
    server.route("/old", Reply(302, b"", headers={"Location": "/feed"}))
    server.route(
        "/feed",
        Reply(
            body=b"<rss/>",
            headers={"Content-Type": "application/rss+xml", "ETag": '"e"', "Last-Modified": "LM"},
        ),
    )
    server.route("/bare", Reply(body=b"0123456789"))
    result = fetch_with(server.url + "/old")
    assert result == FetchResult(
        server.url + "/old",
        "ok",
        http_status=200,
        body=b"<rss/>",
        content_type="application/rss+xml",
        etag='"e"',
        last_modified="LM",
        final_url=server.url + "/feed",
    )
    # No Content-Type, no validators; a body of exactly the cap (per call) is accepted.
    assert fetch_with(server.url + "/bare", max_bytes=10) == FetchResult(
        server.url + "/bare",
        "ok",
        http_status=200,
        body=b"0123456789",
        final_url=server.url + "/bare",
    )
    sent = next(headers for path, headers in server.requests if path == "/old")
    assert "If-None-Match" not in sent and "If-Modified-Since" not in sent


def test_4xx_fails_at_once_with_status_reason_and_final_url(server):
    server.route("/old", Reply(301, b"", headers={"Location": "/bad"}))
    server.route("/bad", Reply(400, b"no"))
    result = fetch_with(server.url + "/old", retries=2)
    assert result == FetchResult(
        server.url + "/old",
        "failed",
        http_status=400,
        error="HTTP 400 Bad Request",
        final_url=server.url + "/bad",
    )
    assert len(server.requests) == 2  # one redirect, one request: a 4xx is not retried


def test_5xx_and_429_retried_then_reported_with_their_status(server):
    server.route("/busy", Reply(503, b"busy"))
    server.route("/limited", Reply(429, b"later", headers={"Retry-After": "0"}))
    assert fetch_with(server.url + "/busy", retries=1) == FetchResult(
        server.url + "/busy",
        "failed",
        http_status=503,
        error="HTTP 503 Service Unavailable",
        attempts=2,
    )
    assert fetch_with(server.url + "/limited", retries=2) == FetchResult(
        server.url + "/limited",
        "failed",
        http_status=429,
        error="HTTP 429 Too Many Requests",
        attempts=3,
    )
    assert len(server.requests) == 5


def test_failures_on_a_later_attempt_count_every_attempt(server):
    server.route("/loop", busy_first(Reply(302, b"", headers={"Location": "/loop"})))
    server.route("/long", busy_first(Reply(body=b"x" * 11)))
    server.route("/ok", busy_first(Reply(body=b"fine")))
    assert fetch_with(server.url + "/loop", retries=1, max_redirects=2) == FetchResult(
        server.url + "/loop", "failed", error="more than 2 redirects", attempts=2
    )
    assert fetch_with(server.url + "/long", retries=1, max_bytes=10) == FetchResult(
        server.url + "/long",
        "failed",
        error="response of 11 bytes exceeds the cap of 10",
        attempts=2,
    )
    result = fetch_with(server.url + "/ok", retries=1)
    assert (result.status, result.body, result.attempts) == ("ok", b"fine", 2)


def test_a_url_httpx_refuses_is_reported_as_invalid(server):
    url = server.url + "/a\x01b"
    assert fetch_with(url, retries=1) == FetchResult(
        url,
        "failed",
        error="invalid URL: Invalid non-printable ASCII character in URL, '\\x01' at position 24.",
    )
    assert server.requests == []


def test_stacked_or_unasked_content_encodings_are_refused(server):
    once = gzip.compress(b"<rss/>")
    for coding in ("gzip, gzip", "gzip,deflate", "deflate, x-gzip", "br"):
        server.route("/enc", Reply(body=gzip.compress(once), headers={"Content-Encoding": coding}))
        result = fetch_with(server.url + "/enc")
        assert (result.status, result.error) == (
            "failed",
            f"unsupported Content-Encoding {coding!r}",
        ), coding
    server.route("/odd", Reply(body=b"plain", headers={"Content-Encoding": "identity, aes128gcm"}))
    assert fetch_with(server.url + "/odd").body == b"plain"  # unknown tokens: as browsers do


def test_a_deflate_body_broken_after_its_zlib_header_is_reported(server):
    # 78 9c is a zlib header; 06 starts a block of the invalid type 3.
    server.route("/bad", Reply(body=b"\x78\x9c\x06junk", headers={"Content-Encoding": "deflate"}))
    result = fetch_with(server.url + "/bad")
    assert (result.status, result.error) == (
        "failed",
        "body is not valid deflate (Error -3 while decompressing data: invalid block type)",
    )


def test_a_connection_reset_names_its_error(raw_server):
    raw_server.route("/reset", reset)
    result = fetch_with(raw_server.url + "/reset")
    assert (result.status, result.error) == (
        "failed",
        "connection failed: Connection reset by peer",
    )


def test_backoff_starts_at_the_configured_base(server):
    calls = []

    def busy(_handler):
        calls.append(time.monotonic())
        return Reply(503, b"busy")

    server.route("/busy", busy)
    result = fetch_with(server.url + "/busy", retries=1, backoff=0.2)
    assert result.attempts == 2
    assert 0.19 <= calls[1] - calls[0] < 0.4  # 0.2 s and its jitter, not 0.1 or 0.8
