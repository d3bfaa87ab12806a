"""Image mirroring against local servers: dedupe, caps, sniffing, Referer, retries."""

from __future__ import annotations

from conftest import ARTICLE_TEXT, Reply, make_config, rss
from newsmirror.demo.assets import png
from newsmirror.media import image_urls, sniff_image
from newsmirror.pipeline import update
from newsmirror.publish.jekyll import export_jekyll
from newsmirror.store import Archive


def feed_with_images(server, images):
    items = [
        {
            "title": f"图文{i}",
            "link": f"{server.url}/a/{i}",
            "content": f"<p>{ARTICLE_TEXT}</p>"
            + "".join(f'<img src="{server.url}{src}">' for src in srcs),
        }
        for i, srcs in enumerate(images)
    ]
    server.route("/feed", Reply(body=rss(items)))


def run(tmp_path, server, extra_media=""):
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], media="mirror")
    if extra_media:
        text = config.path.read_text().replace('mode = "mirror"', f'mode = "mirror"\n{extra_media}')
        config.path.write_text(text)
        from newsmirror.config import load_config

        config = load_config(config.path)
    with Archive.open(config.archive) as archive:
        summary = update(config, archive)
    return config, summary


def image_requests(server, path):
    return [h for p, h in server.requests if p == path]


def test_image_shared_by_two_articles_is_fetched_and_stored_once(tmp_path, server):
    server.route("/i/shared.png", Reply(body=png(), headers={"Content-Type": "image/png"}))
    feed_with_images(server, [["/i/shared.png"], ["/i/shared.png"]])
    config, summary = run(tmp_path, server)
    assert summary.media.stored == 1
    assert len(image_requests(server, "/i/shared.png")) == 1
    assert len(list(config.media_dir.rglob("*.png"))) == 1
    with Archive.open(config.archive) as archive:
        maps = [archive.media_map(a.id) for a in archive.iter_articles()]
    assert len(maps) == 2 and maps[0] == maps[1] != {}


def test_referer_is_the_article(tmp_path, server):
    server.route("/i/r.png", Reply(body=png()))
    feed_with_images(server, [["/i/r.png"]])
    run(tmp_path, server)
    [headers] = image_requests(server, "/i/r.png")
    assert headers.get("Referer") == f"{server.url}/a/0"


def test_oversize_non_image_and_svg_are_refused(tmp_path, server):
    server.route("/i/big.png", Reply(body=png(600, 600) + b"\x00" * 200_000))
    server.route(
        "/i/html.png",
        Reply(body=b"<html>not an image</html>", headers={"Content-Type": "image/png"}),
    )
    server.route(
        "/i/x.svg",
        Reply(
            body=b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            headers={"Content-Type": "image/svg+xml"},
        ),
    )
    feed_with_images(server, [["/i/big.png", "/i/html.png", "/i/x.svg"]])
    config, summary = run(tmp_path, server, "max_bytes = 100000")
    assert summary.media.stored == 0 and summary.media.failed == 3
    errors = " ".join(summary.media.errors)
    assert "exceeds the cap" in errors and "not an image" in errors
    assert not list(config.media_dir.rglob("*.*")) if config.media_dir.exists() else True


def test_broken_image_is_retried_on_the_next_run(tmp_path, server):
    state = {"ok": False}
    server.route(
        "/i/flaky.png", lambda _h: Reply(body=png()) if state["ok"] else Reply(503, b"busy")
    )
    feed_with_images(server, [["/i/flaky.png"]])
    config, first = run(tmp_path, server, "retries = 3")
    assert first.media.failed == 1
    with Archive.open(config.archive) as archive:
        export_jekyll(archive, tmp_path / "out", media_dir=config.media_dir)
        post = next((tmp_path / "out/_posts").iterdir()).read_text(encoding="utf-8")
        assert f'src="{server.url}/i/flaky.png"' in post  # keeps its original URL meanwhile
        state["ok"] = True
        second = update(config, archive)
        assert second.media.stored == 1
        summary = export_jekyll(archive, tmp_path / "out", media_dir=config.media_dir)
        assert summary.written == 1  # the post now points at the local copy
    post = next((tmp_path / "out/_posts").iterdir()).read_text(encoding="utf-8")
    assert 'src="../media/' in post


def test_hotlink_mode_fetches_no_image(tmp_path, server):
    server.route("/i/h.png", Reply(body=png()))
    feed_with_images(server, [["/i/h.png"]])
    config = make_config(tmp_path, [("源", [server.url + "/feed"])], media="hotlink")
    with Archive.open(config.archive) as archive:
        update(config, archive)
    assert image_requests(server, "/i/h.png") == []


def test_sniffing_and_listing():
    assert sniff_image(png()) == ("image/png", "png")
    assert sniff_image(b"\xff\xd8\xff\xe0" + b"\x00" * 20) == ("image/jpeg", "jpg")
    assert sniff_image(b"GIF89a....") == ("image/gif", "gif")
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("image/webp", "webp")
    assert sniff_image(b"<svg></svg>") is None
    assert sniff_image(b"<html>") is None
    html = (
        '<img src="https://e.org/a.jpg"><img src="https://e.org/a.jpg">'
        '<img src="https://e.org/b.jpg?x=1&amp;y=2"><img src="data:image/png;base64,xx">'
    )
    assert image_urls(html, 10) == ["https://e.org/a.jpg", "https://e.org/b.jpg?x=1&y=2"]
    assert image_urls(html, 1) == ["https://e.org/a.jpg"]
