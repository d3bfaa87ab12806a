"""Decoding Chinese pages and extracting their main text."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CORPUS
from newsmirror.clean import best_srcset
from newsmirror.decode import decode_html, normalise_charset
from newsmirror.extract import ExtractionError, extract_article

TEXT = "中华民国與中華人民共和國的新聞報道，包含繁體字和简体字。" * 5


def page(encoding: str, meta: str = "", body: str = TEXT, title: str = "标题") -> bytes:
    return (
        f"<html><head>{meta}<title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{body}</p></article></body></html>"
    ).encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "gb18030", "big5"])
def test_declared_meta_charset(encoding):
    body = TEXT if encoding != "gbk" else TEXT.replace("與", "与").replace("華", "华")
    if encoding == "big5":
        body = "中華民國的新聞報導，繁體字。" * 5
    data = page(encoding, f'<meta charset="{encoding}">', body, title="標題")
    text, _ = decode_html(data)
    assert body in text


def test_http_header_wins_and_gb2312_is_read_as_gb18030():
    data = page("gb18030", body="镕基与𠮷野家")  # outside GB2312 and GBK
    text, codec = decode_html(data, "text/html; charset=gb2312")
    assert "镕基与𠮷野家" in text and codec == "gb18030"


def test_mislabelled_page_is_detected():
    data = page("gbk", '<meta charset="iso-8859-1">')
    text, _ = decode_html(data)
    assert TEXT.replace("與", "与")[:10] in text or "中华民国" in text
    data = page("utf-8", '<meta charset="big5">')
    assert "中华民国" in decode_html(data)[0]


def test_undeclared_gbk_is_detected():
    body = "这是一段没有声明编码的中文网页内容，用来测试自动检测。" * 10
    assert body in decode_html(page("gbk", body=body))[0]


def test_charset_names():
    assert normalise_charset("GB2312") == "gb18030"
    assert normalise_charset("x-gbk") == "gb18030"
    assert normalise_charset("Big5") == "big5hkscs"
    assert normalise_charset("nonsense") is None


@settings(max_examples=100, deadline=None)
@given(
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=30, max_size=200)
)
def test_any_chinese_text_round_trips_in_gb18030_and_utf8(body):
    for encoding in ("gb18030", "utf-8"):
        text, _ = decode_html(page(encoding, f'<meta charset="{encoding}">', body))
        assert body in text


def test_extraction_keeps_structure_and_drops_navigation():
    nav = "".join(f'<a href="/c{i}">栏目{i}</a> ' for i in range(8))
    html = (
        f"<html><body><div class='nav'>{nav}</div><article><h1>标题</h1>"
        f"<p>{TEXT}</p><h2>小标题</h2><ul><li>第一条很长的列表内容，说明事实。</li>"
        "<li>第二条很长的列表内容，说明事实。</li></ul><blockquote><p>引用的一段话，"
        "来自某位人士。</p></blockquote><figure><img data-src='/img/a.jpg' "
        "src='data:image/gif;base64,R0lG'><figcaption>图片说明文字</figcaption></figure>"
        f"<p>{TEXT}</p></article><div>打印 | 关闭窗口</div><ul><li>首页</li><li>新闻</li>"
        "<li>财经</li><li>体育</li></ul></body></html>"
    )
    result = extract_article(html, "https://news.example.org/2024/a.html")
    assert "<h2>" in result.html and "<li>" in result.html and "<blockquote>" in result.html
    assert 'src="https://news.example.org/img/a.jpg"' in result.html
    assert "图片说明文字" in result.text
    for boiler in ("栏目3", "关闭窗口", "体育"):
        assert boiler not in result.text


def test_selector_and_remove_override_extraction():
    html = (
        "<html><body><div id='story'><p>正文第一段。</p><div class='share'>分享到微博</div>"
        "</div><div id='other'>别的东西</div></body></html>"
    )
    result = extract_article(html, "https://e.org/a", selector="#story", remove=[".share"])
    assert result.text == "正文第一段。"
    with pytest.raises(ExtractionError, match="matches nothing"):
        extract_article(html, "https://e.org/a", selector="#missing")


def test_metadata_is_read_when_asked():
    html = (
        "<html><head><meta property='og:title' content='真标题'><meta name='author' "
        "content='记者甲'><meta property='article:published_time' "
        f"content='2024-01-02T03:04:05+08:00'></head><body><p>{TEXT}</p></body></html>"
    )
    result = extract_article(html, "https://e.org/a", metadata=True)
    assert (result.title, result.author, result.date, result.date_text) == (
        "真标题",
        "记者甲",
        "2024-01-01T19:04:05.000Z",  # stored in UTC
        "2024-01-02T03:04:05+08:00",  # as the page wrote it
    )


def test_best_srcset():
    assert best_srcset("a.jpg 320w, b.jpg 1280w, c.jpg 640w") == "b.jpg"
    assert best_srcset("a.jpg 1x, b.jpg 2x") == "b.jpg"
    assert best_srcset("only.jpg") == "only.jpg"


def test_corpus_pages_decode_without_mojibake():
    pages = sorted((CORPUS / "zh-extraction" / "original").glob("*.html"))
    if not pages:
        pytest.skip("../shared/corpus is not here")
    for path in pages:
        text, _ = decode_html(path.read_bytes())
        assert text.count("\ufffd") <= max(2, len(text) // 2000), path.name


@pytest.mark.parametrize("metadata", [False, True])
def test_page_with_an_element_of_many_attributes_is_extracted_quickly(metadata):
    crowd = " ".join(f"a{i}=1" for i in range(50_000))
    html = (
        "<!doctype html><html><head><meta charset=utf-8><meta property='og:title' "
        f"content='标题'></head><body><article><div {crowd}><p>{TEXT}</p><img {crowd} "
        "src='/i.jpg'></div></article></body></html>"
    )
    started = time.perf_counter()
    result = extract_article(html, "https://e.org/a", metadata=metadata)
    assert time.perf_counter() - started < 1.5
    assert TEXT.strip("。") in result.text
    assert result.title == ("标题" if metadata else "")
