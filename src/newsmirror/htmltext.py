"""Plain text of HTML, quickly (for the search index and length decisions)."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def plain_text(markup: str) -> str:
    """Text of article HTML: tags become spaces, entities are decoded, spaces folded."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", markup))).strip()
