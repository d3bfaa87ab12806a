"""Main-text extraction from article pages (trafilatura), with general clean-ups.

    page bytes -> decode (decode.py) -> parse once (trafilatura's parser; the tree is
      shared by both passes, the cut-short check and the metadata) -> prepare (lazy
      images, remove/selector)
      -> trafilatura, fast pass (HTML with structure, links, images, tables)
      -> boilerplate rules (link-dense blocks, menus, UI phrases)
      -> if it starts with page chrome, or looks cut short or off topic (and does not
         already hold nearly all the page's text): trafilatura's full pass, same rules
      -> captions back -> sanitise (clean.sanitize_article; links made absolute there)

The boilerplate rules are general (no site-specific rules): a block whose text
is mostly several short links is navigation; a list of three or more very short
items, or a run of five short blocks, without sentence punctuation is a menu; a
short block made only of common page-control phrases (打印, 小字号, 上一篇 ...) is
chrome. trafilatura's fast pass is used unless its result starts with chrome (then
its slower comparison with readability/jusText is worth paying for). On the
Chinese extraction corpus this raises plain trafilatura's mean F1 from 0.82 to
0.91 with no page worse, at about its speed (``benchmarks/extraction.py``).
"""

from __future__ import annotations

import html as html_module
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.htmlprocessing import build_html_output
from trafilatura.metadata import Document

from newsmirror.clean import (
    DEFAULT_IFRAME_HOSTS,
    cap_markup,
    cap_tags,
    fix_lazy_images,
    sanitize_article,
)
from newsmirror.errors import ExtractionError
from newsmirror.pagemeta import read_metadata
from newsmirror.urls import absolute

_BLOCKS = (
    "p",
    "li",
    "td",
    "th",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "dd",
    "dt",
    "figcaption",
    "pre",
    "div",
    "table",
    "ul",
    "ol",
    "figure",
)
_NAV_CONTAINERS = (
    "tr",
    "ul",
    "ol",
    "dl",
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "table",
    "div",
    "section",
)
_CHROME_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "span", "i", "b", "strong")
_UI_PHRASES = re.compile(
    "(?:"
    + "|".join(
        [
            "[大中小]字号",
            "字号",
            "打印(?:本[文页])?",
            "关闭(?:窗口|本页)?",
            "返回(?:顶部|页首|首页|列表)",
            "分享(?:到|至)?",
            "分享让更多人看到",
            "客户端下载",
            "[上下]一[篇页条]",
            "发表评论",
            "我要评论",
            "收藏(?:本文)?",
            "纠错",
            "复制链接",
            "扫[一描]扫",
            "字体",
            "默认",
            "推荐给朋友",
            "发送给朋友",
        ]
    )
    + ")+"
)
_SENTENCE_MARK = re.compile(r"[。，；！？.,;!?]")
# a mark that ends a clause: CJK ones anywhere, Latin ones before a space (not 1.5 or a.b.c)
_PROSE_MARK = re.compile(r"[。，；！？]|[.,;!?](?=\s|$)")
PROSE_MARKS_PER_LINK = 0.4
_SPACE = re.compile(r"\s+")
_NON_WORD = re.compile(r"[\s\W_]+")
_HAS_ROOT = re.compile(r"<(html|body)[\s>]", re.I)
LINK_DENSITY = 0.4
MAX_AVG_NAV_LINK = 25
MAX_MENU_ITEM = 8
MAX_SECOND_PASS = 200_000  # characters of page; a full pass on a bigger one costs too much


@dataclass(frozen=True)
class Extracted:
    html: str  # sanitised article HTML
    text: str  # its plain text, blocks on their own lines
    title: str = ""
    author: str = ""
    date: str = ""  # publication date in UTC (timeutil.to_iso), "" when the page gives none
    date_text: str = ""  # that date as the page wrote it


def _squash(text: str) -> str:
    """``text`` without its white space (str.split's white space is the regex's \\s; the
    split is several times faster than a substitution)."""
    return "".join(text.split())


def _captions(root: lxml.html.HtmlElement, base_url: str) -> dict[str, str]:
    """Caption text of each figure image, by its absolute src."""
    out = {}
    for figure in root.iter("figure"):
        caption = figure.find(".//figcaption")
        img = figure.find(".//img")
        if caption is not None and img is not None and img.get("src"):
            text = _SPACE.sub(" ", caption.text_content()).strip()
            if text:
                out[absolute(base_url, img.get("src"))] = text
    return out


def parse_page(page: str) -> lxml.html.HtmlElement:
    """The page parsed once, as trafilatura parses it (comments dropped), a fragment wrapped
    in html/body: the one tree its passes, the rules and the metadata share."""
    if not _HAS_ROOT.search(page[:5000]):
        page = f"<html><body>{page}</body></html>"
    try:
        root = trafilatura.load_html(page)
        if root is None:  # trafilatura's doubts about a document without a head
            root = lxml.html.document_fromstring(page)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"cannot parse the page: {exc}") from exc
    return root


def prepare(page: str, *, remove: Sequence[str] = ()) -> lxml.html.HtmlElement:
    """Parse a page, wrapping a fragment in html/body, with images fixed and ``remove`` gone."""
    root = parse_page(page)
    for selector in remove:
        for element in root.cssselect(selector):
            element.drop_tree()
    fix_lazy_images(root)
    return root


def _unlinked_text(element: lxml.html.HtmlElement) -> str:
    """The text of ``element`` outside its links (a link counts as one space)."""
    parts = [element.text or ""]
    for child in element.iterdescendants():
        if any(a.tag == "a" for a in child.iterancestors() if a is not element):
            continue  # inside a link: its text and tail are the link's
        if child.tag != "a":
            parts.append(child.text or "")
        else:
            parts.append(" ")
        parts.append(child.tail or "")
    return "".join(parts)


def is_prose(element: lxml.html.HtmlElement, links: int) -> bool:
    """Whether the text between the links reads as sentences (several marks, some per link):
    a paragraph or a reference list with many links, not a menu of them."""
    marks = len(_PROSE_MARK.findall(_unlinked_text(element)))
    return marks >= 2 and marks >= PROSE_MARKS_PER_LINK * links


def data_tables(root: lxml.html.HtmlElement) -> set[lxml.html.HtmlElement]:
    """Tables laid out as data: header cells (th) and at least two rows of several cells.
    A layout table (cells holding blocks, menus, the article) has no header cells."""
    found = set()
    for table in root.iter("table"):
        rows = [row for row in table.iter("tr")]
        wide = [row for row in rows if len(row.findall("td")) + len(row.findall("th")) >= 2]
        if len(wide) >= 2 and any(True for _ in table.iter("th")):
            found.add(table)
    return found


def _in_data_table(element: lxml.html.HtmlElement, tables: set[lxml.html.HtmlElement]) -> bool:
    if element in tables:
        return True
    return any(parent in tables for parent in element.iterancestors("table"))


def _link_menu(element: lxml.html.HtmlElement, tables: set[lxml.html.HtmlElement]) -> bool:
    """Several short links making up most of the text, not in a data table, not prose."""
    links = list(element.iter("a"))
    if len(links) < 2:  # most blocks: no text measured
        return False
    size = len(_squash(element.text_content()))
    linked = sum(len(_squash(a.text_content())) for a in links)
    return (
        size > 0
        and linked / size > LINK_DENSITY
        and linked / len(links) <= MAX_AVG_NAV_LINK
        and not (element.tag in ("table", "tr") and _in_data_table(element, tables))
        and not is_prose(element, len(links))
    )


def _short_list(element: lxml.html.HtmlElement) -> bool:
    """A list of three or more very short items without sentence punctuation."""
    items = [_squash(li.text_content()) for li in element.iter("li")]
    return (
        len(items) >= 3
        and sum(map(len, items)) / len(items) <= MAX_MENU_ITEM
        and not any(_SENTENCE_MARK.search(i) for i in items)
        and bool(_squash(element.text_content()))
    )


def _drop_navigation(root: lxml.html.HtmlElement) -> None:
    tables = data_tables(root)
    for element in list(root.iter(*_NAV_CONTAINERS)):
        if element.getparent() is None:
            continue
        if _link_menu(element, tables) or (element.tag in ("ul", "ol") and _short_list(element)):
            element.drop_tree()


MENU_RUN = 5  # this many short blocks in a row are a menu
MENU_ITEM_CHARS = 10


def _leaf_blocks(root: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """Block elements with no block inside them, in document order (one pass)."""
    blocks = list(root.iter(*_BLOCKS))
    inner: set[lxml.html.HtmlElement] = set()
    for element in blocks:
        parent = element.getparent()
        while parent is not None and parent not in inner:
            inner.add(parent)
            parent = parent.getparent()
    return [element for element in blocks if element not in inner]


def drop_trees(elements: Sequence[lxml.html.HtmlElement]) -> None:
    """``drop_tree`` of each element (in document order), the tails joined once per element
    receiving them (one by one, minutes for a page of 100,000 short blocks)."""
    joined: dict[tuple[lxml.html.HtmlElement, str], list[str]] = {}
    for element in elements:
        parent = element.getparent()
        if parent is None:
            continue
        if element.tail:
            previous = element.getprevious()
            into = (parent, "text") if previous is None else (previous, "tail")
            if into not in joined:
                joined[into] = [getattr(into[0], into[1]) or ""]
            joined[into].append(element.tail)
        element.tail = None
        parent.remove(element)
    for (target, field), parts in joined.items():
        setattr(target, field, "".join(parts))


def _drop_menu_runs(root: lxml.html.HtmlElement) -> None:
    """Runs of several short blocks without sentence punctuation are menus and labels."""
    run: list[lxml.html.HtmlElement] = []

    def flush() -> None:
        if len(run) >= MENU_RUN:
            drop_trees(run)
        run.clear()

    tables = data_tables(root)
    for element in _leaf_blocks(root):
        text = _squash(element.text_content())
        if not text:
            continue
        if element.tag in ("td", "th") and _in_data_table(element, tables):
            flush()  # a cell of a data table: short values, not a menu
            continue
        if len(text) <= MENU_ITEM_CHARS and not _SENTENCE_MARK.search(text):
            run.append(element)
        else:
            flush()
    flush()


def _drop_chrome(root: lxml.html.HtmlElement) -> None:
    for element in list(root.iter(*_CHROME_BLOCKS)):
        if element.getparent() is None:
            continue
        text = _NON_WORD.sub("", element.text_content())
        if text and len(text) <= 20 and _UI_PHRASES.fullmatch(text):
            element.drop_tree()


def _restore_captions(root: lxml.html.HtmlElement, captions: dict[str, str], base_url: str) -> None:
    """Each figure's caption back under its image, once (not where the text already is,
    nor again under a second copy of the same image)."""
    if not captions:
        return
    present = _squash(root.text_content())
    done: set[str] = set()
    for img in list(root.iter("img")):
        src = absolute(base_url, img.get("src") or "")
        caption = captions.get(src)
        if not caption or src in done or _squash(caption) in present or img.getparent() is None:
            continue
        done.add(src)
        if "©" in caption and len(_squash(caption)) <= 30:
            continue  # a photo credit, not a caption
        figure = etree.Element("figure")
        img.addprevious(figure)
        figure.append(img)  # moves img (and its tail) into the figure
        figure.tail, img.tail = img.tail, None
        etree.SubElement(figure, "figcaption").text = caption


def block_text(root: lxml.html.HtmlElement) -> str:
    """Text with each block on its own line."""
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for element in root.iter(*_BLOCKS):
        element.tail = "\n" + (element.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().split("\n"))
    return "\n".join(line for line in lines if line)


def _body_html(root: lxml.html.HtmlElement) -> str:
    body = root.find("body")
    node = body if body is not None else root
    parts = [lxml.html.tostring(child, encoding="unicode") for child in node]
    return (node.text or "") + "".join(parts)


def _extract_tree(root: lxml.html.HtmlElement, url: str, fast: bool) -> lxml.html.HtmlElement:
    html = _trafilatura_html(root, url, fast)
    if not html:
        raise ExtractionError(f"no article text found on {url}")
    tree = lxml.html.document_fromstring(html)
    _drop_navigation(tree)
    _drop_chrome(tree)
    _drop_menu_runs(tree)
    return tree


_BR = re.compile(r"<br\s*/?>", re.I)
_TAGS = re.compile(r"<[^>]+>")


def _first_lines(tree: lxml.html.HtmlElement, count: int) -> list[str]:
    lines: list[str] = []
    for leaf in _leaf_blocks(tree):
        markup = lxml.html.tostring(leaf, encoding="unicode", with_tail=False)
        for chunk in _BR.split(markup):
            for line in html_module.unescape(_TAGS.sub("", chunk)).split("\n"):
                text = _squash(line)
                if text:
                    lines.append(text)
        if len(lines) >= count:
            break
    return lines[:count]


def _has_menu_lines(tree: lxml.html.HtmlElement, head: int = 12, short: int = 8) -> bool:
    """Whether the extraction starts with page chrome: of its first ``head`` lines,
    ``short`` are short (menus, labels, breadcrumbs laid out with <br>s)."""
    flags = [
        len(line) <= MENU_ITEM_CHARS + 2 and not _SENTENCE_MARK.search(line)
        for line in _first_lines(tree, head)
    ]
    return sum(flags) >= short


SHORT_SHARE = 0.5  # a result under half the page's main block of paragraphs is cut short
TOPIC_SHARE = 0.25  # a result with under this share of a reference's words is off topic
WHOLE_PAGE_SHARE = 0.9  # a result with this share of the page's text is the whole page
_TOPIC_WORD = re.compile(r"[^\W\d_]{3,}|[\u3400-\u9fff]{2,}")
_CJK = re.compile(r"[\u3400-\u9fff]")
_REFERENCE_META = ("og:description", "description", "twitter:description")


def main_block_chars(root: lxml.html.HtmlElement) -> int:
    """Characters (outside links) of the element holding the most paragraph text."""
    totals: dict[lxml.html.HtmlElement, int] = {}
    for paragraph in root.iter("p", "pre"):
        parent = paragraph.getparent()
        if parent is not None:
            size = len(_squash(paragraph.text_content()))
            if size:
                size -= sum(len(_squash(a.text_content())) for a in paragraph.iter("a"))
            totals[parent] = totals.get(parent, 0) + size
    return max(totals.values(), default=0)


def page_references(root: lxml.html.HtmlElement, summary: str = "") -> list[str]:
    """The page's title and description (and the feed's summary): what the article is about."""
    references = []
    head = root.find("head")
    title = (head if head is not None else root).find(".//title")
    if title is not None:
        references.append(title.text_content())
    for meta in root.iter("meta"):
        name = (meta.get("property") or meta.get("name") or "").lower()
        if name in _REFERENCE_META and meta.get("content"):
            references.append(meta.get("content", ""))
            break
    if summary:
        references.append(summary)
    return references


def topic_words(text: str) -> set[str]:
    """Words of three letters or more, and pairs of Chinese characters, in lower case."""
    words: set[str] = set()
    for word in _TOPIC_WORD.findall(text.lower()):
        if _CJK.match(word):
            words.update(word[i : i + 2] for i in range(len(word) - 1))
        else:
            words.add(word)
    return words


def off_topic(text: str, references: Sequence[str]) -> bool:
    """Whether ``text`` shares little with every reference that has a few words."""
    wanted = [words for words in map(topic_words, references) if len(words) >= 3]
    if not wanted:
        return False
    lower = text.lower()
    found = set(_TOPIC_WORD.findall(lower))  # a pair of Chinese characters is looked up in text

    def share(words: set[str]) -> float:
        return sum(1 for w in words if (w in lower if _CJK.match(w) else w in found)) / len(words)

    return max(map(share, wanted)) < TOPIC_SHARE


def page_text_chars(root: lxml.html.HtmlElement) -> int:
    """Characters of the text of the page's body (white space, scripts and styles left out)."""
    body = root.find("body")
    node = body if body is not None else root
    hidden = sum(len(_squash(element.text or "")) for element in node.iter("script", "style"))
    return len(_squash(node.text_content())) - hidden


def looks_cut_short(text: str, root: lxml.html.HtmlElement, summary: str = "") -> bool:
    """A result off the page's topic, or under half the page's main block of paragraphs;
    not one that holds nearly all the text of the page (whatever its title says: there is
    nothing left for another pass to find)."""
    size = len(_squash(text))
    if not (
        off_topic(text, page_references(root, summary))
        or size < SHORT_SHARE * main_block_chars(root)
    ):
        return False
    return size < WHOLE_PAGE_SHARE * page_text_chars(root)


def _trafilatura_html(root: lxml.html.HtmlElement, url: str, fast: bool = True) -> str:
    """trafilatura's HTML for the page (it works on a copy of ``root``). Links and images
    stay as the page wrote them (the sanitiser makes them absolute against ``url``, as
    the browser would), which spares trafilatura resolving every link of the page.

    The same HTML as ``trafilatura.extract(output_format="html")``, without the content
    fingerprint (a simhash of the whole text) that ``extract`` computes for every output
    but plain text and that nothing here reads: about a tenth of the time of a pass."""
    options: dict[str, Any] = dict(
        output_format="html",
        include_comments=False,
        include_links=True,
        include_images=True,
        include_tables=True,
        include_formatting=True,
        fast=fast,
    )

    def html(recall: bool) -> str:
        document = trafilatura.bare_extraction(root, favor_recall=recall, **options)
        if not isinstance(document, Document):
            return ""
        return unicodedata.normalize("NFC", build_html_output(document))

    return html(recall=False) or html(recall=True)


_SCHEME_RELATIVE = re.compile(r"""=\s*["']?//""")


def _scheme_relative_images(root: lxml.html.HtmlElement, url: str) -> None:
    """Image sources written //host/path given the page's scheme (trafilatura, given no
    URL, would make them http:)."""
    scheme = url.split("://", 1)[0] if "://" in url else "https"
    for img in root.iter("img"):
        for attr, value in img.attrib.items():
            if value.startswith("//") and (attr == "src" or attr.startswith("data-src")):
                img.set(attr, f"{scheme}:{value}")


def _second_pass(
    root: lxml.html.HtmlElement, url: str, tree: lxml.html.HtmlElement, summary: str, size: int
) -> lxml.html.HtmlElement:
    """trafilatura's full pass where the fast one kept page chrome (its comparison
    drops it; on pages of up to MAX_SECOND_PASS characters, ``size``), or looks cut short
    (on any page, as plain trafilatura would pay it anyway; kept when it finds more)."""
    text = tree.text_content()
    if size <= MAX_SECOND_PASS and _has_menu_lines(tree):
        return _extract_tree(root, url, fast=False)
    if not looks_cut_short(text, root, summary):
        return tree
    try:
        full = _extract_tree(root, url, fast=False)
    except ExtractionError:
        return tree
    return full if len(_squash(full.text_content())) > len(_squash(text)) else tree


def extract_article(
    page: str,
    url: str,
    *,
    selector: str | None = None,
    remove: Sequence[str] = (),
    metadata: bool = False,
    iframe_hosts: Sequence[str] | None = None,
    zone: str | None = None,
    summary: str = "",
) -> Extracted:
    """The main content of ``page`` (decoded HTML) as sanitised HTML and text.

    With ``selector`` the matching elements are the content (no extraction); with
    ``metadata`` the page's title, author and publication date are read too
    (:mod:`newsmirror.pagemeta`; ``zone`` for dates written without one). ``summary``
    (the feed's, as text) helps tell an extraction that missed the article.
    """
    page = cap_tags(cap_markup(page))  # before any parser
    root = prepare(page, remove=remove)  # the one parse, shared by every step below
    meta = {"title": "", "author": "", "date": "", "date_text": ""}
    if metadata:
        meta = asdict(read_metadata(root, url, zone=zone))
    if selector:
        chosen = root.cssselect(selector)
        if not chosen:
            raise ExtractionError(
                f"selector {selector!r} matches nothing on {url}",
                hint="Check the source's selector against the page.",
            )
        html = "".join(lxml.html.tostring(e, encoding="unicode") for e in chosen)
    else:
        captions = _captions(root, url)
        if _SCHEME_RELATIVE.search(page):
            _scheme_relative_images(root, url)
        tree = _second_pass(root, url, _extract_tree(root, url, fast=True), summary, len(page))
        _restore_captions(tree, captions, url)
        html = _body_html(tree)
    hosts = DEFAULT_IFRAME_HOSTS if iframe_hosts is None else iframe_hosts
    clean = sanitize_article(html, base_url=url, prepared=not selector, iframe_hosts=hosts)
    text = (
        block_text(lxml.html.document_fromstring(f"<html><body>{clean}</body></html>"))
        if clean.strip()
        else ""
    )
    return Extracted(html=clean, text=text, **meta)
