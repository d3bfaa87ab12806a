"""Jekyll posts in the old mirrors' exact format (DESIGN.md section 2).

:func:`render_post` gives a post's bytes, :func:`post_filename` its name; the
seed article gives a file byte-identical to ``seed/000_5a86c4bf7c6d1edf.txt``.
Unlike the old writer, every front-matter value survives a YAML round trip,
every file name is valid on Linux, macOS and Windows, and each article has
exactly one file. :func:`export_jekyll` writes the tree incrementally.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from newsmirror.decide import needs_write
from newsmirror.files import media_relpath
from newsmirror.forked import can_fork, side_by_side
from newsmirror.publish import internal_links, redirects
from newsmirror.publish.pages import fold, is_http_url
from newsmirror.publish.writer import OutputWriter
from newsmirror.store import Archive, ArticleRecord, ExportRecord
from newsmirror.store.exports import ExportHead
from newsmirror.timeutil import to_epoch_ms, to_iso
from newsmirror.urls import canonical_url

TITLE_CHARS = 50
POSTS_DIR = "_posts"
BATCH = 100  # posts whose bodies (and images) are read in one query
_PLAIN_FIRST_BAD = set("-?:,[]{}#&*!|>'\"%@` \t")
_FLOW_BAD = set(",[]{}?:#")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]')
# Characters not allowed (or troublesome in URLs) in file names on Linux, macOS and Windows.
_BAD_NAME_CHARS = re.compile(r'[<>:"/\\|?*#%\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]')
_LIQUID = re.compile(r"\{(?=[{%])")
_DOTS = re.compile(r"\.{2,}")  # Jekyll turns ".." in a post's URL into "/" (a subfolder)
_TRAILING_DOTS_SPACES = re.compile(r"[\s.]+\Z")


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if unicodedata.category(ch) == "Cs":  # a lone surrogate: no character at all
        return ""
    code = ord(ch)
    return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}"


def yaml_quoted(value: str) -> str:
    """A YAML double-quoted scalar that reads back as exactly ``value``."""
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'


# PyYAML reads a plain scalar as something other than a string only when it starts with
# one of the first characters of its implicit resolvers. After a letter (or "~") that is
# only one of these words (booleans and nulls); after the others (numbers, dates, "<<",
# "="), PyYAML is asked, unless the value has a non-ASCII character, which none of
# these forms has (e.g. an author "706青年空间").
_YAML_WORDS = frozenset(
    form
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for form in (word, word.capitalize(), word.upper())
) | {"~"}
_YAML_WORD_FIRST = frozenset("yYnNtTfFoO~")
_YAML_ASK_FIRST = frozenset("-+.0123456789<=!&*")


@functools.cache
def _plain_tag() -> Callable[[str], Any]:
    """The tag PyYAML gives a plain scalar (YAML is loaded only when one needs asking)."""
    import yaml

    resolver = yaml.resolver.Resolver()
    return functools.partial(resolver.resolve, yaml.ScalarNode, implicit=(True, False))


def _reads_as_str(value: str) -> bool:
    """Whether YAML reads the plain scalar ``value`` (not empty) as a string."""
    first = value[0]
    if first in _YAML_WORD_FIRST:
        return value not in _YAML_WORDS
    if first in _YAML_ASK_FIRST and value.isascii():
        return bool(_plain_tag()(value) == "tag:yaml.org,2002:str")
    return True


def _plain_ok(value: str, *, flow: bool) -> bool:
    if not value or value[0] in _PLAIN_FIRST_BAD or value != value.strip():
        return False
    if ": " in value or " #" in value or value.endswith(":") or _NEEDS_ESCAPE.search(value):
        return False
    if flow and any(ch in _FLOW_BAD for ch in value):
        return False
    return _reads_as_str(value)


def yaml_scalar(value: str, *, flow: bool = False) -> str:
    """``value`` plain when YAML reads it back unchanged as a string, else quoted."""
    return value if _plain_ok(value, flow=flow) else yaml_quoted(value)


_MD_ENTITIES = {
    "&": "&amp;",  # else "&lt;" in a title shows as "<"
    "<": "&lt;",
    ">": "&gt;",
    "{": "&#123;",  # kramdown's {: attribute lists} and {::extensions}, Liquid's {{ }}
    "~": "&#126;",  # GFM ~~strikethrough~~ (kramdown cannot backslash-escape it)
}
# Everything kramdown can backslash-escape: emphasis, code, math, links, lists, headers,
# tables and its typographic swaps (-- ... "quotes"), so the line shows the title as it is.
_MD_SPECIAL = re.compile(r"""[\\.*_+`()\[\]#!:|"'$=\-&<>{~]""")


def _markdown_text(title: str) -> str:
    return _MD_SPECIAL.sub(lambda m: _MD_ENTITIES.get(m.group(0)) or "\\" + m.group(0), title)


def _markdown_url(url: str) -> str:
    for ch, rep in ((" ", "%20"), ("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E")):
        url = url.replace(ch, rep)
    return url


def render_body(content: str) -> str:
    """Article HTML as the old writer laid it out: lines trimmed, joined with nothing."""
    return "".join(map(str.strip, content.split("\n")))


_YOUTUBE = re.compile(
    r"^https?://(?:www\.|m\.)?(?:youtube\.com/(?:watch\?(?:.*&)?v=|shorts/|embed/)"
    r"|youtu\.be/)([\w-]{6,20})"
)
_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')
MEDIA_DIR = "media"


def youtube_id(url: str) -> str | None:
    match = _YOUTUBE.match(url)
    return match.group(1) if match else None


def youtube_embed(video: str) -> str:
    return (
        f'<p><iframe src="https://www.youtube.com/embed/{video}" width="560" height="315" '
        f'title="YouTube" allowfullscreen></iframe></p>'
    )


def localise_images(
    content: str, media: dict[str, tuple[str, str]], prefix: str
) -> tuple[str, list[str]]:
    """Point mirrored images at their local copies (``prefix`` + path), keeping the original
    URL in ``data-original-src``; return the new HTML and the media paths it uses."""
    used: list[str] = []

    def swap(match: re.Match[str]) -> str:
        original = match.group(2)
        found = media.get(html.unescape(original))
        if found is None:
            return match.group(0)
        path = media_relpath(*found)
        used.append(path)
        return f'{match.group(1)}{prefix}{path}" data-original-src="{original}"'

    return _IMG_SRC.sub(swap, content), used


def render_post(
    article: ArticleRecord, content: str | None = None, redirect_from: Sequence[str] = ()
) -> str:
    """The text of the post for ``article`` in the seed format.

    ``content`` replaces the article's body (e.g. with images pointing at local copies);
    a YouTube video gets its embed above the description. ``redirect_from``: the post's
    old URL paths (a renamed imported post), for the jekyll-redirect-from plugin.
    """
    tags = article.tags or (article.source,)
    content = article.content if content is None else content
    video = youtube_id(article.url)
    if video and f"/embed/{video}" not in content:
        content = youtube_embed(video) + content
    heading = _markdown_text(article.title)
    if is_http_url(article.url):  # never a javascript: (or other) link
        heading = f"[{heading}]({_markdown_url(article.url)})"
    body = f"{heading}\n------\n\n<div>\n{render_body(content)}\n</div>\n"
    return (
        "---\n"
        "layout: post\n"
        f"title: {yaml_quoted(article.title)}\n"
        f"date: {to_iso(article.published)}\n"
        f"author: {yaml_scalar(article.author or article.source)}\n"
        f"from: {yaml_scalar(article.url)}\n"
        f"tags: [ {', '.join(yaml_scalar(t, flow=True) for t in tags)} ]\n"
        "comments: True\n"
        f"categories: [ {yaml_scalar(article.source, flow=True)} ]\n"
        + (
            f"redirect_from: [ {', '.join(map(yaml_quoted, redirect_from))} ]\n"
            if redirect_from
            else ""
        )
        + "---\n"
        f"<!--{to_epoch_ms(article.published)}-->\n" + _LIQUID.sub("&#123;", body)
    )


def title_slug(title: str) -> str:
    """The title part of a post's file name: at most 50 characters, valid everywhere."""
    title = _DOTS.sub("…", unicodedata.normalize("NFC", title))
    slug = _BAD_NAME_CHARS.sub("-", title).strip()[:TITLE_CHARS]
    # No trailing dot (Windows drops it) nor space of any kind (NBSP included).
    return _TRAILING_DOTS_SPACES.sub("", slug) or "untitled"


def post_filename(published: datetime, title: str) -> str:
    """``YYYY-MM-DD-<title>.md`` for a post."""
    return f"{published:%Y-%m-%d}-{title_slug(title)}.md"


def disambiguated(name: str, url: str, source: str | None = None, size: int | None = 8) -> str:
    """``name`` with the first ``size`` hex digits (None: all 40) of a hash of the article
    URL (and its source, when the same URL is in two sources), for when two articles share
    a name; at most 255 bytes."""
    key = canonical_url(url) if source is None else f"{source}\n{canonical_url(url)}"
    suffix = f"-{hashlib.sha1(key.encode()).hexdigest()[:size]}.md"
    stem = name[:-3].encode()[: 255 - len(suffix)].decode(errors="ignore").rstrip(". ")
    return stem + suffix


def valid_filename(name: str) -> bool:
    """True when ``name`` is a valid post file name on Linux, macOS and Windows."""
    return (
        bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}-.+\.md", name))
        and not _BAD_NAME_CHARS.search(name)
        and ".." not in name
        and len(name.encode("utf-8")) <= 255
        and name == unicodedata.normalize("NFC", name)
        and not name.endswith(" .md")  # a trailing dot is a ".." (refused above)
    )


@dataclass
class ExportSummary:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    total: int = 0

    def line(self) -> str:
        return (
            f"{self.total} posts: {self.written} written, {self.unchanged} unchanged, "
            f"{self.removed} removed"
        )


def _preferred_name(article: ArticleRecord | ExportHead) -> str:
    if article.jekyll_name and valid_filename(article.jekyll_name):
        return article.jekyll_name
    return post_filename(article.published, article.title)


class _Candidates:
    """The article's possible files, in order of preference, each made when first asked
    for: the plain name is cheap, the hashed ones cost a canonical URL and a SHA-1, and
    most articles keep their plain name."""

    def __init__(self, head: ArticleRecord | ExportHead) -> None:
        self._head = head
        self._made: list[str] = []
        self._name = ""

    def _next(self) -> bool:
        head, made = self._head, len(self._made)
        if made == 0:
            self._name = _preferred_name(head)
            name = self._name
        elif made == 1:
            name = disambiguated(self._name, head.url)
        elif made == 2:
            name = disambiguated(self._name, head.url, head.source)
        elif made == 3:
            name = disambiguated(self._name, head.url, head.source, None)
        else:
            return False
        self._made.append(f"{POSTS_DIR}/{name}")
        return True

    def __iter__(self) -> Iterator[str]:
        i = 0
        while i < len(self._made) or self._next():
            yield self._made[i]
            i += 1

    def last(self) -> str:
        while self._next():
            pass
        return self._made[-1]


def _choose_path(
    head: ArticleRecord | ExportHead,
    record: ExportRecord | None,
    owners: dict[str, int],
    on_disk: set[str],
) -> str:
    """The article's file: the one it has, else its name, else its name with a hash; never
    one that differs only by case from another article's file or a foreign file (they
    would be one file on Windows and macOS). ``owners`` and ``on_disk`` are keyed by
    :func:`fold`."""
    candidates = _Candidates(head)
    if (
        record is not None
        and owners.get(fold(record.path)) == head.id
        and record.path in candidates
    ):
        return record.path
    for path in candidates:
        owner = owners.get(fold(path))
        if owner == head.id or (owner is None and fold(path) not in on_disk):
            return path
    return f"{POSTS_DIR}/{candidates.last()[len(POSTS_DIR) + 1 : -3]}-{head.id}.md"


def _files_in(folder: Path) -> set[str]:
    try:
        return {fold(f"{POSTS_DIR}/{name}") for name in os.listdir(folder)}
    except (FileNotFoundError, NotADirectoryError):
        return set()


def export_jekyll(archive: Archive, out: Path, *, media_dir: Path | None = None) -> ExportSummary:
    """Write or update ``out/_posts`` so that it holds one post per article.

    With ``media_dir`` (the archive's mirrored images), the images a post uses are
    copied to ``out/media/`` and the post points at them with relative paths. Only
    articles whose export record is out of date are rendered; when none is, nothing is
    read beyond the records and the articles' heads, and nothing is written.
    """
    writer = OutputWriter(out)
    target = str(writer.root)
    records = archive.export_records(target)
    owners: dict[str, int] = {}  # fold(path) -> article; the older record wins a clash
    for aid in sorted(records):
        owners.setdefault(fold(records[aid].path), aid)
    on_disk = _files_in(writer.root / POSTS_DIR)
    summary = ExportSummary()
    todo: list[tuple[ExportHead, str]] = []  # (head, file) of the posts to write
    stale: list[str] = []
    heads = archive.export_heads()
    new = [h.url for h in heads if h.id not in records]  # links to them stay inside
    recheck = internal_links.export_recheck(archive, new, len(records))
    chosen: list[tuple[str, str]] = []  # (article URL, post file)
    for head in heads:
        summary.total += 1
        record = records.get(head.id)
        path = _choose_path(head, record, owners, on_disk)
        chosen.append((head.url, path))
        if head.id not in recheck and not needs_write(
            record,
            version=head.version,
            path=path,
            on_disk_size=writer.size(path),
            media_rev=head.media_rev,
        ):
            summary.unchanged += 1
            continue
        if record is not None and record.path != path:
            stale.append(record.path)
            if owners.get(fold(record.path)) == head.id:
                del owners[fold(record.path)]
        owners[fold(path)] = head.id
        todo.append((head, path))
    changed: list[ExportRecord] = []
    pages = _PostPages(owners)
    links = (
        internal_links.LinkMap(
            (url, page) for url, path in chosen if (page := internal_links.post_page(path))
        )
        if todo
        else None
    )
    moved = redirects.redirects_of(archive) if todo else {}  # old URLs: one small query
    render = _Render(writer, media_dir, pages, moved, links)
    done: tuple[tuple[list[ExportRecord], int], ...]
    for part in _parts(todo, parallel=can_fork()):
        batches = [_read_batch(archive, batch, media_dir) for batch in part]
        if len(batches) == 2:  # the second on the other core (forked.side_by_side)
            first, second = (functools.partial(render, b) for b in batches)
            done = side_by_side(first, second)
        else:
            done = (render(batches[0]),)
        for made, written in done:
            changed += made
            summary.written += written
            summary.unchanged += len(made) - written
    current = {fold(r.path): r.path for r in changed} | {
        fold(r.path): r.path for aid, r in records.items() if owners.get(fold(r.path)) == aid
    }
    for path in stale:
        if _is_own_file(writer.root, path, current.get(fold(path))) and writer.remove(path):
            summary.removed += 1
    if changed:
        archive.save_exports(target, changed)
    if todo:
        _write_moved(writer, moved, records, changed, pages)
    return summary


MOVED_DATA = "_data/moved.json"


def _write_moved(
    writer: OutputWriter,
    olds: dict[int, list[str]],
    records: dict[int, ExportRecord],
    changed: list[ExportRecord],
    pages: _PostPages,
) -> None:
    """``_data/moved.json``: each redirected old URL -> the page of its post now. The
    redirect layout reads it: jekyll-redirect-from's own target goes through Addressable's
    normalisation, which NFKC-folds the path (a post named "调查：巧用" would be sent to
    "调查:巧用", a page that does not exist)."""
    moved: dict[str, str] = {}
    paths = {aid: records[aid].path for aid in olds if aid in records}
    paths |= {r.article_id: r.path for r in changed if r.article_id in olds}
    for article_id, old in olds.items():
        path = paths.get(article_id)
        page = redirects.old_url(path[len(POSTS_DIR) + 1 :]) if path else None
        if page is not None:
            moved |= {o: page for o in pages.free(old) if o != page}
    if moved:
        text = json.dumps(dict(sorted(moved.items())), ensure_ascii=False, indent=0)
        writer.write(MOVED_DATA, (text + "\n").encode())
    elif writer.size(MOVED_DATA) is not None:
        writer.remove(MOVED_DATA)


_Todo = tuple[ExportHead, str]  # an article's head and its post's file
PARALLEL_FROM = 2 * BATCH  # posts to write for the second core to take half


def _parts(todo: list[_Todo], *, parallel: bool) -> Iterator[list[list[_Todo]]]:
    """The posts to write in parts of one or two lists (two: one for each core, when
    ``parallel`` and there are enough), each of at most 10 batches read at once."""
    if not parallel or len(todo) < PARALLEL_FROM:
        for start in range(0, len(todo), BATCH):
            yield [todo[start : start + BATCH]]
        return
    half = max(BATCH, min(10 * BATCH, len(todo) // 2))
    for start in range(0, len(todo), 2 * half):
        part = todo[start : start + 2 * half]
        yield [part[:half], part[half:]] if len(part) > half else [part]


@dataclass
class _Batch:
    """Posts to write with what they need from the archive, read before the writing
    starts (the writing may happen in a forked child, which must not use the archive)."""

    todo: list[_Todo]
    articles: dict[int, tuple[ArticleRecord, str | None]]
    media: dict[int, dict[str, tuple[str, str]]]


def _read_batch(archive: Archive, todo: list[_Todo], media_dir: Path | None) -> _Batch:
    """The posts' bodies (and images) read in one query each, BATCH posts at a time."""
    articles: dict[int, tuple[ArticleRecord, str | None]] = {}
    media: dict[int, dict[str, tuple[str, str]]] = {}
    for start in range(0, len(todo), BATCH):
        ids = [head.id for head, _path in todo[start : start + BATCH]]
        articles |= archive.export_articles(ids)
        if media_dir is not None:
            media |= archive.media_maps_of(ids)
    return _Batch(todo, articles, media)


@dataclass
class _Render:
    """Renders and writes posts (no archive access: see :class:`_Batch`)."""

    writer: OutputWriter
    media_dir: Path | None
    pages: _PostPages
    moved: dict[int, list[str]]
    links: internal_links.LinkMap | None

    def __call__(self, batch: _Batch) -> tuple[list[ExportRecord], int]:
        """Write the batch's posts: their new export records, and how many were written
        (the others were already there, byte for byte)."""
        records, written = [], 0
        for head, path in batch.todo:
            article, imported = batch.articles[head.id]
            data = self._post(head, path, article, imported, batch.media.get(head.id))
            written += self.writer.write(path, data)
            records.append(
                ExportRecord(head.id, path, article.version, len(data), article.media_rev)
            )
        return records, written

    def _post(
        self,
        head: ExportHead,
        path: str,
        article: ArticleRecord,
        imported: str | None,
        media: dict[str, tuple[str, str]] | None,
    ) -> bytes:
        content = article.content
        original = imported if path == f"{POSTS_DIR}/{head.jekyll_name}" else None
        if self.media_dir is not None and media:
            content, used = localise_images(content, media, f"../{MEDIA_DIR}/")
            for relpath in used:
                if original is None or f"../{MEDIA_DIR}/{relpath}" in original:
                    self.writer.copy_in(f"{MEDIA_DIR}/{relpath}", self.media_dir / relpath)
        if original is not None:  # an imported post unchanged since: its own bytes
            return original.encode()
        old = self.pages.free(self.moved.get(head.id, ()))
        if self.links is not None:
            content = internal_links.rewrite(content, self.links.page_of)
        if not article.imported:  # a fed article's topic tags (topics.py) are the site's only
            article = replace(article, tags=())
        return render_post(article, content, old).encode()


class _PostPages:
    """The pages of the tree's posts (folded), made when a redirect first needs them: an
    old URL is redirected only where no post has its page."""

    def __init__(self, owners: dict[str, int]) -> None:
        self._owners = owners
        self._pages: set[str] | None = None

    def free(self, paths: Sequence[str]) -> list[str]:
        if not paths:
            return []
        if self._pages is None:
            self._pages = set()
            for path in self._owners:
                url = redirects.old_url(path[len(POSTS_DIR) + 1 :])
                if url is not None:
                    self._pages.add(fold(redirects.file_of(url)))
        return [p for p in paths if fold(redirects.file_of(p)) not in self._pages]


def _is_own_file(root: Path, stale: str, current: str | None) -> bool:
    """Whether the stale file ``stale`` may go: no article's file has its name, or one has
    a name differing by case that is a separate file here (on a case-insensitive disk the
    two are one file, which must stay)."""
    if current is None:
        return True
    try:
        return not os.path.samefile(root / stale, root / current)
    except OSError:
        return True


SITE_FILES = {  # packaged file -> path in the tree
    "jekyll_site/_config.yml": "_config.yml",
    "jekyll_site/default.html": "_layouts/default.html",
    "jekyll_site/post.html": "_layouts/post.html",
    "jekyll_site/redirect.html": "_layouts/redirect.html",
    "jekyll_site/index.html": "index.html",
    "jekyll_site/archive.html": "archive.html",
    "static/style.css": "assets/style.css",
}


def write_site_files(out: Path, title: str = "新闻镜像") -> int:
    """The files that make ``out`` a Jekyll site (config, layouts, index, archive, style);
    return how many were written (unchanged ones are left alone)."""
    here = Path(__file__).parent
    writer = OutputWriter(out)
    written = 0
    for name, relpath in SITE_FILES.items():
        data = (here / name).read_bytes()
        if relpath == "_config.yml":
            data = data.replace(b"{{TITLE}}", yaml_quoted(title).encode())
        written += writer.write(relpath, data)
    return written
