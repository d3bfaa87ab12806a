"""One partition's shard files, encoded with numpy, without a Python object per gram:
the very bytes of the plain statement of the format (grams grouped by postings and
masks, as JSON; tests/test_search_index.py states it in plain Python, one gram at a
time, and holds this encoder to it byte for byte).

A partition holds about a million (gram, doc) pairs of a hundred thousand grams. Each
gram's postings, masks and text become ranges of byte buffers: the postings (and the
masks) of all grams are base64 encoded in one call, each laid out at a multiple of 3
bytes, so that its characters are those of its own encoding but for the "=" padding,
set afterwards. A shard file is then one gather of those ranges and of the constant
pieces of JSON around them. Grams of a shard with the same postings and masks share an
entry: the few that may (whose hash of both is not unique in the shard) are compared as
bytes.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from newsmirror.publish import searchfiles as sf
from newsmirror.publish import searchindex as si

Ints = npt.NDArray[np.int64]
Bytes = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Ranges:
    """Byte strings in one buffer: string i is ``buffer[start[i]:start[i] + size[i]]``
    (laid out by _layout: each at a multiple of 3 bytes, zeros between)."""

    buffer: Bytes
    start: Ints
    size: Ints


@dataclass(frozen=True)
class Grams:
    """The distinct grams of one kind (body or title) of a partition, in code order."""

    shard: Ints  # the shard each one goes to
    leader: Ints  # the first gram of its shard with the same postings and masks
    postings: Ranges  # base64
    masks: Ranges  # base64 (size 0: none)
    text: Ranges  # the gram as a search file's JSON string holds it (UTF-8, escaped)


def grams(keys: npt.NDArray[np.uint64], masks: npt.NDArray[np.uint8] | None, shards: int) -> Grams:
    """The grams of packed keys (see searchindex.pack_keys) as the plain statement encodes
    them, with the masks of pairs and trigrams in varint form if ``masks`` is given."""
    codes, docs, masks = _sorted(keys, masks)
    start = np.flatnonzero(np.diff(codes, prepend=-1))
    counts = np.diff(np.append(start, len(codes)))
    postings, dense = _postings(docs, start, counts)
    codes = codes[start]
    shard = (si.hash_codes(codes) % np.uint32(shards)).astype(np.int64)
    if masks is None:
        nexts = Ranges(np.zeros(0, np.uint8), np.zeros(len(codes), np.int64), np.zeros_like(codes))
    else:
        chosen = (codes >= si._BASE) & ~dense  # pairs and trigrams in varint form
        nexts = _layout(masks, np.where(chosen, start, 0), np.where(chosen, counts, 0))
    return Grams(
        shard, _leaders(shard, postings, nexts), _base64(postings), _base64(nexts), _texts(codes)
    )


def files(name: str, body: Grams, title: Grams, shards: Iterable[int]) -> list[tuple[int, bytes]]:
    """The file of each shard (``shards``, and those the grams go to), in shard order:
    js_file(f"{name}/{shard:x}", {"b": [...], "t": [...]}) as the plain statement groups them."""
    ids = np.union1d(np.fromiter(shards, np.int64), np.concatenate([body.shard, title.shard]))
    head = "window.NM_SEARCH=window.NM_SEARCH||{};NM_SEARCH.put("
    heads = [f'{head}{sf.js_text(f"{name}/{s:x}")},{{"b":['.encode() for s in ids.tolist()]
    buffer, start, size, shard = _pieces(body, title, ids, heads)
    keep = size > 0
    data = buffer[_spread(start[keep], size[keep])].tobytes()
    ends = np.cumsum(np.bincount(shard, size.sum(axis=1), len(ids))).astype(np.int64).tolist()
    return [(s, data[lo:hi]) for s, lo, hi in zip(ids.tolist(), [0, *ends[:-1]], ends, strict=True)]


def _sorted(keys: npt.NDArray[np.uint64], masks: Bytes | None) -> tuple[Ints, Ints, Bytes | None]:
    """The codes and docs of the keys in key order, and their masks in the same order.
    A mask fits in a key whose doc needs 8 bits less: such keys are sorted with their
    masks inside (sorting is much faster than finding the order)."""
    doc_bits = np.uint64((1 << si.DOC_BITS) - 1)
    if masks is None:
        keys = np.sort(keys)
    elif len(keys) and (keys & doc_bits).max() >> np.uint64(si.DOC_BITS - 8) == 0:
        both = np.sort(keys & ~doc_bits | (keys & doc_bits) << np.uint64(8) | masks)
        keys = both & ~doc_bits | (both & doc_bits) >> np.uint64(8)
        masks = (both & np.uint64(0xFF)).astype(np.uint8)
    else:
        order = np.argsort(keys)
        keys, masks = keys[order], masks[order]
    codes = (keys >> np.uint64(si.DOC_BITS)).astype(np.int64)
    return codes, (keys & doc_bits).astype(np.int64), masks


# -- byte strings ----------------------------------------------------------------------------


def _spread(starts: Ints, sizes: Ints) -> Ints:
    """The positions start .. start + size - 1 of each range, one after the other."""
    ends = np.cumsum(sizes)
    total = int(ends[-1]) if len(ends) else 0
    out: Ints = np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - sizes), sizes)
    return out


def _aligned(sizes: Ints) -> tuple[Ints, int]:
    """Where strings of these sizes start, each at a multiple of 3; the bytes they take."""
    padded = (sizes + 2) // 3 * 3
    ends = np.cumsum(padded)
    return ends - padded, int(ends[-1]) if len(ends) else 0


def _layout(data: Bytes, starts: Ints, sizes: Ints) -> Ranges:
    """``data[start:start + size]`` for each range, laid out (see Ranges)."""
    at, total = _aligned(sizes)
    buffer = np.zeros(total, np.uint8)
    buffer[_spread(at, sizes)] = data[_spread(starts, sizes)]
    return Ranges(buffer, at, sizes)


def _base64(laid: Ranges) -> Ranges:
    """base64 of each string of ``laid`` (laid out by _layout), in one buffer."""
    text = np.frombuffer(binascii.b2a_base64(laid.buffer.tobytes(), newline=False), np.uint8).copy()
    end = (laid.start + laid.size + 2) // 3 * 4
    rest = laid.size % 3  # 1: "==" in place of the last two "A", 2: "=" in place of one
    text[end[rest > 0] - 1] = ord("=")
    text[end[rest == 1] - 2] = ord("=")
    return Ranges(text, laid.start // 3 * 4, (laid.size + 2) // 3 * 4)


def _postings(docs: Ints, start: Ints, counts: Ints) -> tuple[Ranges, npt.NDArray[np.bool_]]:
    """Each gram's postings as the plain statement makes them (its docs from ``start``,
    ``counts`` of them, relative to the segment's first): the varints of the gaps, or
    the bitmap when that is shorter (which ones are: the second array), laid out."""
    gaps = np.diff(docs, prepend=0)
    gaps[start] = docs[start] + 1
    data, ends = si.varints(gaps)
    last = start + counts - 1
    byte_start = np.concatenate([[0], ends[:-1]])[start]
    varint_size = ends[last] - byte_start
    dense = docs[last] // 8 + 2 < varint_size
    sizes = np.where(dense, docs[last] // 8 + 2, varint_size)
    at, total = _aligned(sizes)
    buffer = np.zeros(total, np.uint8)
    sparse = ~dense
    buffer[_spread(at[sparse], sizes[sparse])] = data[_spread(byte_start[sparse], sizes[sparse])]
    gram = np.repeat(np.arange(len(start)), counts)
    bits = dense[gram]
    place = at[gram[bits]] + 1 + docs[bits] // 8  # after the bitmap's leading zero byte
    first = np.flatnonzero(np.diff(place, prepend=-1))
    buffer[place[first]] = np.bitwise_or.reduceat(np.left_shift(1, docs[bits] & 7), first)
    return Ranges(buffer, at, sizes), dense


def _hash(laid: Ranges) -> npt.NDArray[np.uint64]:
    """A hash of each string (equal strings, equal hashes: by byte and place)."""
    place = _spread(laid.start, laid.size)
    rel = (place - np.repeat(laid.start, laid.size)).astype(np.uint64)
    mix = (rel + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    terms = (laid.buffer[place].astype(np.uint64) + np.uint64(1)) * (mix ^ (mix >> np.uint64(29)))
    sums = np.zeros(len(laid.size), np.uint64)
    full = laid.size > 0
    if full.any():
        sums[full] = np.add.reduceat(terms, (np.cumsum(laid.size) - laid.size)[full])
    return sums + laid.size.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)


def _leaders(shard: Ints, postings: Ranges, masks: Ranges) -> Ints:
    """For each gram, the first gram of its shard with the same postings and masks."""
    key = _hash(postings) * np.uint64(0x165667B19E3779F9) + _hash(masks)
    key = key * np.uint64(0x27D4EB2F165667C5) + shard.astype(np.uint64)
    _, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
    leader = np.arange(len(shard))
    first: dict[tuple[int, bytes, bytes], int] = {}
    for i in np.flatnonzero(count[inverse] > 1).tolist():  # a few: compare their bytes
        p, m = (r.buffer[r.start[i] : r.start[i] + r.size[i]].tobytes() for r in (postings, masks))
        leader[i] = first.setdefault((int(shard[i]), p, m), i)
    return leader


# The characters json.dumps escapes, and those js_text does: a gram that holds one is
# written by them (there are few).
_ESCAPED = np.array([*range(0x20), ord('"'), ord("\\"), 0x2028, 0x2029])


def _texts(codes: Ints) -> Ranges:
    """Each gram (see searchindex.gram_of) as it is inside a JSON string of js_text."""
    tri = codes >= si._TRI
    first, second = np.divmod(np.where(tri, 0, codes), si._BASE)
    pair = ~tri & (first > 0)
    cps = np.zeros((len(codes), 3), np.int64)
    cps[:, 0] = np.where(pair, first - 1, second)
    cps[:, 1] = np.where(pair, second, 0)
    if tri.any():
        latin = np.frombuffer(si._LATIN.encode(), np.uint8)
        rest = codes[tri] - si._TRI
        cps[tri] = latin[np.stack([rest // 1296, rest // 36 % 36, rest % 36], axis=1)]
    used = np.arange(3) < np.where(tri, 3, np.where(pair, 2, 1))[:, None]
    odd = used & (np.isin(cps, _ESCAPED) | ((cps >= 0xD800) & (cps < 0xE000)))
    odd = odd.any(axis=1) | (pair & (cps[:, 0] == ord("<")) & (cps[:, 1] == ord("/")))
    cps[odd] = 0  # U+0000 is in no other gram: its UTF-8, a zero byte, is padding
    text = cps.astype("<u4").tobytes().decode("utf-32-le").encode()
    plain = np.frombuffer(text, np.uint8)
    plain = plain[plain != 0]
    size = ((cps > 0).astype(np.int64) + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)).sum(1)
    start = np.cumsum(size) - size
    escaped = [sf.js_text(si.gram_of(c))[1:-1].encode() for c in codes[odd].tolist()]
    size[odd] = [len(e) for e in escaped]
    start[odd] = len(plain) + np.cumsum(size[odd]) - size[odd]
    buffer = np.concatenate([plain, np.frombuffer(b"".join(escaped), np.uint8)])
    return Ranges(buffer, start, size)


# -- the files -------------------------------------------------------------------------------

_MIDDLE, _TAIL = '],"t":[', "]});\n"  # of a file: after its body entries, after all
_CONST = "".join(['["', '","', " ", '"]', ",", _MIDDLE, _TAIL]).encode()  # JSON between strings
_COLUMNS = "shard section leader index own_at own_size p_at p_size m_at m_size g_at g_size"


def _at(piece: str) -> int:
    return _CONST.index(piece.encode())


def _table(body: Grams, title: Grams, ids: Ints, heads: list[bytes]) -> tuple[Bytes, Ints]:
    """The rows of the files, unsorted: a row for each gram's entry (section 1 body,
    3 title, in the shard's place in ``ids``) and for each file's head (section 0), middle
    (2) and tail (4); the columns (_COLUMNS) point into the buffer returned with them."""
    n = len(ids)
    head_size = np.array([len(h) for h in heads], np.int64)
    buffers = [np.frombuffer(_CONST, np.uint8), np.frombuffer(b"".join(heads), np.uint8)]
    base = len(_CONST) + int(head_size.sum())
    frame = np.zeros((3 * n, 12), np.int64)
    frame[:, 0] = np.tile(np.arange(n), 3)
    frame[:, 1] = np.repeat([0, 2, 4], n)
    frame[:, 4] = np.concatenate(
        [len(_CONST) + np.cumsum(head_size) - head_size, [_at(_MIDDLE)] * n, [_at(_TAIL)] * n]
    )
    frame[:, 5] = np.concatenate([head_size, [len(_MIDDLE)] * n, [len(_TAIL)] * n])
    tables = [frame]
    for section, grams in ((1, body), (3, title)):
        rows = np.zeros((len(grams.shard), 12), np.int64)
        rows[:, 0] = np.searchsorted(ids, grams.shard)
        rows[:, 1] = section
        rows[:, 2] = grams.leader
        rows[:, 3] = np.arange(len(rows))
        for column, ranges in zip(
            (6, 8, 10), (grams.postings, grams.masks, grams.text), strict=True
        ):
            rows[:, column] = ranges.start + base
            rows[:, column + 1] = ranges.size
            buffers.append(ranges.buffer)
            base += len(ranges.buffer)
        tables.append(rows)
    return np.concatenate(buffers), np.concatenate(tables)


def _pieces(
    body: Grams, title: Grams, ids: Ints, heads: list[bytes]
) -> tuple[Bytes, Ints, Ints, Ints]:
    """What the files are made of: a buffer, the ranges of it to write (8 a row: (rows,
    8) starts and sizes), and the shard of each row (its place in ``ids``). The rows go
    by shard, section, entry (in the order of its first gram) and gram (code order)."""
    buffer, table = _table(body, title, ids, heads)
    table = table[np.lexsort(table[:, 3::-1].T)]
    c = dict(zip(_COLUMNS.split(), table.T, strict=True))
    gram = c["section"] % 2 == 1
    new = np.ones(len(table), np.bool_)  # a row that starts an entry or a piece of frame
    new[1:] = (np.diff(table[:, :3], axis=0) != 0).any(axis=1)
    first = gram & new
    last = gram & np.append(new[1:], True)
    more = np.append(gram[1:], False)  # another entry follows in the list
    masked = last & (c["m_size"] > 0)
    slots = [  # (start, size) of each piece of a row
        (np.where(gram, _at('["'), c["own_at"]), np.where(gram, 2 * first, c["own_size"])),
        (c["p_at"], c["p_size"] * first),
        (_at('","'), 3 * first),
        (c["g_at"], c["g_size"]),
        (
            np.select([~last, ~masked], [_at(" "), _at('"]')], _at('","')),
            gram * (1 + last + masked),
        ),
        (c["m_at"], c["m_size"] * masked),
        (_at('"]'), 2 * masked),
        (_at(","), last & more),
    ]
    start = np.stack([np.broadcast_to(s, len(table)) for s, _ in slots], axis=1)
    size = np.stack([np.broadcast_to(z, len(table)) for _, z in slots], axis=1).astype(np.int64)
    return buffer, start, size, c["shard"]
