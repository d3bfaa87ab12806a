"""Where Jekyll serves a post and its old URLs, as pure functions of names and paths (no
archive, no site): the page path of a post file in ``_posts/`` (:func:`old_url`), a
redirect path in its one encoded form (:func:`clean_path`), and the site file serving it
(:func:`file_of`). :mod:`newsmirror.publish.redirects` records and writes the redirects."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote

FOLDER = "posts"
MAX_SEGMENT_BYTES = 255  # one file name on Linux, macOS and Windows
MAX_SEGMENTS = 16
_POST_SUFFIX = re.compile(r"\.(?:md|markdown|html)\Z", re.IGNORECASE)
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


def _segment_ok(segment: str) -> bool:
    if segment in ("", ".", "..", ".html") or _UNSAFE.search(segment):
        return False
    try:
        return len(segment.encode("utf-8")) <= MAX_SEGMENT_BYTES
    except UnicodeEncodeError:  # a lone surrogate: no file name at all
        return False


def _as_path(segments: list[str]) -> str:
    return f"/{FOLDER}/" + "/".join(quote(segment, safe="") for segment in segments)


def _jekyll_url(path: str) -> str:
    """``path`` as Jekyll 4 makes a URL of it (URL#sanitize_url): ".." becomes "/", "./"
    goes, runs of "/" become one; repeated until nothing changes."""
    while True:
        clean = re.sub("/{2,}", "/", path.replace("..", "/").replace("./", ""))
        if clean == path:
            return path
        path = clean


def _segments(path: str) -> list[str] | None:
    """The segments below ``posts/`` of a decoded page path, if every one is safe."""
    if not path.startswith(f"/{FOLDER}/") or not path.endswith(".html"):
        return None
    segments = path[len(FOLDER) + 2 :].split("/")
    if len(segments) > MAX_SEGMENTS or not all(map(_segment_ok, segments)):
        return None
    return segments


@lru_cache(maxsize=1 << 17)  # an export asks for each post's two or three times
def old_url(name: str) -> str | None:
    """The URL path (percent-encoded) of the page Jekyll made for the post file ``name`` in
    ``_posts/``, or None when ``name`` is no post file name or its page could not be a file."""
    stem = _POST_SUFFIX.sub("", name)
    if stem == name or _UNSAFE.search(stem):
        return None
    segments = _segments(_jekyll_url(f"/{FOLDER}/{stem}.html"))
    return None if segments is None else _as_path(segments)


def clean_path(path: object) -> str | None:
    """``path`` (from front matter or the archive) in its one encoded form when it is a
    redirect path newsmirror writes (``/posts/...html``, every segment safe, as Jekyll
    leaves it), else None."""
    if not isinstance(path, str) or not path.startswith(f"/{FOLDER}/"):
        return None
    try:
        decoded = [unquote(part, errors="strict") for part in path[1:].split("/")]
    except UnicodeDecodeError:
        return None
    if any(not _segment_ok(part) for part in decoded):  # a "/" encoded inside a segment
        return None
    joined = "/" + "/".join(decoded)
    segments = _segments(joined)
    return None if segments is None or _jekyll_url(joined) != joined else _as_path(segments)


def paths_of(value: Any) -> list[str]:
    """The accepted redirect paths of a front matter's ``redirect_from`` (a string or a
    list); anything else is dropped."""
    values = value if isinstance(value, list) else [value]
    return list(dict.fromkeys(p for v in values if (p := clean_path(v)) is not None))


def file_of(path: str) -> str:
    """The site file (relative to the output folder) serving the redirect ``path``."""
    return unquote(path.lstrip("/"))
