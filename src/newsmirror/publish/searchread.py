"""A reader of the site's search index that does what the search page does (the query
algorithm of the format), counting the files it loads: for tests and benchmarks."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from newsmirror.publish import searchfiles as sf
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
    """Exact when every candidate was checked or the keys decide. Else the truth lies
    between the results found (``confirmed``) and the candidates not found false
    (candidates are a superset of the matches): "约 N" only when one N is within 5%
    of every count in that range (estimate_of); otherwise the results found so far,
    the total withheld."""
    if checked >= candidates:
        return f"找到 {confirmed} 篇" if confirmed else "没有找到"
    most = candidates - (checked - confirmed)
    if exact:
        return f"找到 {most} 篇"
    estimate = estimate_of(confirmed, most)
    if estimate is not None:
        return f"约 {estimate} 篇"
    if not confirmed:
        return "还没有找到（总数待确认）"
    return f"已找到 {confirmed} 篇（总数待确认）"


def estimate_of(least: int, most: int) -> int | None:
    """A count within 5% of every count from ``least`` to ``most`` (the largest such),
    or None if there is none."""
    estimate = min(most, least * 105 // 100)
    return estimate if least and estimate * 100 >= most * 95 else None


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
                got, value = sf.read_js(data)
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

    def _sets(
        self, segment: si.Segment, keys: list[str], need: dict[str, int]
    ) -> tuple[set[int], set[int]]:
        """The docs of a segment that have every key (body, with the keys' neighbour
        masks) and those whose title has every key."""
        body: set[int] | None = None
        title: set[int] | None = None
        for gram in keys:
            shard = self._shard(segment, gram)
            docs = self._docs(shard["b"].get(gram), segment.first, need.get(gram, 0))
            heads = self._docs(shard["t"].get(gram), segment.first, 0)
            body = docs if body is None else body & docs
            title = heads if title is None else title & heads
        return body or set(), title or set()

    def _segments(self) -> tuple[list[si.Segment], set[int]]:
        manifest = si.parse_manifest(self.get(si.MANIFEST))
        return manifest.segments, set(manifest.deleted)

    def candidates(
        self, words: list[str], keys: list[str] | None = None
    ) -> tuple[list[int], set[int]]:
        """The docs that have every key of the words (all of them unless ``keys``), and
        those whose title has them."""
        segments, deleted = self._segments()
        keys = site_query_grams(words) if keys is None else keys
        need = si.next_masks(words, keys)
        found: list[int] = []
        titles: set[int] = set()
        for segment in segments:
            body, title = self._sets(segment, keys, need)
            found.extend(body - deleted)
            titles |= title - deleted
        return found, titles

    def search(self, query: str, pages: int = 1, rounds: int | None = 1) -> Result:
        """The query's first ``pages`` pages of results, as the page shows them: it
        stops once ``rounds`` times MISSES candidates were false (each 继续查找 is a
        round more; None: no limit). The candidates come from the cover keys first;
        the other keys are read once a candidate is false (si.cover_keys)."""
        words = terms(query)
        result = Result()
        if not words:
            return result
        keys = site_query_grams(words)
        first = si.cover_keys(words)
        rest = [k for k in keys if k not in first]
        need = si.next_masks(words, keys)
        segments, deleted = self._segments()
        sets = [self._sets(s, first, need) for s in segments]

        def order(kept: list[int]) -> None:
            found = {d for body, _ in sets for d in body} - deleted
            titles = {d for body, title in sets for d in title & body} - deleted
            tail = sorted(found.difference(kept), key=lambda d: (d not in titles, -d))
            result.order = [d for d in kept if d in found] + tail
            result.candidates, result.titles = len(result.order), len(titles)

        order([])
        result.exact = site_exact(words)
        misses = None if rounds is None else MISSES * rounds
        while len(result.shown) < PAGE * pages and result.checked < len(result.order):
            if misses is not None and result.checked - len(result.shown) >= misses:
                break
            doc = result.order[result.checked]
            result.checked += 1
            value = self.get(sf.doc_name(doc))[doc % sf.PACK]
            url, title, _source, _iso, packed, _zone = value
            if matches(fold(title + "\n" + sf.unpack_text(packed)), words):
                result.shown.append(doc)
                result.urls.append(url)
            elif rest:  # a false candidate: read the other keys where some are unchecked
                left = set(result.order[result.checked - 1 :])
                for i, segment in enumerate(segments):
                    if any(segment.first <= d <= segment.last for d in left):
                        body, title = self._sets(segment, rest, need)
                        sets[i] = (sets[i][0] & body, sets[i][1] & title)
                rest = []
                kept = result.order[: result.checked]
                order(kept)
                result.checked = sum(1 for d in kept if d in set(result.order))
        result.more = result.checked < len(result.order)
        return result

    def all_matches(self, query: str) -> list[str]:
        """Every confirmed result's url, in order (reads every candidate)."""
        result = self.search(query, pages=10**9, rounds=None)
        return result.urls
