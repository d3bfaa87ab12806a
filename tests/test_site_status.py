"""The site's health in public: the status page and status.json, the mirrors page, and the
mirror's last update in every footer, kept incremental (an idle rebuild writes nothing)."""

from __future__ import annotations

import functools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CHROMIUM, CHROMIUM_FLAGS
from newsmirror.models import SourceHealth
from newsmirror.publish import status
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.store import Archive

GOOD = "健康源"
BAD = '坏源<img src=x onerror=alert(1)>"'
LONG = "https://bad.example/" + "长路径" * 30 + "/feed.xml"  # no place to break a line
ERROR = f"https://bad.example/feed: HTTP 503 <script>alert(1)</script>; {LONG}: timed out"
NOW = datetime(2024, 5, 10, 4, tzinfo=UTC)  # 12:00 in Beijing
# Articles of the healthy source by publication time (UTC). The chart shows whole days
# only: the 30 Beijing-time days before the day of the last update, 2024-04-10 to
# 2024-05-09 (so that more articles on the same day leave the status page as it is).
PUBLISHED = [
    datetime(2024, 5, 10, 1, tzinfo=UTC),  # the last update's day: not yet charted
    datetime(2024, 5, 9, 16, 30, tzinfo=UTC),  # 00:30 on 10 May in Beijing: not yet
    datetime(2024, 5, 9, 15, 30, tzinfo=UTC),  # 23:30 on 9 May in Beijing: the last day
    datetime(2024, 5, 9, 2, tzinfo=UTC),
    datetime(2024, 5, 8, 3, tzinfo=UTC),
    datetime(2024, 4, 9, 16, tzinfo=UTC),  # 00:00 on 10 April: the first day charted
    datetime(2024, 4, 9, 15, 59, tzinfo=UTC),  # 23:59 on 9 April: before the window
    datetime(2024, 5, 10, 16, tzinfo=UTC),  # 11 May in Beijing: after the last update's day
]
EXPECTED = [0] * 30
EXPECTED[0] = 1  # 04-10
EXPECTED[28] = 1  # 05-08
EXPECTED[29] = 2  # 05-09


def put(archive, source, url, when, now=NOW):
    archive.import_article(
        source=source,
        url=url,
        title=f"{source} {url[-3:]}",
        author="",
        content="<p>正文</p>",
        tags=[],
        published=when,
        date_known=True,
        published_raw="",
        jekyll_name="",
        now=now,
    )
    archive.conn.commit()


def make_archive(path: Path) -> Path:
    with Archive.open(path) as archive:
        for i, when in enumerate(PUBLISHED):
            put(archive, GOOD, f"https://good.example/{i:03d}", when, now=NOW - timedelta(days=1))
        put(archive, BAD, "https://bad.example/001", datetime(2024, 5, 1, tzinfo=UTC), NOW)
        archive.record_source_result(GOOD, ok=False, error="HTTP 404", now=NOW - timedelta(hours=1))
        archive.record_source_result(GOOD, ok=True, error=None, now=NOW)  # recovered
        archive.record_source_result(BAD, ok=True, error=None, now=NOW - timedelta(days=3))
        for hours in (2, 1):
            archive.record_source_result(
                BAD, ok=False, error=ERROR, now=NOW - timedelta(hours=hours)
            )
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("status")
    archive = make_archive(folder / "a.sqlite")
    site = folder / "site"
    mirrors = (
        ("GitHub Pages", "https://user.github.io/mirror/"),
        ("仓库", "https://codeberg.org/user/mirror"),
        ("自建", "https://git.example.org/team/mirror.git"),
        ("坏链接", "javascript:alert(1)"),
        ("空格", " javascript:alert(2)"),
    )
    with Archive.open(archive) as arc:
        build_site(arc, site, SiteOptions(search=False, mirrors=mirrors))
    return archive, site


def section(html: str, name: str) -> str:
    """The status page's section of one source (its name as the page shows it)."""
    for part in html.split('<section class="source-status')[1:]:
        if f">{name}</a>" in part.split("</h2>")[0] or f"{name} <span" in part:
            return part.split("</section>")[0]
    raise AssertionError(f"no section for {name}")


def escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    )


def test_status_page_shows_healthy_and_failing_sources(built):
    _, site = built
    html = (site / "status.html").read_text(encoding="utf-8")
    html5lib.HTMLParser(strict=True).parse(html)
    assert html.index(escaped(BAD)) < html.index(GOOD)  # the failing source first
    assert "共 2 个来源：<strong>1 个正在失败</strong>，1 个正常。" in html
    good = section(html, GOOD)
    assert "正常" in good and '<dd class="failures">0 次</dd>' in good
    assert '<time datetime="2024-05-10">2024-05-10（北京时间）</time>' in good  # last success
    assert "最近的错误" not in good
    bad = section(html, escaped(BAD))
    assert "连续失败 2 次" in bad and '<dd class="failures">2 次</dd>' in bad
    assert '<time datetime="2024-05-07">2024-05-07（北京时间）</time>' in bad  # last success
    assert "来源网站的服务器出错（HTTP 503），通常过一会儿会恢复" in bad
    assert "连接超时：来源网站没有及时响应" in bad
    assert "HTTP 503 &lt;script&gt;alert(1)&lt;/script&gt;" in bad
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "CST" not in html
    # The source's name links to its listing.
    link = re.search(r'<h2><a href="([^"]+)">' + re.escape(GOOD), html).group(1)
    assert (site / unquote(link)).is_file()


def chart_of(html: str, name: str) -> tuple[list[int], str, list[int]]:
    svg = re.search(r"<svg .*?</svg>", section(html, name), re.S).group(0)
    counts = [int(n) for n in re.findall(r'data-count="(\d+)"', svg)]
    heights = [int(h) for h in re.findall(r' height="(\d+)" data-count', svg)]
    return counts, svg, heights


def test_chart_numbers_are_the_articles_per_day(built):
    _, site = built
    html = (site / "status.html").read_text(encoding="utf-8")
    counts, svg, heights = chart_of(html, GOOD)
    assert counts == EXPECTED
    assert heights[29] == status.HEIGHT and heights[0] == round(status.HEIGHT / 2)
    assert all(h == 1 for h, n in zip(heights, counts, strict=True) if n == 0)
    label = re.search(r'aria-label="([^"]+)"', svg).group(1)
    assert "2024-04-10 至 2024-05-09" in label and "04-10 1，04-11 0" in label
    assert label.endswith("05-08 1，05-09 2；共 4 篇")
    assert re.search(r"<svg [^>]*>\s*<title>" + re.escape(label), svg)
    assert 'role="img"' in svg
    assert "共 4 篇</span>" in section(html, GOOD)
    bad_counts, _, _ = chart_of(html, escaped(BAD))
    assert bad_counts == [0] * 21 + [1] + [0] * 8  # 1 May


def test_more_articles_on_the_same_day_leave_the_status_page_as_it_was(tmp_path):
    # A run with new articles changed the status page every time (the last update to
    # the minute, today's bar, each source's total): now it changes once a day, or when
    # a source's health does; status.json still tells monitors the last update.
    archive = make_archive(tmp_path / "a.sqlite")
    site = tmp_path / "site"
    with Archive.open(archive) as arc:
        build_site(arc, site, SiteOptions(search=False))
        page, data = (site / "status.html").read_bytes(), (site / "status.json").read_bytes()
        later = NOW + timedelta(hours=3)
        put(arc, GOOD, "https://good.example/new", later, now=later)
        build_site(arc, site, SiteOptions(search=False))
        assert (site / "status.html").read_bytes() == page
        assert (site / "status.json").read_bytes() != data
        tomorrow = NOW + timedelta(days=1)
        put(arc, GOOD, "https://good.example/nxt", tomorrow, now=tomorrow)
        build_site(arc, site, SiteOptions(search=False))
    html = (site / "status.html").read_text(encoding="utf-8")
    assert chart_of(html, GOOD)[0] == [*EXPECTED[1:], 3]  # 10 May is a whole day now


def test_status_json_matches_the_page(built):
    _, site = built
    data = json.loads((site / "status.json").read_text(encoding="utf-8"))
    assert data["generated"] == "2024-05-10T04:00:00Z"
    assert data["days"][0] == "2024-04-10" and data["days"][-1] == "2024-05-09"
    assert len(data["days"]) == 30
    assert set(data["sources"]) == {GOOD, BAD}
    good, bad = data["sources"][GOOD], data["sources"][BAD]
    assert good["last_success_day"] == "2024-05-10"  # to the day: idle runs change nothing
    assert good["consecutive_failures"] == 0 and good["last_error"] is None
    assert good["articles_30d"] == EXPECTED
    assert bad["consecutive_failures"] == 2 and bad["last_error"] == ERROR
    assert bad["last_success_day"] == "2024-05-07"
    html = (site / "status.html").read_text(encoding="utf-8")
    assert bad["articles_30d"] == chart_of(html, escaped(BAD))[0]


def test_mirrors_page_links_http_mirrors_only(built):
    _, site = built
    html = (site / "mirrors.html").read_text(encoding="utf-8")
    html5lib.HTMLParser(strict=True).parse(html)
    links = re.findall(r'<a href="([^"]+)" rel="noopener">([^<]+)</a>', html)
    assert links == [
        ("https://user.github.io/mirror/", "GitHub Pages"),
        ("https://codeberg.org/user/mirror", "仓库"),
        ("https://git.example.org/team/mirror.git", "自建"),
    ]
    assert "javascript" not in html and "坏链接" not in html
    assert "git clone https://codeberg.org/user/mirror<" in html
    assert "git clone https://git.example.org/team/mirror.git<" in html
    assert "git clone https://user.github.io" not in html  # a web address is not a repository
    assert "index.html" in html and "没有配置其他镜像" not in html
    # Search works from a downloaded copy (script files, file://): the page says so.
    assert "离线时也能全文搜索" in html and "不能使用" not in html
    # Every page links to it and to the status page.
    for page in [site / "index.html", next((site / "posts").rglob("*.html"))]:
        text = page.read_text(encoding="utf-8")
        for name in ("mirrors.html", "status.html"):
            [link] = re.findall(r'href="([^"]*' + name + ')"', text)
            assert (page.parent / link).resolve() == (site / name).resolve()


def test_mirrors_page_without_mirrors_still_explains_offline_reading(tmp_path):
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, GOOD, "https://good.example/1", NOW)
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    html = (tmp_path / "site" / "mirrors.html").read_text(encoding="utf-8")
    assert "本站没有配置其他镜像地址" in html
    assert "git clone 仓库地址" in html and "<code>index.html</code>" in html
    assert 'rel="noopener"' not in html


def test_footer_shows_the_mirrors_last_update(built):
    _, site = built
    when = "2024-05-10 12:00 北京时间（UTC+8）"
    stamp = f'镜像最近更新：<time datetime="2024-05-10T04:00:00Z">{when}</time>'
    assert stamp in (site / "index.html").read_text(encoding="utf-8")
    css = (site / "updated.css").read_text(encoding="utf-8")
    assert '.nm-fresh::before { content: "镜像最近更新："; }' in css
    assert f'.nm-fresh::after {{ content: "{when}"; white-space: nowrap; }}' in css
    pages = [p for p in site.rglob("*.html") if p.name != "index.html"]
    pages += [site / "sources" / "index.html"]
    assert len(pages) > 10
    for page in pages:
        text = page.read_text(encoding="utf-8")
        footer = text.split('<footer class="site">')[1]
        assert '<span class="nm-fresh"></span>' in footer or stamp in footer, page
        [css_link] = re.findall(r'href="([^"]*updated\.css)"', text)
        start = site if css_link.startswith("/") else page.parent  # 404.html: from the root
        assert (start / css_link.lstrip("/")).resolve() == (site / "updated.css").resolve()
        assert "CST" not in footer


def mtimes(site: Path) -> dict[str, int]:
    return {
        p.relative_to(site).as_posix(): p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()
    }


def test_idle_rebuild_writes_nothing_and_a_fetch_rewrites_few_files(tmp_path):
    archive = make_archive(tmp_path / "a.sqlite")
    site = tmp_path / "site"
    options = SiteOptions(search=False, mirrors=(("m", "https://m.example/"),))
    with Archive.open(archive) as arc:
        build_site(arc, site, options)
        before = mtimes(site)
        again = build_site(arc, site, options)
        assert again.written == 0 and again.removed == 0
        assert mtimes(site) == before
        # An hour later the healthy source is fetched again, with nothing new: the
        # published site stays as it was (an idle run writes no file).
        arc.record_source_result(GOOD, ok=True, error=None, now=NOW + timedelta(hours=1))
        third = build_site(arc, site, options)
        assert third.written == 0 and mtimes(site) == before
        # The next day's success shows, on the status page and in status.json only.
        arc.record_source_result(GOOD, ok=True, error=None, now=NOW + timedelta(hours=24))
        build_site(arc, site, options)
    changed = {p for p, m in mtimes(site).items() if before.get(p) != m}
    assert changed == {"status.html", "status.json"}
    # A failed fetch is not an update: only the status files change.
    before = mtimes(site)
    with Archive.open(archive) as arc:
        arc.record_source_result(GOOD, ok=False, error="HTTP 404", now=NOW + timedelta(hours=26))
        build_site(arc, site, options)
    changed = {p for p, m in mtimes(site).items() if before.get(p) != m}
    assert changed == {"status.html", "status.json"}


names = st.text(alphabet=st.sampled_from("<>&\"'/=: \tjavascript()x中"), min_size=1, max_size=20)


@functools.lru_cache(maxsize=1)
def status_templates():
    from newsmirror.publish.templating import SiteInfo, Templates

    return Templates(SiteInfo("t", ""))


def local_tag(el) -> str:
    return el.tag.rsplit("}", 1)[-1]  # SVG elements come in the SVG namespace


@settings(max_examples=60, deadline=None)
@given(name=names, error=names)
def test_status_page_escapes_any_name_and_error(name, error):
    health = SourceHealth(name, True, 3, "2024-05-10T04:00:00.000Z", None, error, None, 2)
    win = status.window("2024-05-10T04:00:00.000Z")
    rows = status.status_rows([health], {name: {"2024-05-10": 3}}, win)
    rows[0]["href"] = None
    html = status_templates().render("status.html", "", rows=rows, updated=None, failing=1, days=30)
    doc = html5lib.parse(html, namespaceHTMLElements=False)
    main = doc.find(".//main")
    tags = {local_tag(el) for el in main.iter()}
    assert tags <= {
        "main", "h1", "p", "strong", "a", "section", "h2", "span", "dl", "dt", "dd",
        "svg", "title", "rect", "ul", "li", "br", "code", "time",
    }  # fmt: skip
    assert [el.text for el in main.iter("h2")] == [f"{name} "]
    [svg] = [el for el in main.iter() if local_tag(el) == "svg"]
    assert svg.get("aria-label").startswith(f"{name} 最近 30 天")
    assert local_tag(svg[0]) == "title" and svg[0].text == svg.get("aria-label")
    for el in main.iter():
        assert not any(k.lower().startswith("on") for k in el.attrib)
    if error.strip():
        details = [el.text for el in main.iter("code")]
        assert "; ".join(details) == "; ".join(p.strip() for p in error.split("; ") if p.strip())


FOOTER_TIME = """() => {
  const p = document.querySelector("footer .fresh"), css = p.querySelector(".nm-fresh");
  const shown = side => getComputedStyle(css, side).content.replace(/"/g, "").replace("none", "");
  return css ? shown("::before") + shown("::after") : p.textContent;
}"""


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
def test_status_and_mirrors_pages_fit_a_phone_from_disk(built):
    from playwright.sync_api import sync_playwright

    _, site = built
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context()
        outside: list[str] = []

        def from_disk_only(route):  # the pages must need nothing but their own folder
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", from_disk_only)
        tab = context.new_page()
        tab.set_viewport_size({"width": 390, "height": 800})
        post = next((site / "posts").rglob("*.html"))
        for page in (site / "status.html", site / "mirrors.html", site / "index.html", post):
            tab.goto(page.as_uri())
            wide = tab.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, (page, wide)
            fresh = tab.evaluate(FOOTER_TIME)  # as the reader sees it, CSS or not
            assert "镜像最近更新：2024-05-10 12:00 北京时间" in fresh, (page, fresh)
        tab.click("text=镜像状态")
        assert tab.url.endswith("/status.html")
        context.close()
        browser.close()
    assert outside == []


@settings(max_examples=200, deadline=None)
@given(
    url=st.one_of(
        st.text(alphabet=st.sampled_from("hts:/[]@%\"' <>\x00\x1f\u3000ab.gi#?"), max_size=30),
        st.builds("https://{}".format, st.text(max_size=20)),
    )
)
def test_mirror_list_never_fails_and_links_only_http_addresses(url):
    shown, refused = status.mirror_list([("名", url)])
    assert len(shown) + len(refused) == 1
    for mirror in shown:
        assert mirror["url"].startswith(("http://", "https://"))
        assert not re.search(r"[\s\x00-\x1f\x7f]", mirror["url"])


def test_a_mirror_url_that_does_not_parse_is_refused_not_fatal():
    shown, refused = status.mirror_list([("typo", "https://[x/"), ("ok", "https://a.org/")])
    assert [m["name"] for m in shown] == ["ok"] and refused == ["typo"]


def test_a_huge_error_text_from_a_server_is_cut_on_the_page_and_in_status_json():
    reason = "广告" * 5000  # a hostile server's reason phrase
    error = f"https://bad.example/a: HTTP 500 {reason}; https://bad.example/b: timed out"
    health = SourceHealth("坏源", True, 0, None, None, error, "2024-05-10T04:00:00.000Z", 2)
    rows = status.status_rows([health], {}, None)
    details = [e["detail"] for e in rows[0]["errors"]]
    assert len(details) == 2 and all(len(d) <= status.MAX_DETAIL for d in details)
    assert details[0].startswith("https://bad.example/a: HTTP 500 广告") and details[0][-1] == "…"
    assert details[1] == "https://bad.example/b: timed out"
    data = status.status_json(rows, None, None)["sources"]["坏源"]
    assert len(data["last_error"]) <= 2 * status.MAX_DETAIL
    assert "https://bad.example/b: timed out" in data["last_error"]


@pytest.mark.parametrize(
    ("states", "counts"),
    [
        (["正常", "正常"], []),  # "都正常"
        (["正常", "尚未抓取", "尚未抓取"], [(2, "个尚未抓取", True), (1, "个正常", False)]),
        (["已停用", "正常"], [(1, "个已停用", False), (1, "个正常", False)]),
        (["连续失败 2 次", "已停用"], [(1, "个正在失败", True), (1, "个已停用", False)]),
    ],
)
def test_the_summary_counts_sources_by_state(states, counts):
    # "共 12 个来源，都正常" was said of a mirror whose 9 starter sources were never fetched
    rows = [{"state": state, "failing": state.startswith("连续")} for state in states]
    assert status.state_counts(rows) == counts
