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
