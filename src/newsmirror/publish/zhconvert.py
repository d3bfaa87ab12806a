"""简/繁: each page's script (its ``<html lang>``) and the switch's files.

A page is ``zh-Hant`` when its text has more characters found only in traditional script
than characters found only in simplified script (one-character maps made with OpenCC),
else ``zh-Hans``. The switch (static/zh.js, a few kB on every page) loads OpenCC's
phrase-level converter (opencc-js, vendored unmodified in static/opencc/ by
scripts/vendor_opencc.py) only when the reader asks for the other script.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newsmirror.publish.sitebuild import SiteBuild

HANS, HANT = "zh-Hans", "zh-Hant"
STATIC = Path(__file__).parent / "static"
# Written into the site: the converters and their licences (opencc-js: MIT; data: Apache-2.0).
OPENCC_FILES = ("cn2t.js", "t2cn.js", "LICENSE", "THIRD_PARTY_LICENSES.md")
_TAG = re.compile(r"<[^>]*>")


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


def script_of(text: str) -> str:
    """``zh-Hant`` if ``text`` (plain text or HTML) is mostly in traditional script, else
    ``zh-Hans`` (also for text with no Chinese at all: the site's own words are simplified)."""
    simplified, traditional = _script_only()
    plain = _TAG.sub("", text)
    simp = sum(1 for c in plain if c in simplified)
    trad = sum(1 for c in plain if c in traditional)
    return HANT if trad > simp else HANS


def write_zh_files(site: SiteBuild) -> None:
    """zh.js (the switch) and opencc/ (the converter it loads when used)."""
    site.emit("zh.js", (STATIC / "zh.js").read_bytes())
    for name in OPENCC_FILES:
        site.emit(f"opencc/{name}", (STATIC / "opencc" / name).read_bytes())
