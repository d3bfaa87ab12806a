"""The static site: valid pages, no broken links, feeds that parse, incremental builds."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import feedparser
import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SEED
from newsmirror.demo.run import run_demo
from newsmirror.publish.site import HERE, SiteOptions, build_site
from newsmirror.store import Archive

LINK = re.compile(r'\s(?:href|src)="([^"]+)"')


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    run_demo(folder)
    site = folder / "public"
    with Archive.open(folder / "archive.sqlite") as archive:
        first = build_site(archive, site, SiteOptions(base_url="https://mirror.example/"))
    return folder, site, first


def html_files(site: Path) -> list[Path]:
    return list(site.rglob("*.html"))


def test_every_page_is_valid_html(demo):
    _, site, _ = demo
    parser = html5lib.HTMLParser(strict=True)
    for page in html_files(site):
        parser.parse(page.read_bytes())  # raises on any parse error


def test_no_broken_internal_link(demo):
    _, site, _ = demo
    checked = 0
    for page in html_files(site):
        for link in LINK.findall(page.read_text(encoding="utf-8")):
            parts = urlsplit(link)
            if parts.scheme or link.startswith(("#", "mailto:")):
                continue
            # 404.html links from the site's base path ("/" here): it is served at any depth.
            start = site if link.startswith("/") and page.name == "404.html" else page.parent
            target = (start / unquote(parts.path).lstrip("/")).resolve()
            assert target.exists(), f"{page.relative_to(site)} -> {link}"
            assert site.resolve() in target.parents or target == site.resolve()
            checked += 1
    assert checked > 500


def test_every_page_leads_to_the_edits_and_the_taken_down_pages(demo):
    """A reader finds 修改记录 and 原文已删除 from any page, at any depth."""
    _, site, _ = demo
    for page in [site / "index.html", *sorted((site / "posts").rglob("*.html"))[:3]]:
        text = page.read_text(encoding="utf-8")
        for folder, words in (("edits", "修改记录"), ("removed", "原文已删除")):
            found = re.search(rf'<a href="([^"]*{folder}/index\.html)">{words}</a>', text)
            assert found, (page, folder)
            assert (page.parent / found.group(1)).resolve().is_file()


def test_feeds_parse(demo):
    _, site, _ = demo
    feeds = list(site.rglob("feed.xml")) + list(site.rglob("rss.xml"))
    assert len(feeds) >= 10
    for feed in feeds:
        parsed = feedparser.parse(feed.read_bytes())
        assert not parsed.bozo, (feed, parsed.get("bozo_exception"))
        assert parsed.entries or feed.parent.name in ("edits", "removed"), feed  # none yet
    top = feedparser.parse((site / "feed.xml").read_bytes())
    assert any("拜登" in (e.get("content") or [{}])[0].get("value", "") for e in top.entries)


def test_cjk_names_work_on_disk_and_in_links(demo):
    _, site, _ = demo
    assert (site / "sources" / "大纪元" / "index.html").is_file()
    assert (site / "tags" / "中美关系" / "index.html").is_file()
    assert (site / "tags" / "中美关系" / "feed.xml").is_file()
    tag_page = (site / "tags" / "社会" / "index.html").read_text(encoding="utf-8")
    # Two sources carry the tag: 8 + 3 articles, ten a page (the newest ten in front).
    assert tag_page.count("<li>") == 10
    older = (site / "tags" / "社会" / "page" / "1.html").read_text(encoding="utf-8")
    assert older.count("<li>") == 10 and (
        'href="../../tags/%E7%A4%BE%E4%BC%9A/page/1.html"' in tag_page
    )
    index = (site / "sources" / "index.html").read_text(encoding="utf-8")
    assert 'href="../sources/%E5%A4%A7%E7%BA%AA%E5%85%83/index.html"' in index


def test_seed_article_page_shows_full_content_and_local_time(demo):
    _, site, _ = demo
    seed_body = SEED.read_text(encoding="utf-8").split("<div>\n", 1)[1].rsplit("\n</div>")[0]
    pages = [p for p in (site / "posts" / "2023" / "10").glob("*.html")]
    [page] = [p for p in pages if "拜登习近平11月会谈" in p.read_text(encoding="utf-8")]
    text = page.read_text(encoding="utf-8")
    assert seed_body in text
    assert "2023-10-29 11:36 北京时间" in text and "原文" in text
    assert "https://www.epochtimes.com/gb/23/10/29/n14105166.htm" in text


def test_pages_load_nothing_from_other_hosts(demo):
    _, site, _ = demo
    for page in html_files(site):
        html = page.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html):
            src = re.search(r'\s(?:src|href)="([^"]+)"', tag)
            if src and 'rel="alternate"' not in tag and 'rel="canonical"' not in tag:
                url = src.group(1)
                assert (
                    not url.startswith(("http://", "https://", "//")) or "youtube.com/embed/" in url
                ), (page, tag)


def test_local_images_and_search_index(demo):
    _, site, first = demo
    assert list((site / "media").rglob("*.png"))
    assert (site / "search" / "manifest.js").is_file()
    assert not (site / "pagefind").exists()
    assert first.search_pages == 0  # the demo built the index: nothing new to index
    assert '"docs":' in (site / "search" / "manifest.js").read_text()
    search = (site / "search.html").read_text(encoding="utf-8")
    # No "needs a web server" notice (search works from file://); one line without JavaScript.
    assert "newsmirror serve" not in search and "<noscript>" in search
    for script in ("search-index.js", "search.js"):
        assert (site / script).read_bytes() == (HERE / "static" / script).read_bytes()


def test_sitemap_and_robots(demo):
    _, site, _ = demo
    # An index of sitemaps by day of publication and by section (issue 8: a run rewrites
    # the sitemaps of its days, not one list of every page).
    index = (site / "sitemap.xml").read_text(encoding="utf-8")
    maps = re.findall(r"<loc>https://mirror\.example/(sitemaps/[^<]+\.xml)</loc>", index)
    assert maps and index.count("<loc>") == len(maps)
    urls = "".join((site / m).read_text(encoding="utf-8") for m in maps)
    assert urls.count("<loc>https://mirror.example/") > 50
    assert urls.count("<loc>https://mirror.example/posts/") == urls.count("/posts/")
    # Listings' front pages are listed, their older pages are not (reached by their links:
    # a page that starts in a run would rewrite its section's sitemap).
    assert "https://mirror.example/tags/%E7%A4%BE%E4%BC%9A/index.html" in urls
    assert (site / "tags/社会/page/1.html").is_file() and "/page/" not in urls
    assert "Sitemap: https://mirror.example/sitemap.xml" in (site / "robots.txt").read_text()
    assert (site / "404.html").is_file()


def test_incremental_build_touches_only_what_changed(demo, tmp_path):
    folder, site, _ = demo
    mtimes = {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}
    with Archive.open(folder / "archive.sqlite") as archive:
        again = build_site(archive, site, SiteOptions(base_url="https://mirror.example/"))
    assert again.written == 0 and again.removed == 0 and again.rendered_articles == 0
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()} == mtimes
    # One new article: its page, its neighbours, listings and feeds change; old pages don't.
    with Archive.open(folder / "archive.sqlite") as archive:
        from datetime import UTC, datetime

        from newsmirror.models import Entry, FeedState

        archive.ensure_source("大纪元")
        now = datetime.now(UTC)
        entry = Entry(
            "https://www.epochtimes.com/gb/new.htm",
            "",
            "新文章标题",
            "记者",
            "<p>新文章的内容。</p>",
            now,
            "",
        )
        archive.store_entries(
            "大纪元", "https://x/feed", [entry], state=FeedState(), started=now, now=now
        )
        third = build_site(archive, site, SiteOptions(base_url="https://mirror.example/"))
    assert third.rendered_articles == 1  # the new one: pages link only to older ones
    changed = [p for p, m in mtimes.items() if p.exists() and p.stat().st_mtime_ns != m]
    old_posts = [p for p in changed if "posts" in p.parts]
    assert old_posts == []
    assert len([p for p in site.rglob("*.html") if "posts" in p.parts]) == 29


def test_a_base_url_set_or_dropped_later_reaches_every_page(demo, tmp_path):
    # The pages a build keeps (their stamps unchanged) must follow base_url too: a site
    # first built without one got no canonical link when `build --base-url` came later.
    folder, _, _ = demo
    base = "https://later.example/m/"

    def canonicals(site: Path) -> dict[str, str | None]:
        out = {}
        for path in html_files(site):
            found = re.search(r'<link rel="canonical" href="([^"]*)"', path.read_text("utf-8"))
            out[path.relative_to(site).as_posix()] = unquote(found.group(1)) if found else None
        return out

    with Archive.open(folder / "archive.sqlite") as archive:
        build_site(archive, tmp_path / "fresh", SiteOptions(base_url=base))
        fresh = canonicals(tmp_path / "fresh")  # 404 and listing stubs have none
        assert sum(v is not None for v in fresh.values()) > 60
        assert all(v == base + page for page, v in fresh.items() if v is not None)
        site = tmp_path / "site"
        build_site(archive, site, SiteOptions())
        assert not any(canonicals(site).values())
        build_site(archive, site, SiteOptions(base_url=base))
        assert canonicals(site) == fresh
        build_site(archive, site, SiteOptions())
        assert not any(canonicals(site).values())


def test_pagination_is_stable_when_articles_are_added():
    from newsmirror.publish.pages import Entry, paginate

    def entries(n):
        return [
            Entry(i, f"posts/{i}.html", f"t{i}", "s", "u", "2024", "x", "m", ())
            for i in reversed(range(n))
        ]  # newest first

    before = {path: [e.id for e in chunk] for path, chunk, _ in paginate("", entries(230), 50)}
    after = {path: [e.id for e in chunk] for path, chunk, _ in paginate("", entries(245), 50)}
    assert before["page/1.html"] == list(reversed(range(50)))  # the oldest, forever
    changed = [p for p in after if before.get(p) != after[p]]
    assert changed == ["index.html"]  # only the front page
    assert after["index.html"] == list(reversed(range(195, 245)))
    grown = {path: [e.id for e in chunk] for path, chunk, _ in paginate("", entries(260), 50)}
    assert [p for p in grown if before.get(p) != grown[p]] == ["index.html", "page/5.html"]


def test_serve_command_serves_the_site(demo):
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    _, site, _ = demo
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsmirror", "serve", str(site), "-p", str(port)],
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/sources/%E5%A4%A7%E7%BA%AA%E5%85%83/index.html"
                ) as r:
                    assert "大纪元" in r.read().decode("utf-8")
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("newsmirror serve did not answer")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- names that map to one folder ------------------------------------------------------

WINDOWS_BAD = set('<>:"/\\|?*') | {chr(c) for c in range(32)}
WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{d}{i}" for d in ("com", "lpt") for i in range(10)
}


def put(archive, source, url, title="t", tags=(), when=None, author=""):
    from datetime import UTC, datetime

    when = when or datetime(2024, 3, 1, tzinfo=UTC)
    archive.import_article(
        source=source,
        url=url,
        title=title,
        author=author,
        content=f"<p>{title}</p>",
        tags=list(tags),
        published=when,
        date_known=True,
        published_raw="",
        jekyll_name="",
        now=when,
    )
    archive.conn.commit()


def site_files(site):
    return [p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()]


def assert_valid_everywhere(paths):
    folded = {}
    for path in paths:
        key = path.casefold()
        assert key not in folded, (path, folded.get(key))
        folded[key] = path
        for part in path.split("/"):
            assert part and not WINDOWS_BAD & set(part), path
            assert part == part.strip(" ."), path
            assert part.split(".")[0].strip().casefold() not in WINDOWS_RESERVED, path
            assert len(part.encode("utf-8")) <= 255, path


def heading(page):
    return re.search(r"<h1>(.*?)</h1>", page.read_text(encoding="utf-8")).group(1)


def test_names_that_map_to_one_folder_all_get_their_own(tmp_path):
    from datetime import UTC, datetime, timedelta

    start = datetime(2024, 3, 1, tzinfo=UTC)
    sources = ["新闻:一", "新闻/一", "RFA", "RFA.", "rfa", "CON", "a" * 300]
    tags = ["a/b", "a:b", "A/B", "nul.txt", " x. "]
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for i, source in enumerate(sources):
            put(archive, source, f"https://e.org/{i}", f"标题{i}", tags, start + timedelta(hours=i))
        summary = build_site(archive, tmp_path / "site", SiteOptions(search=False))
        site = tmp_path / "site"
        files = site_files(site)
        assert_valid_everywhere(files)
        shown = {
            heading(site / p) for p in files if re.fullmatch(r"(sources|tags)/[^/]+/index\.html", p)
        }
        assert shown == {f"来源：{s}" for s in sources} | {f"标签：{t}" for t in tags}
        posts = [p for p in files if p.startswith("posts/")]
        assert len(posts) == len(sources)
        assert summary.written == len(files)
        # Stable: the same archive gives the same names, and a new colliding name (added
        # later) leaves every existing folder where it was.
        before = sorted(files)
        build_site(archive, tmp_path / "again", SiteOptions(search=False))
        assert sorted(site_files(tmp_path / "again")) == before
        put(
            archive, "新闻?一", "https://e.org/new", "新", ["a?b", "a/B"], start - timedelta(days=9)
        )
        build_site(archive, site, SiteOptions(search=False))
        after = site_files(site)
        assert_valid_everywhere(after)
        folders = {p for p in before if p.startswith(("sources/", "tags/"))}
        assert folders <= set(after)
        for path in folders:
            if path.endswith("/index.html") and path.count("/") == 2:
                assert heading(site / path) in shown


NAME_CHARS = st.sampled_from(
    [*'/:.\\*?"<>| ', "a", "A", "s", "S", "ſ", "ß", "K", "\u212a", "新", "闻", "\u0301", "é", "\t"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(NAME_CHARS, min_size=1, max_size=12), min_size=1, max_size=12, unique=True))
def test_generated_folders_are_distinct_valid_and_stable(names):
    from newsmirror.publish.pages import unique_folders

    ranks = {name: i for i, name in enumerate(names)}
    folders = unique_folders(ranks)
    assert set(folders) == set(names)
    assert_valid_everywhere(folders.values())
    assert unique_folders(dict(reversed(ranks.items()))) == folders  # order does not matter
    # A name seen later never moves the folders of the names seen before it.
    earlier = unique_folders(dict(list(ranks.items())[:-1]))
    assert all(folders[name] == folder for name, folder in earlier.items())


def test_pages_that_would_share_a_path_get_their_own():
    from newsmirror.publish.pages import Entry, unique_paths

    def entry(i, source):
        return Entry(i, "posts/2024/01/abc.html", "t", source, "https://e.org/x", "", "", "", ())

    first = unique_paths([entry(3, "b"), entry(1, "a")])
    assert [e.path for e in first][1] == "posts/2024/01/abc.html"  # the oldest keeps it
    moved = first[0].path
    assert moved != "posts/2024/01/abc.html" and moved.startswith("posts/2024/01/")
    again = unique_paths([entry(7, "c"), entry(3, "b"), entry(1, "a")])
    assert [e.path for e in again][1:] == [e.path for e in first]  # nothing moves
    assert len({e.path for e in again}) == 3


# -- an interrupted build ----------------------------------------------------------------


def processes_mentioning(text):
    """(pid, cmdline) of every process whose command line mentions ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append((int(proc.name), cmdline))
    return found


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory):
    """Enough articles that the search indexer runs for a moment."""
    from datetime import UTC, datetime, timedelta

    path = tmp_path_factory.mktemp("big") / "archive.sqlite"
    start = datetime(2023, 1, 1, tzinfo=UTC)
    body = "".join(
        f"<p>第{i}段：新闻自由与言论自由是开放社会的基石，记者记录历史。</p>" for i in range(20)
    )
    with Archive.open(path) as archive:
        for i in range(600):
            archive.import_article(
                source=f"来源{i % 5}",
                url=f"https://e.org/{i}",
                title=f"标题{i}",
                author="",
                content=body,
                tags=[],
                published=start + timedelta(hours=i),
                date_known=True,
                published_raw="",
                jekyll_name="",
                now=start,
            )
        archive.conn.commit()
    return path


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("signum", [15, 2], ids=["SIGTERM", "SIGINT"])
def test_interrupted_build_leaves_no_indexer_and_no_scratch(tmp_path, big_archive, signum):
    import os
    import subprocess
    import sys
    import time

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "public"
    build = subprocess.Popen(
        [sys.executable, "-m", "newsmirror", "--archive", str(big_archive), "build", str(out)],
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(scratch.glob("nm-search-*")):
            assert build.poll() is None, build.communicate()
            assert time.monotonic() < deadline, "the indexer never started"
            time.sleep(0.005)
        build.send_signal(signum)
        _, stderr = build.communicate(timeout=60)
    finally:
        if build.poll() is None:
            build.kill()
    assert build.returncode != 0
    assert b"Traceback" not in stderr, stderr.decode()
    time.sleep(0.2)
    assert processes_mentioning(str(out)) == []
    assert list(scratch.iterdir()) == []


# -- neighbours, restored files, months ------------------------------------------------


def nav_links(page):
    """(rel or class, href, text) of the neighbour links of an article page."""
    text = page.read_text(encoding="utf-8")
    navs = re.findall(r'<nav class="neighbours[^"]*"[^>]*>(.*?)</nav>', text, re.S)
    return [re.findall(r'<a (?:rel="(\w+)" )?href="([^"]+)">([^<]*)</a>', nav) for nav in navs]


def test_article_pages_link_to_their_neighbours(tmp_path):
    from datetime import UTC, datetime, timedelta

    start = datetime(2024, 5, 1, tzinfo=UTC)
    order = ["甲", "乙", "甲", "甲", "乙"]  # sources, oldest first
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for i, source in enumerate(order):
            put(archive, source, f"https://e.org/{i}", f"第{i}篇", (), start + timedelta(hours=i))
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    site = tmp_path / "site"
    page_of = {}
    for page in (site / "posts").rglob("*.html"):
        page_of[heading(page)] = page
    for i in range(len(order)):
        page = page_of[f"第{i}篇"]
        overall, *rest = nav_links(page)
        within = rest[0] if rest else []  # only with an older article in the source
        # Newer articles: the front page and the source's listing (a page never changes
        # when a newer article arrives); the older neighbours by name.
        older = f"第{i - 1}篇" if i else None
        expected = [("prev", "← 最新文章")] + ([("next", f"{older} →")] if older else [])
        assert [(rel, text) for rel, _, text in overall] == expected, i
        assert heading(page.parent / unquote(overall[0][1])) == "最新文章"  # the front page
        if within:
            assert heading(page.parent / unquote(within[0][1])) == f"来源：{order[i]}"
        for _, link, text in overall[1:] + within[1:]:
            target = (page.parent / unquote(link)).resolve()
            assert heading(target) == text.strip("← →"), (i, link, text)
        same = [j for j, s in enumerate(order) if s == order[i]]
        k = same.index(i)
        want = [f"← {order[i]}的最新文章", f"第{same[k - 1]}篇 →"] if k else []
        assert [text for _, _, text in within] == want, i


def test_an_article_page_never_changes_when_newer_articles_arrive(tmp_path):
    from datetime import UTC, datetime, timedelta

    start = datetime(2024, 5, 1, tzinfo=UTC)
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for i in range(3):
            put(archive, "甲", f"https://e.org/{i}", f"第{i}篇", (), start + timedelta(hours=i))
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
        posts = {p: p.read_bytes() for p in (tmp_path / "site/posts").rglob("*.html")}
        put(archive, "甲", "https://e.org/3", "第3篇", (), start + timedelta(hours=3))
        again = build_site(archive, tmp_path / "site", SiteOptions(search=False))
    assert again.rendered_articles == 1
    assert {p: p.read_bytes() for p in posts} == posts


def test_deleted_output_files_come_back(tmp_path):

    with Archive.open(tmp_path / "a.sqlite") as archive:
        for i in range(3):
            put(archive, "源", f"https://e.org/{i}", f"第{i}篇", ["标签"])
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
        site = tmp_path / "site"
        whole = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
        victims = [
            next((site / "posts").rglob("*.html")),
            site / "index.html",
            site / "sources" / "源" / "index.html",
            site / "tags" / "标签" / "feed.xml",
            site / "archive" / "2024" / "03.html",
            site / "style.css",
        ]
        for victim in victims:
            victim.unlink()
        again = build_site(archive, site, SiteOptions(search=False))
    assert again.written == len(victims)
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == whole


def test_months_are_those_of_the_source_time_zone(tmp_path):
    from datetime import UTC, datetime

    from newsmirror.config import Source

    with Archive.open(tmp_path / "a.sqlite") as archive:
        archive.sync_sources(
            [
                Source(name="上海", feeds=("https://e.org/f1",), timezone="Asia/Shanghai"),
                Source(name="伦敦", feeds=("https://e.org/f2",), timezone="UTC"),
            ]
        )
        # 2024-01-31T20:00Z is 1 February in Shanghai; the sources interleave around it.
        put(
            archive,
            "上海",
            "https://e.org/1",
            "上海二月一",
            when=datetime(2024, 1, 31, 20, tzinfo=UTC),
        )
        put(
            archive,
            "伦敦",
            "https://e.org/2",
            "伦敦一月",
            when=datetime(2024, 1, 31, 19, tzinfo=UTC),
        )
        put(
            archive,
            "上海",
            "https://e.org/3",
            "上海二月二",
            when=datetime(2024, 1, 31, 18, tzinfo=UTC),
        )
        put(
            archive,
            "上海",
            "https://e.org/4",
            "上海一月",
            when=datetime(2024, 1, 31, 15, tzinfo=UTC),
        )
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
    archive_dir = tmp_path / "site" / "archive" / "2024"
    # A month's page lists its days; each day's page its articles (issue 8: a run rewrites
    # today's page, not a month of entries).
    assert "2024年02月01日" in archive_dir.joinpath("02.html").read_text(encoding="utf-8")
    february, january = (
        "".join(p.read_text(encoding="utf-8") for p in sorted((archive_dir / m).glob("*.html")))
        for m in ("02", "01")
    )
    assert "上海二月一" in february and "上海二月二" in february
    assert "伦敦一月" not in february and "上海一月" not in february
    assert "伦敦一月" in january and "上海一月" in january and "上海二月" not in january
    page = next(
        p for p in (tmp_path / "site" / "posts").rglob("*.html") if heading(p) == "上海二月一"
    )
    assert "2024-02-01 04:00 北京时间" in page.read_text(encoding="utf-8")


def _entry(id_, source="S", path="", tags=(), month="2024年01月", url="https://e.org/x"):
    from newsmirror.publish.pages import Entry

    return Entry(id_, path or f"posts/{id_}.html", f"t{id_}", source, url, "", "", month, tags)


def test_listing_pages_link_to_each_other_exactly():
    from newsmirror.publish.pages import Pager, newest_stub, page_path, paginate

    entries = [_entry(i) for i in range(124, -1, -1)]  # newest first
    pages = paginate("标签/", entries, per_page=50)
    assert [(path, [e.id for e in items][:2], pager) for path, items, pager in pages] == [
        ("标签/index.html", [124, 123], Pager(3, None, "%E6%A0%87%E7%AD%BE/page/2.html")),
        ("标签/page/1.html", [49, 48], Pager(1, "%E6%A0%87%E7%AD%BE/page/2.html", None)),
        (
            "标签/page/2.html",
            [99, 98],
            # the newest full page links to the stub at the front page's chunk: when
            # the next page starts, this one keeps its bytes
            Pager(2, "%E6%A0%87%E7%AD%BE/page/3.html", "%E6%A0%87%E7%AD%BE/page/1.html"),
        ),
    ]
    assert [len(items) for _, items, _ in pages] == [50, 50, 50]
    assert newest_stub("标签/", entries, 50) == "标签/page/3.html"
    assert newest_stub("标签/", entries[:50], 50) is None  # one page: nothing links there
    assert [p for _, _, p in paginate("a/", entries[:3], per_page=2)] == [
        Pager(2, None, "a/page/1.html"),
        Pager(1, "a/page/2.html", None),  # the stub, which leads to the front
    ]
    assert [p for _, _, p in paginate("a/", entries[:2], per_page=2)] == [Pager(1, None, None)]
    assert [p for _, _, p in paginate("a/", [])] == [Pager(0, None, None)]
    assert (page_path("a/"), page_path("a/", 2)) == ("a/index.html", "a/page/2.html")


def test_page_and_folder_names_are_exact_and_stable():
    import hashlib

    from newsmirror.publish.pages import folders, href, month_groups, segment, unique_folders

    def d(text, size):
        return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:size]

    assert href("标签/a b#?%") == "%E6%A0%87%E7%AD%BE/a%20b%23%3F%25"
    assert segment("a/b:c") == "a-b-c"
    assert (segment(" .a. "), segment("..."), segment("con.txt"), segment("COM1.txt")) == (
        "a",
        "-",
        "con-.txt",
        "COM1-.txt",
    )
    assert segment("字" * 100) == "字" * 66  # 200 bytes, no half character
    assert unique_folders({"A" * 250: 0, "a" * 250: 1}) == {
        "A" * 250: "A" * 200,
        "a" * 250: "a" * 191 + "-" + d("a" * 250, 8),
    }
    d8, d16, d40 = (f"X-{d('X', n)}" for n in (8, 16, 40))
    names = {"x": 0, "X": 1, d8: 2}
    assert unique_folders(names)["X"] == d16
    assert unique_folders(names | {d16: 3})["X"] == d40
    lone = "a\ud800"
    assert unique_folders({"a-": 0, lone: 1})[lone] == f"a--{d(lone, 8)}"
    entries = [
        _entry(1, "a", tags=("t",)),  # seen first, though "A" sorts first
        _entry(5, "A", tags=("T",)),
        _entry(9, "a", tags=("t",)),
    ]
    found = folders(entries)
    assert (found.sources["a"], found.sources["A"]) == ("a", f"A-{d('A', 8)}")
    assert (found.tags["t"], found.tags["T"]) == ("t", f"T-{d('T', 8)}")
    months = month_groups(
        [
            _entry(3, month="2024年01月"),
            _entry(2, month="2023年12月"),
            _entry(1, month="2024年01月"),
        ]
    )
    assert [(m, [e.id for e in es]) for m, es in months] == [
        ("2024年01月", [3, 1]),
        ("2023年12月", [2]),
    ]


def test_pages_sharing_a_path_get_hashed_paths_by_size():
    import hashlib

    from newsmirror.publish.pages import article_path, unique_paths

    def d(size):
        return hashlib.sha1(b"S2\nhttps://e.org/u").hexdigest()[:size]

    same = "posts/2024/01/aaa.html"
    one = _entry(1, "S1", same, url="https://e.org/u")
    two = _entry(2, "S2", same, url="https://e.org/u")
    assert unique_paths([two, one])[0].path == f"posts/2024/01/{d(12)}.html"
    grown = [one, two]
    for i, want in enumerate([d(20), d(40), f"{d(40)}-2"]):
        taken = _entry(3 + i, "S3", f"posts/2024/01/{[d(12), d(20), d(40)][i]}.html")
        grown.append(taken)
        assert unique_paths(grown)[1].path == f"posts/2024/01/{want}.html"
    from datetime import UTC, datetime

    from newsmirror.models import ArticleRecord

    when = datetime(2024, 3, 2, tzinfo=UTC)
    record = ArticleRecord(
        1, "s", "UTC", "https://e.org/新", "t", "", "", (), when, True, when, 1, None
    )
    assert (
        article_path(record)
        == "posts/2024/03/" + hashlib.sha1("https://e.org/新".encode()).hexdigest()[:12] + ".html"
    )
