"""HTTP fetching with httpx (on :mod:`newsmirror.httptransport`): bounded, polite and
conditional.

Every request has connect/read timeouts and an overall deadline, a cap on the
(decompressed) body size, a bounded number of redirects, and sends ETag /
Last-Modified from the previous fetch. Timeouts, connection errors, 5xx and 429
are retried with exponential backoff (429 and 503 honour Retry-After). Requests
are limited per host, then overall (a slow host never holds a global slot while it
waits for its own). Bodies are decompressed here, piece by piece, so a compression
bomb stops at the cap. A fetch never raises: whatever goes wrong (HTTP, sockets,
malformed URLs or bodies) becomes a :class:`FetchResult` saying what happened and why;
only a :class:`~newsmirror.errors.NewsmirrorError` passes through (a refusal by
``on_request`` or by the transport, as ``newsmirror add``'s network guard makes).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import random
import ssl
import time
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from newsmirror.config import FetchSettings, url_problem
from newsmirror.errors import ConfigError, NewsmirrorError
from newsmirror.httpclient import httpx, tls_context
from newsmirror.httptransport import Transport
from newsmirror.isolate import one_line
from newsmirror.models import FeedState

MAX_RETRY_AFTER = 60.0
PIECE = 64 * 1024  # decompressed bytes produced at a time (a bomb stops within one piece)
_ZLIB = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_UNSUPPORTED = {"br", "zstd", "compress", "x-compress"}


@dataclass(frozen=True)
class FetchResult:
    """The outcome of fetching one URL."""

    url: str
    status: str  # "ok", "not_modified" or "failed"
    http_status: int | None = None
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    final_url: str = ""
    error: str = ""
    attempts: int = 1


class _TooLarge(Exception):
    pass


class _BadBody(Exception):
    """The body cannot be decoded as its Content-Encoding says."""


class _Retryable(Exception):
    def __init__(self, message: str, status: int | None = None, wait: float | None = None):
        super().__init__(message)
        self.status = status
        self.wait = wait


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, min(when.timestamp() - now, MAX_RETRY_AFTER))


class _Inflater:
    """A Content-Encoding decoder that yields at most PIECE bytes at a time."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.started = False
        self.obj = zlib.decompressobj(_ZLIB[coding])

    @contextlib.contextmanager
    def _checked(self) -> Iterator[None]:
        try:
            yield
        except zlib.error as exc:
            raise _BadBody(f"body is not valid {self.coding} ({exc})") from exc

    def feed(self, data: bytes) -> Iterator[bytes]:
        with self._checked():
            yield from self._feed(data)

    def _feed(self, data: bytes) -> Iterator[bytes]:
        if not self.started and data and self.coding == "deflate":
            self.started = True
            try:  # zlib-wrapped, as the standard says; some servers send raw deflate
                zlib.decompressobj(zlib.MAX_WBITS).decompress(data[:2])
            except zlib.error:
                self.obj = zlib.decompressobj(-zlib.MAX_WBITS)
        while data and not self.obj.eof:
            piece = self.obj.decompress(data, PIECE)
            if piece:
                yield piece
            data = self.obj.unconsumed_tail

    def flush(self) -> bytes:
        """Output zlib still holds (after the end of the stream: nothing)."""
        with self._checked():
            return self.obj.flush()


def body_decoder(content_encoding: str) -> _Inflater | None:
    """The decoder for a Content-Encoding header; None for identity (or an unknown token,
    as browsers do); _BadBody for a compression this client never asked for."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    known = [c for c in codings if c in _ZLIB or c in _UNSUPPORTED]
    if not known:
        return None
    if len(known) > 1 or known[0] in _UNSUPPORTED:
        raise _BadBody(f"unsupported Content-Encoding {content_encoding.strip()!r}")
    return _Inflater(known[0])


async def read_capped(resp: httpx.Response, cap: int) -> bytes:
    """The decoded body of ``resp``; _TooLarge as soon as it passes ``cap`` bytes."""
    decoder = body_decoder(resp.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    async for piece in _decoded(resp.aiter_raw(), decoder):
        size += len(piece)
        if size > cap:
            raise _TooLarge(f"response exceeds the cap of {cap} bytes")
        chunks.append(piece)
    return b"".join(chunks)


async def _decoded(raw: AsyncIterator[bytes], decoder: _Inflater | None) -> AsyncIterator[bytes]:
    async for chunk in raw:
        if decoder is None:
            yield chunk
            continue
        for piece in decoder.feed(chunk):
            yield piece
    if decoder is not None:
        yield decoder.flush()


def backoff_delay(attempt: int, base: float) -> float:
    """Exponential backoff with a little jitter: base, 2*base, 4*base ..."""
    return float(base * (2**attempt) * (1 + random.random() * 0.1))


def environment_proxies(
    tls: ssl.SSLContext, limits: httpx.Limits
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The proxies that HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY name, mounted as
    httpx mounts them when it makes its own transport (it reads none once it is given
    one): httpx's transport through each proxy, None (no proxy) for each NO_PROXY host.
    ConfigError for a proxy that cannot be used (an unknown scheme, SOCKS without socksio).
    """
    from httpx._utils import get_environment_proxies  # the very map httpx makes

    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for pattern, url in get_environment_proxies().items():
        if url is None:
            mounts[pattern] = None
            continue
        try:
            mounts[pattern] = httpx.AsyncHTTPTransport(verify=tls, limits=limits, proxy=url)
        except (ImportError, ValueError) as exc:
            raise ConfigError(
                f"cannot use the proxy {url} that the environment names: {one_line(exc)}",
                hint="Fix or unset HTTP_PROXY, HTTPS_PROXY and ALL_PROXY (a socks5:// proxy "
                "needs `pip install socksio`).",
            ) from exc
    return mounts


class Fetcher:
    """Fetches many URLs concurrently with global and per-host limits."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_request: Callable[[httpx.Request], Awaitable[None]] | None = None,
        host_slot: Callable[[str], AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        """``on_request`` sees every request, redirects included, and may refuse it by
        raising (``newsmirror add`` refuses private addresses this way). ``host_slot``
        replaces the per-host limit of this process with a shared one (queue workers:
        :class:`newsmirror.jobqueue.HostSlots`). Without ``transport``, requests go
        through :class:`~newsmirror.httptransport.Transport`, or through the proxy the
        environment names for their URL (:func:`environment_proxies`)."""
        self.settings = settings
        timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
        tls = tls_context()  # its CAs are read only if a URL is https
        limits = httpx.Limits(
            max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
        )
        self.client = httpx.AsyncClient(
            event_hooks={"request": [on_request]} if on_request else None,
            timeout=timeout,
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            headers={
                "User-Agent": settings.user_agent,
                "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9,"
                " text/xml;q=0.9, */*;q=0.5",
                "Accept-Encoding": "gzip, deflate",
            },
            transport=transport or Transport(tls, max_idle=settings.concurrency),
            mounts=environment_proxies(tls, limits) if transport is None else None,
            verify=tls,
            limits=limits,
        )
        self._all = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host)
        )
        self._host_slot = host_slot

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def fetch(
        self,
        url: str,
        state: FeedState | None = None,
        *,
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchResult:
        """Fetch ``url`` with retries; never raises for network or HTTP trouble.

        ``headers`` are sent besides the conditional ones from ``state``; ``max_bytes``
        overrides the configured cap on the body.
        """
        state = state or FeedState()
        problem = url_problem(url)
        if problem is not None:  # the config's own check: nothing it accepts is refused here
            return FetchResult(url, "failed", error=f"invalid URL: {problem}")
        host = urlsplit(url).netloc.lower()
        attempt = 0
        while True:
            attempt += 1
            # The host's slot first: requests queued behind a slow host hold no global slot.
            slot = self._host_slot(host) if self._host_slot else self._hosts[host]
            async with slot, self._all:
                try:
                    result = await self._once(
                        url, state, headers or {}, max_bytes or self.settings.max_bytes
                    )
                    return dataclasses.replace(result, attempts=attempt)
                except _Retryable as exc:
                    failure = exc
            if attempt > self.settings.retries:
                return FetchResult(
                    url, "failed", http_status=failure.status, error=str(failure), attempts=attempt
                )
            wait = failure.wait
            await asyncio.sleep(
                wait if wait is not None else backoff_delay(attempt - 1, self.settings.backoff)
            )

    async def _once(
        self, url: str, state: FeedState, extra: dict[str, str], cap: int
    ) -> FetchResult:
        headers = dict(extra)
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        deadline = self.settings.connect_timeout + self.settings.read_timeout * 2
        try:
            return await asyncio.wait_for(self._request(url, headers, cap), deadline)
        except TimeoutError as exc:
            raise _Retryable(f"timed out after {deadline:.0f} s in total") from exc
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from exc
        except httpx.TooManyRedirects:
            return FetchResult(
                url, "failed", error=f"more than {self.settings.max_redirects} redirects"
            )
        except httpx.UnsupportedProtocol as exc:  # a redirect to file:, ftp: ...: never retried
            why = f"redirected to an address that is not http(s): {exc}"
            return FetchResult(url, "failed", error=why)
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed: {str(exc) or type(exc).__name__}") from exc
        except httpx.InvalidURL as exc:
            return FetchResult(url, "failed", error=f"invalid URL: {exc}")
        except (_TooLarge, _BadBody) as exc:
            return FetchResult(url, "failed", error=str(exc))
        except _Retryable:
            raise
        except NewsmirrorError:
            raise  # a refusal (on_request, a guarding transport): the caller's to report
        except Exception as exc:  # sockets, URLs, protocol oddities: this URL's failure only
            return FetchResult(url, "failed", error=_reason(exc))

    async def _request(self, url: str, headers: dict[str, str], cap: int) -> FetchResult:
        async with self.client.stream("GET", url, headers=headers) as resp:
            status = resp.status_code
            if status == 429 or status >= 500:
                wait = retry_after_seconds(resp.headers.get("retry-after"))
                raise _Retryable(f"HTTP {status} {resp.reason_phrase}", status, wait)
            if status >= 400:
                return FetchResult(
                    url,
                    "failed",
                    http_status=status,
                    error=f"HTTP {status} {resp.reason_phrase}",
                    final_url=str(resp.url),
                )
            body = await _body(resp, cap)  # a 304 has none
            return FetchResult(
                url,
                "not_modified" if status == 304 else "ok",
                http_status=status,
                body=body,
                content_type=resp.headers.get("content-type", ""),
                etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
                final_url=str(resp.url),
            )


async def _body(resp: httpx.Response, cap: int) -> bytes:
    """The body, refused at once when its declared length is over the cap."""
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _TooLarge(f"response of {int(declared)} bytes exceeds the cap of {cap}")
    return await read_capped(resp, cap)


def _reason(exc: Exception) -> str:
    """One line for an unexpected error, naming a URL problem as such."""
    text = one_line(exc)
    if isinstance(exc, ValueError | OverflowError | UnicodeError):
        return f"invalid URL or request: {text}"
    return text
