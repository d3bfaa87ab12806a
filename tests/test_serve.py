"""`newsmirror serve` as a new user meets it (issue 8): charsets, the site's own 404
page at any depth, and a plain message when the port is taken."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from functools import partial

from newsmirror.demo.server import _Handler, _Server, content_type


def test_text_files_carry_their_charset():
    assert content_type("feed.xml") == "application/xml; charset=utf-8"
    assert content_type("/a/b/INDEX.HTML") == "text/html; charset=utf-8"
    assert content_type("style.css") == "text/css; charset=utf-8"
    assert content_type("status.json") == "application/json; charset=utf-8"
    assert content_type("post.md") == "text/plain; charset=utf-8"
    assert content_type("photo.png") is None and content_type("a.xml/README") is None


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_feeds_have_a_charset_and_missing_pages_get_the_sites_404(tmp_path):
    (tmp_path / "feed.xml").write_text("<rss><title>新闻</title></rss>", encoding="utf-8")
    (tmp_path / "404.html").write_text("<title>找不到</title><a href='/'>首页</a>", "utf-8")
    server = _Server(("127.0.0.1", 0), partial(_Handler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        status, kind, body = _get(base + "/feed.xml")
        assert status == 200 and kind == "application/xml; charset=utf-8"
        assert "新闻" in body.decode("utf-8")
        for missing in ("/nope.html", "/posts/2024/01/deep/nope.html"):
            status, kind, body = _get(base + missing)
            assert status == 404 and kind == "text/html; charset=utf-8"
            assert "找不到" in body.decode("utf-8")
    finally:
        server.shutdown()
        server.server_close()


def test_a_taken_port_is_one_line_with_a_hint(tmp_path):
    (tmp_path / "index.html").write_text("<p>x</p>", encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "newsmirror", "serve", str(tmp_path), "-p", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"cannot serve on 127.0.0.1:{port}: the port is taken" in result.stderr
    assert f"hint: Choose another port, e.g. newsmirror serve -p {port + 1}." in result.stderr


def _raw(base: str, method: str, path: str) -> tuple[int, bytes]:
    """A request with the path exactly as given (no client-side normalising)."""
    import http.client

    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(method, path)
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def test_serve_answers_only_the_sites_files_like_a_static_host(tmp_path):
    site, outside = tmp_path / "site", tmp_path / "outside"
    (site / "media").mkdir(parents=True)
    (site / "media" / "a.png").write_bytes(b"png")
    (site / "posts").mkdir()
    (site / "posts" / "index.html").write_text("<p>posts</p>", encoding="utf-8")
    (site / "index.html").write_text("<p>home</p>", encoding="utf-8")
    (site / "404.html").write_text("<title>找不到</title>", encoding="utf-8")
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET", encoding="utf-8")
    (site / "leak.txt").symlink_to(outside / "secret.txt")
    (site / "away").symlink_to(outside, target_is_directory=True)
    server = _Server(("127.0.0.1", 0), partial(_Handler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for path in (
            "/media/",  # a folder without index.html: no listing
            "/media",
            "/../outside/secret.txt",
            "/%2e%2e/outside/secret.txt",
            "/..%2foutside%2fsecret.txt",
            "/leak.txt",  # a link out of the site
            "/away/secret.txt",
            "/%00",
            "/index.html%00.png",
        ):
            status, body = _raw(base, "GET", path)
            assert status == 404, path
            assert "找不到" in body.decode("utf-8") and b"SECRET" not in body, path
        assert _raw(base, "GET", "/posts/") == (200, b"<p>posts</p>")
        assert _raw(base, "GET", "/media/a.png") == (200, b"png")
        assert _raw(base, "HEAD", "/nope.html") == (404, b"")
        assert _raw(base, "HEAD", "/index.html") == (200, b"")
    finally:
        server.shutdown()
        server.server_close()
