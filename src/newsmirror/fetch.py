"""HTTP fetching with httpx: bounded, polite and conditional.

Every request has connect/read timeouts and an overall deadline, a cap on the
(decompressed) body size, a bounded number of redirects, and sends ETag /
Last-Modified from the previous fetch. Timeouts, connection errors, 5xx and 429
are retried with exponential backoff (429 and 503 honour Retry-After). Requests
are limited overall and per host. A fetch never raises: it returns a
:class:`FetchResult` saying what happened and why.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from newsmirror.config import FetchSettings
from newsmirror.models import FeedState

MAX_RETRY_AFTER = 60.0


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


def backoff_delay(attempt: int, base: float) -> float:
    """Exponential backoff with a little jitter: base, 2*base, 4*base ..."""
    return float(base * (2**attempt) * (1 + random.random() * 0.1))


class Fetcher:
    """Fetches many URLs concurrently with global and per-host limits."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        on_request: Callable[[httpx.Request], Awaitable[None]] | None = None,
    ) -> None:
        """``on_request`` sees every request, redirects included, and may refuse it by
        raising (``newsmirror add`` refuses private addresses this way)."""
        self.settings = settings
        timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
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
            transport=transport,
            limits=httpx.Limits(
                max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
            ),
        )
        self._all = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host)
        )

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
        host = urlsplit(url).netloc.lower()
        attempts = self.settings.retries + 1
        last: FetchResult | None = None
        for attempt in range(attempts):
            async with self._all, self._hosts[host]:
                try:
                    return await self._once(
                        url, state, attempt + 1, headers or {}, max_bytes or self.settings.max_bytes
                    )
                except _Retryable as exc:
                    last = FetchResult(
                        url, "failed", http_status=exc.status, error=str(exc), attempts=attempt + 1
                    )
                    wait = exc.wait
            if attempt + 1 < attempts:
                await asyncio.sleep(
                    wait if wait is not None else backoff_delay(attempt, self.settings.backoff)
                )
        assert last is not None
        return last

    async def _once(
        self, url: str, state: FeedState, attempt: int, extra: dict[str, str], cap: int
    ) -> FetchResult:
        headers = dict(extra)
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        deadline = self.settings.connect_timeout + self.settings.read_timeout * 2
        try:
            return await asyncio.wait_for(self._request(url, headers, attempt, cap), deadline)
        except TimeoutError as exc:
            raise _Retryable(f"timed out after {deadline:.0f} s in total") from exc
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from exc
        except httpx.TooManyRedirects:
            return FetchResult(
                url,
                "failed",
                attempts=attempt,
                error=f"more than {self.settings.max_redirects} redirects",
            )
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed: {exc or type(exc).__name__}") from exc
        except httpx.InvalidURL as exc:
            return FetchResult(url, "failed", attempts=attempt, error=f"invalid URL: {exc}")
        except _TooLarge as exc:
            return FetchResult(url, "failed", attempts=attempt, error=str(exc))

    async def _request(
        self, url: str, headers: dict[str, str], attempt: int, cap: int
    ) -> FetchResult:
        async with self.client.stream("GET", url, headers=headers) as resp:
            status = resp.status_code
            if status == 304:
                return FetchResult(
                    url,
                    "not_modified",
                    http_status=304,
                    attempts=attempt,
                    etag=resp.headers.get("etag"),
                    last_modified=resp.headers.get("last-modified"),
                    final_url=str(resp.url),
                )
            if status == 429 or status >= 500:
                wait = retry_after_seconds(resp.headers.get("retry-after"))
                raise _Retryable(f"HTTP {status} {resp.reason_phrase}", status, wait)
            if status >= 400:
                return FetchResult(
                    url,
                    "failed",
                    http_status=status,
                    attempts=attempt,
                    error=f"HTTP {status} {resp.reason_phrase}",
                    final_url=str(resp.url),
                )
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise _TooLarge(f"response of {int(declared)} bytes exceeds the cap of {cap}")
            chunks, size = [], 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise _TooLarge(f"response exceeds the cap of {cap} bytes")
                chunks.append(chunk)
            return FetchResult(
                url,
                "ok",
                http_status=status,
                body=b"".join(chunks),
                content_type=resp.headers.get("content-type", ""),
                etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
                final_url=str(resp.url),
                attempts=attempt,
            )
