"""The 简/繁 switch: OpenCC's phrase-level conversion (s2twp, s2hk; tw2s back), each page's
``<html lang>`` from its text, the converter loaded only when used.

The browser tests run the built demo site in Debian Chromium and compare what the page
shows after a click with what Python's OpenCC gives for the same text nodes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CHROMIUM, CHROMIUM_FLAGS
from newsmirror.demo.run import run_demo
from newsmirror.demo.server import serve_folder
from newsmirror.publish import zhconvert

ROOT = Path(__file__).resolve().parent.parent
SEED_TITLE = "分析：拜登习近平11月会谈的背后原因"
TRAD_TITLE = "來談談工程師的知識焦慮"  # a Matters article in traditional script
LANG = re.compile(r'<html lang="([^"]+)">')

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)"
)

# Every text node the switch may convert (not in scripts, nor the switch itself), and
# whether it is inside an element marked as another language (left as it is).
TEXT_NODES = """() => {
  const out = [];
  const skip = new Set(["SCRIPT", "STYLE", "TEXTAREA", "NOSCRIPT"]);
  function walk(node, foreign) {
    if (node.nodeType === 3) { out.push([node.nodeValue, foreign]); return; }
    if (node.nodeType !== 1 || skip.has(node.tagName)) return;
    if (node.classList.contains("zh-toggle")) return;
    const lang = node.getAttribute("lang");
    if (node !== document.documentElement && lang !== null) {
      foreign = !/^zh(-|$)/i.test(lang);
    }
    for (const child of node.childNodes) walk(child, foreign);
  }
  walk(document.documentElement, false);
  return out;
}"""


def opencc_of(config: str, nodes: list[list[object]]) -> list[str]:
    convert = opencc.OpenCC(config).convert
    return [str(text) if foreign else convert(str(text)) for text, foreign in nodes]


def page_of(public: Path, title: str) -> str:
    for page in sorted((public / "posts").rglob("*.html")):
        if f"<h1>{title}</h1>" in page.read_text(encoding="utf-8"):
            return page.relative_to(public).as_posix()
    raise AssertionError(f"no page for {title}")


@pytest.fixture(scope="module")
def public(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zh")
    run_demo(folder)
    return folder / "public"


# -- the page's script, at build time ------------------------------------------------------


def test_traditional_article_page_starts_zh_hant(public):
    trad = (public / page_of(public, TRAD_TITLE)).read_text(encoding="utf-8")
    simp = (public / page_of(public, SEED_TITLE)).read_text(encoding="utf-8")
    assert LANG.search(trad).group(1) == "zh-Hant"
    assert LANG.search(simp).group(1) == "zh-Hans"
    assert 'lang="zh-Hans" hidden>简体</button>' in trad  # offers the other script
    assert 'lang="zh-Hant" hidden>繁體</button>' in simp
    home = (public / "index.html").read_text(encoding="utf-8")
    assert LANG.search(home).group(1) == "zh-Hans"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("这是一篇新闻报道，记者在现场", "zh-Hans"),
        ("這是一篇新聞報道，記者在現場", "zh-Hant"),
        ("<p title='這個這個這個'>这是报道</p>", "zh-Hans"),  # attributes are not text
        ("Breaking news 2024", "zh-Hans"),
        ("", "zh-Hans"),
        ("台灣的新聞，简体的标题", "zh-Hans"),  # 简体标题: 4 simplified-only, 灣聞: 2
        ("臺灣的新聞報導，简体", "zh-Hant"),
    ],
)
def test_script_of_counts_characters_of_each_script(text, lang):
    assert zhconvert.script_of(text) == lang


def test_home_page_loads_only_the_small_switch(public):
    home = (public / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', home)
    assert scripts == ["zh.js"]
    assert "opencc/" not in home
    assert (public / "zh.js").stat().st_size < 8_000  # was 76 kB of maps
    for name in zhconvert.OPENCC_FILES:  # the converter, with its licences
        assert (public / "opencc" / name).is_file(), name


def test_vendored_opencc_js_matches_its_checksums():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_opencc.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- in the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(public):
    with serve_folder(public) as base:
        yield base


@pytest.fixture(scope="module")
def browser(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def tab_in(browser, locale: str):
    """A tab whose browser says ``locale`` and reaches 127.0.0.1 only; the requests it made
    and those it was stopped from making."""
    context = browser.new_context(locale=locale)
    outside: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    tab = context.new_page()
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    return context, tab, requests, outside


def wait_lang(tab, lang: str) -> None:
    tab.wait_for_function(f"document.documentElement.lang === '{lang}'", timeout=15_000)


@needs_chromium
@pytest.mark.slow
def test_switch_gives_opencc_s2twp_and_keeps_the_choice(browser, served, public):
    context, tab, requests, outside = tab_in(browser, "zh-CN")
    tab.goto(f"{served}/{page_of(public, SEED_TITLE)}")
    tab.wait_for_load_state("load")
    assert tab.evaluate("document.documentElement.lang") == "zh-Hans"
    before = tab.evaluate(TEXT_NODES)
    title = tab.title()
    placeholder = tab.get_attribute(".searchbox input", "placeholder")
    assert not [u for u in requests if "/opencc/" in u]  # not loaded before the click
    # The page has text where phrase-level conversion differs from one character at a time.
    s2t, s2twp = opencc.OpenCC("s2t").convert, opencc.OpenCC("s2twp").convert
    assert any(s2t(str(t)) != s2twp(str(t)) for t, _ in before)

    tab.click(".zh-toggle")
    wait_lang(tab, "zh-Hant")
    assert tab.evaluate(TEXT_NODES) == [
        [t, f] for t, f in zip(opencc_of("s2twp", before), (f for _, f in before), strict=True)
    ]
    assert tab.title() == s2twp(title)
    assert tab.get_attribute(".searchbox input", "placeholder") == s2twp(placeholder)
    assert tab.inner_text(".zh-toggle") == "简体"
    assert [u for u in requests if "/opencc/" in u] == [f"{served}/opencc/cn2t.js"]
    # Phrases the issue names, through the same converter the page loaded.
    phrases = ["软件", "看着", "爲", "公里", "里面", "鼠标", "信息", "一出戏", "头发"]
    got = tab.evaluate("p => p.map(OpenCC.Converter({from: 'cn', to: 'twp'}))", phrases)
    assert got == [s2twp(p) for p in phrases]
    assert got[:3] == ["軟體", "看著", "為"]

    # The choice holds on the next page (the front page, in simplified script).
    tab.goto(f"{served}/index.html")
    wait_lang(tab, "zh-Hant")
    assert s2twp(SEED_TITLE) in tab.inner_text("main")
    tab.click(".zh-toggle")  # back: the page as written, and the choice saved
    wait_lang(tab, "zh-Hans")
    assert SEED_TITLE in tab.inner_text("main")
    assert tab.evaluate("localStorage.getItem('zh-script')") == "hans"

    # A traditional-script article, for a reader who chose 简体: tw2s on load.
    tab.goto(f"{served}/{page_of(public, TRAD_TITLE)}")
    wait_lang(tab, "zh-Hans")
    tab.click(".zh-toggle")  # to the page as written
    wait_lang(tab, "zh-Hant")
    written = tab.evaluate(TEXT_NODES)
    tab.click(".zh-toggle")
    wait_lang(tab, "zh-Hans")
    expected = opencc_of("tw2s", written)
    assert [t for t, _ in tab.evaluate(TEXT_NODES)] == expected
    assert f"{served}/opencc/t2cn.js" in requests
    context.close()
    assert outside == []


@needs_chromium
@pytest.mark.slow
def test_hong_kong_reader_gets_s2hk(browser, served, public):
    context, tab, _requests, _outside = tab_in(browser, "zh-HK")
    tab.goto(f"{served}/{page_of(public, SEED_TITLE)}")
    tab.wait_for_load_state("load")
    before = tab.evaluate(TEXT_NODES)
    tab.click(".zh-toggle")
    wait_lang(tab, "zh-Hant")
    assert [t for t, _ in tab.evaluate(TEXT_NODES)] == opencc_of("s2hk", before)
    context.close()


@needs_chromium
@pytest.mark.slow
def test_switch_works_from_disk(browser, public):
    tab = browser.new_page()
    tab.goto((public / page_of(public, SEED_TITLE)).as_uri())
    tab.wait_for_load_state("load")
    tab.click(".zh-toggle")
    wait_lang(tab, "zh-Hant")
    assert tab.inner_text("h1") == opencc.OpenCC("s2twp").convert(SEED_TITLE)
    tab.close()


@needs_chromium
@pytest.mark.slow
def test_search_results_shown_later_are_converted_too(browser, served):
    context, tab, _requests, _outside = tab_in(browser, "zh-TW")
    tab.goto(f"{served}/index.html")
    tab.evaluate("localStorage.setItem('zh-script', 'hant')")  # chosen on an earlier visit
    tab.goto(f"{served}/search.html?q=拜登")
    wait_lang(tab, "zh-Hant")
    tab.wait_for_selector("#search-results li", timeout=15_000)
    tab.wait_for_timeout(100)
    results = tab.inner_text("#search-results")
    assert opencc.OpenCC("s2twp").convert(SEED_TITLE) in results
    assert SEED_TITLE not in results
    context.close()


_SIMP_ONLY, _TRAD_ONLY = (sorted(chars)[:40] for chars in zhconvert._script_only())


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from([*_SIMP_ONLY, *_TRAD_ONLY, *"的是台<>p /='\"[]^\\-.*a1\n 　"]),
        max_size=80,
    )
)
def test_script_of_is_the_majority_of_script_only_characters_outside_tags(text):
    simplified, traditional = zhconvert._script_only()
    plain = re.sub(r"<[^>]*>", "", text)
    simp = sum(1 for c in plain if c in simplified)
    trad = sum(1 for c in plain if c in traditional)
    assert zhconvert.script_of(text) == ("zh-Hant" if trad > simp else "zh-Hans")
