"""Renamed imported posts keep their old URLs (issue 8, item 4): ``redirect_from`` in the
Jekyll export (jekyll-redirect-from) and a small redirect page in the static site."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from functools import partial
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CORPUS, JEKYLL, jekyll_build
from newsmirror.demo.server import _Handler, _Server
from newsmirror.jekyll_import import import_jekyll
from newsmirror.publish import redirects
from newsmirror.publish.jekyll import export_jekyll, valid_filename, write_site_files
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.publish.writer import OutputWriter
from newsmirror.store import Archive
from newsmirror.store.schema import MIGRATIONS, add_redirects

URL = "https://e.org/a/1"
POST = (
    "---\n"
    "layout: post\n"
    'title: "Why? a|b: 中文"\n'
    "date: 2021-03-04T05:06:07.000Z\n"
    "author: 某人\n"
    f"from: {URL}\n"
    "tags: [ 茶馆 ]\n"
    "comments: True\n"
    "categories: [ 茶馆 ]\n"
    "---\n"
    "<!--1614834367000-->\n"
    f"[Why? a|b: 中文]({URL})\n"
    "------\n\n<div>\n<p>正文</p>\n</div>\n"
)
BAD = "2021-03-04-Why? a|b: 中文.md"
OLD = "/posts/" + quote("2021-03-04-Why? a|b: 中文.html", safe="")


def old_site(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "old"
    (root / "_posts").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / "_posts" / name).write_text(text, encoding="utf-8")
    return root


def front(data: bytes) -> dict:
    return yaml.safe_load(data.decode().split("---\n")[1])


# --- Old names and redirect paths are untrusted -------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.md",
        "/etc/passwd.md",
        "a\x00b.md",
        "a\\..\\b.md",
        "2020-01-01-" + "长" * 90 + ".md",  # 270 bytes and more: no file could hold the page
        "2020-01-01-x.txt",  # not a post
        ".md",
        "a\ud800.md",
    ],
)
def test_a_name_that_cannot_be_one_page_has_no_old_url(name):
    assert redirects.old_url(name) is None


def test_old_urls_are_encoded_once_and_name_one_file_in_posts():
    assert redirects.old_url(BAD) == OLD
    assert redirects.file_of(OLD) == "posts/2021-03-04-Why? a|b: 中文.html"
    # Percent signs in the name stay literal: no "%2e%2e%2f" turns into "../".
    url = redirects.old_url("%2e%2e%2fetc%2Fpasswd.md")
    assert url == "/posts/%252e%252e%252fetc%252Fpasswd.html"
    assert redirects.file_of(url) == "posts/%2e%2e%2fetc%2Fpasswd.html"
    # Jekyll makes ".." a "/" (URL#sanitize_url): the page of "A #1 ... b" was in a folder.
    assert (
        redirects.old_url("2021-03-05-A #1 ... b.md") == "/posts/2021-03-05-A%20%231%20/.%20b.html"
    )
    assert redirects.old_url("2021-03-05-a.. ..b.md") == "/posts/2021-03-05-a/%20/b.html"


@pytest.mark.parametrize(
    "path",
    [
        "/posts/..%2F..%2Fetc%2Fpasswd.html",
        "/posts/%2e%2e",
        "/posts/a..b.html",  # Jekyll would not leave it so: the page is elsewhere
        "/posts/a/./b.html",
        "/posts/a//b.html",
        "/posts/a%2Fb.html",
        "/posts/%00.html",
        "/posts/a%0Ab.html",
        "//evil.example/posts/x.html",
        "https://evil.example/posts/x.html",
        "/posts/%ff.html",
        "posts/x.html",
        "/index.html",
        "/posts/x.md",
        "/posts/" + "%E9%95%BF" * 90 + ".html",
        None,
        ["/posts/x.html"],
    ],
)
def test_hostile_redirect_paths_are_refused(path):
    assert redirects.clean_path(path) is None


_NAMES = st.lists(
    st.sampled_from([*"ab.%/\\:?#|*\x00\n 中文長\u0301\ud800", "%2e", "%2F", ".."]),
    max_size=40,
).map(lambda parts: f"2020-01-01-{''.join(parts)}.md")


@settings(max_examples=300, deadline=None)
@given(_NAMES)
def test_any_old_url_is_one_file_inside_posts(tmp_path_factory, name):
    url = redirects.old_url(name)
    if url is None:
        return
    assert redirects.clean_path(url) == url  # one encoded form
    relpath = redirects.file_of(url)
    parts = relpath.split("/")
    assert parts[0] == "posts" and "\x00" not in relpath and relpath.endswith(".html")
    assert not {"", ".", ".."} & set(parts)
    root = tmp_path_factory.getbasetemp() / "out"
    assert root.resolve() / "posts" in OutputWriter(root).resolve(relpath).parents
    if ".." not in name:
        assert unquote(url) == f"/posts/{name[:-3]}.html"


# --- The Jekyll export ----------------------------------------------------------------------


def test_a_renamed_post_carries_its_old_url_as_redirect_from(tmp_path):
    root = old_site(tmp_path, {BAD: POST, "2021-03-05-fine.md": POST.replace(URL, URL + "2")})
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, root)
        export_jekyll(archive, tmp_path / "out")
    write_site_files(tmp_path / "out")
    files = {p.name: p.read_bytes() for p in (tmp_path / "out" / "_posts").iterdir()}
    assert files.pop("2021-03-05-fine.md") == POST.replace(URL, URL + "2").encode()  # as it was
    [(name, data)] = files.items()
    assert valid_filename(name) and name != BAD
    assert front(data)["redirect_from"] == [OLD]
    config = yaml.safe_load((tmp_path / "out" / "_config.yml").read_text("utf-8"))
    assert "jekyll-redirect-from" in config["plugins"]


def test_hostile_redirect_from_in_an_imported_tree_is_dropped(tmp_path):
    hostile = POST.replace(
        "categories: [ 茶馆 ]\n",
        "categories: [ 茶馆 ]\nredirect_from: [ '/posts/..%2F..%2Fx.html', '/index.html',"
        " '/posts/ok.html' ]\n",
    )
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, old_site(tmp_path, {"2021-03-04-ok.md": hostile}))
        assert redirects.redirects_of(archive) == {1: ["/posts/ok.html"]}


def test_the_export_with_redirects_round_trips_byte_for_byte(tmp_path):
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, old_site(tmp_path, {BAD: POST}))
        export_jekyll(archive, tmp_path / "one")
    with Archive.open(tmp_path / "b.sqlite") as archive:
        import_jekyll(archive, tmp_path / "one")
        export_jekyll(archive, tmp_path / "two")
    one = {p.name: p.read_bytes() for p in (tmp_path / "one" / "_posts").iterdir()}
    two = {p.name: p.read_bytes() for p in (tmp_path / "two" / "_posts").iterdir()}
    assert one == two and b"redirect_from" in next(iter(one.values()))


def test_an_archive_imported_before_keeps_its_old_urls_after_the_migration(tmp_path):
    assert MIGRATIONS[8] is add_redirects
    path = tmp_path / "a.sqlite"
    with Archive.open(path) as archive:
        import_jekyll(archive, old_site(tmp_path, {BAD: POST}))
        export_jekyll(archive, tmp_path / "out")
    post = next((tmp_path / "out" / "_posts").iterdir())
    post.write_bytes(re.sub(rb"redirect_from: .*\n", b"", post.read_bytes()))  # the old export
    with Archive.open(path) as archive:  # as before migration 9, which then runs
        archive.conn.execute("DROP TABLE redirects")
        add_redirects(archive.conn)
    with Archive.open(path) as archive:
        assert redirects.redirects_of(archive) == {1: [OLD]}
        assert export_jekyll(archive, tmp_path / "out").written == 1
    assert front(post.read_bytes())["redirect_from"] == [OLD]


def test_no_redirect_over_another_posts_page(tmp_path):
    # "x.markdown" cannot keep its name; its old page is the page of the post "x.md".
    other = POST.replace(URL, URL + "2")
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, old_site(tmp_path, {"2021-03-04-x.markdown": POST}))
        import_jekyll(archive, old_site(tmp_path / "2", {"2021-03-04-x.md": other}))
        assert redirects.redirects_of(archive) == {1: ["/posts/2021-03-04-x.html"]}
        export_jekyll(archive, tmp_path / "out")
    posts = {p.name: p.read_bytes() for p in (tmp_path / "out" / "_posts").iterdir()}
    assert posts["2021-03-04-x.md"] == other.encode()
    assert not any(b"redirect_from" in data for data in posts.values())


# --- The static site ----------------------------------------------------------------------


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Served:
    def __init__(self, folder: Path) -> None:
        self.server = _Server(("127.0.0.1", 0), partial(_Handler, directory=str(folder)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def follow(self, path: str) -> tuple[str, bytes]:
        """The page a redirect page at ``path`` sends to: (its URL path, its body)."""
        status, body = _get(self.base + path)
        assert status == 200, path
        target = re.search(rb'http-equiv="refresh" content="0; url=([^"]+)"', body)
        assert target is not None, body[:300]
        url = urllib.parse.urljoin(self.base + path, target.group(1).decode())
        status, page = _get(url)
        assert status == 200, url
        return urllib.parse.urlsplit(url).path, page

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_site_has_a_redirect_page_at_the_old_url(tmp_path):
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, old_site(tmp_path, {BAD: POST}))
        archive.conn.executemany(  # hostile rows, as a tampered archive could hold them
            "INSERT INTO redirects (article_id, path) VALUES (1, ?)",
            [("/posts/..%2F..%2Fevil.html",), ("/../evil.html",), ("/index.html",)],
        )
        build_site(archive, tmp_path / "site", SiteOptions(search=False))
        based = SiteOptions(search=False, base_url="https://m.example/")  # with a sitemap
        build_site(archive, tmp_path / "based", based)
    page = (tmp_path / "site" / redirects.file_of(OLD)).read_text("utf-8")
    assert '<link rel="canonical" href="../posts/2021/03/' in page
    assert "Why? a|b: 中文</a>" in page and "<title>Why? a|b: 中文</title>" in page
    assert not (tmp_path / "evil.html").exists() and not list(tmp_path.rglob("evil.html"))
    assert "本文已移至" not in (tmp_path / "site" / "index.html").read_text("utf-8")
    maps = [p.read_text("utf-8") for p in (tmp_path / "based").glob("sitemap*/*.xml")]
    assert maps and not [m for m in maps if quote(redirects.file_of(OLD)) in m]
    served = Served(tmp_path / "site")
    try:
        path, body = served.follow(OLD)
        assert path.startswith("/posts/2021/03/") and "正文" in body.decode()
    finally:
        served.close()


def test_redirect_page_values_are_escaped():
    page = redirects.redirect_page('"><script>x</script>', 'a"b.html', "https://e.org/'x")
    assert "<script>" not in page and "a&quot;b.html" in page and "&#x27;x" in page


# --- End to end: the CLI, a real HTTP server and a real Jekyll build -------------------------


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "newsmirror", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _redirect_plugin() -> bool:
    done = subprocess.run(["gem", "list", "-i", "jekyll-redirect-from"], capture_output=True)
    return done.returncode == 0


def renamed_old_urls(folders: list[Path]) -> list[str]:
    return sorted(
        url
        for folder in folders
        for post in (folder / "_posts").iterdir()
        if not valid_filename(post.name) and (url := redirects.old_url(post.name)) is not None
    )


def check_old_urls(tmp_path: Path, folders: list[Path], *, jekyll: bool) -> list[str]:
    """Import ``folders`` with the CLI, export Jekyll and build the site; every renamed
    post's old URL answers a real HTTP server with a page that leads to the post."""
    archive = tmp_path / "a.sqlite"
    for folder in folders:
        _cli("--archive", archive, "import", "jekyll", folder)
    _cli("--archive", archive, "export", "jekyll", tmp_path / "tree", "--site")
    _cli("--archive", archive, "build", tmp_path / "site", "--no-search")
    old = renamed_old_urls(folders)
    served = Served(tmp_path / "site")
    try:
        for url in old:
            served.follow(url)
    finally:
        served.close()
    if jekyll:
        jekyll_build(tmp_path / "tree", tmp_path / "_site")
        served = Served(tmp_path / "_site")
        try:
            for url in old:
                path, _body = served.follow(url)
                assert path.startswith("/posts/") and path != url
        finally:
            served.close()
    return old


@pytest.mark.slow
@pytest.mark.skipif(JEKYLL is None, reason="Debian jekyll is not installed (.ci/run installs it)")
def test_old_urls_resolve_end_to_end(tmp_path):
    if not _redirect_plugin():
        pytest.skip("jekyll-redirect-from is not installed (.ci/run installs it)")
    root = old_site(tmp_path, {BAD: POST, "2021-03-05-A #1 ... b.md": POST.replace(URL, URL + "3")})
    assert len(check_old_urls(tmp_path, [root], jekyll=True)) == 2


@pytest.mark.slow
def test_every_renamed_corpus_post_keeps_its_old_url(tmp_path):
    if not (CORPUS / "nodebe4-posts").is_dir():
        pytest.skip("../shared/corpus is not here")
    folders = sorted((CORPUS / "nodebe4-posts").iterdir())
    old = check_old_urls(tmp_path, folders, jekyll=JEKYLL is not None and _redirect_plugin())
    assert len(old) >= 40
