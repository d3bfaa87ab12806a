"""The sanitiser against a corpus of XSS vectors; ordinary article markup survives."""

from __future__ import annotations

import re

import pytest

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


@pytest.mark.parametrize("vector", VECTORS)
def test_vector_is_neutralised(vector):
    for out in (sanitize_html(vector), sanitize_article(vector, base_url="https://e.org/a/")):
        assert not FORBIDDEN.search(out), out


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
