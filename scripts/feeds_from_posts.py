"""Build RSS/Atom feeds from real Jekyll posts (for the demo, tests and benchmarks).

    python scripts/feeds_from_posts.py            # rewrites src/newsmirror/demo/site/

A post's front matter and <div> body become an item's title, link, date and
content. The seed post becomes the 大纪元 feed's item, so that the demo's export
reproduces it byte for byte.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from newsmirror.demo.assets import png  # noqa: E402
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
    newest = max(p.published for p in posts).astimezone(UTC)
    now = newest.strftime("%Y-%m-%dT%H:%M:%SZ")  # deterministic: the newest entry
    text = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>{escape(link)}</id><updated>{now}</updated>"
        f'<link href="{escape(link)}"/>' + "".join(entries) + "</feed>\n"
    )
    return text.encode("utf-8")


DEMO_HOST = "http://demo.newsmirror.invalid"
_IMG = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')
COLOURS = [(200, 40, 40), (40, 120, 200), (40, 160, 80), (220, 170, 30)]


def local_images(post):  # type: ignore[no-untyped-def]
    """The post with its (blocked, offline) images pointed at the demo's own images."""
    count = iter(range(10**6))
    content = _IMG.sub(
        lambda m: f"{m[1]}{DEMO_HOST}/img/{next(count) % len(COLOURS)}.png{m[3]}", post.content
    )
    return post.__class__(**{**post.__dict__, "content": content})


def posts_of(folder: str, count: int, max_chars: int = 12000) -> list:
    files = sorted((SHARED / "corpus/nodebe4-posts" / folder / "_posts").glob("*.md"))
    posts = [read_post(f) for f in files]
    return [local_images(p) for p in posts if 200 < len(p.content) < max_chars][-count:]


PAGE = """<!DOCTYPE html>
<html lang="zh"><head><meta charset="{charset}"><title>{title} - 自由新闻</title>
<meta property="og:title" content="{title}"><meta name="author" content="{author}">
<meta property="article:published_time" content="{date}">
<style>body{{font-family:sans-serif}}</style><script>var tracker = 1;</script></head>
<body><div class="nav"><a href="/">首页</a> <a href="/china">中国</a> <a href="/world">国际</a>
<a href="/hk">港澳</a> <a href="/tw">台湾</a> <a href="/opinion">评论</a></div>
<div class="share">分享到：<a href="#">微博</a> <a href="#">微信</a></div>
<article><h1>{title}</h1><p class="byline">{author} {date}</p>
<figure><img data-src="{host}/img/{img}.png" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<figcaption>{caption}</figcaption></figure>
{body}</article>
<div class="related"><h3>相关新闻</h3><ul><li><a href="/a/1">其他新闻一</a></li>
<li><a href="/a/2">其他新闻二</a></li><li><a href="/a/3">其他新闻三</a></li></ul></div>
<div class="footer">版权所有 © 自由新闻 | <a href="/about">关于我们</a>
| <a href="/contact">联系</a></div>
</body></html>
"""


def summary_site(out: Path) -> None:
    """A site whose feed carries only teasers; its pages hold the full articles."""
    posts = posts_of("teahouse", 12)[:3]
    items = []
    for n, post in enumerate(posts):
        charset = "gbk" if n == 1 else "utf-8"
        body = "".join(f"<p>{p}</p>" for p in _paragraphs(post.content))
        page = PAGE.format(
            charset=charset,
            title=escape(post.title),
            author=escape(post.author),
            date=post.published.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            host=DEMO_HOST,
            img=n,
            caption=f"图{n + 1}：示意图",
            body=body,
        )
        (out / "articles" / f"{n + 1}.html").write_bytes(
            page.encode(charset, errors="xmlcharrefreplace")
        )
        teaser = "".join(_paragraphs(post.content))[:60] + "……阅读全文"
        items.append(
            post.__class__(
                **{
                    **post.__dict__,
                    "url": f"{DEMO_HOST}/articles/{n + 1}.html",
                    "content": f"<p>{escape(teaser)}</p>",
                }
            )
        )
    (out / "feeds" / "summaries.xml").write_bytes(rss("自由新闻", DEMO_HOST + "/", items))


def _paragraphs(content: str) -> list[str]:
    import lxml.html

    root = lxml.html.fromstring(f"<div>{content}</div>")
    return [escape(t.strip()) for t in (p.text_content() for p in root.iter("p")) if t.strip()]


def main() -> None:
    out = ROOT / "src/newsmirror/demo/site"
    for sub in ("feeds", "articles", "img"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for n, colour in enumerate(COLOURS):
        (out / "img" / f"{n}.png").write_bytes(png(32, 20, colour))
    seed = read_post(SHARED / "seed/000_5a86c4bf7c6d1edf.txt")
    feeds = out / "feeds"
    (feeds / "epochtimes.xml").write_bytes(rss("大纪元", "https://www.epochtimes.com/gb/", [seed]))
    (feeds / "oped.xml").write_bytes(
        rss("评论", "https://www.allnow.com/", posts_of("oped2", 8), encoding="gb18030")
    )
    (feeds / "teahouse.xml").write_bytes(
        atom("Matters", "https://matters.news/", posts_of("teahouse", 8))
    )
    (feeds / "society.xml").write_bytes(
        rss("方斌", "https://www.youtube.com/", posts_of("society", 8))
    )
    summary_site(out)
    for f in sorted(out.rglob("*.*")):
        print(f.relative_to(out), f.stat().st_size)


if __name__ == "__main__":
    main()
