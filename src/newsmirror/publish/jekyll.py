"""Jekyll posts in the old mirrors' exact format (DESIGN.md section 2).

:func:`render_post` gives a post's bytes, :func:`post_filename` its name; the
seed article gives a file byte-identical to ``seed/000_5a86c4bf7c6d1edf.txt``.
Unlike the old writer, every front-matter value survives a YAML round trip,
every file name is valid on Linux, macOS and Windows, and each article has
exactly one file. :func:`export_jekyll` writes the tree incrementally.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from newsmirror.decide import needs_write
from newsmirror.media import media_relpath
from newsmirror.publish.pages import fold, is_http_url
from newsmirror.publish.writer import OutputWriter
from newsmirror.store import Archive, ArticleRecord, ExportRecord
from newsmirror.timeutil import to_epoch_ms, to_iso
from newsmirror.urls import canonical_url

TITLE_CHARS = 50
POSTS_DIR = "_posts"
_RESOLVER = yaml.resolver.Resolver()
_PLAIN_FIRST_BAD = set("-?:,[]{}#&*!|>'\"%@` \t")
_FLOW_BAD = set(",[]{}?:#")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]')
# Characters not allowed (or troublesome in URLs) in file names on Linux, macOS and Windows.
_BAD_NAME_CHARS = re.compile(r'[<>:"/\\|?*#%\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]')
_LIQUID = re.compile(r"\{(?=[{%])")
_DOTS = re.compile(r"\.{2,}")  # Jekyll turns ".." in a post's URL into "/" (a subfolder)


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


def _plain_ok(value: str, *, flow: bool) -> bool:
    if not value or value[0] in _PLAIN_FIRST_BAD or value != value.strip():
        return False
    if ": " in value or " #" in value or value.endswith(":") or _NEEDS_ESCAPE.search(value):
        return False
    if flow and any(ch in _FLOW_BAD for ch in value):
        return False
    tag = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return bool(tag == "tag:yaml.org,2002:str")


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
    return "".join(line.strip() for line in content.split("\n"))


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


def render_post(article: ArticleRecord, content: str | None = None) -> str:
    """The text of the post for ``article`` in the seed format.

    ``content`` replaces the article's body (e.g. with images pointing at local copies);
    a YouTube video gets its embed above the description.
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
        "---\n"
        f"<!--{to_epoch_ms(article.published)}-->\n" + _LIQUID.sub("&#123;", body)
    )


def title_slug(title: str) -> str:
    """The title part of a post's file name: at most 50 characters, valid everywhere."""
    title = _DOTS.sub("…", unicodedata.normalize("NFC", title))
    slug = _BAD_NAME_CHARS.sub("-", title).strip()[:TITLE_CHARS].rstrip(". ")
    return slug or "untitled"


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


def _preferred_name(article: ArticleRecord) -> str:
    if article.jekyll_name and valid_filename(article.jekyll_name):
        return article.jekyll_name
    return post_filename(article.published, article.title)


def _candidates(head: ArticleRecord) -> list[str]:
    """The article's possible files, in order of preference."""
    name = _preferred_name(head)
    return [
        f"{POSTS_DIR}/{n}"
        for n in (
            name,
            disambiguated(name, head.url),
            disambiguated(name, head.url, head.source),
            disambiguated(name, head.url, head.source, None),
        )
    ]


def _choose_path(
    head: ArticleRecord, record: ExportRecord | None, owners: dict[str, int], on_disk: set[str]
) -> str:
    """The article's file: the one it has, else its name, else its name with a hash; never
    one that differs only by case from another article's file or a foreign file (they
    would be one file on Windows and macOS). ``owners`` and ``on_disk`` are keyed by
    :func:`fold`."""
    candidates = _candidates(head)
    if (
        record is not None
        and record.path in candidates
        and owners.get(fold(record.path)) == head.id
    ):
        return record.path
    for path in candidates:
        owner = owners.get(fold(path))
        if owner == head.id or (owner is None and fold(path) not in on_disk):
            return path
    return f"{POSTS_DIR}/{candidates[-1][len(POSTS_DIR) + 1 : -3]}-{head.id}.md"


def _files_in(folder: Path) -> set[str]:
    try:
        return {fold(f"{POSTS_DIR}/{name}") for name in os.listdir(folder)}
    except (FileNotFoundError, NotADirectoryError):
        return set()


def export_jekyll(archive: Archive, out: Path, *, media_dir: Path | None = None) -> ExportSummary:
    """Write or update ``out/_posts`` so that it holds one post per article.

    With ``media_dir`` (the archive's mirrored images), the images a post uses are
    copied to ``out/media/`` and the post points at them with relative paths.
    """
    writer = OutputWriter(out)
    target = str(writer.root)
    records = archive.export_records(target)
    owners: dict[str, int] = {}  # fold(path) -> article; the older record wins a clash
    for aid in sorted(records):
        owners.setdefault(fold(records[aid].path), aid)
    on_disk = _files_in(writer.root / POSTS_DIR)
    summary = ExportSummary()
    changed: list[ExportRecord] = []
    stale: list[str] = []
    for head in archive.iter_articles(content=False):
        summary.total += 1
        record = records.get(head.id)
        path = _choose_path(head, record, owners, on_disk)
        if not needs_write(
            record,
            version=head.version,
            path=path,
            on_disk_size=writer.size(path),
            media_rev=head.media_rev,
        ):
            summary.unchanged += 1
            continue
        article = archive.article(head.id)
        content = article.content
        if media_dir is not None:
            content, used = localise_images(content, archive.media_map(head.id), f"../{MEDIA_DIR}/")
            for relpath in used:
                writer.copy_in(f"{MEDIA_DIR}/{relpath}", media_dir / relpath)
        data = render_post(article, content).encode()
        if writer.write(path, data):
            summary.written += 1
        else:
            summary.unchanged += 1
        if record is not None and record.path != path:
            stale.append(record.path)
            if owners.get(fold(record.path)) == head.id:
                del owners[fold(record.path)]
        owners[fold(path)] = head.id
        changed.append(ExportRecord(head.id, path, head.version, len(data), head.media_rev))
    current = {fold(r.path): r.path for r in changed} | {
        fold(r.path): r.path for aid, r in records.items() if owners.get(fold(r.path)) == aid
    }
    for path in stale:
        if _is_own_file(writer.root, path, current.get(fold(path))) and writer.remove(path):
            summary.removed += 1
    archive.save_exports(target, changed)
    return summary


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
