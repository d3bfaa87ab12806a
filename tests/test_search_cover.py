"""A long term's keys are read in two steps (issue 13, "Cheap"): its cover keys first
(searchindex.cover_keys), the others only once a candidate turns out false; the
results and the count are those of all keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsmirror.publish import searchindex as si
from newsmirror.publish.searchread import Reader
from newsmirror.textsearch import site_query_grams, site_term_grams, terms
from test_search_index import build, doc

TERM = "青山绿水间"  # keys 青山 山绿 绿水 水间; cover 青山 绿水 水间 (山绿 is read later)


def neighbours() -> tuple[str, str]:
    """A character with the mask bit of 绿 (after 青山) and one with that of 山 (before
    绿水), neither of them 绿 or 山."""
    after = next(c for c in "的是了不在有人这中大为上个国我" if ord(c) % 4 == ord("绿") % 4)
    before = next(c for c in "的是了不在有人这中大为上个国我" if ord(c) % 4 == ord("山") % 4)
    return after, before


def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, false_ones: int) -> Path:
    """Docs 0-5 hold TERM; the ``false_ones`` newest have its cover keys (and the masks'
    bits) but not 山绿 next to each other, so not TERM. Many shards: a key's shard
    tells which keys were read."""
    monkeypatch.setattr(si, "MASKS_FROM", 4)
    monkeypatch.setattr(si, "SHARD_BYTES", 1)
    after, before = neighbours()
    titles = {i: f"{TERM} 第{i}篇" for i in range(6)}
    titles.update({i: f"青山{after}远 {before}绿水间 第{i}篇" for i in range(6, 6 + false_ones)})
    build(tmp_path, [doc(i, titles[i]) for i in titles], {i: "" for i in titles}, {})
    return tmp_path


def reading(root: Path) -> tuple[Reader, list[str]]:
    names: list[str] = []

    def load(name: str) -> bytes | None:
        names.append(name)
        path = root / "search" / f"{name}.js"
        return path.read_bytes() if path.exists() else None

    return Reader(load), names


def shard_of(root: Path, key: str) -> str:
    reader, _ = reading(root)
    segment = si.parse_manifest(reader.get(si.MANIFEST)).segments[0]
    return f"{segment.name}/{si.gram_hash(key) % segment.shards:x}"


def test_cover_keys_hold_every_character_of_a_long_term() -> None:
    assert si.cover_keys([TERM]) == ["青山", "绿水", "水间"]
    assert si.cover_keys(["畢竟是骨架，上面"]) == ["畢竟", "是骨", "架，", "上面"]
    assert si.cover_keys(["facebook"]) == ["fac", "ebo", "ook"]
    assert si.cover_keys(["习近平", "一带一路"]) == ["习近", "近平", "一带", "带一", "一路"]


@given(st.text(alphabet="ab1习近平 xyz", min_size=1, max_size=12))
def test_cover_keys_are_keys_that_hold_every_character(query: str) -> None:
    words = terms(query)
    cover = si.cover_keys(words)
    assert set(cover) <= set(site_query_grams(words))
    for word in words:
        mine = [(start, key) for start, key in si.term_keys(word) if key in cover]
        held = {start + k for start, key in mine for k in range(len(key))}
        assert held == set(range(len(word))) or not word
        if len(set(site_term_grams(word))) < si.COVER_FROM:
            assert set(site_term_grams(word)) <= set(cover)


def test_a_long_term_whose_candidates_hold_reads_only_its_cover_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = site(tmp_path, monkeypatch, false_ones=0)
    skipped = shard_of(root, "山绿")
    assert skipped not in {shard_of(root, k) for k in si.cover_keys([TERM])}
    reader, names = reading(root)
    result = reader.search(TERM)
    assert sorted(result.shown) == list(range(6)) and result.count_text() == "找到 6 篇"
    assert skipped not in names  # 山绿 was not read


def test_a_false_candidate_makes_the_page_read_the_other_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten newest candidates are false under the cover keys: without the other keys the
    # first page would stop after five of them, with nothing found.
    root = site(tmp_path, monkeypatch, false_ones=10)
    reader, names = reading(root)
    cover, _ = reader.candidates(terms(TERM), si.cover_keys([TERM]))
    assert len(cover) == 16
    result = reader.search(TERM)
    assert shard_of(root, "山绿") in names
    assert sorted(result.shown) == list(range(6)) and result.order == list(range(5, -1, -1))
    assert result.candidates == 6 and result.count_text() == "找到 6 篇"
    assert len([n for n in names if n.startswith("d/")]) == 7  # doc 15, then 5 to 0


@given(
    st.dictionaries(
        st.characters(min_codepoint=1, exclude_categories=("Cs",)),
        st.characters(min_codepoint=1, exclude_categories=("Cs",)),
        max_size=30,
    )
)
def test_the_fold_table_file_gives_the_table_back(table: dict[str, str]) -> None:
    # fold.js is digits (v5): every code point and every difference, either way.
    value = si.fold_value(table)
    assert si.read_fold(value) == table
    assert set(value["pairs"]) <= set(si.DIGITS)
