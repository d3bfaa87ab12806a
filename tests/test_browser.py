"""The built site in a real browser (headless Debian Chromium driven by Playwright)."""

from __future__ import annotations

import pytest

from conftest import CHROMIUM, CHROMIUM_FLAGS, local_only_context
from newsmirror.demo.run import run_demo
from newsmirror.demo.server import serve_folder
from newsmirror.publish.site import build_site
from newsmirror.store import Archive

SEED_TITLE = "分析：拜登习近平11月会谈的背后原因"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    run_demo(folder)
    with Archive.open(folder / "archive.sqlite") as archive:
        build_site(archive, folder / "public")
    with serve_folder(folder / "public") as base:
        yield base


@pytest.fixture(scope="module")
def browser(served):
    # After ``served``: the demo runs asyncio, which cannot start inside Playwright's loop.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, served):
    context, outside = local_only_context(browser)
    tab = context.new_page()
    yield tab
    context.close()
    assert outside == [], f"requests to other hosts: {outside}"


def test_home_then_article_with_local_image(page, served):
    page.goto(f"{served}/index.html")
    assert page.title().startswith("新闻镜像")
    while not page.locator("text=第二十一期回顾").count():  # 20 a page: to older pages
        page.click("text=较旧 →")
    page.click("text=第二十一期回顾")
    page.wait_for_load_state("load")
    assert "第二十一期回顾" in page.locator("h1").inner_text()
    images = page.locator(".content img")
    assert images.count() >= 1
    widths = page.eval_on_selector_all(".content img", "els => els.map(e => e.naturalWidth)")
    assert all(w > 0 for w in widths), widths


def test_search_chinese_in_both_scripts(page, served):
    for query in ("拜登", "會談"):  # simplified; traditional for an article in simplified
        page.goto(f"{served}/search.html?q={query}")
        page.wait_for_selector("#search-results li", timeout=15000)
        assert SEED_TITLE in page.locator("#search-results").inner_text(), query
    # Results from older years' shards lead to their pages (relative links).
    page.goto(f"{served}/search.html?q=帕斯卡")
    page.wait_for_selector("#search-results li a", timeout=15000)
    page.click("#search-results li a")
    page.wait_for_load_state("load")
    assert "帕斯卡" in page.locator("article h1").inner_text()


def test_switch_simplified_traditional(page, served):
    page.goto(f"{served}/search.html")
    page.goto(f"{served}/index.html")
    page.click(f"text={SEED_TITLE}")
    page.wait_for_load_state("load")
    page.click(".zh-toggle")  # loads the converter (tests/test_zh_switch.py), then converts
    page.wait_for_function("document.documentElement.lang === 'zh-Hant'", timeout=15000)
    assert page.locator("h1").inner_text() == "分析：拜登習近平11月會談的背後原因"
    page.click(".zh-toggle")
    assert page.locator("h1").inner_text() == SEED_TITLE


def test_search_page_from_disk_searches(browser, tmp_path_factory, served):
    import pathlib

    # The same site opened with file://: search works without a server.
    site = next(pathlib.Path(tmp_path_factory.getbasetemp()).glob("site*/public"))
    tab = browser.new_page()
    tab.goto((site / "search.html").as_uri() + "?q=拜登")
    tab.wait_for_selector("#search-results li", timeout=15000)
    assert SEED_TITLE in tab.locator("#search-results").inner_text()
    tab.goto((site / "index.html").as_uri())
    assert SEED_TITLE in tab.content()
    tab.close()
