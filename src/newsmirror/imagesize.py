"""An image's size in pixels, read from its header as a browser reads it.

A few kilobytes of PNG can declare 50,000 x 50,000 pixels: every reader of a page that
shows it must then decode gigabytes (a decompression bomb). Mirrored images are
therefore refused above :data:`MAX_PIXELS`, and when their header gives no size a
browser could use. Plain functions over bytes; :mod:`newsmirror.media` decides.
"""

from __future__ import annotations

import re
import struct

MAX_PIXELS = 64_000_000  # 8,000 x 8,000: far above any news picture, infographics included

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length follows
_FILL = re.compile(rb"\xff+")
_DIB_SIZES = {12, 40, 52, 56, 108, 124}  # a bitmap's header: OS/2, Windows v1 to v5


def pixel_size(data: bytes, ext: str) -> tuple[int, int] | None:
    """(width, height) from the header of an image of type ``ext`` (as
    :func:`newsmirror.media.sniff_image` names it); None when the header gives none."""
    try:
        reader = _READERS.get(ext)
        return reader(data) if reader else None
    except (struct.error, IndexError, ValueError):
        return None


def too_large(size: tuple[int, int]) -> bool:
    width, height = size
    return width * height > MAX_PIXELS


def _png(data: bytes) -> tuple[int, int] | None:
    # IHDR is the first chunk: length 13, then width and height.
    if data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _gif(data: bytes) -> tuple[int, int] | None:
    # The logical screen, then each frame's own place: the box around them all (a frame
    # may exceed the screen, and some decoders grow their canvas to hold every frame).
    width, height = struct.unpack("<HH", data[6:10])
    at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while at < len(data):
        block = data[at]
        if block == 0x3B:  # the trailer
            break
        if block == 0x21:  # an extension: label, then sub-blocks
            at = _skip_blocks(data, at + 2)
        elif block == 0x2C:  # an image descriptor
            left, top, w, h = struct.unpack("<HHHH", data[at + 1 : at + 9])
            width, height = max(width, left + w), max(height, top + h)
            flags = data[at + 9]
            at += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
            at = _skip_blocks(data, at + 1)  # after the LZW minimum code size
        else:
            break  # damaged: browsers stop here too
    return width, height


def _skip_blocks(data: bytes, at: int) -> int:
    while at < len(data) and data[at]:
        at += data[at] + 1
    return at + 1


def _jpeg(data: bytes) -> tuple[int, int] | None:
    # Segments from SOI; the frame header (SOFn) comes before the first scan (SOS).
    # Between segments, as libjpeg reads them: bytes that are no marker (a stray byte,
    # FF 00) are skipped up to the next FF, and fill bytes (FF FF ...) before a marker.
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF or data[at + 1] == 0x00:
            at = data.find(b"\xff", at + 1)
            if at < 0:
                return None
            continue
        if data[at + 1] == 0xFF:
            fill = _FILL.match(data, at)
            assert fill is not None  # data[at] is FF
            at = fill.end() - 1
            continue
        marker = data[at + 1]
        if marker in _STANDALONE:
            at += 2
            continue
        if marker == 0xDA or marker == 0xD9:  # a scan or the end before any frame
            return None
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


def _bmp(data: bytes) -> tuple[int, int]:
    header = struct.unpack("<I", data[14:18])[0]
    if header == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack("<HH", data[18:22])
        return width, height
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)


def _ico(data: bytes) -> tuple[int, int] | None:
    # Each entry: 1 byte each of width and height (0: 256); an entry holds a PNG or a
    # BMP (without its file header) whose own header is the size a decoder may use: the
    # largest of all.
    count = struct.unpack("<H", data[4:6])[0]
    width = height = 0
    for n in range(count):
        entry = data[6 + 16 * n : 22 + 16 * n]
        offset = struct.unpack("<I", entry[12:16])[0]
        head = data[offset : offset + 26]
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            inner = _png(head)
        elif struct.unpack("<I", head[:4])[0] in _DIB_SIZES:
            w, h = _bmp(b"\x00" * 14 + head)  # (its height counts the mask's rows too)
            inner = (w, (h + 1) // 2)
        else:
            inner = None
        if inner is None:
            return None
        width = max(width, entry[0] or 256, inner[0])
        height = max(height, entry[1] or 256, inner[1])
    return (width, height) if count else None


def _avif(data: bytes) -> tuple[int, int] | None:
    # The 'ispe' properties (required for every image item) of meta > iprp > ipco, and
    # for an image sequence the size of each track and of each of its sample entries
    # (the frames a browser plays): the largest width and height of them all.
    sizes = []
    meta = _child(data, 0, len(data), b"meta")
    iprp = meta and _child(data, meta[0] + 4, meta[1], b"iprp")  # (meta is a full box)
    ipco = iprp and _child(data, iprp[0], iprp[1], b"ipco")
    if ipco:
        sizes += [
            struct.unpack(">II", data[start + 4 : start + 12])
            for kind, start, _end in _boxes(data, *ipco)
            if kind == b"ispe"
        ]
    sizes += _track_sizes(data)
    if not sizes:
        return None
    return max(w for w, _h in sizes), max(h for _w, h in sizes)


def _track_sizes(data: bytes) -> list[tuple[int, int]]:
    moov = _child(data, 0, len(data), b"moov")
    sizes = []
    for kind, start, end in _boxes(data, *moov) if moov else []:
        if kind != b"trak":
            continue
        tkhd = _child(data, start, end, b"tkhd")
        if tkhd:  # 16.16 fixed point, after 76 bytes (version 0) or 88 (version 1)
            at = tkhd[0] + (88 if data[tkhd[0]] == 1 else 76)
            width, height = struct.unpack(">II", data[at : at + 8])
            sizes.append((width >> 16, height >> 16))
        box: tuple[int, int] | None = (start, end)
        for inner in (b"mdia", b"minf", b"stbl", b"stsd"):
            box = box and _child(data, box[0], box[1], inner)
        if box:  # stsd: a full box and an entry count, then the sample entries
            sizes += [
                struct.unpack(">HH", data[a + 24 : a + 28])
                for _kind, a, _b in _boxes(data, box[0] + 8, box[1])
            ]
    return sizes


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """The ISO-BMFF boxes between ``start`` and ``end``: (type, content start, end)."""
    found = []
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        head = 8
        if size == 1:  # a 64-bit size follows
            size, head = struct.unpack(">Q", data[start + 8 : start + 16])[0], 16
        elif size == 0:  # to the end
            size = end - start
        if size < head or start + size > end:
            break
        found.append((kind, start + head, start + size))
        start += size
    return found


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    return next(((s, e) for k, s, e in _boxes(data, start, end) if k == kind), None)


_READERS = {
    "png": _png,
    "gif": _gif,
    "jpg": _jpeg,
    "webp": _webp,
    "bmp": _bmp,
    "ico": _ico,
    "avif": _avif,
}
