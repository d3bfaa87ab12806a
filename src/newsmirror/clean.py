"""Sanitising untrusted text and HTML from the web.

Feed and page HTML goes through nh3 (ammonia) with an allowlist suited to
articles before it is stored. Ordinary article markup, such as the seed post's
``<p>``, ``<a href>`` and ``<h2>``, comes out byte for byte unchanged.
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
from collections.abc import Iterable
from itertools import accumulate
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

# C0 and C1 controls, DEL, the Unicode line/paragraph separators and, in one line of
# text (a title, a name, a tag), the bidi embeddings, overrides and isolates: one in a
# title would reverse what a page shows after it on the same line (its date, source).
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]"
)
_LINEBREAK = re.compile(r"[\t\n\r]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Both at once: removing the one cannot make or unmake the other.
_CONTROL_OR_SURROGATE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]"
)
# How a browser reads a URL's scheme: tab and line breaks go, C0 controls and spaces trimmed.
_URL_BLANKS = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_URL_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")


def clean_text(text: str | None) -> str:
    """One line of plain text: controls removed, line breaks as spaces, trimmed."""
    if not text:
        return ""
    if text.isprintable():
        return text.strip()  # none of the characters below is printable
    text = _SURROGATE.sub("", text)
    text = _LINEBREAK.sub(" ", text)
    return _CONTROL.sub("", text).strip()


def strip_tags(markup: str) -> str:
    """Plain text of an HTML fragment (for titles given as HTML)."""
    if "<" not in markup and "&" not in markup:
        return markup
    return html.unescape(nh3.clean(markup, tags=set()))


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
# Bounds on hostile markup: HTML parsers take time quadratic in the attributes of one
# element, and a deeply nested tree overflows the stack of readers (kramdown in Jekyll).
MAX_ATTRIBUTES = 100
MAX_DEPTH = 100
_ATTRIBUTE = re.compile(
    r"""[\s/]*+[^\s/>][^\s/>=]*+(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s>]++))?+"""
)
_START_TAG = re.compile(_TAG_NAME.pattern + "(?:" + _ATTRIBUTE.pattern + ")*+")
# Markup in which every start tag that _START_TAG.sub meets (scanning as it does: text, a
# "<" that opens no tag, a whole start tag) has at most MAX_ATTRIBUTES attributes, so that
# cap_markup keeps it as it is: a start tag with more makes the whole match fail.
_UNCROWDED = re.compile(
    rf"(?:[^<]++|<(?![A-Za-z])|<[A-Za-z][^\s/>]*+"
    rf"(?:{_ATTRIBUTE.pattern}){{0,{MAX_ATTRIBUTES}}}+(?!{_ATTRIBUTE.pattern}))*+"
)
# In nh3's output every "<" opens a tag: text and attribute values have it escaped, and
# the one raw-text element allowed (iframe) is emptied first.
_IFRAME_CONTENT = re.compile(r"(<iframe\b[^>]*>).*?</iframe>", re.S)
_OUT_TAG = re.compile(r"<(/?)([a-z][a-z0-9]*)[^>]*>")
_VOID = frozenset({"br", "col", "hr", "img", "source", "wbr"})
# The same matches as _OUT_TAG, each giving what it does to the depth of nesting: a void
# element's name (and "/") for none, "" for a start tag and "/" for an end tag.
_OUT_STEP = re.compile(r"<(/?(?:" + "|".join(sorted(_VOID)) + r")(?![a-z0-9])|/?(?=[a-z]))[^>]*>")
_STEPS = {"": 1, "/": -1} | {prefix + name: 0 for name in _VOID for prefix in ("", "/")}
_FLAT_BLOCKS = frozenset(
    {"div", "p", "blockquote", "ul", "ol", "li", "dl", "dt", "dd", "table", "caption",
     "thead", "tbody", "tfoot", "tr", "td", "th", "figure", "figcaption", "pre", "details",
     "summary", "h1", "h2", "h3", "h4", "h5", "h6", "audio", "video", "picture"}
)  # fmt: skip


def best_srcset(srcset: str) -> str:
    """The widest candidate of a srcset (the last one when widths are not given)."""
    candidates = [bits for part in srcset.split(",") if (bits := part.split())]
    if not candidates:
        return ""
    ranked = [(_srcset_width(bits[1:]), position) for position, bits in enumerate(candidates)]
    return candidates[max(ranked)[1]][0]


def _srcset_width(descriptors: list[str]) -> float:
    """A candidate's width; 1x counts as 1000 pixels, no descriptor as less than any."""
    if descriptors and descriptors[0][:-1].replace(".", "", 1).isdigit():
        return float(descriptors[0][:-1]) * (1000 if descriptors[0].endswith("x") else 1)
    return -1.0


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
            best = best_srcset(img.get("srcset") or img.get("data-srcset") or "")
            if best:
                img.set("src", best)


def unwrap_proxy(url: str) -> str:
    """The image behind an image proxy (images.weserv.nl/?url=…, i0.wp.com/…)."""
    if not _may_name_a_proxy(url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = parts.hostname or ""  # lower-cased by urlsplit
    if host in _PROXIES:
        inner = dict(parse_qsl(parts.query)).get("url")
        if inner:
            return inner if "://" in inner else "https://" + inner.lstrip("/")
    if _PHOTON.match(host) and parts.path.count("/") >= 2:
        return "https://" + parts.path.lstrip("/")
    return url


def _may_name_a_proxy(url: str) -> bool:
    """False only when no host urlsplit can find in ``url`` is a proxy's: its hostname is
    a lower-cased part of the URL once tab and line breaks are gone."""
    if "\t" in url or "\n" in url or "\r" in url:
        return True
    lowered = url.lower()
    return "weserv.nl" in lowered or "wsrv.nl" in lowered or ".wp.com" in lowered


def _crowded_tag(match: re.Match[str]) -> str:
    markup, start, end = match.string, match.start(), match.end()
    for count, attribute in enumerate(_ATTRIBUTE.finditer(markup, match.end(1), end), 1):
        if count == MAX_ATTRIBUTES:
            return markup[start : attribute.end()]
    return match.group()


MAX_TAGS = 50_000  # start tags of a page extracted (the largest article page seen has 10,000)
_ANY_START_TAG = re.compile(r"<[A-Za-z]")


def cap_tags(page: str, limit: int = MAX_TAGS) -> str:
    """``page`` up to its ``limit``-th start tag (extraction's time grows faster than the
    number of elements: minutes for a 10 MB page of tiny ones)."""
    if page.count("<") <= limit:
        return page
    for count, match in enumerate(_ANY_START_TAG.finditer(page)):
        if count == limit:
            return page[: match.start()]
    return page


def cap_markup(markup: str) -> str:
    """``markup`` with at most MAX_ATTRIBUTES attributes per start tag (the first ones),
    done before any HTML parser sees it; linear in the length of the markup."""
    if _UNCROWDED.fullmatch(markup):
        return markup  # the usual case, found without a call back to Python per tag
    return _START_TAG.sub(_crowded_tag, markup)


def flatten_deep(markup: str) -> str:
    """nh3's output with the elements nested deeper than MAX_DEPTH unwrapped: their text
    and void elements stay, a block's edges become line breaks."""
    if "<iframe" in markup:
        markup = _IFRAME_CONTENT.sub(r"\1</iframe>", markup)
    depths = list(accumulate(map(_STEPS.__getitem__, _OUT_STEP.findall(markup))))
    if not depths or (max(depths) <= MAX_DEPTH and min(depths) >= 0):
        return markup  # nothing nested too deep (and every end tag closes an element)
    out: list[str] = []
    open_tags: list[bool] = []  # per open element: whether it was unwrapped
    position = 0
    for match in _OUT_TAG.finditer(markup):
        out.append(markup[position : match.start()])
        position = match.end()
        closing, name = match.group(1), match.group(2)
        if name in _VOID:
            out.append(match.group())
            continue
        if closing:
            dropped = open_tags.pop()
        else:
            dropped = len(open_tags) >= MAX_DEPTH
            open_tags.append(dropped)
        if not dropped:
            out.append(match.group())
        elif name in _FLAT_BLOCKS:
            out.append("<br>")
    out.append(markup[position:])
    return "".join(out)


def safe_url(value: str) -> bool:
    """Whether a browser reads ``value`` as a relative, http(s) or mailto: URL."""
    if value.startswith(("https://", "http://")):
        return True  # the usual case, read as below
    value = _URL_BLANKS.sub("", value).strip(_C0_AND_SPACE)
    scheme = _URL_SCHEME.match(value)
    return scheme is None or scheme.group(1).lower() in URL_SCHEMES


def _absolute_url(base: str, value: str) -> str:
    value = value.strip()
    if not value or value.startswith("#"):
        return value
    if not value.startswith(("https://", "http://")):
        value = absolute(base, value)
    return unwrap_proxy(value)


_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
# An https URL's host as every reader of URLs agrees on it: letters, digits, dots and
# hyphens right after "https://", then the path, query, fragment or the end (no user
# info, no port but 443, no "\\", which a browser reads as "/" and urlsplit does not).
_PLAIN_HTTPS_HOST = re.compile(r"https://([a-z0-9.-]+)(?::443)?(?:[/?#]|$)", re.I)


def _plain_https_host(src: str) -> str | None:
    """The host of ``src`` when it is a plain ``https://HOST/`` as a browser reads it
    (WHATWG URL: tabs and line breaks dropped, C0 controls and spaces at either end
    stripped), lower-cased; None for anything else."""
    found = _PLAIN_HTTPS_HOST.match(_TAB_OR_NEWLINE.sub("", src).strip(_C0_OR_SPACE))
    return found.group(1).lower() if found else None


def _iframe_allowed(src: str, hosts: Iterable[str]) -> bool:
    """Whether a frame's ``src`` leads to one of ``hosts`` over https, as a browser reads
    it. Anything else is refused, however urlsplit reads it:
    ``https://evil.example\\@www.youtube.com/`` is youtube to urlsplit, evil to a browser."""
    host = _plain_https_host(src)
    return host is not None and host in set(hosts)


_STORED_FRAME = re.compile(r"<iframe\b[^>]*>.*?</iframe>", re.S | re.I)
_SRC_ATTR = re.compile(r'\ssrc="([^"]*)"', re.I)


def drop_misread_frames(markup: str) -> str:
    """Sanitised ``markup`` without the frames whose ``src`` urlsplit and a browser read
    as two hosts, or that no plain https host names (bodies sanitised before
    :func:`_iframe_allowed` read URLs as browsers do kept them: see schema migration 13)."""
    if "<iframe" not in markup.lower():
        return markup

    def check(match: re.Match[str]) -> str:
        found = _SRC_ATTR.search(match.group(0).split(">", 1)[0])
        src = html.unescape(found.group(1)) if found else ""
        try:
            host = urlsplit(src).hostname
        except ValueError:
            host = None
        plain = _plain_https_host(src)
        return match.group(0) if plain is not None and plain == host else ""

    return _STORED_FRAME.sub(check, markup)


def _has_lazy_hint(markup: str) -> bool:
    # Every hint but srcset has "data-" in it: two quick searches rule out most markup.
    if "data-" not in markup and "srcset" not in markup:
        return False
    return any(hint in markup for hint in _LAZY_HINTS)


def _needs_tree(markup: str, prepared: bool) -> bool:
    """Whether the markup needs the lxml pass: lazy images, or an element outside the
    allowlist whose text nh3 alone would lose (svg, math, iframe and noscript content)."""
    if not prepared and _has_lazy_hint(markup):
        return True
    names = set(_TAG_NAME.findall(markup))
    if names <= ARTICLE_TAGS:
        return False  # the usual case: lower-case names, as lower() leaves them
    return not ARTICLE_TAGS.issuperset(map(str.lower, names))


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


def _is_embed(frame: lxml.html.HtmlElement, base: str, hosts: Iterable[str]) -> bool:
    """Whether the iframe is an allowed embed (its fallback text goes in flatten_deep)."""
    return _iframe_allowed(_absolute_url(base, frame.get("src") or ""), hosts)


def _open_iframes(root: lxml.html.HtmlElement, base: str, hosts: Iterable[str]) -> None:
    """Allowed embeds keep only their src; other iframes give way to their fallback markup
    (which the parser keeps as text inside the iframe), nested ones too, up to a bound."""
    for _ in range(_MAX_IFRAME_NESTING):
        others = [frame for frame in root.iter("iframe") if not _is_embed(frame, base, hosts)]
        if not others:
            return
        for frame in others:
            fallback, frame.text = (frame.text or "").strip(), None
            if fallback:
                inner = lxml.html.fragment_fromstring(fallback, create_parent=True)
                frame.text = inner.text
                frame.extend(list(inner))
            frame.drop_tag()
    for frame in [frame for frame in root.iter("iframe") if not _is_embed(frame, base, hosts)]:
        frame.drop_tree()  # nested deeper than the bound


def _drop_repeated_noscript_images(root: lxml.html.HtmlElement, base: str) -> None:
    """An image in <noscript> that repeats one outside it (lazy-loading fallback) goes."""
    if next(root.iter("noscript"), None) is None:
        return  # the usual case
    seen = {
        _absolute_url(base, img.get("src") or "")
        for img in root.iter("img")
        if next(img.iterancestors("noscript"), None) is None
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
    root = lxml.html.fragment_fromstring(markup, create_parent=True)
    if lazy:
        fix_lazy_images(root)
    for element in list(root.iter(*DROPPED_WITH_CONTENT)):
        element.drop_tree()
    _open_iframes(root, base, tuple(iframe_hosts))
    _drop_repeated_noscript_images(root, base)
    for element in list(root.iterdescendants(lxml.etree.Element)):  # comments stay
        name = element.tag.lower()
        if name not in ARTICLE_TAGS and name != "iframe":
            _unwrap(element, name)
    return _inner_html(root)


def _inner_html(root: lxml.html.HtmlElement) -> str:
    """What is inside the fragment's wrapper: its text escaped, then its children (each
    with its tail), in one serialisation of the wrapper rather than one per child."""
    text, root.text = root.text, None
    whole = lxml.html.tostring(root, encoding=str)
    start, end = f"<{root.tag}>", f"</{root.tag}>"
    if root.attrib or not (whole.startswith(start) and whole.endswith(end)):
        inner = "".join(lxml.html.tostring(child, encoding=str) for child in root)
    else:
        inner = whole[len(start) : len(whole) - len(end)]
    return html.escape(text or "") + inner


class _Call(threading.local):
    """What the attribute filter of this thread's current sanitize_html call needs."""

    base_url = ""
    hosts: tuple[str, ...] = ()


_CALL = _Call()


def _keep(tag: str, attr: str, value: str) -> str | None:
    """nh3's attribute filter: URLs made absolute and checked, srcset's too."""
    if attr in _URL_ATTRS:
        if (
            value.startswith(("https://", "http://"))
            and not value[-1].isspace()
            and tag != "iframe"
            and not _may_name_a_proxy(value)
        ):
            return value  # the usual case: the slow way below gives it back as it is
        value = _absolute_url(_CALL.base_url, value)
        if tag == "iframe" and not _iframe_allowed(value, _CALL.hosts):
            return None
        # Checked again: unwrapping an https proxy URL may give any scheme.
        return value if safe_url(value) else None
    if attr == "srcset":
        base_url = _CALL.base_url
        candidates = [
            " ".join([url, *bits[1:]])
            for part in value.split(",")
            if (bits := part.split()) and is_http_url(url := _absolute_url(base_url, bits[0]))
        ]
        return ", ".join(candidates) or None
    return value


class _Cleaners(threading.local):
    """This thread's nh3 cleaners (with and without iframes), built once: building one
    per call costs more than a third of nh3's own time on an article."""

    def __init__(self) -> None:
        self.by_iframes: dict[bool, nh3.Cleaner] = {}


_CLEANERS = _Cleaners()


def _cleaner(iframes: bool) -> nh3.Cleaner:
    cleaner = _CLEANERS.by_iframes.get(iframes)
    if cleaner is None:
        tags = set(ARTICLE_TAGS) | ({"iframe"} if iframes else set())
        attributes = {k: set(v) for k, v in ARTICLE_ATTRIBUTES.items()}
        if iframes:
            attributes["iframe"] = {"src", "width", "height", "allowfullscreen"}  # title: "*"
        # nh3 drops script and style with their content by default, and a template's
        # content never reaches its tree; url_schemes repeats _keep's check, as a second line.
        cleaner = _CLEANERS.by_iframes[iframes] = nh3.Cleaner(
            tags=tags,
            attributes=attributes,
            attribute_filter=_keep,
            url_schemes=set(URL_SCHEMES),
            link_rel=None,
        )
    return cleaner


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
    markup = cap_markup(_CONTROL_OR_SURROGATE.sub("", markup))
    hosts = tuple(iframe_hosts)
    if _needs_tree(markup, prepared):
        # Unparsable for lxml (lxml.html asserts on a document without a body): nh3 alone
        # still makes it safe (some text may be lost).
        with contextlib.suppress(lxml.etree.LxmlError, ValueError, AssertionError):
            markup = _prepare_tree(markup, base_url, hosts, lazy=not prepared)
    _CALL.base_url, _CALL.hosts = base_url, hosts
    clean = _cleaner(bool(hosts)).clean(markup)
    return flatten_deep(clean)


def sanitize_article(
    markup: str | None,
    *,
    base_url: str,
    iframe_hosts: Iterable[str] = DEFAULT_IFRAME_HOSTS,
    prepared: bool = False,
) -> str:
    """:func:`sanitize_html` for an article at ``base_url``."""
    return sanitize_html(markup, base_url=base_url, iframe_hosts=iframe_hosts, prepared=prepared)
