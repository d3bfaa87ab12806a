"""Body extraction rules, each a general property of page layout, on small handmade pages."""

from __future__ import annotations

import lxml.html
from hypothesis import given
from hypothesis import strategies as st

from newsmirror.extract import (
    block_text,
    extract_article,
    is_prose,
    looks_cut_short,
    off_topic,
    page_references,
    parse_page,
)

SENTENCES = [
    "The river rose two metres overnight and the old bridge was closed to traffic.",
    "Engineers said the piers had been checked in spring and showed no damage then.",
    "Shopkeepers on the east bank moved their stock upstairs before the water came.",
    "The council opened the school gym for families who had to leave their homes.",
    "Buses will run on the northern route until the bridge is inspected again.",
    "Farmers upstream reported the heaviest rain in forty years on Saturday night.",
]
URL = "https://news.example.org/2024/flood.html"


def para(i: int) -> str:
    return f"<p>{SENTENCES[i % len(SENTENCES)]} {SENTENCES[(i + 1) % len(SENTENCES)]}</p>"


def test_a_page_that_repeats_its_paragraph_keeps_every_copy():
    # trafilatura's fast pass drops repeated paragraphs (a refrain, a standing notice, a
    # test page): the result is much shorter than the page's block of paragraphs, so the
    # full pass is run, and kept as it finds more.
    page = (
        "<!doctype html><html><head><title>Flood</title></head><body><h1>Flood</h1>"
        + para(0) * 5
        + "</body></html>"
    )
    assert extract_article(page, URL).text.count(SENTENCES[0]) == 5


def test_a_result_much_shorter_than_the_main_block_looks_cut_short():
    page = "<html><body><div>" + "".join(para(i) for i in range(6)) + "</div></body></html>"
    assert looks_cut_short(SENTENCES[0], parse_page(page))
    assert not looks_cut_short(" ".join(SENTENCES * 2), parse_page(page))


def test_a_result_holding_the_whole_page_is_not_cut_short_whatever_its_title():
    # The title names something else (a section, a template, a test page) but the body is
    # all article: nothing is left for trafilatura's full pass to find, so it is not paid.
    # Scripts and styles are not text of the page.
    script = "<script>var track = '" + "x" * 3000 + "';</script><style>p{}</style>"
    page = (
        "<html><head><title>Weekly newsletter template preview</title>"
        + script
        + "</head><body>"
        + script
        + "".join(para(i) for i in range(3))
        + "</body></html>"
    )
    root = parse_page(page)
    whole = " ".join(f"{SENTENCES[i]} {SENTENCES[i + 1]}" for i in range(3))
    assert off_topic(whole, page_references(root))
    assert not looks_cut_short(whole, root)
    assert looks_cut_short(SENTENCES[0], root)  # off topic, a sixth of the page


def test_white_space_of_the_page_source_does_not_count_as_text():
    # indentation, line breaks and no-break spaces between the words of a paragraph
    gap = "\n" + "\t" * 12 + "\xa0"
    page = (
        "<html><body><div>"
        + "".join("<p>" + gap.join(SENTENCES[i].split()) + "</p>" for i in range(6))
        + "</div></body></html>"
    )
    assert not looks_cut_short(" ".join(SENTENCES), parse_page(page))


def test_links_do_not_count_towards_the_main_block():
    # a block of linked names (a list of likers, a tag cloud) is not the article
    names = " ".join(f'<a href="/u/{i}">reader{i}</a>' for i in range(300))
    page = f"<html><body><div><p>{names}</p></div><div>{para(0)}</div></body></html>"
    assert not looks_cut_short(SENTENCES[0] + SENTENCES[1], parse_page(page))


def test_a_result_sharing_nothing_with_the_title_and_description_is_off_topic():
    page = (
        "<html><head><title>Flood closes the old bridge - Riverside News</title>"
        '<meta property="og:description" content="The river rose overnight and the bridge '
        'was closed."></head><body>' + para(0) + "</body></html>"
    )
    references = page_references(parse_page(page))
    sidebar = "Subscribe to our newsletter for weekly deals and coupons from local shops."
    assert off_topic(sidebar, references)
    assert not off_topic(SENTENCES[0] + " The old bridge is closed.", references)


def test_the_feed_summary_is_a_reference_too():
    page = "<html><head><title>Page</title></head><body><p>x</p></body></html>"
    summary = "长江水位一夜上涨两米，老桥已封闭。"
    root = parse_page(page)
    assert off_topic("订阅我们的每周优惠通讯。", page_references(root, summary))
    assert not off_topic("长江水位上涨，老桥封闭，车辆绕行。", page_references(root, summary))
    assert not off_topic("anything", page_references(root))  # too few words to judge


def test_a_data_table_with_linked_cells_is_kept():
    rows = "".join(
        f'<tr><td><a href="/town/{i}">Town{i}</a></td><td><a href="/r/{i}">Region{i}</a></td>'
        f"<td>{1000 + i * 37}</td></tr>"
        for i in range(8)
    )
    page = (
        "<html><head><title>Towns</title></head><body><article>"
        + "".join(para(i) for i in range(4))
        + f"<table><tr><th>Town</th><th>Region</th><th>People</th></tr>{rows}</table>"
        + "".join(para(i) for i in range(4, 6))
        + "</article></body></html>"
    )
    text = extract_article(page, URL).text
    assert "People" in text
    for i in range(8):
        assert f"Town{i}" in text and str(1000 + i * 37) in text


def test_a_layout_table_of_links_is_still_navigation():
    menu = "".join(f'<td><a href="/s/{i}">Section{i}</a></td>' for i in range(6))
    page = (
        "<html><body><table><tr>"
        + menu
        + "</tr><tr>"
        + menu
        + "</tr></table><article>"
        + "".join(para(i) for i in range(6))
        + "</article></body></html>"
    )
    assert "Section3" not in extract_article(page, URL).text


def test_a_paragraph_with_many_links_is_prose_not_navigation():
    linked = " ".join(
        f'The <a href="/w/{i}">river{i}</a> and <a href="/b/{i}">bridge{i}</a>, said '
        f'<a href="/c/{i}">Mayor{i}</a>.'
        for i in range(6)
    )
    page = (
        "<html><body><article>"
        + "".join(para(i) for i in range(4))
        + f"<p>{linked}</p>"
        + "".join(para(i) for i in range(4, 6))
        + "</article></body></html>"
    )
    text = extract_article(page, URL).text
    assert "Mayor5" in text


def test_a_reference_list_reads_as_prose_and_a_menu_does_not():
    refs = "".join(
        f'<li>Smith, J. ({2000 + i}). <a href="/b/{i}">Floods</a>. <a href="/p/{i}">Press</a>, '
        f'p. {i}. <a href="/isbn/{i}">ISBN</a> {i}.</li>'
        for i in range(5)
    )
    menu = " | ".join(f'<a href="/s/{i}">Section {i}</a>' for i in range(8))
    chinese = "·".join(f'<a href="/n/{i}">新闻标题第{i}条</a>（04-0{i}）' for i in range(6))
    for markup, prose in (
        (f"<ol>{refs}</ol>", True),
        (f"<p>{menu}</p>", False),
        (f"<p>{chinese}</p>", False),
    ):
        element = lxml.html.fragment_fromstring(markup)
        assert is_prose(element, len(element.findall(".//a"))) is prose, markup


def test_an_image_shown_twice_gets_its_caption_once():
    figure = (
        '<figure><img src="/img/bridge.jpg" alt=""><figcaption>The closed bridge at dawn, '
        "seen from the east bank</figcaption></figure>"
    )
    page = (
        "<html><body><article>"
        + para(0)
        + figure
        + "".join(para(i) for i in range(1, 4))
        + '<p><img src="/img/bridge.jpg" alt=""></p>'
        + "".join(para(i) for i in range(4, 6))
        + "</article></body></html>"
    )
    result = extract_article(page, URL)
    assert result.text.count("The closed bridge at dawn") == 1
    assert result.html.count("<figcaption>") == 1


def article_with(markup: str) -> str:
    return (
        "<!doctype html><html><head><title>Flood</title></head><body><nav>x</nav><article>"
        f"<h1>Flood</h1>{para(0)}{para(1)}<p>{SENTENCES[2]} {markup}</p>{para(3)}</article>"
        "</body></html>"
    )


def test_a_relative_link_is_resolved_against_the_page_address_not_the_site_root():
    html = extract_article(article_with('See <a href="bridge.html">the bridge report</a>.'), URL)
    assert 'href="https://news.example.org/2024/bridge.html"' in html.html


def test_an_image_without_a_scheme_takes_the_page_s_scheme():
    # trafilatura, not given the page's address (it would resolve every link of the page),
    # writes //host/... as http://host/...
    page = article_with('<img src="//cdn.example.org/photo.jpg" alt="The bridge">')
    html = extract_article(page, URL).html
    assert 'src="https://cdn.example.org/photo.jpg"' in html


def test_accents_written_as_combining_marks_come_out_composed():
    # as trafilatura.extract gives them (NFC): "Café" matches a search for "Café"
    page = (
        "<html><body><article>"
        + para(0)
        + "<p>At the Cafe\u0301 Rive\u0300 the water rose "
        + ("and the owners waited on the stairs. " * 3)
        + "</p></article></body></html>"
    )
    text = extract_article(page, URL).text
    assert "Caf\u00e9 Riv\u00e8" in text and "\u0301" not in text


def test_a_page_whose_only_text_is_in_an_aside_still_gives_it():
    # trafilatura's default drops <aside> as a sidebar; with nothing else on the page its
    # recall mode is asked before giving up
    page = "<html><body><aside>" + para(0) + para(2) + "</aside></body></html>"
    assert SENTENCES[2] in extract_article(page, URL).text


_SPACES = [" ", "\t", "\n", "\r", "\xa0", "\u3000", "\u2028", "\x85", "\u2009"]


@given(
    st.lists(
        st.text(alphabet=st.sampled_from(["a", "中", "é", "<", "&", *_SPACES]), max_size=30),
        max_size=4,
    )
)
def test_block_text_folds_every_kind_of_white_space_and_keeps_the_rest(paragraphs):
    root = lxml.html.document_fromstring("<html><body><div></div></body></html>")
    div = root.find(".//div")
    for text in paragraphs:
        lxml.html.etree.SubElement(div, "p").text = text
    lines = block_text(root).split("\n")
    words = "".join(char for text in paragraphs for char in text if not char.isspace())
    assert "".join("".join(lines).split()) == words
    for line in lines:
        assert line == " ".join(line.split()) and (line or lines == [""])
