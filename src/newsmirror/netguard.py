"""The guard of ``newsmirror add``: no connection to a private or otherwise non-public host.

A URL given to ``add`` (and every image of the page it archives) may point anywhere;
the guard makes sure no request reaches an intranet, this machine or a cloud's metadata
service. It lives in the connection layer: :class:`~newsmirror.guardedhttp.GuardedBackend`
is the httpcore network backend under the HTTP client; for every new connection (each
redirect hop included) it resolves the host once, refuses it unless every address is public, and
connects to one of exactly those checked addresses. A second lookup, which a DNS server
could answer differently (DNS rebinding), never happens. TLS still verifies and sends
the hostname (SNI), and the Host header is unchanged.

:func:`is_public` decides which addresses are public: ``ipaddress``'s notion of global,
minus the special ranges listed below, with the IPv4 address inside IPv6 transition
forms (IPv4-mapped, 6to4, NAT64) judged as the IPv4 address itself. The obsolete
IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96) forms are refused whole.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newsmirror.config import FetchSettings
from newsmirror.errors import AddError

if TYPE_CHECKING:
    from newsmirror.httpclient import httpx

PRIVATE_HINT = "Pass --allow-private to archive pages on an intranet or this machine."

Resolver = Callable[[str, int], Awaitable[list[str]]]

# Refused besides what ``ipaddress`` already takes for not global (private, loopback,
# link-local, carrier-grade NAT, documentation, benchmarking, reserved, Teredo ...), so
# that the answer does not depend on the Python version's copy of the IANA registries.
_V4_REFUSED = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "192.0.0.0/24",  # IETF protocol assignments (newer Pythons take two as global)
        "192.88.99.0/24",  # 6to4 relay anycast
    )
)
_V6_REFUSED = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form
        "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765 SIIT, obsolete), whatever it wraps
        "64:ff9b:1::/48",  # local-use NAT64
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fec0::/10",  # site-local
    )
)
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a connection to ``ip`` reaches through IPv4-mapped, 6to4 or
    NAT64 (64:ff9b::/96) addressing; None for other addresses."""
    if ip in _MAPPED or ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)
    return None


def _public_v4(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not ip.is_multicast and not any(ip in net for net in _V4_REFUSED)


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP address as text) is a public, routable unicast address."""
    try:
        ip = ipaddress.ip_address(address)  # an IPv6 scope ("fe80::1%eth0") is understood
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return _public_v4(ip)
    inner = embedded_ipv4(ip)
    if inner is not None:
        return _public_v4(inner)
    return ip.is_global and not ip.is_multicast and not any(ip in net for net in _V6_REFUSED)


def refusal(host: str, addresses: Iterable[str], allow: Callable[[str], bool]) -> str | None:
    """Why a connection to ``host`` at ``addresses`` is refused; None if it is allowed."""
    for address in addresses:
        if not allow(address):
            if address == host:
                return f"{host} is a non-public address"
            return f"{host} resolves to the non-public address {address}"
    return None


class PrivateAddressError(AddError):
    """A connection refused by the guard: the host is (or resolves to) a non-public
    address. Never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint=PRIVATE_HINT)


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``, each once, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Guard:
    """How the guard resolves hosts and which addresses it allows (both replaceable, so
    that tests on 127.0.0.1 can stand in for the internet)."""

    resolve: Resolver = system_resolve
    allow: Callable[[str], bool] = is_public


def guarded_transport(guard: Guard, settings: FetchSettings) -> httpx.AsyncBaseTransport:
    """A transport for :class:`~newsmirror.fetch.Fetcher` that only reaches public hosts
    (:mod:`newsmirror.guardedhttp`, loaded, with httpcore, only when a run needs it)."""
    from newsmirror.guardedhttp import GuardedTransport

    return GuardedTransport(guard, settings)
