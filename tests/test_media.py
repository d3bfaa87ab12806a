"""Image mirroring against local servers: dedupe, caps, sniffing, Referer, retries."""

from __future__ import annotations

from conftest import ARTICLE_TEXT, Reply, make_config, rss
from newsmirror.demo.assets import png
from newsmirror.media import IMAGE_ACCEPT, image_urls, sniff_image
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
    assert headers.get("Accept") == IMAGE_ACCEPT


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


# -- the media folder: content-addressed, one file per distinct image ---------------------

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def media_files(config):
    return sorted(p.relative_to(config.media_dir).as_posix() for p in config.media_dir.rglob("*.*"))


def sha(data):
    import hashlib

    return hashlib.sha256(data).hexdigest()


def maps_by_title(config):
    with Archive.open(config.archive) as archive:
        return {a.title: archive.media_map(a.id) for a in archive.iter_articles()}


def test_identical_bytes_at_different_urls_are_stored_once(tmp_path, server):
    image = png(5, 5, (10, 120, 200))
    server.route("/i/one.png", Reply(body=image, headers={"Content-Type": "image/png"}))
    server.route("/cdn/other-name.jpg", Reply(body=image, headers={"Content-Type": "image/jpeg"}))
    feed_with_images(server, [["/i/one.png"], ["/cdn/other-name.jpg"]])
    config, summary = run(tmp_path, server)
    assert summary.media.stored == 2 and summary.media.failed == 0  # both fetched...
    digest = sha(image)
    assert media_files(config) == [f"{digest[:2]}/{digest}.png"]  # ...one file kept
    assert (config.media_dir / digest[:2] / f"{digest}.png").read_bytes() == image
    assert maps_by_title(config) == {
        "图文0": {f"{server.url}/i/one.png": (digest, "png")},
        "图文1": {f"{server.url}/cdn/other-name.jpg": (digest, "png")},
    }
    with Archive.open(config.archive) as archive:
        assert archive.conn.execute("SELECT count(*) FROM media").fetchone()[0] == 1


def test_different_images_are_kept_apart(tmp_path, server):
    red, blue = png(4, 3, (200, 30, 30)), png(4, 3, (30, 30, 200))
    assert len(red) == len(blue) and red != blue
    server.route("/i/a.png", Reply(body=red))
    server.route("/i/b.png", Reply(body=blue))
    feed_with_images(server, [["/i/a.png"], ["/i/b.png", "/i/a.png"]])
    config, summary = run(tmp_path, server)
    assert summary.media.stored == 2
    r, b = sha(red), sha(blue)
    assert media_files(config) == sorted([f"{r[:2]}/{r}.png", f"{b[:2]}/{b}.png"])
    assert (config.media_dir / f"{r[:2]}/{r}.png").read_bytes() == red
    assert (config.media_dir / f"{b[:2]}/{b}.png").read_bytes() == blue
    assert maps_by_title(config) == {
        "图文0": {f"{server.url}/i/a.png": (r, "png")},
        "图文1": {f"{server.url}/i/b.png": (b, "png"), f"{server.url}/i/a.png": (r, "png")},
    }


def test_media_layout_and_extension_from_the_bytes_not_the_header(tmp_path, server):
    image = png(2, 2, (1, 2, 3))
    server.route("/i/photo.jpg", Reply(body=image, headers={"Content-Type": "image/jpeg"}))
    server.route("/i/anim.png", Reply(body=GIF, headers={"Content-Type": "image/png"}))
    feed_with_images(server, [["/i/photo.jpg", "/i/anim.png"]])
    config, summary = run(tmp_path, server)
    assert summary.media.stored == 2
    p, g = sha(image), sha(GIF)
    assert media_files(config) == sorted([f"{p[:2]}/{p}.png", f"{g[:2]}/{g}.gif"])
    with Archive.open(config.archive) as archive:
        rows = archive.conn.execute("SELECT sha256, mime, ext, size FROM media").fetchall()
        assert sorted(rows) == sorted(
            [(p, "image/png", "png", len(image)), (g, "image/gif", "gif", len(GIF))]
        )
        export_jekyll(archive, tmp_path / "out", media_dir=config.media_dir)
    post = next((tmp_path / "out/_posts").iterdir()).read_text(encoding="utf-8")
    assert f'src="../media/{p[:2]}/{p}.png"' in post and f'src="../media/{g[:2]}/{g}.gif"' in post
    assert (tmp_path / "out/media" / p[:2] / f"{p}.png").read_bytes() == image


def test_an_image_used_again_later_is_reused_not_fetched_and_its_record_kept(tmp_path, server):
    image = png(3, 3, (9, 9, 9))
    server.route("/i/same.png", Reply(body=image))
    feed_with_images(server, [["/i/same.png"]])
    config, first = run(tmp_path, server)
    assert (first.media.stored, first.media.reused) == (1, 0)
    with Archive.open(config.archive) as archive:
        media_rows = archive.conn.execute("SELECT * FROM media").fetchall()
    # A new article with the same image, on the next run.
    feed_with_images(server, [["/i/same.png"], ["/i/same.png"]])
    config, second = run(tmp_path, server)
    assert (second.media.stored, second.media.reused) == (0, 1)
    assert len(image_requests(server, "/i/same.png")) == 1
    digest = sha(image)
    assert media_files(config) == [f"{digest[:2]}/{digest}.png"]
    with Archive.open(config.archive) as archive:
        assert archive.conn.execute("SELECT * FROM media").fetchall() == media_rows
    assert (
        list(maps_by_title(config).values()) == [{f"{server.url}/i/same.png": (digest, "png")}] * 2
    )


def test_write_media_keeps_a_file_already_there(tmp_path):
    from newsmirror.media import write_media

    image = png(2, 3)
    digest = write_media(tmp_path, image, "png")
    path = tmp_path / digest[:2] / f"{digest}.png"
    assert digest == sha(image) and path.read_bytes() == image
    before = path.stat()
    assert write_media(tmp_path, image, "png") == digest
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_sniffing_avif_and_lookalikes():
    assert sniff_image(b"\x00\x00\x00\x1cftypavif\x00\x00") == ("image/avif", "avif")
    assert sniff_image(b"\x00\x00\x00\x1cftypavis\x00\x00") == ("image/avif", "avif")
    assert sniff_image(b"\x00\x00\x00\x1cftypisom\x00\x00") is None  # an MP4 video
    assert sniff_image(b"\x00\x00\x00\x1cFTYPavif\x00\x00") is None
    assert sniff_image(b"\x00\x00\x00\x1cxxxxavif\x00\x00") is None
    assert sniff_image(b"XXXXxxxxWEBPVP8 ") is None  # WEBP without its RIFF box
    assert sniff_image(b"BM\x00\x00\x00\x00\x00\x00WEBP") == ("image/bmp", "bmp")
    assert sniff_image(b"\x00\x00\x01\x00\x01\x00") == ("image/x-icon", "ico")


def test_an_unasked_304_for_an_image_is_a_named_failure(tmp_path, server):
    server.route("/i/odd.png", Reply(304, b""))
    server.route("/i/bad.png", Reply(404, b"gone"))
    feed_with_images(server, [["/i/odd.png", "/i/bad.png"]])
    _, summary = run(tmp_path, server)
    assert (summary.media.stored, summary.media.failed) == (0, 2)
    assert sorted(summary.media.errors) == [
        f"{server.url}/i/bad.png: HTTP 404 Not Found",
        f"{server.url}/i/odd.png: failed",
    ]
