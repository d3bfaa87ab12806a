"""HTTP/1.1 for httpx on asyncio's streams and h11: the transport of every fetch.

httpx's own transport runs on httpcore and anyio, written for any event loop: in each run
about 60 ms of imports and set-up (httpcore, anyio, and anyio's asyncio backend, which
httpcore loads at the first request), and per request the locks, events and cancel scopes
of a pool shared across tasks; half the time of a run that finds nothing new. newsmirror
only ever sends GETs from one asyncio loop, and its :class:`~newsmirror.fetch.Fetcher`
already limits connections per host and overall. :class:`Transport` speaks HTTP/1.1 with
the parser httpcore uses (h11, with httpcore's limits: a response head of at most 100 kB,
reads of 64 kB) on ``asyncio.open_connection`` (TCP_NODELAY, happy eyeballs, TLS with the
host checked and sent by SNI), and keeps an idle connection for reuse for 5 s (httpx's
default), at most ``max_idle`` of them over all hosts, unless anything came on it since
its response (the server's close, or bytes nobody asked for).

Each error is raised as httpx's own (ConnectError, ReadTimeout, RemoteProtocolError ...),
so httpx's client (redirects, cookies, event hooks) and the Fetcher's handling see what
they saw before. A connection whose response was not read to its end, or that failed, is
closed, never reused. httpx reads no proxy from the environment once it is given a
transport: the Fetcher mounts httpx's proxy transports itself
(:func:`newsmirror.fetch.environment_proxies`).
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import h11

from newsmirror.httpclient import httpx

READ_SIZE = 64 * 1024  # bytes read from the socket at a time (as httpcore)
MAX_HEAD = 100 * 1024  # the largest response head taken (as httpcore)
KEEPALIVE = 5.0  # seconds an idle connection is kept for the next request (as httpx)
MAX_IDLE = 8  # idle connections kept at most, over all hosts, unless told (as httpx)
HAPPY_EYEBALLS = 0.25  # seconds before the next address is tried alongside (as anyio)

T = TypeVar("T")
Origin = tuple[bytes, bytes, int]  # scheme, host, port


class _Connection:
    """One TCP (or TLS) connection and its HTTP/1.1 state."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.idle_until = 0.0

    def reusable(self, now: float) -> bool:
        """Idle, not expired, and nothing came from the server meanwhile: neither its
        close nor bytes (an unasked response, such as a 408 before a keep-alive timeout),
        whether the event loop has taken them from the socket yet or not."""
        if now >= self.idle_until or self.writer.transport.is_closing():
            return False
        # (StreamReader has no public look at what it holds unread)
        if self.reader.at_eof() or getattr(self.reader, "_buffer", None):
            return False
        sock = self.writer.get_extra_info("socket")
        if sock is None or not hasattr(select, "poll"):
            return False
        poller = select.poll()  # (not select.select: descriptors over 1023)
        poller.register(sock.fileno(), select.POLLIN)
        return not poller.poll(0)  # a close or bytes the loop has not read yet

    def close(self) -> None:
        self.writer.transport.abort()  # at once: no TLS goodbye to wait for


def _why(exc: BaseException) -> str:
    """An error in words: "Connection refused", not "[Errno 111] Connect call failed
    ('127.0.0.1', 80)"; TLS's own message as it is."""
    if isinstance(exc, ssl.SSLError) or not isinstance(exc, OSError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, socket.gaierror):  # (its numbers are not errno's)
        return str(exc.strerror or exc)
    return os.strerror(exc.errno) if exc.errno and exc.errno > 0 else str(exc)


async def _within(step: Awaitable[T], seconds: float | None) -> T:
    """``await step``, TimeoutError after ``seconds`` (None: no limit)."""
    async with asyncio.timeout(seconds):
        return await step


class _Body(httpx.AsyncByteStream):
    """A response's body as it arrives; its connection goes back to the pool once the body
    was read to its end, else it is closed."""

    def __init__(
        self, pool: Transport, origin: Origin, conn: _Connection, timeout: float | None
    ) -> None:
        self._pool = pool
        self._origin = origin
        self._conn: _Connection | None = conn
        self._timeout = timeout
        self._ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        while True:
            event = await _next_event(conn, self._timeout)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._ended = True
                return
            else:  # pragma: no cover - h11 gives only these after a response head
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__}")

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        done = conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE
        if self._ended and done:
            conn.h11.start_next_cycle()
            self._pool.put_back(self._origin, conn)
        else:
            conn.close()


async def _next_event(conn: _Connection, timeout: float | None) -> object:
    """h11's next event, reading from the socket as it needs."""
    while True:
        try:
            event = conn.h11.next_event()
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc) or "malformed response") from exc
        if event is not h11.NEED_DATA:
            return event
        try:
            data = await _within(conn.reader.read(READ_SIZE), timeout)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("timed out reading the response") from exc
        except OSError as exc:
            raise httpx.ReadError(_why(exc)) from exc
        if not data and conn.h11.their_state is h11.SEND_RESPONSE:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        try:
            conn.h11.receive_data(data)  # b"": the end of the stream
        except h11.RemoteProtocolError as exc:
            raise httpx.RemoteProtocolError(str(exc) or "malformed response") from exc


class Transport(httpx.AsyncBaseTransport):
    """httpx's transport for newsmirror's fetches: see the module. ``ssl_context`` verifies
    https (:func:`newsmirror.httpclient.tls_context`, else Python's default)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, max_idle: int = MAX_IDLE) -> None:
        self._ssl = ssl_context
        self._max_idle = max_idle
        self._idle: dict[Origin, list[_Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        if url.scheme not in ("http", "https"):  # a redirect to file:, ftp: ... (as httpcore)
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{url.scheme}://'."
            )
        if not url.raw_host:
            raise httpx.UnsupportedProtocol("Request URL has no host.")
        origin = (url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        if not 0 < origin[2] < 65536:  # (asyncio would say "IndexError: list index out of range")
            raise httpx.InvalidURL(f"port {origin[2]} is out of range")
        conn = self._take(origin) or await self._connect(origin, timeouts.get("connect"))
        try:
            await self._send(conn, request, timeouts.get("write"))
            event = await _next_event(conn, timeouts.get("read"))
            while isinstance(event, h11.InformationalResponse):  # 100 Continue and the like
                event = await _next_event(conn, timeouts.get("read"))
            if not isinstance(event, h11.Response):  # pragma: no cover - h11 gives one
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__}")
        except BaseException:
            conn.close()
            raise
        return httpx.Response(
            event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self, origin, conn, timeouts.get("read")),
            extensions={
                "http_version": b"HTTP/" + event.http_version,
                "reason_phrase": event.reason,
            },
        )

    def _take(self, origin: Origin) -> _Connection | None:
        """An idle connection to ``origin`` that can be used again, if any."""
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.reusable(now):
                return conn
            conn.close()
        return None

    def put_back(self, origin: Origin, conn: _Connection) -> None:
        """Keep ``conn`` for the next request to ``origin``, unless the client is closed or
        bytes nobody asked for came after the response (they would read as the next one).
        """
        now = time.monotonic()
        if self._closed or conn.h11.trailing_data[0]:
            conn.close()
            return
        conn.idle_until = now + KEEPALIVE
        self._idle.setdefault(origin, []).append(conn)
        self._prune(now)

    def _prune(self, now: float) -> None:
        """Close the idle connections of every host that cannot be used again, then the
        oldest beyond ``max_idle`` (a long-lived Fetcher meets thousands of hosts)."""
        kept: list[tuple[float, Origin, _Connection]] = []
        for origin, conns in self._idle.items():
            for conn in conns:
                if conn.reusable(now):
                    kept.append((conn.idle_until, origin, conn))
                else:
                    conn.close()
        kept.sort(key=lambda item: item[0])
        excess = max(0, len(kept) - self._max_idle)
        for _until, _origin, conn in kept[:excess]:
            conn.close()
        self._idle = {}
        for _until, origin, conn in kept[excess:]:
            self._idle.setdefault(origin, []).append(conn)

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        tls: ssl.SSLContext | None = None
        if scheme == b"https":
            tls = self._ssl or ssl.create_default_context()
            try:  # before connecting: a failure inside asyncio's TLS set-up would leave the
                # socket open and the connection waiting for its timeout
                getattr(tls, "load", lambda: None)()  # (tls_context reads its CAs when used)
            except OSError as exc:
                raise httpx.ConnectError(_why(exc)) from exc
        try:
            reader, writer = await _within(
                asyncio.open_connection(
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS,
                    limit=READ_SIZE,
                ),
                timeout,
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}") from exc
        except (OSError, ssl.SSLError, UnicodeError) as exc:
            raise httpx.ConnectError(_why(exc)) from exc
        return _Connection(reader, writer)

    async def _send(self, conn: _Connection, request: httpx.Request, timeout: float | None) -> None:
        try:
            data = conn.h11.send(
                h11.Request(
                    method=request.method, target=request.url.raw_path, headers=request.headers.raw
                )
            )
            assert isinstance(request.stream, httpx.AsyncByteStream)
            chunks = [data or b""]
            async for chunk in request.stream:
                chunks.append(conn.h11.send(h11.Data(data=chunk)) or b"")
            chunks.append(conn.h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        try:
            conn.writer.write(b"".join(chunks))
            await _within(conn.writer.drain(), timeout)
        except TimeoutError as exc:
            raise httpx.WriteTimeout("timed out sending the request") from exc
        except OSError as exc:
            raise httpx.WriteError(_why(exc)) from exc

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
