"""Decoding web pages to text: the HTTP header, then the page's own declaration, then detection.

Chinese pages are often GBK, GB2312, GB18030 or Big5, and often mislabelled.
Declared GB2312/GBK are read as GB18030 (their superset) and Big5 as Big5-HKSCS;
a declaration that does not decode cleanly is not trusted, and
charset-normalizer decides instead.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_META = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)"""
    rb"""|\sencoding\s*=\s*["']([\w.:-]+)["']""",
    re.I,
)
_HEADER = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "hz-gb-2312": "gb18030",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
    "x-big5": "big5hkscs",
    "ascii": "utf-8",
    "us-ascii": "utf-8",
}
_WESTERN = {"latin-1", "iso8859-1", "cp1252", "iso-8859-1", "windows-1252"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def normalise_charset(name: str | None) -> str | None:
    """A Python codec name for a declared charset, widened to its superset; None if unknown."""
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    name = _SUPERSETS.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return _SUPERSETS.get(codec, codec)


def declared_charset(body: bytes) -> str | None:
    """The charset a page declares in its first bytes (meta, XML prolog, encoding=)."""
    match = _META.search(body[:4096])
    if not match:
        return None
    return normalise_charset(next(g for g in match.groups() if g).decode("ascii", "replace"))


def _clean_decode(body: bytes, codec: str) -> str | None:
    """The text if ``codec`` decodes ``body`` with (almost) no errors."""
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        pass
    except LookupError:
        return None
    text = body.decode(codec, errors="replace")
    # A few bad bytes (a truncated page, one stray byte) do not disprove the codec.
    return text if text.count("\ufffd") <= max(2, len(text) // 2000) else None


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode an HTML page; return (text, the codec used)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), codec
    header = _HEADER.search(content_type or "")
    candidates = [normalise_charset(header.group(1)) if header else None, declared_charset(body)]
    for candidate in candidates:
        if candidate is None:
            continue
        codec = candidate
        if codec in _WESTERN:
            # Often a default, rarely true for a Chinese page: only trust it for plain ASCII.
            if not re.search(rb"[\x80-\xff]", body):
                return body.decode(codec), codec
            continue
        text = _clean_decode(body, codec)
        if text is not None:
            return text, codec
    text = _clean_decode(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    best = from_bytes(body).best()
    if best is not None and best.encoding:
        detected = normalise_charset(best.encoding) or best.encoding
        text = _clean_decode(body, detected)
        if text is not None:
            return text, detected
    for codec in ("gb18030", "big5hkscs"):
        text = _clean_decode(body, codec)
        if text is not None:
            return text, codec
    return body.decode("utf-8", errors="replace"), "utf-8"
