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
import contextlib
import re
from functools import lru_cache
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
    try:
        codec = codecs.lookup(encoding.codec_info.name if encoding else name).name
    except LookupError:  # (and WHATWG's "replacement" and "x-user-defined")
        return None
    return _SUPERSETS.get(codec, codec)


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


def _detected(body: bytes, chinese: tuple[str, str] | None) -> tuple[str, str] | None:
    """An undeclared page's reading, Chinese first: ``chinese`` (GB18030 or Big5-HKSCS
    when either reads it as common Chinese: :func:`chinese_reading`) unless
    charset-normalizer reads it in a Japanese or Korean codec as Japanese or Korean (short
    Chinese text fools the detector: four GBK characters read as Korean or Polish); else
    charset-normalizer's reading; else either Chinese codec that decodes it cleanly."""
    from charset_normalizer import from_bytes  # only for bodies that need detecting

    best = from_bytes(body).best()
    reading = None
    if best is not None and best.encoding:
        detected = normalise_charset(best.encoding) or best.encoding
        text = _clean_decode(body, detected)
        reading = (text, detected) if text is not None else None
    if chinese is not None and (
        reading is None or reading[1] in _CHINESE or not _japanese_or_korean(reading[0])
    ):
        return chinese[1], chinese[0]
    if reading is not None:
        return reading
    for codec in ("gb18030", "big5hkscs"):
        text = _clean_decode(body, codec)
        if text is not None and not _private_use_heavy(text):  # Big5 read as GB18030
            return text, codec
    return None


@lru_cache(maxsize=1)
def _common_hanzi() -> dict[str, frozenset[str]]:
    """The common Chinese characters as each standard ranks them: GB2312's first level
    (3,755 simplified, for GB18030) and Big5's frequent set (5,401 traditional)."""
    trails = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    pairs = {
        "gb18030": [(hi, lo) for hi in range(0xB0, 0xD8) for lo in range(0xA1, 0xFF)],
        "big5hkscs": [
            (hi, lo) for hi in range(0xA4, 0xC7) for lo in trails if hi < 0xC6 or lo < 0x7F
        ],
    }
    found: dict[str, frozenset[str]] = {}
    for codec, codes in pairs.items():
        chars = set()
        for hi, lo in codes:
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes((hi, lo)).decode("gb2312" if codec == "gb18030" else "big5"))
        found[codec] = frozenset(chars)
    return found


_WIDE_LETTERS = re.compile(r"[^\x00-\x7f\s\u3000-\u303f\uff00-\uffef\u2000-\u206f]")
CHINESE_SHARE = 0.9  # of a reading's letters beyond ASCII: common Chinese characters
CHINESE_SHARE_LENIENT = 0.8  # the same, for a reading with a few bytes replaced
_CHINESE = ("gb18030", "big5hkscs")


def _chinese_share(text: str, codec: str = "") -> float:
    """How many of the letters beyond ASCII of ``text`` are common Chinese characters
    (of either standard; of ``codec``'s own only, when given)."""
    letters = _WIDE_LETTERS.findall(text)
    sets = _common_hanzi()
    common = sets[codec] if codec else sets["gb18030"] | sets["big5hkscs"]
    return sum(c in common for c in letters) / len(letters) if letters else 0.0


def chinese_reading(body: bytes) -> tuple[str, str] | None:
    """(codec, text) of GB18030 or Big5-HKSCS, whichever decodes ``body`` exactly into
    text whose letters beyond ASCII are mostly common Chinese characters (at least
    :data:`CHINESE_SHARE` of them; on a tie, more of its own standard's: Big5's 廣 is
    GBK's traditional 約); None when neither does (other bytes read as Chinese give rare
    characters: 鋓鄐怴暦 for 臺灣新聞 in Shift_JIS)."""
    found = None
    for codec in _CHINESE:
        text = _strict(body, codec)
        if text is None:
            continue
        score = (_chinese_share(text), _chinese_share(text, codec))
        if score[0] >= CHINESE_SHARE and (found is None or score > found[0]):
            found = (score, codec, text)
    return None if found is None else (found[1], found[2])


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
    text = _strict(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    chinese = chinese_reading(body)
    if chinese is None:  # (short GBK or Big5 text reads as UTF-8 with a bad byte or two)
        text = _clean_decode(body, "utf-8")  # a few stray bytes: still UTF-8
        if text is not None:
            return text, "utf-8"
    return _detected(body, chinese) or (body.decode("utf-8", errors="replace"), "utf-8")


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
_KANA = re.compile("[\u3041-\u30ff]")
_HANGUL = re.compile("[\uac00-\ud7a3]")
_SPACED_HANGUL = re.compile(r"[\uac00-\ud7a3][\s,.]+[\uac00-\ud7a3]")


def _kana_or_hangul(text: str) -> bool:
    """Whether text reads as Japanese or Korean: kana or Hangul are a fifth of its
    non-ASCII characters (Chinese read as Shift_JIS gives kanji and half-width kana)."""
    wide = len(text) - len(text.encode("ascii", errors="ignore"))
    return 5 * len(_KANA_HANGUL.findall(text)) >= wide > 0


def _japanese_or_korean(text: str) -> bool:
    """Whether a reading is surely Japanese or Korean, not Chinese read in their codecs:
    kana a fifth of its letters beyond ASCII, or Hangul nine tenths in words spaced as
    Korean is written (GBK read as Korean gives Hangul and Hanja mixed, unspaced: 櫓뉦퐲얎
    for 中國經濟). A short unspaced Korean title in EUC-KR reads as Chinese: the same bytes
    are common Chinese characters in GB2312, and Chinese comes first here."""
    letters = len(_WIDE_LETTERS.findall(text))
    kana, hangul = len(_KANA.findall(text)), len(_HANGUL.findall(text))
    korean = 10 * hangul >= 9 * letters and _SPACED_HANGUL.search(text) is not None
    return letters > 0 and (5 * kana >= letters or korean)


def _detection_order(body: bytes) -> list[str]:
    """Codecs to try for a feed that is not what it says: GB18030 or Big5, whichever
    charset-normalizer finds likelier, unless another East Asian multi-byte codec fits
    better (a Japanese or Korean feed); a Western codec never wins over Chinese that
    decodes (it decodes anything, and short Chinese text fools the detector)."""
    from charset_normalizer import from_bytes
    from charset_normalizer.utils import is_multi_byte_encoding

    common = chinese_reading(body)
    general = from_bytes(body).best()
    if common is not None and (general is None or not _japanese_or_korean(str(general))):
        return [common[0]]
    chinese = from_bytes(body, cp_isolation=["gb18030", "big5"]).best()
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
    in GBK must not make it KOI8), but a Chinese reading only when it reads as Chinese
    (French with its accents read as GB18030 gives rare characters: cp1252 reads it); a
    reading heavy with private-use characters (Big5 read as GB18030) comes last."""
    from charset_normalizer.utils import is_multi_byte_encoding

    order = _detection_order(body)
    wide = [codec for codec in order if is_multi_byte_encoding(codec)]
    narrow = [codec for codec in order if codec not in wide]
    readings = (
        (codec, decode(body, codec), tier)
        for tier, codecs_ in enumerate((wide, narrow, wide))
        for decode in (_strict, _clean_decode)
        for codec in codecs_
    )
    first = None
    for codec, text, tier in readings:  # lazily: the first plausible reading ends the search
        if text is None:
            continue
        if tier == 0 and codec in _CHINESE and _chinese_share(text) < CHINESE_SHARE_LENIENT:
            continue  # (tried again after the single-byte codecs)
        if not _private_use_heavy(text):
            return codec, text
        first = first or (codec, text)
    return first
