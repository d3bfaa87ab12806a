"""httpx, imported without its command-line client, and a TLS context read when used.

When click, rich and pygments are installed (newsmirror's own dependencies bring
them), ``import httpx`` also imports ``httpx._main``, its command-line client,
and with it rich's syntax highlighting and pygments' lexers: about a third of
newsmirror's start-up time, for code newsmirror never runs. Marking the module
as absent for the duration of the import makes httpx take its documented
fallback (a stub ``httpx.main``); the mark is removed afterwards, so that
``import httpx._main`` still works for anyone who wants it.

httpx reads its CA certificates (certifi's bundle, about 15 ms) when a client is
made, whether or not any URL is https. :func:`tls_context` gives a context that
trusts the same certificates but reads them when its first TLS connection starts.
"""

from __future__ import annotations

import os
import ssl
import sys
from collections.abc import Mapping
from typing import Any

if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
    try:
        import httpx as httpx
    finally:
        del sys.modules["httpx._main"]
else:  # pragma: no cover - httpx was imported before newsmirror
    import httpx as httpx

__all__ = ["httpx", "tls_context", "trusted_locations"]


def trusted_locations(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The CA file and folder httpx trusts by default: SSL_CERT_FILE, else SSL_CERT_DIR,
    else certifi's bundle (None for certifi's, found when it is read)."""
    if environ.get("SSL_CERT_FILE"):
        return environ["SSL_CERT_FILE"], None
    if environ.get("SSL_CERT_DIR"):
        return None, environ["SSL_CERT_DIR"]
    return None, None


class _LazyContext(ssl.SSLContext):
    """httpx's default context (``ssl.create_default_context`` with its CA locations)
    whose certificates are read when the first TLS connection wraps its socket."""

    cafile: str | None = None
    capath: str | None = None
    loaded = False

    def load(self) -> None:
        """Read the CA certificates, once (OSError naming the file when it cannot)."""
        if self.loaded:
            return
        cafile, capath = self.cafile, self.capath
        if cafile is None and capath is None:
            import certifi

            cafile = certifi.where()
        try:
            self.load_verify_locations(cafile, capath)
        except (OSError, ssl.SSLError) as exc:  # this connection's failure, named clearly
            where = cafile or capath
            raise OSError(f"cannot read the trusted CA certificates {where}: {exc}") from exc
        self.loaded = True

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.load()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.load()
        return super().wrap_socket(*args, **kwargs)


def tls_context() -> ssl.SSLContext:
    """A client context that verifies as httpx's default does (hosts checked, CA from
    SSL_CERT_FILE, SSL_CERT_DIR or certifi), reading the CAs only when first used."""
    context = _LazyContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    context.cafile, context.capath = trusted_locations(os.environ)
    keylog = os.environ.get("SSLKEYLOGFILE")  # as ssl.create_default_context does
    if keylog and not sys.flags.ignore_environment:
        context.keylog_filename = keylog
    return context
