"""Canonical URLs: what counts as the same article's link, and what never does."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsmirror.urls import absolute, canonical_url, is_http_url, to_uri


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # Tracking parameters, each of them, in any case and position.
        ("https://e.org/a?utm_source=rss", "https://e.org/a"),
        ("https://e.org/a?utm_medium=x&id=3&utm_campaign=y", "https://e.org/a?id=3"),
        ("https://e.org/a?UTM_Content=x", "https://e.org/a"),
        ("https://e.org/a?fbclid=1", "https://e.org/a"),
        ("https://e.org/a?gclid=1", "https://e.org/a"),
        ("https://e.org/a?mc_cid=1&mc_eid=2", "https://e.org/a"),
        ("https://e.org/a?at_medium=1&at_campaign=2", "https://e.org/a"),
        # The fragment.
        ("https://e.org/a#comments", "https://e.org/a"),
        ("https://e.org/a?id=1#x", "https://e.org/a?id=1"),
        # Scheme and host case, default ports, the root path, a trailing dot.
        ("HTTPS://E.ORG/a", "https://e.org/a"),
        ("https://e.org:443/a", "https://e.org/a"),
        ("http://e.org:80/a", "http://e.org/a"),
        ("http://e.org", "http://e.org/"),
        ("https://e.org./a", "https://e.org/a"),
        # One spelling of percent-encoding; Chinese paths and hosts match their encoded forms.
        ("https://e.org/%e4%b8%ad", "https://e.org/%E4%B8%AD"),
        ("https://e.org/中文?q=新闻", "https://e.org/%E4%B8%AD%E6%96%87?q=%E6%96%B0%E9%97%BB"),
        ("https://新闻.中国/a", "https://xn--efvy88h.xn--fiqs8s/a"),
        ("https://E.org/a b", "https://e.org/a%20b"),
        ("  https://e.org/a\n", "https://e.org/a"),
        ("https://e.org/a  ", "https://e.org/a"),
        ("https://[::1]:443/a", "https://[::1]/a"),
        ("HTTP://[2001:DB8::1]:80/", "http://[2001:db8::1]"),
    ],
)
def test_same_article_links(a, b):
    assert canonical_url(a) == canonical_url(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://e.org/a", "https://e.org/b"),
        ("https://e.org/a", "https://f.org/a"),
        ("https://e.org/a", "https://e.org/a/"),
        ("https://e.org/a", "https://e.org/A"),  # paths are case-sensitive
        ("https://e.org/a", "https://e.org/a?id=1"),
        ("https://e.org/a?id=1", "https://e.org/a?id=2"),
        ("https://e.org/a?a=1&b=2", "https://e.org/a?b=2&a=1"),  # order kept
        ("https://e.org:8443/a", "https://e.org/a"),
        ("http://e.org/a", "https://e.org/a"),
        ("http://e.org:443/a", "http://e.org/a"),  # 443 is not http's default
        ("https://e.org/a?utm=1", "https://e.org/a"),  # only the tracking names
        ("https://e.org/a?xutm_source=1", "https://e.org/a"),
        ("https://e.org/a?utm_source1=1", "https://e.org/a"),
        ("https://e.org/a?q=%2B", "https://e.org/a?q=+"),  # a plus sign is not a space
        ("https://e.org/a?q=%26b%3D", "https://e.org/a?q=&b="),  # an "&" in a value
        ("https://e.org/a?q=%2541", "https://e.org/a?q=A"),
        ("https://e.org/a?utm_source%0A=1", "https://e.org/a"),
        ("https://e.org/a/%2F", "https://e.org/a//"),
        ("https://[::1]:8080/a", "https://[::1:8080]/a"),  # IPv6 hosts keep their brackets
    ],
)
def test_different_article_links(a, b):
    assert canonical_url(a) != canonical_url(b)


def test_a_link_without_a_host_is_kept():
    assert canonical_url("urn:uuid:1234") == "urn:uuid:1234"
    assert canonical_url("tag:e.org,2024:1") == "tag:e.org,2024:1"


def test_to_uri_and_helpers():
    assert to_uri("https://User@新闻.中国:8080/路 径?q=中#片") == (
        "https://User@xn--efvy88h.xn--fiqs8s:8080/%E8%B7%AF%20%E5%BE%84?q=%E4%B8%AD#%E7%89%87"
    )
    assert to_uri("https://E.org/a") == "https://E.org/a"  # to_uri does not canonicalise
    assert to_uri("HTTP://[::1/x") == "http://%5B::1/x"  # unparsable: quoted, then read
    assert absolute("https://e.org/a/b", " ../c ") == "https://e.org/c"
    assert absolute("https://e.org/", "http://[::1") == "http://[::1"
    assert is_http_url("https://e.org") and is_http_url("http://e.org/x")
    assert not is_http_url("ftp://e.org/x") and not is_http_url("https://")
    assert not is_http_url("javascript:alert(1)") and not is_http_url("http://[::1")


# -- properties --------------------------------------------------------------------------

_LABEL = st.text(alphabet="abcXYZ019-", min_size=1, max_size=6).filter(
    lambda s: s[0] != "-" and s[-1] != "-"
)
_IDN = st.sampled_from(["新闻", "中国", "Bücher", "例え"])
_HOST = st.one_of(
    st.lists(st.one_of(_LABEL, _IDN), min_size=1, max_size=3).map(".".join),
    st.sampled_from(["127.0.0.1", "[::1]", "[2001:DB8::1]", "e.org."]),
)
# Characters that delimit, encode or need encoding in each part.
_SPECIAL = [*list("aB9-._~!$&'()*+,;=:@ \"<>\\^`{|}中文é"), "%41", "%e4%b8%ad", "%2F", "%25"]
_SEGMENT = st.lists(st.sampled_from(_SPECIAL), max_size=6).map("".join)
# (White space around a whole link is not part of it: a path never ends with any.)
_PATH = st.lists(_SEGMENT, max_size=4).map(lambda p: ("/" + "/".join(p)).rstrip())
_KEY = st.sampled_from(["a", "b", "id", "utm_source", "UTM_medium", "fbclid", "中", "a b"])
_VALUE = st.lists(
    st.sampled_from(["a", "1", " ", "+", "&", "=", "%", "%41", "?", "/", "#", "中"]), max_size=4
)
_QUERY = st.lists(st.tuples(_KEY, _VALUE.map("".join)), max_size=3)


@st.composite
def _urls(draw):
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    user = draw(st.sampled_from(["", "user@", "u:p@"]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    pairs = draw(_QUERY)
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    fragment = draw(st.sampled_from(["", "#", "#x", "#a?b#c"]))
    host, path = draw(_HOST), draw(_PATH)
    return f"{scheme}://{user}{host}{port}{path}" + (f"?{query}" if query else "") + fragment


@pytest.mark.parametrize(
    "url",
    ["https://e.org/a?q=%2541", "https://e.org/a?q=%252B", "HTTPS://:80[", "https://e.org/a?q=%2B"],
)
def test_canonical_url_is_idempotent_on_encoded_delimiters(url):
    once = canonical_url(url)
    assert canonical_url(once) == once


@settings(max_examples=300, deadline=None)
@given(_urls())
def test_canonical_url_is_idempotent(url):
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert once.isascii() and not any(c.isspace() for c in once)


_JUNK = st.lists(
    st.sampled_from([*list("aZ09:/?#[]@%&= 中\t\n\\\x00"), "http://", "%zz", ":99999", "xn--"]),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_JUNK)
def test_canonical_url_takes_any_text(text):
    for url in (text, "http://" + text):
        out = canonical_url(url)
        assert out.isascii() and not any(c.isspace() for c in out)


def _meaning(url: str) -> tuple[str, str, list[tuple[str, str]]]:
    parts = urlsplit(canonical_url(url))
    host = (parts.hostname or "").encode("ascii").decode("idna")
    return host, unquote(parts.path), parse_qsl(parts.query, keep_blank_values=True)


@settings(max_examples=300, deadline=None)
@given(_HOST, _PATH, _QUERY, _HOST, _PATH, _QUERY)
def test_canonical_url_never_merges_different_hosts_paths_or_queries(h1, p1, q1, h2, p2, q2):
    def url(host, path, pairs):
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
        return f"https://{host}{path}" + (f"?{query}" if query else "")

    a, b = url(h1, p1, q1), url(h2, p2, q2)
    if canonical_url(a) == canonical_url(b):
        tracking = {"utm_source", "utm_medium", "fbclid"}
        kept1 = [(k, v) for k, v in q1 if k.lower() not in tracking]
        kept2 = [(k, v) for k, v in q2 if k.lower() not in tracking]
        assert (h1.lower().rstrip("."), unquote(p1), kept1) == (
            h2.lower().rstrip("."),
            unquote(p2),
            kept2,
        )
    # And the decoded meaning of each link survives canonicalisation.
    assert _meaning(a)[1] == unquote(p1)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_urls(), _JUNK, _JUNK.map("https://e.org/".__add__)))
def test_the_quick_form_of_a_plain_link_is_its_canonical_form(url):
    # Links already written canonically skip the long way; the result is the same.
    from newsmirror.urls import _canonical

    assert canonical_url(url) == _canonical(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://e.org",
        "http://a-b.c.org/x/y.html",
        "https://e.org./a",
        "https://E.org/a",
        "https://e.org/a%2f",
        "https://e.org/a b",
        "https://e.org:443/a",
        "https://e.org/a?b=1",
    ],
)
def test_plain_and_nearly_plain_links(url):
    from newsmirror.urls import _canonical

    assert canonical_url(url) == _canonical(url)
