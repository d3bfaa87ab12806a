"""Image sizes read from headers (Pillow, a real decoder, is the oracle), and images that
would make every reader's browser decode gigabytes (decompression bombs) left out."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, features

from conftest import Reply
from newsmirror.demo.assets import png
from newsmirror.imagesize import MAX_PIXELS, pixel_size, too_large
from newsmirror.media import size_refusal, sniff_image
from newsmirror.store import Archive
from test_media import feed_with_images, run

FORMATS = [
    ("PNG", {}),
    ("JPEG", {}),
    ("JPEG", {"progressive": True}),
    ("GIF", {}),
    ("BMP", {}),
    ("ICO", {}),
    ("WEBP", {}),
    ("WEBP", {"lossless": True}),
    ("WEBP", {"mode": "RGBA"}),  # an extended file (VP8X), for its alpha
]
if features.check("avif"):
    FORMATS.append(("AVIF", {}))


def encoded(fmt: str, size: tuple[int, int], mode: str = "RGB", **options) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30, 128)[: len(mode)]).save(out, fmt, **options)
    return out.getvalue()


def read(data: bytes) -> tuple[int, int] | None:
    kind = sniff_image(data)
    assert kind is not None
    return pixel_size(data, kind[1])


@pytest.mark.parametrize("fmt, options", FORMATS, ids=lambda v: str(v))
@settings(max_examples=12, deadline=None)
@given(width=st.integers(1, 1500), height=st.integers(1, 1500))
def test_the_size_is_the_one_a_decoder_reads(fmt, options, width, height):
    if fmt == "ICO":  # icons are at most 256 x 256: one entry of the image's size
        width, height = min(width, 256), min(height, 256)
        options = {"sizes": [(width, height)]}
    data = encoded(fmt, (width, height), **options)
    assert read(data) == Image.open(io.BytesIO(data)).size


def test_a_jpeg_with_large_metadata_before_its_frame():
    exif = Image.Exif()
    exif[0x010E] = "说明" * 20_000  # ImageDescription: 60 kB of APP1 before SOF
    out = io.BytesIO()
    Image.new("RGB", (321, 123)).save(out, "JPEG", exif=exif.tobytes())
    assert read(out.getvalue()) == (321, 123)


def test_an_animated_gif_counts_its_largest_frame():
    frames = [Image.new("P", (40, 30)), Image.new("P", (40, 30), 1)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert read(out.getvalue()) == (40, 30)
    data = bytearray(out.getvalue())
    # the second frame's descriptor made to claim 30,000 x 30,000 pixels
    at = data.rindex(b"\x2c\x00\x00\x00\x00")
    data[at + 5 : at + 9] = struct.pack("<HH", 30_000, 30_000)
    assert read(bytes(data)) == (30_000, 30_000)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A real PNG of ``width`` x ``height`` black grey pixels: a few hundred kB that
    decode to width x height bytes."""
    row = b"\x00" + b"\x00" * width
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_limit_is_at_64_megapixels():
    assert MAX_PIXELS == 64_000_000
    assert not too_large((8_000, 8_000)) and too_large((8_000, 8_001))
    assert size_refusal(png(), "png") is None
    bomb = png_bomb(10_000, 10_000)
    assert len(bomb) < 200_000
    assert Image.open(io.BytesIO(bomb)).size == (10_000, 10_000)
    assert size_refusal(bomb, "png") == (
        "10,000 x 10,000 pixels, over the 64 megapixels a reader's browser is asked to"
        " decode at most"
    )


@pytest.mark.parametrize(
    "data, ext",
    [
        # IHDR not first (a text chunk whose bytes would read as 10 x 10)
        (b"\x89PNG\r\n\x1a\n" + _chunk(b"tEXt", struct.pack(">II", 10, 10) * 3), "png"),
        (b"\x89PNG\r\n\x1a\n", "png"),  # cut short
        # a scan before any frame (a frame header after it is no image's)
        (b"\xff\xd8\xff\xda\x00\x02\xff\xc0\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00", "jpg"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpg"),  # cut before the frame
        (b"GIF89a", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8Z" + b"\x00" * 30, "webp"),  # no known chunk
        (b"\x00\x00\x00\x18ftypavif" + b"\x00" * 12, "avif"),  # no ispe
        (png()[:16] + struct.pack(">II", 0, 10) + png()[24:], "png"),  # no pixels
    ],
)
def test_an_image_whose_header_gives_no_size_is_refused(data, ext):
    assert size_refusal(data, ext) == "not a readable image (its header gives no size)"


def test_a_decompression_bomb_is_not_mirrored_and_the_page_keeps_its_url(tmp_path, server):
    server.route("/i/ok.png", Reply(body=png(), headers={"Content-Type": "image/png"}))
    server.route("/i/bomb.png", Reply(body=png_bomb(9_000, 9_000)))
    feed_with_images(server, [["/i/ok.png", "/i/bomb.png"]])
    config, summary = run(tmp_path, server)
    assert (summary.media.stored, summary.media.failed) == (1, 1)
    [error] = summary.media.errors
    assert error.startswith(f"{server.url}/i/bomb.png: 9,000 x 9,000 pixels, over the 64")
    assert len(list(config.media_dir.rglob("*.png"))) == 1
    with Archive.open(config.archive) as archive:
        [article] = archive.iter_articles()
        mapped = archive.media_map(article.id)
    assert f"{server.url}/i/ok.png" in mapped and f"{server.url}/i/bomb.png" not in mapped


def _jpeg(size=(321, 123)) -> bytes:
    return encoded("JPEG", size)


def test_jpeg_fill_bytes_and_markers_without_length_are_stepped_over():
    data = _jpeg()
    at = data.index(b"\xff\xc0")  # the frame header
    filled = data[:at] + b"\xff\xff\xff" + data[at:]  # fill bytes before a marker
    assert Image.open(io.BytesIO(filled)).size == (321, 123)
    assert read(filled) == (321, 123)
    tem = data[:at] + b"\xff\x01\xff\xd3" + data[at:]  # TEM and RST3: no length follows
    assert read(tem) == (321, 123)


def test_webp_scale_bits_and_bmp_top_down_rows_are_no_part_of_the_size():
    lossy = bytearray(encoded("WEBP", (300, 200)))
    assert lossy[12:16] == b"VP8 "
    lossy[27] |= 0xC0  # the width's two scale bits (an upscaling hint, no size)
    assert Image.open(io.BytesIO(bytes(lossy))).size == (300, 200)
    assert read(bytes(lossy)) == (300, 200)
    bmp = bytearray(encoded("BMP", (30, 20)))
    bmp[22:26] = struct.pack("<i", -20)  # rows stored top-down
    assert Image.open(io.BytesIO(bytes(bmp))).size == (30, 20)
    assert read(bytes(bmp)) == (30, 20)


def test_os2_bitmaps_and_icons_of_bitmaps():
    os2 = b"BM" + b"\x00" * 12 + struct.pack("<IHHHH", 12, 640, 480, 1, 24)
    assert pixel_size(os2, "bmp") == (640, 480)

    def icon(*entries: tuple[int, int], dib: tuple[int, int] = (16, 16)) -> bytes:
        """Entries whose bitmap (a DIB header: its height counts the mask's rows) is
        ``dib``."""
        head = struct.pack("<HHH", 0, 1, len(entries))
        body_at = 6 + 16 * len(entries)
        rows = b"".join(
            struct.pack("<BBBBHHII", w, h, 0, 0, 1, 32, 40, body_at) for w, h in entries
        )
        return head + rows + struct.pack("<IiiHH", 40, dib[0], 2 * dib[1], 1, 32) + b"\0" * 24

    assert pixel_size(icon((16, 16), (0, 0)), "ico") == (256, 256)  # 0 stands for 256
    assert pixel_size(icon((48, 32), dib=(48, 32)), "ico") == (48, 32)
    # the directory says 16 x 16, the bitmap 9,000 x 9,000 (Pillow decodes that)
    assert pixel_size(icon((16, 16), dib=(9_000, 9_000)), "ico") == (9_000, 9_000)
    assert pixel_size(icon((16, 16))[:-40] + b"\x00" * 40, "ico") is None  # neither
    v5 = icon((16, 16), dib=(4_000, 3_000))
    v5 = v5[:-40] + struct.pack("<I", 124) + v5[-36:]  # a v5 bitmap header
    assert pixel_size(v5, "ico") == (4_000, 3_000)
    inner = png(300, 300)  # an icon entry holding a PNG: its own header counts
    head = struct.pack("<HHH", 0, 1, 1) + struct.pack(
        "<BBBBHHII", 16, 16, 0, 0, 1, 32, len(inner), 22
    )
    assert pixel_size(head + inner, "ico") == (300, 300)


def _box(kind: bytes, body: bytes, large: bool = False) -> bytes:
    if large:  # size 1: a 64-bit size follows the type
        return struct.pack(">I4sQ", 1, kind, 16 + len(body)) + body
    return struct.pack(">I4s", 8 + len(body), kind) + body


def test_avif_sizes_in_boxes_of_64_bit_sizes():
    ispe = _box(b"ispe", b"\x00" * 4 + struct.pack(">II", 4_000, 3_000))
    small = _box(b"ispe", b"\x00" * 4 + struct.pack(">II", 40, 30))
    ipco = _box(b"ipco", small + ispe, large=True)
    meta = _box(b"meta", b"\x00" * 4 + _box(b"hdlr", b"\x00" * 20) + _box(b"iprp", ipco))
    data = _box(b"ftyp", b"avif\x00\x00\x00\x00") + meta
    assert sniff_image(data) == ("image/avif", "avif")
    assert read(data) == (4_000, 3_000)  # the largest item


def test_jpeg_bytes_between_segments_are_skipped_as_libjpeg_skips_them():
    data = _jpeg((640, 480))
    at = data.index(b"\xff\xdb")  # after APP0: stray bytes there are shown by browsers
    stray = data[:at] + b"\x00\x00\x00\x00" + data[at:]
    assert Image.open(io.BytesIO(stray)).size == (640, 480)
    assert read(stray) == (640, 480) and size_refusal(stray, "jpg") is None
    # FF 00 after SOI is no marker: read as one, its "length" would land on a 16 x 16
    # frame header hidden in a comment, and the real frame says 16,000 x 16,000
    big = bytearray(_jpeg((16, 16)))
    sof = big.index(b"\xff\xc0")
    big[sof + 5 : sof + 9] = struct.pack(">HH", 16_000, 16_000)
    fake = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 16, 16) + bytes(10)
    comment = b"\xff\xfe" + struct.pack(">H", 2 + 20 + len(fake)) + b"A" * 20 + fake
    hidden = bytes(big[:2]) + b"\xff\x00" + struct.pack(">H", 26) + comment + bytes(big[2:])
    assert hidden[30:32] == b"\xff\xc0"  # where that "length" leads
    assert read(hidden) == (16_000, 16_000)


def test_gif_frames_count_by_the_box_around_them_all():
    gif = bytearray(b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0))
    for w, h in ((60_000, 1), (1, 60_000)):
        gif += b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x02\x02\x4c\x01\x00"
    gif += b"\x3b"
    assert read(bytes(gif)) == (60_000, 60_000)


def test_an_image_sequence_counts_its_frames_not_only_its_still_item():
    frames = [Image.new("RGB", (300, 200), c) for c in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "AVIF", save_all=True, append_images=frames[1:], duration=100)
    data = bytearray(out.getvalue())
    at = data.index(b"ispe")
    data[at + 8 : at + 16] = struct.pack(">II", 16, 16)  # the still item made to say 16 x 16
    assert Image.open(io.BytesIO(bytes(data))).size == (300, 200)
    assert read(bytes(data)) == (300, 200)


def test_a_header_made_to_be_slow_is_read_in_well_under_a_second():
    entry = b"\x10\x10\x00\x00\x01\x00\x20\x00" + struct.pack("<II", 40, 0)
    count = 65_535
    body = png()  # every entry points at the same PNG at the end
    rows = b"".join(entry[:12] + struct.pack("<I", 6 + 16 * count) for _ in range(count))
    data = struct.pack("<HHH", 0, 1, count) + rows + body + b"\x00" * (10 << 20)
    started = time.perf_counter()
    size = read(data)
    assert time.perf_counter() - started < 0.5  # each entry reads 26 bytes, not the rest
    assert size == (16, 16)  # the entries' 16 x 16 over the PNG's 4 x 3
