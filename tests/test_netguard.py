"""The network guard of `newsmirror add`: which addresses are public, and a connection
layer that connects to the very address it checked (no DNS rebinding, every redirect hop).

The tests run on 127.0.0.1 and 127.0.0.2 (both loopback on Linux). The guard's own seams
stand in for the internet: ``allow`` treats 127.0.0.2 as "public", and ``resolve`` answers
what a hostile DNS server would.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FeedServer, Reply
from newsmirror.config import FetchSettings
from newsmirror.fetch import Fetcher, FetchResult
from newsmirror.guardedhttp import GuardedBackend
from newsmirror.netguard import (
    Guard,
    PrivateAddressError,
    guarded_transport,
    is_public,
    system_resolve,
)

FAKE_PUBLIC = "127.0.0.2"
DEAD = "127.0.0.3"  # no server listens there


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
        tls: ssl.SSLContext | None = None,
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
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
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
    calls: list[tuple[str, int]] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return [FAKE_PUBLIC]

    try:
        result = fetch(f"http://localhost:{public.port}/secret", Guard(resolve, allow_test))
    finally:
        public.close()
    assert (result.status, result.body) == ("ok", b"public page")
    assert public.hits == [("/secret", f"localhost:{public.port}")]
    assert calls == [("localhost", public.port)]
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
        f"http://[::ffff:0:7f00:1]:{port}/secret",  # IPv4-translated 127.0.0.1
    ):
        with pytest.raises(PrivateAddressError, match="non-public"):
            fetch(url, Guard())
    assert private.requests == []


def test_an_unresolvable_host_is_an_ordinary_failed_fetch():
    async def resolve(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    result = fetch("http://nonexistent.invalid/x.png", Guard(resolve))
    assert (result.status, result.error) == (
        "failed",
        "connection failed: cannot resolve nonexistent.invalid: Name or service not known",
    )


def test_a_resolver_answering_nothing_is_a_failed_fetch():
    async def resolve(host: str, port: int) -> list[str]:
        return []

    result = fetch("http://empty.test/x.png", Guard(resolve))
    assert (result.status, result.error) == (
        "failed",
        "connection failed: cannot resolve empty.test: no address",
    )


def test_a_slow_resolver_stops_at_the_connect_timeout():
    async def resolve(host: str, port: int) -> list[str]:
        await asyncio.sleep(5)
        return [FAKE_PUBLIC]

    start = time.monotonic()
    result = fetch("http://slow.test/x.png", Guard(resolve), connect_timeout=0.2)
    assert time.monotonic() - start < 1.5
    assert result.error == "connection failed: cannot resolve slow.test: timed out"


def test_the_system_resolver_gives_each_address_once():
    assert asyncio.run(system_resolve("127.0.0.2", 80)) == ["127.0.0.2"]
    assert asyncio.run(system_resolve("::1", 443)) == ["::1"]


def test_an_ip_literal_is_connected_to_as_written_never_looked_up(private):
    """A hostile resolver would answer 127.0.0.1 (the intranet) for anything."""
    public = PublicServer(port_of(private), b"public page")
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    try:
        result = fetch(f"http://{FAKE_PUBLIC}:{public.port}/secret", Guard(resolve, allow_test))
    finally:
        public.close()
    assert (result.status, result.body, asked) == ("ok", b"public page", [])
    assert private.requests == []


def test_the_next_checked_address_is_tried_when_one_refuses():
    """127.0.0.3 (allowed here) has no server: the connection goes on to 127.0.0.2."""
    public = PublicServer(0, b"second address")
    both = {FAKE_PUBLIC, DEAD}

    async def resolve(host: str, port: int) -> list[str]:
        return [DEAD, FAKE_PUBLIC]

    async def dead_only(host: str, port: int) -> list[str]:
        return [DEAD, DEAD]

    try:
        result = fetch(f"http://two.test:{public.port}/", Guard(resolve, both.__contains__))
        failed = fetch(f"http://two.test:{public.port}/", Guard(dead_only, both.__contains__))
    finally:
        public.close()
    assert (result.status, result.body) == ("ok", b"second address")
    assert failed.status == "failed"
    assert failed.error == "connection failed: All connection attempts failed"


def test_a_connect_that_hangs_stops_at_the_connect_timeout():
    """A listener whose queue is full drops new connections: the connect hangs."""
    listener = socket.socket()
    listener.bind((FAKE_PUBLIC, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex((FAKE_PUBLIC, port))
    try:
        result = fetch(
            f"http://{FAKE_PUBLIC}:{port}/", Guard(allow=allow_test), connect_timeout=0.2
        )
    finally:
        for sock in [*fillers, listener]:
            sock.close()
    assert result.error == "timed out (ConnectTimeout)"


def test_the_backend_passes_local_address_and_socket_options():
    listener = socket.socket()
    listener.bind((FAKE_PUBLIC, 0))
    listener.listen(4)
    backend = GuardedBackend(Guard(allow=allow_test))
    keepalive = (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    async def go() -> tuple[str, int]:
        stream = await backend.connect_tcp(
            FAKE_PUBLIC,
            listener.getsockname()[1],
            timeout=2,
            local_address=DEAD,
            socket_options=[keepalive],
        )
        sock = stream.get_extra_info("socket")
        found = sock.getsockname()[0], sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        await backend.sleep(0.001)
        await stream.aclose()
        return found

    try:
        assert asyncio.run(go()) == (DEAD, 1)
    finally:
        listener.close()


def test_the_backend_refuses_unix_sockets():
    backend = GuardedBackend(Guard())
    with pytest.raises(PrivateAddressError) as info:
        asyncio.run(backend.connect_unix_socket("/run/docker.sock"))
    assert str(info.value) == "a Unix socket (/run/docker.sock) is not a public host"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for news.test (the openssl command line makes it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ),
            *("-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=news.test"),
            *("-addext", "subjectAltName=DNS:news.test"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_verifies_against_the_ca_file_from_ssl_cert_file(certificate, monkeypatch):
    """The guarded transport trusts what httpx trusts (SSL_CERT_FILE, else certifi) and
    checks the host name the URL gives, not the address it connects to."""
    cert, key = certificate
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    public = PublicServer(0, b"secure page", tls=tls)

    async def resolve(host: str, port: int) -> list[str]:
        return [FAKE_PUBLIC]

    url = f"https://news.test:{public.port}/"
    try:
        untrusted = fetch(url, Guard(resolve, allow_test))
        monkeypatch.setenv("SSL_CERT_FILE", cert)
        trusted = fetch(url, Guard(resolve, allow_test))
    finally:
        public.close()
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error
    assert (trusted.status, trusted.body) == ("ok", b"secure page")


def allow_test(address: str) -> bool:
    return address == FAKE_PUBLIC or is_public(address)


def fetch(url: str, guard: Guard, connect_timeout: float = 2) -> FetchResult:
    settings_ = FetchSettings(retries=0, connect_timeout=connect_timeout, read_timeout=2)

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
    "::ffff:0:7f00:1",  # IPv4-translated (RFC 2765) of 127.0.0.1
    "::ffff:0:127.0.0.1",
    "::ffff:0:a9fe:a9fe",  # IPv4-translated of 169.254.169.254
    "::ffff:0:808:808",  # IPv4-translated: obsolete SIIT form, refused whatever it wraps
    "::ffff:0:0:0",
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
    elif form == "translated":  # ::ffff:0:V4/96 (RFC 2765 SIIT)
        value = (0xFFFF << 48) | bits
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
            "translated",
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


@settings(max_examples=100, deadline=None)
@given(v4=st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address))
def test_ipv4_translated_addresses_are_refused_whatever_they_carry(v4):
    """::ffff:0:0:0/96 (RFC 2765, obsolete) is no public host's address: refused whole,
    like the deprecated IPv4-compatible ::/96."""
    assert not is_public(wrap("translated", v4, 0))
