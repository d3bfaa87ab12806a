"""Sanitising untrusted text and HTML from the web.

Feed and page HTML goes through nh3 (ammonia) with an allowlist suited to
articles before it is stored. Ordinary article markup, such as the seed post's
``<p>``, ``<a href>`` and ``<h2>``, comes out byte for byte unchanged.
"""

from __future__ import annotations

import html
import re

import nh3

ARTICLE_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "bdi",
        "bdo",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "picture",
        "pre",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "small",
        "source",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "u",
        "ul",
        "var",
        "wbr",
        "audio",
        "video",
    }
)
ARTICLE_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height", "srcset", "sizes"},
    "source": {"src", "srcset", "type", "media", "sizes"},
    "audio": {"src", "controls"},
    "video": {"src", "controls", "poster", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "ol": {"start", "type", "reversed"},
    "li": {"value"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Elements removed together with everything inside them.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "form",
        "textarea",
        "select",
        "button",
    }
)

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
_LINEBREAK = re.compile(r"[\t\n\r]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str | None) -> str:
    """One line of plain text: controls removed, line breaks as spaces, trimmed."""
    if not text:
        return ""
    text = _SURROGATE.sub("", text)
    text = _LINEBREAK.sub(" ", text)
    return _CONTROL.sub("", text).strip()


def strip_tags(markup: str) -> str:
    """Plain text of an HTML fragment (for titles given as HTML)."""
    if "<" not in markup and "&" not in markup:
        return markup
    return html.unescape(nh3.clean(markup, tags=set(), attributes={}))


def sanitize_html(markup: str | None) -> str:
    """Article HTML with everything active removed (script, style, handlers, js: URLs)."""
    if not markup:
        return ""
    markup = _SURROGATE.sub("", markup)
    markup = _CONTROL.sub("", markup)
    return nh3.clean(
        markup,
        tags=set(ARTICLE_TAGS),
        attributes={k: set(v) for k, v in ARTICLE_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=None,
        strip_comments=True,
        clean_content_tags=set(DROPPED_WITH_CONTENT),
    )
