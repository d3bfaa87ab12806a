"""Links stay inside the mirror (issue 9, new 3): a link in an article to another archived
article's original URL opens that article's page in the mirror, the original URL kept in
``data-original``; the same in the Jekyll export. Real archives, real sanitiser, real files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urljoin

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import JEKYLL, jekyll_build
from newsmirror.clean import sanitize_article
from newsmirror.publish.internal_links import LinkMap, mentioning, rewrite
from newsmirror.publish.jekyll import export_jekyll, write_site_files
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.store import Archive

START = datetime(2024, 5, 1, tzinfo=UTC)
B_URL = "https://news.example/2024/05/b.html"
C_URL = "https://news.example/topic/c/"  # stored with a trailing slash
# How other articles link to B and C: as the archive's normalisation treats them, and the
# looser variants (scheme, trailing slash) a reader means as the same article.
VARIANTS = {
    f"{B_URL}?utm_source=feed&fbclid=abc": "B",
    "https://NEWS.example:443/2024/05/b.html#part2": "B",
    "http://news.example/2024/05/b.html": "B",
    "https://news.example/2024/05/b.html/": "B",
    "https://news.example/topic/c": "C",
    "http://news.example/topic/c/?utm_medium=x": "C",
}
UNKNOWN = ["https://news.example/2024/05/other.html", "https://elsewhere.example/b.html"]


def put(archive: Archive, url: str, title: str, body: str, hours: int, **kw: object) -> None:
    archive.import_article(
        source="源",
        url=url,
        title=title,
        author="",
        content=sanitize_article(body, base_url=url),
        tags=[],
        published=START + timedelta(hours=hours),
        date_known=True,
        published_raw="",
        jekyll_name=str(kw.get("jekyll_name", "")),
        now=START,
        imported_text=kw.get("imported_text"),  # type: ignore[arg-type]
    )
    archive.conn.commit()


def a_body(links: list[str]) -> str:
    items = "".join(f'<li><a href="{u}">链接{i}</a></li>' for i, u in enumerate(links))
    return f"<p>正文 &amp; 链接：</p><ul>{items}</ul>"


def anchors(page: Path) -> list[lxml.html.HtmlElement]:
    root = lxml.html.fromstring(page.read_text("utf-8"))
    return [a for a in root.iter("a") if "链接" in (a.text or "")]


def title_of(page: Path) -> str:
    return lxml.html.fromstring(page.read_text("utf-8")).findtext(".//h1").strip()


def page_with_title(site: Path, title: str) -> Path:
    return next(p for p in (site / "posts").rglob("*.html") if title_of(p) == title)


def archive_with_links(path: Path) -> Archive:
    archive = Archive.open(path)
    put(archive, B_URL, "B", "<p>B 的正文</p>", 0)
    put(archive, C_URL, "C", "<p>C 的正文</p>", 1)
    put(archive, "https://news.example/2024/05/a.html", "A", a_body([*VARIANTS, *UNKNOWN]), 2)
    return archive


# -- the static site ---------------------------------------------------------------------


def test_site_links_to_archived_articles_open_their_pages(tmp_path):
    site = tmp_path / "site"
    with archive_with_links(tmp_path / "a.sqlite") as archive:
        build_site(archive, site, SiteOptions(search=False))
    a_page = page_with_title(site, "A")
    links = anchors(a_page)
    assert len(links) == len(VARIANTS) + len(UNKNOWN)
    for link, (original, title) in zip(links[: len(VARIANTS)], VARIANTS.items(), strict=True):
        href = link.get("href")
        assert not href.startswith(("http", "/")), href  # relative: works from disk
        target = Path(unquote(urljoin(a_page.as_uri(), href.split("#")[0])[len("file://") :]))
        assert target.is_file(), href
        assert title_of(target) == title
        assert link.get("data-original") == original
    assert links[1].get("href").endswith("#part2")  # the fragment goes along
    for link, original in zip(links[len(VARIANTS) :], UNKNOWN, strict=True):
        assert link.get("href") == original  # unknown links stay as they are
        assert link.get("data-original") is None


def test_site_page_is_rewritten_when_its_link_target_arrives(tmp_path):
    site = tmp_path / "site"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "https://news.example/a", "A", a_body([B_URL]), 2)
        put(archive, "https://news.example/z", "Z", a_body(["https://e.example/z.html"]), 3)
        build_site(archive, site, SiteOptions(search=False))
        assert anchors(page_with_title(site, "A"))[0].get("href") == B_URL
        z_page = page_with_title(site, "Z")
        z_bytes = z_page.read_bytes()
        put(archive, B_URL, "B", "<p>B</p>", 4)  # B arrives later (newer: no neighbour moves)
        again = build_site(archive, site, SiteOptions(search=False))
        link = anchors(page_with_title(site, "A"))[0]
        assert link.get("data-original") == B_URL
        assert link.get("href") != B_URL
        assert z_page.read_bytes() == z_bytes  # a page without a link to B is left alone
        assert again.rendered_articles == 2  # B's page and A's, not Z's
        third = build_site(archive, site, SiteOptions(search=False))
        assert third.rendered_articles == 0


def test_site_link_goes_back_out_when_its_target_is_gone(tmp_path):
    site = tmp_path / "site"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, B_URL, "B", "<p>B</p>", 4)  # newer: A's neighbours stay as they are
        put(archive, "https://news.example/a", "A", a_body([B_URL]), 2)
        build_site(archive, site, SiteOptions(search=False))
        assert anchors(page_with_title(site, "A"))[0].get("data-original") == B_URL
        archive.conn.execute("DELETE FROM articles WHERE url = ?", (B_URL,))
        archive.conn.commit()
        build_site(archive, site, SiteOptions(search=False))
    link = anchors(page_with_title(site, "A"))[0]
    assert link.get("href") == B_URL and link.get("data-original") is None


# -- the rewrite itself ------------------------------------------------------------------

PAGES = LinkMap([(B_URL, "posts/2024/05/b.html"), (C_URL, "posts/2024/05/c.html")])


def test_loose_match_only_when_it_names_one_article():
    pages = LinkMap(
        [("http://x.example/a", "posts/http.html"), ("https://x.example/a", "posts/https.html")]
    )
    assert pages.page_of("http://x.example/a?utm_source=1") == "posts/http.html"
    assert pages.page_of("https://x.example/a#top") == "posts/https.html"
    assert pages.page_of("https://x.example/a/") is None  # which of the two? neither
    assert pages.page_of("https://x.example/b") is None


HOSTS = st.sampled_from(
    [
        "news.example",
        "NEWS.Example",
        "news.example.",
        "news.example:443",
        "u:p@news.example",
        "news.example:8080",
        "other.example",
        "新闻.example",
        "xn--efvy88h.example",
        "[::1]",
        "news%2Eexample",
        "news.example\\@evil.example",
    ]
)
PATHS = st.sampled_from(["/2024/05/b.html", "/2024/05/b.html/", "/topic/c", "/topic/c/", "/x"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["http", "https", "HTTPS"]), HOSTS, PATHS, HOSTS, PATHS)
def test_a_link_finds_its_article_whatever_the_spelling_of_its_host(
    scheme: str, stored_host: str, stored_path: str, host: str, path: str
) -> None:
    # The quick look at a link's host never hides an article the canonical form finds.
    from newsmirror.publish.internal_links import loose_key
    from newsmirror.urls import canonical_url

    stored = f"https://{stored_host}{stored_path}"
    pages = LinkMap([(stored, "posts/p.html"), ("https://unrelated.example/a", "posts/u.html")])
    url = f"{scheme}://{host}{path}"
    key = canonical_url(url)
    expected = pages.exact.get(key) or pages.loose.get(loose_key(key))
    assert pages.page_of(url) == expected
    if canonical_url(stored) == key:
        assert pages.page_of(url) == "posts/p.html"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " javascript:alert(1)",
        "JaVaScRiPt:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        "//news.example/2024/05/b.html",
        "/2024/05/b.html",
        "mailto:x@news.example",
        "news.example/2024/05/b.html",
    ],
)
def test_hostile_or_odd_hrefs_are_left_alone(href):
    everything = LinkMap([(B_URL, "posts/b.html")])
    body = f'<p><a href="{href}">x</a></p>'
    assert rewrite(body, lambda _u: "posts/b.html") == body  # whatever the map says
    assert rewrite(body, everything.page_of) == body


def test_a_link_that_already_has_data_original_is_not_touched():
    body = f'<a href="{B_URL}" data-original="javascript:alert(1)">x</a>'
    assert rewrite(body, PAGES.page_of, "../") == body


def test_attribute_special_characters_are_escaped():
    url = f'{B_URL}?utm_source=a\'b"c<e>&utm_medium=#x"y'  # tracking only: still B
    out = rewrite(f'<a title="t" href="{_esc(url)}">x</a>', PAGES.page_of, "../")
    (link,) = lxml.html.fragments_fromstring(out)
    assert link.get("href") == '../posts/2024/05/b.html#x"y'
    assert link.get("data-original") == url
    assert link.get("title") == "t"


_TEXT = st.text(alphabet=st.sampled_from("ab中文&<>\"' =/#?:\n"), max_size=12)
_HREF = st.sampled_from([*VARIANTS, *UNKNOWN, "javascript:alert(1)", "", "#top"]) | _TEXT


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_TEXT, _HREF, _TEXT), max_size=5), st.sampled_from(["", "../../"]))
def test_rewrite_never_changes_the_text_and_only_gives_pages_or_http(parts, prefix):
    body = "".join(
        f'<p>{_esc(before)}<a href="{_esc(href)}">{_esc(inner)}</a></p>'
        for before, href, inner in parts
    )
    out = rewrite(body, PAGES.page_of, prefix)
    if not body:
        assert out == ""
        return
    old, new = (lxml.html.fragment_fromstring(x, create_parent="div") for x in (body, out))
    assert new.text_content() == old.text_content()
    for before, after in zip(old.iter("a"), new.iter("a"), strict=True):
        original = after.get("data-original")
        if original is None:
            assert after.attrib == before.attrib
        else:
            assert original == before.get("href").strip()
            assert original.startswith(("http://", "https://"))
            assert after.get("href").startswith(prefix + "posts/2024/05/")


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


# -- the Jekyll export ----------------------------------------------------------------------


def post_links(tree: Path, title: str) -> tuple[Path, list[lxml.html.HtmlElement]]:
    post = next(p for p in (tree / "_posts").glob("*.md") if f'title: "{title}"' in p.read_text())
    body = post.read_text("utf-8").split("<div>", 1)[1]
    links = [a for a in lxml.html.fragment_fromstring(body, create_parent="div").iter("a")]
    return post, [a for a in links if "链接" in (a.text or "")]


def post_of(tree: Path, href: str) -> Path:
    """The post file serving ``href``, resolved from a post's page (/posts/NAME.html)."""
    page = urljoin("/posts/A.html", href.split("#")[0])
    assert page.startswith("/posts/") and page.endswith(".html"), page
    return tree / "_posts" / (unquote(page[len("/posts/") : -len(".html")]) + ".md")


def test_jekyll_links_to_archived_articles_open_their_posts(tmp_path):
    tree = tmp_path / "tree"
    with archive_with_links(tmp_path / "a.sqlite") as archive:
        export_jekyll(archive, tree)
    _post, links = post_links(tree, "A")
    assert len(links) == len(VARIANTS) + len(UNKNOWN)
    for link, (original, title) in zip(links[: len(VARIANTS)], VARIANTS.items(), strict=True):
        target = post_of(tree, link.get("href"))
        assert target.is_file(), link.get("href")
        assert f'title: "{title}"' in target.read_text("utf-8")
        assert link.get("data-original") == original
    for link, original in zip(links[len(VARIANTS) :], UNKNOWN, strict=True):
        assert link.get("href") == original and link.get("data-original") is None


def test_jekyll_post_is_rewritten_when_its_target_arrives(tmp_path):
    tree = tmp_path / "tree"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "https://news.example/a", "A", a_body([B_URL]), 2)
        put(archive, "https://news.example/z", "Z", a_body(UNKNOWN), 3)
        export_jekyll(archive, tree)
        z_post, _ = post_links(tree, "Z")
        z_bytes = z_post.read_bytes()
        put(archive, B_URL, "B", "<p>B</p>", 0)
        summary = export_jekyll(archive, tree)
        _post, (link,) = post_links(tree, "A")
        assert link.get("data-original") == B_URL
        assert post_of(tree, link.get("href")).is_file()
        assert z_post.read_bytes() == z_bytes
        assert summary.written == 2  # B's post and A's
        assert export_jekyll(archive, tree).written == 0


def test_verbatim_imported_post_keeps_its_bytes(tmp_path):
    tree = tmp_path / "tree"
    name = "2024-05-01-A.md"
    text = f'---\nlayout: post\ntitle: "A"\n---\n<div>\n<a href="{B_URL}">链接0</a>\n</div>\n'
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, B_URL, "B", "<p>B</p>", 0)
        body = f'<a href="{B_URL}">链接0</a>'
        put(archive, "https://news.example/a", "A", body, 2, jekyll_name=name, imported_text=text)
        export_jekyll(archive, tree)
    assert (tree / "_posts" / name).read_text("utf-8") == text


@pytest.mark.jekyll
@pytest.mark.slow
@pytest.mark.skipif(JEKYLL is None, reason="needs Debian jekyll")
def test_jekyll_site_serves_the_internal_link(tmp_path):
    tree = tmp_path / "tree"
    with archive_with_links(tmp_path / "a.sqlite") as archive:
        export_jekyll(archive, tree)
    write_site_files(tree)
    jekyll_build(tree, tree / "_site")
    a_page = next(
        p for p in (tree / "_site" / "posts").glob("*.html") if "链接0" in p.read_text("utf-8")
    )
    links = anchors(a_page)
    assert len(links) == len(VARIANTS) + len(UNKNOWN)
    for link, title in zip(links[: len(VARIANTS)], VARIANTS.values(), strict=True):
        target = a_page.parent / unquote(link.get("href").split("#")[0])
        assert target.is_file(), link.get("href")
        assert title_of(target) == title


B_URL = "https://news.example/2024/05/b.html"


def test_upper_case_anchor_tags_are_rewritten():
    # I11: <A HREF> (the regexes ignore case) is rewritten like <a href>
    pages = LinkMap([(B_URL, "posts/2024/05/b.html")])
    out = rewrite(f'<p><A HREF="{B_URL}">B</A></p>', pages.page_of)
    assert out == f'<p><A HREF="posts/2024/05/b.html" data-original="{B_URL}">B</A></p>'


def test_a_body_linking_to_the_decoded_url_is_found(tmp_path):
    # I12: a body that spells the link's path in Chinese (not percent-encoded) mentions it
    target = "https://news.example/新闻/稿件"
    with Archive.open(tmp_path / "a.sqlite") as archive:
        archive.import_article(
            source="源",
            url="https://news.example/a",
            title="A",
            author="",
            content=sanitize_article(
                f'<p><a href="{target}">链接</a></p>', base_url="https://news.example/a"
            ),
            tags=[],
            published=datetime(2024, 5, 1, tzinfo=UTC),
            date_known=True,
            published_raw="",
            jekyll_name="",
            now=datetime(2024, 5, 1, tzinfo=UTC),
            imported_text=None,
        )
        archive.conn.commit()
        (a_id,) = archive.conn.execute("SELECT id FROM articles").fetchone()
        assert "稿件" in archive.conn.execute("SELECT content FROM articles").fetchone()[0]
        assert mentioning(archive, [target]) == {a_id}


_PIECES = [*"ab中文é .-_~%+:@!$&'()*,;=\\\t", "%2F", "%E4%B8%AD", "%e4"]
_SEGMENT = st.lists(st.sampled_from(_PIECES), max_size=6).map("".join)


@st.composite
def _spellings(draw: st.DrawFn) -> tuple[str, str]:
    """A stored article URL and a link to it (or near it), spelt another way."""
    from urllib.parse import quote, unquote

    host = draw(st.sampled_from(["news.example", "NEWS.example", "其他.example", "[::1]"]))
    segments = draw(st.lists(_SEGMENT, min_size=0, max_size=3))
    path = "/" + "/".join(segments) + draw(st.sampled_from(["", "/", "//"]))
    stored = f"https://{host}{path}"
    spelt = draw(st.sampled_from([path, quote(path, safe="/%"), unquote(path), path.upper()]))
    link = (
        draw(st.sampled_from(["https://", "http://", "HTTPS://"]))
        + draw(st.sampled_from(["", "u:p@", "a@b@"]))
        + draw(st.sampled_from([host, host.upper(), "other.example"]))
        + draw(st.sampled_from(["", ":443", ":8080", ":"]))
        + spelt
        + draw(st.sampled_from(["", "/", "?utm_source=x", "?a=b+c", "#top", "?q#f", " ", "\u3000"]))
    )
    return stored, link


@settings(max_examples=600, deadline=None)
@given(st.lists(_spellings(), min_size=1, max_size=3), st.integers(0, 2))
def test_the_quick_looks_never_hide_an_article_the_canonical_form_finds(pairs, which):
    """may_name_one (host, then last path segment) says no only where the canonical and
    loose forms of the link find nothing."""
    from newsmirror.publish.internal_links import loose_key
    from newsmirror.urls import canonical_url

    pages = LinkMap([(stored, f"posts/{n}.html") for n, (stored, _) in enumerate(pairs)])
    link = pairs[which % len(pairs)][1]
    key = canonical_url(link)
    assert pages.page_of(link) == (pages.exact.get(key) or pages.loose.get(loose_key(key)))
