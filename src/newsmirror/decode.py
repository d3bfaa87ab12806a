"""Decoding web pages and feeds to text: declarations first, then detection.

Chinese pages are often GBK, GB2312, GB18030 or Big5, and often mislabelled.
Declared GB2312/GBK are read as GB18030 (their superset) and Big5 as Big5-HKSCS;
a declaration that does not decode cleanly is not trusted, and
charset-normalizer decides instead (GB18030 and Big5-HKSCS are tried last).
A page is read by :func:`decode_html`; a feed whose bytes its declaration does
not explain is read by :func:`decode_feed`, which is stricter: it never settles
for a decoding that turns the text into U+FFFD.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

import webencodings

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
    "iso8859-1": "cp1252",  # (latin-1, as browsers read it: no WHATWG label, Python's name)
}
_WESTERN = {"latin-1", "iso8859-1", "cp1252", "iso-8859-1", "windows-1252"}
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def normalise_charset(name: str | None) -> str | None:
    """A Python codec name for a declared charset, widened to its superset; None if unknown.

    A label of the WHATWG Encoding standard means what it means to a browser
    (iso-8859-1 and latin1 are windows-1252, shift_jis is cp932, euc-kr is cp949), also
    where Python has a codec of that name; another label is Python's."""
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    name = _SUPERSETS.get(name, name)
    encoding = webencodings.lookup(name)
    for label in (encoding.codec_info.name if encoding else name, name):
        try:
            codec = codecs.lookup(label).name
        except LookupError:  # WHATWG's "replacement" (iso-2022-kr) has no codec: Python's
            continue
        return _SUPERSETS.get(codec, codec)
    return None


# The encodings browsers read (WHATWG Encoding), as Python names: Python's own codecs
# (unicode_escape, undefined, utf-7 ...) are no web charsets, and a page declaring one
# is read as if it declared none.
_WEB = frozenset(filter(None, map(normalise_charset, webencodings.LABELS)))


def declared_charset(body: bytes) -> str | None:
    """The charset a page declares in its first bytes (meta, XML prolog, encoding=)."""
    match = _META.search(body[:4096])
    if not match:
        return None
    return normalise_charset(next(g for g in match.groups() if g).decode("ascii"))  # \w: ASCII


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


def _detected(body: bytes) -> tuple[str, str] | None:
    """charset-normalizer's reading, else GB18030 or Big5-HKSCS if either decodes cleanly."""
    from charset_normalizer import from_bytes  # only for bodies that need detecting

    best = from_bytes(body).best()
    if best is not None and best.encoding:
        detected = normalise_charset(best.encoding) or best.encoding
        text = _clean_decode(body, detected)
        if text is not None:
            return text, detected
    for codec in ("gb18030", "big5hkscs"):
        text = _clean_decode(body, codec)
        if text is not None and not _private_use_heavy(text):  # Big5 read as GB18030
            return text, codec
    return None


def _meta_charset(body: bytes) -> str | None:
    """The page's own declaration; UTF-16 there means UTF-8 (as browsers take it: a page
    whose markup could be read to find it is no UTF-16)."""
    codec = declared_charset(body)
    return "utf-8" if codec is not None and codec.startswith("utf-16") else codec


def _private_use_heavy(text: str) -> bool:
    """Whether text is a twentieth private-use characters (of its non-ASCII ones): Big5
    read as GB18030 (it decodes without an error), not a page with a few icon glyphs."""
    wide = len(text) - len(text.encode("ascii", errors="ignore"))
    return len(_PRIVATE_USE.findall(text)) > max(2, wide // 20)


# Types whose bytes are no web page whatever they hold (a page served as one of them but
# starting like HTML is still read: servers mislabel pages).
_NOT_PAGES = ("image/", "audio/", "video/", "font/", "model/")
_NOT_PAGE_TYPES = {
    "application/pdf",
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/octet-stream",
    "application/msword",
    "application/vnd.ms-excel",
    "application/wasm",
}
_SIGNATURES = {  # the first bytes of files that are surely no page
    b"\x89PNG": "a PNG image",
    b"GIF8": "a GIF image",
    b"\xff\xd8\xff": "a JPEG image",
    b"RIFF": "a RIFF file (WebP, WAV, AVI)",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or an Office document)",
    b"\x1f\x8b": "gzip data",
    b"\x00\x00\x00": "binary data",
}
_HTML_START = re.compile(rb"\s*<", re.S)


def binary_kind(body: bytes) -> str | None:
    """What kind of file ``body`` surely is by its first bytes ("a PNG image"), when it is
    one that is neither a page nor a feed; None otherwise."""
    if split_bom(body[:4])[0] is None:
        for signature, kind in _SIGNATURES.items():
            if body.startswith(signature):
                return kind
    return None


def page_refusal(body: bytes, content_type: str = "") -> str | None:
    """Why ``body`` is no web page to extract an article from (None: it may be one): its
    declared type is an image, audio, video, font, PDF or other binary type and it does
    not start like markup, or its first bytes are such a file's whatever the type says."""
    mime = content_type.split(";", 1)[0].strip().lower()
    bom, rest = split_bom(body[:1024])
    kind = binary_kind(body)
    if kind is not None:
        return f"not a web page: its bytes are {kind}" + (f" ({mime})" if mime else "")
    looks_like_markup = bom is not None or _HTML_START.match(rest) is not None
    if not looks_like_markup and (mime.startswith(_NOT_PAGES) or mime in _NOT_PAGE_TYPES):
        return f"not a web page: it is served as {mime}"
    return None


def decode_html(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode an HTML page; return (text, the codec used)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), codec
    for declared in (header_charset(content_type), _meta_charset(body)):
        # A Western codec is often a default, rarely true for a Chinese page: it is only
        # trusted for plain ASCII.
        if declared is None or declared not in _WEB or looks_western_but_is_not(body, declared):
            continue
        text = _clean_decode(body, declared)
        if text is not None and not _private_use_heavy(text):
            return text, declared
    text = _clean_decode(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    return _detected(body) or (body.decode("utf-8", errors="replace"), "utf-8")


# --- Feeds ------------------------------------------------------------------------------------

_HIGH_BYTES = re.compile(rb"[\x80-\xff]")
_PROLOG = re.compile(rb"""\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)""", re.I)
_STRAY_UTF8_SHARE = 20  # UTF-8 with stray bytes: at least 20 good non-ASCII characters per bad


def header_charset(content_type: str) -> str | None:
    """The codec an HTTP Content-Type names, widened to its superset; None if none or unknown."""
    match = _HEADER.search(content_type or "")
    return normalise_charset(match.group(1)) if match else None


_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def split_bom(body: bytes) -> tuple[str | None, bytes]:
    """The codec a byte order mark names (None without one), and the bytes after it."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return codec, body[len(bom) :]
    return None, body


def prolog_charset(body: bytes) -> str | None:
    """The codec a feed's XML prolog declares, widened to its superset; None if none or unknown."""
    match = _PROLOG.match(body[:1024])
    return normalise_charset(match.group(1).decode("ascii")) if match else None


def looks_western_but_is_not(body: bytes, codec: str) -> bool:
    """A Western codec (often a server's default) for bytes beyond ASCII: not to be trusted."""
    return codec in _WESTERN and _HIGH_BYTES.search(body) is not None


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _mostly_utf8(body: bytes) -> str | None:
    """UTF-8 text with a few stray bytes (replaced); None when it is no UTF-8 at all.

    Text in another encoding read as UTF-8 is nearly all errors, however long the
    ASCII around it: one GBK title in a long feed is not \"a few bad bytes\"."""
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", errors="ignore")) - bad
    return text if good >= _STRAY_UTF8_SHARE * bad else None


def _lenient(body: bytes, codec: str) -> str | None:
    if codec == "utf-8":
        return _mostly_utf8(body)
    return None if looks_western_but_is_not(body, codec) else _clean_decode(body, codec)


def _reads_as_xml(text: str, codec: str) -> bool:
    """Whether a declared codec's reading starts as XML does (UTF-16 reads any bytes as
    text, but GBK read as UTF-16 gives no "<"); UTF-8, the default, need not."""
    return codec == "utf-8" or text.lstrip()[:1] in ("<", "")


class FeedText(NamedTuple):
    text: str
    codec: str
    exact: bool  # False when a few bytes that the codec cannot read were replaced


def decode_feed(body: bytes, content_type: str = "") -> FeedText | None:
    """A feed's text and codec, or None when no encoding reads it.

    Its declarations (byte order mark, XML prolog, HTTP charset) are tried first, then
    UTF-8, each strictly; then each of them again allowing a few stray bytes; then
    detection. A declaration for bytes it cannot decode is not trusted."""
    bom, without_bom = split_bom(body)
    declared = [bom, prolog_charset(body), header_charset(content_type), "utf-8"]
    candidates = list(dict.fromkeys(c for c in declared if c is not None))
    for codec in candidates:
        if not looks_western_but_is_not(without_bom, codec):
            text = _strict(without_bom, codec)
            if text is not None and _reads_as_xml(text, codec):
                return FeedText(text, codec, exact=True)
    for codec in candidates:
        text = _lenient(without_bom, codec)
        if text is not None and _reads_as_xml(text, codec):
            return FeedText(text, codec, exact=False)
    detected = _detected_chinese_first(without_bom)
    if detected is None:
        return None
    codec, text = detected
    return FeedText(text, codec, exact="\ufffd" not in text)


_KANA_HANGUL = re.compile("[\u3041-\u30ff\uac00-\ud7a3]")


def _kana_or_hangul(text: str) -> bool:
    """Whether text reads as Japanese or Korean: kana or Hangul are a fifth of its
    non-ASCII characters (Chinese read as Shift_JIS gives kanji and half-width kana)."""
    wide = len(text) - len(text.encode("ascii", errors="ignore"))
    return 5 * len(_KANA_HANGUL.findall(text)) >= wide > 0


def _detection_order(body: bytes) -> list[str]:
    """Codecs to try for a feed that is not what it says: GB18030 or Big5, whichever
    charset-normalizer finds likelier, unless another East Asian multi-byte codec fits
    better (a Japanese or Korean feed); a Western codec never wins over Chinese that
    decodes (it decodes anything, and short Chinese text fools the detector)."""
    from charset_normalizer import from_bytes
    from charset_normalizer.utils import is_multi_byte_encoding

    chinese = from_bytes(body, cp_isolation=["gb18030", "big5"]).best()
    general = from_bytes(body).best()
    order = []
    if (
        general is not None
        and is_multi_byte_encoding(general.encoding)
        and (chinese is None or general.chaos < chinese.chaos)
        and _kana_or_hangul(str(general))
    ):
        order.append(general.encoding)
    order += [m.encoding for m in (chinese, general) if m is not None]
    order += ["gb18030", "big5hkscs"]
    return list(dict.fromkeys(normalise_charset(name) or name for name in order))


def _detected_chinese_first(body: bytes) -> tuple[str, str] | None:
    """(codec, text) of the first detected codec that decodes the body exactly, else of the
    first that decodes it with a few bad bytes; None when none does. Multi-byte codecs come
    first, exact or with a few bad bytes (a single-byte codec reads anything: one stray byte
    in GBK must not make it KOI8), and a reading heavy with private-use characters (Big5
    read as GB18030) comes last."""
    from charset_normalizer.utils import is_multi_byte_encoding

    order = _detection_order(body)
    wide = [codec for codec in order if is_multi_byte_encoding(codec)]
    narrow = [codec for codec in order if codec not in wide]
    readings = (
        (codec, decode(body, codec))
        for codecs_ in (wide, narrow)
        for decode in (_strict, _clean_decode)
        for codec in codecs_
    )
    first = None
    for codec, text in readings:  # lazily: the first plausible reading ends the search
        if text is None:
            continue
        if not _private_use_heavy(text):
            return codec, text
        first = first or (codec, text)
    return first
