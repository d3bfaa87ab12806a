"""Canonical URLs exactly as stored (articles.canonical_url), and IRIs as URIs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsmirror.urls import canonical_url, to_uri


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        # Query values keep the characters that neither delimit nor encode; a space is %20.
        (
            "https://e.org/a?q=/:@!$'()*,;?-._~&r=a b+c&s=%26%3D%2B%25&t=中",
            "https://e.org/a?q=/:@!$'()*,;?-._~&r=a%20b%20c&s=%26%3D%2B%25&t=%E4%B8%AD",
        ),
        (
            "HTTPS://User@E.ORG.:443/路 径/%e4%b8%ad?utm_source=x&a=1#frag",
            "https://e.org/%E8%B7%AF%20%E5%BE%84/%E4%B8%AD?a=1",
        ),
        ("http://[2001:DB8::1]:8080", "http://[2001:db8::1]:8080/"),
        ("https://e.org/a?", "https://e.org/a"),
        ("https://e.org/a?b", "https://e.org/a?b="),
        ("https://新闻.中国", "https://xn--efvy88h.xn--fiqs8s/"),
        ("https://e.org/x%2fy", "https://e.org/x%2Fy"),
        ("https://e.org", "https://e.org/"),
        ("https://.", "https://./"),
    ],
)
def test_the_stored_canonical_form(url, canonical):
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    ("iri", "uri"),
    [
        ("https://User@新闻.中国:8080/路 径?q=中#片", None),
        ("HTTP://[::1/x", "http://%5B::1/x"),  # unparsable: quoted, then read
        ("https://e.org/[中]#a#b", "https://e.org/%5B%E4%B8%AD%5D#a%23b"),
        ("https://新闻..中国/a", "https://%E6%96%B0%E9%97%BB..%E4%B8%AD%E5%9B%BD/a"),
        ("https://e.org:8080/a", "https://e.org:8080/a"),
        (" https://e.org/a b ", "https://e.org/a%20b"),
        ("https://e.org/a#x?y:z/中", "https://e.org/a#x?y:z/%E4%B8%AD"),
    ],
)
def test_iris_as_uris(iri, uri):
    expected = uri or (
        "https://User@xn--efvy88h.xn--fiqs8s:8080/%E8%B7%AF%20%E5%BE%84?q=%E4%B8%AD#%E7%89%87"
    )
    assert to_uri(iri) == expected
    assert to_uri(expected) == expected


# Parts of a link with the characters that delimit, encode or need encoding.
_PART = st.lists(
    st.sampled_from([*"aZ9-._~!$&'()*+,;=:@/?# %[]\"<>中", "%41", "%2f", "%E4%B8%AD"]),
    max_size=6,
).map("".join)
_HOST = st.sampled_from(["e.org", "E.Org.", "新闻.中国", "[::1]", "127.0.0.1", "e.org:8443"])


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["http", "https", "HTTPS"]), _HOST, _PART)
def test_an_iri_and_its_uri_are_one_stored_form(scheme, host, rest):
    iri = f"{scheme}://{host}/{rest}"
    canonical = canonical_url(iri)
    assert canonical_url(to_uri(iri)) == canonical == canonical_url(canonical)
    assert canonical.isascii() and "#" not in canonical and " " not in canonical
    assert canonical.startswith(scheme.lower() + "://")
