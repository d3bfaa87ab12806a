"""Folding, grams and matching: the rules every search (archive, site, CLI) shares."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from newsmirror import textsearch
from newsmirror.store.search import article_text
from newsmirror.textsearch import (
    build_fold_table,
    exact_by_grams,
    fold,
    format_fold_table,
    grams,
    matches,
    query_grams,
    searchable,
    spans,
    term_grams,
    terms,
)

# Characters that reach every branch of the table: both scripts, regional variants,
# compatibility ideographs, full-width forms, case, an astral ideograph, white space.
TEXT = st.text(
    alphabet=st.sampled_from(
        list("习習近平台臺檯颱里裡裏为為爲着著群羣乾幹干后後發髮说說")
        + list("AbZzÀÉΣσЖж İßＡｚ１　\u3000\t\n .,-_#'\"<>&")
        + ["\uf914", "\U00020000", "\U0002a6d6", "\u0130"]
    ),
    max_size=40,
)


def test_shipped_fold_table_is_what_the_sources_give() -> None:
    shipped = (
        textsearch.resources.files("newsmirror").joinpath("fold.txt").read_text(encoding="utf-8")
    )
    assert shipped == format_fold_table(build_fold_table())


def test_both_scripts_and_regional_variants_fold_together() -> None:
    pairs = {
        "习近平": "習近平",
        "台湾": "臺灣",
        "台风": "颱風",
        "里面": "裡面",
        "为了": "爲了",
        "着作": "著作",
        "群众": "羣眾",
        "线路": "綫路",
        "足够": "足夠",
        "后来": "後來",
        "头发": "頭髮",
    }
    for simplified, other in pairs.items():
        assert fold(simplified) == fold(other), (simplified, other)
    assert fold("Ｂｉｄｅｎ　ＢＩＤＥＮ") == "biden biden"
    assert fold("ΣΩ Жук") == "σω жук"


def test_different_words_stay_apart() -> None:
    assert fold("拜登") != fold("参拜")
    assert fold("学习") != fold("习近")
    assert "拜登" not in fold("參拜 登山")


@given(TEXT)
def test_fold_keeps_every_offset(text: str) -> None:
    folded = fold(text)
    assert len(folded) == len(text)
    assert fold(folded) == folded  # folding twice changes nothing


@given(TEXT, TEXT)
def test_a_term_of_the_text_matches_in_either_form(text: str, other: str) -> None:
    words = terms(text)
    haystack = searchable(other, text)
    assert matches(haystack, words)
    # The grams of a matching text include every gram the terms ask for.
    assert set(query_grams(words)) <= grams(haystack)


@given(TEXT, st.lists(TEXT, max_size=3))
def test_grams_decide_short_terms_exactly(text: str, query: list[str]) -> None:
    words = [w[:2] for q in query for w in terms(q)]
    haystack = searchable("", text)
    by_grams = all(set(term_grams(w)) <= grams(haystack) for w in words)
    assert exact_by_grams(words)
    assert by_grams == matches(haystack, words)


@given(TEXT, TEXT)
def test_spans_mark_exactly_the_matches(text: str, query: str) -> None:
    folded = fold(text)
    words = terms(query)
    marked = spans(folded, words)
    for start, end in marked:
        assert 0 <= start < end <= len(text)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(marked))
    for word in words:
        if word in folded:
            first = folded.find(word)
            assert any(s <= first and first + len(word) <= e for s, e in marked)


def test_terms_split_on_any_space_and_drop_repeats() -> None:
    assert terms(" 習近平\u3000习近平\t台湾 ") == ["习近平", "台湾"]
    assert terms("   ") == []


def test_grams_never_span_white_space_or_the_title() -> None:
    haystack = searchable("美国", "大选 结果")
    assert "国大" not in grams(haystack)
    assert "选结" not in grams(haystack)
    assert not matches(haystack, ["国大"])
    assert term_grams("习近平") == ["习近", "近平"]
    assert term_grams("哈哈哈") == ["哈哈"]
    assert term_grams("a") == ["a"]


def test_spans_join_touching_and_overlapping_matches() -> None:
    assert spans(fold("拜登拜登 拜登"), ["拜登"]) == [(0, 4), (5, 7)]
    assert spans(fold("哈哈哈"), ["哈哈"]) == [(0, 2)]
    assert spans(fold("習近平說"), ["近平", "习近"]) == [(0, 3)]
    assert spans("abc", ["x"]) == []


def test_spans_keep_a_longer_match_that_holds_a_shorter_one():
    # S11: "b" inside "abc" must not cut the highlight short
    assert spans("abcd", ["abc", "b"]) == [(0, 3)]
    assert spans("xabcdx", ["abcd", "bc"]) == [(1, 5)]


def test_three_characters_are_never_decided_by_grams_alone():
    # S2: "abc" has grams ab, bc, which "abxbc" also has
    assert exact_by_grams(["ab", "c"])
    assert not exact_by_grams(["abc"])
    assert not exact_by_grams(["ab", "新闻稿"])


def test_a_title_with_line_breaks_is_shown_as_written_not_folded():
    # S10: all white space (newlines, tabs) is one space, or the snippet shows folded text
    shown, folded = article_text("Breaking\n  News\t臺灣", "<p>Body</p>")
    assert shown == "Breaking News 臺灣\nBody"
    assert folded == "breaking news 台湾\nbody"
