"""URL handling: canonical forms for matching articles, and safe absolutising."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

_TRACKING = re.compile(r"^(utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|at_medium|at_campaign)$", re.I)
_PCT = re.compile(r"%[0-9a-fA-F]{2}")
# Characters left as they are when percent-encoding a path or query (RFC 3986 reserved + '%').
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY = _SAFE_PATH + "?"


def _upper_pct(text: str) -> str:
    return _PCT.sub(lambda m: m.group(0).upper(), text)


def to_uri(url: str) -> str:
    """An IRI (with Chinese characters, spaces) as an ASCII URI; idempotent."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = parts.netloc
        if host and not host.isascii():
            ascii_host = host.encode("idna").decode("ascii")
            netloc = netloc.replace(host, ascii_host)
    except ValueError:
        return quote(url, safe=_SAFE_QUERY + "#")
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            quote(parts.path, safe=_SAFE_PATH),
            quote(parts.query, safe=_SAFE_QUERY),
            quote(parts.fragment, safe=_SAFE_QUERY),
        )
    )


def canonical_url(url: str) -> str:
    """The form used to decide that two links name the same article.

    Lower-case scheme and host, no default port, no fragment, no tracking
    parameters, percent-encoding in one spelling (so a Chinese path matches its
    encoded form).
    """
    uri = to_uri(url)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return uri
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = _upper_pct(parts.path) or "/"
    query = parts.query
    if query:
        pairs = [
            (k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _TRACKING.match(k)
        ]
        query = _upper_pct(urlencode(pairs, safe=_SAFE_QUERY, quote_via=quote))
    return urlunsplit((scheme, host, path, query, ""))


def absolute(base: str, link: str) -> str:
    """``link`` resolved against ``base``; an unparsable link is returned unchanged."""
    try:
        return urljoin(base, link.strip())
    except ValueError:
        return link


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)
