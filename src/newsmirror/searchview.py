"""The `newsmirror search` command and how it shows its results: lines for people
(the match highlighted in a terminal, in [brackets] otherwise) and JSON for programs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from newsmirror.clibase import Context, handle_errors, json_text, pass_ctx, shown
from newsmirror.models import SearchHit, SearchResults
from newsmirror.timeutil import in_zone, zone_or_default, zone_words

Marker = Callable[[str], str]


def brackets(text: str) -> str:
    return f"[{text}]"


def reverse(text: str) -> str:
    return click.style(text, bold=True, reverse=True)


def highlight(text: str, marks: Sequence[tuple[int, int]], mark: Marker) -> str:
    """``text`` with each (start, end) span passed through ``mark``."""
    out, at = [], 0
    for start, end in marks:
        out += [text[at:start], mark(text[start:end])]
        at = end
    return "".join(out) + text[at:]


def when(hit: SearchHit) -> str:
    """The publication time in the source's time zone, named as the site names it
    (北京时间, 香港时间, ..., else its offset: UTC-6)."""
    local = in_zone(hit.published, hit.timezone)
    return f"{local:%Y-%m-%d %H:%M} {zone_words(local, zone_or_default(hit.timezone).key)}"


def hit_lines(hit: SearchHit, mark: Marker, *, in_title: bool = True) -> list[str]:
    """Date, source, title and URL on one tab-separated line, the snippet indented
    below; the terms marked in the snippet, and in the title with ``in_title``."""
    title = shown(hit.title)
    if in_title:
        title = highlight(title, hit.title_marks, mark)
    lines = [f"{when(hit)}\t{shown(hit.source)}\t{title}\t{shown(hit.url)}"]
    if hit.snippet:
        lines.append("    " + highlight(shown(hit.snippet), hit.marks, mark))
    return lines


def count_line(results: SearchResults, offset: int) -> str:
    """'N articles', and which of them are shown when not all are."""
    line = f"{results.total} article{'' if results.total == 1 else 's'}"
    count = len(results.hits)
    if count < results.total:
        line += f" (showing {offset + 1}-{offset + count})" if count else " (none on this page)"
    return line


def results_json(query: str, results: SearchResults, page: int, limit: int) -> dict[str, Any]:
    """The results as a JSON-ready dict."""
    return {
        "query": query,
        "total": results.total,
        "page": page,
        "limit": limit,
        "results": [
            {
                "id": h.id,
                "title": h.title,
                "source": h.source,
                "url": h.url,
                "published": in_zone(h.published, h.timezone).isoformat(),
                "snippet": h.snippet,
                "marks": [list(m) for m in h.marks],
                "title_marks": [list(m) for m in h.title_marks],
            }
            for h in results.hits
        ],
    }


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option(
    "-n", "--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Per page."
)
@click.option(
    "-p", "--page", default=1, show_default=True, type=click.IntRange(min=1), help="Which page."
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_ctx
@handle_errors
def search_command(
    ctx: Context, query: tuple[str, ...], limit: int, page: int, as_json: bool
) -> None:
    """Full-text search of the archive: articles whose title or text contain every
    word, in simplified or traditional characters alike (习近平 finds 習近平).

    Title matches first, then newest first: date (in the source's time zone), source,
    title and URL, with a piece of the text around the match below.

    \b
    Examples:
      newsmirror search 拜登 习近平
      newsmirror search 臺灣 --page 2
    """
    offset = (page - 1) * limit
    with ctx.archive(lock=False) as archive:
        pending = archive.pending_index()
        if pending:
            click.echo(f"indexing {pending} new or changed articles…", err=True)
            archive.update_index()
        results = archive.find(" ".join(query), limit=limit, offset=offset, refresh=False)
    if as_json:
        data = results_json(" ".join(query), results, page, limit)
        click.echo(json_text(data, indent=1))
        return
    tty = sys.stdout.isatty()  # else plain fields, [marks] in the snippet only
    mark = reverse if tty else brackets
    for hit in results.hits:
        for line in hit_lines(hit, mark, in_title=tty):
            click.echo(line)
    click.echo(count_line(results, offset), err=True)
