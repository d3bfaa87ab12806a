"""The site's search page in a real browser (Debian Chromium driven by Playwright), over
HTTP and from file://, on a small site built from real posts: exact results, 简/繁, the
query in the URL, paging, highlights, hostile titles, no JavaScript, a narrow dark
screen, and the time to first results on a throttled link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from conftest import CHROMIUM, CHROMIUM_FLAGS, CORPUS, local_only_context
from newsmirror.demo.run import run_demo
from newsmirror.demo.server import serve_folder
from newsmirror.htmltext import plain_text
from newsmirror.jekyll_import import import_jekyll
from newsmirror.publish import searchfiles as sf
from newsmirror.publish import searchindex as si
from newsmirror.publish.pages import article_path
from newsmirror.publish.searchread import Reader, count_text
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.store import Archive
from newsmirror.textsearch import fold, searchable, terms

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed"),
]

SEED_TITLE = "分析：拜登习近平11月会谈的背后原因"
HOSTILE = ("<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>标题")
FALSE_PAIR = "參拜之後去登山"  # 拜 and 登, never 拜登
TRADITIONAL = "臺灣選舉觀察"
TOKYO = "东京通讯：夜间新闻"
CHICAGO = "芝加哥通讯：清晨新闻"
DONE = '#search-results[aria-busy="false"]'


def _add(archive: Archive, source: str, title: str, text: str, day: int) -> None:
    when = datetime(2024, 5, day, 8, 0, tzinfo=UTC)
    archive.import_article(
        source=source,
        url=f"https://example.org/search-page/{day}",
        title=title,
        author="",
        content=f"<p>{text}</p>",
        tags=[],
        published=when,
        date_known=True,
        published_raw="",
        jekyll_name=f"2024-05-{day:02d}-t{day}.md",
        now=when,
    )


FILLER_WORDS = [
    "美国总统拜登",
    "習近平會談",
    "一个人的 VLOG",
    "YouTube 频道",
    "六四 纪念",
    "中国的 美國",
]


def _filler(archive: Archive, count: int = 40) -> None:
    """Made-up articles, so that every query of the tests has several pages of results,
    some in titles and some only in texts, with or without ../shared/corpus."""
    for i in range(count):
        when = datetime(2023, 1 + i % 12, 1 + i // 12, 6, 0, tzinfo=UTC)
        words = [w for k, w in enumerate(FILLER_WORDS) if (i >> k) & 1 or k == i % 6]
        title = f"第{i}篇" + ("：美国的新闻" if i % 3 == 0 else "：本地的新闻")
        archive.import_article(
            source="填充",
            url=f"https://example.org/filler/{i}",
            title=title,
            author="",
            content="<p>" + "，".join(words) + f"，这是第{i}篇的报道。</p>",
            tags=[],
            published=when,
            date_known=True,
            published_raw="",
            jekyll_name=f"{when:%Y-%m-%d}-filler{i}.md",
            now=when,
        )


BERRY = "蓝莓派"
FALSE_BERRIES = 8


def _berries(archive: Archive) -> None:
    """Three older articles that hold 蓝莓派 and eight newer ones whose pairs 蓝莓 and
    莓派 pass the neighbour masks (干 has the bit of 派, 园 that of 蓝) without it: the
    first page meets false candidates first."""
    assert ord("干") % 4 == ord("派") % 4 and ord("园") % 4 == ord("蓝") % 4
    titles = [
        f"蓝莓派食谱 {i}" if i < 3 else f"蓝莓干与园莓派 {i}" for i in range(3 + FALSE_BERRIES)
    ]
    _daily(archive, "berries", datetime(2022, 3, 1, 8, 0, tzinfo=UTC), titles)


def _daily(archive: Archive, name: str, first: datetime, titles: list[str]) -> None:
    """An article a day from ``first``, one per title, at example.org/NAME/i."""
    for i, title in enumerate(titles):
        when = first + timedelta(days=i)
        archive.import_article(
            source="测试",
            url=f"https://example.org/{name}/{i}",
            title=title,
            author="",
            content=f"<p>第{i}篇。</p>",
            tags=[],
            published=when,
            date_known=True,
            published_raw="",
            jekyll_name=f"{when:%Y-%m-%d}-{name}{i}.md",
            now=when,
        )


COVER_TERM = "青山绿水间"  # keys 青山 山绿 绿水 水间: the page reads 山绿 last


def _cover(archive: Archive) -> None:
    """Three older articles that hold COVER_TERM and eight newer ones with its cover
    keys 青山, 绿水, 水间 (and their masks' bits: 大 has the bit of 绿, 边 that of 山)
    but not 山绿: the page meets false candidates until it reads 山绿 too."""
    assert ord("大") % 4 == ord("绿") % 4 and ord("边") % 4 == ord("山") % 4
    titles = [f"{COVER_TERM}游记 {i}" if i < 3 else f"青山大道旁边绿水间 {i}" for i in range(11)]
    _daily(archive, "cover", datetime(2021, 6, 1, 8, 0, tzinfo=UTC), titles)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo's archive, the real posts of one old mirror and a few made-up articles,
    built with ``newsmirror build``; with each article's searchable text (the oracle)."""
    folder = tmp_path_factory.mktemp("searchsite")
    demo = run_demo(folder / "demo")
    # Next-character masks (only in segments of MASKS_FROM docs or more) here too, so
    # that the page's mask filter is exercised: a wrong filter loses true results.
    masks = pytest.MonkeyPatch()
    masks.setattr(si, "MASKS_FROM", 10)
    public = folder / "public"
    with Archive.open(demo.archive) as archive:
        posts = CORPUS / "nodebe4-posts" / "society"
        if posts.is_dir():
            import_jekyll(archive, posts)
        _filler(archive)
        _berries(archive)
        _cover(archive)
        archive.ensure_source("东京测试", "Asia/Tokyo")
        archive.ensure_source("芝加哥测试", "America/Chicago")
        _add(archive, "测试", HOSTILE[0], "第一篇 xsszebra 文章", 1)
        _add(archive, "测试", HOSTILE[1], "第二篇 XSSZebra 文章", 2)
        _add(archive, "测试", FALSE_PAIR, "他先去參拜，然后去登山。", 3)
        _add(archive, "测试", TRADITIONAL, "這是關於臺灣選舉的觀察報導。", 4)
        _add(archive, "东京测试", TOKYO, "东京的夜间新闻。", 5)
        _add(archive, "芝加哥测试", CHICAGO, "芝加哥的清晨新闻。", 7)
        archive.conn.commit()
        _add(archive, "测试", "改过的文章", "旧版 zqxold", 6)
        archive.conn.commit()
        build_site(archive, public, SiteOptions(title="搜索测试"))
        _add(archive, "测试", "改过的文章", "新版 zqxnew", 6)  # the next build replaces it
        archive.conn.commit()
        build_site(archive, public, SiteOptions(title="搜索测试"))
        texts = {
            article_path(a): searchable(a.title, plain_text(a.content))
            for a in archive.iter_articles()
            if not a.removed_at
        }
    masks.undo()
    assert (public / "search" / "manifest.js").is_file()
    with serve_folder(public) as base:
        yield {"public": public, "http": base, "file": public.as_uri(), "texts": texts}


def expected(site: dict[str, Any], query: str) -> set[str]:
    """The brute-force answer: every article whose title or text holds every term."""
    words = terms(query)
    return {path for path, text in site["texts"].items() if all(w in text for w in words)}


@pytest.fixture(scope="module")
def browser(site: dict[str, Any]) -> Iterator[Any]:
    # After ``site``: the demo runs asyncio, which cannot start inside Playwright's loop.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def local_or_file(route: Any, outside: list[str]) -> None:
    url = urlsplit(route.request.url)
    if url.scheme == "file" or url.hostname == "127.0.0.1":
        route.continue_()
    else:
        outside.append(route.request.url)
        route.abort()


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    """A page that may reach 127.0.0.1 only; JavaScript errors, console errors and
    dialogs (alert) fail the test."""
    context, outside = local_only_context(browser)
    context.unroute("**/*")
    context.route("**/*", lambda route: local_or_file(route, outside))
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"error: {exc}"))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield page
    context.close()
    assert outside == [], f"requests to other hosts: {outside}"
    assert problems == []


def open_search(page: Any, base: str, query: str | None = None) -> None:
    page.goto(f"{base}/search.html" + (f"?q={quote(query)}" if query is not None else ""))
    page.wait_for_selector(DONE, state="attached", timeout=15000)


def shown(page: Any) -> list[dict[str, Any]]:
    """The results on the page now: link, title text, marks, meta and excerpt."""
    return page.eval_on_selector_all(
        "#search-results li",
        """els => els.map(li => ({
            href: li.querySelector("a").getAttribute("href"),
            title: li.querySelector("a").textContent,
            marks: Array.from(li.querySelectorAll("mark")).map(m => m.textContent),
            meta: li.querySelector(".meta").textContent,
            excerpt: li.querySelector(".excerpt").textContent}))""",
    )


def status(page: Any) -> str:
    return page.inner_text("#search-status")


def every_page(page: Any) -> list[dict[str, Any]]:
    """The results of every page, following 下一页 until there is none."""
    results = shown(page)
    while page.locator("#search-pager a", has_text="下一页").count():
        page.locator("#search-pager a", has_text="下一页").click()
        page.wait_for_selector(DONE, state="attached")
        results += shown(page)
    return results


def count_of(text: str) -> int:
    if text == "没有找到":
        return 0
    found = re.match(r"(找到|约) (\d+) 篇", text)
    assert found, text
    return int(found.group(2))


QUERIES = [
    "的",
    "拜登",
    "美國",
    "习近平",
    "youtube",
    "VLOG",
    "会谈 习近平",
    "中国 美国",
    "一个人",
    "六四",
    "台湾选举",  # rare keys: their postings carry neighbour masks the page must read right
    "xsszebra",
]


@pytest.mark.parametrize("where", ["http", "file"])
def test_results_are_exactly_the_articles_that_hold_the_query(tab, site, where):
    for query in QUERIES:
        truth = expected(site, query)
        open_search(tab, site[where], query)
        words = terms(query)
        if all(len(w) <= 2 for w in words):
            assert count_of(status(tab)) == len(truth), query  # exact at once
            assert not status(tab).startswith("约"), query
        results = every_page(tab)
        hrefs = [r["href"] for r in results]
        assert len(hrefs) == len(set(hrefs)), query  # no result twice
        assert set(hrefs) == truth, query
        assert count_of(status(tab)) == len(truth), query
        for r in results:
            # Highlights are around the terms (folded: 美國 is marked for 美国).
            assert r["marks"], (query, r)
            assert all(any(w in fold(m) for w in words) for m in r["marks"]), (query, r)
    assert len(expected(site, "的")) > 30  # several pages were followed


PACKED_TEXTS = [
    "",
    "\ufeff开头是 BOM",
    "𠀀𠀁 astral 字 and é ü",
    "拜登" * 400 + " 习近平 " + "abc" * 300,  # back references across a long text
    "".join(chr(c) for c in range(0x20, 0x3000, 7)),
]


def test_the_page_reads_doc_text_and_counts_as_the_python_reader(tab, site):
    open_search(tab, site["http"])
    packed = [sf.pack_text(t) for t in PACKED_TEXTS]
    got = tab.evaluate("texts => Promise.all(texts.map(t => NM_SEARCH.core.unpackText(t)))", packed)
    assert got == PACKED_TEXTS
    states = [
        (c, k, f, exact)
        for c in (0, 1, 11, 12, 22, 40, 300)
        for k in sorted({0, 1, 10, 20, 21, c})
        for f in sorted({0, 1, 10, 20, k})
        for exact in (False, True)
        if k <= c and f <= k
    ]
    texts = tab.evaluate(
        """states => states.map(([c, k, f, exact]) => NM_SEARCH.core.countText({
            candidates: new Array(c).fill(0), checked: k, confirmed: new Array(f).fill(0),
            exact: exact}))""",
        states,
    )
    assert texts == [count_text(*s) for s in states]
    assert "约 21 篇" in texts and "已找到 10 篇（总数待确认）" in texts


def test_a_page_does_not_match_two_characters_far_apart(tab, site):
    open_search(tab, site["http"], "拜登")
    titles = [r["title"] for r in every_page(tab)]
    assert SEED_TITLE in titles and FALSE_PAIR not in titles
    open_search(tab, site["http"], "参拜")
    assert [r["title"] for r in shown(tab)] == [FALSE_PAIR]


def test_a_changed_article_is_found_by_its_new_text_only(tab, site):
    open_search(tab, site["http"], "zqxnew")
    assert [r["title"] for r in shown(tab)] == ["改过的文章"]
    open_search(tab, site["http"], "zqxold")
    assert status(tab) == "没有找到" and shown(tab) == []


def test_simplified_finds_traditional_and_back(tab, site):
    open_search(tab, site["http"], "台湾选举")
    assert [r["title"] for r in shown(tab)] == [TRADITIONAL]
    assert shown(tab)[0]["marks"][0] == "臺灣選舉"  # the original text, highlighted
    open_search(tab, site["http"], "習近平 會談")
    assert SEED_TITLE in [r["title"] for r in shown(tab)]


def test_a_page_stops_after_a_few_false_candidates_and_goes_on_when_asked(tab, site):
    # The eight newest candidates are false: the first page does not read them all
    # (on a large site a query of common pairs read megabytes so): it stops, says it
    # has found nothing yet, and 继续查找 reads on, on the same page and URL.
    asked: list[str] = []
    tab.on("request", lambda r: asked.append(r.url) if "/search/d/" in r.url else None)
    open_search(tab, site["http"], BERRY)
    assert shown(tab) == [] and status(tab) == "还没有找到（总数待确认）"
    assert len(asked) <= 10  # doc files (one doc each): at most the ten asked for at once
    assert tab.locator("#search-pager a", has_text="下一页").count() == 0
    # The same query asked again shows the same page: no new round, no doc file read.
    before = len(asked)
    tab.fill("#search-input", BERRY)
    tab.evaluate("document.getElementById('search-form').requestSubmit()")
    tab.wait_for_function(
        "document.getElementById('search-results').getAttribute('aria-busy') == 'false'"
    )
    assert shown(tab) == [] and status(tab) == "还没有找到（总数待确认）"
    assert len(asked) == before
    url = tab.url
    tab.locator("#search-pager a", has_text="继续查找").click()
    tab.wait_for_selector(DONE, state="attached")
    tab.wait_for_function("document.querySelectorAll('#search-results li').length == 3")
    assert tab.url == url and status(tab) == "找到 3 篇"
    assert sorted(r["title"] for r in shown(tab)) == [f"蓝莓派食谱 {i}" for i in range(3)]
    assert expected(site, BERRY) == {urlsplit(r["href"]).path.lstrip("/") for r in shown(tab)}
    assert tab.locator("#search-pager a").count() == 0


def test_a_long_term_reads_its_other_keys_once_a_candidate_is_false(tab, site):
    # Its cover keys alone let eight false candidates through, newest first: the page
    # reads the key it skipped (山绿) after the first false one, finds the three
    # articles and knows the count, as searchread does.
    asked: list[str] = []
    tab.on("request", lambda r: asked.append(r.url) if "/search/" in r.url else None)
    open_search(tab, site["http"], COVER_TERM)
    assert expected(site, COVER_TERM) == {urlsplit(r["href"]).path.lstrip("/") for r in shown(tab)}
    assert status(tab) == "找到 3 篇"

    def load(name: str) -> bytes | None:
        path = site["public"] / "search" / f"{name}.js"
        return path.read_bytes() if path.exists() else None

    def shards(query: str) -> set[str]:
        asked.clear()
        open_search(tab, site["http"], query)
        names = {u.split("/search/", 1)[1].removesuffix(".js") for u in asked}
        return {n for n in names if n.startswith("s")}

    for query, count in ((COVER_TERM, "找到 3 篇"), (COVER_TERM + "游", "找到 3 篇")):
        python = Reader(load)
        assert python.search(query).count_text() == count
        assert shards(query) == {n for n in python.cache if n.startswith("s")}
        assert status(tab) == count
    # The second query's candidates all hold: neither reads 山绿 (nor 水间).
    everything = Reader(load)
    everything.candidates(terms(COVER_TERM + "游"))
    assert {n for n in everything.cache if n.startswith("s")} - shards(COVER_TERM + "游")


def test_title_matches_first_then_newest(tab, site):
    open_search(tab, site["http"], "美国")
    results = every_page(tab)
    in_title = [fold("美国") in fold(r["title"]) for r in results]
    assert in_title == sorted(in_title, reverse=True) and any(in_title) and not all(in_title)


def test_result_shows_source_and_date_in_the_source_zone(tab, site):
    open_search(tab, site["http"], "拜登 会谈")
    [seed] = [r for r in shown(tab) if r["title"] == SEED_TITLE]
    assert seed["meta"] == "大纪元 · 2023-10-29 11:36 北京时间"
    open_search(tab, site["http"], "夜间新闻")
    [tokyo] = shown(tab)
    assert tokyo["meta"] == "东京测试 · 2024-05-05 17:00 东京时间"  # as its article page
    open_search(tab, site["http"], "清晨新闻")
    [chicago] = shown(tab)  # a zone without a city's name: its offset that day
    assert chicago["meta"] == "芝加哥测试 · 2024-05-07 03:00 UTC-5"
    assert "CST" not in seed["meta"]


def test_the_query_lives_in_the_url(tab, site):
    open_search(tab, site["http"])
    tab.fill("#search-input", "拜登")
    tab.press("#search-input", "Enter")
    tab.wait_for_selector("#search-results li")
    tab.wait_for_selector(DONE, state="attached")
    assert parse_qs(urlsplit(tab.url).query)["q"] == ["拜登"]
    first = shown(tab)
    tab.reload()
    tab.wait_for_selector(DONE, state="attached")
    assert shown(tab) == first and tab.input_value("#search-input") == "拜登"
    tab.fill("#search-input", "的")
    tab.press("#search-input", "Enter")
    tab.wait_for_selector(DONE, state="attached")
    tab.locator("#search-pager a", has_text="下一页").click()
    tab.wait_for_selector(DONE, state="attached")
    second_page = shown(tab)
    assert parse_qs(urlsplit(tab.url).query) == {"q": ["的"], "p": ["2"]}
    tab.reload()  # a shared link to page 2 shows page 2
    tab.wait_for_selector(DONE, state="attached")
    assert shown(tab) == second_page
    tab.go_back()
    tab.wait_for_selector(DONE, state="attached")
    assert parse_qs(urlsplit(tab.url).query) == {"q": ["的"]} and "第 1–10 篇" in status(tab)
    tab.go_back()
    tab.wait_for_selector(DONE, state="attached")
    assert shown(tab) == first and tab.input_value("#search-input") == "拜登"


def test_a_result_leads_to_its_article(tab, site):
    open_search(tab, site["file"], "帕斯卡")
    tab.click("#search-results li a")
    tab.wait_for_load_state("load")
    assert "帕斯卡" in tab.locator("article h1").inner_text()


def test_hostile_titles_are_shown_as_text(tab, site):
    for where in ("http", "file"):
        open_search(tab, site[where], "xsszebra")
        assert sorted(r["title"] for r in shown(tab)) == sorted(HOSTILE)
        assert tab.locator("#search-results img, #search-results script").count() == 0
    # The tab fixture fails the test on any alert() dialog or script error.


def test_without_javascript_one_line_points_to_the_archive(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site['http']}/search.html?q=拜登")
    notice = page.locator("main p.notice")
    assert notice.count() == 1 and notice.is_visible()
    assert "JavaScript" in notice.inner_text()
    assert notice.locator("a").get_attribute("href") == "archive/index.html"
    assert "服务器" not in page.locator("main").inner_text()
    context.close()


def test_narrow_dark_screen(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page = context.new_page()
    open_search(page, site["http"], "youtube")
    assert page.locator("#search-results li").count() == 10
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    colours = page.evaluate(
        """() => [getComputedStyle(document.body).backgroundColor,
                  getComputedStyle(document.querySelector("#search-results a")).color]"""
    )
    assert colours[0] == "rgb(21, 21, 23)" and colours[1] == "rgb(138, 180, 248)"
    context.close()


THROTTLE = {
    "offline": False,
    "latency": 100,
    "downloadThroughput": 4_000_000 / 8,
    "uploadThroughput": 4_000_000 / 8,
}
# Performance time (ms since navigation) when the first result appears.
FIRST_RESULT = """new MutationObserver((_, obs) => {
  if (document.querySelector("#search-results li")) {
    window.__firstResult = performance.now(); obs.disconnect();
  }
}).observe(document, {childList: true, subtree: true});"""
REPEAT = """async (q) => {
  const list = document.getElementById("search-results");
  const t0 = performance.now();
  document.getElementById("search-input").value = q;
  document.getElementById("search-form").requestSubmit();
  await new Promise(done => {
    const check = () => list.getAttribute("aria-busy") === "false" && list.children.length;
    if (check()) { done(); return; }
    new MutationObserver((_, obs) => { if (check()) { obs.disconnect(); done(); } })
      .observe(list, {attributes: true, childList: true});
  });
  return performance.now() - t0;
}"""


def test_first_results_on_a_slow_link(tab, site):
    cdp = tab.context.new_cdp_session(tab)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", THROTTLE)
    tab.add_init_script(FIRST_RESULT)
    open_search(tab, site["http"], "习近平")
    first = tab.evaluate("window.__firstResult")
    assert first < 1500, first
    tab.evaluate(REPEAT, "美国")
    again = tab.evaluate(REPEAT, "习近平")
    assert again < 200, again
