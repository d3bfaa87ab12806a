"""The one writer: what it rewrites, file permissions, and the export's media folder."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ARTICLE_TEXT, Reply, make_config, rss
from newsmirror.demo.assets import png
from newsmirror.pipeline import update
from newsmirror.publish.jekyll import export_jekyll, write_site_files
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.publish.writer import OutputWriter
from newsmirror.store import Archive


def test_same_size_new_bytes_are_written(tmp_path):
    first = OutputWriter(tmp_path)
    assert first.write("a/page.html", b"<p>old</p>")
    again = OutputWriter(tmp_path)
    assert again.write("a/page.html", b"<p>new</p>")  # the same size, other bytes
    assert (tmp_path / "a/page.html").read_bytes() == b"<p>new</p>"
    before = (tmp_path / "a/page.html").stat().st_mtime_ns
    third = OutputWriter(tmp_path)
    assert not third.write("a/page.html", b"<p>new</p>")
    assert third.unchanged == 1
    assert (tmp_path / "a/page.html").stat().st_mtime_ns == before


@contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mirrored(tmp_path, server, name="a"):
    """A real fetch with images mirrored: (config, archive path)."""
    server.route("/i/0.png", Reply(body=png(4), headers={"Content-Type": "image/png"}))
    server.route("/i/1.png", Reply(body=png(5), headers={"Content-Type": "image/png"}))
    items = [
        {
            "title": f"图文{i}",
            "link": f"{server.url}/a/{i}",
            "pubDate": f"Mon, 0{1 + i} Jan 2024 00:00:00 GMT",
            "content": f'<p>{ARTICLE_TEXT}</p><img src="{server.url}/i/{i % 2}.png">',
        }
        for i in range(3)
    ]
    server.route("/feed", Reply(body=rss(items)))
    folder = tmp_path / name
    folder.mkdir()
    config = make_config(folder, [("源", [server.url + "/feed"])], media="mirror")
    with Archive.open(config.archive) as archive:
        update(config, archive)
    return config


def modes(*folders: Path) -> dict[str, int]:
    out = {}
    for folder in folders:
        out[str(folder)] = stat.S_IMODE(folder.stat().st_mode)
        for path in folder.rglob("*"):
            out[str(path)] = stat.S_IMODE(path.stat().st_mode)
    return out


@pytest.mark.slow  # runs Pagefind
@pytest.mark.parametrize(
    ("mask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_published_files_follow_the_umask(tmp_path, server, mask, file_mode, dir_mode):
    with umask(mask):
        config = mirrored(tmp_path, server)
        with Archive.open(config.archive) as archive:
            build_site(archive, tmp_path / "site", SiteOptions(search=True))
            export_jekyll(archive, tmp_path / "export", media_dir=config.media_dir)
        write_site_files(tmp_path / "export")
    found = modes(config.media_dir, tmp_path / "site", tmp_path / "export")
    files = {p: m for p, m in found.items() if Path(p).is_file()}
    assert len([p for p in files if "/media/" in p]) >= 4  # the archive's and the outputs'
    assert any("/pagefind/" in p for p in files)
    assert {p: m for p, m in files.items() if m != file_mode} == {}
    assert {p: m for p, m in found.items() if p not in files and m != dir_mode} == {}


def test_export_media_layout(tmp_path, server):
    config = mirrored(tmp_path, server)
    out = tmp_path / "out"
    with Archive.open(config.archive) as archive:
        export_jekyll(archive, out, media_dir=config.media_dir)
    media = sorted(p for p in (out / "media").rglob("*") if p.is_file())
    assert len(media) == 2  # two distinct images, one of them used by two posts
    for file in media:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        assert file.relative_to(out).as_posix() == f"media/{digest[:2]}/{digest}.png"
        assert file.read_bytes() == (config.media_dir / digest[:2] / file.name).read_bytes()
    seen = {}
    for post in sorted((out / "_posts").iterdir()):
        [img] = re.findall(r"<img[^>]*>", post.read_text(encoding="utf-8"))
        src = re.search(r'\ssrc="([^"]+)"', img).group(1)
        original = re.search(r'\sdata-original-src="([^"]+)"', img).group(1)
        assert re.fullmatch(r"\.\./media/[0-9a-f]{2}/[0-9a-f]{64}\.png", src), src
        assert (post.parent / src).resolve().is_file()
        assert original.startswith(f"{server.url}/i/")
        seen[original] = src
    assert len(seen) == 2 and len(set(seen.values())) == 2
