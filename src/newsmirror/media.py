"""Mirroring images: the articles' pictures kept beside the archive, content-addressed.

Blocked image hosts are the commonest reason a mirrored article is unreadable in
China. Each image an article uses is fetched once (the article sent as Referer,
bounded in size and count per article), its type decided by its bytes (never by
the server's header; SVG is refused: it can carry scripts), its size in pixels read
from its header (:mod:`newsmirror.imagesize`: a decompression bomb, or a header that
gives no size, is refused), and stored as
``media/<sha256[:2]>/<sha256>.<ext>``, so an image used by many articles is kept
once. A failed image keeps its original URL and is tried again on later runs.
The images of pages archived by ``newsmirror add`` (unless --allow-private) are
only ever fetched through its network guard (:mod:`newsmirror.netguard`), in
whichever run mirrors them; an image the guard refuses is not tried again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from datetime import datetime
from pathlib import Path

from newsmirror.aio import run_all
from newsmirror.config import MediaSettings
from newsmirror.errors import ArchiveError
from newsmirror.fetch import Fetcher
from newsmirror.files import atomic_write, media_relpath, open_below
from newsmirror.imagesize import MAX_PIXELS, pixel_size, too_large
from newsmirror.isolate import failure_reason
from newsmirror.models import ImageTask
from newsmirror.netguard import Guard, PrivateAddressError, guarded_transport
from newsmirror.store import Archive
from newsmirror.summaries import Budget, Events, MediaSummary
from newsmirror.timeutil import now_utc
from newsmirror.urls import is_http_url

_IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", re.I)
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
    (b"WEBP", 8, "image/webp", "webp"),
    (b"BM", 0, "image/bmp", "bmp"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon", "ico"),
)
IMAGE_ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/gif,image/*;q=0.8"


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(MIME type, extension) from an image's first bytes; None if not a raster image."""
    for magic, offset, mime, ext in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            if ext == "webp" and not data.startswith(b"RIFF"):
                continue
            return mime, ext
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "image/avif", "avif"
    return None


def size_refusal(data: bytes, ext: str) -> str | None:
    """Why an image of type ``ext`` is not mirrored for its size in pixels, or None."""
    size = pixel_size(data, ext)
    if size is None or 0 in size:
        return "not a readable image (its header gives no size)"
    if too_large(size):
        width, height = size
        return (
            f"{width:,} x {height:,} pixels, over the {MAX_PIXELS // 1_000_000} megapixels"
            " a reader's browser is asked to decode at most"
        )
    return None


def image_urls(content: str, limit: int) -> list[str]:
    """The http(s) images of an article body, in order, each once, at most ``limit``."""
    out: list[str] = []
    for match in _IMG_SRC.finditer(content):
        url = match.group(1).replace("&amp;", "&")
        if is_http_url(url) and url not in out:
            out.append(url)
            if len(out) >= limit:
                break
    return out


def write_media(folder: Path, data: bytes, ext: str) -> str:
    """Store ``data`` content-addressed below ``folder``; return its sha256."""
    digest = hashlib.sha256(data).hexdigest()
    target = folder / media_relpath(digest, ext)
    if not target.exists():
        atomic_write(target, data)
    return digest


async def mirror_images(
    archive: Archive,
    fetcher: Fetcher,
    settings: MediaSettings,
    folder: Path,
    *,
    article_id: int | None = None,
    guard: Guard | None = None,
    budget: Budget | None = None,
    events: Events | None = None,
    url: str | None = None,
) -> MediaSummary:
    """Fetch every image still missing (or only those of ``article_id``, and of those
    only ``url``); record each success and failure.

    The images of articles archived by ``add`` with its guard on are fetched through
    the network guard (``guard``, by default the real one), whichever run mirrors them;
    an image the guard refuses is recorded as failed with the reason and not tried again.
    Once the ``budget`` is spent no image is started: the rest wait for the next run.
    """
    summary = MediaSummary()
    if settings.mode != "mirror":
        return summary
    archive.scan_images(lambda content: image_urls(content, settings.max_per_article))
    plain = archive.pending_images(
        max_attempts=settings.retries, guarded=False, article_id=article_id
    )
    plain = [t for t in plain if url is None or t.url == url]
    await _mirror(archive, fetcher, settings, folder, plain, summary, budget, events)
    tasks = archive.pending_images(
        max_attempts=settings.retries, guarded=True, article_id=article_id
    )
    tasks = [t for t in tasks if url is None or t.url == url]
    if not tasks:
        return summary
    transport = guarded_transport(guard or Guard(), fetcher.settings)
    async with Fetcher(fetcher.settings, transport=transport) as own:
        await _mirror(archive, own, settings, folder, tasks, summary, budget, events)
    return summary


async def _mirror(
    archive: Archive,
    fetcher: Fetcher,
    settings: MediaSettings,
    folder: Path,
    pending: list[ImageTask],
    summary: MediaSummary,
    budget: Budget | None = None,
    events: Events | None = None,
) -> None:
    by_url: dict[str, list[ImageTask]] = {}
    gate = asyncio.Semaphore(fetcher.settings.concurrency)  # an image starts when a slot frees

    async def budgeted(url: str, tasks: list[ImageTask]) -> None:
        async with gate:
            if budget is not None and budget.spent():
                summary.deferred += 1
                return
            outcome = await isolated(url, tasks)
        if events is not None:
            events("image", f"{url}: {outcome}")

    for task in pending:
        by_url.setdefault(task.url, []).append(task)

    async def one(url: str, tasks: list[ImageTask]) -> str:
        known = archive.known_image(url)
        if known is not None:
            archive.store_image(url, sha256=known[0], mime="", ext=known[1], size=0, now=now_utc())
            summary.reused += 1
            return "reused"
        try:
            result = await fetcher.fetch(
                url,
                headers={"Referer": tasks[0].referer, "Accept": IMAGE_ACCEPT},
                max_bytes=settings.max_bytes,
            )
        except PrivateAddressError as exc:
            summary.failed += 1
            summary.errors.append(f"{url}: {exc.message}")
            for task in tasks:
                archive.image_failed(task, exc.message, now=now_utc(), refused=True)
            return f"refused: {exc.message}"
        error = result.error or "failed"  # a 304 nobody asked for says nothing
        kind = sniff_image(result.body)  # the body of a failed fetch is empty: None
        if result.status == "ok" and kind is None:
            error = "not an image (by its bytes)"
        elif kind is not None and (  # (a hostile header can take a second to walk)
            refusal := await asyncio.to_thread(size_refusal, result.body, kind[1])
        ):
            error, kind = refusal, None
        if kind is None:
            summary.failed += 1
            summary.errors.append(f"{url}: {error}")
            for task in tasks:
                archive.image_failed(task, error, now=now_utc())
            return f"failed: {error}"
        try:
            digest = await asyncio.to_thread(write_media, folder, result.body, kind[1])
        except OSError as exc:  # the media folder is the archive's: a full disk stops the run
            raise ArchiveError(f"cannot write the media folder {folder}: {exc}") from exc
        archive.store_image(
            url, sha256=digest, mime=kind[0], ext=kind[1], size=len(result.body), now=now_utc()
        )
        summary.stored += 1
        return "mirrored"

    async def isolated(url: str, tasks: list[ImageTask]) -> str:
        try:
            return await one(url, tasks)
        except Exception as exc:  # this image's failure only (archive errors stop the run)
            reason = failure_reason(exc)
            summary.failed += 1
            summary.errors.append(f"{url}: {reason}")
            for task in tasks:
                archive.image_failed(task, reason, now=now_utc())
            return f"failed: {reason}"

    await run_all(budgeted(url, tasks) for url, tasks in by_url.items())


MAX_IMAGE_BYTES = 50 * 1024 * 1024  # one restored image; larger files are left out
_SHA256 = re.compile("[0-9a-f]{64}")


def _read_image(root: Path, relpath: str) -> bytes | str:
    """The bytes of ``root/media/relpath`` (a regular file below ``root``, reached with no
    symlink followed, whose sha256 is its name, a raster image of its extension's type
    of a size a mirrored image may have), or why not. ``relpath`` comes from a post: it is
    checked to be a media path first."""
    path = root / "media" / relpath
    sha, _, ext = relpath.partition("/")[2].partition(".")
    if not _SHA256.fullmatch(sha) or media_relpath(sha, ext) != relpath:
        return f"{path}: not a media path"
    try:
        with os.fdopen(open_below(root, f"media/{relpath}"), "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_IMAGE_BYTES:
                return f"{path}: over {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
            data = handle.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:  # missing, a symlink on the way, not a regular file
        return f"{path}: cannot read: {exc.strerror or exc}"
    if hashlib.sha256(data).hexdigest() != sha:
        return f"{path}: content does not match its name"
    if (sniff_image(data) or ("", ""))[1] != ext:  # an SVG or HTML page would be published
        return f"{path}: not an image of its type (.{ext})"
    refusal = size_refusal(data, ext)  # as when it was mirrored (a tree may be older)
    return f"{path}: {refusal}" if refusal else data


def restore_media(
    archive: Archive, root: Path, refs: list[tuple[str, str]], *, now: datetime
) -> tuple[int, list[str]]:
    """Copy the images the posts use (``refs``: (media relpath, original URL)) from
    ``root/media`` into the archive's media folder and record them as mirrored from
    those URLs; return (images restored, one line per image left out)."""
    limit = MediaSettings().max_per_article
    archive.scan_images(lambda content: image_urls(content, limit))
    restored, problems, done = 0, [], set()
    for relpath, url in refs:
        if (relpath, url) in done:
            continue
        done.add((relpath, url))
        data = _read_image(root, relpath)
        if isinstance(data, str):
            problems.append(f"{data}; the image is left out (it is fetched again)")
            continue
        sha, ext = relpath.split("/", 1)[1].split(".", 1)
        target = archive.media_dir / relpath
        if not target.exists():
            atomic_write(target, data)
        mime = (sniff_image(data) or ("", ""))[0]
        archive.store_image(url, sha256=sha, mime=mime, ext=ext, size=len(data), now=now)
        restored += 1
    return restored, problems
