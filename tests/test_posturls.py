"""Where Jekyll serves a post and its old URLs (posturls): the edges of the names and
redirect paths it accepts, where one off-by-one loses a redirect."""

from __future__ import annotations

import pytest

from newsmirror.publish.posturls import clean_path, old_url, paths_of


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("2024-01-05-a.MD", "/posts/2024-01-05-a.html"),  # R1: suffix in any case
        ("2024-01-05-a.Markdown", "/posts/2024-01-05-a.html"),
        ("2020-01-01-a....b.md", "/posts/2020-01-01-a/b.html"),  # R5: "//" is one "/"
        # R11: sixteen segments are allowed
        ("2020-01-01-x" + "..x" * 15 + ".md", "/posts/2020-01-01-x" + "/x" * 15 + ".html"),
        # R2: a segment of exactly 255 bytes is allowed
        ("2024-01-05-" + "a" * 239 + ".md", "/posts/2024-01-05-" + "a" * 239 + ".html"),
    ],
)
def test_old_url_edge_names(name, url):
    assert old_url(name) == url


def test_old_url_bounds():
    assert old_url("2020-01-01-x" + "..x" * 16 + ".md") is None  # seventeen segments
    assert old_url("2024-01-05-" + "a" * 240 + ".md") is None  # 256 bytes


def test_a_redirect_path_jekyll_would_rewrite_is_refused():
    # R4: Jekyll drops "./" (a./b.html is served as ab.html): no redirect file there
    assert clean_path("/posts/a./b.html") is None
    assert clean_path("/posts/a/b.html") == "/posts/a/b.html"


def test_redirect_paths_are_listed_once_whatever_their_encoding():
    # R10: the same path, encoded or not, or twice, is one redirect
    paths = ["/posts/%E6%96%87.html", "/posts/文.html", "/posts/%E6%96%87.html"]
    assert paths_of(paths) == ["/posts/%E6%96%87.html"]
