"""Feed items normalised: titles, links, authors, content, dates, sanitising."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import rss
from newsmirror.clean import clean_text, sanitize_html
from newsmirror.parse import parse_feed


def one(item, **kw):
    feed = parse_feed(
        rss([item]), url="https://example.org/feed/", fallback_author="源", now=NOW, **kw
    )
    assert len(feed.entries) == 1
    return feed.entries[0]


def test_title_control_characters_removed_and_trimmed():
    entry = one({"title": "  标题\x07&#x1b;带\t控制 ", "link": "https://e.org/a"})
    assert entry.title == "标题带 控制"


def test_relative_link_made_absolute():
    assert one({"title": "t", "link": "/news/1.html"}).url == "https://example.org/news/1.html"


def test_guid_used_when_no_link():
    entry = one({"title": "t", "guid": "https://e.org/by-guid"})
    assert entry.url == "https://e.org/by-guid"


def test_item_without_any_url_is_skipped():
    feed = parse_feed(
        rss([{"title": "x"}, {"title": "y", "link": "https://e.org/y"}]),
        url="https://e.org/",
        now=NOW,
    )
    assert [e.title for e in feed.entries] == ["y"]


def test_author_from_dc_creator_else_source_name():
    assert one({"title": "t", "link": "https://e.org/a", "author": "记者"}).author == "记者"
    assert one({"title": "t", "link": "https://e.org/a"}).author == "源"


def test_content_encoded_preferred_over_description():
    entry = one(
        {
            "title": "t",
            "link": "https://e.org/a",
            "description": "summary",
            "content": "<p>full text</p>",
        }
    )
    assert entry.content == "<p>full text</p>"


def test_description_used_when_no_content():
    entry = one({"title": "t", "link": "https://e.org/a", "description": "&lt;p&gt;摘要&lt;/p&gt;"})
    assert entry.content == "<p>摘要</p>"


def test_future_date_clamped_to_now_and_raw_kept():
    entry = one(
        {"title": "t", "link": "https://e.org/a", "pubDate": "Fri, 01 Jan 2100 00:00:00 GMT"}
    )
    assert entry.published == NOW
    assert entry.published_raw == "Fri, 01 Jan 2100 00:00:00 GMT"


def test_time_zone_converted_to_utc():
    entry = one(
        {"title": "t", "link": "https://e.org/a", "pubDate": "Sun, 29 Oct 2023 11:36:11 +0800"}
    )
    assert entry.published == datetime(2023, 10, 29, 3, 36, 11, tzinfo=UTC)


def test_missing_date_is_none():
    assert one({"title": "t", "link": "https://e.org/a"}).published is None


def test_feed_html_is_sanitised():
    entry = one(
        {
            "title": "t",
            "link": "https://e.org/a",
            "content": '<p onclick="x()">ok<script>alert(1)</script>'
            '<a href="javascript:alert(1)">l</a>'
            '<img src="https://e.org/i.jpg" onerror="x()"><style>p{}</style></p>',
        }
    )
    assert entry.content == '<p>ok<a>l</a><img src="https://e.org/i.jpg"></p>'


def test_youtube_media_description():
    feed = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:yt="http://www.youtube.com/xml/schemas/2015"><title>ch</title>'
        "<entry><id>yt:video:abc</id><yt:videoId>abc</yt:videoId><title>Video</title>"
        '<link rel="alternate" href="https://www.youtube.com/watch?v=abc"/>'
        "<author><name>Channel</name></author>"
        "<published>2024-01-01T00:00:00+00:00</published>"
        "<media:group><media:title>Video</media:title>"
        "<media:description>视频简介</media:description></media:group></entry></feed>"
    ).encode()
    entry = parse_feed(feed, url="https://www.youtube.com/feeds/videos.xml", now=NOW).entries[0]
    assert entry.url == "https://www.youtube.com/watch?v=abc"
    assert "视频简介" in entry.content
    assert entry.author == "Channel"


def test_seed_markup_unchanged_by_sanitiser():
    from conftest import seed_item

    body = seed_item()["content"]
    assert sanitize_html(body) == body


_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@settings(max_examples=200, deadline=None)
@given(st.text() | st.text(alphabet=st.sampled_from(f"a标 \t\x00\x85\u2028{_BIDI}")))
def test_clean_text_has_no_controls_and_is_trimmed(text):
    out = clean_text(text)
    assert out == out.strip()
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in out)
    # A title, name or tag with a bidi override or isolate would reverse the text shown
    # after it on the same line (a date, a source): one-line texts carry none.
    assert not any(c in _BIDI for c in out)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_sanitiser_never_lets_script_through(text):
    out = sanitize_html(f"<p>{text}</p><script>{text}</script><a href='javascript:{text}'>x</a>")
    assert "<script" not in out.lower()
    assert "javascript:" not in out.lower()


def _entries(reader, body):
    from newsmirror.parse import normalise_entry

    feed = reader(body)
    assert feed is not None
    return [
        normalise_entry(r, base_url="https://e.org/", fallback_author="源", now=NOW)
        for r in feed.items
    ]


def test_fast_reader_agrees_with_feedparser_on_demo_feeds():
    from pathlib import Path

    from newsmirror.feedreaders import read_fast, read_feedparser

    folder = Path(__import__("newsmirror.demo").demo.__file__).parent / "feeds"
    for path in sorted(folder.glob("*.xml")):
        body = path.read_bytes()
        fast = _entries(read_fast, body)
        slow = _entries(read_feedparser, body)
        assert fast == slow, path.name
        assert all(e.published_raw for e in fast), path.name


# feedparser "repairs" what looks like UTF-8 read as Latin-1 ("Ã\xa0" becomes "à"), which
# mangles real text; fastfeedparser keeps it. Latin-1 letters are left out of the comparison.
TEXT = st.characters(blacklist_categories=("Cs", "Cc")).filter(lambda c: not 0x80 <= ord(c) <= 0xFF)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "title": st.text(TEXT, min_size=1, max_size=30),
                "n": st.integers(0, 10**6),
                "content": st.text(TEXT, max_size=60),
            }
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["utf-8", "gb18030"]),
)
def test_fast_reader_agrees_with_feedparser_property(items, encoding):
    from xml.sax.saxutils import escape

    from newsmirror.feedreaders import read_fast, read_feedparser

    body = rss(
        [
            {
                "title": escape(i["title"]),
                "link": f"https://e.org/{i['n']}",
                "pubDate": "Tue, 02 Jan 2024 07:30:00 +0800",
                "content": "<p>" + escape(i["content"]).replace("]]>", "") + "</p>",
            }
            for i in items
        ],
        encoding=encoding,
    )
    fast = read_fast(body)
    if fast is None:
        return  # feedparser reads it; nothing to compare
    assert _entries(read_fast, body) == _entries(read_feedparser, body)


# --- Dates written the Chinese way, read in the source's time zone ---------------------------

FULL_WIDTH = str.maketrans("0123456789: ", "０１２３４５６７８９：\u3000")


@settings(max_examples=150, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2037, 12, 31)),
    zone=st.sampled_from(["Asia/Shanghai", "Asia/Taipei", "America/New_York", "Europe/Berlin"]),
    style=st.sampled_from(["年", "-", "/", "."]),
    pad=st.booleans(),
    clock=st.sampled_from(["none", "minutes", "seconds"]),
    space=st.sampled_from([" ", "", "  "]),
    wide=st.booleans(),
)
def test_chinese_style_dates_read_in_the_source_zone(moment, zone, style, pad, clock, space, wide):
    from zoneinfo import ZoneInfo

    # fold=0: an hour that happens twice (the clocks go back) is read as its first time,
    # as the text cannot say which (hypothesis draws fold=1 too)
    moment = moment.replace(microsecond=0, fold=0)
    if clock == "none":
        moment = moment.replace(hour=0, minute=0, second=0)
    elif clock == "minutes":
        moment = moment.replace(second=0)
    m, d = (f"{moment.month:02d}", f"{moment.day:02d}") if pad else (moment.month, moment.day)
    if style == "年":
        text = f"{moment.year}年{m}月{d}日"
    else:
        text = f"{moment.year}{style}{m}{style}{d}"
        space = space or " "  # 2024-01-0508:30 is no date
    if clock != "none":
        text += f"{space}{moment.hour:02d}:{moment.minute:02d}"
        if clock == "seconds":
            text += f":{moment.second:02d}"
    if wide:
        text = text.translate(FULL_WIDTH)
    feed = parse_feed(
        rss([{"title": "t", "link": "https://e.org/a", "pubDate": text}]),
        url="https://e.org/",
        now=datetime(2100, 1, 1, tzinfo=UTC),
        timezone=zone,
    )
    [entry] = feed.entries
    assert entry.published == moment.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC), text
    assert entry.published_raw == text.replace("\u3000", " ") or entry.published_raw == text


def test_chinese_style_date_examples():
    from newsmirror.timeutil import parse_local_date

    shanghai = {
        "2024年01月05日 08:30": datetime(2024, 1, 5, 0, 30, tzinfo=UTC),
        "2024年1月5日": datetime(2024, 1, 4, 16, 0, tzinfo=UTC),
        "2024/1/5": datetime(2024, 1, 4, 16, 0, tzinfo=UTC),
        "2024-01-05 08:30:15": datetime(2024, 1, 5, 0, 30, 15, tzinfo=UTC),
        "２０２４年０１月０５日　０８：３０": datetime(2024, 1, 5, 0, 30, tzinfo=UTC),
        "2024年1月5日 8时30分": datetime(2024, 1, 5, 0, 30, tzinfo=UTC),
        "2024-01-05T08:30:00+09:00": datetime(2024, 1, 4, 23, 30, tzinfo=UTC),
        "2024-01-05 08:30 Z": datetime(2024, 1, 5, 8, 30, tzinfo=UTC),
    }
    for text, expected in shanghai.items():
        assert parse_local_date(text, "Asia/Shanghai") == expected, text
    for text in ("2024-13-05", "2024-02-30 08:30", "2024-01/05", "Mon, 01 Jan 2024", "", "2024"):
        assert parse_local_date(text, "Asia/Shanghai") is None, text
    assert parse_local_date("2024年7月1日 12:00", "America/New_York") == datetime(
        2024, 7, 1, 16, 0, tzinfo=UTC
    )


def test_chinese_style_date_through_a_run_uses_the_source_zone(tmp_path, server):
    from conftest import Reply, make_config
    from newsmirror.pipeline import update
    from newsmirror.store import Archive

    item = {"title": "t", "link": "https://e.org/a", "pubDate": "2024年01月05日 08:30"}
    server.route("/feed", Reply(body=rss([item])))
    config = make_config(
        tmp_path, [("台", [server.url + "/feed"])], source_extra='timezone = "Asia/Taipei"'
    )
    with Archive.open(config.archive) as archive:
        update(config, archive)
        [article] = archive.iter_articles()
    assert article.published == datetime(2024, 1, 5, 0, 30, tzinfo=UTC)


def test_feed_items_beyond_the_limit_keep_the_newest():
    from datetime import timedelta

    from newsmirror.parse import MAX_ITEMS

    start = datetime(2024, 1, 1)
    items = [
        {
            "title": f"t{i}",
            "link": f"https://e.org/{i}",
            "pubDate": (start + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M"),
        }
        for i in range(MAX_ITEMS + 5)
    ]
    items[3]["pubDate"] = "2030-01-01 00:00"  # the newest, near the top
    feed = parse_feed(rss(items), url="https://e.org/", now=datetime(2100, 1, 1, tzinfo=UTC))
    titles = [e.title for e in feed.entries]
    assert len(titles) == MAX_ITEMS
    assert titles[:2] == ["t3", "t6"]  # t0, t1, t2, t4, t5 were the oldest; feed order kept
    assert f"kept the newest {MAX_ITEMS} of {MAX_ITEMS + 5} items" in feed.warning


def test_lenient_parser_crash_is_a_feed_parse_error():
    import pytest

    from newsmirror.errors import FeedParseError

    body = rss([{"title": "a&#xD800;b", "link": "https://e.org/s"}])
    with pytest.raises(FeedParseError, match="UnicodeEncodeError"):
        parse_feed(body, url="https://e.org/")


# --- Control characters and mislabelled encodings (review findings 4 and 6) ------------------

ILLEGAL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
CJK = "中文标题正文記者報導𠮷€，。、「」"
HOSTILE_TEXT = st.text(st.sampled_from(list(CJK + ILLEGAL + "\t\n <>&\"'")), max_size=40)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _feed_with(kind: str, title: str, body_html: str) -> bytes:
    """A one-item feed: RSS with escaped HTML, RSS with CDATA, or Atom with escaped HTML."""
    if kind == "atom":
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>f</title><id>urn:f</id><entry><title>{_xml_escape(title)}</title>"
            '<link rel="alternate" href="https://e.org/a"/><id>urn:a</id>'
            "<updated>2024-01-01T00:00:00Z</updated>"
            f'<content type="html">{_xml_escape(body_html)}</content></entry></feed>'
        ).encode()
    item = {"title": _xml_escape(title), "link": "https://e.org/a"}
    if kind == "cdata":
        item["content"] = body_html
    else:
        item["description"] = _xml_escape(body_html)
    return rss([item])


def _text_of(stored_html: str) -> str:
    from lxml import html as lxml_html

    return str(lxml_html.fragment_fromstring(stored_html, create_parent="div").text_content())


def _without_illegal(text: str) -> str:
    return "".join(c for c in text if c not in ILLEGAL)


@settings(max_examples=150, deadline=None)
@given(title=HOSTILE_TEXT, text=HOSTILE_TEXT, kind=st.sampled_from(["escaped", "cdata", "atom"]))
def test_control_characters_are_removed_and_nothing_else_is_lost(title, text, kind):
    import html
    import re

    body_html = f"<p>{html.escape(text)}</p><p>尾段</p>"
    feed = parse_feed(_feed_with(kind, "题" + title, body_html), url="https://e.org/", now=NOW)
    [entry] = feed.entries
    expected_title = re.sub(r"[\t\n\r]+", " ", "题" + _without_illegal(title)).strip()
    assert entry.title == expected_title
    assert _text_of(entry.content) == _without_illegal(text) + "尾段"
    assert entry.content.endswith("</p><p>尾段</p>")


def test_escaped_html_with_one_backspace_keeps_its_paragraphs():
    # The review's ctl.xml: lxml's recover mode turned "</p><p>" into the text "/pp".
    marks = ["", "", "", "", "\x08", ""]
    paragraphs = "".join(f"&lt;p&gt;第{i}段{mark}文字&lt;/p&gt;" for i, mark in enumerate(marks))
    body = rss([{"title": "控制字符", "link": "https://e.org/a", "description": paragraphs}])
    feed = parse_feed(body, url="https://e.org/", now=NOW)
    [entry] = feed.entries
    assert entry.content == "".join(f"<p>第{i}段文字</p>" for i in range(6))
    assert feed.reader == "feedparser"  # the fast reader refused it: counted as a fallback
    assert "control character" in feed.warning


def test_cdata_with_a_nul_keeps_all_its_text():
    body = rss(
        [
            {
                "title": "a\x00b",
                "link": "https://e.org/a",
                "content": "<p>一</p><p>二\x00文字</p><p>三</p>",
            }
        ]
    )
    [entry] = parse_feed(body, url="https://e.org/", now=NOW).entries
    assert entry.title == "ab"
    assert entry.content == "<p>一</p><p>二文字</p><p>三</p>"


def test_well_formed_feed_stays_on_the_fast_reader():
    feed = parse_feed(rss([{"title": "t", "link": "https://e.org/a"}]), url="https://e.org/")
    assert feed.reader == "fastfeedparser" and feed.warning == ""


CJK_FEEDS = {
    "gbk": ("简体中文标题", "新闻正文：记者在现场采访了多位目击者。"),
    "gb18030": ("𠮷字与€标题", "正文里有䶮和𠮷这样的字。"),
    "big5": ("繁體中文標題", "中央社記者在現場採訪了多位目擊者，他們描述了事件的經過。"),
}
LABELS = {
    "undeclared": (b"", ""),
    "declared utf-8": (b' encoding="utf-8"', ""),
    "http charset utf-8": (b"", "application/rss+xml; charset=utf-8"),
    "http charset iso-8859-1": (b"", "text/xml; charset=iso-8859-1"),
    "declared and http utf-8": (b' encoding="utf-8"', "application/xml; charset=UTF-8"),
}


def cjk_feed(encoding: str, label: str, items: int = 3) -> tuple[bytes, str, str, str]:
    title, text = CJK_FEEDS[encoding]
    declaration, content_type = LABELS[label]
    body = rss(
        [
            {
                "title": f"{title}{i}",
                "link": f"https://e.org/{i}",
                "description": f"&lt;p&gt;{text}{i}&lt;/p&gt;",
            }
            for i in range(items)
        ],
        encoding=encoding,
    ).replace(f' encoding="{encoding}"'.encode(), declaration)
    return body, content_type, title, text


@pytest.mark.parametrize("label", list(LABELS))
@pytest.mark.parametrize("encoding", list(CJK_FEEDS))
def test_chinese_feed_with_a_missing_or_wrong_encoding_is_read_right(encoding, label):
    body, content_type, title, text = cjk_feed(encoding, label)
    feed = parse_feed(body, url="https://e.org/", content_type=content_type, now=NOW)
    assert [e.title for e in feed.entries] == [f"{title}{i}" for i in range(3)]
    assert [e.content for e in feed.entries] == [f"<p>{text}{i}</p>" for i in range(3)]


def test_one_short_chinese_title_in_a_long_ascii_feed_is_not_replaced():
    body, _, _, _ = cjk_feed("gbk", "declared utf-8", items=1)
    padding = "".join(
        f"<item><title>x{i}</title><link>https://e.org/x{i}</link></item>" for i in range(80)
    )
    body = body.replace(b"</channel>", padding.encode() + b"</channel>")
    feed = parse_feed(body, url="https://e.org/", now=NOW)
    assert feed.entries[0].title == "简体中文标题0"
    assert "gb18030" in feed.warning  # says how it was read


def test_utf8_feed_with_a_few_stray_bytes_stays_utf8():
    body = rss(
        [{"title": "ab", "link": "https://e.org/a", "content": "<p>" + "长文" * 100 + "</p>"}]
    ).replace(b"ab", b"a\xff\xfe\xc3b")
    [entry] = parse_feed(body, url="https://e.org/", now=NOW).entries
    assert entry.content == "<p>" + "长文" * 100 + "</p>"
    assert entry.title.startswith("a") and entry.title.endswith("b")


def test_feed_that_cannot_be_decoded_is_a_parse_error():
    from newsmirror.errors import FeedParseError

    garbage = bytes(range(0x80, 0x100)) * 8
    body = rss([{"title": "X", "link": "https://e.org/a"}]).replace(b">X<", b">" + garbage + b"<")
    with pytest.raises(FeedParseError) as caught:
        parse_feed(body, url="https://e.org/", now=NOW)
    assert "\n" not in caught.value.message and "encoding" in caught.value.message


@pytest.mark.parametrize("flaw", ["\x08", "&nbsp;", "a & b", "<p>unclosed"])
def test_fast_reader_refuses_what_lxml_can_only_recover(flaw):
    from newsmirror.feedreaders import read_fast

    good = rss([{"title": "t", "link": "https://e.org/a", "description": "ok"}])
    assert read_fast(good) is not None
    assert read_fast(good.replace(b">ok<", b">" + flaw.encode() + b"<")) is None


def test_feed_only_lxml_can_read_is_read_leniently_and_says_so():
    # A character reference past U+10FFFF: feedparser crashes, lxml's recover mode reads it.
    body = rss([{"title": "a&#99999999999;b", "link": "https://e.org/a"}])
    feed = parse_feed(body, url="https://e.org/", now=NOW)
    assert [e.url for e in feed.entries] == ["https://e.org/a"]
    assert "not well-formed" in feed.warning


def test_deeply_nested_feed_stays_on_the_fast_reader():
    body = rss([{"title": "t", "link": "https://e.org/a", "author": "<x>" * 3000 + "</x>" * 3000}])
    feed = parse_feed(body, url="https://e.org/", now=NOW)
    assert feed.reader == "fastfeedparser" and "nested" in feed.warning
    assert [e.title for e in feed.entries] == ["t"]


def test_the_warm_up_feed_reaches_every_lazily_made_part_of_the_parser():
    # A parse worker parses it while it waits for its first body: it must stay a feed
    # that goes through the reader, the dates, the sanitiser's lxml pass and topic tags.
    from newsmirror.parse import warm_up

    parsed = warm_up()
    (entry,) = parsed.entries
    assert entry.published is not None and entry.tags == ("要闻", "新")
    assert 'src="https://example.org/b.png"' in entry.content  # a lazy image made real
    assert "youtube.com/embed/x" in entry.content and parsed.warning == ""


@settings(max_examples=300)
@given(st.datetimes(timezones=st.just(UTC)))
def test_every_stored_time_reads_back_as_it_was_written(moment):
    """The archive stores times as to_iso's text: any year from 1 to 9999 reads back (a
    year under 1000 was written "1-01-01T...", which broke every later build)."""
    from newsmirror.timeutil import from_iso, to_iso

    text = to_iso(moment)
    assert len(text) == 24 and text.endswith("Z")
    assert from_iso(text) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# -- from a mutation pass: each test fails on a seeded bug the suite let through --

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _parse(body: bytes, content_type: str = ""):
    return parse_feed(
        body,
        url="https://example.org/feed/",
        fallback_author="源",
        now=NOW,
        content_type=content_type,
    )


@pytest.mark.parametrize("control", ["\x0b", "\x0c"])
def test_vertical_tab_and_form_feed_are_removed_not_reported_as_a_malformed_feed(control):
    body = rss(
        [
            {
                "title": f"标题{control}一",
                "link": "https://e.org/a",
                "content": f"<p>one{control}</p><p>two</p>",
            }
        ]
    )
    feed = _parse(body)
    assert [(e.title, e.content) for e in feed.entries] == [("标题一", "<p>one</p><p>two</p>")]
    assert feed.warning == "removed 2 control characters that XML does not allow"


def test_an_item_tag_written_inside_cdata_does_not_break_the_fast_reader():
    """The raw-date scan counts "<item>" inside CDATA: the counts differ and the fast
    reader must give way, not crash on a strict zip."""
    body = rss([{"title": "t", "link": "https://e.org/a", "content": "<p>use <item> tags</p>"}])
    assert [e.title for e in _parse(body).entries] == ["t"]


def test_a_wrong_header_charset_does_not_override_the_prolog():
    """UTF-8 bytes, prolog utf-8, header gbk (a misconfigured server): the prolog wins."""
    body = rss([{"title": "中文新闻标题", "link": "https://e.org/a"}])
    feed = _parse(body, "application/rss+xml; charset=gbk")
    assert [e.title for e in feed.entries] == ["中文新闻标题"]
    assert (feed.warning, feed.reader) == ("", "fastfeedparser")


def test_an_entity_only_title_is_unescaped():
    """A double-escaped title (&amp;#39;) counts as markup: it reads as the character."""
    body = rss([{"title": "Biden&amp;#39;s plan &amp;amp; more", "link": "https://e.org/a"}])
    assert [e.title for e in _parse(body).entries] == ["Biden's plan & more"]


def test_categories_beyond_ten_are_kept_as_tags():
    item = rss([{"title": "t", "link": "https://e.org/a"}])
    cats = "".join(f"<category>分类{i}</category>" for i in range(30)).encode()
    [entry] = _parse(item.replace(b"</item>", cats + b"</item>")).entries
    assert entry.tags == tuple(f"分类{i}" for i in range(20))


@pytest.mark.parametrize(
    "link", ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://e.org/a"]
)
def test_an_item_whose_link_is_not_http_is_skipped(link):
    body = rss(
        [
            {"title": "bad", "link": link.replace("<", "&lt;").replace(">", "&gt;")},
            {"title": "good", "link": "https://e.org/good"},
        ]
    )
    assert [(e.title, e.url) for e in _parse(body).entries] == [("good", "https://e.org/good")]


def test_relative_urls_in_content_resolve_against_the_article_not_the_feed():
    body = rss(
        [
            {
                "title": "t",
                "link": "https://news.example.com/2024/a.html",
                "content": '<p><img src="pic.jpg"><a href="b.html">b</a></p>',
            }
        ]
    )
    [entry] = _parse(body).entries
    assert entry.content == (
        '<p><img src="https://news.example.com/2024/pic.jpg">'
        '<a href="https://news.example.com/2024/b.html">b</a></p>'
    )


def test_markup_in_titles_and_authors_is_stripped():
    body = rss(
        [
            {
                "title": "&lt;b&gt;Big&lt;/b&gt; news",
                "link": "https://e.org/b",
                "author": "&lt;b&gt;记者&lt;/b&gt;",
            }
        ]
    )
    [entry] = _parse(body).entries
    assert (entry.title, entry.author) == ("Big news", "记者")


def test_the_raw_date_is_one_clean_line():
    """published_raw is shown to users: bidi overrides, C1 controls and line breaks go."""
    body = rss(
        [
            {
                "title": "t",
                "link": "https://e.org/a",
                "pubDate": "Mon, 01 Jan 2024\n 08:00:00 +0800\u202e\x85",
            }
        ]
    )
    [entry] = _parse(body).entries
    assert entry.published_raw == "Mon, 01 Jan 2024  08:00:00 +0800"
