"""The site's search index, as data: its files' format and the decisions about them.

Plain functions, no file I/O (``publish/search.py`` does that): gram codes and their
hash, postings, doc ids for new and changed articles, segment merges and shard counts,
and the (gram, doc) keys of one segment (its shard files: ``searchshards``; the
script-file wrapping and doc files: ``searchfiles``). The format is described in the
project notes (search-format.md) and in README's search section.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from newsmirror.textsearch import LATIN, fold_table

FOLDER = "search"
VERSION = 6
MANIFEST = "manifest"
FOLD = "fold"
SHARD_BYTES = 6_000  # a shard file's target size (see shard_count)
PAIRS_PER_PARTITION = 1_500_000  # (gram, doc) pairs one reduce step holds, about
PAIRS_PER_DOC = 2_600  # about, in the corpus (to plan partitions before counting)
DOC_BITS = 22  # a segment holds fewer than 2**22 docs: (code << DOC_BITS) | doc fits 64 bits
MASKS_FROM = 1_000  # docs: smaller segments carry no neighbour masks
COVER_FROM = 4  # keys: a term with fewer is read whole at once (see cover_keys)
MERGE_COUNT = 4  # that many segments of similar size merge into one
MERGE_RATIO = 2.0  # "similar": the largest at most this many times the smallest
_BASE = 0x110000  # code points: a bigram's code is (first + 1) * _BASE + second
_TRI = (_BASE + 1) * _BASE  # a Latin trigram's code: _TRI + (a * 36 + b) * 36 + c
_LATIN = "abcdefghijklmnopqrstuvwxyz0123456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF
_SPACE = re.compile(r"\s+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_WHITE = np.array([c for c in range(0x3100) if chr(c).isspace()], dtype=np.int64)  # all of them
Codes = npt.NDArray[np.int64]


# -- grams as integers -----------------------------------------------------------------


def clean_plain(text: str) -> str:
    """clean() of htmltext.plain_text's output (its spaces are already folded)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def clean(text: str) -> str:
    """Text as the index and the doc files hold it: white space runs as one space, no
    lone surrogates (they cannot be written as UTF-8)."""
    return _SURROGATE.sub("\ufffd", _SPACE.sub(" ", text).strip())


@lru_cache(maxsize=1)
def _tables() -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_], npt.NDArray[np.int8]]:
    """textsearch.fold as an array over all code points, which are white space, and
    each Latin letter's or digit's place in _LATIN (-1 for the others). Small types:
    the tables are read at random, the less memory the faster."""
    table = np.arange(_BASE, dtype=np.int32)
    for a, b in fold_table().items():
        table[ord(a)] = ord(b)
    white = np.zeros(_BASE, dtype=np.bool_)
    white[_WHITE] = True
    latin = np.full(_BASE, -1, dtype=np.int8)
    latin[[ord(c) for c in _LATIN]] = np.arange(len(_LATIN))
    return table, white, latin


Points = npt.NDArray[np.int32]


def _code_points(text: str, folded: bool) -> Points:
    """The text's code points, folded unless ``folded`` says they are."""
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cps.astype(np.int32) if folded else _tables()[0][cps]


def _unique(values: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.bool_]:
    """Which of sorted values are not the one before them."""
    keep = np.ones(len(values), dtype=np.bool_)
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return keep


@dataclass(frozen=True)
class _Keys:
    """The keys of folded code points: single characters (sorted, unique), and pairs
    and Latin trigrams (unsorted, with repeats: where each starts in ``pair_at`` and
    ``tri_at``); which characters are not white space."""

    singles: Codes
    pairs: Codes
    trigrams: Codes
    word: npt.NDArray[np.bool_]
    pair_at: Codes
    tri_at: Codes


def _keys(cps: Points) -> _Keys:
    _table, white, latin = _tables()
    word = ~white[cps]
    chars = np.sort(cps[word])
    wide = cps.astype(np.int64)
    pair_at = np.flatnonzero(word[:-1] & word[1:])
    pairs = (wide[pair_at] + 1) * _BASE + wide[pair_at + 1]
    lat = latin[cps]
    known = lat >= 0
    tri_at = np.flatnonzero(known[:-2] & known[1:-1] & known[2:])
    lat = lat.astype(np.int64)
    trigrams = _TRI + (lat[tri_at] * 36 + lat[tri_at + 1]) * 36 + lat[tri_at + 2]
    singles = chars[_unique(chars)].astype(np.int64)
    return _Keys(singles, pairs, trigrams, word, pair_at, tri_at)


def codes_of(text: str, *, folded: bool = True) -> Codes:
    """textsearch.site_grams(text) as sorted unique integer codes (one character: its
    code point; two: (first + 1) * 0x110000 + second; a Latin trigram: above those);
    ``folded=False`` folds first."""
    keys = _keys(_code_points(text, folded))
    longer = np.sort(np.concatenate([keys.pairs, keys.trigrams]))  # all above the singles
    return np.concatenate([keys.singles, longer[_unique(longer)]])


def _neighbours(cps: Points, word: npt.NDArray[np.bool_]) -> tuple[Bits, Bits]:
    """Per place, the bits a character there gives a key that it follows (bit c % 4),
    or precedes (bit 4 + c % 4); 0 for white space. Padded: ``after[i + size]`` is the
    bit of the character after a key of ``size`` at i, ``before[i]`` that of the one
    before it (0 at the text's ends)."""
    low = np.where(word, np.left_shift(1, cps & 3), 0).astype(np.uint8)
    after = np.concatenate([low, np.zeros(1, np.uint8)])
    before = np.concatenate([np.zeros(1, np.uint8), low << np.uint8(4)])
    return after, before


Bits = npt.NDArray[np.uint8]


def codes_and_masks(text: str, *, folded: bool = True) -> tuple[Codes, Bits]:
    """codes_of(text), and for each code its neighbour mask for pairs and Latin
    trigrams: bit (c % 4) for each character c after the key, bit 4 + (c % 4) for
    each one before it, in the same run (OR over every place the key occurs); 0 for
    single characters."""
    cps = _code_points(text, folded)
    keys = _keys(cps)
    after, before = _neighbours(cps, keys.word)
    pair_bits = after[keys.pair_at + 2] | before[keys.pair_at]
    tri_bits = after[keys.tri_at + 3] | before[keys.tri_at]
    longer = np.concatenate([keys.pairs, keys.trigrams]) << 8  # codes < 2**42: a mask fits
    both = np.sort(longer | np.concatenate([pair_bits, tri_bits]))
    start = np.flatnonzero(_unique(both >> 8))
    low = (both & 0xFF).astype(np.uint8)
    masks = np.bitwise_or.reduceat(low, start) if len(start) else low
    singles = np.zeros(len(keys.singles), np.uint8)
    return np.concatenate([keys.singles, both[start] >> 8]), np.concatenate([singles, masks])


def neighbour_bits(after: str | None, before: str | None) -> int:
    """A key's mask bits for the characters next to one place of it (None: none)."""
    bits = 1 << (ord(after) % 4) if after else 0
    return bits | (16 << (ord(before) % 4) if before else 0)


def next_masks(words: Sequence[str], keys: Sequence[str]) -> dict[str, int]:
    """For each pair or trigram key of the query, the mask bits a doc must all have:
    those of the characters next to the key wherever it occurs inside a term."""
    wanted = {k for k in keys if len(k) > 1}
    need: dict[str, int] = {}
    for w in words:
        for size in (2, 3):
            for i in range(len(w) - size + 1):
                key = w[i : i + size]
                if key in wanted:
                    after = w[i + size] if i + size < len(w) else None
                    bits = neighbour_bits(after, w[i - 1] if i else None)
                    need[key] = need.get(key, 0) | bits
    return {k: v for k, v in need.items() if v}


def term_keys(term: str) -> list[tuple[int, str]]:
    """textsearch.site_term_grams(term) with where each key starts in the term (a
    key that occurs twice: each place)."""
    if len(term) < 2:
        return [(0, term)] if term else []
    latin = [i for i in range(len(term) - 2) if LATIN.issuperset(term[i : i + 3])]
    inside = {j for i in latin for j in (i, i + 1)}
    pairs = [(i, term[i : i + 2]) for i in range(len(term) - 1) if i not in inside]
    return sorted(pairs + [(i, term[i : i + 3]) for i in latin])


def cover_keys(words: Sequence[str]) -> list[str]:
    """The keys a query reads first: for each term, from its start, the key that
    holds the first character not yet in a chosen key and reaches furthest (pairs
    0, 2, 4, ... and the last). Every character of the term is in one of them and
    the neighbour masks test the characters next to each, so candidates are still a
    superset of the matches, at about half the keys of a long term."""
    out: dict[str, None] = {}
    for word in words:
        keys = term_keys(word)
        if len({k for _, k in keys}) < COVER_FROM:
            out.update(dict.fromkeys(k for _, k in keys))
            continue
        done = 0  # characters of the term in a chosen key
        while done < len(word):
            start, key = max(
                (k for k in keys if k[0] <= done < k[0] + len(k[1])),
                key=lambda k: k[0] + len(k[1]),
            )
            out.setdefault(key, None)
            done = start + len(key)
    return list(out)


def gram_of(code: int) -> str:
    code = int(code)
    if code >= _TRI:
        a, rest = divmod(code - _TRI, 36 * 36)
        return _LATIN[a] + _LATIN[rest // 36] + _LATIN[rest % 36]
    first, second = divmod(code, _BASE)
    return chr(second) if not first else chr(first - 1) + chr(second)


def gram_hash(gram: str) -> int:
    """FNV-1a, 32 bits, over the gram's code points."""
    h = _FNV_OFFSET
    for char in gram:
        h = ((h ^ ord(char)) * _FNV_PRIME) & _MASK
    return h


def hash_codes(codes: Codes) -> npt.NDArray[np.uint32]:
    """gram_hash of each code, at once (32-bit arithmetic wraps like the mask)."""
    prime = np.uint32(_FNV_PRIME)
    tri = codes >= _TRI
    first, second = np.divmod(np.where(tri, 0, codes), _BASE)
    h = np.full(len(codes), _FNV_OFFSET, dtype=np.uint32)
    h = np.where(first > 0, (h ^ (first - 1).astype(np.uint32)) * prime, h)
    h = (h ^ second.astype(np.uint32)) * prime
    if tri.any():
        letters = np.array([ord(c) for c in _LATIN], dtype=np.uint32)
        rest = codes[tri] - _TRI
        t = np.full(len(rest), _FNV_OFFSET, dtype=np.uint32)
        for part in (rest // 1296, rest // 36 % 36, rest % 36):
            t = (t ^ letters[part]) * prime
        h[tri] = t
    return h


# -- postings ----------------------------------------------------------------------------


def varints(deltas: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Unsigned LEB128 of each value (below 2**42), concatenated; and where each value's
    bytes end."""
    d = deltas.astype(np.uint64)
    size = np.searchsorted(_VARINT_STEPS, d, side="right") + 1
    ends = np.cumsum(size)
    at = ends - size
    out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.uint8)
    for k in range(6):  # the values with more than k bytes: fewer each time
        more = size > k + 1
        low = (d >> np.uint64(7 * k) & np.uint64(0x7F)).astype(np.uint8)
        out[at + k] = low | more.astype(np.uint8) << np.uint8(7)
        at, d, size = at[more], d[more], size[more]
    return out, ends


_VARINT_STEPS = np.array([1 << b for b in (7, 14, 21, 28, 35)], dtype=np.uint64)


def bitmap(ids: npt.NDArray[np.int64], first: int) -> bytes:
    """The dense form: a zero byte, then bit k of byte j (least significant first) set
    when doc first + 8 * j + k has the gram."""
    bits = np.zeros(int(ids[-1]) - first + 1, dtype=np.uint8)
    bits[ids - first] = 1
    return b"\x00" + np.packbits(bits, bitorder="little").tobytes()


def encode_postings(ids: Sequence[int], first: int) -> str:
    """Ascending doc ids of a segment starting at ``first``, as the index stores them."""
    array = np.asarray(ids, dtype=np.int64)
    deltas = np.diff(array, prepend=first - 1)
    data, _ = varints(deltas)
    dense = bitmap(array, first) if len(array) else b""
    return base64.b64encode(dense if len(dense) < len(data) else data.tobytes()).decode()


def decode_postings(text: str, first: int) -> list[int]:
    data = base64.b64decode(text)
    if data[:1] == b"\x00":
        return [
            first + 8 * j + k for j, byte in enumerate(data[1:]) for k in range(8) if byte >> k & 1
        ]
    out: list[int] = []
    current, value, shift = first - 1, 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            current += value
            out.append(current)
            value, shift = 0, 0
    return out


# The fold table as digits: 5 bits each, 32 more when another digit follows (an
# unsigned varint, low digits first). JSON-safe, no escapes.
DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"


def _digits(value: int) -> str:
    out = []
    while value >= 32:
        out.append(DIGITS[32 + (value & 31)])
        value >>= 5
    out.append(DIGITS[value])
    return "".join(out)


def fold_value(table: dict[str, str]) -> dict[str, str]:
    """The fold table as the page loads it: {"pairs": digits}, for each folded character
    in code point order the gap from the previous one (from 0), then the zigzag of
    (its folded form - itself), each as _digits (about 3.7 bytes a pair, not 6)."""
    out, last = [], 0
    for a in sorted(table, key=ord):
        diff = ord(table[a]) - ord(a)
        out.append(_digits(ord(a) - last) + _digits(diff * 2 if diff >= 0 else -diff * 2 - 1))
        last = ord(a)
    return {"pairs": "".join(out)}


def read_fold(value: dict[str, str]) -> dict[str, str]:
    """fold_value's table back (for tests and readers)."""
    numbers, current, shift = [], 0, 0
    for char in value["pairs"]:
        digit = DIGITS.index(char)
        current |= (digit & 31) << shift
        shift += 5
        if digit < 32:
            numbers.append(current)
            current, shift = 0, 0
    table, last = {}, 0
    for gap, zig in zip(numbers[::2], numbers[1::2], strict=True):
        last += gap
        table[chr(last)] = chr(last + (zig >> 1 if not zig & 1 else -(zig + 1 >> 1)))
    return table


# -- decisions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    name: str
    first: int
    last: int
    shards: int
    docs: int

    def entry(self) -> dict[str, object]:
        return {
            "name": self.name,
            "first": self.first,
            "last": self.last,
            "shards": self.shards,
            "docs": self.docs,
        }


@dataclass
class Manifest:
    docs: int = 0
    next: int = 0
    segments: list[Segment] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)

    def value(self) -> dict[str, object]:
        return {
            "v": VERSION,
            "docs": self.docs,
            "next": self.next,
            "segments": [s.entry() for s in self.segments],
            "deleted": self.deleted,
        }


def parse_manifest(value: Any) -> Manifest:
    """The manifest's value as written; ValueError if it is not one of this version."""
    try:
        if value["v"] != VERSION:
            raise ValueError("another version")
        segments = [
            Segment(
                str(s["name"]), int(s["first"]), int(s["last"]), int(s["shards"]), int(s["docs"])
            )
            for s in value["segments"]
        ]
        return Manifest(
            int(value["docs"]), int(value["next"]), segments, [int(i) for i in value["deleted"]]
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a manifest: {exc}") from exc


@dataclass(frozen=True)
class DocPlan:
    keep: dict[int, int]  # article id -> its doc id
    new: dict[int, int]  # article id -> the doc id it gets
    deleted: list[int]  # doc ids no longer live
    next: int


def plan_docs(
    previous: dict[int, tuple[int, str]], current: Iterable[tuple[int, str]], next_id: int
) -> DocPlan:
    """Which articles keep their doc id, which get a new one (new or changed, in the
    order given), and which doc ids go. ``previous``: article id -> (doc id, key)."""
    keep: dict[int, int] = {}
    new: dict[int, int] = {}
    for article, key in current:
        before = previous.get(article)
        if before is not None and before[1] == key:
            keep[article] = before[0]
        else:
            new[article] = next_id
            next_id += 1
    deleted = sorted(doc for article, (doc, _) in previous.items() if article not in keep)
    return DocPlan(keep, new, deleted, next_id)


def merge_count(sizes: Sequence[int]) -> int:
    """How many of the newest segments to merge into one (0: none). ``sizes``: doc
    counts, oldest first. Segments of similar size merge by MERGE_COUNT, and a segment
    smaller than the newer one joins it, so sizes fall geometrically towards the newest
    and a doc is rewritten about log(N) times over the life of the index."""
    if len(sizes) >= 2 and sizes[-2] < sizes[-1]:
        return 2
    last = sizes[-MERGE_COUNT:]
    if len(last) == MERGE_COUNT and max(last) <= MERGE_RATIO * max(1, min(last)):
        return MERGE_COUNT
    return 0


def merges(sizes: Sequence[int]) -> list[int]:
    """The merges to make after appending the newest segment: each a count of newest
    segments, applied in turn."""
    sizes = list(sizes)
    out = []
    while (count := merge_count(sizes)) > 1:
        sizes[-count:] = [sum(sizes[-count:])]
        out.append(count)
    return out


def shard_count(pairs: int, parts: int = 1, docs: int = MASKS_FROM) -> int:
    """Shards for a segment of ``docs`` docs and that many (doc, gram) pairs: a power of
    two, so that a shard holds about SHARD_BYTES (a small segment: a third of it, as a
    query reads one shard of every segment per key); at least ``parts`` (each partition
    holds whole shards)."""
    # Bytes per pair, measured on the corpus (postings, masks and keys): a small segment
    # has few docs per gram, so its gram strings weigh more. A key read costs its whole
    # shard: at 100,000 docs 6 kB shards (65,536 files) put 3 of 250 benchmark queries
    # over 300 kB where 12 kB ones put 11 over; writing the extra files costs ~7 s of
    # kernel time (about 4 s of a build on 2 workers).
    small = docs < MASKS_FROM
    estimate = pairs * (4.5 if small else 2.0)
    target = SHARD_BYTES / 3 if small else SHARD_BYTES
    wanted = 1 << max(0, round(math.log2(max(1.0, estimate / target))))
    return max(wanted, parts)


def partition_count(docs: int) -> int:
    """Partitions of one segment build (a power of two): each holds about
    PAIRS_PER_PARTITION pairs."""
    return 1 << max(0, math.ceil(math.log2(max(1.0, docs * PAIRS_PER_DOC / PAIRS_PER_PARTITION))))


def segment_name(first: int, last: int) -> str:
    return f"s{first}-{last}"


# -- one segment's postings -----------------------------------------------------------------


def pack_keys(codes: Codes, docs: npt.NDArray[np.int64], first: int) -> npt.NDArray[np.uint64]:
    """(gram code, doc) pairs as one sortable integer each: code, then doc - first."""
    return (codes.astype(np.uint64) << np.uint64(DOC_BITS)) | (docs - first).astype(np.uint64)
