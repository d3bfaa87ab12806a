"""Pages and feeds that declare no charset: short Chinese text in GBK or Big5 reads as
Chinese (the detector alone reads four GBK characters as Korean or Polish), while
Japanese, Korean and Western text still reads as itself."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from newsmirror.decode import chinese_reading, decode_feed, decode_html

# Characters of news headlines, simplified and traditional (each encodable in its codec).
SIMPLIFIED = (
    "中国美国大选结果揭晓习近平会见北京时间天气预报经济政府公告台湾香港立法会选举新闻"
    "今日头条台风来袭总统警方发布消息外交部发言人表示疫情病毒疫苗上海深圳广州人民日报"
)
FOOLED_BEFORE = [  # misread by charset-normalizer alone (cp1250, johab, cp1257, cp949)
    ("天氣預報", "big5"),
    ("天氣預報", "gbk"),
    ("香港立法會選舉結果", "gbk"),
    ("中國經濟", "gbk"),
    ("习近平会见", "gbk"),
    ("中国经济", "gbk"),
    ("北京时间", "gbk"),
]


def page(text: str) -> str:
    return f"<html><title>{text}</title><p>{text}</p></html>"


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def rss(text: str) -> str:
    """A feed that declares no encoding."""
    return f'<rss version="2.0"><channel><title>{text}</title></channel></rss>'


@pytest.mark.parametrize(("text", "codec"), FOOLED_BEFORE)
def test_a_short_undeclared_chinese_page_reads_as_chinese(text, codec):
    decoded, used = decode_html(page(text).encode(codec))
    assert decoded == page(text)
    assert used in ("gb18030", "big5hkscs")


@given(st.text(st.sampled_from(SIMPLIFIED), min_size=2, max_size=12))
@settings(max_examples=150, deadline=None)
def test_any_short_gbk_headline_reads_back(text):
    assume(not _utf8(page(text).encode("gbk")))  # (valid UTF-8 is UTF-8: 习息 is ϰϢ)
    assert decode_html(page(text).encode("gbk")) == (page(text), "gb18030")
    assert decode_feed(rss(text).encode("gbk")).text == rss(text)


# Real traditional text (a headline is a stretch of it): two or three Big5 characters can
# be GB2312's common ones too (國務 is 瓣挡 in GB2312, both common: no reading can tell),
# so the property holds from four characters on.
BIG5_NEWS = (
    "香港立法會今日三讀通過國家安全條例，行政長官表示條例將於明日刊憲生效。美國國務院"
    "發言人批評有關法例損害香港自由，並呼籲北京尊重一國兩制。臺灣陸委會亦發表聲明，指出"
    "兩岸關係面臨新挑戰。颱風來襲，天文臺懸掛八號烈風信號，市民應盡早返家。"
)


@given(st.integers(0, len(BIG5_NEWS) - 4), st.integers(4, 16))
@settings(max_examples=150, deadline=None)
def test_any_stretch_of_big5_news_reads_back(start, length):
    text = BIG5_NEWS[start : start + length]
    assume(not _utf8(page(text).encode("big5")))
    assert decode_html(page(text).encode("big5")) == (page(text), "big5hkscs")
    assert decode_feed(rss(text).encode("big5")).text == rss(text)


OTHERS = [
    ("한국 정부는 오늘 새로운 경제 정책을 발표했습니다.", "euc-kr"),
    ("한국어 뉴스입니다", "euc-kr"),
    ("日本政府は今日、新しい経済政策を発表しました。", "shift_jis"),
    ("日本語のニュース", "euc-jp"),
    ("Правительство объявило о новых мерах поддержки экономики.", "cp1251"),
    ("Правительство объявило о новых мерах поддержки экономики.", "koi8-r"),
]


@pytest.mark.parametrize(("text", "codec"), OTHERS)
def test_other_undeclared_text_is_not_taken_for_chinese(text, codec):
    decoded, _used = decode_html(page(text).encode(codec))
    assert decoded == page(text)
    assert decode_feed(rss(text).encode(codec)).text == rss(text)


def test_an_undeclared_western_feed_is_no_gb18030():
    """French with its accents decodes as GB18030 with a few bytes replaced; that reading
    is rare characters, so the single-byte codec that reads it exactly wins."""
    text = "Le gouvernement a annoncé aujourd'hui de nouvelles mesures très attendues."
    read = decode_feed(rss(text).encode("cp1252"))
    assert read.text == rss(text) and read.exact


def test_a_chinese_reading_is_common_characters():
    assert chinese_reading("臺灣新聞".encode("big5")) == ("big5hkscs", "臺灣新聞")
    assert chinese_reading("台湾新闻".encode("gbk")) == ("gb18030", "台湾新闻")
    assert chinese_reading("臺灣新聞".encode("shift_jis")) is None  # 鋓鄐怴暦: rare
    assert chinese_reading(b"plain ascii") is None
