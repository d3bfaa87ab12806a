"""The sanitiser against a corpus of XSS vectors; ordinary article markup survives."""

from __future__ import annotations

import html
import re

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsmirror.clean import sanitize_article, sanitize_html, unwrap_proxy

VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/xss.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<script\x20type='text/javascript'>alert(1);</script>",
    "<<SCRIPT>alert('XSS');//<</SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)>",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    '<img srcset="javascript:alert(1) 1x, https://ok.example/a.jpg 2x">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="  JAVASCRIPT:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<body onload=alert(1)>",
    '<div onmouseover="alert(1)">hover</div>',
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div style="width: expression(alert(1));">x</div>',
    "<svg onload=alert(1)><script>alert(2)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math href="javascript:alert(1)">x</math>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/">',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<iframe src="https://evil.example/"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="https://evil.example/"><input name=x><button>go</button></form>',
    "<style>@import 'https://evil.example/x.css';</style>",
    '<link rel=stylesheet href="https://evil.example/x.css">',
    '<video poster="javascript:alert(1)" src="https://ok.example/v.mp4"></video>',
    "<details open ontoggle=alert(1)>x</details>",
    "<template><script>alert(1)</script></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105'
    "&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040"
    '&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">x</a>',
    "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
]
FORBIDDEN = re.compile(
    r"<script|javascript:|vbscript:|data:text|data:image/svg|\son\w+\s*=|<svg|<math|<base|<meta"
    r"|<style|<link|expression\(|<object|<embed|<form|<input|srcdoc|evil\.example|<template"
    r"|<noscript",
    re.I,
)  # (escaped text such as "ipt&gt;alert(1)" is harmless)


# nh3 always writes attribute values in double quotes with < > " escaped, so a title's value
# is inert text (e.g. '<p title="&lt;/noscript&gt;&lt;img onerror=…">').
TITLE_VALUE = re.compile(r'\stitle="[^"]*"')


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_is_neutralised(vector):
    for out in (sanitize_html(vector), sanitize_article(vector, base_url="https://e.org/a/")):
        assert not FORBIDDEN.search(TITLE_VALUE.sub("", out)), out


def test_ordinary_markup_survives():
    markup = (
        "<h2>小标题</h2><p>段落 <strong>加粗</strong> <em>强调</em> "
        '<a href="https://e.org/x">链接</a></p><blockquote><p>引用</p></blockquote>'
        "<ul><li>一</li></ul><ol><li>二</li></ol><table><thead><tr><th>表头</th></tr>"
        "</thead><tbody><tr><td>单元格</td></tr></tbody></table>"
        '<figure><img src="https://e.org/i.jpg" alt="图"><figcaption>说明</figcaption>'
        "</figure><pre><code>code</code></pre>"
    )
    assert sanitize_html(markup) == markup


def test_youtube_embed_allowed_other_iframes_not():
    out = sanitize_article(
        '<iframe src="https://www.youtube.com/embed/abc"></iframe>'
        '<iframe src="https://evil.example/"></iframe>',
        base_url="https://e.org/",
    )
    assert out == '<iframe src="https://www.youtube.com/embed/abc"></iframe>'
    none = sanitize_article(
        '<iframe src="https://www.youtube.com/embed/abc"></iframe>',
        base_url="https://e.org/",
        iframe_hosts=(),
    )
    assert "iframe" not in none


def test_relative_urls_and_lazy_images_become_absolute():
    out = sanitize_article(
        '<a href="../b.html">b</a><img data-original="/i/1.jpg" '
        'src="/blank.gif"><img srcset="s.jpg 1x, l.jpg 2x">',
        base_url="https://e.org/news/a/1.html",
    )
    assert 'href="https://e.org/news/b.html"' in out
    assert 'src="https://e.org/i/1.jpg"' in out
    assert 'src="https://e.org/news/a/l.jpg"' in out


def test_image_proxies_are_unwrapped():
    assert (
        unwrap_proxy("https://images.weserv.nl/?url=example.com/x.png&w=300")
        == "https://example.com/x.png"
    )
    assert (
        unwrap_proxy("https://images.weserv.nl/?url=https://example.com/y.jpg")
        == "https://example.com/y.jpg"
    )
    assert (
        unwrap_proxy("https://i2.wp.com/example.com/wp/z.jpg?resize=1")
        == "https://example.com/wp/z.jpg"
    )
    assert unwrap_proxy("https://example.com/plain.jpg") == "https://example.com/plain.jpg"


# --- Text a reader saw survives: elements outside the allowlist are unwrapped, not dropped ---


def words(markup: str) -> list[str]:
    """Whitespace-separated words of the text a browser shows (script/style/template out)."""
    tree = lxml.html.fragment_fromstring(markup or "<div></div>", create_parent="div")
    for bad in tree.xpath("//script|//style|//template"):
        bad.drop_tree()
    return " ".join(tree.itertext()).split()


def test_chart_labels_in_svg_and_tspan_survive():
    out = sanitize_html(
        "<h3><tspan>Green Commitments</tspan></h3>"
        '<svg viewBox="0 0 10 10" onload="alert(1)"><g><text x="1">2019</text>'
        '<text x="5"><tspan>2020</tspan></text></g><script>alert(2)</script>'
        "<style>.a{}</style></svg><p>after</p>"
    )
    assert "<h3>Green Commitments</h3>" in out
    assert words(out) == ["Green", "Commitments", "2019", "2020", "after"]
    assert "2019 2020" in lxml.html.fragment_fromstring(out, create_parent="div").text_content()
    assert not FORBIDDEN.search(out), out


# From oped2/_posts/2019-07-29-细解 Libra.md (a Medium page's follow box).
BUTTON_POST = (
    '<h2 class="apgr"><a href="https://nei.st/medium/nytimes">The New York Times</a></h2>'
    '<div class="abcn abcg"><button class="gtbn nyt"><a href="https://nei.st/medium/nytimes">'
    "View</a></button></div>"
)


def test_button_text_survives():
    out = sanitize_html(BUTTON_POST + '<button onclick="alert(1)" type="submit">订阅</button>')
    assert words(out) == ["The", "New", "York", "Times", "View", "订阅"]
    assert '<a href="https://nei.st/medium/nytimes">View</a>' in out
    assert "<button" not in out and "onclick" not in out


# From teahouse/_posts/2021-01-28-關於咖啡──所謂大人，就是懂得自討苦吃.md (a Medium embed).
IFRAME_POST = (
    "<p>（寫給《小日子》）</p>"
    '<iframe src="https://cdn.embedly.com/widgets/media.html?src=x" width="600">'
    '<a href="https://medium.com/media/f1d7cbaf838f928bb1851783d77671b6/href">'
    "https://medium.com/media/f1d7cbaf838f928bb1851783d77671b6/href</a></iframe>"
)


@pytest.mark.parametrize("hosts", [(), ("www.youtube.com",)])
def test_fallback_text_of_other_iframes_survives(hosts):
    out = sanitize_article(IFRAME_POST, base_url="https://e.org/", iframe_hosts=hosts)
    link = "https://medium.com/media/f1d7cbaf838f928bb1851783d77671b6/href"
    assert f'<a href="{link}">{link}</a>' in out
    assert "<iframe" not in out and "embedly" not in out
    assert "&lt;" not in out  # the fallback is markup, not escaped text


def test_iframes_nested_in_fallbacks_open_up_to_a_bound():
    def nest(depth):
        opened = "".join(f'<iframe src="https://e.org/{level}">L{level} ' for level in range(depth))
        return opened + "<b>核心</b>" + "</iframe>" * depth

    shallow = sanitize_html(nest(3))
    assert words(shallow) == ["L0", "L1", "L2", "核心"] and "<b>核心</b>" in shallow
    deep = sanitize_html(nest(12))
    assert "iframe" not in deep and "&lt;" not in deep
    assert words(deep) == [f"L{level}" for level in range(8)]


def test_youtube_embed_kept_without_its_fallback():
    out = sanitize_article(
        '<iframe src="https://www.youtube.com/embed/abc">Your browser has no frames</iframe>'
        "<p>x</p>",
        base_url="https://e.org/",
    )
    assert out == '<iframe src="https://www.youtube.com/embed/abc"></iframe><p>x</p>'


def test_noscript_text_kept_duplicate_lazy_image_dropped():
    out = sanitize_html(
        '<p>前</p><img data-src="https://e.org/1.jpg" src="data:image/gif;base64,R0lG">'
        '<noscript><img src="https://e.org/1.jpg"></noscript>'
        '<noscript><p>请开启脚本</p><img src="https://e.org/2.jpg"></noscript>'
    )
    assert out.count('src="https://e.org/1.jpg"') == 1
    assert 'src="https://e.org/2.jpg"' in out
    assert words(out) == ["前", "请开启脚本"]
    assert "noscript" not in out and "&lt;" not in out


def test_text_before_the_first_element_is_kept():
    out = sanitize_html('导语 <img data-src="https://e.org/1.jpg"> 正文<button>按钮</button>')
    assert words(out) == ["导语", "正文", "按钮"]
    assert 'src="https://e.org/1.jpg"' in out


def test_form_controls_object_and_math_keep_their_text():
    out = sanitize_html(
        '<form action="https://evil.example/"><label>姓名</label><input name="n" value="v">'
        "<select><option>北京</option><option>上海</option></select>"
        "<textarea>留言</textarea></form>"
        '<object data="https://evil.example/x.swf"><p>Flash 替代文字</p>'
        '<embed src="https://evil.example/y"></object>'
        "<math><mi>x</mi><mo>=</mo><mn>1</mn></math>"
    )
    assert words(out) == ["姓名", "北京", "上海", "留言", "Flash", "替代文字", "x=1"]
    assert not FORBIDDEN.search(out), out


def test_unknown_blocks_become_divs_so_their_text_stays_apart():
    out = sanitize_html(
        '<section class="x"><p>a</p></section><article onclick="f()">b</article>'
        "<header>c</header><font>d</font>e"
    )
    assert out == "<div><p>a</p></div><div>b</div><div>c</div>de"


def test_dropped_elements_keep_the_text_after_them():
    out = sanitize_html(
        "<p>a<script>alert(1)</script>b<style>p{}</style>c<template>t</template>d</p>"
    )
    assert out == "<p>abcd</p>"


TAGS = ("svg", "tspan", "text", "button", "iframe", "form", "input", "select", "option",
        "script", "style", "object", "embed", "math", "mi", "p", "div", "span", "b", "noscript",
        "textarea", "h3", "a", "g", "foreignObject", "template", "img")  # fmt: skip
VOID = {"input", "embed", "img"}
RAW = {"script", "style", "template"}  # a reader never saw what is inside these
ATTRS = st.sampled_from(
    [
        "",
        ' onclick="alert(1)"',
        " onload=alert(1)",
        ' href="javascript:alert(1)"',
        ' src="javascript:alert(1)"',
        ' src="https://www.youtube.com/embed/x"',
        ' style="x:expression(alert(1))"',
        ' srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"',
        ' formaction="javascript:alert(1)"',
        ' data="javascript:alert(1)"',
    ]
)
WORD = st.text(alphabet="abcxyz中文字", min_size=1, max_size=4)


@st.composite
def html_tree(draw, depth=0):
    """(markup, words a reader saw): random nesting of the tag alphabet around words."""
    parts, seen = [], []
    for _ in range(draw(st.integers(0 if depth else 1, 3))):
        if depth < 4 and draw(st.booleans()):
            tag, attrs = draw(st.sampled_from(TAGS)), draw(ATTRS)
            if tag in VOID:
                parts.append(f"<{tag}{attrs}>")
                continue
            inner, inner_seen = draw(html_tree(depth + 1))
            if tag in RAW or (tag == "iframe" and "youtube" in attrs):
                inner, inner_seen = "".join(draw(st.lists(WORD, max_size=2))), []
            parts.append(f"<{tag}{attrs}>{inner}</{tag}>")
            seen += inner_seen
        else:
            word = draw(WORD)
            parts.append(f" {html.escape(word)} ")
            seen.append(word)
    return "".join(parts), seen


@settings(max_examples=300, deadline=None)
@given(html_tree())
def test_property_no_script_and_every_visible_word_kept(tree):
    markup, seen = tree
    out = sanitize_html(markup)
    parsed = lxml.html.fragment_fromstring(out or "<div></div>", create_parent="div")
    assert not parsed.xpath("//script|//style|//svg|//math|//object|//embed|//form")
    for el in parsed.iter():
        assert not any(k.lower().startswith("on") or k == "srcdoc" for k in el.attrib), out
        assert "javascript:" not in " ".join(el.attrib.values()).lower(), out
    shown = words(out)
    remaining = " ".join(shown)
    for word in seen:
        assert word in remaining, (markup, out)
