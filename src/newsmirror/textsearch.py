"""What a search matches, the same for the archive's index, the site's index and the
command line: folded text, query terms, index grams and the final substring check.

* :func:`fold` maps each character to one character (so an offset in folded text is an
  offset in the original, and a match can be highlighted): traditional to simplified
  and the variant forms both scripts use (臺/檯/颱 to 台, 裡/裏 to 里, 爲/為 to 为,
  著 to 着, 羣 to 群 ...), full-width forms to ASCII, and letter case.
* :func:`terms` splits a query on white space into folded terms; an article matches
  when its folded title or text contains every term as a substring.
* :func:`grams` gives an index's keys for a folded text: every character and every pair
  of adjacent characters, white space excluded. A term's grams
  (:func:`term_grams`) select the candidates: exactly the matches for terms of one or
  two characters, a superset for longer ones, which :func:`matches` then confirms.

The fold table is generated from OpenCC's character conversions (:func:`build_fold_table`)
and shipped as ``fold.txt``, so that search needs no OpenCC and the site's search page
folds with the very same table.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

FOLD_FILE = "fold.txt"
# CJK Unified Ideographs (with Extension A and B) and the compatibility ideographs.
_HAN_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0xF900, 0xFB00), (0x20000, 0x2A6E0))
_CONVERSIONS = ("t2s", "tw2s", "hk2s", "s2t", "s2tw", "s2hk", "t2tw", "t2hk", "tw2t", "hk2t")
_SPACE = re.compile(r"\s+")


def _case_and_width() -> dict[str, str]:
    """Full-width ASCII to ASCII, the ideographic space to a space, and upper to lower
    case wherever lower case is a single character."""
    table = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
    table["\u3000"] = " "
    for code in range(0x41, 0x2000):
        char = chr(code)
        lower = table.get(char, char).lower()
        if len(lower) == 1 and lower != char:
            table[char] = lower
    for char, to in list(table.items()):
        lower = to.lower()
        if len(lower) == 1:
            table[char] = lower
    return table


def _han_classes() -> dict[str, str]:
    """Each Han character that has other forms, mapped to its class's simplified form.

    The classes join every pair that any of OpenCC's character conversions relates
    (traditional, Taiwan and Hong Kong forms both ways), so that a query in either
    script, or in a regional variant, finds the others."""
    import opencc

    chars = [chr(c) for start, end in _HAN_RANGES for c in range(start, end)]
    text = "\n".join(chars)  # one per line: no phrase spans two characters
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.get(c, c) != c:
            parent[c] = parent.get(parent[c], parent[c])
            c = parent[c]
        return c

    simplified: Counter[str] = Counter()
    for name in _CONVERSIONS:
        converted = opencc.OpenCC(name).convert(text).split("\n")
        for a, b in zip(chars, converted, strict=True):
            if a != b and len(b) == 1:
                if name == "t2s":
                    simplified[b] += 1
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[ra] = rb
    members: dict[str, list[str]] = {}
    for c in {*parent, *parent.values()}:
        members.setdefault(find(c), []).append(c)
    table = {}
    for group in members.values():
        # The form t2s converts to most often; ties by code point, for a stable table.
        rep = min(group, key=lambda c: (-simplified[c], c))
        table.update({c: rep for c in group if c != rep})
    return table


def build_fold_table() -> dict[str, str]:
    """The fold table from its sources (OpenCC and Unicode); ``fold.txt`` holds its output."""
    table = _case_and_width()
    table.update(_han_classes())
    return dict(sorted(table.items()))


def format_fold_table(table: dict[str, str]) -> str:
    """``fold.txt``: one line per folded character, the character then what it becomes."""
    return "".join(f"{a}{b}\n" for a, b in table.items())


@lru_cache(maxsize=1)
def fold_table() -> dict[str, str]:
    """The shipped fold table, as characters."""
    text = resources.files("newsmirror").joinpath(FOLD_FILE).read_text(encoding="utf-8")
    return {line[0]: line[1] for line in text.splitlines() if len(line) == 2}


@lru_cache(maxsize=1)
def _translation() -> dict[int, str]:
    return str.maketrans(fold_table())


def fold(text: str) -> str:
    """``text`` with each character replaced by its search form; the length is kept."""
    return text.translate(_translation())


def terms(query: str) -> list[str]:
    """The folded terms of a query, in order, without repeats; none for a blank query."""
    seen: dict[str, None] = {}
    for word in fold(query).split():
        seen.setdefault(word, None)
    return list(seen)


def searchable(title: str, text: str) -> str:
    """One folded string of an article's title and plain text (white space runs as one
    space, title and text on separate lines, so that no match spans the two)."""
    return fold(_SPACE.sub(" ", title).strip() + "\n" + _SPACE.sub(" ", text).strip())


def grams(folded: str) -> set[str]:
    """An index's keys for folded text: each character and each pair of adjacent
    characters, none with white space in it."""
    out: set[str] = set()
    for run in folded.split():
        out.update(run)
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    return out


def term_grams(term: str) -> list[str]:
    """The keys an article must all have to contain ``term``: the term itself when it
    is one character, else its pairs of adjacent characters (without repeats)."""
    if len(term) < 2:
        return [term] if term else []
    return list(dict.fromkeys(term[i : i + 2] for i in range(len(term) - 1)))


def query_grams(words: Iterable[str]) -> list[str]:
    """Every key of every term, without repeats."""
    return list(dict.fromkeys(g for w in words for g in term_grams(w)))


def exact_by_grams(words: Iterable[str]) -> bool:
    """True when the grams alone decide a match: every term has at most two characters."""
    return all(len(w) <= 2 for w in words)


# -- the site's keys: grams, and trigrams inside runs of Latin letters and digits -------------
# (letter pairs co-occur in any English text without the word: "fiction" needs its trigrams)

LATIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _latin_windows(run: str) -> list[int]:
    """Where a window of three Latin letters or digits starts in ``run``."""
    return [i for i in range(len(run) - 2) if LATIN.issuperset(run[i : i + 3])]


def site_grams(folded: str) -> set[str]:
    """The site index's keys: :func:`grams`, and each three-character window of Latin
    letters and digits (after folding: a-z, 0-9)."""
    out = grams(folded)
    for run in folded.split():
        out.update(run[i : i + 3] for i in _latin_windows(run))
    return out


def site_term_grams(term: str) -> list[str]:
    """The site keys an article must all have to contain ``term``: as :func:`term_grams`,
    except that the Latin trigrams of the term stand for the pairs inside them."""
    if len(term) < 3:
        return term_grams(term)
    starts = _latin_windows(term)
    covered = {j for i in starts for j in (i, i + 1)}
    pairs = [term[i : i + 2] for i in range(len(term) - 1) if i not in covered]
    return list(dict.fromkeys(pairs + [term[i : i + 3] for i in starts]))


def site_query_grams(words: Iterable[str]) -> list[str]:
    """Every site key of every term, without repeats."""
    return list(dict.fromkeys(g for w in words for g in site_term_grams(w)))


def site_exact(words: Iterable[str]) -> bool:
    """True when the site keys alone decide a match: every term has at most two
    characters, or is three Latin letters or digits."""
    return all(len(w) <= 2 or (len(w) == 3 and LATIN.issuperset(w)) for w in words)


def matches(folded: str, words: Iterable[str]) -> bool:
    """Whether folded article text contains every (folded) term."""
    return all(w in folded for w in words)


def spans(folded: str, words: Iterable[str], limit: int = 50) -> list[tuple[int, int]]:
    """Where the terms occur in folded text, as sorted, non-overlapping (start, end)
    offsets; the same offsets hold in the unfolded text."""
    found: list[tuple[int, int]] = []
    for word in words:
        if not word:
            continue
        start = folded.find(word)
        while start >= 0 and len(found) < limit:
            found.append((start, start + len(word)))
            start = folded.find(word, start + len(word))
    found.sort()
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def main() -> None:  # pragma: no cover - maintenance: python -m newsmirror.textsearch
    """Regenerate ``fold.txt`` beside this module."""
    from pathlib import Path

    target = Path(__file__).with_name(FOLD_FILE)
    target.write_text(format_fold_table(build_fold_table()), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
