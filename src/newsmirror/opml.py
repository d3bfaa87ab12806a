"""Subscription lists in OPML, the format feed readers exchange: read with listparser
(``init --from-opml``) and written (``sources --opml``) so that the file reads back as
the same sources, feed for feed."""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from newsmirror.config import Source, check_feed_url
from newsmirror.errors import ConfigError

# Characters XML 1.0 does not allow anywhere, not even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def read_opml(data: bytes, origin: str) -> list[tuple[str, list[str]]]:
    """The ``(name, feed URLs)`` sources of an OPML file (outlines nested in folders
    included); outlines with the same text become one source with several feeds. Names
    are cleaned as feed titles are (one line, no control characters)."""
    import listparser

    from newsmirror.clean import clean_text

    parsed = listparser.parse(_as_utf8(data))
    if not parsed.feeds:
        raise ConfigError(
            "no feeds found in the OPML file",
            path=origin,
            hint="Export the subscription list (OPML) from your feed reader.",
        )
    grouped: dict[str, list[str]] = {}
    for i, feed in enumerate(parsed.feeds):
        url = check_feed_url(Path(origin), f"outline[{i}].xmlUrl", str(feed.url))
        name = clean_text(" ".join(str(feed.title or "").split())) or urlsplit(url).netloc
        feeds = grouped.setdefault(name, [])
        if url not in feeds:
            feeds.append(url)
    return list(grouped.items())


def _as_utf8(data: bytes) -> bytes:
    """``data`` as UTF-8 with a byte order mark: listparser reads with an HTML parser that
    ignores the XML prolog's encoding, so a GBK or Big5 list (declared or not) is decoded
    here as feeds are."""
    from newsmirror.decode import decode_feed

    decoded = decode_feed(data)
    if decoded is None:
        return data
    # "replace": a UTF-7 list may decode to a lone surrogate, which UTF-8 cannot hold.
    return codecs.BOM_UTF8 + decoded.text.encode(errors="replace")


def write_opml(sources: list[Source], title: str = "newsmirror") -> str:
    """OPML 2.0 listing every feed of ``sources`` (one outline per feed)."""
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_text(title)}</title></head>",
        "  <body>",
    ]
    for source in sources:
        name = quoteattr(_xml(source.name))
        for url in source.feeds:
            lines.append(
                f'    <outline type="rss" text={name} title={name} xmlUrl={quoteattr(_xml(url))}/>'
            )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _xml(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids (a config may hold any that TOML
    allows: controls written as \\u001b escapes)."""
    return _NOT_XML.sub("", value)


def _text(value: str) -> str:
    return _xml(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
