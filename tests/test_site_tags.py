"""Tag pages as a reader uses them (issue 9, new 4): reached from an article's tag link,
they list exactly that tag's articles, fit a 390 px phone and read in dark mode."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import CHROMIUM, CHROMIUM_FLAGS, FeedServer
from newsmirror.demo.server import serve_folder
from newsmirror.publish.site import build_site
from newsmirror.publish.sitebuild import SiteOptions
from test_topic_tags import LONG, _fetch

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1}
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
COLOURS = """() => { const rgb = t => t.match(/[\\d.]+/g).map(Number);
  const b = getComputedStyle(document.body), m = getComputedStyle(document.querySelector("main a"));
  return {bg: rgb(b.backgroundColor), fg: rgb(b.color), link: rgb(m.color)}; }"""


def _luminance(rgb: list[float]) -> float:
    c = [v / 255 for v in rgb[:3]]
    c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def _contrast(a: list[float], b: list[float]) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def served(server: FeedServer, tmp_path: Path) -> Iterator[str]:
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed")
    archive = _fetch(server, tmp_path)  # 习近平: 报道1, 2, 3; a 40-character tag: 4, 5, 6
    try:
        build_site(archive, tmp_path / "site", SiteOptions(search=False, min_tag_articles=3))
    finally:
        archive.close()
    with serve_folder(tmp_path / "site") as base:
        yield base


@pytest.mark.slow
@pytest.mark.browser
def test_tag_page_from_an_article_on_a_dark_phone(served: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    site = tmp_path / "site"
    [article] = [
        p for p in site.glob("posts/*/*/*.html") if "<h1>报道3</h1>" in p.read_text("utf-8")
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(color_scheme="dark", **PHONE)
        context.route(
            "**/*",
            lambda r: (
                r.continue_() if urlsplit(r.request.url).hostname == "127.0.0.1" else r.abort()
            ),
        )
        page = context.new_page()
        try:
            page.goto(f"{served}/{article.relative_to(site).as_posix()}")
            page.click("main .tags a:text-is('#习近平')")
            page.wait_for_url("**/tags/*/index.html")
            assert page.locator("h1").inner_text() == "标签：习近平"
            titles = page.eval_on_selector_all(
                ".entries li > a", "els => els.map(e => e.textContent)"
            )
            assert sorted(titles) == ["报道1", "报道2", "报道3"]  # exactly the tagged articles
            assert page.evaluate(SIDEWAYS) == 0
            colours = page.evaluate(COLOURS)
            assert _luminance(colours["bg"]) < 0.05, colours  # dark page
            assert _contrast(colours["fg"], colours["bg"]) >= 7, colours
            assert _contrast(colours["link"], colours["bg"]) >= 4.5, colours
            # The longest tag a page can have (40 characters, no spaces) fits the phone too,
            # and the tags index links to both.
            page.goto(f"{served}/tags/index.html")
            assert page.evaluate(SIDEWAYS) == 0
            page.click(f"main a:text-is('{LONG[:40]}')")
            page.wait_for_url("**/tags/*/index.html")
            titles = page.eval_on_selector_all(
                ".entries li > a", "els => els.map(e => e.textContent)"
            )
            assert sorted(titles) == ["报道4", "报道5", "报道6"]
            assert page.evaluate(SIDEWAYS) == 0
        finally:
            context.close()
            browser.close()


# -- a tag that loses its page takes its folder with it -------------------------------


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def test_a_tag_that_loses_its_page_leaves_no_empty_folder(
    server: FeedServer, tmp_path: Path
) -> None:
    """Only folders the build emptied go: not one holding a reader's file, not a folder
    that was empty before, not a symlinked folder (nor anything it points at), never the
    output folder."""
    archive = _fetch(server, tmp_path)  # 王毅: 2 articles; 习近平, 拜登, 长…: 3
    out = tmp_path / "site"
    outside = tmp_path / "outside"
    try:
        build_site(archive, out, SiteOptions(search=False, min_tag_articles=2))
        tags = out / "tags"
        assert {"王毅", "拜登", "习近平"} <= {p.name for p in tags.iterdir()}
        (tags / "拜登" / "notes.txt").write_text("a reader's file", encoding="utf-8")
        (out / "mine" / "empty").mkdir(parents=True)  # empty before the build: not its own
        # 习近平's folder becomes a link to a live folder of the site, the long tag's to a
        # folder outside it: the build removes neither link nor what they point at.
        [source] = [p for p in (out / "sources").iterdir() if p.is_dir()]
        shutil.rmtree(tags / "习近平")
        (tags / "习近平").symlink_to(Path("..") / "sources" / source.name)
        long_tag = tags / LONG[:40]
        shutil.copytree(long_tag, outside)
        shutil.rmtree(long_tag)
        long_tag.symlink_to(outside)
        kept_outside = _files(outside)
        summary = build_site(archive, out, SiteOptions(search=False, min_tag_articles=4))
    finally:
        archive.close()
    assert summary.removed >= 4, summary.line()
    assert not (tags / "王毅").exists()  # files and folder gone
    assert [p.name for p in (tags / "拜登").iterdir()] == ["notes.txt"]
    assert (out / "mine" / "empty").is_dir()
    assert (tags / "习近平").is_symlink() and long_tag.is_symlink()
    assert {"index.html", "feed.xml"} <= set(_files(source))  # the source's page is live
    assert _files(outside) == kept_outside
    assert sorted(p.name for p in tags.iterdir()) == sorted(
        ["index.html", "拜登", "习近平", LONG[:40]]
    )
