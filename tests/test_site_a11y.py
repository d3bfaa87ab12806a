"""The static site as readers use it: on a 390 px phone, in dark mode, with a keyboard and a
screen reader (axe-core), printed, served by a static host from any depth, and as link
previews and search engines see it (titles, feeds, description, Open Graph, canonical)."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import html5lib
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import CHROMIUM, CHROMIUM_FLAGS
from newsmirror.demo.run import run_demo
from newsmirror.demo.server import serve_folder
from newsmirror.publish import pages
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.store import Archive

BASE = "https://mirror.example/news/"
SEED_TITLE = "分析：拜登习近平11月会谈的背后原因"
AXE_VERSION = "4.10.3"
AXE_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsmirror-a11y"


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """The demo archive built twice: without a base URL (as most mirrors are) and with one."""
    folder = tmp_path_factory.mktemp("a11y")
    run_demo(folder)
    logs: list[str] = []
    with Archive.open(folder / "archive.sqlite") as archive:
        build_site(archive, folder / "plain", log=logs.append)
        build_site(archive, folder / "based", SiteOptions(base_url=BASE))
    return folder / "plain", folder / "based", logs


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def content_pages(site: Path) -> list[Path]:
    """Every page a reader sees (not the small pages that only send an old URL on)."""
    return sorted(p for p in site.rglob("*.html") if "http-equiv" not in read(p)[:600])


def seed_page(site: Path) -> Path:
    [page] = [p for p in (site / "posts/2023/10").glob("*.html") if SEED_TITLE in read(p)]
    return page


def head_of(text: str) -> str:
    return text.split("</head>", 1)[0]


def metas(text: str) -> dict[str, str]:
    """The page's <meta name|property=... content=...> values, unescaped."""
    out = {}
    for tag in re.findall(r"<meta\s[^>]*>", head_of(text)):
        key = re.search(r'\s(?:name|property)="([^"]+)"', tag)
        value = re.search(r'\scontent="([^"]*)"', tag)
        if key and value:
            out[key.group(1)] = html.unescape(value.group(1))
    return out


# -- meta: titles, feeds, description, Open Graph, canonical, times, sitemap -----------------


def test_home_title_is_the_site_name_once_and_feeds_are_linked_once_each(sites):
    plain, _, _ = sites
    home = read(plain / "index.html")
    assert re.search(r"<title>(.*?)</title>", home).group(1) == "新闻镜像"
    alternates = re.findall(r'<link rel="alternate" type="([^"]+)"[^>]*href="([^"]+)"', home)
    assert sorted(alternates) == [
        ("application/atom+xml", "feed.xml"),
        ("application/rss+xml", "rss.xml"),
    ]
    # The site name is the header's; the page does not repeat it as its heading.
    assert re.search(r"<h1[^>]*>(.*?)</h1>", home).group(1) != "新闻镜像"


def test_every_page_has_description_and_open_graph_and_canonical_with_base_url(sites):
    _, based, _ = sites
    for page in content_pages(based):
        text = read(page)
        meta = metas(text)
        rel = page.relative_to(based).as_posix()
        for key in ("description", "og:title", "og:description", "og:type", "og:site_name"):
            assert meta.get(key, "").strip(), (rel, key)
        if rel == "404.html":
            continue
        canonical = re.search(r'<link rel="canonical" href="([^"]+)"', text)
        assert canonical, rel
        assert html.unescape(canonical.group(1)) == BASE + pages.href(rel)
        assert meta["og:url"] == BASE + pages.href(rel)
    seed = read(seed_page(based))
    meta = metas(seed)
    assert meta["og:title"] == SEED_TITLE and meta["og:type"] == "article"
    assert "拜登" in meta["description"] and len(meta["description"]) <= 160


def test_without_base_url_no_canonical_and_no_relative_sitemap(sites):
    plain, _, logs = sites
    seed = read(seed_page(plain))
    assert 'rel="canonical"' not in seed and "og:url" not in seed
    assert metas(seed)["og:title"] == SEED_TITLE
    # A sitemap needs absolute URLs: without the site's address it is left out, with a word.
    assert not (plain / "sitemap.xml").exists() and not (plain / "sitemaps").exists()
    assert any("sitemap" in line and "base" in line for line in logs), logs
    assert "Sitemap:" not in read(plain / "robots.txt")


def test_meta_values_are_escaped(tmp_path):
    title = '"><script>alert(1)</script> & <b>粗</b>'
    with Archive.open(tmp_path / "a.sqlite") as archive:
        from newsmirror.models import Entry, FeedState

        archive.ensure_source("s")
        now = datetime.now(UTC)
        entry = Entry(
            "https://e.org/1", "", title, "a", f"<p>{html.escape(title)} 正文</p>", now, ""
        )
        archive.store_entries(
            "s", "https://e.org/f", [entry], state=FeedState(), started=now, now=now
        )
        build_site(archive, tmp_path / "site", SiteOptions(title='站"<i>', base_url=BASE))
    [page] = (tmp_path / "site/posts").rglob("*.html")
    text = read(page)
    html5lib.HTMLParser(strict=True).parse(text)
    assert (
        "<script>alert" not in text and "<i>" not in text and "<b>粗" not in text.split("<main")[0]
    )
    meta = metas(text)
    assert meta["og:title"] == title and meta["og:site_name"] == '站"<i>'
    assert meta["description"] == f"{title} 正文"  # the text as read, escaped in the page
    assert "&lt;script&gt;" in head_of(text)


def test_times_name_their_zone_without_cst(sites):
    plain, _, _ = sites
    for page in content_pages(plain):
        assert " CST" not in read(page), page
    assert "2023-10-29 11:36 北京时间" in read(seed_page(plain))


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Asia/Shanghai", "2024-01-05 16:30 北京时间"),
        ("Asia/Taipei", "2024-01-05 16:30 台北时间"),
        ("Asia/Hong_Kong", "2024-01-05 16:30 香港时间"),
        ("America/Chicago", "2024-01-05 02:30 UTC-6"),
        ("Asia/Kolkata", "2024-01-05 14:00 UTC+5:30"),
        ("UTC", "2024-01-05 08:30 UTC"),
    ],
)
def test_zone_words(zone, shown):
    when = datetime(2024, 1, 5, 8, 30, tzinfo=UTC)
    assert pages.zone_time(when, zone) == shown


# -- listings and article pages --------------------------------------------------------------


def test_listings_show_source_excerpt_and_local_image(sites):
    plain, _, _ = sites
    home = read(plain / "index.html")
    items = re.findall(r"<li>(.*?)</li>", home.split('<ul class="entries">', 1)[1], re.S)
    assert len(items) == 20
    for item in items:
        excerpt = re.search(r"<p>(.*?)</p>", item, re.S)
        assert excerpt and len(html.unescape(excerpt.group(1)).strip()) >= 10, item
        assert re.search(r'<span class="meta">[^<]*\S+ · <time', item), item
    # A source's own listing does not repeat its name in every entry.
    source = read(next(plain.glob("sources/*/index.html")))
    metas = re.findall(r'<span class="meta">(.*?)</span>', source.split("<main", 1)[1])
    assert metas and all(m.startswith("<time") for m in metas)
    thumbs = re.findall(r'<img class="thumb" src="(media/[^"]+)" alt="" loading="lazy"', home)
    assert thumbs and all((plain / t).is_file() for t in thumbs)
    day = read(plain / "archive/2023/10/29.html")
    assert re.search(r"</time></span>\n<p>[^<]{10,}</p></li>", day) and "拜登" in day


def test_excerpt_is_plain_text_cut_short():
    text = pages.excerpt("<h2>小标题</h2><p>第一段 &amp; <b>粗</b></p><script>x()</script>" * 40)
    assert text.startswith("小标题 第一段 & 粗") and "<" not in text
    assert len(text) <= pages.EXCERPT_CHARS + 1 and text.endswith("…")
    assert pages.excerpt("<p>短</p>") == "短"


@given(st.text(alphabet=st.sampled_from("<>&\"' a中\n/p=;#x"), max_size=80))
def test_excerpt_never_keeps_markup(body):
    text = pages.excerpt(body)
    assert "<" not in text.replace("&lt;", "") or "<" in html.unescape(body)
    assert len(text) <= pages.EXCERPT_CHARS + 1


_FRAGMENTS = [
    "新闻报道",
    "记者在现场看到了这一幕新闻报道",
    "a longer run of English text ",
    "text ",
    "&amp;",
    "&lt;b&gt;",
    "&am",
    "<p>",
    "</p>",
    "<br/>",
    "<b title='>'>",
    "<script>if (a<b) x()</script>",
    "<SCRIPT>",
    "</script >",
    "<figcaption>图注",
    "</figcaption>",
    "<style>p{}</style>",
    "<template>t</template>",
    "<!-- c -->",
    "\n  ",
    '<a href="x">',
    "<",
    # A quoted ">" or "<" in a tag that the start's cut may split: the tag's text must not
    # be shown (a long one outlasts the margin).
    '<img alt="图 > 说明' + "x" * 50 + '" src="p.jpg">',
    "<a title='<b>'>",
]


@settings(max_examples=400)
@example(["<br>"] * 11 + ["abc&amp;cdefgh"], 5)  # the start's cut falls in the entity
@example(["abc", '<img alt="> ' + "y" * 60 + '">'] + ["z" * 10] * 30, 5)  # ... in a tag
@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=20, max_size=300), st.integers(1, 30))
def test_excerpt_reads_as_if_it_read_the_whole_window(parts, limit):
    """The excerpt looks at a short start of the markup first: it must give what reading
    the whole window gives, whatever markup, hidden block or entity the short start cuts."""
    body = "".join(parts)
    assert pages.excerpt(body, limit) == _whole_window_excerpt(body, limit)


def test_excerpt_white_space_is_the_regex_white_space():
    """Excerpts collapse white space with str.split: the same characters as the regex
    ``\\s`` (every code point checked), so the same text as ``re.sub(r"\\s+", " ", t)``."""
    every = "".join(map(chr, range(0x110000)))
    spaces = "".join(re.findall(r"\s", every))
    assert spaces == "".join(c for c in every if c.isspace())
    text = spaces + "".join(f"a{c}b{c}{c}" for c in spaces) + every[::97] + spaces
    assert pages._collapsed(text) == re.sub(r"\s+", " ", html.unescape(text)).strip()


def _whole_window_excerpt(body: str, limit: int) -> str:
    text = re.sub(
        r"<(script|style|template|figcaption)\b.*?</\1\s*>",
        " ",
        body[: limit * 40],
        flags=re.I | re.S,
    )
    text = re.sub(r"<[^>]*$", "", text)
    text = pages._TAG.sub("", pages._BLOCK.sub(" ", text))
    text = re.sub(r"\s+", " ", html.unescape(text)).strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def test_every_image_has_alt_and_loads_lazily(sites):
    plain, _, _ = sites
    seen = 0
    for page in content_pages(plain):
        for tag in re.findall(r"<(?:img|iframe)\b[^>]*>", read(page)):
            seen += 1
            assert 'loading="lazy"' in tag, (page, tag)
            if tag.startswith("<img"):
                assert re.search(r'\salt="', tag), (page, tag)
    assert seen > 20


def test_finish_content_gives_alt_and_video_link():
    out = pages.finish_content(
        '<p><img src="a.png"><img alt="说明" src="b.png"><img src="d.png"/></p>'
        '<figure><img src="c.png"><figcaption>图</figcaption></figure><iframe src="https://www.youtube.com/embed/abc_-1"'
        ' title="YouTube"></iframe>',
        'T"<',
    )
    assert '<img src="a.png" alt="T&quot;&lt;" loading="lazy">' in out
    assert '<img alt="说明" src="b.png" loading="lazy">' in out
    assert '<img src="d.png" alt="" loading="lazy"/>' in out  # one image has the title
    assert '<img src="c.png" alt="" loading="lazy">' in out  # the caption says it
    assert '</iframe><a class="video-link" href="https://www.youtube.com/watch?v=abc_-1">' in out
    assert out.count('loading="lazy"') == 5


def test_blocked_youtube_embed_has_a_link_to_the_video(sites):
    plain, _, _ = sites
    videos = [p for p in content_pages(plain) if "youtube.com/embed/" in read(p)]
    assert len(videos) >= 3
    for page in videos:
        text = read(page)
        for video in re.findall(r"youtube\.com/embed/([\w-]+)", text):
            # Right under the frame, which stays blank where YouTube is blocked.
            link = f'</iframe><a class="video-link" href="https://www.youtube.com/watch?v={video}">'
            assert link in text, page


def test_no_empty_source_line_in_article_navigation(sites):
    plain, _, _ = sites
    seed = read(seed_page(plain))  # 大纪元 has this one article
    assert "大纪元：" not in re.sub(r"<title>.*?</title>", "", seed)
    assert not re.search(r'<nav class="neighbours source"[^>]*>\s*[^<]*：\s*</nav>', seed)


# -- in the browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(sites):
    plain, _, _ = sites
    with serve_folder(plain) as base:
        yield base


@pytest.fixture(scope="module")
def browser(served):
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@contextmanager
def tab(browser, **options) -> Iterator:
    """A page in a fresh context that reaches 127.0.0.1 only (the YouTube embeds are
    blocked, as behind the wall)."""
    context = browser.new_context(**options)

    def only_local(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1}
SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.slow
@pytest.mark.browser
def test_no_page_scrolls_sideways_on_a_phone(browser, served, sites):
    plain, _, _ = sites
    wide = []
    with tab(browser, **PHONE) as page:
        for path in content_pages(plain):
            rel = path.relative_to(plain).as_posix()
            page.goto(f"{served}/{pages.href(rel)}", wait_until="domcontentloaded")
            if page.evaluate(SIDEWAYS) > 0:
                wide.append(rel)
        assert wide == []
        page.goto(f"{served}/index.html")
        # The header is one row: the site's name and the links side by side.
        boxes = page.eval_on_selector_all(
            "header.site a:visible, header.site button:visible, header.site input:visible",
            "els => els.map(e => e.getBoundingClientRect().top)",
        )
        assert max(boxes) - min(boxes) < 12, boxes
        assert page.locator("header.site").bounding_box()["height"] < 70


def _contrast(a: list[float], b: list[float]) -> float:
    def lum(rgb: list[float]) -> float:
        c = [v / 255 for v in rgb[:3]]
        c = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


COLOURS = """sel => { const el = document.querySelector(sel); const s = getComputedStyle(el);
  const rgb = t => t.match(/[\\d.]+/g).map(Number);
  return {border: rgb(s.borderTopColor), bg: rgb(s.backgroundColor), fg: rgb(s.color),
          page: rgb(getComputedStyle(document.body).backgroundColor)}; }"""


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_inputs_and_search_button_are_visible(browser, served, scheme):
    with tab(browser, color_scheme=scheme, viewport={"width": 1280, "height": 800}) as page:
        page.goto(f"{served}/search.html")
        for selector in (".searchbox input", "#search-input"):
            c = page.evaluate(COLOURS, selector)
            assert _contrast(c["border"], c["page"]) >= 3, (selector, c)
        button = page.evaluate(COLOURS, ".search-page button")
        assert _contrast(button["fg"], button["bg"]) >= 4.5, button
        if scheme == "dark":
            assert max(button["bg"][:3]) < 100 or button["bg"] == button["page"], button


@pytest.mark.browser
def test_skip_link_reaches_the_content_in_two_tab_stops(browser, served):
    with tab(browser) as page:
        page.goto(f"{served}/index.html")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "跳到正文"
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        assert page.evaluate("!!document.activeElement.closest('main')")
        # Without the skip link: at most seven stops before the content.
        page.goto(f"{served}/index.html")
        stops = 0
        while stops < 12 and not page.evaluate("!!document.activeElement.closest('main')"):
            page.keyboard.press("Tab")
            stops += 1
        assert stops <= 8, stops


@pytest.mark.browser
def test_print_hides_navigation_search_and_switch(browser, served, sites):
    plain, _, _ = sites
    with tab(browser) as page:
        page.goto(f"{served}/{pages.href(seed_page(plain).relative_to(plain).as_posix())}")
        page.emulate_media(media="print")
        for selector in ("header.site nav", ".searchbox", ".zh-toggle", "nav.neighbours"):
            assert not page.locator(selector).first.is_visible(), selector
        assert page.locator("article h1").is_visible()


# The lines a piece of a paragraph's text covers: (distinct line tops, lines starting with
# a "·"). A footer shown by updated.css (::before, ::after) is copied into real text first.
LINES_OF = """([sel, piece]) => { const p = document.querySelector(sel);
  const probe = p.querySelector('.nm-fresh');
  if (probe) {  // the pseudo-elements' text, in spans with their style
    for (const side of ['::before', '::after']) {
      const style = getComputedStyle(probe, side);
      if (!style.content.startsWith('"')) continue;
      const span = document.createElement('span');
      span.textContent = JSON.parse(style.content);
      span.style.whiteSpace = style.whiteSpace;
      probe.appendChild(span); }
    probe.className = ''; }
  const texts = [], walk = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode()); ) texts.push(n);
  const all = texts.map(n => n.data).join(''), at = all.indexOf(piece);
  if (at < 0) return null;
  const point = i => { for (const n of texts) { if (i <= n.data.length) return [n, i];
    i -= n.data.length; } };
  const range = document.createRange();
  range.setStart(...point(at)); range.setEnd(...point(at + piece.length));
  const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
    .map(r => Math.round(r.top)));
  const left = p.getBoundingClientRect().left;
  let dots = 0;
  for (let i = all.indexOf('·'); i >= 0; i = all.indexOf('·', i + 1)) {
    const r = document.createRange(); r.setStart(...point(i)); r.setEnd(...point(i + 1));
    if (r.getBoundingClientRect().left - left < 2) dots++; }
  return [tops.size, dots]; }"""


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_footer_units_stay_whole_on_a_phone(browser, served, sites, scheme):
    """At 390 px the zone (北京时间（UTC+8）) stays with its time and 订阅：Atom / RSS stays
    whole; no line starts with a "·" (issue 9 screenshot review)."""
    plain, _, _ = sites
    article = pages.href(seed_page(plain).relative_to(plain).as_posix())
    with tab(browser, color_scheme=scheme, **PHONE) as page:
        for rel in ("index.html", article):
            page.goto(f"{served}/{rel}")
            fresh = page.evaluate(LINES_OF, ["footer.site .fresh", "北京时间（UTC+8）"])
            assert fresh is not None and fresh[0] == 1, (rel, fresh)
            links = "footer.site p:nth-of-type(2)"
            for piece in ("订阅：Atom / RSS", "其他镜像与离线阅读", "原文已删除"):
                lines, dots = page.evaluate(LINES_OF, [links, piece])
                assert lines == 1 and dots == 0, (rel, piece, lines, dots)
            assert page.evaluate(SIDEWAYS) == 0


class _SubpathHandler(SimpleHTTPRequestHandler):
    """A static host serving a site under /mirror/ with its 404.html for any missing URL
    (as GitHub Pages does for a project site)."""

    def log_message(self, *args: object) -> None:
        pass

    def send_error(self, code, message=None, explain=None):
        page = Path(self.directory) / "mirror" / "404.html"
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_under_mirror(site: Path, parent: Path) -> Iterator[str]:
    if not (parent / "mirror").exists():
        parent.mkdir(exist_ok=True)
        shutil.copytree(site, parent / "mirror")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_SubpathHandler, directory=parent))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


STYLED = "() => getComputedStyle(document.querySelector('main')).maxWidth"


def _check_404(page, url: str, home: str) -> None:
    response = page.goto(url)
    assert response.status == 404
    assert page.evaluate(STYLED) != "none"  # the stylesheet applied: main is a column
    assert page.locator("h1").inner_text() == "找不到这个页面"
    # The page finds the site's root by asking for its stylesheet: wait for the answer.
    page.wait_for_selector("html[data-root]", state="attached")
    page.click("main >> text=首页")
    page.wait_for_load_state("load")
    assert page.url == home
    assert page.locator("article, .entries").count() >= 1


@pytest.mark.browser
def test_404_is_styled_with_working_links_at_depth_three(browser, served, sites, tmp_path):
    plain, based, _ = sites
    with tab(browser) as page:
        _check_404(page, f"{served}/a/b/c/missing.html", f"{served}/index.html")
        with serve_under_mirror(plain, tmp_path / "host") as host:
            _check_404(page, f"{host}/mirror/a/b/c/x.html", f"{host}/mirror/index.html")
            _check_404(page, f"{host}/mirror/posts/2023/x.html", f"{host}/mirror/index.html")
    # With the site's address known, the links work without JavaScript too.
    with (
        tab(browser, java_script_enabled=False) as page,
        serve_under_mirror(based, tmp_path / "host2") as host,
    ):
        (tmp_path / "host2/news").symlink_to(tmp_path / "host2/mirror")
        response = page.goto(f"{host}/news/a/b/c/x.html")
        assert response.status == 404 and page.evaluate(STYLED) != "none"
        assert page.locator("main >> text=首页").get_attribute("href") == "/news/index.html"


def axe_script() -> Path:
    script = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed: cannot install axe-core (Debian: apt install npm)")
        AXE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(AXE_CACHE), f"axe-core@{AXE_VERSION}"],
            check=True,
            timeout=300,
        )
    return script


AXE = """async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => v.id + ": " + v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""


def page_types(site: Path) -> list[str]:
    """One page of each type: front and older listing pages, article pages (with an image,
    with a video), source, tag and archive listings and indexes, search, status, mirrors."""
    picks = ["index.html", "page/1.html", "sources/index.html", "tags/index.html"]
    picks += ["archive/index.html", "archive/2023/10.html", "archive/2023/10/29.html"]
    picks += ["search.html", "status.html", "mirrors.html"]
    picks += ["sources/大纪元/index.html", "tags/社会/index.html"]
    picks.append(seed_page(site).relative_to(site).as_posix())
    posts = [p.relative_to(site).as_posix() for p in content_pages(site) if "/posts/" in str(p)]
    picks.append(next(p for p in posts if "youtube.com/embed" in read(site / p)))
    picks.append(next(p for p in posts if "/media/" in read(site / p)))
    return picks


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_any_page_type(browser, served, sites, scheme):
    plain, _, _ = sites
    axe = axe_script()
    found = {}
    with tab(browser, color_scheme=scheme, viewport={"width": 1280, "height": 900}) as page:
        for rel in [*page_types(plain), "search.html?q=拜登", "nowhere/a/b.html"]:
            page.goto(f"{served}/{pages.href(rel).replace('%3F', '?').replace('%3D', '=')}")
            if "q=" in rel:
                page.wait_for_selector("#search-results li", timeout=15000)
            page.add_script_tag(path=str(axe))
            violations = page.evaluate(AXE)
            if violations:
                found[rel] = violations
    assert found == {}


@pytest.mark.browser
def test_dark_mode_screenshots(browser, served, sites, tmp_path):
    """Screenshots of the front and an article page, dark, at 1280 and 390 px, for a
    person to look at (saved to $NM_SCREENSHOTS when set); the page is dark throughout."""
    plain, _, _ = sites
    folder = Path(os.environ.get("NM_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    article = pages.href(seed_page(plain).relative_to(plain).as_posix())
    for width in (1280, 390):
        viewport = {"width": width, "height": 900}
        with tab(browser, color_scheme="dark", viewport=viewport) as page:
            for name, rel in (("home", "index.html"), ("article", article)):
                page.goto(f"{served}/{rel}")
                page.screenshot(path=str(folder / f"dark-{name}-{width}.png"), full_page=False)
                c = page.evaluate(COLOURS, ".searchbox input")
                assert max(c["page"][:3]) < 60 and min(c["fg"][:3]) > 150, c
