"""Hostile review of new surfaces: what a web page or an old mirror can put into the
archive, the site and its redirect pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CHROMIUM, CHROMIUM_FLAGS, JEKYLL, Reply, article_page, jekyll_build
from newsmirror.cli import cli

CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def test_add_keeps_a_page_title_without_controls(
    tmp_path: Path, server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's <title>/og:title is stored as a feed's title is: one line, no controls
    (they would reach every later output: site, feeds, search)."""
    server.route("/p.html", Reply(body=article_page("Added\x1b[2J \x9b1m\ttitle\r\n\x07")))
    (tmp_path / "newsmirror.toml").write_text('[media]\nmode = "hotlink"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    added = runner.invoke(cli, ["add", f"{server.url}/p.html", "--allow-private"])
    assert added.exit_code == 0, added.stderr
    found = runner.invoke(cli, ["search", "title", "--json"])
    title = json.loads(found.stdout)["results"][0]["title"]
    assert title == "Added[2J 1m title"


# An old mirror's posts whose front matter steers Jekyll; exported verbatim they would
# send readers to another site or take the site's own pages.
STEERING = {
    "2024-01-01-away.md": "redirect_to: https://evil.example/phish\n",
    "2024-01-02-home.md": "permalink: /index.html\n",
    "2024-01-03-moved.md": "redirect_from: [ /index.html, 'https://evil.example/x' ]\n",
    "2024-01-04-layout.md": "layout: redirect\n",
}
PLAIN = "2024-01-05-plain.md"


def old_post(name: str, extra: str) -> str:
    day = name[8:10]
    return (
        f'---\nlayout: post\ntitle: "第{day}篇"\nfrom: https://e.org/{day}\n'
        f"author: 记者\ntags: [ 测试 ]\ncategories: [ 测试 ]\n{extra}---\n"
        f"<!--1704067200000-->\n第{day}篇的正文\n"
    ).replace("layout: post\n", "" if "layout:" in extra else "layout: post\n")


def import_and_export(tmp_path: Path) -> Path:
    posts = tmp_path / "old" / "_posts"
    posts.mkdir(parents=True)
    for name, extra in {**STEERING, PLAIN: ""}.items():
        (posts / name).write_text(old_post(name, extra), encoding="utf-8")
    runner = CliRunner()
    archive = str(tmp_path / "a.sqlite")
    done = runner.invoke(cli, ["--archive", archive, "import", "jekyll", str(posts.parent)])
    assert done.exit_code == 0 and done.stdout.startswith("5 posts read: 5 new"), done.output
    site = tmp_path / "site"
    done = runner.invoke(cli, ["--archive", archive, "export", "jekyll", str(site), "--site"])
    assert done.exit_code == 0, done.output
    return site


def test_front_matter_that_steers_jekyll_is_not_published_verbatim(tmp_path: Path) -> None:
    site = import_and_export(tmp_path)
    exported = {p.name: p.read_text(encoding="utf-8") for p in (site / "_posts").iterdir()}
    assert exported[PLAIN] == old_post(PLAIN, "")  # a plain old post keeps its bytes
    for name in STEERING:
        text = exported[name]  # rendered as newsmirror writes posts: the text is kept
        assert f"第{name[8:10]}篇的正文" in text
        front = text.split("\n---\n", 1)[0]
        for steer in ("redirect_to", "permalink", "evil.example", "/index.html", "redirect\n"):
            assert steer not in front, (name, front)


@pytest.mark.slow
@pytest.mark.jekyll
@pytest.mark.skipif(JEKYLL is None, reason="Debian jekyll is not installed")
def test_the_jekyll_site_of_such_posts_stays_on_the_site(tmp_path: Path) -> None:
    site = import_and_export(tmp_path)
    built = tmp_path / "built"
    jekyll_build(site, built)
    pages = {p: p.read_text(encoding="utf-8") for p in built.rglob("*.html")}
    assert not [p for p, text in pages.items() if "evil.example" in text]
    refreshes = [p for p, text in pages.items() if 'http-equiv="refresh"' in text]
    assert not refreshes  # no renamed post here: no redirect page at all
    assert "第02篇的正文" not in pages[built / "index.html"]  # the home page is the site's


# A doc file's URL is a site path as the index writes it (quote()d); anything else that
# reaches the page (a tampered or foreign index file) must not become a live link.
NOT_SITE_PATHS = (
    "java\tscript:alert(1)",  # the URL parser drops the tab: javascript:
    " javascript:alert(2)",  # and leading spaces
    "/\\evil.example/x",  # "/\" is "//": another host
    "\\\\evil.example/x",
    "https://evil.example/x",
    "data:text/html,<script>alert(3)</script>",
)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
def test_search_results_link_only_to_site_paths(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from playwright.sync_api import sync_playwright

    from newsmirror.demo.server import serve_folder
    from newsmirror.publish import searchfiles as sf
    from newsmirror.publish.site import SiteOptions, build_site
    from newsmirror.store import Archive

    public = tmp_path / "public"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for day in range(1, len(NOT_SITE_PATHS) + 2):
            when = datetime(2024, 5, day, tzinfo=UTC)
            archive.import_article(
                source="测试", url=f"https://e.org/{day}", title=f"zebra {day}", author="",
                content="<p>zebra</p>", tags=[], published=when, date_known=True,
                published_raw="", jekyll_name=f"2024-05-{day:02d}-z.md", now=when,
            )  # fmt: skip
        archive.conn.commit()
        build_site(archive, public, SiteOptions(title="t"))
    hostile = iter(NOT_SITE_PATHS)
    for path in (public / "search" / "d").rglob("*.js"):
        name, docs = sf.read_js(path.read_bytes())
        docs = [doc if doc is None or doc[1] == "zebra 1" else [next(hostile), *doc[1:]]
                for doc in docs]  # fmt: skip
        path.write_bytes(sf.js_file(name, docs))
    with serve_folder(public) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(f"{base}/search.html?q=zebra")
        page.wait_for_selector('#search-results[aria-busy="false"] li')
        hrefs = page.eval_on_selector_all("#search-results a", "els => els.map(a => a.href)")
        browser.close()
    assert len(hrefs) == len(NOT_SITE_PATHS) + 1
    site_links = [h for h in hrefs if h.startswith(f"{base}/posts/")]
    assert len(site_links) == 1  # the one doc the index wrote
    assert all(h == f"{base}/search.html?q=zebra#" for h in hrefs if h not in site_links)
