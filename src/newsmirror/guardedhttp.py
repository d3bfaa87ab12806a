"""The network guard's connection layer (:mod:`newsmirror.netguard` decides which
addresses are allowed): an httpcore network backend that resolves each host once and
connects only to those checked addresses, and httpx's transport on it. Apart from
:mod:`~newsmirror.netguard` because it loads httpcore, which only runs that fetch
something archived by ``newsmirror add`` need."""

from __future__ import annotations

import asyncio
import ipaddress
import typing

import httpcore

from newsmirror.config import FetchSettings
from newsmirror.httpclient import httpx
from newsmirror.netguard import Guard, PrivateAddressError, refusal


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))  # httpcore passes IPv6 without brackets
    except ValueError:
        return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to checked, allowed addresses."""

    def __init__(self, guard: Guard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        """Resolve ``host`` once and check every address; PrivateAddressError if any is
        not allowed."""
        literal = _literal(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = await asyncio.wait_for(self.guard.resolve(host, port), timeout)
            except (OSError, UnicodeError, TimeoutError) as exc:
                why = str(exc) or "timed out"
                raise httpcore.ConnectError(f"cannot resolve {host}: {why}") from exc
            if not found:
                raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        reason = refusal(host, found, self.guard.allow)
        if reason is not None:
            raise PrivateAddressError(reason)
        return found

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for address in await self.addresses(host, port, timeout):
            try:
                return await self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise PrivateAddressError(f"a Unix socket ({path}) is not a public host")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, on a :class:`GuardedBackend` (and never through a proxy
    from the environment: a proxy would resolve hosts where the guard cannot see)."""

    def __init__(self, guard: Guard, settings: FetchSettings) -> None:
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=settings.concurrency,
            max_keepalive_connections=settings.concurrency,
            network_backend=GuardedBackend(guard),
        )
