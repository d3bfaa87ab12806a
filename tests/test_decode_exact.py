"""Decoding pages and feeds: the exact text and the codec chosen, at each step's edge."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import rss as feed_bytes
from newsmirror.decode import (
    FeedText,
    _clean_decode,
    _kana_or_hangul,
    _private_use_heavy,
    declared_charset,
    decode_feed,
    decode_html,
    header_charset,
    normalise_charset,
    page_refusal,
    prolog_charset,
    split_bom,
)

BIG5_TEXT = "中華民國的新聞報導，繁體字。"
GBK_TEXT = "这是一段中文新闻内容。"


def rss(title: str, prolog: str = "") -> str:
    return f"{prolog}<rss><channel><title>{title}</title></channel></rss>"


# -- Labels browsers honour ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb_2312", "gb18030"),
        ("gb_2312-80", "gb18030"),
        ("csgb2312", "gb18030"),
        ("x-x-big5", "big5hkscs"),
        ("cn-big5", "big5hkscs"),
        ("x-mac-cyrillic", "mac-cyrillic"),
        ("windows-874", "cp874"),
        ("GB2312", "gb18030"),
        (" 'GBK' ", "gb18030"),
        ("US-ASCII", "utf-8"),
        ("latin1", "cp1252"),  # as browsers read it (WHATWG), not Python's latin-1
        ("ISO-8859-1", "cp1252"),
        ("latin-1", "cp1252"),  # no browser label: Python's, widened as the one above
        ("shift_jis", "cp932"),  # Windows' extensions (①, NEC and IBM rows) read too
        ("euc-kr", "cp949"),
        ("utf-16", "utf-16-le"),
        ("x-user-defined", None),  # no codec of Python's: as if none were declared
        ("iso-2022-kr", "iso2022_kr"),  # WHATWG's "replacement", no codec: Python's
        ("x-big5", "big5hkscs"),  # no label of Python's or the browsers'
        ("'X-Big5'", "big5hkscs"),
        ("X-X-BIG5", "big5hkscs"),
        ("nonsense", None),
        ("", None),
        (None, None),
    ],
)
def test_charset_labels_as_browsers_read_them(label, codec):
    assert normalise_charset(label) == codec


@pytest.mark.parametrize("title", ["新闻", "今天", "天气预报", "政府"])
@pytest.mark.parametrize("label", ["gb_2312", "csgb2312", "GBK"])
def test_a_short_page_in_a_gb_label_reads_as_chinese(title, label):
    body = f'<meta charset="{label}"><title>{title}</title>'.encode("gbk")
    assert decode_html(body) == (f'<meta charset="{label}"><title>{title}</title>', "gb18030")


@pytest.mark.parametrize("label", ["x-x-big5", "cn-big5", "big5"])
def test_a_short_page_in_a_big5_label_reads_as_chinese(label):
    body = f'<meta charset="{label}"><title>天氣</title>'.encode("big5")
    assert decode_html(body) == (f'<meta charset="{label}"><title>天氣</title>', "big5hkscs")


# -- Declarations ------------------------------------------------------------------------


def test_declarations_are_read_from_meta_prolog_header_and_bom():
    assert declared_charset(b'<meta http-equiv=x content="text/html; charset=GBK">') == "gb18030"
    assert declared_charset(b"<?xml version='1.0' encoding='big5'?>") == "big5hkscs"
    assert declared_charset(b'<x encoding="koi8-r">') == "koi8-r"
    assert declared_charset(b"<p>no declaration</p>") is None
    assert declared_charset(b" " * 4070 + b"<meta charset=gbk>") == "gb18030"
    assert declared_charset(b" " * 4080 + b"<meta charset=gbk>") is None  # past 4096 bytes
    assert header_charset('text/html; charset="Big5"') == "big5hkscs"
    assert header_charset("text/html") is None and header_charset("") is None
    assert prolog_charset(b'\xef\xbb\xbf <?xml version="1.0" encoding="GBK"?>') == "gb18030"
    assert prolog_charset(b" " * 990 + b'<?xml encoding="GBK"?>') == "gb18030"
    assert prolog_charset(b" " * 1020 + b'<?xml encoding="GBK"?>') is None  # past 1024
    assert prolog_charset(b"<rss>") is None
    assert split_bom(codecs.BOM_UTF16_BE + b"\x00<") == ("utf-16-be", b"\x00<")
    assert split_bom(b"<rss>") == (None, b"<rss>")


# -- Pages ---------------------------------------------------------------------------------


def test_a_byte_order_mark_decides_and_bad_bytes_are_replaced():
    body = codecs.BOM_UTF8 + "中".encode() + b"\xff"
    assert decode_html(body, "text/html; charset=gbk") == ("中\ufffd", "utf-8")
    body = codecs.BOM_UTF16_LE + "中文".encode("utf-16-le")
    assert decode_html(body) == ("中文", "utf-16-le")


def test_the_header_decides_over_detection():
    # Big5 bytes that GB18030 also reads: only the header says which.
    body = rss(BIG5_TEXT).encode("big5")
    mac = "Привет, мир! Новости дня.".encode("mac-cyrillic")
    assert decode_html(mac, "text/html; charset=mac-cyrillic") == (
        "Привет, мир! Новости дня.",
        "mac-cyrillic",
    )
    assert decode_html(body, "text/html; charset=big5")[1] == "big5hkscs"


def test_a_charset_no_browser_reads_is_skipped_for_the_next():
    body = b'<meta charset="gb2312"><title>' + "天气预报".encode("gbk") + b"</title>"
    text, codec = decode_html(body, "text/html; charset=utf-7")
    assert codec == "gb18030" and "天气预报" in text
    text, codec = decode_html(body, "text/html; charset=unicode_escape")
    assert codec == "gb18030" and "天气预报" in text


def test_a_western_default_is_trusted_only_for_ascii():
    assert decode_html(b"<p>plain</p>", "text/html; charset=iso-8859-1") == (
        "<p>plain</p>",
        "cp1252",
    )
    body = b'<meta charset="gbk">' + "天气预报".encode("gbk")
    assert decode_html(body, "text/html; charset=iso-8859-1") == (
        '<meta charset="gbk">天气预报',
        "gb18030",
    )


def test_a_western_header_does_not_hide_the_page_s_own_declaration():
    body = '<meta charset="big5"><title>天氣</title>'.encode("big5")
    assert decode_html(body, "text/html; charset=iso-8859-1") == (
        '<meta charset="big5"><title>天氣</title>',
        "big5hkscs",
    )


def test_undetectable_pages():
    # charset-normalizer finds nothing in these: GB18030, then Big5, then UTF-8 replaced.
    gbk = b"\x01".join(w.encode("gbk") for w in ["中文", "新闻", "今天", "天气", "政府"] * 4)
    assert decode_html(gbk) == (
        "\x01".join(["中文", "新闻", "今天", "天气", "政府"] * 4),
        "gb18030",
    )
    big5 = b"\x01".join(w.encode("big5") for w in ["中華", "新聞", "臺灣", "天氣", "政府"] * 4)
    # Before: GB18030 private-use characters.
    assert decode_html(big5) == (
        "\x01".join(["中華", "新聞", "臺灣", "天氣", "政府"] * 4),
        "big5hkscs",
    )
    junk = b"<p>\xff\xff\xff\x00\x00\x00</p>"
    assert decode_html(junk) == ("<p>\ufffd\ufffd\ufffd\x00\x00\x00</p>", "utf-8")


def test_a_utf16_meta_means_utf8():
    body = '<meta charset="utf-16"><p>中文</p>'.encode()
    assert decode_html(body) == ('<meta charset="utf-16"><p>中文</p>', "utf-8")


def test_utf8_with_a_stray_byte_is_still_utf8():
    good = "中文新闻内容很长很长。".encode() * 3
    text, codec = decode_html(good[:9] + b"\xff" + good[9:])
    assert (text, codec) == (
        "中文新\ufffd" + "闻内容很长很长。" + "中文新闻内容很长很长。" * 2,
        "utf-8",
    )
    assert decode_html("<p>中文</p>".encode()) == ("<p>中文</p>", "utf-8")
    # Detection would make this CP1125.
    assert decode_html("<p>中文</p>".encode() + b"\xff") == ("<p>中文</p>\ufffd", "utf-8")


def test_a_few_bad_bytes_do_not_disprove_the_declared_codec():
    def page(n: int, size: int = 10) -> bytes:
        return ("中" * size).encode() + b"\xff" * n

    assert _clean_decode(page(2), "utf-8") == "中" * 10 + "\ufffd" * 2
    assert _clean_decode(page(3), "utf-8") is None
    assert _clean_decode(page(3, 5997), "utf-8") == "中" * 5997 + "\ufffd" * 3  # 6000 chars
    assert _clean_decode(page(4, 5996), "utf-8") is None
    assert _clean_decode(b"abc", "no-such-codec") is None
    assert _clean_decode("中".encode("gbk") + b"\x81", "gb18030") == "中\ufffd"


def test_big5_read_as_gb18030_is_told_by_its_private_use_characters():
    wide = "中" * 37
    assert not _private_use_heavy(wide + "\ue000" * 2 + "a" * 100)
    assert _private_use_heavy(wide + "\ue000" * 3 + "a" * 100)
    assert not _private_use_heavy("中" * 57 + "\ue000" * 3)  # 60 wide: 3 is a twentieth
    assert _private_use_heavy("中" * 56 + "\ue000" * 4)


# -- Feeds ---------------------------------------------------------------------------------


def test_a_declared_feed_is_read_exactly():
    body = rss(GBK_TEXT, '<?xml version="1.0" encoding="gbk"?>')
    assert decode_feed(body.encode("gbk")) == FeedText(body, "gb18030", exact=True)
    assert decode_feed(b"  " + body.encode("gbk")) == FeedText("  " + body, "gb18030", True)
    body = rss(BIG5_TEXT)
    assert decode_feed(body.encode("big5"), "text/xml; charset=big5") == FeedText(
        body, "big5hkscs", exact=True
    )
    assert decode_feed(body.encode()) == FeedText(body, "utf-8", exact=True)
    assert decode_feed(b"   ", "text/xml; charset=gbk") == FeedText("   ", "gb18030", True)


def test_a_declaration_whose_text_is_no_xml_is_not_trusted():
    body = rss(GBK_TEXT).encode("gbk")
    assert decode_feed(body + b" ", "text/xml; charset=utf-16-le") == FeedText(
        rss(GBK_TEXT) + " ", "gb18030", exact=True
    )
    # Read as UTF-16 these bytes give no "<": GB18030, detected, reads them.
    assert decode_feed(body, "text/xml; charset=utf-16-le") == FeedText(
        rss(GBK_TEXT), "gb18030", exact=True
    )
    # UTF-8 needs no "<" first.
    assert decode_feed("中文 not xml".encode()) == FeedText("中文 not xml", "utf-8", True)
    assert decode_feed("日本".encode()) == FeedText("日本", "utf-8", True)  # not GB18030
    assert decode_feed(("中" * 20).encode() + b"\xff") == FeedText(
        "中" * 20 + "\ufffd", "utf-8", exact=False
    )


def test_a_feed_with_a_stray_byte_keeps_its_declared_codec():
    body = rss(BIG5_TEXT).encode("big5")
    stray = body[:20] + b"\xff" + body[20:]
    text = "<rss><channel><title\ufffd>" + BIG5_TEXT + "</title></channel></rss>"
    assert decode_feed(stray, "text/xml; charset=big5") == FeedText(text, "big5hkscs", False)
    body = rss(GBK_TEXT).encode("gbk")
    stray = body[:20] + b"\xff" + body[20:]
    text = "<rss><channel><title\ufffd>" + GBK_TEXT + "</title></channel></rss>"
    assert decode_feed(stray, "text/xml; charset=gbk") == FeedText(text, "gb18030", False)


def test_utf8_with_stray_bytes_needs_twenty_good_characters_for_each():
    twenty = rss("中" * 20).encode()
    body = twenty[:24] + b"\xff" + twenty[24:]
    assert decode_feed(body) == FeedText(
        "<rss><channel><title>中\ufffd" + "中" * 19 + "</title></channel></rss>", "utf-8", False
    )
    nineteen = rss("中" * 19).encode()
    found = decode_feed(nineteen[:24] + b"\xff" + nineteen[24:])
    assert found is not None and found.codec != "utf-8"


@pytest.mark.parametrize(
    ("text", "encoding", "codec"),
    [
        (BIG5_TEXT, "big5", "big5hkscs"),
        (GBK_TEXT, "gbk", "gb18030"),
        ("日本語のニュースです。ひらがなとカタカナ。", "shift_jis", "cp932"),
        ("한국어 뉴스입니다. 안녕하세요 여러분.", "euc-kr", "cp949"),
    ],
)
def test_an_undeclared_feed_is_detected_chinese_first(text, encoding, codec):
    assert decode_feed(rss(text).encode(encoding)) == FeedText(rss(text), codec, exact=True)


def test_a_detected_feed_with_bad_bytes_is_not_exact():
    body = rss(GBK_TEXT * 3).encode("gbk")
    body = body[:-3] + b"\x81" + body[-3:]  # one stray lead byte before the last "ss>"
    found = decode_feed(body)
    assert found == FeedText(rss(GBK_TEXT * 3)[:-3] + "乻s>", "gb18030", exact=True)


@pytest.mark.parametrize("stray", [b"\x80", b"\xff"])
@pytest.mark.parametrize(
    ("text", "encoding", "codec"), [(GBK_TEXT, "gbk", "gb18030"), (BIG5_TEXT, "big5", "big5hkscs")]
)
def test_an_undeclared_chinese_feed_with_one_stray_byte_is_still_chinese(
    stray, text, encoding, codec
):
    # Before: GBK became KOI8-T or CP1251 (a single-byte codec reads anything), Big5 became
    # GB18030 private-use characters.
    body = rss(text * 3).encode(encoding)
    found = decode_feed(body[:-3] + stray + body[-3:])
    assert found == FeedText(rss(text * 3)[:-3] + "\ufffdss>", codec, exact=False)


@settings(max_examples=40, deadline=None)
@given(
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=8, max_size=60),
    st.sampled_from(["gbk", "gb2312", "gb18030", "GBK", "big5"]),
)
def test_any_declared_chinese_feed_reads_back_exactly(title, label):
    encoding = "big5hkscs" if label == "big5" else "gb18030"
    text = rss(title, f'<?xml version="1.0" encoding="{label}"?>')
    try:
        body = text.encode(encoding)
    except UnicodeEncodeError:
        return  # a character Big5 has not
    assert decode_feed(body) == FeedText(text, normalise_charset(label) or "", exact=True)


JAPANESE = "日本語のニュースです。ひらがなとカタカナ。"


def test_a_declared_codec_other_than_chinese_is_kept():
    body = rss(JAPANESE).encode("shift_jis")
    stray = body + b"\x81"  # a lead byte with no trail byte
    assert decode_feed(stray, "text/xml; charset=shift_jis") == FeedText(
        rss(JAPANESE) + "\ufffd", "cp932", exact=False
    )
    assert decode_feed(b"  " + body, "text/xml; charset=shift_jis") == FeedText(
        "  " + rss(JAPANESE), "cp932", exact=True
    )


def test_a_western_header_for_chinese_bytes_is_not_trusted():
    body = rss(GBK_TEXT).encode("gbk")
    assert decode_feed(body, "text/xml; charset=iso-8859-1") == FeedText(
        rss(GBK_TEXT), "gb18030", exact=True
    )
    assert decode_feed(rss("abc").encode(), "text/xml; charset=iso-8859-1") == FeedText(
        rss("abc"), "cp1252", exact=True
    )


def test_undeclared_pages_are_detected():
    page = "<html><p>" + JAPANESE * 3 + "</p></html>"
    assert decode_html(page.encode("shift_jis")) == (page, "cp932")
    page = "<html><p>" + BIG5_TEXT * 3 + "</p></html>"
    assert decode_html(page.encode("big5")) == (page, "big5hkscs")


def test_an_undeclared_feed_in_a_single_byte_codec_is_read():
    text = "Новости дня: правительство объявило о новых мерах поддержки экономики."
    assert decode_feed(rss(text).encode("cp1251")) == FeedText(rss(text), "cp1251", exact=True)


def test_a_short_gbk_feed_is_no_korean():
    assert decode_feed(rss("政府公告").encode("gbk")) == FeedText(rss("政府公告"), "gb18030", True)


def test_a_feed_no_encoding_reads_is_none():
    assert decode_feed(b"<p>\xff\xff\xff\x00\x00\x00</p>") is None


def test_japanese_or_korean_is_a_fifth_of_the_wide_characters():
    assert _kana_or_hangul("あ") and _kana_or_hangul("あ中中中中") and _kana_or_hangul("한a")
    assert not _kana_or_hangul("あ中中中中中")
    assert not _kana_or_hangul("abc") and not _kana_or_hangul("")


def test_a_big5_feed_under_a_utf8_header_is_big5():
    item = {"title": "繁體標題", "link": "https://e.org/big5", "description": "<p>正文一</p>"}
    body = feed_bytes([item], encoding="big5").replace(b' encoding="big5"', b"")
    found = decode_feed(body, "application/rss+xml; charset=utf-8")
    assert found is not None and found.codec == "big5hkscs" and found.exact
    assert "<title>繁體標題</title>" in found.text and "<p>正文一</p>" in found.text


def test_an_iso_2022_kr_feed_still_reads():
    """WHATWG maps the label to "replacement" (no codec): Python's codec reads it."""
    text = rss("한국어 뉴스입니다")
    assert decode_feed(text.encode("iso2022_kr"), "text/xml; charset=iso-2022-kr") == FeedText(
        text, "iso2022_kr", exact=True
    )


def test_a_label_reads_as_browsers_read_it_with_windows_extensions():
    """A page labelled EUC-KR whose syllables only Windows' cp949 has (똠), or Shift_JIS
    with Windows' extensions (①, Ⅲ, 髙), reads as a reader's browser shows it (WHATWG's
    decoders are those), not with U+FFFD for what the strict codec lacks."""
    korean = '<meta charset="euc-kr"><p>한국어 뉴스입니다. 똠방각하</p>'
    assert decode_html(korean.encode("cp949"), "text/html") == (korean, "cp949")
    japanese = '<meta charset="Shift_JIS"><p>日本語の①番目のニュース、Ⅲ章と髙橋さん</p>'
    assert decode_html(japanese.encode("cp932"), "text/html") == (japanese, "cp932")


MIME = st.sampled_from(
    ["", "text/html", "image/png", "application/octet-stream", "audio/mpeg", "application/pdf"]
)


@given(st.binary(max_size=200), MIME, st.sampled_from([b"", b" \r\n\t", b"\xef\xbb\xbf"]))
def test_anything_that_starts_like_markup_is_read_as_a_page(rest, mime, lead):
    # servers mislabel pages: a body that opens with "<" is never refused for its type
    assert page_refusal(lead + b"<" + rest, mime) is None


@given(st.binary(max_size=200), MIME)
def test_an_image_is_refused_whatever_its_type_says(rest, mime):
    said = page_refusal(b"\x89PNG\r\n\x1a\n" + rest, mime)
    assert said is not None and said.startswith("not a web page: its bytes are a PNG image")


# -- from a mutation pass: each test fails on a seeded bug the suite let through --


def test_a_big5_page_mislabelled_gb2312_is_read_as_big5_not_private_use_mojibake():
    """GB18030 decodes Big5 bytes without an error, into private-use characters: the
    declared codec's reading must be refused when it is heavy with them."""
    text = "這是一段繁體中文新聞內容，臺灣的報導。香港與澳門的讀者也會閱讀這篇文章。" * 3
    page = f'<html><head><meta charset="gb2312"></head><body><p>{text}</p></body></html>'
    decoded, codec = decode_html(page.encode("big5"))
    assert codec == "big5hkscs"
    assert decoded == page
