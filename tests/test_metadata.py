"""Date and author of article pages (newsmirror.pagemeta): each rule on a small handmade
page, the date and byline parsers with hypothesis, and `add` / full-text pages end to end."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ARTICLE_TEXT, Reply, make_config, rss
from newsmirror import bylines, pagemeta
from newsmirror.add import add_url
from newsmirror.extract import extract_article
from newsmirror.pipeline import update
from newsmirror.store import Archive
from newsmirror.timeutil import to_iso

BODY = "<p>" + ARTICLE_TEXT + "</p><p>" + ARTICLE_TEXT + "</p>"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def meta(html: str, url: str = "https://news.example.org/a/1.html") -> pagemeta.PageMeta:
    return pagemeta.read_metadata(lxml.html.document_fromstring(html), url, now=NOW)


def page(head: str = "", top: str = "", end: str = "", title: str = "土豆不土的新春故事") -> str:
    """A Chinese article page: a sidebar with other dates, headline, lines under it, body."""
    return (
        f"<html><head><meta charset=utf-8><title>{title}_某某新闻网</title>{head}</head><body>"
        "<div class=side><p>热点 2020-01-01 12:00 旧闻一则</p><p>作者须知</p></div>"
        f"<h1>{title}</h1>{top}<div class=content>{BODY}{end}</div>"
        "<ul><li>·另一篇文章标题(房产)</li><li>·又一篇(2021-02-03 04:05)</li></ul>"
        "</body></html>"
    )


# -- dates ---------------------------------------------------------------------------


def test_a_declared_timestamp_is_stored_in_utc():
    found = meta(page("<meta property='article:published_time' content='2023-10-29T10:20+08:00'>"))
    assert found.date == "2023-10-29T02:20:00.000Z"


def test_a_labelled_date_is_read_in_shanghai_time():
    found = meta(page(top="<p>发布时间：2023年10月29日 10:20　来源：某某日报</p>"))
    assert (found.date, found.date_text) == ("2023-10-29T02:20:00.000Z", "2023年10月29日 10:20")


def test_the_date_under_the_headline_wins_over_dates_elsewhere():
    found = meta(page(top="<p>2023-10-29 10:20 某某日报 分享到</p>"))
    assert found.date == "2023-10-29T02:20:00.000Z"


def test_a_declared_day_takes_its_time_from_the_page():
    found = meta(
        page("<meta name='publishdate' content='2022-02-13'>", top="<p>2022-02-13 07:00:00</p>")
    )
    assert found.date == "2022-02-12T23:00:00.000Z"


def test_a_date_under_the_headline_needs_no_time():
    assert meta(page(top="<p>www.example.gov.cn 2005年08月16日</p>")).date == (
        "2005-08-15T16:00:00.000Z"
    )


def test_no_date_rather_than_a_guess_the_page_does_not_show():
    """htmldate guesses the day from the address; the page shows no such day: no date."""
    assert meta(undated(page()), "https://e.org/2021/05/06/story.html").date == ""


def undated(html: str) -> str:
    return html.replace("2020-01-01 12:00", "").replace("(2021-02-03 04:05)", "")


def test_a_date_in_the_future_is_not_the_publication_date():
    assert meta(undated(page(top="<p>发布时间：2030-01-01 10:00</p>"))).date == ""


def test_a_zoneless_date_on_an_english_page_is_utc():
    html = (
        "<html lang=en><head><title>Story - Site</title></head><body><h1>A long story here"
        "</h1><p>Published: 2023-10-29 10:20</p><p>" + "Text of the story. " * 40 + "</p>"
        "</body></html>"
    )
    assert meta(html).date == "2023-10-29T10:20:00.000Z"


FULL = str.maketrans("0123456789:-/ ", "０１２３４５６７８９：－／　")


@settings(max_examples=150, deadline=None)
@given(
    moment=st.datetimes(datetime(1995, 1, 1), datetime(2030, 12, 31)),
    form=st.sampled_from(
        ["{y}年{m}月{d}日 {H}:{M}", "{y}-{m}-{d} {H}:{M}", "{y}/{m}/{d} {H}时{M}分"]
    ),
    pad=st.booleans(),
    wide=st.booleans(),
    space=st.sampled_from(["", " ", "  ", "\u3000"]),
    before=st.text(alphabet="发布时间：来源日期 abc,。", max_size=8),
)
def test_dates_are_read_in_every_written_form(moment, form, pad, wide, space, before):
    def num(value: int) -> str:
        return f"{value:02d}" if pad else str(value)

    text = form.format(
        y=moment.year,
        m=num(moment.month),
        d=num(moment.day),
        H=num(moment.hour),
        M=f"{moment.minute:02d}",
    ).replace(" ", space if space or "日" in form else " ")  # 2000-1-1 0:00 needs its space
    if wide:
        text = text.translate(FULL)
    found = pagemeta.first_date(before + text + "。")
    expected = moment.replace(second=0, microsecond=0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert found is not None and found.moment == expected.astimezone(UTC) and found.timed


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="0123456789０１２３年月日时分:-/. 　T+Z", max_size=40))
def test_the_date_parser_never_fails_and_gives_only_real_dates(text):
    for _, found in pagemeta.find_dates(text):
        assert found.moment.tzinfo is not None and 1900 <= found.moment.year <= 2100


# -- authors -------------------------------------------------------------------------


def test_a_labelled_author_is_read_and_note_words_are_not_names():
    assert meta(page(top="<p>作者：张三</p>")).author == "张三"
    assert meta(page(top="<p>作者须知</p><p>该作者文章</p>")).author == ""


def test_reporters_after_a_newspaper_name_end_at_the_place_of_the_report():
    assert meta(page(top="<p>光明日报记者 王建宏 张文攀</p>")).author == "王建宏、张文攀"
    assert meta(page(end="<p>新京报记者 彭冲 山东冠县报道</p>")).author == "彭冲"


def test_bylines_on_two_lines_add_up():
    top = "<p>本报实习生 刘国栋 周炜</p><p>本报记者 王燕平 方云凤</p>"
    assert meta(page(top=top)).author == "刘国栋、周炜、王燕平、方云凤"


def test_a_sentence_about_a_reporter_is_not_a_byline():
    end = "<p>经记者查实，这则新闻的主角并不是教师。</p><p>孙某告诉记者，他仍在坚持。</p>"
    assert meta(page(end=end)).author == ""


@pytest.mark.parametrize(
    ("closing", "author"),
    [
        ("（记者 胡晓蓉）", "胡晓蓉"),
        ("（姚峰 上海报道）", "姚峰"),
        ("（常书香 马丹阳）", "常书香、马丹阳"),
    ],
)
def test_names_in_brackets_closing_the_article(closing, author):
    assert meta(page(end=f"<p>推动工业高质量发展。{closing}</p>")).author == author


def test_brackets_after_a_list_entry_or_a_photo_credit_are_not_authors():
    assert meta(page(end="<p>现场照片。（王五 摄）</p>")).author == ""  # and 房产 in the list


def test_a_declared_author_that_is_a_url_a_site_or_an_id_is_dropped():
    for value in ("https://www.facebook.com/RFI-123", "某某新闻网", "L_104485", "云南网"):
        assert meta(page(f"<meta name='author' content='{value}'>")).author == "", value


def test_a_declared_author_keeps_only_its_names():
    html = page("<meta name='author' content='赵  培; 中文学术期刊; 汉斯出版社; Hans Publishers'>")
    assert meta(html).author == "赵培"
    html = page("<meta name='author' content='Bradley M. Kuhn (http://ebb.org/bkuhn/)'>")
    assert meta(html).author == "Bradley M. Kuhn"


def test_json_ld_author_and_date():
    ld = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": '
        '"2023-10-29T10:20:00+08:00", "author": {"@type": "Person", "name": "李四"}}</script>'
    )
    found = meta(page(ld))
    assert (found.author, found.date) == ("李四", "2023-10-29T02:20:00.000Z")


def test_a_line_of_names_under_the_headline_is_the_author_but_not_the_subject():
    assert meta(page(top="<p>胡平</p>")).author == "胡平"
    assert meta(page(top="<p>金锺国</p>", title="金锺国的音乐生涯")).author == ""


def test_a_name_in_brackets_on_the_date_line():
    assert meta(
        page(top="<p>2004年7月16日08:19</p><p>[ 黄宇 ] 来源：[ 国际金融报 ]</p>")
    ).author == ("黄宇")


def test_source_is_not_an_author_and_an_editor_is_the_last_resort():
    assert meta(page(end="<p>来源: 尹娟</p>")).author == ""
    assert meta(page(end="<p>责任编辑：孙重远</p>")).author == ""
    assert meta(page(end="<p>来源：新闻晨报 编辑：山石</p>")).author == "山石"
    assert meta(page(top="<p>文/李四</p>", end="<p>编辑：山石</p>")).author == "李四"


def test_latin_names_are_capitalised_and_lose_a_trailing_month():
    sites = bylines.SiteNames(frozenset())
    assert bylines.clean_declared_author("Authority control", sites) == []
    assert bylines.clean_declared_author("Nathan Willis March", sites) == ["Nathan Willis"]
    assert bylines.clean_declared_author("Ludwig van Beethoven", sites) == ["Ludwig van Beethoven"]


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭欧阳"
GIVEN = "建宏文攀晓蓉冲楠丹亮峰培"


@settings(max_examples=150, deadline=None)
@given(
    surname=st.sampled_from(["王", "李", "张", "刘", "陈", "欧阳", "胡"]),
    given_name=st.text(alphabet=GIVEN, min_size=1, max_size=2),
    label=st.sampled_from(["作者：", "作者: ", "文／", "记者 ", "本报记者　", "执笔人："]),
    tail=st.sampled_from(["", " 北京报道", "　", "｜来源：某报"]),
)
def test_bylines_in_every_form_give_the_name(surname, given_name, label, tail):
    name = surname + given_name
    if len(name) > 4 or (len(surname) == 2 and len(name) < 3):
        return
    kind, names = bylines.byline(
        unicodedata.normalize("NFKC", label + name + tail), bylines.SiteNames(frozenset())
    )
    assert (kind, names) == ("writer", [name])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="作者记者文编辑：:/ 　王李张abcL_0123456789.@w", max_size=40))
def test_a_byline_never_gives_an_id_a_url_or_a_label(text):
    _, names = bylines.byline(unicodedata.normalize("NFKC", text), bylines.SiteNames(frozenset()))
    for name in names:
        assert not any(ch.isdigit() for ch in name) and "_" not in name and "@" not in name
        assert "/" not in name and name not in ("作者", "记者", "编辑")


# -- end to end ----------------------------------------------------------------------

PAGE = page(top="<p>发布时间：2023年10月29日 10:20 来源：某某日报</p><p>作者：张三</p>")


def test_add_takes_date_and_author_from_the_page(tmp_path, server):
    server.route("/story.html", Reply(body=PAGE.encode(), headers={"Content-Type": "text/html"}))
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive:
        add_url(config, archive, f"{server.url}/story.html", source="手动", allow_private=True)
        [art] = list(archive.iter_articles())
    assert (art.author, art.published.isoformat()) == ("张三", "2023-10-29T02:20:00+00:00")
    assert art.date_known


def test_full_text_pages_fill_what_the_feed_did_not_give(tmp_path, server):
    server.route("/a.html", Reply(body=PAGE.encode(), headers={"Content-Type": "text/html"}))
    server.route("/b.html", Reply(body=PAGE.encode(), headers={"Content-Type": "text/html"}))
    items = [
        {"title": "无日期", "link": f"{server.url}/a.html", "description": "摘要……阅读全文"},
        {
            "title": "有日期",
            "link": f"{server.url}/b.html",
            "description": "摘要……阅读全文",
            "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
            "author": "王五",
        },
    ]
    server.route("/feed", Reply(body=rss(items)))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    with Archive.open(config.archive) as archive:
        update(config, archive)
        arts = {a.title: a for a in archive.iter_articles()}
    bare, given_ = arts["无日期"], arts["有日期"]
    assert (bare.author, bare.published.isoformat()) == ("张三", "2023-10-29T02:20:00+00:00")
    assert bare.date_known
    assert (given_.author, given_.published.isoformat()) == ("王五", "2024-01-01T00:00:00+00:00")


def test_extract_article_gives_the_page_date_in_utc():
    result = extract_article(PAGE, "https://e.org/a", metadata=True)
    assert (result.author, result.date) == ("张三", "2023-10-29T02:20:00.000Z")


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2023-10-29 10:20 +05:30", "2023-10-29T04:50:00.000Z"),
        ("2023-10-29 10:20 GMT-0200", "2023-10-29T12:20:00.000Z"),
        ("2023-10-29T10:20:00Z", "2023-10-29T10:20:00.000Z"),
        ("2005-04-01 09:56 PM", "2005-04-01T13:56:00.000Z"),
        ("2005年4月1日 下午3点5分", "2005-04-01T07:05:00.000Z"),
    ],
)
def test_zones_and_afternoons(text, utc):
    found = pagemeta.first_date(text)
    assert found is not None and to_iso(found.moment) == utc


def test_an_address_is_not_an_author_even_after_a_label():
    assert meta(page(top="<p>作者：www.foo.net</p>")).author == ""


def test_a_menu_under_the_site_name_is_not_a_line_of_names():
    html = page(top="<p>时事 |</p><p>生活 |</p><p>文化</p>").replace("<h1>", "<h1>某某博客 » ")
    assert meta(html).author == ""
    assert meta(page(top="<p>时事</p><p>生活</p>")).author == ""


# -- work done only when needed -------------------------------------------------------


def never() -> str:
    raise AssertionError("read although the page already answered")


def test_htmldate_is_not_asked_when_the_page_declares_its_date():
    declared = [pagemeta.parse_declared("2023-10-29T10:20+08:00", "Asia/Shanghai")]
    found = pagemeta.choose_date([d for d in declared if d], [], None, never, "Asia/Shanghai", NOW)
    assert found is not None and found.text.startswith("2023-10-29")


def test_the_declared_author_is_not_read_when_the_page_has_a_byline():
    sites = pagemeta.SiteNames(frozenset())
    assert pagemeta.choose_author(never, ["记者 王小明"], None, sites) == ["王小明"]  # type: ignore[arg-type]
