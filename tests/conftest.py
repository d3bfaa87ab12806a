"""Shared fixtures: real HTTP servers on 127.0.0.1, archives in temp folders."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import pgharness
from newsmirror.config import FetchSettings, Source, parse_config
from newsmirror.store import Archive

# Tests send SIGINT to the commands they start, as Ctrl-C does. A runner started in the
# background by a non-interactive shell (`cmd &`, nohup) ignores SIGINT, and a child
# inherits an ignored signal, so those commands would never see it: restore Python's
# handler here (a child then starts with the default disposition).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
JEKYLL = shutil.which("jekyll")
# Debian chromium as root, headless, with nothing that phones home (the machine has no internet).
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def jekyll_build(source: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    """Build ``source`` with Debian jekyll into ``dest``; the build must succeed."""
    assert JEKYLL is not None
    done = subprocess.run(
        [JEKYLL, "build", "-q", "-s", str(source), "-d", str(dest)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def local_only_context(browser: Any) -> tuple[Any, list[str]]:
    """A browser context that lets requests reach 127.0.0.1 only; the list collects the
    addresses it stopped."""
    context = browser.new_context()
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    return context, outside


_MARK_BY_FILE = {
    "test_browser.py": "browser",
    "test_xss.py": "browser",
    "test_jekyll_site.py": "jekyll",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser and Jekyll tests carry a marker: `pytest -m "not browser and not jekyll"`."""
    for item in items:
        mark = _MARK_BY_FILE.get(item.path.name)
        if mark:
            item.add_marker(mark)
        if "jekyll" in item.name and item.path.name == "test_xss.py":
            item.add_marker("jekyll")


@pytest.fixture(autouse=True)
def archive_backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The engine of the test's archives: SQLite, or PostgreSQL under
    NEWSMIRROR_TEST_BACKEND=postgresql (tests/pgharness.py). A test that needs a server
    (marked ``postgres``, or any test on PostgreSQL) skips when none answers, or fails
    under NEWSMIRROR_REQUIRE_PG=1."""
    on_postgres = pgharness.BACKEND == "postgresql"
    if on_postgres and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about the SQLite file itself")
    if on_postgres or request.node.get_closest_marker("postgres"):
        pgharness.require_server()
    if not on_postgres:
        yield "sqlite"
        return
    schemas = pgharness.Schemas()
    try:
        pgharness.use_postgres(monkeypatch, schemas)
        yield "postgresql"
    finally:
        monkeypatch.undo()
        schemas.close()


SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
DATA = Path(__file__).parent / "data"
SEED = DATA / "seed_post.md"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: int = 1
    send_length: bool = True
    stream: Callable[[], Iterable[bytes]] | None = None  # body made piece by piece, then close


Route = Callable[[BaseHTTPRequestHandler], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class FeedServer:
    """A real HTTP server whose routes the test sets; it records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path.split("?")[0])
                reply = route(self) if route else Reply(404, b"not found")
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    headers = dict(reply.headers)
                    if reply.stream is not None:
                        self._send_stream(headers, reply.stream)
                        return
                    if reply.send_length:
                        headers.setdefault("Content-Length", str(len(reply.body)))
                    else:
                        headers["Connection"] = "close"
                        self.close_connection = True
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    step = max(1, len(reply.body) // reply.chunks)
                    for i in range(0, len(reply.body), step):
                        self.wfile.write(reply.body[i : i + step])
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send_stream(
                self, headers: dict[str, str], stream: Callable[[], Iterable[bytes]]
            ) -> None:
                headers["Connection"] = "close"
                self.close_connection = True
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                for piece in stream():
                    self.wfile.write(piece)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def route(self, path: str, reply: Reply | Route) -> None:
        self.routes[path] = reply if callable(reply) else (lambda _h, r=reply: r)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    yield srv
    srv.close()


RawRoute = Callable[[socket.socket], None]


class RawServer:
    """A TCP server on 127.0.0.1 that answers each path with the raw bytes its route writes
    (for malformed HTTP: bad headers, bodies cut short, connections reset)."""

    def __init__(self) -> None:
        self.routes: dict[str, RawRoute] = {}
        self.requests: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def route(self, path: str, answer: RawRoute) -> None:
        self.routes[path] = answer

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    data = conn.recv(4096)
                    if not data:
                        return
                    head += data
                path = head.split(b" ", 2)[1].decode("latin-1")
                self.requests.append(path)
                answer = self.routes.get(path.split("?")[0])
                if answer is None:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                else:
                    answer(conn)
            except OSError:
                pass

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept() (close() alone does not, on
        # Linux): a thread left running keeps forked.side_by_side from forking later.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


def reset(conn: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0) instead of an orderly FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    srv = RawServer()
    yield srv
    srv.close()


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    arc = Archive.open(tmp_path / "archive.sqlite")
    yield arc
    arc.close()


FAST = FetchSettings(
    connect_timeout=2, read_timeout=1, retries=2, backoff=0.05, max_bytes=2_000_000
)


def make_config(
    tmp_path: Path,
    sources: list[tuple[str, list[str]]],
    extra: str = "retries = 1\nbackoff = 0.05\nread_timeout = 1\n",
    *,
    full_text: str = "feed",
    media: str = "hotlink",
    source_extra: str = "",
) -> Any:
    """A config for the test's local servers; by default no page or image is fetched
    (the items point at hosts that tests must never reach)."""
    lines = [
        "[archive]",
        'path = "archive.sqlite"',
        "[fetch]",
        extra,
        "[media]",
        f'mode = "{media}"',
    ]
    for name, feeds in sources:
        quoted = ", ".join(f'"{u}"' for u in feeds)
        lines += [
            "[[sources]]",
            f'name = "{name}"',
            f"feeds = [{quoted}]",
            f'full_text = "{full_text}"',
            source_extra,
        ]
    text = "\n".join(lines)
    path = tmp_path / "newsmirror.toml"
    path.write_text(text, encoding="utf-8")
    return parse_config(text, path)


def rss(items: list[dict[str, str]], encoding: str = "utf-8", title: str = "Test") -> bytes:
    """An RSS 2.0 feed; item keys: title, link, guid, pubDate, content, description, author."""
    parts = []
    for item in items:
        fields = []
        for key, tag in (
            ("title", "title"),
            ("link", "link"),
            ("guid", "guid"),
            ("pubDate", "pubDate"),
            ("author", "dc:creator"),
            ("description", "description"),
        ):
            if key in item:
                fields.append(f"<{tag}>{item[key]}</{tag}>")
        if "content" in item:
            fields.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        parts.append("<item>" + "".join(fields) + "</item>")
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{title}</title><link>https://example.org/</link>"
        + "".join(parts)
        + "</channel></rss>"
    )
    return text.encode(encoding)


def seed_item() -> dict[str, str]:
    text = SEED.read_text(encoding="utf-8")
    body = text.split("<div>\n", 1)[1].rsplit("\n</div>", 1)[0]
    return {
        "title": "分析：拜登习近平11月会谈的背后原因",
        "link": "https://www.epochtimes.com/gb/23/10/29/n14105166.htm",
        "guid": "https://www.epochtimes.com/gb/23/10/29/n14105166.htm",
        "pubDate": "Sun, 29 Oct 2023 11:36:11 +0800",
        "content": body,
    }


SOURCE = Source(name="Test", feeds=("http://127.0.0.1/",))


ARTICLE_TEXT = (
    "这是一篇完整的新闻报道，记者在现场采访了多位目击者，他们描述了事件的经过。"
    "当局随后发表声明，但拒绝回答记者的提问。"
) * 6


def article_page(
    title: str, body: str = ARTICLE_TEXT, img: str = "/img/a.png", charset: str = "utf-8"
) -> bytes:
    """An article page with the boilerplate real news sites wrap around the text."""
    nav = " ".join(f'<a href="/c{i}">栏目{i}</a>' for i in range(8))
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title>'
        f'<meta property="og:title" content="{title}"><meta name="author" content="记者乙">'
        '<meta property="article:published_time" content="2024-03-01T08:00:00+08:00">'
        f'<script>track()</script></head><body><div class="nav">{nav}</div>'
        '<div class="share">分享到：<a href="#w">微博</a> <a href="#x">微信</a></div>'
        f'<article><h1>{title}</h1><figure><img data-src="{img}" src="/blank.gif">'
        f"<figcaption>现场照片</figcaption></figure><p>{body}</p><p>{body}</p></article>"
        '<div class="footer">版权所有 | <a href="/about">关于我们</a> | '
        '<a href="/contact">联系我们</a></div></body></html>'
    ).encode(charset)
