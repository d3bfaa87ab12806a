"""Whether an old mirror's post may be published again exactly as it was.

Byte-for-byte re-export keeps an adopted mirror's history and URLs, but the bytes
came from the web through a writer that sanitised nothing. They are kept only when
every element is an article element the sanitiser keeps (or an inert layout one, or a
frame of a video host the sanitiser allows), every URL a browser would read is, once
its character references are read as a browser reads them, a plain http(s) or relative
one (or, in an image, an image of its own as a ``data:`` URL), and nothing would run in
Jekyll or a browser: no script, style element, link (but a font's preload), object or
form, no event handler, no style with url(), expression(), a character reference or
anything that reaches past the post's box (a transform, outline, shadow or negative
length), no Liquid, kramdown attribute list or footnote, no Markdown link to anything
but http(s) or relative, no comment but the old writer's date line and plain notes
(``<!-- /.block -->``), no attribute given twice where it decides (a browser reads the
first). Anything else is
rendered (and sanitised) as any newsmirror post is. A conservative allowlist, not a
sanitiser; tests/test_adopt.py checks what it lets through against a browser's parser.
"""

from __future__ import annotations

import html
import re

from newsmirror.clean import ARTICLE_TAGS, DEFAULT_IFRAME_HOSTS, safe_url

# Inert layout elements and attributes the old mirrors' posts are full of.
_TAGS = ARTICLE_TAGS | {
    "article", "section", "header", "footer", "main", "aside", "nav", "center", "address",
    "hgroup", "font", "noscript",
}  # fmt: skip
# Attributes a browser reads as a URL or as code: checked, or refused. Any other
# attribute on an allowed element is inert (class, id, width, data-*, …).
_REFUSED = {"srcdoc", "formaction", "action", "background", "dynsrc", "lowsrc", "ping",
            "xlink:href", "manifest", "codebase", "data", "imagesrcset", "usemap",
            "longdesc", "is"}  # fmt: skip
_STYLE = re.compile(r"[-a-zA-Z0-9\s:;.,%#()]*")
# What fetches, or reaches past the post's box over the page's header: a transform, an
# outline or shadow thousands of pixels wide, and (below) a negative length or calc().
_RISKY_STYLE = ("url", "expression", "position", "fixed", "absolute", "z-index", "import",
                "transform", "translate", "scale", "rotate", "matrix", "skew", "offset",
                "outline", "shadow", "zoom")  # fmt: skip
_NEGATIVE = re.compile(r"(?<![a-z])-|-(?![a-z])")  # a "-" that is not inside a name

# A tag name runs to a blank, "/" or ">": "<img_a=' onclick=x '>" is no <img> to a browser.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)(?=[\s/>])([^<>]*)>")
_ATTR = re.compile(r"""\s*([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_URL_ATTRS = {"href", "src", "cite", "poster"}  # a safe http(s) or relative URL
_URL_DROPPED = re.compile(r"[\t\n\r]")  # a browser drops these anywhere in a URL
_C0_AND_SPACE = "".join(map(chr, range(0x21)))  # and these at its ends
_DATE_LINE = re.compile(r"<!--(?:-?\d+|NaN)-->")
_NOTE = re.compile(r"<!--(?:[\w\s/.:#]|-(?!-))*-->")  # a plain note: words, no markup or [if IE]
# Liquid, kramdown's attribute lists and extensions ({: onclick=...}, {::nomarkdown}),
# footnotes (kramdown dies on one that holds only definitions, and the whole site with it)
# and markup the tag reader does not read.
_UNSAFE_TEXT = re.compile(r"\{[{%:]|\[\^|<!|<\?|\]\]>", re.IGNORECASE)
# Markdown's link and image targets, inline "](url" and reference "[x]: url": kramdown
# makes them href and src attributes, which the tag reader never sees. A target is read
# up to the first ")" or the line's end (kramdown's holds tabs and line ends, which a
# browser drops), and a definition anywhere (in a quote, list or table it counts too).
_MARKDOWN_URL = re.compile(r"\]\(\s*<?([^)]*)|\[[^\]\n]+\]:[ \t]*<?([^\n]*)")
_IMAGE_DATA = re.compile(r"data:image/(?:png|gif|jpeg|webp|avif);base64,[A-Za-z0-9+/=\s]*\Z")
_PRELOAD_ATTRS = {"rel", "as", "href", "type", "crossorigin"}
_FRAME_ATTRS = {"src", "width", "height", "frameborder", "allowfullscreen", "allow", "title",
                "scrolling", "loading", "referrerpolicy", "sandbox"}  # fmt: skip


def _url_ok(value: str, image: bool = False) -> bool:
    """Whether ``value`` (an attribute's text) is a URL a browser reads as http(s) or
    relative (``image``: or an image in a data: URL). Its character references are read
    first, as the browser reads them: where Python reads more (a legacy name with no
    ";" in an attribute), the browser keeps a "&", which no scheme holds."""
    url = html.unescape(value)
    if image and _IMAGE_DATA.match(url.strip()):
        return True
    scheme = _URL_DROPPED.sub("", url).lstrip(_C0_AND_SPACE)[:7].lower()
    return bool(url.strip()) and safe_url(url) and scheme != "mailto:"


def _srcset_ok(value: str, image: bool) -> bool:
    """Every candidate URL of a srcset (its references read first: "&#44;" is a comma)."""
    return all(_url_ok(url, image) for url in srcset_urls(html.unescape(value)) if url)


def srcset_urls(value: str) -> list[str]:
    """The candidate URLs of a srcset as the HTML standard reads them: a URL is a run of
    non-blank characters (a data: URL holds commas); its descriptors end at a comma."""
    urls: list[str] = []
    pos, blank = 0, " \t\n\r\f"
    while True:
        while pos < len(value) and value[pos] in blank + ",":
            pos += 1
        if pos >= len(value):
            return urls
        start = pos
        while pos < len(value) and value[pos] not in blank:
            pos += 1
        urls.append(value[start:pos].rstrip(","))
        if value[start:pos].endswith(","):
            continue
        in_parens = False  # no nesting: the first ")" closes them (Chromium agrees)
        while pos < len(value):  # descriptors, up to a comma outside parentheses
            char = value[pos]
            pos += 1
            if char in "()":
                in_parens = char == "("
            elif char == "," and not in_parens:
                break


def _value_ok(tag: str, name: str, value: str | None) -> bool:
    if value is None:
        return name not in _URL_ATTRS and name != "srcset"
    image = tag in ("img", "source")
    if name in _URL_ATTRS:
        return _url_ok(value, image and name == "src")
    if name == "srcset":
        return _srcset_ok(value, image)
    if name == "style":  # layout only: nothing that could cover the page or fetch
        lowered = value.lower()
        return (  # _STYLE has no "&": a character reference could spell any word below
            not any(word in lowered for word in _RISKY_STYLE)
            and not _NEGATIVE.search(lowered)
            and bool(_STYLE.fullmatch(value))
        )
    return True


def _named_once(text: str, allowed: set[str]) -> dict[str, str | None] | None:
    """A tag's attributes by name when each is read, allowed and given once (a browser
    takes the first of two, a dict the last: ``src="https://evil/" src="https://ok/"``),
    else None."""
    pairs = _attribute_pairs(text)
    found = {name: value for name, value in pairs if name is not None}
    if len(found) != len(pairs) or not found.keys() <= allowed:
        return None
    return found


def _frame_ok(text: str) -> bool:
    """An ``<iframe>`` of a video host the sanitiser allows (https), with layout
    attributes only."""
    found = _named_once(text, _FRAME_ATTRS)
    src = (found or {}).get("src")
    if not src:
        return False
    host = re.match(r"(?:https:)?//([^/?#\\@:]+)/", html.unescape(src).strip())  # "//host/": https
    return host is not None and host.group(1).lower() in DEFAULT_IFRAME_HOSTS


def _font_preload_ok(text: str) -> bool:
    """A ``<link>`` that only preloads a font from an http(s) or relative URL (49 of the old
    mirrors' posts carry two): a fetch like an image's, nothing applied or run. Any
    other link (a stylesheet, an icon, an import) is refused; ``rel`` and ``as`` must be
    exactly those words (a character reference there is refused, not read)."""
    found = _named_once(text, _PRELOAD_ATTRS)
    if found is None or None in found.values():
        return False
    href = found.get("href")
    return (
        (found.get("rel") or "").lower() == "preload"
        and (found.get("as") or "").lower() == "font"
        and href is not None
        and _url_ok(href)
    )


def _attribute_pairs(text: str) -> list[tuple[str | None, str | None]]:
    """(name, value) of each attribute of a tag's text; (None, None) where it cannot be
    read."""
    pairs: list[tuple[str | None, str | None]] = []
    position = 0
    text = text.rstrip().removesuffix("/").rstrip()
    while position < len(text):
        match = _ATTR.match(text, position)
        if match is None or match.end() == position:
            return [*pairs, (None, None)]
        value = match.group(2)
        if value is not None and value[0] in "\"'":
            value = value[1:-1]
        pairs.append((match.group(1).lower(), value))
        position = match.end()
    return pairs


def _attributes_ok(tag: str, text: str) -> bool:
    for name, value in _attribute_pairs(text):
        if name is None or name.startswith("on") or name in _REFUSED:
            return False
        if not _value_ok(tag, name, value):
            return False
    return True


def may_keep(text: str) -> bool:
    """Whether the post ``text`` (front matter and body) may be published unchanged."""
    body = _NOTE.sub("", _DATE_LINE.sub("", text))
    if _UNSAFE_TEXT.search(body):  # any comment left ("<!") too
        return False
    for match in _MARKDOWN_URL.finditer(body):
        url = match.group(1) if match.group(1) is not None else match.group(2)
        if url and not _url_ok(url):
            return False
    for match in _TAG.finditer(body):
        tag = match.group(2).lower()
        if tag == "iframe":
            if not match.group(1) and not _frame_ok(match.group(3)):
                return False
        elif tag == "link":
            if match.group(1) or not _font_preload_ok(match.group(3)):
                return False
        elif tag not in _TAGS or (not match.group(1) and not _attributes_ok(tag, match.group(3))):
            return False
    # A "<" that starts no tag the pattern reads (e.g. "<scr<script>ipt>") is refused too.
    return body.count("<") == len(_TAG.findall(body))
