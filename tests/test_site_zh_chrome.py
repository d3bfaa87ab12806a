"""The site's own words (menus, labels, placeholders, headings) follow the page's script:
a page in traditional script (``<html lang="zh-Hant">``) is built with them in Taiwan's
traditional words (首頁, 搜尋), and the 简/繁 switch turns them to simplified and back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import CHROMIUM, CHROMIUM_FLAGS
from newsmirror.demo.run import run_demo
from newsmirror.demo.server import serve_folder
from newsmirror.publish import zhconvert

TRAD_TITLE = "來談談工程師的知識焦慮"  # a Matters article in traditional script
SEED_TITLE = "分析：拜登习近平11月会谈的背后原因"
# The site's words on every page, in simplified script and as a zh-Hant page shows them.
CHROME = {
    "归档": "歸檔",
    "来源": "來源",
    "标签": "標籤",
    "搜索": "搜尋",
    "修改记录": "修改記錄",
    "原文已删除": "原文已刪除",
    "镜像状态": "鏡像狀態",
    "跳到正文": "跳到正文",
}


def _page(public: Path, title: str) -> str:
    for page in sorted((public / "posts").rglob("*.html")):
        if f"<h1>{title}</h1>" in page.read_text(encoding="utf-8"):
            return page.relative_to(public).as_posix()
    raise AssertionError(title)


def _chrome_text(html: str) -> str:
    """The page without its article: header, footer, labels."""
    return re.sub(r'<div class="content">.*?</div>\n</article>', "", html, flags=re.S)


@pytest.fixture(scope="module")
def public(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zhchrome")
    run_demo(folder)
    return folder / "public"


def test_a_traditional_page_is_built_with_traditional_site_words(public):
    trad = (public / _page(public, TRAD_TITLE)).read_text(encoding="utf-8")
    simp = (public / _page(public, SEED_TITLE)).read_text(encoding="utf-8")
    assert '<html lang="zh-Hant">' in trad
    for simplified, traditional in CHROME.items():
        assert f">{traditional}</a>" in trad or f">{traditional}<" in trad, traditional
        assert f">{simplified}</a>" in simp or f">{simplified}<" in simp, simplified
    assert 'placeholder="搜尋全文"' in trad and 'aria-label="欄目"' in trad
    assert "台北時間" in trad or "北京時間" in trad  # the time's zone name too
    own = trad.replace("新闻镜像 演示", "")  # the site's name is a name: as configured
    for word in ("归档", "来源", "标签", "搜索", "记录", "删除", "镜像", "时间", "订阅"):
        assert word not in _chrome_text(own).split("<main", 1)[0], word  # header
        assert word not in own.split("<footer", 1)[1], word  # footer
    # The switch offers simplified script, named in it; the article's text is as written.
    assert 'lang="zh-Hans" hidden>简体</button>' in trad
    listing = (public / "sources" / "Matters" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh-Hant">' in listing and "<h1>來源：Matters</h1>" in listing


def test_site_words_round_trip_through_the_switch():
    """What the switch gives back (tw2s) for each word a zh-Hant page shows is the word a
    simplified page shows."""
    import opencc

    back = opencc.OpenCC("tw2s").convert
    for simplified, traditional in CHROME.items():
        assert zhconvert.chrome(simplified) == traditional
        assert back(traditional) in (simplified, simplified.replace("搜索", "搜寻"))


@pytest.mark.slow
@pytest.mark.browser
def test_switch_on_a_traditional_page_turns_its_site_words_too(public):
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with serve_folder(public) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            tab = browser.new_page(locale="zh-TW")
            tab.goto(f"{base}/{_page(public, TRAD_TITLE)}")
            nav = tab.text_content("header.site nav")
            assert "歸檔" in nav and "標籤" in nav and "搜尋" in nav
            assert tab.get_attribute(".searchbox input", "placeholder") == "搜尋全文"
            tab.click(".zh-toggle")
            tab.wait_for_function("document.documentElement.lang === 'zh-Hans'", timeout=15_000)
            nav = tab.text_content("header.site nav")
            assert "归档" in nav and "标签" in nav and "繁體" in nav
            assert "修改记录" in tab.inner_text("footer.site")
            assert "镜像状态" in tab.inner_text("footer.site")
            tab.click(".zh-toggle")
            tab.wait_for_function("document.documentElement.lang === 'zh-Hant'", timeout=15_000)
            assert "歸檔" in tab.text_content("header.site nav")
            assert tab.get_attribute(".searchbox input", "placeholder") == "搜尋全文"
            # A simplified page switched to 繁 shows the same traditional site words.
            tab.goto(f"{base}/index.html")
            tab.wait_for_function("document.documentElement.lang === 'zh-Hant'", timeout=15_000)
            nav = tab.text_content("header.site nav")
            assert "歸檔" in nav and "標籤" in nav and "搜尋" in nav, nav
            assert "修改記錄" in tab.inner_text("footer.site")
        finally:
            browser.close()


def test_each_page_has_the_links_header_and_footer_of_its_own_script_depth_and_time(public):
    """base.html's links, header and footer are rendered once per build for each script,
    depth and footer time (templating.Templates.chrome): every page must carry what a
    render of its own gives (a fresh one), the front page alone with the update time."""
    from html import unescape

    from newsmirror.publish.pages import root_of
    from newsmirror.publish.status import Moment
    from newsmirror.publish.templating import SiteInfo, Templates

    fresh = {}
    scripts, depths, timed = set(), set(), []
    for page in sorted(public.rglob("*.html")):
        path = page.relative_to(public).as_posix()
        html = page.read_text(encoding="utf-8")
        if '<header class="site">' not in html:
            continue  # a listing's stub or a redirect: no template
        title = re.search(r'<meta property="og:site_name" content="([^"]*)">', html).group(1)
        lang = re.search(r'<html lang="([^"]*)">', html).group(1)
        root = re.search(r'<a class="home" href="([^"]*)index.html">', html).group(1)
        if path != "404.html":  # that one's links start at the site's base path
            assert root == root_of(path), path
        time = re.search(r'<p class="fresh">.*?<time datetime="([^"]*)">([^<]*)</time>', html)
        updated = Moment(time.group(1), time.group(2)) if time else None
        if updated:
            timed.append(path)
        templates = fresh.setdefault(title, Templates(SiteInfo(unescape(title), "")))
        templates._chrome.clear()  # made anew for each page
        chrome = templates.chrome(lang, root, updated)
        for part in (chrome.links, chrome.header, chrome.footer):
            assert str(part) in html, (path, part)
        scripts.add(lang)
        depths.add(root)
    assert timed == ["index.html"]
    assert scripts == {zhconvert.HANS, zhconvert.HANT} and len(depths) >= 4


def test_only_a_page_that_shows_the_update_time_gets_the_footer_with_it():
    from newsmirror.publish.status import Moment
    from newsmirror.publish.templating import SiteInfo, Templates

    templates = Templates(SiteInfo("t", ""))
    moment = Moment("2024-05-01T12:00:00Z", "2024-05-01 20:00 北京时间（UTC+8）")
    timed = templates.chrome(zhconvert.HANS, "", moment)
    plain = templates.chrome(zhconvert.HANS, "", None)
    assert '<time datetime="2024-05-01T12:00:00Z">2024-05-01 20:00' in timed.footer
    assert "2024-05-01" not in plain.footer and 'class="nm-fresh"' in plain.footer
    assert plain.header == timed.header and plain.links == timed.links
