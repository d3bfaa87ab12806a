"""Build RSS/Atom feeds from real Jekyll posts (for the demo, tests and benchmarks).

    python scripts/feeds_from_posts.py            # rewrites src/newsmirror/demo/feeds/

A post's front matter and <div> body become an item's title, link, date and
content. The seed post becomes the 大纪元 feed's item, so that the demo's export
reproduces it byte for byte.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from newsmirror.jekyll_import import read_post  # noqa: E402

SHARED = ROOT.parent / "shared"


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def rss(title: str, link: str, posts: list, encoding: str = "utf-8") -> bytes:
    items = []
    for p in posts:
        items.append(
            "<item>"
            f"<title>{escape(p.title)}</title>"
            f"<link>{escape(p.url)}</link>"
            f'<guid isPermaLink="true">{escape(p.url)}</guid>'
            f"<pubDate>{format_datetime(p.published.astimezone(UTC), usegmt=True)}</pubDate>"
            + (f"<dc:creator>{escape(p.author)}</dc:creator>" if p.author != title else "")
            + f"<content:encoded>{cdata(p.content)}</content:encoded>"
            "</item>"
        )
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>{escape(title)}</description>" + "".join(items) + "</channel></rss>\n"
    )
    return text.encode(encoding)


def atom(title: str, link: str, posts: list) -> bytes:
    entries = []
    for p in posts:
        stamp = p.published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entries.append(
            "<entry>"
            f"<title>{escape(p.title)}</title>"
            f'<link rel="alternate" href="{escape(p.url)}"/>'
            f"<id>{escape(p.url)}</id><published>{stamp}</published><updated>{stamp}</updated>"
            f"<author><name>{escape(p.author)}</name></author>"
            f'<content type="html">{escape(p.content)}</content>'
            "</entry>"
        )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>{escape(link)}</id><updated>{now}</updated>"
        f'<link href="{escape(link)}"/>' + "".join(entries) + "</feed>\n"
    )
    return text.encode("utf-8")


def posts_of(folder: str, count: int, max_chars: int = 12000) -> list:
    files = sorted((SHARED / "corpus/nodebe4-posts" / folder / "_posts").glob("*.md"))
    posts = [read_post(f) for f in files]
    return [p for p in posts if 200 < len(p.content) < max_chars][-count:]


def main() -> None:
    out = ROOT / "src/newsmirror/demo/feeds"
    out.mkdir(parents=True, exist_ok=True)
    seed = read_post(SHARED / "seed/000_5a86c4bf7c6d1edf.txt")
    (out / "epochtimes.xml").write_bytes(rss("大纪元", "https://www.epochtimes.com/gb/", [seed]))
    (out / "oped.xml").write_bytes(
        rss("评论", "https://www.allnow.com/", posts_of("oped2", 8), encoding="gb18030")
    )
    (out / "teahouse.xml").write_bytes(
        atom("Matters", "https://matters.news/", posts_of("teahouse", 8))
    )
    (out / "society.xml").write_bytes(
        rss("方斌", "https://www.youtube.com/", posts_of("society", 8))
    )
    for f in sorted(out.glob("*.xml")):
        print(f.name, f.stat().st_size)


if __name__ == "__main__":
    main()
