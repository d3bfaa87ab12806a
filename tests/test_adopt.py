"""Adopting an old mirror (issue 8, item 4): a valid imported post is exported again byte
for byte under its own name until the article changes; the rest are newsmirror posts."""

from __future__ import annotations

import itertools
import re

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CORPUS, JEKYLL, Reply, jekyll_build, make_config, rss
from newsmirror.jekyll_import import import_jekyll
from newsmirror.pipeline import update
from newsmirror.publish.jekyll import export_jekyll, render_post, valid_filename
from newsmirror.publish.redirects import old_url
from newsmirror.store import Archive
from newsmirror.verbatim import may_keep

URL = "https://www.youtube.com/watch?v=abcdefghijk"
# No comments line, an unescaped link line, a YouTube link, an indented multi-line body with
# a Liquid tag, CRLF line ends and no final newline: render_post would change each of them.
ODD = (
    "---\r\n"
    "layout: post\r\n"
    "title: 'A: b (c) #1'\r\n"
    "date: 2021-03-04 05:06:07 +0800\r\n"
    "author: 某人\r\n"
    f"from: {URL}\r\n"
    "tags: [ 茶馆 ]\r\n"
    "categories: [ 茶馆 ]\r\n"
    "---\r\n"
    "<!--1614834367000-->\r\n"
    f"[A: b (c) #1]({URL})\r\n"
    "------\r\n"
    "\r\n"
    "<div>\r\n"
    '  <p class="lead" style="color: red">第一段 <a href="/rel?a=1&amp;b=2">链接</a></p>\r\n'
    '    <p><b>粗</b>  <img src="https://e.org/i.png" data-x="1"></p>\r\n'
    "</div>"
)
ODD_NAME = "2021-03-04-A- b (c) 1.md"


def site(tmp_path, files: dict[str, bytes]):
    root = tmp_path / "old"
    (root / "_posts").mkdir(parents=True)
    for name, data in files.items():
        (root / "_posts" / name).write_bytes(data)
    return root


def export(archive, out) -> dict[str, bytes]:
    export_jekyll(archive, out)
    return {p.name: p.read_bytes() for p in (out / "_posts").iterdir()}


def test_a_valid_post_with_odd_formatting_is_exported_byte_for_byte(tmp_path):
    root = site(tmp_path, {ODD_NAME: ODD.encode()})
    with Archive.open(tmp_path / "a.sqlite") as archive:
        assert import_jekyll(archive, root).new == 1
        [article] = archive.iter_articles()
        assert render_post(article).encode() != ODD.encode()  # the normal rendering differs
        assert export(archive, tmp_path / "out") == {ODD_NAME: ODD.encode()}
        assert export_jekyll(archive, tmp_path / "out").written == 0  # and stays so


def test_after_a_revision_from_the_feed_the_post_is_newsmirrors(tmp_path, server):
    root = site(tmp_path, {ODD_NAME: ODD.encode()})
    server.route("/f", Reply(body=rss([{"title": "A: b (c) #1", "link": URL,
                                        "content": "<p>改过的正文</p>"}])))  # fmt: skip
    config = make_config(tmp_path, [("茶馆", [server.url + "/f"])])
    with Archive.open(config.archive) as archive:
        import_jekyll(archive, root)
        export(archive, tmp_path / "out")
        update(config, archive)
        [article] = archive.iter_articles()
        assert article.version == 2 and "改过的正文" in article.content
        files = export(archive, tmp_path / "out")
    assert files == {ODD_NAME: render_post(article).encode()}  # same name, new text
    assert b"comments: True" in files[ODD_NAME]


def test_a_post_with_an_invalid_name_is_renamed_and_rendered(tmp_path):
    bad = "2021-03-04-Why? a|b.md"
    root = site(tmp_path, {bad: ODD.encode()})
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, root)
        [article] = archive.iter_articles()
        files = export(archive, tmp_path / "out")
    [(name, data)] = files.items()
    assert valid_filename(name) and name != bad
    # Rendered, with the old URL for jekyll-redirect-from (the one change to the post).
    assert data == render_post(article, redirect_from=[old_url(bad)]).encode()


@pytest.mark.parametrize(
    "data",
    [
        ODD.replace("author: 某人", 'author: "a \\"b" c"').encode(),  # invalid YAML
        ODD.encode().replace("第一段".encode(), b"\xff\xfe"),  # not UTF-8
    ],
    ids=["invalid-yaml", "not-utf8"],
)
def test_a_post_that_was_not_valid_is_rendered(tmp_path, data):
    root = site(tmp_path, {ODD_NAME: data})
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, root)
        [article] = archive.iter_articles()
        files = export(archive, tmp_path / "out")
    assert files == {ODD_NAME: render_post(article).encode()}


def test_every_valid_old_post_is_exported_as_it_was(tmp_path):
    """The real posts of the old mirrors: every one with a valid name and nothing that
    would run (verbatim.may_keep) is re-exported byte for byte; the others are rendered
    and sanitised (the ones with invalid names also renamed)."""
    if not (CORPUS / "nodebe4-posts").is_dir():
        pytest.skip("../shared/corpus is not here")
    originals: dict[str, bytes] = {}
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for root in sorted((CORPUS / "nodebe4-posts").iterdir()):
            assert not import_jekyll(archive, root).skipped
            originals |= {p.name: p.read_bytes() for p in (root / "_posts").iterdir()}
        files = export(archive, tmp_path / "out")
    valid = {name for name in originals if valid_filename(name)}
    safe = {name for name in valid if may_keep(originals[name].decode("utf-8"))}
    same = {name for name in valid if files.get(name) == originals[name]}
    assert len(valid) > 400 and len(safe) > 200 and same == safe
    assert not any(files.get(name) == data for name, data in originals.items() if name not in valid)


def test_a_post_whose_name_another_article_holds_is_rendered_under_a_hashed_name(tmp_path):
    other = ODD.replace(URL, "https://e.org/other")
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, site(tmp_path / "1", {ODD_NAME: ODD.encode()}))
        import_jekyll(archive, site(tmp_path / "2", {ODD_NAME: other.encode()}))
        by_url = {a.url: a for a in archive.iter_articles()}
        files = export(archive, tmp_path / "out")
    assert files.pop(ODD_NAME) == ODD.encode()
    [(name, data)] = files.items()
    assert (
        name.startswith(ODD_NAME[:-3])
        and data == render_post(by_url["https://e.org/other"]).encode()
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "{{ site.github.token }}",
        '<img src="x.png" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<iframe src="https://evil.example/"></iframe>',
        '<p style="background: url(https://evil.example/t)">x</p>',
        "<!--[if IE]><script>x</script><![endif]-->",
        '<div style="position: fixed; top: 0; width: 100%">fake page</div>',
    ],
)
def test_a_valid_post_with_anything_that_runs_is_rendered_and_sanitised(tmp_path, hostile):
    post = ODD.replace("<b>粗</b>", f"<b>粗</b>{hostile}")
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, site(tmp_path, {ODD_NAME: post.encode()}))
        [article] = list(archive.iter_articles())
        files = export(archive, tmp_path / "out")
    assert files[ODD_NAME] == render_post(article).encode() != post.encode()
    out = files[ODD_NAME].decode()
    for bad in ("<script", "onerror", "javascript:", "&#106;", "evil.example", "{{ site", "fixed"):
        assert bad not in out, bad


@pytest.mark.parametrize(
    "markdown",
    [
        "[点此](javascript:alert(1))",  # kramdown makes it <a href="javascript:...">
        "![x]( &#106;avascript:alert(1))",
        "[a][r]\r\n\r\n[r]: javascript:alert(1)",
        '段落\r\n{: onmouseover="alert(1)"}',  # an attribute list: any attribute at all
        "{::nomarkdown}<b>x</b>{:/}",
        "[a][r]\r\n\r\n> [r]: javascript:alert(1)",  # a definition in a quote, a list, a dd
        "[r]\r\n\r\n1. [r]: javascript:alert(1)",
        "[r]\r\n\r\nterm\r\n: [r]: javascript:alert(1)",
        "[x](java\r\nscript:alert(1))",  # a browser drops the line end, kramdown keeps it
        "[x](java\tscript:alert(1))",
        "[r]\r\n\r\n[r]: java\tscript:alert(1)",
    ],
)
def test_markdown_kramdown_would_make_live_is_not_kept(tmp_path, markdown):
    """Outside an HTML block, Markdown is read by kramdown (Jekyll): a link, image or
    attribute list there would run. The post is rendered instead, its text in a block."""
    post = ODD.replace("\r\n\r\n<div>", f"\r\n\r\n{markdown}\r\n\r\n<div>")
    assert not may_keep(post)
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, site(tmp_path, {ODD_NAME: post.encode()}))
        [article] = list(archive.iter_articles())
        files = export(archive, tmp_path / "out")
    out = files[ODD_NAME].decode()
    assert out == render_post(article)
    body = out.split("------\n\n", 1)[1]
    assert body.startswith("<div>\n") and body.endswith("\n</div>\n") and "{:" not in body


# -- what may be kept, against a browser's parser ---------------------------------------------

# Tags and attribute values near each rule's edge: a kept post must be safe however these
# combine (html5lib parses as browsers do: character references, quotes, '>' in values).
SAFE = [
    "<p>文字</p>", "<div>", "</div>", "text ", "<br/>", "<!-- /.block -->", "</a>", "</p>",
    '<a href="https://e.org/a?x=1&y=2">', '<a href="/rel">', '<a href="//e.org/p">',
    "<noscript>", "</noscript>", '<img src="https://e.org/i.png">', '<p style="color: red">',
    '<img src="data:image/png;base64,iVBORw0KGgo=">',
    '<img srcset="data:image/gif;base64,R0lGOD== 1w, https://e.org/a.png 2x">',
    '<iframe src="https://www.youtube.com/embed/abc" allowfullscreen="true"></iframe>',
    '<link as="font" crossorigin="anonymous" href="//cdn.e.org/f.woff" rel="preload"/>',
    '<iframe src="//www.youtube.com/embed/abc"></iframe>', '<b title="x">', "</b>",
]  # fmt: skip
# Each near a rule's edge: a kept post must be safe however they combine with the above.
EDGE = [
    '<iframe src="https://evil.example/" src="//www.youtube.com/embed/x"></iframe>',
    '<link rel="stylesheet" href="https://e.org/s.css">', '<link rel="icon" href="/i.png">',
    '<link rel="preload" as="font" href="javascript:x">',
    '<link rel="preload" as="script" href="/x.js">',
    '<link rel="stylesheet" rel="preload" as="font" href="https://e.org/s.css">',
    '<link rel="preload stylesheet" as="font" href="https://e.org/s.css">',
    '<link rel="pre&#108;oad" as="font" href="https://e.org/s.css">', '<link rel=preload as=font>',
    '<link rel="preload" as="font" href="/f.woff" onload="x()">', '<link rel="preload" as="font"',
    '<link rel="preload" as="font" href="/f.woff" imagesrcset="javascript:x 1x">',
    "<b title='>'>", '"', "'", ">", "<", "<!-- a-b -->", "<!--[if IE]><b>x</b><![endif]-->",
    "<!-->", "-->", '<a href="&#106;avascript:alert(1)">', '<a href="jav&#x09;ascript:x">',
    '<a href="java&Tab;script:x">', '<a href="&notjavascript:x">', '<a href="javascript&colon;x">',
    '<a href=" javascript:x">', '<a href="vbscript:x">', '<a href="data:text/html;base64,PGI+">',
    '<a title="</noscript><img src=x onerror=alert(1)>">', '<img src="data:image/svg+xml,x">',
    "<img src=x onerror=alert(1)>", '<img src="https://e.org/i.png" onload="x()">',
    '<img srcset="https://e.org/a.png 1x,javascript:alert(1) 2x">',
    '<img srcset="https://e.org/a.png&#44;javascript:alert(1) 2x">',
    '<img srcset="javascript:alert(1)">', '<a href="data:image/png;base64,iVBO">',
    '<source srcset="x.webp" onerror="alert(1)">', '<p style="u&#114;l(https://e.org/t)">',
    '<p style="position: fixed">', '<p style="background: url(x)">',
    '<iframe src="https://www.youtube.com.evil.example/embed/x"></iframe>',
    '<iframe src="https://www.youtube.com@evil.example/x"></iframe>',
    '<iframe src="https://evil.example/"></iframe>', '<iframe src="//evil.example/x"></iframe>',
    '<iframe srcdoc="<b>x</b>" src="https://www.youtube.com/embed/a"></iframe>',
    '<iframe src="https://www.youtube.com/embed/a" onload="x()"></iframe>',
    "<script>alert(1)</script>", "<svg><b>x</b></svg>", "<math>", "{{ x }}",
    '<link rel="stylesheet" href="https://e.org/s.css">', "<style>p{}</style>",
    '<a href="https://e.org/" ping="https://t.example/">', '<form action="https://e.org/">',
    '<img src="https://e.org/i.png" />', '<img src="https://e.org/i.png?a=1&#038;b=2">',
    '<p style="margin-top: -300px">', '<p style="margin: calc(0px - 9em) 0">',
    '<p style="outline: 3000px solid white">', '<p style="box-shadow: 0 0 0 3000px #fff">',
    '<p style="transform: scale(50)">', '<p style="rotate: 180deg">',
    '<p style="margin: 0 -0.5em">',
    # Attributes given twice, in another case, or after a separator a reader may not see.
    '<link rel="stylesheet" REL="preload" as="font" href="https://e.org/s.css">',
    '<link rel="preload" as="font" href="https://e.org/f.woff" Rel="stylesheet">',
    '<link rel="preload" as="font" href="/f.woff"\x0brel="stylesheet">',
    '<link rel="preload" as="font" href="/f.woff"\xa0rel="stylesheet">',
    '<link rel="preload" as="font" href="/f.woff" /rel="stylesheet">',
    '<link rel="preload" as="font" href="/f.woff"rel=stylesheet>',
    '<link rel=preload as=font href=/f.woff/>', '<link rel="preload" as="font\x0c" href="/f.woff">',
    '<link rel="preload" as="font" as="style" href="/s.css">',
    '<link rel="preload" as="style" AS="font" href="/s.css">',
    '<LINK REL="PRELOAD" AS="FONT" HREF="JAVASCRIPT:x">',
    '<link\nrel="preload"\nas="font"\nhref="java\tscript:x">',
    '<link rel="preload" as="font" href="/f.woff" media="print" blocking="render">',
    '<link rel="preload" as="font" href="/f.woff" integrity="sha384-x" fetchpriority="high">',
    '<link rel="preload" as="image" imagesrcset="javascript:x 1x" href="/f.woff">',
    '<link rel="modulepreload" as="font" href="/x.js">', '<link rel="preload" as="font">',
    '<link rel="preload" as="font" href="\x01javascript:x">', "</link>",
    '<iframe src="https://www.youtube.com/embed/x" SRC="https://evil.example/"></iframe>',
    '<iframe src="https://evil.example/"\xa0src="https://www.youtube.com/embed/x"></iframe>',
    '<iframe src="https://evil.example/"\x0bsrc="https://www.youtube.com/embed/x"></iframe>',
    '<IFRAME SRC="https://evil.example/" src="//www.youtube.com/embed/x"></IFRAME>',
    '<iframe src="//www.youtube.com/embed/x"><img src=x onerror=alert(1)></iframe>',
    '<iframe src="https:\\\\evil.example\\www.youtube.com/embed/x"></iframe>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<iframe src="https://evilyoutube.com/embed/x"></iframe>',
    '<a href="/ok" x:=\'href="javascript:alert(1)"\'>', '<b title="a"x>',
]  # fmt: skip
_READS_URL = set(
    [
        "href",
        "src",
        "cite",
        "poster",
        "action",
        "formaction",
        "background",
        "data",
        "xlink:href",
        "ping",
        "longdesc",
        "lowsrc",
        "dynsrc",
        "codebase",
        "manifest",
    ]
)
_LIVE = set(
    [
        "script",
        "style",
        "link",
        "object",
        "embed",
        "form",
        "base",
        "meta",
        "svg",
        "math",
        "frame",
        "frameset",
        "applet",
        "template",
        "input",
        "button",
        "textarea",
        "select",
    ]
)


def _browser_url_safe(value: str, image: bool) -> bool:
    url = re.sub(r"[\t\n\r]", "", value).strip(" \x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c")
    if image and re.match(r"data:image/(png|gif|jpeg|webp|avif);base64,", url, re.I):
        return True
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    return scheme is None or scheme.group(1).lower() in ("http", "https")


def _srcset_candidates(value: str) -> list[str]:
    """The candidate URLs of a srcset, parsed as the HTML standard does."""
    urls, pos, blank = [], 0, " \t\n\r\f"
    while True:
        while pos < len(value) and (value[pos] in blank or value[pos] == ","):
            pos += 1
        if pos >= len(value):
            return urls
        start = pos
        while pos < len(value) and value[pos] not in blank:
            pos += 1
        url = value[start:pos]
        urls.append(url.rstrip(","))
        if url.endswith(","):
            continue
        inside = False  # parentheses do not nest: the first ")" closes (as Chromium reads)
        while pos < len(value):  # the descriptors, up to a comma outside parentheses
            char, pos = value[pos], pos + 1
            if char in "()":
                inside = char == "("
            elif char == "," and not inside:
                break


# A style that fetches, or reaches past the post's box over the page's header: a negative
# length (in calc() too), a transform, an outline or shadow drawn thousands of pixels wide.
_COVERS = (
    r"url|expression|position|import|(?<![a-z])-|-(?![a-z])|transform|translate|scale|rotate"
    r"|matrix|skew|offset|outline|shadow|zoom"
)


def _font_preload(attrib: dict) -> bool:
    """A link a browser reads as a font's preload only: a fetch, nothing applied or run."""
    rel = set((attrib.get("rel") or "").lower().split())
    href = attrib.get("href")
    as_font = (attrib.get("as") or "").strip().lower() == "font"
    return rel == {"preload"} and as_font and href is not None and _browser_url_safe(href, False)


def browser_safe(body: str) -> list[str]:
    """What would run, load or cover the page in ``body`` as a browser parses it."""
    found = []
    tree = html5lib.parse(body, namespaceHTMLElements=False)
    for element in tree.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "link" and not _font_preload(element.attrib):
            found.append("link " + repr(element.attrib))
        elif tag in _LIVE - {"link"}:
            found.append(tag)
        for name, value in element.attrib.items():
            name = name if isinstance(name, str) else ":".join(n for n in name if n)
            image = tag in ("img", "source")
            if name.startswith("on") or name == "srcdoc":
                found.append(name)
            elif name in _READS_URL and not _browser_url_safe(value, image and name == "src"):
                found.append(f"{name}={value}")
            elif name == "srcset" and not all(
                _browser_url_safe(url, image) for url in _srcset_candidates(value)
            ):
                found.append(f"srcset={value}")
            elif name == "style" and re.search(_COVERS, value, re.I):
                found.append(f"style={value}")
        if tag == "iframe":
            host = re.match(r"(?:https:)?//([^/]+)/", element.get("src", ""))
            if host is None or host.group(1) not in ("www.youtube.com", "youtube.com"):
                found.append("iframe " + element.get("src", ""))
    return found


@settings(max_examples=800, deadline=None)
@given(
    st.lists(st.sampled_from(SAFE), max_size=4),
    st.lists(st.sampled_from(EDGE), min_size=1, max_size=2),
    st.lists(st.sampled_from(SAFE), max_size=4),
)
def test_what_may_be_kept_is_safe_as_a_browser_reads_it(before, edge, after):
    body = "".join(before + edge + after)
    if may_keep(ODD.replace("<b>粗</b>", f"<b>粗</b>{body}")):
        assert browser_safe(body) == [], body


# Markdown near kramdown's edges, in each container a definition may sit in: a kept post
# must be safe as Jekyll (kramdown, GFM) writes it and a browser reads the result.
MARKDOWN_EDGE = [
    "[x](javascript:alert(1))", "[x](java\r\nscript:alert(1))", "[x](java\tscript:x)",
    "![x](&#106;avascript:x)", "[x]( javascript:x 'x')", "[x](https://e.org/ \"t\")", "[x](/a)",
    "[r]: javascript:alert(1)", "[r]: java\tscript:x", "[r]:javascript:x", "[r]: https://e.org/",
    "[r]: /a 'java\tscript:x'", "*[HTML]: x", "[^1] [r]\r\n\r\n[^1]: [r]: https://e.org/", "$$x$$",
    '<span title="a">[x](java\tscript:x)</span>',
]  # fmt: skip
MARKDOWN_CONTAINERS = ["{}", "> {}", "1. {}", "* {}", "term\r\n: {}", "| {} |\r\n|---|"]


@pytest.mark.slow
@pytest.mark.skipif(JEKYLL is None, reason="needs Debian jekyll")
def test_what_may_be_kept_is_safe_as_jekyll_writes_it(tmp_path):
    """Every kept combination, built by the real Jekyll into HTML that html5lib reads as a
    browser does: no live URL, and the build does not fail (kramdown dies on a footnote that
    holds only definitions, which would stop the whole site)."""
    posts = {}
    for number, (edge, box) in enumerate(itertools.product(MARKDOWN_EDGE, MARKDOWN_CONTAINERS)):
        text = ODD + "\r\n\r\n" + box.format(edge) + "\r\n\r\n[r] HTML [x][r]\r\n"
        if may_keep(text):
            posts[f"2021-03-04-p{number}.md"] = text.encode()
    root = site(tmp_path, posts)
    (root / "_config.yml").write_text("markdown: kramdown\nkramdown:\n  parse_block_html: false\n")
    jekyll_build(root, tmp_path / "built")
    pages = list((tmp_path / "built").rglob("p*.html"))
    assert len(pages) == len(posts) > 10
    for page in pages:
        assert browser_safe(page.read_text()) == [], posts[page.stem + ".md"]


@pytest.mark.parametrize(
    "kept",
    [
        '<a href="https://e.org/a?x=1&y=2">q</a><!-- /.comment-text -->',
        '<noscript><img src="https://e.org/i.png" alt="" /></noscript>',
        '<img srcset="data:image/gif;base64,R0lGOD== 1w, https://e.org/a.png 2x" alt="">',
        '<img src="https://e.org/i.png?a=1&#038;b=2" alt="图" />',
        '<iframe src="//www.youtube.com/embed/abc" width="560" allowfullscreen></iframe>',
    ],
)
def test_the_old_mirrors_common_markup_is_kept(kept):
    """Lazy images, WordPress's &#038;, plain notes and YouTube frames of the old posts."""
    assert may_keep(ODD.replace("<b>粗</b>", f"<b>粗</b>{kept}"))
