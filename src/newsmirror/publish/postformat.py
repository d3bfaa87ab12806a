"""Jekyll posts in the old mirrors' exact format (DESIGN.md section 2).

:func:`render_post` gives a post's bytes, :func:`post_filename` its name; the
seed article gives a file byte-identical to ``seed/000_5a86c4bf7c6d1edf.txt``.
Unlike the old writer, every front-matter value survives a YAML round trip and
every file name is valid on Linux, macOS and Windows. :mod:`newsmirror.publish.jekyll`
writes the tree.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from newsmirror.files import media_relpath
from newsmirror.models import ArticleRecord
from newsmirror.publish.pages import is_http_url
from newsmirror.timeutil import to_epoch_ms, to_iso
from newsmirror.urls import canonical_url

TITLE_CHARS = 50
POSTS_DIR = "_posts"
_PLAIN_FIRST_BAD = set("-?:,[]{}#&*!|>'\"%@` \t")
_FLOW_BAD = set(",[]{}?:#")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]')
# Characters not allowed (or troublesome in URLs) in file names on Linux, macOS and Windows.
_BAD_NAME_CHARS = re.compile(r'[<>:"/\\|?*#%\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]')
_LIQUID = re.compile(r"\{(?=[{%:])")  # Liquid's {{ {%, kramdown's {: and {::
_DOTS = re.compile(r"\.{2,}")  # Jekyll turns ".." in a post's URL into "/" (a subfolder)
_TRAILING_DOTS_SPACES = re.compile(r"[\s.]+\Z")


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if unicodedata.category(ch) == "Cs":  # a lone surrogate: no character at all
        return ""
    code = ord(ch)
    return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}"


def yaml_quoted(value: str) -> str:
    """A YAML double-quoted scalar that reads back as exactly ``value``."""
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'


# PyYAML reads a plain scalar as something other than a string only when it starts with
# one of the first characters of its implicit resolvers. After a letter (or "~") that is
# only one of these words (booleans and nulls); after the others (numbers, dates, "<<",
# "="), PyYAML is asked, unless the value has a non-ASCII character, which none of
# these forms has (e.g. an author "706青年空间").
_YAML_WORDS = frozenset(
    form
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for form in (word, word.capitalize(), word.upper())
) | {"~"}
_YAML_WORD_FIRST = frozenset("yYnNtTfFoO~")
_YAML_ASK_FIRST = frozenset("-+.0123456789<=!&*")


@functools.cache
def _plain_tag() -> Callable[[str], Any]:
    """The tag PyYAML gives a plain scalar (YAML is loaded only when one needs asking)."""
    import yaml

    resolver = yaml.resolver.Resolver()
    return functools.partial(resolver.resolve, yaml.ScalarNode, implicit=(True, False))


def _reads_as_str(value: str) -> bool:
    """Whether YAML reads the plain scalar ``value`` (not empty) as a string."""
    first = value[0]
    if first in _YAML_WORD_FIRST:
        return value not in _YAML_WORDS
    if first in _YAML_ASK_FIRST and value.isascii():
        return bool(_plain_tag()(value) == "tag:yaml.org,2002:str")
    return True


def _plain_ok(value: str, *, flow: bool) -> bool:
    if not value or value[0] in _PLAIN_FIRST_BAD or value != value.strip():
        return False
    if ": " in value or " #" in value or value.endswith(":") or _NEEDS_ESCAPE.search(value):
        return False
    if flow and any(ch in _FLOW_BAD for ch in value):
        return False
    return _reads_as_str(value)


def yaml_scalar(value: str, *, flow: bool = False) -> str:
    """``value`` plain when YAML reads it back unchanged as a string, else quoted."""
    return value if _plain_ok(value, flow=flow) else yaml_quoted(value)


_MD_ENTITIES = {
    "&": "&amp;",  # else "&lt;" in a title shows as "<"
    "<": "&lt;",
    ">": "&gt;",
    "{": "&#123;",  # kramdown's {: attribute lists} and {::extensions}, Liquid's {{ }}
    "~": "&#126;",  # GFM ~~strikethrough~~ (kramdown cannot backslash-escape it)
}
# Everything kramdown can backslash-escape: emphasis, code, math, links, lists, headers,
# tables and its typographic swaps (-- ... "quotes"), so the line shows the title as it is.
_MD_SPECIAL = re.compile(r"""[\\.*_+`()\[\]#!:|"'$=\-&<>{~]""")


def _markdown_text(title: str) -> str:
    return _MD_SPECIAL.sub(lambda m: _MD_ENTITIES.get(m.group(0)) or "\\" + m.group(0), title)


def _markdown_url(url: str) -> str:
    for ch, rep in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(ch, rep)
    return url


def render_body(content: str) -> str:
    """Article HTML as the old writer laid it out: lines trimmed, joined with nothing."""
    return "".join(map(str.strip, content.split("\n")))


_YOUTUBE = re.compile(
    r"^https?://(?:www\.|m\.)?(?:youtube\.com/(?:watch\?(?:.*&)?v=|shorts/|embed/)"
    r"|youtu\.be/)([\w-]{6,20})"
)
_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_SRCSET_ATTRS = re.compile(r'\s(?:srcset|sizes)="[^"]*"')
_PICTURE_SOURCE = re.compile(r'<source\b[^>]*\ssrcset="[^"]*"[^>]*>(?:</source>)?')
MEDIA_DIR = "media"


def youtube_id(url: str) -> str | None:
    match = _YOUTUBE.match(url)
    return match.group(1) if match else None


def youtube_embed(video: str) -> str:
    return (
        f'<p><iframe src="https://www.youtube.com/embed/{video}" width="560" height="315" '
        f'title="YouTube" allowfullscreen></iframe></p>'
    )


def localise_images(
    content: str, media: dict[str, tuple[str, str]], prefix: str
) -> tuple[str, list[str]]:
    """Point mirrored images at their local copies (``prefix`` + path), keeping the original
    URL in ``data-original-src``; return the new HTML and the media paths it uses."""
    used: list[str] = []
    if not media:  # none mirrored (hotlinked images): nothing to point elsewhere
        return content, used

    def swap(match: re.Match[str]) -> str:
        original = match.group(2)
        found = media.get(html.unescape(original))
        if found is None:
            return match.group(0)
        path = media_relpath(*found)
        used.append(path)
        return f'{match.group(1)}{prefix}{path}" data-original-src="{original}"'

    def one(tag: re.Match[str]) -> str:
        swapped = _IMG_SRC.sub(swap, tag.group(0))
        # A browser loads a srcset candidate before src: the mirrored copy only without it.
        return _SRCSET_ATTRS.sub("", swapped) if swapped != tag.group(0) else swapped

    content = _IMG_TAG.sub(one, content)
    if used and "<source" in content:  # a <picture>'s sources would win over its <img>
        content = _PICTURE_SOURCE.sub("", content)
    return content, used


def render_post(
    article: ArticleRecord, content: str | None = None, redirect_from: Sequence[str] = ()
) -> str:
    """The text of the post for ``article`` in the seed format.

    ``content`` replaces the article's body (e.g. with images pointing at local copies);
    a YouTube video gets its embed above the description. ``redirect_from``: the post's
    old URL paths (a renamed imported post), for the jekyll-redirect-from plugin.
    """
    tags = article.tags or (article.source,)
    content = article.content if content is None else content
    video = youtube_id(article.url)
    if video and f"/embed/{video}" not in content:
        content = youtube_embed(video) + content
    heading = _markdown_text(article.title)
    if is_http_url(article.url):  # never a javascript: (or other) link
        heading = f"[{heading}]({_markdown_url(article.url)})"
    body = f"{heading}\n------\n\n<div>\n{render_body(content)}\n</div>\n"
    return (
        "---\n"
        "layout: post\n"
        f"title: {yaml_quoted(article.title)}\n"
        f"date: {to_iso(article.published)}\n"
        f"author: {yaml_scalar(article.author or article.source)}\n"
        f"from: {yaml_scalar(article.url)}\n"
        f"tags: [ {', '.join(yaml_scalar(t, flow=True) for t in tags)} ]\n"
        "comments: True\n"
        f"categories: [ {yaml_scalar(article.source, flow=True)} ]\n"
        + (
            f"redirect_from: [ {', '.join(map(yaml_quoted, redirect_from))} ]\n"
            if redirect_from
            else ""
        )
        + "---\n"
        f"<!--{to_epoch_ms(article.published)}-->\n" + _LIQUID.sub("&#123;", body)
    )


def title_slug(title: str) -> str:
    """The title part of a post's file name: at most 50 characters, valid everywhere."""
    title = _DOTS.sub("…", unicodedata.normalize("NFC", title))
    slug = _BAD_NAME_CHARS.sub("-", title).strip()[:TITLE_CHARS]
    # No trailing dot (Windows drops it) nor space of any kind (NBSP included).
    return _TRAILING_DOTS_SPACES.sub("", slug) or "untitled"


def post_filename(published: datetime, title: str) -> str:
    """``YYYY-MM-DD-<title>.md`` for a post."""
    return f"{published:%Y-%m-%d}-{title_slug(title)}.md"


def disambiguated(name: str, url: str, source: str | None = None, size: int | None = 8) -> str:
    """``name`` with the first ``size`` hex digits (None: all 40) of a hash of the article
    URL (and its source, when the same URL is in two sources), for when two articles share
    a name; at most 255 bytes."""
    key = canonical_url(url) if source is None else f"{source}\n{canonical_url(url)}"
    suffix = f"-{hashlib.sha1(key.encode()).hexdigest()[:size]}.md"
    stem = name[:-3].encode()[: 255 - len(suffix)].decode(errors="ignore").rstrip(". ")
    return stem + suffix


def valid_filename(name: str) -> bool:
    """True when ``name`` is a valid post file name on Linux, macOS and Windows."""
    return (
        bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}-.+\.md", name))
        and not _BAD_NAME_CHARS.search(name)
        and ".." not in name
        and len(name.encode("utf-8")) <= 255
        and name == unicodedata.normalize("NFC", name)
        and not name.endswith(" .md")  # a trailing dot is a ".." (refused above)
    )
