"""Which imported posts are republished byte for byte (verbatim.may_keep), rule by rule at
each rule's edge: what must be re-rendered (it could run, load or mislead) and the old
mirrors' harmless markup that must stay byte for byte (mutation survivors of
newsmirror.verbatim)."""

from __future__ import annotations

import pytest

from newsmirror.verbatim import may_keep, srcset_urls

HEAD = "---\ntitle: t\ndate: 2021-03-04 05:06:07 +0800\n---\n\n<!--1614805567-->\n"
DATA = "data:image/png;base64,iVBORw0KGgo="


def post(body: str) -> str:
    return HEAD + "<p>文字</p>\n" + body + "\n"


FONT = '<link rel="preload" as="font" href="/f.woff2" type="font/woff2" crossorigin="anonymous">'

KEPT = [
    FONT,  # all five attributes a font preload may carry
    '<link rel="Preload" as="FONT" href="https://e.org/f.woff"/>',
    '<link as="font" rel="preload" href="//cdn.e.org/f.woff">',
    '<iframe src="https://www.youtube.com/embed/abc" width="560" height="315" frameborder="0"'
    ' allowfullscreen allow="autoplay" title="v" scrolling="no" loading="lazy"'
    ' referrerpolicy="no-referrer" sandbox="allow-scripts"></iframe>',
    '<iframe src="https://player.vimeo.com/video/1"></iframe>',
    f'<img src="{DATA}" alt="">',
    f'<picture><source srcset="{DATA} 1x, /a.png 2x"><img src="/a.png"></picture>',
    f'<video controls><source src="{DATA}"></video>',
    "<table><tr><td nowrap>x</td></tr></table>",
    "<ol reversed><li>x</li></ol>",
    '<img src="a.png" / >',
    "<a href=X>x</a>",
    '<a href="/">home</a>',
    '<img src="/a.png" srcset="/a.png 1x, /b.png 2x">',
    '<img src="/a.png" srcset="/a.png x(, javascript:alert(1)) 2x">',  # "," in a descriptor
    '<img src="/a.png" srcset="/a.png,/b.png 2x">',  # one URL: "," inside it
    "<br/><hr /><wbr>",
]


@pytest.mark.parametrize("kept", KEPT)
def test_harmless_markup_is_kept_byte_for_byte(kept):
    assert may_keep(post(kept))


RENDERED = [
    '<a href="mailto:a@e.org">mail</a>',
    '<a href="MAILTO:a@e.org">mail</a>',
    '<a href=" mailto:a@e.org">mail</a>',
    '<a href="mai\tl&#10;to:a@e.org">mail</a>',  # a browser drops tabs and line ends
    # A character reference could spell any risky word: u&#114;l( is url( to a browser.
    '<p style="background:u&#114;l(t.png)">x</p>',
    '<link rel="preload" as="font" href="' + DATA + '">',  # an image's data: URL, not a font's
    "<a href>x</a>",
    '<img src="/a.png" srcset>',
    f'<video src="{DATA}"></video>',  # data: is for an image's own picture only
    f'<img src="/a.png" cite="{DATA}">',
    f"[x]({DATA})",  # a Markdown link to a data: URL
    f"[r]: {DATA}",
    '<img src="/a.png" srcset="/a.png, javascript:alert(1) 2x">',
    '<img src="/a.png" srcset="/a.png x(), javascript:alert(1) 2x">',
    # A browser reads no nesting in a descriptor: the first ")" closes it (Chromium picks
    # b.png from "a.png x((), b.png"), so here javascript: is a candidate of its own.
    '<img src="/a.png" srcset="/a.png x((), javascript:alert(1))">',
    '<img src="/a.png" srcset="aXjavascript:alert(1)">',
    "<b/class=x>x</b>",  # attributes that the reader cannot read: rendered
    # A tag name runs to a blank, "/" or ">": this is an unknown element "img_a='" with an
    # onclick a browser runs, not an <img>.
    "<img_a=' onclick=alert(1) '>click me",
    "<b:x onclick=alert(1)>x</b>",
    "{<!-- x -->{ site.title }}",  # what a note hides is read as if it were not there
    "{<!--1614805567-->% include x %}",
    "<!-- a -- b -->",
]


@pytest.mark.parametrize("rendered", RENDERED)
def test_anything_outside_the_rules_is_rendered(rendered):
    assert not may_keep(post(rendered))


@pytest.mark.parametrize(
    ("srcset", "urls"),
    [
        ("a.png 1x, b.png 2x", ["a.png", "b.png"]),
        ("a.png, b.png", ["a.png", "b.png"]),
        ("a.png,, b.png", ["a.png", "b.png"]),
        ("a.png,b.png 2x", ["a.png,b.png"]),
        ("  Xa.png 1x,Yb.pngX 2x", ["Xa.png", "Yb.pngX"]),
        ("https://eXample.org/a.png 2x", ["https://eXample.org/a.png"]),
        ("aX, b", ["aX", "b"]),
        ("a x(, b) 1x, c", ["a", "c"]),
        ("a x(()), b", ["a", "b"]),
        ("a x((), b", ["a", "b"]),
        ("a x)(, b), c", ["a", "c"]),
        ("a\tx\n,\fb\r", ["a", "b"]),
        ("", []),
    ],
)
def test_srcset_candidates_are_read_as_a_browser_reads_them(srcset, urls):
    assert srcset_urls(srcset) == urls
