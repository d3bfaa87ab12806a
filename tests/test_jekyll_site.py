"""`export jekyll --site` builds with real Jekyll (Debian's jekyll 4) into a working site."""

from __future__ import annotations

import html
import re
from urllib.parse import unquote

import pytest

from conftest import JEKYLL, jekyll_build
from newsmirror.demo.run import run_demo
from newsmirror.publish.jekyll import export_jekyll, write_site_files
from newsmirror.store import Archive


@pytest.mark.skipif(JEKYLL is None, reason="Debian jekyll is not installed (.ci/run installs it)")
def test_exported_tree_builds_with_jekyll(tmp_path):
    run_demo(tmp_path / "demo")
    tree = tmp_path / "tree"
    with Archive.open(tmp_path / "demo" / "archive.sqlite") as archive:
        export_jekyll(archive, tree, media_dir=archive.media_dir)
    assert write_site_files(tree, "测试镜像") == 7
    assert write_site_files(tree, "测试镜像") == 0  # unchanged files are left alone
    jekyll_build(tree, tree / "_site")
    site = tree / "_site"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "测试镜像" in index and "分析：拜登习近平11月会谈的背后原因" in index
    posts = list((site / "posts").glob("*.html"))
    assert len(posts) == 28
    seed = next(p for p in posts if "拜登习近平11月会谈" in p.name)
    assert "访问白宫获" in seed.read_text(encoding="utf-8")  # the full body
    # Times in Beijing time, said so: never the ambiguous "CST".
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d 北京时间", seed.read_text(encoding="utf-8"))
    assert not any(" CST" in post.read_text(encoding="utf-8") for post in posts)
    images = 0
    for post in posts:
        for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', post.read_text(encoding="utf-8")):
            if not src.startswith("http"):
                assert (post.parent / unquote(src)).resolve().is_file(), (post.name, src)
                images += 1
    assert images >= 4


@pytest.mark.skipif(JEKYLL is None, reason="Debian jekyll is not installed (.ci/run installs it)")
def test_jekyll_posts_link_to_their_neighbours(tmp_path):
    from datetime import UTC, datetime, timedelta

    start = datetime(2024, 5, 1, tzinfo=UTC)
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for i in range(4):
            archive.import_article(
                source="源",
                url=f"https://e.org/{i}",
                title=f"第{i}篇",
                author="",
                content=f"<p>正文{i}</p>",
                tags=[],
                published=start + timedelta(days=i),
                date_known=True,
                published_raw="",
                jekyll_name="",
                now=start,
            )
        archive.conn.commit()
        export_jekyll(archive, tmp_path / "tree")
    write_site_files(tmp_path / "tree")
    site = tmp_path / "tree" / "_site"
    jekyll_build(tmp_path / "tree", site)
    pages = {}
    for page in (site / "posts").glob("*.html"):
        title = re.search(r"<h1>(.*?)</h1>", page.read_text(encoding="utf-8")).group(1)
        pages[title] = page
    assert sorted(pages) == [f"第{i}篇" for i in range(4)]
    for i in range(4):
        nav = pages[f"第{i}篇"].read_text(encoding="utf-8").split('<nav class="neighbours">')[1]
        links = re.findall(r'<a class="(\w+)" href="([^"]+)">([^<]*)</a>', nav)
        want = ([("newer", f"← 第{i + 1}篇")] if i < 3 else []) + (
            [("older", f"第{i - 1}篇 →")] if i else []
        )
        assert [(kind, text) for kind, _, text in links] == want, i
        for _, link, text in links:
            target = site / unquote(link).lstrip("/")
            assert text.strip("← →") in target.read_text(encoding="utf-8"), (i, link)


SAME_DAY_TITLES = [
    "新闻 一",
    "新闻-一",
    "新闻【一】",
    "新闻「一」",
    "Hello World",
    "hello world",
    "Hello, World!",
    "Hello World 😀",
    "Hello World 😃",
    "ＡＢ",
    "AB",
    "Wait... what",
    "Wait.. what",
    "a....b",
    "a..b",
    "*b* `c` $$x$$ _u_ <i>",
    "~~s~~ **B** [l](x) {#id}",
    "\"q\" 'a' -- b --- c... AT&amp;T &lt; << >> 1. # + |x|",
    "https://e.org/x <https://e.org/y> \\*",
]


def _build(tree, site):
    done = jekyll_build(tree, site)
    assert "Conflict" not in done.stderr, done.stderr


@pytest.mark.skipif(JEKYLL is None, reason="Debian jekyll is not installed (.ci/run installs it)")
def test_same_day_titles_get_one_page_each(tmp_path):
    """Titles that Jekyll's slugify would merge (spaces, punctuation, brackets, case, emoji,
    runs of dots) still give one page each, flat in posts/, showing its literal title."""
    from datetime import UTC, datetime

    day = datetime(2024, 1, 1, 8, tzinfo=UTC)
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for i, title in enumerate(SAME_DAY_TITLES):
            archive.import_article(
                source="源",
                url=f"https://e.org/{i}",
                title=title,
                author="",
                content=f"<p>正文{i}号</p>",
                tags=[],
                published=day,
                date_known=True,
                published_raw="",
                jekyll_name="",
                now=day,
            )
        archive.conn.commit()
        export_jekyll(archive, tmp_path / "tree")
    write_site_files(tmp_path / "tree")
    site = tmp_path / "tree" / "_site"
    _build(tmp_path / "tree", site)
    pages = [p for p in (site / "posts").rglob("*.html")]
    assert len(pages) == len(SAME_DAY_TITLES)
    assert all(p.parent == site / "posts" for p in pages)  # flat: ../media/ paths stay right
    shown = {}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        title = html.unescape(re.search(r"<h1>(.*?)</h1>", text).group(1))
        body = re.search(r'<div class="content">\n(.*?)\n<div>', text, re.S).group(1)
        heading = re.search(r'\n<p><a href="https://e.org/(\d+)">(.*)</a>\n', body)
        assert heading, body
        assert html.unescape(heading.group(2)) == title  # the heading line, not Markdown
        assert f"正文{heading.group(1)}号" in text
        shown[title] = page
    assert sorted(shown) == sorted(SAME_DAY_TITLES)
    index = (site / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'<li><a href="([^"]+)">([^<]*)</a>', index)
    assert len(links) == len(SAME_DAY_TITLES)
    for link, title in links:  # every index link opens that title's page
        assert site / unquote(html.unescape(link)).lstrip("/") == shown[html.unescape(title)]
