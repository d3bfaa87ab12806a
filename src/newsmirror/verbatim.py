"""Whether an old mirror's post may be published again exactly as it was.

Byte-for-byte re-export keeps an adopted mirror's history and URLs, but the bytes
came from the web through a writer that sanitised nothing. They are kept only when
every element is an article element the sanitiser keeps (or an inert layout one),
every URL a browser would read is a plain http(s) or relative one, and nothing would
run in Jekyll or a browser: no script, style element, frame, object or form, no event
handler, no style with url() or expression(), no Liquid, no comment but the old
writer's date line, no character reference where a URL is read. Anything else is rendered (and
sanitised) as any newsmirror post is. A conservative allowlist, not a sanitiser.
"""

from __future__ import annotations

import html
import re

from newsmirror.clean import ARTICLE_TAGS, safe_url

# Inert layout elements and attributes the old mirrors' posts are full of.
_TAGS = ARTICLE_TAGS | {
    "article", "section", "header", "footer", "main", "aside", "nav", "center", "address",
    "hgroup", "font",
}  # fmt: skip
# Attributes a browser reads as a URL or as code: checked, or refused. Any other
# attribute on an allowed element is inert (class, id, width, data-*, …).
_REFUSED = {"srcdoc", "formaction", "action", "background", "dynsrc", "lowsrc", "ping",
            "xlink:href", "manifest", "codebase", "data", "imagesrcset", "usemap",
            "longdesc", "is"}  # fmt: skip
_STYLE = re.compile(r"[-a-zA-Z0-9\s:;.,%#()]*")

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)([^<>]*)>")
_ATTR = re.compile(r"""\s*([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_URL_ATTRS = {"href", "src", "cite", "poster"}  # a safe http(s) or relative URL
_DATE_LINE = re.compile(r"<!--(?:-?\d+|NaN)-->")
_UNSAFE_TEXT = re.compile(r"\{[{%]|<!|<\?|\]\]>", re.IGNORECASE)


def _url_ok(value: str) -> bool:
    url = html.unescape(value)
    return bool(url.strip()) and safe_url(url) and not url.lower().startswith("mailto:")


def _value_ok(name: str, value: str | None) -> bool:
    if value is None:
        return name not in _URL_ATTRS and name != "srcset"
    if "&#" in value or ("&" in value and "&amp;" not in value and name in _URL_ATTRS):
        return False  # a character reference where a browser reads a URL
    if name in _URL_ATTRS:
        return _url_ok(value)
    if name == "srcset":
        return all(_url_ok(part.split()[0]) for part in value.split(",") if part.split())
    if name == "style":  # layout only: nothing that could cover the page or fetch
        lowered = value.lower()
        risky = ("url", "expression", "position", "fixed", "absolute", "z-index", "import")
        return not any(word in lowered for word in risky) and bool(_STYLE.fullmatch(value))
    return True


def _attributes_ok(tag: str, text: str) -> bool:
    position = 0
    text = text.rstrip().removesuffix("/")
    while position < len(text):
        match = _ATTR.match(text, position)
        if match is None or match.end() == position:
            return False
        name, value = match.group(1).lower(), match.group(2)
        if name.startswith("on") or name in _REFUSED:
            return False
        if value is not None and value[0] in "\"'":
            value = value[1:-1]
        if not _value_ok(name, value):
            return False
        position = match.end()
    return True


def may_keep(text: str) -> bool:
    """Whether the post ``text`` (front matter and body) may be published unchanged."""
    body = _DATE_LINE.sub("", text)
    if _UNSAFE_TEXT.search(body) or "<!--" in body:
        return False
    for match in _TAG.finditer(body):
        tag = match.group(2).lower()
        if tag not in _TAGS:
            return False
        if not match.group(1) and not _attributes_ok(tag, match.group(3)):
            return False
    # A "<" that starts no tag the pattern reads (e.g. "<scr<script>ipt>") is refused too.
    return body.count("<") == len(_TAG.findall(body))
