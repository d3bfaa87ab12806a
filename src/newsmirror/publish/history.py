"""What changed at the origin, as pages of the site: edits and articles taken down.

- **Edits**: an article's earlier versions (the archive's revisions) each get a page,
  ``revisions/<yyyy>/<mm>/<id>/r<version>.html``, with a diff against the version after it
  (removed text in ``<del>``, added text in ``<ins>``). The diff goes by paragraph, then,
  within changed paragraphs, by token: each Han (or kana) character is a token, a Latin
  word is one, a run of spaces is one, any other character is one. The article's page
  says "已修改 N 次" and links to them; ``edits/`` lists every edit newest first, with a
  feed. A feed's teaser (or text) replaced by the page's full text is newsmirror
  reaching the full text, not an edit: it gets no page.
- **Taken down**: ``removed/`` lists the articles whose page answered 404 or 410, newest
  first with the day that was noticed, with a feed.

A revision page changes only when its article changes; the listings and feeds only when
an edit or a taken-down article comes or goes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

from newsmirror.publish import feeds, pages, status
from newsmirror.publish.pages import Entry, href, root_of
from newsmirror.store.history import COPY, PAGE_ORIGINS, RevisionHead
from newsmirror.timeutil import DEFAULT_ZONE, from_iso, in_zone

if TYPE_CHECKING:
    from newsmirror.models import ArticleRecord
    from newsmirror.publish.sitebuild import SiteBuild
    from newsmirror.store import Archive

EDITS = "edits/"
REMOVED = "removed/"
TEMPLATE_VERSION = "2"
MAX_WORK = 4_000_000  # tokens x tokens of one changed block; above it, deleted and inserted whole
FEED_CONTEXT = 40  # characters of unchanged text kept around each change in the edits feed

Op = tuple[str, str]  # ("equal" | "delete" | "insert", text)

_LETTERS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_TOKEN = re.compile(rf"(?:(?![{_LETTERS}])\w)+|\s+|.", re.S)
_BLOCK = re.compile(
    r"<(?:br|hr|/?(?:p|div|h[1-6]|li|ul|ol|dl|dt|dd|blockquote|figure|figcaption|table|tr"
    r"|pre|section|article|header|footer|aside))\b[^>]*>",
    re.I,
)
_TAG = re.compile(r"<[^>]*>")


# -- the diff (plain functions) ----------------------------------------------------


def tokens(text: str) -> list[str]:
    """``text`` cut into diff tokens; they join back into ``text``."""
    return _TOKEN.findall(text)


def text_of(markup: str) -> str:
    """The readable text of article HTML: one paragraph per block, blank lines between."""
    text = html.unescape(_TAG.sub("", _BLOCK.sub("\n", markup)))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n\n".join(line for line in lines if line)


def _opcodes(a: Sequence[str], b: Sequence[str]) -> Iterator[tuple[str, str, str]]:
    """(tag, old text, new text) of each block of a diff of ``a`` and ``b``."""
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        yield tag, "".join(a[i1:i2]), "".join(b[j1:j2])


def _by_token(old: str, new: str) -> list[Op]:
    """A changed block by token; a lone unchanged character between two changes goes
    with them (a diff that keeps every 的 reads worse than one that replaces a phrase)."""
    a, b = tokens(old), tokens(new)
    if len(a) * len(b) > MAX_WORK:
        return [("delete", old), ("insert", new)]
    chunks = [[x, y, tag == "equal"] for tag, x, y in _opcodes(a, b)]
    for i in range(1, len(chunks) - 1):
        lone = chunks[i][2] and len(str(chunks[i][0])) <= 1
        if lone and not chunks[i - 1][2] and not chunks[i + 1][2]:
            chunks[i][2] = False
    out: list[Op] = []
    pending = ["", ""]
    for x, y, same in chunks:
        if same:
            out += [("delete", pending[0]), ("insert", pending[1]), ("equal", str(x))]
            pending = ["", ""]
        else:
            pending = [pending[0] + str(x), pending[1] + str(y)]
    return [*out, ("delete", pending[0]), ("insert", pending[1])]


def diff(old: str, new: str) -> list[Op]:
    """The changes from ``old`` to ``new``: by line, then within changed lines by token.
    The "equal" and "delete" texts join into ``old``, the "equal" and "insert" into ``new``."""
    ops: list[Op] = []
    lines_a, lines_b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    for tag, x, y in _opcodes(lines_a, lines_b):
        if tag == "replace":
            ops += _by_token(x, y)
        else:
            ops += [("equal", x)] if tag == "equal" else [("delete", x), ("insert", y)]
    return _merged(ops)


def _merged(ops: list[Op]) -> list[Op]:
    """Empty pieces dropped, neighbours of one kind joined; deletions before insertions."""
    out: list[Op] = []
    for op, text in ops:
        if not text:
            continue
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + text)
        elif op == "delete" and out and out[-1][0] == "insert":
            insert = out.pop()
            if out and out[-1][0] == "delete":
                out[-1] = ("delete", out[-1][1] + text)
            else:
                out.append((op, text))
            out.append(insert)
        else:
            out.append((op, text))
    return out


def compact(ops: list[Op], context: int = FEED_CONTEXT) -> list[Op]:
    """The changes with at most ``context`` characters of unchanged text around each."""
    out: list[Op] = []
    for i, (op, text) in enumerate(ops):
        if op == "equal" and len(text) > 2 * context:
            head = text[:context] if i else ""
            tail = text[-context:] if i + 1 < len(ops) else ""
            text = f"{head}…{tail}" if head or tail else ""
        out.append((op, text))
    return [(op, text) for op, text in out if text]


def ops_html(ops: list[Op]) -> str:
    """A diff as HTML (escaped): removed text in <del>, added text in <ins>."""
    tags = {"delete": "del", "insert": "ins"}
    parts = []
    for op, text in ops:
        escaped = html.escape(text, quote=False)
        tag = tags.get(op)
        parts.append(f"<{tag}>{escaped}</{tag}>" if tag else escaped)
    return "".join(parts)


# -- which revisions are edits (plain functions) ----------------------------------------


@dataclass(frozen=True)
class Edit:
    """A revision shown as an edit: its page diffs it against the version after it."""

    head: RevisionHead
    number: int  # 1: the article's first edit
    path: str


def revision_path(article_path: str, version: int) -> str:
    """``posts/2023/10/abc.html`` -> ``revisions/2023/10/abc/r<version>.html``."""
    stem = article_path.removeprefix("posts/").removesuffix(".html")
    return f"revisions/{stem}/r{version}.html"


def is_fill(head: RevisionHead, next_origin: str | None) -> bool:
    """Whether the version after ``head`` is the page's full text replacing its feed's."""
    return head.origin == "feed" and next_origin in PAGE_ORIGINS


def find_edits(
    heads: Sequence[RevisionHead], origins: dict[int, str], paths: dict[int, str]
) -> dict[int, list[Edit]]:
    """Each article's edits, oldest first (``heads`` by article and version; ``origins``:
    each article's current body origin; ``paths``: its page). Neither a feed's text
    filled in from the page nor two copies of one article merged (COPY) is an edit."""
    by_article: dict[int, list[RevisionHead]] = {}
    for head in heads:
        if head.article_id in paths:
            by_article.setdefault(head.article_id, []).append(head)
    out: dict[int, list[Edit]] = {}
    for article_id, chain in by_article.items():
        edits: list[Edit] = []
        for i, head in enumerate(chain):
            after = chain[i + 1].origin if i + 1 < len(chain) else origins.get(article_id)
            if head.origin != COPY and not is_fill(head, after):
                path = revision_path(paths[article_id], head.version)
                edits.append(Edit(head, len(edits) + 1, path))
        if edits:
            out[article_id] = edits
    return out


@dataclass
class History:
    """The edits of one build's articles, and the links article pages show (each edit's
    day in its source's time zone: ``zones``, article id -> zone name)."""

    edits: dict[int, list[Edit]]
    zones: dict[int, str] = field(default_factory=dict)

    @property
    def links(self) -> dict[int, list[dict[str, str]]]:
        return {
            article_id: [
                {
                    "href": href(e.path),
                    "label": f"第 {e.number} 次",
                    "day": pages.zone_day(e.head.recorded, self.zone(article_id)),
                }
                for e in edits
            ]
            for article_id, edits in self.edits.items()
        }

    def zone(self, article_id: int) -> str:
        return self.zones.get(article_id, DEFAULT_ZONE)


def collect(archive: Archive, entries: Sequence[Entry], zones: dict[int, str]) -> History:
    """The edits of ``entries``' articles; ``zones``: each article's source time zone."""
    paths = {e.id: e.path for e in entries}
    edits = find_edits(archive.revision_heads(), archive.content_origins(), paths)
    return History(edits, zones)


def local_moment(iso: str, zone: str) -> status.Moment:
    """A stored UTC time as pages show it: UTC for machines, the source's zone for readers."""
    when = from_iso(iso)
    return status.Moment(f"{when:%Y-%m-%dT%H:%M:%SZ}", pages.zone_time(when, zone))


# -- the pages -------------------------------------------------------------------


def write_history(
    site: SiteBuild, found: History, heads: Sequence[ArticleRecord], entries: Sequence[Entry]
) -> None:
    """Revision pages, the edits listing and feed, the taken-down listing and feed."""
    by_id = {e.id: e for e in entries}
    versions = {h.id: h.version for h in heads}
    zones = {h.id: h.timezone for h in heads}
    for article_id, edits in found.edits.items():
        for edit in edits:
            entry, zone = by_id[article_id], zones[article_id]
            _revision_page(site, edit, edits, entry, versions[article_id], zone)
    edits = sorted(
        (edit for article_edits in found.edits.values() for edit in article_edits),
        key=lambda edit: (edit.head.recorded, edit.head.id),
        reverse=True,
    )
    edit_entries = [
        _edit_entry(edit, by_id[edit.head.article_id], zones[edit.head.article_id])
        for edit in edits
    ]
    notes = {edit.head.id: f"第 {edit.number} 次修改" for edit in edits}
    _listing(site, EDITS, "修改记录", _EDITS_INTRO, edit_entries, notes)
    _edits_feed(site, edit_entries, {edit.head.id: edit for edit in edits})
    removed = sorted(
        ((h.removed_at, by_id[h.id]) for h in heads if h.removed_at and h.id in by_id),
        key=lambda pair: (pair[0], pair[1].id),
        reverse=True,
    )
    gone = [replace(entry, iso=when) for when, entry in removed]
    noticed = {e.id: _noticed(e.iso, zones[e.id]) for e in gone}
    gone_notes = {e.id: noticed[e.id] + " · 发表于 " + by_id[e.id].local for e in gone}
    _listing(site, REMOVED, "原文已删除", _REMOVED_INTRO, gone, gone_notes)
    _removed_feed(site, gone, noticed)


_EDITS_INTRO = (
    "本站保存的文章在原网站上被修改过：每一条都能看到修改前后的文字，删去的和新增的都标了出来。"
)
_REMOVED_INTRO = "这些文章的原网页已经打不开了（原网站回答“不存在”或“已删除”），本站仍保存着它们。"


def _noticed(iso: str, zone: str) -> str:
    """When a removal was noticed: its day in the source's time zone."""
    return f"发现删除：{pages.zone_day(iso, zone)}" if iso else ""


def _edit_entry(edit: Edit, entry: Entry, zone: str) -> Entry:
    recorded = edit.head.recorded
    return Entry(
        id=edit.head.id,
        path=edit.path,
        title=entry.title,
        source=entry.source,
        url=f"{entry.url}#newsmirror-revision-{edit.head.version}",
        iso=recorded,
        local=local_moment(recorded, zone).text,
        month=f"{in_zone(from_iso(recorded), zone):%Y年%m月}",
        tags=(),
    )


def _revision_page(
    site: SiteBuild, edit: Edit, edits: list[Edit], entry: Entry, version: int, zone: str
) -> None:
    path = edit.path
    i = edit.number - 1
    earlier = edits[i - 1] if i else None
    later = edits[i + 1] if i + 1 < len(edits) else None
    stamp = repr(
        (
            TEMPLATE_VERSION,
            site.options.title,
            site.options.base_url,
            version,
            edit,
            entry,
            earlier,
            later,
            zone,
        )
    )
    if site.unchanged(path, stamp):
        return
    old, new = site.archive.version_pair(entry.id, edit.head.version)
    body = diff(text_of(old.content), text_of(new.content))
    site.render(
        path,
        "revision.html",
        stamp,
        r={
            "number": edit.number,
            "title": entry.title,
            "source": entry.source,
            "source_href": href(pages.page_path(site.folders.source(entry.source))),
            "article_href": entry.href,
            "url": entry.url,
            "when": local_moment(edit.head.recorded, zone),
            "title_ops": diff(old.title, new.title) if old.title != new.title else None,
            "author": (old.author, new.author) if old.author != new.author else None,
            "body_ops": body if any(op != "equal" for op, _t in body) else None,
            "earlier": {"href": href(earlier.path), "number": earlier.number} if earlier else None,
            "later": {"href": href(later.path), "number": later.number} if later else None,
        },
    )


def _listing(
    site: SiteBuild,
    folder: str,
    heading: str,
    intro: str,
    entries: list[Entry],
    notes: dict[int, str],
) -> None:
    for path, chunk, pager in pages.paginate(folder, entries, site.options.per_page):
        if not path.endswith("index.html"):  # an older page: not in the sitemap
            site.hidden.add(path)
        shown = [(e, notes.get(e.id, "")) for e in chunk]
        stamp = repr(
            (TEMPLATE_VERSION, site.options.title, site.options.base_url, heading, pager, shown)
        )
        if site.unchanged(path, stamp):
            continue
        site.render(
            path,
            "history.html",
            stamp,
            heading=heading,
            intro=intro,
            items=[{"entry": e, "note": note} for e, note in shown],
            pager=pager if pager.newer or pager.older else None,
            feed=href(f"{folder}feed.xml"),
        )
    site.stub(folder, heading, entries)


def _feed(
    site: SiteBuild, folder: str, title: str, latest: list[Entry], contents: dict[int, str]
) -> str:
    updated = from_iso(latest[0].iso) if latest else datetime(2000, 1, 1, tzinfo=UTC)
    site_href = site.options.base_url or root_of(f"{folder}feed.xml")
    return feeds.atom(title, "feed.xml", site_href, latest, contents, updated, via=False)


def _edits_feed(site: SiteBuild, entries: list[Entry], edits: dict[int, Edit]) -> None:
    latest = entries[: site.options.feed_items]
    path = f"{EDITS}feed.xml"
    stamp = repr((TEMPLATE_VERSION, site.options.title, site.options.base_url, latest))
    if site.unchanged(path, stamp):
        return
    contents = {}
    for e in latest:
        edit = edits[e.id]
        old, new = site.archive.version_pair(edit.head.article_id, edit.head.version)
        parts = [ops_html(compact(diff(old.title, new.title)))] if old.title != new.title else []
        parts.append(ops_html(compact(diff(text_of(old.content), text_of(new.content)))))
        contents[e.id] = "".join(f"<p>{part}</p>" for part in parts if part)
    text = _feed(site, EDITS, f"{site.options.title} · 修改记录", latest, contents)
    site.emit(path, text, stamp)


def _removed_feed(site: SiteBuild, entries: list[Entry], noticed: dict[int, str]) -> None:
    latest = entries[: site.options.feed_items]
    path = f"{REMOVED}feed.xml"
    shown = [noticed[e.id] for e in latest]
    stamp = repr((TEMPLATE_VERSION, site.options.title, site.options.base_url, latest, shown))
    if site.unchanged(path, stamp):
        return
    bodies = site.archive.contents(e.id for e in latest)
    contents = {
        e.id: f"<p>{html.escape(noticed[e.id])}</p>" + feeds.summary(bodies.get(e.id, ""))
        for e in latest
    }
    tagged = [replace(e, url=f"{e.url}#newsmirror-removed") for e in latest]
    text = _feed(site, REMOVED, f"{site.options.title} · 原文已删除", tagged, contents)
    site.emit(path, text, stamp)
