"""The search index's files as a page reads them: each is a script that hands its JSON
value to the page's registry (so that shards load from ``file://`` too), and a doc file
holds one article's url, title, source, date, packed text and time zone.

Written by :mod:`.search` and :mod:`.searchshards`, read back by :mod:`.searchread` and
the tests; the page's reader is ``static/search-index.js``.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import numpy as np

from newsmirror.publish.searchindex import FOLDER, clean

DEFLATE_LEVEL = 1


def js_text(value: object) -> str:
    """JSON that is safe anywhere in a script: no "</", no raw U+2028/U+2029."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def js_file(name: str, value: object) -> bytes:
    """A search file: one call that hands its JSON value to the page's registry."""
    return (
        "window.NM_SEARCH=window.NM_SEARCH||{};"
        f"NM_SEARCH.put({js_text(name)},{js_text(value)});\n"
    ).encode()


_JS = re.compile(
    r"^window\.NM_SEARCH=window\.NM_SEARCH\|\|\{\};NM_SEARCH\.put\((\"[^\"]*\"),(.*)\);\n$", re.S
)


def read_js(data: bytes) -> tuple[str, Any]:
    """(name, value) of a search file; ValueError if it is not one."""
    found = _JS.match(data.decode("utf-8"))
    if not found:
        raise ValueError("not a search file")
    return json.loads(found.group(1)), json.loads(found.group(2))


def path_of(name: str) -> str:
    return f"{FOLDER}/{name}.js"


PACK = 1  # docs per doc file: ids PACK * k to PACK * k + PACK - 1 are in file k


def pack_name(pack: int) -> str:
    return f"d/{pack // 256:x}/{pack:x}"


def doc_name(doc_id: int) -> str:
    """The name of the doc file (pack) that holds ``doc_id``."""
    return pack_name(doc_id // PACK)


def pack_file(pack: int, values: dict[int, str]) -> bytes:
    """A doc file: the JSON array of its PACK docs (``values``: doc id -> the doc's value
    as js_text), null where a doc id is not live."""
    items = ",".join(values.get(pack * PACK + k, "null") for k in range(PACK))
    name = pack_name(pack)
    head = "window.NM_SEARCH=window.NM_SEARCH||{};NM_SEARCH.put("
    return f"{head}{js_text(name)},[{items}]);\n".encode()


def doc_value(
    url: str, title: str, source: str, iso: str, text: str, zone: str, *, cleaned: bool = False
) -> list[str]:
    """A doc file's value; the (cleaned) text packed (pack_text)."""
    return [url, clean(title), source, iso, pack_text(text if cleaned else clean(text)), zone]


# Doc text as the doc files hold it: the UTF-16LE of the text (2 bytes a CJK character,
# not 3), deflated raw (no header), then 4 bytes at a time as 5 digits base 85 of
# TEXT_DIGITS (most significant first; a last group of k < 4 bytes is padded with zeros
# and written as its first k + 1 digits). 13% smaller than base64 of deflated UTF-8.
TEXT_DIGITS = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;.=>?@^_`{|}~"
)
_TEXT_TABLE = np.frombuffer(TEXT_DIGITS.encode(), dtype=np.uint8)


def base85(data: bytes) -> str:
    """``data`` as TEXT_DIGITS (see above)."""
    pad = -len(data) % 4
    words = np.frombuffer(data + b"\0" * pad, dtype=">u4").astype(np.int64)
    out = np.empty((len(words), 5), dtype=np.uint8)
    for k in range(4, -1, -1):
        words, digit = np.divmod(words, 85)
        out[:, k] = _TEXT_TABLE[digit]
    return out.tobytes()[: out.size - pad].decode("ascii")


def unbase85(text: str) -> bytes:
    pad = -len(text) % 5
    digits = np.frombuffer((text + "~" * pad).encode("ascii"), dtype=np.uint8)
    index = np.full(128, -1, dtype=np.int64)
    index[_TEXT_TABLE] = np.arange(85)
    values = index[digits].reshape(-1, 5)
    if (values < 0).any():
        raise ValueError("not base 85 text")
    words = np.zeros(len(values), dtype=np.int64)
    for k in range(5):
        words = words * 85 + values[:, k]
    if (words >= 1 << 32).any():
        raise ValueError("not base 85 text")
    return words.astype(">u4").tobytes()[: len(words) * 4 - pad]


def pack_text(text: str) -> str:
    packer = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
    data = packer.compress(text.encode("utf-16-le")) + packer.flush()
    return base85(data)


def unpack_text(packed: str) -> str:
    return zlib.decompress(unbase85(packed), -15).decode("utf-16-le")
