"""newsmirror's HTTP transport (h11 on asyncio) as a fetch sees it: connections kept and
reused only when that is safe, and the proxies the environment names still used."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from newsmirror import httptransport
from newsmirror.config import FetchSettings
from newsmirror.errors import ConfigError
from newsmirror.fetch import Fetcher, FetchResult
from newsmirror.httptransport import Transport

Answer = Callable[[socket.socket, bytes], bool]  # (connection, request head) -> keep it open


class KeepAliveServer:
    """A server on 127.0.0.1 that answers several requests per connection, counting the
    connections it accepted and the requests each carried."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections: list[int] = []  # requests served on each connection
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(0)
            number = len(self.connections) - 1
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        with conn:
            conn.settimeout(5)
            buffer = b""
            try:
                while True:
                    while b"\r\n\r\n" not in buffer:
                        data = conn.recv(4096)
                        if not data:
                            return
                        buffer += data
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    self.connections[number] += 1
                    if not self.answer(conn, head):
                        return
            except OSError:
                return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@contextlib.contextmanager
def keep_alive(answer: Answer) -> Iterator[KeepAliveServer]:
    server = KeepAliveServer(answer)
    try:
        yield server
    finally:
        server.close()


def fetch_all(
    urls: list[str], pause: float = 0.0, block: float = 0.0, **settings: float
) -> list[FetchResult]:
    """Fetch ``urls`` one after the other with one Fetcher: ``pause`` seconds between with
    the event loop free, then ``block`` seconds with it busy."""
    values = {"connect_timeout": 2, "read_timeout": 2, "retries": 0, **settings}

    async def go() -> list[FetchResult]:
        results = []
        async with Fetcher(FetchSettings(**values)) as fetcher:  # type: ignore[arg-type]
            for url in urls:
                results.append(await fetcher.fetch(url))
                await asyncio.sleep(pause)
                time.sleep(block)
        return results

    return asyncio.run(go())


def ok(body: bytes) -> Answer:
    def answer(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        return True

    return answer


def test_one_connection_carries_the_requests_to_one_host():
    with keep_alive(ok(b"<rss/>")) as server:
        results = fetch_all([f"{server.url}/a", f"{server.url}/b", f"{server.url}/c"])
    assert [(r.status, r.body) for r in results] == [("ok", b"<rss/>")] * 3
    assert server.connections == [3]


def test_a_chunked_body_is_read_whole_and_its_connection_reused():
    def chunked(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\n<rss>\r\n6\r\n</rss>\r\n0\r\n\r\n"
        )
        return True

    with keep_alive(chunked) as server:
        results = fetch_all([f"{server.url}/a", f"{server.url}/b"])
    assert [r.body for r in results] == [b"<rss></rss>"] * 2
    assert server.connections == [2]


def test_a_body_cut_at_the_cap_closes_its_connection():
    """The rest of a refused body is never read as the next response."""
    big = b"x" * 5000

    with keep_alive(ok(big)) as server:
        results = fetch_all([f"{server.url}/a", f"{server.url}/b"], max_bytes=1000)
    assert [r.error for r in results] == ["response of 5000 bytes exceeds the cap of 1000"] * 2
    assert server.connections == [1, 1]


def test_a_connection_the_server_closed_while_idle_is_not_used_again():
    def once(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        return False  # and close: a keep-alive timeout on the server's side

    with keep_alive(once) as server:
        results = fetch_all([f"{server.url}/a", f"{server.url}/b"], pause=0.2)
    assert [(r.status, r.attempts) for r in results] == [("ok", 1), ("ok", 1)]
    assert server.connections == [1, 1]


def test_bytes_after_a_response_close_its_connection():
    """They would read as the next response: the connection is not used again."""

    def extra(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
        return True

    with keep_alive(extra) as server:
        first, second = fetch_all([f"{server.url}/a", f"{server.url}/b"])
    assert [(r.status, r.body) for r in (first, second)] == [("ok", b"ok")] * 2
    assert server.connections == [1, 1]


def test_a_response_nobody_asked_for_is_never_the_next_answer():
    """A server may answer 408 on an idle kept-alive connection before it closes it, or
    send anything: that connection is not used again, whether the loop read it or not."""

    def unasked(conn: socket.socket, head: bytes) -> bool:
        if head.startswith(b"GET /first"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            time.sleep(0.05)
            conn.sendall(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 5\r\n\r\nSTALE")
            return True
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
        return True

    for block in (0.0, 0.3):  # the loop free to read the bytes, or busy meanwhile
        with keep_alive(unasked) as server:
            first, second = fetch_all(
                [f"{server.url}/first", f"{server.url}/second"], pause=0.2 - block, block=block
            )
        assert [(r.status, r.body) for r in (first, second)] == [("ok", b"ok"), ("ok", b"fresh")]
        assert server.connections == [1, 1]


def test_a_close_the_loop_has_not_read_yet_is_seen_before_reuse():
    """The server's keep-alive timeout while the loop was busy (a parse, an archive
    write): the next fetch takes a new connection at once, not after a failure."""

    def close_soon(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        time.sleep(0.05)
        return False

    with keep_alive(close_soon) as server:
        results = fetch_all([f"{server.url}/a", f"{server.url}/b"], block=0.3)
    assert [(r.status, r.attempts) for r in results] == [("ok", 1), ("ok", 1)]


def test_idle_connections_are_kept_up_to_the_concurrency_over_all_hosts():
    servers = [KeepAliveServer(ok(b"x")) for _ in range(6)]

    async def go() -> list[int]:
        sizes = []
        async with Fetcher(FetchSettings(retries=0, concurrency=3)) as fetcher:
            transport = fetcher.client._transport
            for server in servers:
                await fetcher.fetch(f"{server.url}/a")
                sizes.append(sum(map(len, transport._idle.values())))
        return sizes

    try:
        assert asyncio.run(go()) == [1, 2, 3, 3, 3, 3]
    finally:
        for server in servers:
            server.close()
    assert [s.connections for s in servers] == [[1]] * 6


def test_a_redirect_to_a_port_out_of_range_is_an_invalid_url():
    def away(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:65536/\r\n\r\n")
        return False

    with keep_alive(away) as server:
        (result,) = fetch_all([f"{server.url}/a"], retries=2)
    assert (result.error, result.attempts) == ("invalid URL: port 65536 is out of range", 1)


def test_interim_responses_are_skipped():
    def interim(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes"
        )
        return True

    with keep_alive(interim) as server:
        (result,) = fetch_all([f"{server.url}/a"])
    assert (result.status, result.http_status, result.body) == ("ok", 200, b"yes")


def test_a_response_head_over_100_kb_is_refused():
    def huge(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Junk: " + b"a" * 300_000 + b"\r\n\r\n")
        return False

    with keep_alive(huge) as server:
        (result,) = fetch_all([f"{server.url}/a"])
    assert result.status == "failed" and result.error.startswith("connection failed:")


def test_a_silent_server_times_out_as_a_read_timeout():
    def silent(conn: socket.socket, head: bytes) -> bool:
        conn.recv(1)  # waits for the client to give up
        return False

    with keep_alive(silent) as server:
        (result,) = fetch_all([f"{server.url}/a"], read_timeout=0.3)
    assert result.error == "timed out (ReadTimeout)"


def test_nothing_listening_is_a_connection_failure():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    (result,) = fetch_all([f"http://127.0.0.1:{port}/feed"])
    assert result.error == "connection failed: Connection refused"


def test_closing_the_transport_closes_its_idle_connections():
    async def go() -> bool:
        transport = Transport()
        async with Fetcher(FetchSettings(retries=0), transport=transport) as fetcher:
            await fetcher.fetch(f"{server.url}/a")
            (conn,) = [c for conns in transport._idle.values() for c in conns]
        return conn.writer.transport.is_closing()

    with keep_alive(ok(b"x")) as server:
        assert asyncio.run(go())


# -- proxies named by the environment ------------------------------------------------


class Proxy:
    """A forward proxy on 127.0.0.1 that answers every request itself, noting its target."""

    def __init__(self) -> None:
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                body = b"via the proxy"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    server = Proxy()
    yield server
    server.close()


def test_http_proxy_from_the_environment_carries_the_fetches(proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    (result,) = fetch_all(["http://news.test/feed.xml"])
    assert (result.status, result.body) == ("ok", b"via the proxy")
    assert proxy.seen == ["http://news.test/feed.xml"]


def test_no_proxy_hosts_are_fetched_directly(proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with keep_alive(ok(b"direct")) as server:
        (result,) = fetch_all([f"{server.url}/feed.xml"])
    assert (result.body, proxy.seen) == (b"direct", [])


def test_a_fetcher_given_its_own_transport_uses_no_proxy(proxy, monkeypatch):
    """The network guard's transport must see every host itself."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)

    async def go() -> FetchResult:
        settings = FetchSettings(retries=0, connect_timeout=1)
        async with Fetcher(settings, transport=Transport()) as fetcher:
            return await fetcher.fetch("http://news.test/feed.xml")

    result = asyncio.run(go())
    assert result.status == "failed" and proxy.seen == []


def test_a_proxy_that_cannot_be_used_is_a_config_error(proxy, monkeypatch):
    monkeypatch.setenv("ALL_PROXY", "ftp://proxy.test:21")

    async def go() -> None:
        async with Fetcher(FetchSettings()):
            pass

    with pytest.raises(ConfigError) as info:
        asyncio.run(go())
    assert info.value.message.startswith("cannot use the proxy ftp://proxy.test:21 that")
    assert "ALL_PROXY" in info.value.hint


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_no_connection_outlives_its_use(monkeypatch):
    """Every connection the transport drops (beyond the idle limit, expired, its body cut
    at the cap, bytes after its response) is closed: a Fetcher that lives long (a queue
    worker) meets thousands of hosts. The servers here close their side once the client
    has, so the process gets back every descriptor when none was leaked."""
    monkeypatch.setattr(httptransport, "KEEPALIVE", 0.2)

    def answer(conn: socket.socket, head: bytes) -> bool:
        body = b"x" * 5000 if b" /big " in head else b"ok"
        extra = b"HTTP/1.1 200 OK\r\n" if b" /extra " in head else b""
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s%s" % (len(body), body, extra)
        )
        return True

    servers = [KeepAliveServer(answer) for _ in range(4)]

    async def settled(before: int, live: int) -> int:
        """The descriptors open once the servers have closed what the client closed."""
        deadline = time.monotonic() + 3
        while _open_descriptors() > before + live and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return _open_descriptors() - before

    async def go() -> tuple[list[str], list[tuple[int, int]]]:
        settings = FetchSettings(retries=0, concurrency=2, max_bytes=1000)
        before = _open_descriptors()  # (the event loop's own are open by now)
        seen = []  # (connections kept idle, descriptors open beyond before)

        async def look() -> None:
            kept = sum(map(len, transport._idle.values()))
            # each live connection: the client's socket and the server's
            seen.append((kept, await settled(before, 2 * kept)))

        async with Fetcher(settings) as fetcher:
            transport = fetcher.client._transport
            results = [await fetcher.fetch(f"{s.url}/ok") for s in servers]
            await look()  # four hosts, two kept idle
            for path in ("/big", "/extra"):
                results.append(await fetcher.fetch(f"{servers[3].url}{path}"))
            await look()  # neither of those two kept
            await asyncio.sleep(0.3)  # every idle connection expires
            results += [await fetcher.fetch(f"{s.url}/ok") for s in servers[:2]]
            await look()
        return [r.status for r in results], seen

    try:
        statuses, seen = asyncio.run(go())
        expected = ["ok"] * 4 + ["failed", "ok"] + ["ok"] * 2
        assert (statuses, seen) == (expected, [(2, 4), (1, 2), (2, 4)])
    finally:
        for server in servers:
            server.close()
