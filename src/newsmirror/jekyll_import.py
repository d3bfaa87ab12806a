"""Read an old mirror's Jekyll posts (``_posts/`` and ``archived/**``) into the archive.

The old writer's defects are read, not repeated: front matter that is not
valid YAML, ``\\"`` in titles, ``<!--NaN-->`` for a missing date, posts with no
``<!--ms-->`` line, bare dates, and the same URL under two file names (merged
into one article, the other body kept as a revision).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from newsmirror.clean import clean_text, sanitize_html
from newsmirror.decide import Change
from newsmirror.errors import ImportFormatError
from newsmirror.store import Archive
from newsmirror.timeutil import now_utc

_MS_LINE = re.compile(r"^<!--\s*(-?\d+|NaN|undefined|null)?\s*-->\s*$")
_HEADER_LINK = re.compile(r"^\[.*\]\(.*\)\s*$")
_DATE_IN_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-")
_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*):\s?(.*)$")


@dataclass
class Post:
    """One old post, read leniently."""

    path: Path
    title: str
    url: str
    author: str
    source: str
    tags: list[str]
    published: datetime
    date_known: bool
    published_raw: str
    content: str


@dataclass
class ImportSummary:
    files: int = 0
    new: int = 0
    merged: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.files} posts read: {self.new} new articles, {self.merged} merged into "
            f"an article of the same URL, {self.unchanged} already archived, "
            f"{len(self.skipped)} skipped"
        )


def _lenient_scalar(value: str) -> Any:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return [_lenient_scalar(v) for v in value[1:-1].split(",") if v.strip()]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == '"':
            inner = re.sub(
                r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), inner
            )
        return inner
    return value


def parse_front_matter(text: str) -> dict[str, Any]:
    """YAML front matter; line by line where the old writer left invalid YAML."""
    try:
        data = yaml.safe_load(text)
        if isinstance(data, dict):
            return data
    except yaml.YAMLError:
        pass
    data = {}
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        if match:
            data[match.group(1)] = _lenient_scalar(match.group(2))
    return data


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        try:
            return _as_datetime(datetime.fromisoformat(text))
        except ValueError:
            return None
    return None


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    return [clean_text(str(v)) for v in value if clean_text(str(v))]


def _split_body(body: str) -> tuple[int | None, bool, str]:
    """(epoch ms or None, had a ms line, article HTML) from a post's body."""
    lines = body.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    ms: int | None = None
    had_ms = False
    if lines and (match := _MS_LINE.match(lines[0])):
        had_ms = True
        if match.group(1) and match.group(1).lstrip("-").isdigit():
            ms = int(match.group(1))
        lines.pop(0)
    if len(lines) >= 2 and _HEADER_LINK.match(lines[0]) and set(lines[1].strip()) == {"-"}:
        lines = lines[2:]
    html = "\n".join(lines).strip()
    if html.startswith("<div>") and html.endswith("</div>") and html.count("<div") == 1:
        html = html[len("<div>") : -len("</div>")].strip()
    elif html.startswith("<div>\n") and html.endswith("\n</div>"):
        html = html[len("<div>\n") : -len("\n</div>")]
    return ms, had_ms, html


def read_post(path: Path) -> Post:
    """Parse one post file; ImportFormatError if it is not a Jekyll post."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n")
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc}") from exc
    if not text.startswith("---\n") or "\n---" not in text[3:]:
        raise ImportFormatError(f"{path}: no front matter")
    end = text.index("\n---", 3)
    front = parse_front_matter(text[4:end])
    body = text[end + 4 :].split("\n", 1)[1] if "\n" in text[end + 4 :] else ""
    ms, had_ms, html = _split_body(body)
    url = clean_text(str(front.get("from") or front.get("link") or front.get("url") or ""))
    if not url.startswith(("http://", "https://")):
        raise ImportFormatError(f"{path}: no article URL (from:)")
    categories = _list(front.get("categories"))
    tags = _list(front.get("tags"))
    source = (categories or tags or ["imported"])[0]
    raw_date = front.get("date")
    published = _as_datetime(raw_date)
    date_known = ms is not None or (published is not None and not had_ms)
    if ms is not None:
        published = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if published is None:
        match = _DATE_IN_NAME.match(path.name)
        published = (
            datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
            if match
            else datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        )
        date_known = False
    title = clean_text(str(front.get("title") or "")) or url
    return Post(
        path=path,
        title=title,
        url=url,
        author=clean_text(str(front.get("author") or "")) or source,
        source=source,
        tags=tags if tags != [source] else [],
        published=min(published, now_utc()),
        date_known=date_known,
        published_raw=str(raw_date or ""),
        content=sanitize_html(html),
    )


def find_posts(root: Path) -> Iterator[Path]:
    """Post files below ``root/_posts`` and ``root/archived``, in a stable order."""
    for folder in ("_posts", "archived"):
        base = root / folder
        if base.is_dir():
            yield from sorted(
                p
                for p in base.rglob("*")
                if p.suffix in (".md", ".markdown", ".html") and p.is_file()
            )


def import_jekyll(archive: Archive, root: Path, batch: int = 500) -> ImportSummary:
    """Import every post below ``root`` into ``archive``."""
    if not root.is_dir():
        raise ImportFormatError(
            f"{root} is not a folder",
            hint="Give the root of a Jekyll site (the folder with _posts/).",
        )
    summary = ImportSummary()
    now = now_utc()
    posts = list(find_posts(root))
    if not posts:
        raise ImportFormatError(
            f"no posts under {root}/_posts or {root}/archived",
            hint="Give the root of a Jekyll site (the folder with _posts/).",
        )
    for start in range(0, len(posts), batch):
        with archive.transaction():
            for path in posts[start : start + batch]:
                summary.files += 1
                try:
                    post = read_post(path)
                except ImportFormatError as exc:
                    summary.skipped.append(exc.message)
                    continue
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
                    jekyll_name=path.name,
                    now=now,
                )
                if change is Change.NEW:
                    summary.new += 1
                elif change is Change.CHANGED:
                    summary.merged += 1
                else:
                    summary.unchanged += 1
    return summary
