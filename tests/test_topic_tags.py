"""Topic tags (issue 9, new 4): feed categories and in-article tag links become tag pages
and feeds; only tags of at least ``min_tag_articles`` articles get one."""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FeedServer, Reply, make_config, seed_item
from newsmirror.config import parse_config
from newsmirror.errors import ConfigError
from newsmirror.pipeline import update
from newsmirror.publish.site import build_site
from newsmirror.publish.sitebuild import SiteOptions
from newsmirror.store import Archive
from newsmirror.textsearch import fold
from newsmirror.topics import MAX_TAG_CHARS, MAX_TAGS, clean_tags, link_tags, tag_of_href

XI_LINK = '<a href="https://www.epochtimes.com/gb/tag/%E4%B9%A0%E8%BF%91%E5%B9%B3.html">习近平</a>'
LONG = "长" * 300
HOSTILE = ["../../etc", "<script>alert(1)</script>", LONG]
HOSTILE_LINK = '<a href="https://x.example/tags/%00NUL%2F..%2Fout">x</a>'


def _item(n: int, categories: list[str], body: str) -> str:
    cats = "".join(f"<category>{escape(c)}</category>" for c in categories)
    link = f"https://news.example/a/{n}.html"
    return (
        f"<item><title>报道{n}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>Sun, 29 Oct 2023 {10 + n}:00:00 +0800</pubDate>{cats}"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
    )


def _feed(items: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
        "<link>https://news.example/</link>" + "".join(items) + "</channel></rss>"
    ).encode()


def _fetch(server: FeedServer, tmp_path: Path) -> Archive:
    seed = seed_item()  # links to 拜登, 习近平, 王毅
    text = "<p>正文内容，足够长的一段新闻报道。</p>"
    items = [
        _item(1, [], seed["content"]),
        _item(2, ["習近平", "拜登", "習近平"], text),  # the traditional form; a duplicate
        _item(3, ["拜登"], f"<p>中共领导人{XI_LINK}讲话。</p>"),
        _item(4, ["王毅", *HOSTILE], text + HOSTILE_LINK),
        _item(5, HOSTILE, text + HOSTILE_LINK),
        _item(6, HOSTILE, text + HOSTILE_LINK),
    ]
    server.route("/feed", Reply(body=_feed(items)))
    config = make_config(tmp_path, [("大纪元", [server.url + "/feed"])])
    archive = Archive.open(tmp_path / "archive.sqlite")
    update(config, archive)
    return archive


def _tag_folders(out: Path) -> set[str]:
    return {p.name for p in (out / "tags").iterdir() if p.is_dir()}


def test_categories_and_tag_links_give_tag_pages_of_enough_articles(
    server: FeedServer, tmp_path: Path
) -> None:
    archive = _fetch(server, tmp_path)
    out = tmp_path / "site"
    try:
        stored = {a.title: a.tags for a in archive.iter_articles(content=False)}
        assert stored["报道1"] == ("拜登", "习近平", "王毅")  # the seed's links, once each
        assert stored["报道2"] == ("習近平", "拜登")
        build_site(archive, out, SiteOptions(search=False, min_tag_articles=3))
        folders = _tag_folders(out)
        # 习近平 (link) and 習近平 (category) are one tag of 3 articles, in the first form.
        assert {"习近平", "拜登"} <= folders
        assert "習近平" not in folders
        xi = (out / "tags" / "习近平" / "index.html").read_text(encoding="utf-8")
        assert all(f"报道{n}" in xi for n in (1, 2, 3))
        # The tag's feed: its three articles, linking to their pages in the mirror, with
        # no categories (a run touches every tag feed of its articles: they stay small);
        # the site's feed carries each article's source and tags as categories.
        tag_feed = feedparser.parse((out / "tags" / "习近平" / "feed.xml").read_bytes())
        assert not tag_feed.bozo
        assert sorted(e.title for e in tag_feed.entries) == ["报道1", "报道2", "报道3"]
        assert all(e.link.startswith("posts/") and "tags" not in e for e in tag_feed.entries)
        site_feed = feedparser.parse((out / "feed.xml").read_bytes())
        first = next(e for e in site_feed.entries if e.title == "报道1")
        assert [t.term for t in first.tags] == ["大纪元", "拜登", "习近平"]
        # 王毅: two articles, fewer than 3: no page, no link from the article page.
        assert "王毅" not in folders
        first = next(out.glob("posts/*/*/*.html"))
        pages = [p.read_text(encoding="utf-8") for p in out.glob("posts/*/*/*.html")]
        assert not any("tags/%E7%8E%8B%E6%AF%85" in p for p in pages), first
        assert any("tags/%E4%B9%A0%E8%BF%91%E5%B9%B3/index.html" in p for p in pages)
        index = (out / "tags" / "index.html").read_text(encoding="utf-8")
        assert "王毅" not in index and "习近平" in index

        build_site(archive, out, SiteOptions(search=False, min_tag_articles=2))
        assert "王毅" in _tag_folders(out)
    finally:
        archive.close()


def test_hostile_tag_names_stay_inside_the_site_and_escaped(
    server: FeedServer, tmp_path: Path
) -> None:
    archive = _fetch(server, tmp_path)
    out = tmp_path / "site"
    try:
        build_site(archive, out, SiteOptions(search=False, min_tag_articles=3))
    finally:
        archive.close()
    root = out.resolve()
    for folder, _dirs, files in os.walk(tmp_path):
        for name in files:
            path = Path(folder, name).resolve()
            assert path.is_relative_to(root) or path.parent == tmp_path.resolve(), path
    folders = _tag_folders(out)
    assert "-..-etc" in folders  # leading dots go; "/" is not a path separator in a tag's folder
    assert "NUL-..-out" in folders  # %00 dropped, %2F kept inside one segment
    assert "长" * MAX_TAG_CHARS in folders  # cut to the bound
    texts = [p.read_text(encoding="utf-8") for p in out.rglob("*.html")]
    texts += [p.read_text(encoding="utf-8") for p in out.rglob("*.xml")]
    assert not any("<script>alert" in t for t in texts)
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in t for t in texts)
    assert not any("\x00" in t for t in texts)


def test_min_tag_articles_is_configured_and_checked(tmp_path: Path) -> None:
    base = '[archive]\npath = "a.sqlite"\n[[sources]]\nname = "S"\nfeeds = ["http://127.0.0.1/"]\n'
    site = '[publish.site]\npath = "site"\n'
    config = parse_config(base + site + "min_tag_articles = 5\n", tmp_path / "c.toml")
    assert config.publish.site is not None and config.publish.site.min_tag_articles == 5
    default = parse_config(base + site, tmp_path / "c.toml")
    assert default.publish.site is not None and default.publish.site.min_tag_articles == 3
    for bad in ("-1", '"3"', "true"):
        with pytest.raises(ConfigError, match="min_tag_articles"):
            parse_config(base + site + f"min_tag_articles = {bad}\n", tmp_path / "c.toml")


def test_tag_link_shapes() -> None:
    assert tag_of_href("https://www.epochtimes.com/gb/tag/%E6%8B%9C%E7%99%BB.html") == "拜登"
    assert tag_of_href("/tags/%E7%8E%8B%E6%AF%85/") == "王毅"
    assert tag_of_href("https://a.example/topics/economy") == "economy"
    assert tag_of_href("https://a.example/search?q=1&tag=%E5%8F%B0%E6%B9%BE") == "台湾"
    assert tag_of_href("https://a.example/gb/23/10/29/n14105166.htm") is None
    assert tag_of_href("https://a.example/tag/") is None
    assert tag_of_href("https://a.example/tag/x/page/2") is None
    assert tag_of_href("http://[::1") is None  # not a URL: no tag, no error
    assert tag_of_href("https://a.example/list?%74ag=%E5%8F%B0") == "台"  # an encoded key
    assert tag_of_href("https://a.example/TOPICS/Economy") == "Economy"
    body = "<p><a class=x href='/tag/a%20b'>a</a> <A HREF=/tags/c>c</A> <a href=\"/n/1\">n</a></p>"
    assert link_tags(body) == ["a b", "c"]
    assert clean_tags(["习近平", " 習近平 ", "王\n毅"]) == ("习近平", "王 毅")


NAMES = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc")),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(NAMES, st.sampled_from(["/gb/tag/", "/tags/", "/topics/", "/Tag/"]))
def test_a_tag_link_gives_back_its_name(name: str, folder: str) -> None:
    url = f"https://news.example{folder}{quote(name, safe='')}.html"
    assert tag_of_href(url) == name
    assert link_tags(f'<p><a href="{html.escape(url)}">{html.escape(name)}</a></p>') == [name]
    query = f"https://news.example/list?page=2&tag={quote(name, safe='')}"
    assert tag_of_href(query) == name


@settings(max_examples=150, deadline=None)
@given(st.lists(NAMES, max_size=40), st.text(max_size=200))
def test_clean_tags_are_bounded_one_per_fold_and_parsing_never_fails(
    names: list[str], junk: str
) -> None:
    tags = clean_tags(names)
    assert len(tags) <= MAX_TAGS
    assert len({fold(t) for t in tags}) == len(tags)
    for tag in tags:
        assert tag and len(tag) <= MAX_TAG_CHARS and tag == tag.strip()
        assert tag.isprintable() or all(c.isprintable() or c == " " for c in tag)
    link_tags(junk)
    tag_of_href(junk)


# -- tags of bodies taken from the article's own page, and of articles archived before -----

CLOUD = "".join(f'<a href="/tag/{quote(t)}">{t}</a> ' for t in ("热门", "独家", "排行"))


def _tagged_page(n: int) -> bytes:
    """An article page whose text links to tag pages inline; a site-wide tag cloud (in a
    sidebar, outside the article) links to other tags."""
    inline = f'<a href="/gb/tag/{quote("台海")}.html">台海</a>'
    text = (
        f"<p>第{n}篇：这是一篇完整的新闻报道，记者在现场采访了多位目击者，{inline}局势紧张，"
        "他们描述了事件的经过。当局随后发表声明，但拒绝回答记者的提问。</p>"
    ) * 4
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>报道{n}</title></head><body>"
        f"<div class='nav'><a href='/'>首页</a></div><article><h1>报道{n}</h1>{text}</article>"
        f"<aside class='tagcloud'><h3>热门标签</h3>{CLOUD}</aside></body></html>"
    ).encode()


def _teasers(server: FeedServer, tmp_path: Path) -> tuple[Archive, Path]:
    items = []
    for n in (1, 2, 3):
        link = f"{server.url}/a/{n}.html"
        items.append(
            f"<item><title>报道{n}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>Sun, 29 Oct 2023 1{n}:00:00 +0800</pubDate>"
            "<description>摘要……阅读全文</description></item>"
        )
        server.route(f"/a/{n}.html", Reply(body=_tagged_page(n)))
    server.route("/feed", Reply(body=_feed(items)))
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], full_text="auto")
    archive = Archive.open(tmp_path / "archive.sqlite")
    update(config, archive)
    return archive, tmp_path / "site"


def test_full_text_bodies_give_their_in_article_tags_not_the_sites_tag_cloud(
    server: FeedServer, tmp_path: Path
) -> None:
    archive, out = _teasers(server, tmp_path)
    try:
        bodies = [a.content for a in archive.iter_articles()]
        assert len(bodies) == 3 and all("记者在现场" in b for b in bodies)  # the page's text
        build_site(archive, out, SiteOptions(search=False, min_tag_articles=3))
    finally:
        archive.close()
    assert _tag_folders(out) == {"台海"}
    page = (out / "tags" / "台海" / "index.html").read_text(encoding="utf-8")
    assert all(f"报道{n}" in page for n in (1, 2, 3))
    for article in out.glob("posts/*/*/*.html"):
        assert "tags/%E5%8F%B0%E6%B5%B7/index.html" in article.read_text(encoding="utf-8")


def test_articles_archived_before_tags_get_them_from_their_bodies_at_build(
    server: FeedServer, tmp_path: Path
) -> None:
    archive = _fetch(server, tmp_path)
    out = tmp_path / "site"
    try:
        # As an archive from before topic tags: bodies with tag links, no stored tags.
        archive.conn.execute("UPDATE articles SET tags = '[]'")
        archive.conn.commit()
        build_site(archive, out, SiteOptions(search=False, min_tag_articles=2))
    finally:
        archive.close()
    # 报道1 (the seed: 拜登, 习近平, 王毅 links) and 报道3 (a 习近平 link); the categories
    # (报道2's 拜登, 報道4's 王毅) are not in the bodies and are gone with the stored tags.
    assert {"习近平"} <= _tag_folders(out)
    xi = (out / "tags" / "习近平" / "index.html").read_text(encoding="utf-8")
    assert "报道1" in xi and "报道3" in xi and "报道2" not in xi


def test_build_min_tag_articles_flag(server: FeedServer, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from newsmirror.cli import cli

    _fetch(server, tmp_path).close()  # 王毅: 2 articles; 习近平 and 拜登: 3
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        runner = CliRunner()
        done = runner.invoke(cli, ["build", "site", "--no-search", "--min-tag-articles", "2"])
        assert done.exit_code == 0, done.output
        assert {"王毅", "习近平", "拜登"} <= _tag_folders(tmp_path / "site")
        done = runner.invoke(cli, ["build", "site", "--no-search"])  # the default: 3
        assert done.exit_code == 0, done.output
        assert not (tmp_path / "site/tags/王毅/index.html").exists()
        bad = runner.invoke(cli, ["build", "site", "--min-tag-articles", "-1"])
        assert bad.exit_code == 2 and "--min-tag-articles" in bad.output
    finally:
        os.chdir(old)
