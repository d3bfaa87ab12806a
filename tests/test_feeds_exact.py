"""The site's Atom and RSS feeds: exact XML, every value escaped, what a reader reads back."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import feedparser
from hypothesis import given, settings
from hypothesis import strategies as st

from newsmirror.publish import feeds as site_feeds
from newsmirror.publish.feeds import atom, bodies, quoteattr, rss, summary
from newsmirror.publish.pages import Entry
from newsmirror.publish.pages import Entry as PageEntry

UPDATED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
A = "{http://www.w3.org/2005/Atom}"


def entry(id: int = 1, **fields: object) -> Entry:
    values: dict[str, object] = {
        "path": "2024/01/新闻 a&b.html",
        "title": "A<b>&\"c'",
        "source": "源<&>",
        "url": 'https://e.org/a?x=1&y="2"',
        "iso": "2024-01-02T03:04:05.000Z",
        "local": "",
        "month": "",
        "tags": ("t&1", "二"),
    }
    values.update(fields)
    return Entry(id=id, **values)  # type: ignore[arg-type]


HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://m.org/">'
)
LINK = '<link rel="alternate" href="2024/01/%E6%96%B0%E9%97%BB%20a%26b.html"/>'


def test_the_site_atom_feed_exactly():
    xml = atom("站<&>", "feed.xml", "https://m.org/", [entry()], {1: "<p>x]]>y\x00</p>"}, UPDATED)
    assert xml == (
        HEAD + "<title>站&lt;&amp;&gt;</title>"
        '<link rel="self" href="feed.xml"/><link rel="alternate" href="index.html"/>'
        "<id>urn:newsmirror:站&lt;&amp;&gt;</id><updated>2024-01-02T03:04:05.000Z</updated>"
        "<entry><title>A&lt;b&gt;&amp;\"c'</title>"
        + LINK
        + '<link rel="via" href=\'https://e.org/a?x=1&amp;y="2"\'/>'
        '<id>https://e.org/a?x=1&amp;y="2"</id>'
        "<published>2024-01-02T03:04:05.000Z</published>"
        "<updated>2024-01-02T03:04:05.000Z</updated>"
        "<author><name>源&lt;&amp;&gt;</name></author>"
        '<category term="源&lt;&amp;&gt;"/><category term="t&amp;1"/><category term="二"/>'
        '<content type="html"><![CDATA[<p>x]]]]><![CDATA[>y</p>]]></content>'
        "</entry></feed>\n"
    )


def test_a_source_feed_leaves_out_via_published_and_categories():
    xml = atom("站", "feed.xml", "https://m.org/", [entry()], {}, UPDATED, via=False)
    assert xml == (
        HEAD + "<title>站</title>"
        '<link rel="self" href="feed.xml"/><link rel="alternate" href="index.html"/>'
        "<id>urn:newsmirror:站</id><updated>2024-01-02T03:04:05.000Z</updated>"
        "<entry><title>A&lt;b&gt;&amp;\"c'</title>"
        + LINK
        + '<id>https://e.org/a?x=1&amp;y="2"</id>'
        "<updated>2024-01-02T03:04:05.000Z</updated>"
        "<author><name>源&lt;&amp;&gt;</name></author>"
        '<content type="html"><![CDATA[]]></content>'
        "</entry></feed>\n"
    )


def test_entries_follow_each_other_in_order():
    two = [entry(1, title="一"), entry(2, title="二", tags=())]
    xml = atom("t", "f", "https://m.org/", two, {}, UPDATED)
    assert "</entry><entry><title>二</title>" in xml and xml.endswith("</entry></feed>\n")
    assert xml.count("<entry>") == 2 and '<category term="源&lt;&amp;&gt;"/><content' in xml
    xml = rss("t", two, {}, "https://m.org/")
    assert "</item><item><title>二</title>" in xml and xml.endswith("</item></channel></rss>\n")


def test_a_guid_that_is_no_web_address_gets_no_via_link():
    xml = atom("t", "f", "https://m.org/", [entry(url="urn:uuid:1")], {}, UPDATED)
    assert "<id>urn:uuid:1</id>" in xml and 'rel="via"' not in xml


def test_the_site_rss_feed_exactly():
    xml = rss("站<&>", [entry()], {1: "<p>x]]>y</p>"}, "https://m.org/")
    assert xml == (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        "<title>站&lt;&amp;&gt;</title><link>https://m.org/index.html</link>"
        "<description>站&lt;&amp;&gt;</description>"
        "<item><title>A&lt;b&gt;&amp;\"c'</title>"
        "<link>https://m.org/2024/01/%E6%96%B0%E9%97%BB%20a%26b.html</link>"
        '<guid isPermaLink="false">https://e.org/a?x=1&amp;y="2"</guid>'
        "<pubDate>Tue, 02 Jan 2024 03:04:05 GMT</pubDate>"
        "<category>源&lt;&amp;&gt;</category>"
        "<description><![CDATA[<p>x]]]]><![CDATA[>y</p>]]></description>"
        "</item></channel></rss>\n"
    )


def test_an_rss_entry_without_a_text_has_an_empty_description():
    xml = rss("t", [entry()], {}, "https://m.org/")
    assert "<description><![CDATA[]]></description>" in xml


def test_summary_is_the_escaped_start_of_the_text():
    assert summary("<p>a &lt;b&gt; &amp; 中</p>") == "<p>a &lt;b&gt; &amp; 中</p>"
    long = "<p>" + "字" * 100 + "</p>"
    assert summary(long) == "<p>" + "字" * 60 + "…</p>"


def test_full_texts_go_to_the_newest_entries_within_the_budget():
    entries = [entry(i) for i in (1, 2, 3, 4)]
    contents = {1: "a" * 4, 2: "中" * 2, 3: "b" * 2, 4: "c"}  # 4, 6, 2 and 1 bytes
    assert bodies(entries, contents, 10) == {
        1: "a" * 4,
        2: "中" * 2,  # exactly at the budget: full
        3: "<p>bb</p>",  # would pass it
        4: "<p>c</p>",  # fits, but is older than one that did not
    }
    assert bodies(entries, contents, 9) == {
        1: "a" * 4,
        2: "<p>中中</p>",
        3: "<p>bb</p>",
        4: "<p>c</p>",
    }
    assert bodies(entries[:1], {}, 0) == {1: ""}  # no text: an empty full text
    assert bodies(entries[:1], {1: "\ud800"}, 2) == {1: "<p>\ud800</p>"}  # 3 bytes


# -- properties: any value, escaped -------------------------------------------------------

# Characters XML escapes or forbids, a CDATA end, line separators, controls, CJK, surrogates.
_ALPHABET = [*"<>&\"' ab中文\t\n\r\x00\x01\x0b\x1f\x7f\u2028\u2029\ufffe\ud800%]", "]]>", "&amp;"]
_TEXT = st.lists(st.sampled_from(_ALPHABET), max_size=8).map("".join)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    """What an XML parser reads from ``text`` written as character data (line ends read)."""
    return _NOT_XML.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=60, deadline=None)
@given(title=_TEXT, source=_TEXT, tag=_TEXT, url=_TEXT, content=_TEXT, site=_TEXT)
def test_any_values_read_back_from_the_atom_feed(title, source, tag, url, content, site):
    e = entry(title=title, source=source, tags=(tag,), url="https://e.org/" + url)
    xml = atom(title, "feed.xml", site, [e], {1: content}, UPDATED)
    root = ET.fromstring(xml.encode("utf-8", "surrogatepass"))
    base = "{http://www.w3.org/XML/1998/namespace}base"
    assert root.get(base) == _NOT_XML.sub("", site)  # attributes keep \r, \n and \t
    assert root.findtext(A + "title") == _xml(title)
    item = root.find(A + "entry")
    assert item is not None
    assert item.findtext(A + "title") == _xml(title)
    assert item.findtext(A + "id") == _xml("https://e.org/" + url)
    assert item.findtext(f"{A}author/{A}name") == _xml(source)
    terms = [c.get("term") for c in item.findall(A + "category")]
    assert terms == [_NOT_XML.sub("", source), _NOT_XML.sub("", tag)]
    assert item.findtext(A + "content") == _xml(content)
    via = [ln.get("href") for ln in item.findall(A + "link") if ln.get("rel") == "via"]
    assert via == [_NOT_XML.sub("", "https://e.org/" + url)]


@settings(max_examples=60, deadline=None)
@given(title=_TEXT, source=_TEXT, url=_TEXT, content=_TEXT)
def test_any_values_read_back_from_the_rss_feed(title, source, url, content):
    e = entry(title=title, source=source, url=url)
    xml = rss(title, [e], {1: content}, "https://m.org/")
    root = ET.fromstring(xml.encode("utf-8", "surrogatepass"))
    item = root.find("channel/item")
    assert item is not None
    assert root.findtext("channel/title") == root.findtext("channel/description") == _xml(title)
    assert item.findtext("title") == _xml(title)
    assert item.findtext("guid") == _xml(url)
    assert item.findtext("category") == _xml(source)
    assert item.findtext("description") == _xml(content)


@given(_TEXT)
def test_quoteattr_gives_one_attribute_value(text):
    element = ET.fromstring(f"<a v={quoteattr(text)}/>".encode("utf-8", "surrogatepass"))
    assert element.get("v") == _NOT_XML.sub("", text)


def test_a_feed_reader_reads_the_values_back():
    e = entry(title="A<b>&\"c' 中\u2028文", source="源<&>", tags=("t&1", "二"))
    parsed = feedparser.parse(atom("站<&>", "feed.xml", "https://m.org/", [e], {}, UPDATED))
    assert not parsed.bozo
    assert parsed.feed.title == "站<&>"
    (item,) = parsed.entries
    assert item.title == "A<b>&\"c' 中\u2028文"
    assert item.id == 'https://e.org/a?x=1&y="2"'
    assert item.author == "源<&>"
    assert [t.term for t in item.tags] == ["源<&>", "t&1", "二"]
    assert item.link == "https://m.org/2024/01/%E6%96%B0%E9%97%BB%20a%26b.html"
    assert [ln.href for ln in item.links if ln.rel == "via"] == ['https://e.org/a?x=1&y="2"']
    assert item.published == item.updated == "2024-01-02T03:04:05.000Z"
    parsed = feedparser.parse(rss("站<&>", [e], {1: "<p>正文</p>"}, "https://m.org/"))
    assert not parsed.bozo
    (item,) = parsed.entries
    assert item.title == "A<b>&\"c' 中\u2028文" and item.tags[0].term == "源<&>"
    assert item.link == "https://m.org/2024/01/%E6%96%B0%E9%97%BB%20a%26b.html"
    assert item.published_parsed[:6] == (2024, 1, 2, 3, 4, 5)
    assert item.description == "<p>正文</p>"


# -- from a mutation pass: each test fails on a seeded bug the suite let through --


def test_rss_item_links_are_escaped_whatever_the_site_address_holds():
    """A site address with "&" (a query string, say) must not make rss.xml unreadable."""
    page = PageEntry(
        id=1,
        path="2024/01/a.html",
        title="t",
        source="s",
        url="https://e.org/a",
        iso="2024-01-02T03:04:05.000Z",
        local="",
        month="",
        tags=(),
    )
    xml = site_feeds.rss("站", [page], {1: "<p>x</p>"}, "https://m.org/?site=a&lang=zh/")
    [link] = list(ET.fromstring(xml).iter("link"))[1:]
    assert link.text == "https://m.org/?site=a&lang=zh/" + page.href
