"""A reader of the site's search index that does what the search page does (the query
algorithm of the format), counting the files it loads: for tests and benchmarks."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from newsmirror.publish import searchindex as si
from newsmirror.textsearch import fold, matches, site_exact, site_query_grams, terms

PAGE = 10
MISSES = 5  # false candidates a page checks at most before it stops (the reader may go on)


@dataclass
class Result:
    candidates: int = 0  # the first count shown (exact when ``exact``)
    exact: bool = False
    titles: int = 0
    order: list[int] = field(default_factory=list)  # candidate doc ids, in result order
    shown: list[int] = field(default_factory=list)  # confirmed doc ids of the pages read
    urls: list[str] = field(default_factory=list)
    checked: int = 0  # candidates checked for the pages read
    more: bool = False  # candidates left unchecked

    def count_text(self) -> str:
        """The count as the page shows it after the pages read (its countText)."""
        return count_text(len(self.order), self.checked, len(self.shown), self.exact)


def count_text(candidates: int, checked: int, confirmed: int, exact: bool) -> str:
    """Exact when every candidate was checked or the keys decide; "约 N" (the candidates
    not found false) while every candidate checked held the query; else only the
    results found so far, the total withheld (an estimate could be far off)."""
    if checked >= candidates:
        return f"找到 {confirmed} 篇" if confirmed else "没有找到"
    count = candidates - (checked - confirmed)
    if exact:
        return f"找到 {count} 篇"
    if checked > confirmed:
        if not confirmed:
            return "还没有找到（总数待确认）"
        return f"已找到 {confirmed} 篇（总数待确认）"
    return f"约 {count} 篇"


class Reader:
    """Loads files by name through ``load`` (name -> bytes), remembering each once."""

    def __init__(self, load: Callable[[str], bytes | None]) -> None:
        self._load = load
        self.cache: dict[str, Any] = {}
        self.requests = 0
        self.bytes = 0
        self._grams: dict[str, dict[str, dict[str, tuple[str, str]]]] = {}

    def get(self, name: str) -> Any:
        if name not in self.cache:
            data = self._load(name)
            self.requests += 1
            if data is None:
                self.cache[name] = None
            else:
                self.bytes += len(data)
                got, value = si.read_js(data)
                assert got == name, (got, name)
                self.cache[name] = value
        return self.cache[name]

    def _shard(self, segment: si.Segment, gram: str) -> dict[str, dict[str, tuple[str, str]]]:
        name = f"{segment.name}/{si.gram_hash(gram) % segment.shards:x}"
        if name not in self._grams:
            value = self.get(name) or {"b": [], "t": []}
            self._grams[name] = {
                key: {
                    g: (group[0], group[2] if len(group) > 2 else "")
                    for group in value[key]
                    for g in group[1].split(" ")
                }
                for key in ("b", "t")
            }
        return self._grams[name]

    def _docs(self, entry: tuple[str, str] | None, first: int, need: int) -> set[int]:
        """The docs of a gram's entry whose neighbour mask has every bit of ``need``."""
        if entry is None:
            return set()
        docs = si.decode_postings(entry[0], first)
        if not need or not entry[1]:
            return set(docs)  # no masks (dense postings): every doc may follow on
        masks = base64.b64decode(entry[1])
        return {d for d, m in zip(docs, masks, strict=True) if m & need == need}

    def candidates(self, words: list[str]) -> tuple[list[int], set[int]]:
        manifest = si.parse_manifest(self.get(si.MANIFEST))
        deleted = set(manifest.deleted)
        found: list[int] = []
        titles: set[int] = set()
        grams = site_query_grams(words)
        need = si.next_masks(words, grams)
        for segment in manifest.segments:
            body: set[int] | None = None
            title: set[int] | None = None
            for gram in grams:
                shard = self._shard(segment, gram)
                docs = self._docs(shard["b"].get(gram), segment.first, need.get(gram, 0))
                heads = self._docs(shard["t"].get(gram), segment.first, 0)
                body = docs if body is None else body & docs
                title = heads if title is None else title & heads
            found.extend((body or set()) - deleted)
            titles |= (title or set()) - deleted
        return found, titles

    def search(self, query: str, pages: int = 1, rounds: int | None = 1) -> Result:
        """The query's first ``pages`` pages of results, as the page shows them: it
        stops once ``rounds`` times MISSES candidates were false (each 继续查找 is a
        round more; None: no limit)."""
        words = terms(query)
        result = Result()
        if not words:
            return result
        found, titles = self.candidates(words)
        result.candidates, result.exact, result.titles = (
            len(found),
            site_exact(words),
            len(titles),
        )
        result.order = sorted(found, key=lambda d: (d not in titles, -d))
        misses = None if rounds is None else MISSES * rounds
        for doc in result.order:
            if len(result.shown) >= PAGE * pages:
                break
            if misses is not None and result.checked - len(result.shown) >= misses:
                break
            result.checked += 1
            value = self.get(si.doc_name(doc))[doc % si.PACK]
            url, title, _source, _iso, packed, _zone = value
            text = si.unpack_text(packed)
            if matches(fold(title + "\n" + text), words):
                result.shown.append(doc)
                result.urls.append(url)
        result.more = result.checked < len(result.order)
        return result

    def all_matches(self, query: str) -> list[str]:
        """Every confirmed result's url, in order (reads every candidate)."""
        result = self.search(query, pages=10**9, rounds=None)
        return result.urls
