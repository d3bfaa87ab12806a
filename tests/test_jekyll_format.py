"""The post format contract: the seed byte for byte, valid YAML, valid file names."""

from __future__ import annotations

import hashlib
import string
import unicodedata
from datetime import UTC, datetime

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from conftest import SEED, Reply, make_config, rss, seed_item
from newsmirror.pipeline import update
from newsmirror.publish.jekyll import export_jekyll
from newsmirror.publish.postformat import (
    disambiguated,
    localise_images,
    post_filename,
    render_post,
    valid_filename,
    yaml_quoted,
    yaml_scalar,
)
from newsmirror.store import Archive, ArticleRecord

SEED_NAME = "2023-10-29-分析：拜登习近平11月会谈的背后原因.md"


def article(
    title: str = "t",
    author: str = "a",
    url: str = "https://example.org/a",
    source: str = "src",
    content: str = "<p>x</p>",
) -> ArticleRecord:
    when = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    return ArticleRecord(
        1, source, "Asia/Shanghai", url, title, author, content, (), when, True, when, 1, None
    )


def front_matter(post: str) -> dict[str, object]:
    head = post.split("---\n")[1]
    return yaml.safe_load(head)  # type: ignore[no-any-return]


def test_seed_feed_item_gives_byte_identical_post(tmp_path, server):
    server.route(
        "/feed.xml", Reply(body=rss([seed_item()]), headers={"Content-Type": "application/rss+xml"})
    )
    config = make_config(tmp_path, [("大纪元", [server.url + "/feed.xml"])])
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
        assert summary.new == 1
        export_jekyll(archive, tmp_path / "out")
    files = list((tmp_path / "out/_posts").iterdir())
    assert [f.name for f in files] == [SEED_NAME]
    assert files[0].read_bytes() == SEED.read_bytes()


def test_render_post_layout():
    post = render_post(article(title="标题", author="作者", source="来源"))
    assert post.startswith(
        '---\nlayout: post\ntitle: "标题"\ndate: 2024-01-02T03:04:05.678Z\n'
        "author: 作者\nfrom: https://example.org/a\ntags: [ 来源 ]\n"
        "comments: True\ncategories: [ 来源 ]\n---\n<!--1704164645678-->\n"
        "[标题](https://example.org/a)\n------\n\n<div>\n<p>x</p>\n</div>\n"
    )


NASTY_TITLES = [
    'He said "no"',
    "back\\slash \\n",
    "colon: here",
    "# hash",
    "- dash",
    "* star",
    "[bracket",
    "& amp",
    "! bang",
    "yes",
    "null",
    "123",
    "2024-01-01",
    "tab\there",
    "ctrl\x07\x1b",
    "line\nbreak",
    "emoji 🎉🇹🇼",
    "{{ liquid }}",
    "{% raw %}",
    "@at",
    "%percent",
    "'quote'",
    "trailing ",
    " leading",
    "\u2028sep",
    "nbsp\u00a0",
    "\x85nel",
]


def test_nasty_titles_round_trip_through_yaml():
    for title in NASTY_TITLES:
        post = render_post(article(title=title, author=title, source=title.strip() or "s"))
        data = front_matter(post)
        assert data["title"] == title, title
        assert data["author"] == title, title
        assert data["tags"] == [title.strip() or "s"], title


def test_liquid_and_kramdown_syntax_in_content_are_neutralised():
    content = '<p>{{ page.title }} {% if %}</p><p>{: onclick="x()"} {::nomarkdown}</p>'
    post = render_post(article(title="{{ site.x }}", content=content))
    body = post.split("---\n", 2)[2]
    assert "{{" not in body and "{%" not in body and "{:" not in body
    assert "&#123;{ page.title }}" in body and "&#123;: onclick" in body


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_survives_yaml_round_trip(value):
    for rendered in (yaml_quoted(value), yaml_scalar(value)):
        loaded = yaml.safe_load(f"k: {rendered}\n")
        expected = "".join(ch for ch in value if not 0xD800 <= ord(ch) <= 0xDFFF)
        assert loaded == {"k": expected}


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1))
def test_flow_sequence_items_round_trip(value):
    value = value.strip() or "x"
    loaded = yaml.safe_load(f"tags: [ {yaml_scalar(value, flow=True)} ]\n")
    expected = "".join(ch for ch in value if not 0xD800 <= ord(ch) <= 0xDFFF)
    assert loaded == {"tags": [expected]}


@settings(max_examples=300, deadline=None)
@given(st.text(), st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_file_names_are_valid_everywhere(title, when):
    name = post_filename(when.replace(tzinfo=UTC), title)
    assert name == post_filename(when.replace(tzinfo=UTC), title)  # deterministic
    assert valid_filename(name), name
    assert len(name.encode("utf-8")) <= 255
    assert not set('<>:"/\\|?*') & set(name)
    assert not any(unicodedata.category(ch) == "Cc" for ch in name)
    stem = name[len("2024-01-01-") : -3]
    assert stem == stem.strip() and not stem.endswith(".")
    assert len(stem) <= 50
    assert len(disambiguated(name, "https://e.org/x").encode("utf-8")) <= 255


def test_file_name_examples():
    when = datetime(2023, 10, 29, tzinfo=UTC)
    assert post_filename(when, "分析：拜登习近平11月会谈的背后原因") == SEED_NAME
    assert post_filename(when, 'A/B "C" \\D?') == "2023-10-29-A-B -C- -D-.md"
    assert post_filename(when, "   ") == "2023-10-29-untitled.md"
    assert post_filename(when, "字" * 80) == "2023-10-29-" + "字" * 50 + ".md"
    assert post_filename(when, "end. . .") == "2023-10-29-end.md"
    assert post_filename(when, "U.S.") == "2023-10-29-U.S.md"


def test_every_title_char_class_is_kept_readable():
    when = datetime(2023, 1, 1, tzinfo=UTC)
    for ch in string.punctuation:
        assert valid_filename(post_filename(when, f"a{ch}b"))


def test_youtube_post_shows_the_embed():
    post = render_post(
        article(
            title="视频",
            url="https://www.youtube.com/watch?v=_ZPS96kDA5s",
            content="<p>视频简介</p>",
        )
    )
    body = post.split("<div>\n", 1)[1]
    assert body.startswith('<p><iframe src="https://www.youtube.com/embed/_ZPS96kDA5s"')
    assert "视频简介" in body
    plain = render_post(article(url="https://example.org/watch?v=abc"))
    assert "iframe" not in plain


YAML_SPECIAL = st.one_of(
    st.sampled_from([" ", "#", ": ", "\t", "a"]),  # the pairs that end plain scalars early
    st.sampled_from(
        [*list("#:&*!|>%@'\"`,[]{}?-=~\\ \t\n\r."), "---", "...", "\x00", "\x07", "\x1b", "\x85"]
    ),
    st.sampled_from(
        ["yes", "no", "null", "~", "true", "Off", "0x1F", "1e3", "-1", ".5", "2024-01-01"]
    ),
    st.sampled_from(["a", "新", "é", "\u2028", "\ufeff", "🎉"]),
)


@settings(max_examples=150, deadline=None)
@example("a #b", "s ", ["t #x"])
@example("a ", " s", ["t "])
@example("a: b", "s:", ["x: y", "-x"])
@example("a:", "s,t", ["a,b", "c]"])
@given(
    st.lists(YAML_SPECIAL, min_size=1, max_size=12).map("".join),
    st.lists(YAML_SPECIAL, min_size=1, max_size=6).map("".join),
    st.lists(st.lists(YAML_SPECIAL, min_size=1, max_size=5).map("".join), max_size=3),
)
def test_front_matter_with_yaml_special_characters_round_trips(text, source, tags):
    source = source.strip() or "s"
    tags = tuple(t for t in (t.strip() for t in tags) if t)
    record = ArticleRecord(
        1,
        source,
        "Asia/Shanghai",
        "https://e.org/" + text,
        text,
        text,
        "<p>x</p>",
        tags,
        datetime(2024, 1, 2, tzinfo=UTC),
        True,
        datetime(2024, 1, 2, tzinfo=UTC),
        1,
        None,
    )
    post = render_post(record)
    assert post.startswith("---\nlayout: post\n")
    head, body = post[4:].split("\n---\n", 1)  # the first "---" line ends the front matter
    data = yaml.safe_load(head)
    assert data["title"] == text
    assert data["author"] == text
    assert data["from"] == "https://e.org/" + text
    assert data["tags"] == list(tags or (source,))
    assert data["categories"] == [source]
    assert data["comments"] is True and data["layout"] == "post"
    assert body.startswith("<!--1704153600000-->\n")


def test_heading_line_shows_markdown_characters_literally():
    """kramdown would read *b* as emphasis, `c` as code, $$x$$ as math, -- as a dash and
    "q" as curly quotes; the heading line escapes them so the page shows the title as is."""
    post = render_post(article(title='*b* `c` $$x$$ "q" -- a.b ~~s~~ &amp; <i> {#x} 中', url="x"))
    body = post.split("-->\n", 1)[1]
    assert body.startswith(
        '\\*b\\* \\`c\\` \\$\\$x\\$\\$ \\"q\\" \\-\\- a\\.b &#126;&#126;s&#126;&#126; &amp;amp; '
        "&lt;i&gt; &#123;\\#x} 中\n------\n"
    )
    linked = render_post(article(title="_u_ (1) 1. + # ! : | ' = [l] \\"))
    assert linked.split("-->\n", 1)[1].startswith(
        "[\\_u\\_ \\(1\\) 1\\. \\+ \\# \\! \\: \\| \\' \\= \\[l\\] \\\\](https://example.org/a)\n"
    )


def test_file_names_never_hold_two_dots_in_a_row():
    """Jekyll turns ".." in a post's URL into "/", which would put the page in a subfolder
    (breaking its ../media/ image paths) and merge "a..b" with "a....b"."""
    when = datetime(2024, 1, 1, tzinfo=UTC)
    assert post_filename(when, "Wait... what") == "2024-01-01-Wait… what.md"
    assert post_filename(when, "a..b....c.d") == "2024-01-01-a…b…c.d.md"
    assert not valid_filename("2024-01-01-a..b.md")  # an old mirror's name is not kept
    assert valid_filename("2024-01-01-a.b.md")
    assert post_filename(when, "TAX") == "2024-01-01-TAX.md"
    assert not valid_filename("2024-01-01-a .md") and not valid_filename("2024-01-01-a..md")
    longest = "2024-01-01-" + "字" * 80 + "a" * 1 + ".md"
    assert len(longest.encode()) == 255 and valid_filename(longest)
    assert not valid_filename(longest.replace(".md", "a.md"))  # 256 bytes


def test_yaml_escapes_controls_and_drops_lone_surrogates():
    assert yaml_quoted("a\ud800b\udfffc\ud9ab") == '"abc"'
    assert yaml_quoted("\x9f\x85\x7f\x01\u2028\ufeff") == '"\\x9F\\x85\\x7F\\x01\\u2028\\uFEFF"'


def test_site_files_are_the_packaged_ones_with_the_title(tmp_path):
    from pathlib import Path

    import newsmirror.publish.jekyll as jekyll

    here = Path(jekyll.__file__).parent
    assert jekyll.write_site_files(tmp_path / "a") == 7
    config = (tmp_path / "a" / "_config.yml").read_text(encoding="utf-8")
    assert yaml.safe_load(config)["title"] == "新闻镜像"
    assert "\ntitle: 新闻镜像\n" in config or '\ntitle: "新闻镜像"\n' in config
    out = tmp_path / "b"
    assert jekyll.write_site_files(out, 'Ti "t" {{x}}: 镜像') == 7
    config = (out / "_config.yml").read_text(encoding="utf-8")
    assert yaml.safe_load(config)["title"] == 'Ti "t" {{x}}: 镜像'
    packaged = (here / "jekyll_site/_config.yml").read_text(encoding="utf-8")
    assert config == packaged.replace("{{TITLE}}", '"Ti \\"t\\" {{x}}: 镜像"')
    for name, path in [
        ("jekyll_site/default.html", "_layouts/default.html"),
        ("jekyll_site/post.html", "_layouts/post.html"),
        ("jekyll_site/redirect.html", "_layouts/redirect.html"),
        ("jekyll_site/index.html", "index.html"),
        ("jekyll_site/archive.html", "archive.html"),
        ("static/style.css", "assets/style.css"),
    ]:
        assert (out / path).read_bytes() == (here / name).read_bytes(), path
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "_config.yml",
        "_layouts/default.html",
        "_layouts/post.html",
        "_layouts/redirect.html",
        "archive.html",
        "assets/style.css",
        "index.html",
    ]
    assert jekyll.write_site_files(out, 'Ti "t" {{x}}: 镜像') == 0
    (out / "index.html").write_text("changed")
    (out / "assets/style.css").write_text("changed")
    assert jekyll.write_site_files(out, 'Ti "t" {{x}}: 镜像') == 2
    assert (out / "index.html").read_bytes() == (here / "jekyll_site/index.html").read_bytes()


def test_heading_link_escapes_spaces_parentheses_and_angle_brackets():
    """kramdown ends a link target at a space or ")" and reads "<" as HTML; the heading's
    link percent-encodes them and keeps other characters (non-ASCII too) as they are."""
    url = "https://e.org/a b(c)<d>/新闻?q=é&x=%41"
    post = render_post(article(title="标题", url=url))
    heading = post.split("-->\n", 1)[1].split("\n", 1)[0]
    assert heading == "[标题](https://e.org/a%20b%28c%29%3Cd%3E/新闻?q=é&x=%41)"
    assert front_matter(post)["from"] == url  # the front matter keeps the URL as it is


def test_body_lines_are_trimmed_and_joined():
    post = render_post(article(content="<p>a</p>\n   <p>b b</p>  \n\t<p>c</p>\n"))
    assert post.endswith("<div>\n<p>a</p><p>b b</p><p>c</p>\n</div>\n")


def test_mirrored_images_point_at_their_local_copies():
    sha = "ab" + "0" * 62
    page = '<p><img alt="x" src="https://i.e/a.png?x=1&amp;y=2"><img src="https://i.e/b.png"></p>'
    media = {"https://i.e/a.png?x=1&y=2": (sha, "png")}
    assert localise_images(page, media, "../media/") == (
        f'<p><img alt="x" src="../media/ab/{sha}.png" data-original-src="https://i.e/a.png?x=1'
        '&amp;y=2"><img src="https://i.e/b.png"></p>',
        [f"ab/{sha}.png"],
    )
    assert localise_images(page, {}, "../media/") == (page, [])


def test_a_mirrored_image_loses_the_srcset_a_browser_would_load_from_its_origin():
    # Review: a browser takes a srcset candidate (or a <picture> source) before src, so
    # readers behind the wall asked the origin for the image and missed the copy.
    sha = "cd" + "0" * 62
    page = (
        '<picture><source srcset="https://i.e/a.webp 1x" type="image/webp">'
        '<img src="https://i.e/a.png" srcset="https://i.e/a.png 1x, https://i.e/a2.png 2x"'
        ' sizes="50vw" alt="甲"></picture>'
        '<img src="https://i.e/b.png" srcset="https://i.e/b2.png 2x" alt="乙">'
    )
    out, used = localise_images(page, {"https://i.e/a.png": (sha, "png")}, "../media/")
    assert used == [f"cd/{sha}.png"]
    assert out == (
        f'<picture><img src="../media/cd/{sha}.png" data-original-src="https://i.e/a.png"'
        ' alt="甲"></picture>'
        '<img src="https://i.e/b.png" srcset="https://i.e/b2.png 2x" alt="乙">'
    )


@given(st.lists(st.sampled_from(['<img src="', "https://i.e/a.png", '">', "&amp;", "<p>", " "])))
def test_no_mirrored_image_leaves_the_body_as_the_full_pass_does(parts):
    """With no mirrored image the body is returned at once: what the full pass gives when
    no image of the body is mirrored."""
    body = "".join(parts)
    unrelated = {"https://elsewhere.example/x.png": ("ab" + "0" * 62, "png")}
    assert localise_images(body, {}, "m/") == localise_images(body, unrelated, "m/")


def test_disambiguated_names_end_with_a_hash_of_url_and_source_within_255_bytes():
    url = "https://e.org/1"

    def digest(key: str, size: int = 8) -> str:
        return hashlib.sha1(key.encode()).hexdigest()[:size]

    assert disambiguated("2024-01-01-TAX.md", url) == f"2024-01-01-TAX-{digest(url)}.md"
    with_source = digest("源\n" + url)
    assert disambiguated("2024-01-01-TAX.md", url, "源") == f"2024-01-01-TAX-{with_source}.md"
    full = digest("源\n" + url, 40)
    assert disambiguated("2024-01-01-TAX.md", url, "源", None) == f"2024-01-01-TAX-{full}.md"
    # Long names are cut (at a character boundary, without a trailing dot or space) so that
    # the result has at most 255 bytes.
    ascii_name = "2024-01-01-" + "a" * 241 + ".md"
    assert len(ascii_name.encode()) == 255
    cut = disambiguated(ascii_name, url)
    assert cut == "2024-01-01-" + "a" * 232 + f"-{digest(url)}.md" and len(cut.encode()) == 255
    wide = disambiguated("2024-01-01-" + "字" * 80 + ".md", url)
    assert wide == "2024-01-01-" + "字" * 77 + f"-{digest(url)}.md"
    dotted = disambiguated("2024-01-01-" + "a" * 230 + " .b.md", url)
    assert dotted == "2024-01-01-" + "a" * 230 + f"-{digest(url)}.md"


def test_no_file_name_ends_in_a_space_of_any_kind():
    when = datetime(2023, 10, 29, tzinfo=UTC)
    for title in ("0\xa0.", "新闻\u3000", "标题\u2003.\xa0", "x\t."):
        stem = post_filename(when, title)[len("2023-10-29-") : -3]
        assert stem == stem.strip() and not stem.endswith("."), repr(stem)


def test_disambiguated_name_hashes_the_canonical_url():
    # P10: the same article spelt differently (host case, tracking, fragment) keeps its
    # name, and the hash is the one earlier exports wrote
    name = "2024-01-05-t.md"
    spelt = disambiguated(name, "https://E.org/a?utm_source=rss#top")
    assert spelt == disambiguated(name, "https://e.org/a") == "2024-01-05-t-feea0103.md"
    assert disambiguated(name, "https://e.org") == disambiguated(name, "https://e.org/")


@pytest.mark.sqlite_only  # the archive is taken back to schema 13 by its SQLite pragma
def test_posts_with_a_srcset_are_written_again_on_upgrade(tmp_path):
    when = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    path = tmp_path / "archive.sqlite"
    with Archive.open(path) as archive:
        for n, body in enumerate(
            ['<img src="https://i.e/a.png" srcset="https://i.e/a2.png 2x">', "<p>x</p>"]
        ):
            archive.import_article(
                source="测试", url=f"https://e.org/{n}", title=f"图{n}", author="",
                content=body, tags=[], published=when, date_known=True, published_raw="",
                jekyll_name="", now=when,
            )  # fmt: skip
        archive.conn.commit()
        export_jekyll(archive, tmp_path / "jekyll")
        archive.conn.execute("PRAGMA user_version = 13")
        archive.conn.commit()
    with Archive.open(path) as archive:
        sizes = dict(archive.conn.execute("SELECT article_id, size FROM exports").fetchall())
        assert sizes[1] == -1 and sizes[2] > 0  # the first is checked again, not the other
        summary = export_jekyll(archive, tmp_path / "jekyll")
    assert summary.unchanged == 2  # same bytes here (no image mirrored): nothing rewritten
