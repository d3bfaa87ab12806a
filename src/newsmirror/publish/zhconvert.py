"""简/繁: each page's script (its ``<html lang>``) and the switch's files.

A page is ``zh-Hant`` when its text has more characters found only in traditional script
than characters found only in simplified script (one-character maps made with OpenCC),
else ``zh-Hans``. The switch (static/zh.js, a few kB on every page) loads OpenCC's
phrase-level converter (opencc-js, vendored unmodified in static/opencc/ by
scripts/vendor_opencc.py) only when the reader asks for the other script.

The site's own words (menus, labels, placeholders, the time's zone name) follow the page:
a zh-Hant page is rendered from templates whose text is in Taiwan's traditional words
(:class:`HantLoader`, :func:`chrome`: OpenCC s2twp, as the switch gives by default), so
a traditional page shows 首頁 and 搜尋, and the switch turns them to simplified with the
rest of the page. Names (the site's title, sources, tags) stay as configured or seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from newsmirror.publish.sitebuild import SiteBuild

HANS, HANT = "zh-Hans", "zh-Hant"
STATIC = Path(__file__).parent / "static"
# Written into the site: the converters and their licences (opencc-js: MIT; data: Apache-2.0).
OPENCC_FILES = ("cn2t.js", "t2cn.js", "LICENSE", "THIRD_PARTY_LICENSES.md")
_TAG = re.compile(r"<[^>]*>")
_JINJA = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.S)  # expressions stay as written
# Where OpenCC's Taiwan phrase is not the site's word: a mirror site is 鏡像 in Taiwan too
# (映象 is an image), and 镜像 comes back from the switch (tw2s) as written.
_CHROME_FIXES = (("映象", "鏡像"),)


@lru_cache(maxsize=1)
def _script_only() -> tuple[frozenset[str], frozenset[str]]:
    """Characters OpenCC changes when converting to the other script: (simplified only,
    traditional only)."""
    import opencc

    chars = "".join(chr(c) for c in range(0x3400, 0xA000))
    trad = opencc.OpenCC("s2t").convert(chars)
    simp = opencc.OpenCC("t2s").convert(chars)
    simplified = frozenset(a for a, b in zip(chars, trad, strict=True) if a != b)
    traditional = frozenset(a for a, b in zip(chars, simp, strict=True) if a != b)
    return simplified, traditional


_CJK_END = 0xA000  # every script-only character is below (see _script_only)


@lru_cache(maxsize=1)
def _script_table() -> npt.NDArray[np.int8]:
    """Each code point's vote, counted in C: +1 traditional only, -1 simplified only, 0
    otherwise (the last entry stands for every code point from _CJK_END on). A regex
    class of each set took ten times as long on a site's pages."""
    simplified, traditional = _script_only()
    table = np.zeros(_CJK_END + 1, dtype=np.int8)
    table[[ord(c) for c in simplified]] = -1
    table[[ord(c) for c in traditional]] = 1
    return table


def script_of(text: str) -> str:
    """``zh-Hant`` if ``text`` (plain text or HTML) is mostly in traditional script, else
    ``zh-Hans`` (also for text with no Chinese at all: the site's own words are simplified)."""
    plain = _TAG.sub("", text).encode("utf-32-le", "surrogatepass")
    codes = np.minimum(np.frombuffer(plain, dtype=np.uint32), _CJK_END)
    return HANT if int(_script_table()[codes].sum(dtype=np.int64)) > 0 else HANS


@lru_cache(maxsize=1)
def _s2twp() -> Any:
    import opencc

    return opencc.OpenCC("s2twp")


@lru_cache(maxsize=4096)
def chrome(text: str) -> str:
    """The site's own words (simplified in the templates) as a zh-Hant page shows them."""
    out = str(_s2twp().convert(text))
    for phrase, word in _CHROME_FIXES:
        out = out.replace(phrase, word)
    return out


def in_script(text: str, lang: str) -> str:
    """The site's words ``text`` for a page of ``lang``."""
    return chrome(text) if lang == HANT else text


def hant_source(source: str) -> str:
    """A template's text (outside ``{{ }}``, ``{% %}`` and ``{# #}``) in traditional words."""
    parts = _JINJA.split(source)
    return "".join(part if i % 2 else chrome(part) for i, part in enumerate(parts))


class HantLoader(jinja2.FileSystemLoader):
    """The site's templates with their words in traditional script (zh-Hant pages)."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        return hant_source(source), filename, uptodate


def write_zh_files(site: SiteBuild) -> None:
    """zh.js (the switch) and opencc/ (the converter it loads when used)."""
    site.emit("zh.js", (STATIC / "zh.js").read_bytes())
    for name in OPENCC_FILES:
        site.emit(f"opencc/{name}", (STATIC / "opencc" / name).read_bytes())
