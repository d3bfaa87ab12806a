"""Sanitising untrusted text and HTML from the web.

Feed and page HTML goes through nh3 (ammonia) with an allowlist suited to
articles before it is stored. Ordinary article markup, such as the seed post's
``<p>``, ``<a href>`` and ``<h2>``, comes out byte for byte unchanged.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

import lxml.etree
import lxml.html
import nh3

from newsmirror.urls import absolute, is_http_url

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
# Elements removed together with everything inside them: code, styles and inert templates,
# which no reader ever saw as text. Every other element outside the allowlist (svg and its
# chart labels, math, buttons, forms, select/option, object, iframes outside the allowlist,
# noscript, unknown tags) is unwrapped: the element goes, its text and allowed markup stay.
# noscript is unwrapped because its content is what readers without JavaScript saw, and every
# page newsmirror publishes is read without JavaScript; only an image that repeats one already
# in the article (the usual lazy-loading fallback) is dropped from it.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "template"})
# Unwrapped elements whose text a browser shows apart from its neighbours' (chart labels,
# options, buttons): a space keeps their words apart once the element is gone.
_SEPARATED = frozenset({"text", "tspan", "textpath", "option", "button", "textarea", "label"})
_TAG_NAME = re.compile(r"<([A-Za-z][^\s/>]*)")

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


DEFAULT_IFRAME_HOSTS = (
    "www.youtube.com",
    "youtube.com",
    "www.youtube-nocookie.com",
    "player.vimeo.com",
)
_URL_ATTRS = {"href", "src", "poster", "cite"}
_PROXIES = {"images.weserv.nl", "wsrv.nl"}
_PHOTON = re.compile(r"^i[0-3]\.wp\.com$")
LAZY_ATTRS = (
    "data-src",
    "data-original",
    "data-lazy-src",
    "data-actualsrc",
    "data-url",
    "data-echo",
    "data-lazyload",
)
_LAZY_HINTS = (*LAZY_ATTRS, "data-lazy", "srcset")
# Unknown block elements become <div> so that their text stays apart from the next block.
_BLOCKS = frozenset(
    {"section", "article", "header", "footer", "main", "aside", "nav", "center", "form",
     "fieldset", "legend", "address", "hgroup", "dialog", "search", "foreignobject"}
)  # fmt: skip
_MAX_IFRAME_NESTING = 8


def best_srcset(srcset: str) -> str:
    """The widest candidate of a srcset (the last one when widths are not given)."""
    best, best_w = "", -1.0
    for part in srcset.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        width = -0.5
        if len(bits) > 1 and bits[1][:-1].replace(".", "", 1).isdigit():
            width = float(bits[1][:-1]) * (1000 if bits[1].endswith("x") else 1)
        if width >= best_w:
            best, best_w = bits[0], width
    return best


def _is_placeholder(src: str) -> bool:
    return (
        not src
        or src.startswith("data:")
        or src.endswith(("blank.gif", "spacer.gif", "grey.gif", "loading.gif"))
    )


def fix_lazy_images(root: lxml.html.HtmlElement) -> None:
    """Make lazy-loading images real: data-src & co, then srcset, become src."""
    for img in root.iter("img", "source"):
        src = img.get("src") or ""
        if not _is_placeholder(src):
            continue
        for attr in LAZY_ATTRS:
            if img.get(attr):
                img.set("src", img.get(attr))
                break
        else:
            srcset = img.get("srcset") or img.get("data-srcset") or ""
            if srcset and best_srcset(srcset):
                img.set("src", best_srcset(srcset))


def unwrap_proxy(url: str) -> str:
    """The image behind an image proxy (images.weserv.nl/?url=…, i0.wp.com/…)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    if host in _PROXIES:
        inner = dict(parse_qsl(parts.query)).get("url", "")
        if inner:
            return inner if "://" in inner else "https://" + inner.lstrip("/")
    if _PHOTON.match(host) and parts.path.count("/") >= 2:
        return "https://" + parts.path.lstrip("/")
    return url


def _absolute_url(base: str, value: str) -> str:
    value = value.strip()
    if not value or value.startswith(("#", "mailto:")):
        return value
    if base and not value.startswith(("https://", "http://")):
        value = absolute(base, value)
    if "weserv" in value or ".wp.com/" in value:  # cheap test before parsing the URL
        value = unwrap_proxy(value)
    return value


def _iframe_allowed(src: str, hosts: Iterable[str]) -> bool:
    try:
        parts = urlsplit(src)
    except ValueError:
        return False
    return parts.scheme == "https" and (parts.hostname or "").lower() in set(hosts)


def _needs_tree(markup: str, prepared: bool) -> bool:
    """Whether the markup needs the lxml pass: lazy images, or an element outside the
    allowlist whose text nh3 alone would lose (svg, math, iframe and noscript content)."""
    if not prepared and any(hint in markup for hint in _LAZY_HINTS):
        return True
    return any(name.lower() not in ARTICLE_TAGS for name in _TAG_NAME.findall(markup))


def _unwrap(element: lxml.html.HtmlElement, name: str) -> None:
    """Remove the element but keep its text and children in its place."""
    if name in _BLOCKS:
        element.tag = "div"
        element.attrib.clear()
        return
    if name in _SEPARATED:
        previous, parent = element.getprevious(), element.getparent()
        before = (previous.tail if previous is not None else parent.text) or ""
        if (before and not before[-1].isspace()) or (previous is not None and not before):
            element.text = " " + (element.text or "")
        after = element.tail or ""
        if (after and not after[0].isspace()) or (not after and element.getnext() is not None):
            element.tail = " " + after
    element.drop_tag()


def _open_iframes(root: lxml.html.HtmlElement, base: str, hosts: Iterable[str]) -> None:
    """Allowed embeds keep only their src; other iframes give way to their fallback markup
    (which the parser keeps as text inside the iframe), nested ones too, up to a bound."""
    for _ in range(_MAX_IFRAME_NESTING):
        opened = False
        for frame in list(root.iter("iframe")):
            fallback, frame.text = (frame.text or "").strip(), None
            src = _absolute_url(base, frame.get("src") or "")
            if _iframe_allowed(src, hosts):
                frame.set("src", src)
                continue
            opened = True
            if fallback:
                inner = lxml.html.fragment_fromstring(fallback, create_parent="span")
                frame.text = inner.text
                frame.extend(list(inner))
            frame.drop_tag()
        if not opened:
            return
    for frame in list(root.iter("iframe")):
        if not _iframe_allowed(frame.get("src") or "", hosts):
            frame.drop_tree()  # nested deeper than the bound


def _drop_repeated_noscript_images(root: lxml.html.HtmlElement, base: str) -> None:
    """An image in <noscript> that repeats one outside it (lazy-loading fallback) goes."""
    seen = {
        _absolute_url(base, img.get("src") or "")
        for img in root.iter("img")
        if not any(parent.tag == "noscript" for parent in img.iterancestors())
    }
    for noscript in root.iter("noscript"):
        for img in list(noscript.iter("img")):
            src = _absolute_url(base, img.get("src") or "")
            if src in seen:
                img.drop_tree()
            seen.add(src)


def _prepare_tree(markup: str, base: str, iframe_hosts: Iterable[str], *, lazy: bool) -> str:
    """The lxml pass: lazy images made real, script/style/template dropped, allowed iframes
    kept, and every other element outside the allowlist unwrapped so its text stays."""
    root = lxml.html.fragment_fromstring(markup, create_parent="div")
    if lazy:
        fix_lazy_images(root)
    for element in list(root.iter(*DROPPED_WITH_CONTENT)):
        element.drop_tree()
    _open_iframes(root, base, tuple(iframe_hosts))
    _drop_repeated_noscript_images(root, base)
    for element in list(root.iter()):
        name = element.tag.lower() if isinstance(element.tag, str) else ""
        if element is not root and name and name not in ARTICLE_TAGS and name != "iframe":
            _unwrap(element, name)
    return html.escape(root.text or "", quote=False) + "".join(
        lxml.html.tostring(child, encoding="unicode") for child in root
    )


def sanitize_html(
    markup: str | None,
    *,
    base_url: str = "",
    iframe_hosts: Iterable[str] = DEFAULT_IFRAME_HOSTS,
    prepared: bool = False,
) -> str:
    """Article HTML with everything active removed (script, style, handlers, js: and data:
    URLs, forms, iframes outside ``iframe_hosts``), links and images made absolute against
    ``base_url``, lazy images made real and image proxies unwrapped.

    Ordinary article markup with absolute links comes out byte for byte unchanged.
    ``prepared`` says lazy images and iframes were already dealt with (extracted pages).
    """
    if not markup:
        return ""
    markup = _SURROGATE.sub("", markup)
    markup = _CONTROL.sub("", markup)
    hosts = tuple(iframe_hosts)
    if _needs_tree(markup, prepared):
        # Unparsable for lxml: nh3 alone still makes it safe (some text may be lost).
        with contextlib.suppress(lxml.etree.LxmlError, ValueError):
            markup = _prepare_tree(markup, base_url, hosts, lazy=not prepared)

    def keep(tag: str, attr: str, value: str) -> str | None:
        if attr in _URL_ATTRS:
            value = _absolute_url(base_url, value)
            if tag == "iframe" and not _iframe_allowed(value, hosts):
                return None
            return value
        if attr == "srcset":
            candidates = [
                " ".join([url, *bits[1:]])
                for part in value.split(",")
                if (bits := part.split()) and is_http_url(url := _absolute_url(base_url, bits[0]))
            ]
            return ", ".join(candidates) or None
        return value

    tags = set(ARTICLE_TAGS) | ({"iframe"} if hosts else set())
    attributes = {k: set(v) for k, v in ARTICLE_ATTRIBUTES.items()}
    if hosts:
        attributes["iframe"] = {"src", "width", "height", "allowfullscreen", "title"}
    return nh3.clean(
        markup,
        tags=tags,
        attributes=attributes,
        attribute_filter=keep,
        url_schemes=set(URL_SCHEMES),
        link_rel=None,
        strip_comments=True,
        clean_content_tags=set(DROPPED_WITH_CONTENT) - ({"iframe"} if hosts else set()),
    )


def sanitize_article(
    markup: str | None,
    *,
    base_url: str,
    iframe_hosts: Iterable[str] = DEFAULT_IFRAME_HOSTS,
    prepared: bool = False,
) -> str:
    """:func:`sanitize_html` for an article at ``base_url``."""
    return sanitize_html(markup, base_url=base_url, iframe_hosts=iframe_hosts, prepared=prepared)
