"""The network guard of `newsmirror add`: which addresses are public, and a connection
layer that connects to the very address it checked (no DNS rebinding, every redirect hop).

The tests run on 127.0.0.1 and 127.0.0.2 (both loopback on Linux). The guard's own seams
stand in for the internet: ``allow`` treats 127.0.0.2 as "public", and ``resolve`` answers
what a hostile DNS server would.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FeedServer, Reply
from newsmirror.config import FetchSettings
from newsmirror.fetch import Fetcher, FetchResult
from newsmirror.netguard import Guard, PrivateAddressError, guarded_transport, is_public

FAKE_PUBLIC = "127.0.0.2"


def test_loopback_alias_is_available():
    """The tests below need a second loopback address (always there on Linux)."""
    PublicServer(0, b"").close()


class PublicServer:
    """A tiny HTTP server on 127.0.0.2 (what the tests' guard takes for a public host)."""

    def __init__(
        self,
        port: int,
        body: bytes,
        location: str | None = None,
        files: dict[str, bytes] | None = None,
    ) -> None:
        self.hits: list[tuple[str, str]] = []
        hits, files = self.hits, files or {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append((self.path, self.headers.get("Host", "")))
                data = files.get(self.path, body)
                self.send_response(302 if location else 200)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer((FAKE_PUBLIC, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def private(server: FeedServer) -> Iterator[FeedServer]:
    """The intranet: a server on 127.0.0.1 that must never see a request."""
    server.route("/secret", Reply(body=b"metadata-secret"))
    yield server


def port_of(server: FeedServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def test_guarded_fetch_connects_to_the_checked_address(private):
    """'localhost' is checked as 127.0.0.2 by the guard's resolver; a second lookup (the
    system's) would give 127.0.0.1. The connection must go to the address checked, with
    the hostname kept in the Host header."""
    public = PublicServer(port_of(private), b"public page")
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return [FAKE_PUBLIC]

    try:
        result = fetch(f"http://localhost:{public.port}/secret", Guard(resolve, allow_test))
    finally:
        public.close()
    assert (result.status, result.body) == ("ok", b"public page")
    assert public.hits == [("/secret", f"localhost:{public.port}")]
    assert calls == ["localhost"]
    assert private.requests == []


def test_dns_rebinding_never_reaches_the_private_server(private):
    """The resolver answers a public address first and 127.0.0.1 the second time."""
    public = PublicServer(port_of(private), b"public page")
    answers = iter([[FAKE_PUBLIC], ["127.0.0.1"]])

    async def resolve(host: str, port: int) -> list[str]:
        return next(answers)

    try:
        result = fetch(f"http://rebind.test:{public.port}/secret", Guard(resolve, allow_test))
    finally:
        public.close()
    assert result.body == b"public page"
    assert private.requests == []


def test_a_host_with_any_private_address_is_refused(private):
    async def resolve(host: str, port: int) -> list[str]:
        return [FAKE_PUBLIC, "127.0.0.1"]

    with pytest.raises(PrivateAddressError, match=r"non-public address 127\.0\.0\.1") as info:
        fetch(f"http://mixed.test:{port_of(private)}/secret", Guard(resolve, allow_test))
    assert "--allow-private" in (info.value.hint or "")
    assert private.requests == []


def test_a_redirect_to_a_private_address_is_refused(private):
    target = f"http://127.0.0.1:{port_of(private)}/secret"
    public = PublicServer(0, b"", location=target)
    try:
        with pytest.raises(PrivateAddressError, match=r"127\.0\.0\.1"):
            fetch(f"http://{FAKE_PUBLIC}:{public.port}/go", Guard(allow=allow_test))
    finally:
        public.close()
    assert [p for p, _ in public.hits] == ["/go"]
    assert private.requests == []


def test_the_default_guard_refuses_loopback_names_and_literals(private):
    port = port_of(private)
    with pytest.raises(PrivateAddressError, match=r"^127\.0\.0\.1 is a non-public address$"):
        fetch(f"http://127.0.0.1:{port}/secret", Guard())
    with pytest.raises(PrivateAddressError, match=r"^localhost resolves to the non-public"):
        fetch(f"http://localhost:{port}/secret", Guard())
    for url in (
        f"http://127.0.0.1:{port}/secret",
        f"http://localhost:{port}/secret",
        f"http://[::ffff:127.0.0.1]:{port}/secret",
        f"http://2130706433:{port}/secret",  # 127.0.0.1 as one number
    ):
        with pytest.raises(PrivateAddressError, match="non-public"):
            fetch(url, Guard())
    assert private.requests == []


def test_an_unresolvable_host_is_an_ordinary_failed_fetch():
    async def resolve(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    result = fetch("http://nonexistent.invalid/x.png", Guard(resolve))
    assert result.status == "failed" and "cannot resolve" in result.error


def allow_test(address: str) -> bool:
    return address == FAKE_PUBLIC or is_public(address)


def fetch(url: str, guard: Guard) -> FetchResult:
    settings_ = FetchSettings(retries=0, connect_timeout=2, read_timeout=2)

    async def go() -> FetchResult:
        transport = guarded_transport(guard, settings_)
        async with Fetcher(settings_, transport=transport) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(go())


# -- which addresses are public ------------------------------------------------

REFUSED = [
    # IPv4
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "100.64.0.1",
    "100.100.100.200",  # a cloud metadata service on carrier-grade NAT
    "100.127.255.254",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.1",
    "192.0.0.9",
    "192.0.0.170",
    "192.0.2.1",  # documentation
    "192.88.99.1",  # 6to4 relay anycast
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",  # documentation
    "203.0.113.9",  # documentation
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",  # broadcast
    # IPv6
    "::",
    "::1",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",  # site-local
    "fc00::1",
    "fd12:3456::1",  # unique-local
    "ff02::1",  # multicast
    "ff0e::1",
    "2001:db8::1",  # documentation
    "3fff::1",  # documentation (RFC 9637)
    "100::1",  # discard
    "5f00::1",  # segment routing
    "2001:10::1",  # ORCHID
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:10.0.0.1",
    "::ffff:100.100.100.200",
    "::127.0.0.1",  # IPv4-compatible
    "::8.8.8.8",  # IPv4-compatible: deprecated, refused whatever it wraps
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:0a00:0001::",  # 6to4 of 10.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:6464:64c8::1",  # 6to4 of 100.100.100.200
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::6464:64c8",  # NAT64 of 100.100.100.200
    "64:ff9b:1::a00:1",  # local-use NAT64
    "64:ff9b:1:808:8:800::",  # local-use NAT64, even of a public address
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001::1",
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below carrier-grade NAT
    "100.128.0.1",  # just above
    "172.32.0.1",
    "198.20.0.1",
    "223.255.255.254",
    "2001:4860:4860::8888",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",  # IPv4-mapped public address: the same host
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
]


@pytest.mark.parametrize("address", REFUSED)
def test_refused_addresses(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses(address):
    assert is_public(address)


def test_garbage_is_not_public():
    for text in ("", "localhost", "1.2.3", "::g", "8.8.8.8/32"):
        assert not is_public(text)


PRIVATE_V4 = [
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


def wrap(form: str, v4: ipaddress.IPv4Address, noise: int) -> str:
    """``v4`` inside an IPv6 address, as each transition mechanism embeds it."""
    bits = int(v4)
    if form == "plain":
        return str(v4)
    if form == "mapped":
        value = (0xFFFF << 32) | bits
    elif form == "compatible":
        value = bits
    elif form == "6to4":  # 2002:V4::/48, any subnet and interface
        value = (0x2002 << 112) | (bits << 80) | (noise & ((1 << 80) - 1))
    elif form == "nat64":  # 64:ff9b::/96
        value = (0x64FF9B << 96) | bits
    elif form == "nat64-local":  # 64:ff9b:1::/48, IPv4 after the /48 (RFC 6052)
        value = (0x64FF9B0001 << 80) | ((bits >> 16) << 64) | ((bits & 0xFFFF) << 40)
    elif form == "teredo-server":  # 2001:0:SERVER:flags:port:~client
        value = (0x20010000 << 96) | (bits << 64) | (noise & ((1 << 64) - 1))
    else:  # teredo-client: the client address is stored inverted
        value = (0x20010000 << 96) | ((noise & 0xFFFFFFFF) << 64) | (bits ^ 0xFFFFFFFF)
    return str(ipaddress.IPv6Address(value))


@settings(max_examples=200, deadline=None)
@given(
    network=st.sampled_from(PRIVATE_V4),
    offset=st.integers(min_value=0, max_value=2**32 - 1),
    form=st.sampled_from(
        [
            "plain",
            "mapped",
            "compatible",
            "6to4",
            "nat64",
            "nat64-local",
            "teredo-server",
            "teredo-client",
        ]
    ),
    noise=st.integers(min_value=0, max_value=2**80 - 1),
)
def test_private_ipv4_is_refused_however_it_is_wrapped(network, offset, form, noise):
    v4 = network[offset % network.num_addresses]
    assert not is_public(wrap(form, v4, noise)), (form, str(v4))


@settings(max_examples=200, deadline=None)
@given(
    v4=st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address),
    form=st.sampled_from(["mapped", "6to4", "nat64"]),
    noise=st.integers(min_value=0, max_value=2**80 - 1),
)
def test_transparent_wrappers_are_judged_by_the_ipv4_they_carry(v4, form, noise):
    assert is_public(wrap(form, v4, noise)) == is_public(str(v4))
