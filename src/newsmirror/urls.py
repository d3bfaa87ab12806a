"""URL handling: canonical forms for matching articles, and safe absolutising."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

_TRACKING = re.compile(r"utm_[a-z]+|fbclid|gclid|mc_cid|mc_eid|at_medium|at_campaign", re.I)
_PCTS = re.compile(r"(?:%[0-9a-fA-F]{2})+")  # a run of percent-escapes
# Characters left as they are when percent-encoding a path or query (RFC 3986 reserved + '%').
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY = _SAFE_PATH + "?"
# Left as they are in a canonical query's decoded keys and values: never the characters
# that delimit or encode (& = + %), or a value holding them would read as other pairs.
_SAFE_PAIR = "/:@!$'()*,;-._~?"


# A URL already in canonical form but for its path's "/" (http(s), a lower-case host of
# letters, digits, dots and hyphens without a trailing dot, and a path of characters that
# encoding leaves as they are, and escapes): most links are written so.
_PLAIN = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*(/(?:[A-Za-z0-9/:@!$&'()*+,;=._~-]|%[0-9A-Fa-f]{2})*)?"
)


def _upper_pct(text: str) -> str:
    return _PCTS.sub(lambda m: m.group(0).upper(), text) if "%" in text else text


def to_uri(url: str) -> str:
    """An IRI (with Chinese characters, spaces) as an ASCII URI; idempotent."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        netloc = parts.netloc
        if host and not host.isascii():
            # hostname is lower-cased: the netloc is rebuilt, not searched for it.
            ascii_host = host.encode("idna").decode()
            userinfo, at, _hostport = netloc.rpartition("@")
            port = "" if parts.port is None else f":{parts.port}"
            netloc = f"{userinfo}{at}{ascii_host}{port}"
    except ValueError:
        # Quoted, it is ASCII without brackets (the only things that fail to parse): it is
        # read as a URI.
        return to_uri(quote(url, safe=_SAFE_QUERY + "#"))
    return urlunsplit(
        (
            parts.scheme,
            quote(netloc, safe=_SAFE_PATH + "[]"),
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
    plain = _PLAIN.fullmatch(url)
    if plain is not None:
        path = plain.group(1)
        return url[: plain.start(1)] + _upper_pct(path) if path else url + "/"
    return _canonical(url)


def _canonical(url: str) -> str:
    """:func:`canonical_url` of any URL (its long way)."""
    uri = to_uri(url)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return uri
    if not parts.hostname:
        return uri  # not a web address (a guid such as urn:uuid:...): kept as it is
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    host = host.rstrip(".") or host  # "e.org." is "e.org"; "." stays
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address keeps its brackets
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = _upper_pct(parts.path) or "/"
    query = parts.query
    if query:
        pairs = [
            (k, v)
            for k, v in parse_qsl(query, keep_blank_values=True)
            if not _TRACKING.fullmatch(k)
        ]
        query = urlencode(pairs, safe=_SAFE_PAIR, quote_via=quote)
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
