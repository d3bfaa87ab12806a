"""Read an old mirror's Jekyll posts (``_posts/`` and ``archived/**``) into the archive.

The old writer's defects are read, not repeated: front matter that is not
valid YAML, ``\\"`` in titles, ``<!--NaN-->`` for a missing date, posts with no
``<!--ms-->`` line, bare dates, and the same URL under two file names (merged
into one article, the other body kept as a revision).

Every file is untrusted: a file that cannot be read as a post (no front matter or
URL, YAML that nests or expands aliases beyond a small bound, over
:data:`MAX_POST_BYTES`, not a regular file, a symbolic link that loops or leads
outside the import folder) is skipped with a one-line reason and the others are
imported. A date no calendar has costs the date, not the article: the post is
imported with its date marked unknown, and a note says so.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from newsmirror.clean import clean_text, sanitize_html
from newsmirror.decide import Change
from newsmirror.errors import ImportFormatError
from newsmirror.frontmatter import front_matter
from newsmirror.publish import redirects
from newsmirror.publish.postformat import valid_filename
from newsmirror.store import Archive
from newsmirror.timeutil import now_utc
from newsmirror.verbatim import may_keep

MAX_POST_BYTES = 5 * 1024 * 1024  # one post file; larger ones are skipped (README)
MIN_YEAR = 1000  # an earlier date is no date (the archive writes years in 4 digits)
POST_SUFFIXES = (".md", ".markdown", ".html")
_MS_LINE = re.compile(r"^<!--\s*(-?\d+|NaN|undefined|null)?\s*-->\s*$")
_HEADER_LINK = re.compile(r"^\[.*\]\(.*\)\s*$")
_DATE_IN_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-")
# An image newsmirror's export pointed at its local copy (publish/postformat.localise_images).
_LOCAL_IMG = re.compile(
    r'(<img\b[^>]*?\bsrc=")\.\./media/([0-9a-f]{2}/[0-9a-f]{64}\.[A-Za-z0-9]{1,8})"'
    r' data-original-src="([^"]+)"'
)


@dataclass
class Post:
    """One old post, read leniently."""

    path: Path
    name: str  # the file's name as text (post_name)
    title: str
    url: str
    author: str
    source: str
    tags: list[str]
    published: datetime
    date_known: bool
    published_raw: str
    content: str
    notes: list[str] = field(default_factory=list)
    media: list[tuple[str, str]] = field(default_factory=list)  # (media relpath, image URL)
    original: str | None = None  # the file's exact text, when it may be exported as it was
    redirects: list[str] = field(default_factory=list)  # old URL paths (publish/redirects.py)


@dataclass
class ImportSummary:
    files: int = 0
    new: int = 0
    merged: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # "FILE: reason", one per skipped file
    notes: list[str] = field(default_factory=list)  # "FILE: what was read differently"
    images: int = 0  # mirrored images restored from the tree's media/ folder

    def line(self) -> str:
        return (
            f"{self.files} posts read: {self.new} new articles, {self.merged} merged into "
            f"an article of the same URL, {self.unchanged} already archived, "
            f"{len(self.skipped)} skipped"
        ) + (f", {self.images} mirrored images restored" if self.images else "")


# --- Dates -------------------------------------------------------------------------------


def _dated(moment: datetime | None) -> datetime | None:
    """``moment``, or None before :data:`MIN_YEAR`."""
    return moment if moment is not None and moment.year >= MIN_YEAR else None


def _as_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime, or None for anything no calendar has (or before MIN_YEAR)."""
    try:
        if isinstance(value, datetime):
            utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            return _dated(utc)
        if isinstance(value, date):
            return _dated(datetime(value.year, value.month, value.day, tzinfo=UTC))
        if isinstance(value, str) and value.strip():
            return _as_datetime(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        return None
    return None


def _from_ms(ms: int) -> datetime | None:
    """The time of an old ``<!--ms-->`` line; None before 1970 or past year 9999."""
    if ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    return [clean_text(str(v)) for v in value if clean_text(str(v))]


def _split_body(body: str) -> tuple[str | None, str]:
    """(text of the ``<!--ms-->`` line or None, article HTML) from a post's body."""
    lines = body.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    ms_text: str | None = None
    if lines and (match := _MS_LINE.match(lines[0])):
        ms_text = match.group(1) or ""
        lines.pop(0)
    if len(lines) >= 2 and _HEADER_LINK.match(lines[0]) and set(lines[1].strip()) == {"-"}:
        lines = lines[2:]
    html = "\n".join(lines).strip()
    if html.startswith("<div>") and html.endswith("</div>") and html.count("<div") == 1:
        html = html[len("<div>") : -len("</div>")].strip()
    elif html.startswith("<div>\n") and html.endswith("\n</div>"):
        html = html[len("<div>\n") : -len("\n</div>")]
    return ms_text, html


def unlocalise_images(html: str) -> tuple[str, list[tuple[str, str]]]:
    """Undo the export's local image paths: each ``src="../media/P" data-original-src="U"``
    becomes ``src="U"`` again; return the HTML and the (P, unescaped U) pairs."""
    found: list[tuple[str, str]] = []

    def back(match: re.Match[str]) -> str:
        found.append((match.group(2), match.group(3).replace("&amp;", "&")))
        return f'{match.group(1)}{match.group(3)}"'

    return _LOCAL_IMG.sub(back, html), found


def _date_in_name(name: str) -> datetime | None:
    if not (match := _DATE_IN_NAME.match(name)):
        return None
    try:
        return _dated(datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC))
    except ValueError:
        return None


def post_date(
    front_date: Any, ms_text: str | None, path: Path, mtime: float
) -> tuple[datetime, bool, str]:
    """(published, date known, note): the ``<!--ms-->`` line, else the front matter's date,
    else the file name's, else the file's mtime. ``<!--NaN-->`` means the writer had no
    date (its ``date:`` is then the fetch time, not known); an impossible date is unknown
    and noted."""
    from_ms = _from_ms(int(ms_text)) if ms_text and ms_text.lstrip("-").isdigit() else None
    from_front = _as_datetime(front_date)
    bad = []
    if ms_text and ms_text.lstrip("-").isdigit() and from_ms is None:
        bad.append(f"<!--{ms_text[:40]}-->")
    if front_date not in (None, "") and from_front is None:
        bad.append(f"date: {str(front_date)[:40]!r}")
    if from_ms is not None:
        return from_ms, True, ""
    fallback = from_front or _date_in_name(path.name)
    note = ""
    if bad:
        used = "the front matter's date" if from_front else "the file name's date"
        note = f"no valid date ({', '.join(bad)}); {used} is used, marked unknown"
        if fallback is None:
            note = note.replace("the file name's date", "the file's mtime")
    known = from_front is not None and ms_text is None
    if fallback is None:
        return datetime.fromtimestamp(mtime, tz=UTC), False, note
    return fallback, known, note


# --- Files ---------------------------------------------------------------------------------


def _read_limited(path: Path) -> bytes:
    """A regular file's bytes, at most MAX_POST_BYTES; never blocks on a FIFO, never follows
    a symbolic link (the caller resolved any link it accepts)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        kind = _kind(os.fstat(handle.fileno()).st_mode)
        if kind:
            raise ImportFormatError(f"{path}: {kind}, not a regular file")
        data = handle.read(MAX_POST_BYTES + 1)
    if len(data) > MAX_POST_BYTES:
        raise ImportFormatError(_too_big(path))
    return data


def _exact_text(data: bytes) -> str | None:
    """The file's text exactly (it encodes back to the same bytes), or None if not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


# Front matter a post may keep verbatim: the old writers' keys. Any other key, or another
# layout, could steer Jekyll (``permalink: /index.html`` takes the home page, ``redirect_to``
# sends readers to another site, ``redirect_from`` takes another post's page): such a post
# is rendered as newsmirror writes posts (its redirects, if any, checked) instead.
_INERT_KEYS = frozenset(
    {"layout", "title", "date", "author", "from", "link", "tags", "categories", "comments"}
)


def _inert(front: dict[str, Any]) -> bool:
    """Whether the front matter only says what the post is."""
    return set(front) <= _INERT_KEYS and front.get("layout", "post") == "post"


def _kept_text(data: bytes) -> str | None:
    """The file's exact text when it may be published again as it was
    (:func:`verbatim.may_keep`), else None (the post is rendered and sanitised)."""
    text = _exact_text(data)
    return text if text is not None and may_keep(text) else None


def post_name(path: Path) -> str:
    """The post's file name as text: bytes of a name that are not UTF-8 read as U+FFFD
    (the name is not kept then; the export writes the post under a valid one)."""
    return os.fsencode(path.name).decode("utf-8", errors="replace")


def _too_big(path: Path) -> str:
    return f"{path}: over the {MAX_POST_BYTES // (1024 * 1024)} MB limit for one post"


def _kind(mode: int) -> str:
    """'' for a regular file, else what it is."""
    if stat.S_ISREG(mode):
        return ""
    kinds = (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISDIR, "folder"),
    )
    return next((name for test, name in kinds if test(mode)), "special file")


def read_post(path: Path, *, open_path: Path | None = None) -> Post:
    """Parse one post file (``open_path``: where to read it, if ``path`` is a link);
    ImportFormatError if it is not a Jekyll post."""
    source_path = open_path or path
    data = _read_limited(source_path)
    text = data.decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
    if not text.startswith("---\n") or "\n---" not in text[3:]:
        raise ImportFormatError(f"{path}: no front matter")
    end = text.index("\n---", 3)
    try:
        front, valid_yaml = front_matter(text[4:end])
    except ImportFormatError as exc:
        raise ImportFormatError(f"{path}: {exc.message}") from exc
    body = text[end + 4 :].split("\n", 1)[1] if "\n" in text[end + 4 :] else ""
    ms_text, html = _split_body(body)
    html, media = unlocalise_images(html)
    url = clean_text(str(front.get("from") or front.get("link") or front.get("url") or ""))
    if not url.startswith(("http://", "https://")):
        raise ImportFormatError(f"{path}: no article URL (from:)")
    categories = _list(front.get("categories"))
    tags = _list(front.get("tags"))
    source = (categories or tags or ["imported"])[0]
    raw_date = front.get("date")
    published, date_known, note = post_date(raw_date, ms_text, path, os.stat(source_path).st_mtime)
    title = clean_text(str(front.get("title") or "")) or url
    name = post_name(path)
    return Post(
        path=path,
        name=name,
        title=title,
        url=url,
        author=clean_text(str(front.get("author") or "")) or source,
        source=source,
        tags=tags if tags != [source] else [],
        published=min(published, now_utc()),
        date_known=date_known,
        published_raw=str(raw_date or ""),
        content=sanitize_html(html),
        notes=[f"{path}: {note}"] if note else [],
        media=media,
        original=_kept_text(data)
        if valid_yaml and _inert(front) and valid_filename(name) and name == path.name
        else None,
        redirects=_redirects(front, name),
    )


def _redirects(front: dict[str, Any], name: str) -> list[str]:
    """The post's old URLs: its ``redirect_from`` (newsmirror's own export), and its own
    URL when its name cannot be kept (the export renames it)."""
    paths = redirects.paths_of(front.get("redirect_from"))
    own = None if valid_filename(name) else redirects.old_url(name)
    return [*paths, own] if own is not None and own not in paths else paths


@dataclass(frozen=True)
class PostFile:
    """A post found below the import folder: where to read it, or why not."""

    path: Path
    open_path: Path | None
    problem: str = ""


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _check_entry(path: Path, root: Path) -> PostFile:
    """Whether ``path`` (an entry of a post folder) can be read, from lstat/stat only."""
    try:
        mode = os.lstat(path).st_mode
        target = path
        if stat.S_ISLNK(mode):
            try:
                target = Path(os.path.realpath(path, strict=True))
            except (OSError, RuntimeError) as exc:
                loop = isinstance(exc, RuntimeError) or getattr(exc, "errno", 0) == 40
                return PostFile(
                    path, None, "symbolic link loop" if loop else "broken symbolic link"
                )
            if not _inside(target, root):
                return PostFile(path, None, f"symbolic link to {target}, outside {root}")
            mode = os.stat(target).st_mode
            if stat.S_ISDIR(mode):
                return PostFile(path, None, "symbolic link to a folder, not followed")
        kind = _kind(mode)
        if kind:
            return PostFile(path, None, f"{kind}, not a regular file")
        return PostFile(path, target)
    except OSError as exc:
        return PostFile(path, None, f"cannot read: {exc.strerror or exc}")


def _walk(base: Path, root: Path) -> list[PostFile]:
    """Post files (and unreadable entries) below ``base``; no recursion: any depth is walked."""
    found: list[PostFile] = []
    folders = [base]
    while folders:
        here = folders.pop()
        try:
            with os.scandir(here) as listing:
                entries = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in listing]
        except OSError as exc:
            found.append(PostFile(here, None, f"cannot list: {exc.strerror or exc}"))
            continue
        for name, is_folder in entries:
            path = here / name
            if is_folder:
                folders.append(path)
            elif os.path.islink(path) and os.path.isdir(path):
                found.append(PostFile(path, None, "symbolic link to a folder, not followed"))
            elif (entry := _check_entry(path, root)).problem or name.lower().endswith(
                POST_SUFFIXES
            ):
                found.append(entry)
    return sorted(found, key=lambda f: str(f.path))


def find_post_files(root: Path) -> Iterator[PostFile]:
    """Post files below ``root/_posts`` and ``root/archived``, in a stable order, each with
    where to read it or why it is skipped. Symbolic links are followed only to regular files
    inside ``root``; linked folders are not entered (no loops, nothing outside ``root``)."""
    root = root.resolve()
    for folder in ("_posts", "archived"):
        base = root / folder
        if not os.path.lexists(base):
            continue
        if base.is_symlink() or not base.is_dir():
            yield PostFile(base, None, "not a folder inside the import folder")
            continue
        yield from _walk(base, root)


def _read_or_reason(entry: PostFile) -> Post | str:
    """The post, or the one-line reason it is skipped. A post is untrusted input: whatever
    goes wrong reading one file ends as that file's reason, never the import's."""
    if entry.problem or entry.open_path is None:
        return f"{entry.path}: {entry.problem}"
    try:
        return read_post(entry.path, open_path=entry.open_path)
    except ImportFormatError as exc:
        return exc.message
    except Exception as exc:  # a defect not foreseen: this file's reason, not the import's end
        return f"{entry.path}: unreadable post ({type(exc).__name__}: {str(exc)[:200]})"


def import_jekyll(archive: Archive, root: Path, batch: int = 500) -> ImportSummary:
    """Import every post below ``root`` into ``archive``; skipped files are listed with
    their reasons in the summary. Images newsmirror's export mirrored (``root/media``)
    are restored into the archive's media folder, and the posts point at their original
    URLs again."""
    if not root.is_dir():
        raise ImportFormatError(
            f"{root} is not a folder",
            hint="Give the root of a Jekyll site (the folder with _posts/).",
        )
    summary = ImportSummary()
    now = now_utc()
    media: list[tuple[str, str]] = []
    entries = list(find_post_files(root))
    if not entries:
        raise ImportFormatError(
            f"no posts under {root}/_posts or {root}/archived",
            hint="Give the root of a Jekyll site (the folder with _posts/).",
        )
    for start in range(0, len(entries), batch):
        with archive.transaction():
            for entry in entries[start : start + batch]:
                summary.files += 1
                post = _read_or_reason(entry)
                if isinstance(post, str):
                    summary.skipped.append(post)
                    continue
                summary.notes.extend(post.notes)
                media.extend(post.media)
                _count(summary, _store(archive, post, now))
    if media:
        from newsmirror.media import restore_media

        summary.images, problems = restore_media(archive, root, media, now=now)
        summary.notes.extend(problems)
    return summary


def _store(archive: Archive, post: Post, now: datetime) -> Change:
    change = archive.import_article(
        source=post.source,
        url=post.url,
        title=post.title,
        author=post.author,
        content=post.content,
        tags=post.tags,
        published=post.published,
        date_known=post.date_known,
        published_raw=post.published_raw,
        jekyll_name=post.name,
        imported_text=post.original,
        now=now,
    )
    if post.redirects:
        redirects.record(archive, post.url, post.redirects)
    return change


def _count(summary: ImportSummary, change: Change) -> None:
    if change is Change.NEW:
        summary.new += 1
    elif change is Change.CHANGED:
        summary.merged += 1
    else:
        summary.unchanged += 1
