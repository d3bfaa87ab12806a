"""The one writer: what it rewrites, file permissions, and the export's media folder."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ARTICLE_TEXT, Reply, make_config, rss
from newsmirror.demo.assets import png
from newsmirror.errors import OutputError
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
    assert any("/search/" in p for p in files)
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


OUTSIDE = "refusing to write outside the output folder: "


def test_the_output_folder_is_made_with_its_parents(tmp_path):
    writer = OutputWriter(tmp_path / "a" / "b" / "site")
    assert writer.write("index.html", b"x")
    assert (tmp_path / "a/b/site/index.html").read_bytes() == b"x"


def test_an_output_folder_that_cannot_be_made_is_named(tmp_path):
    (tmp_path / "file").write_bytes(b"not a folder")
    with pytest.raises(OutputError) as info:
        OutputWriter(tmp_path / "file" / "site")
    assert info.value.message.startswith(f"cannot create output folder {tmp_path}/file/site: ")
    assert "Not a directory" in info.value.message and info.value.exit_code == 5


@pytest.mark.parametrize("relpath", ["a/../b.html", "..", "", ".", "a\x00b.html", "/etc/x"])
def test_a_path_that_is_not_plainly_inside_the_root_is_refused(tmp_path, relpath):
    writer = OutputWriter(tmp_path / "out")
    with pytest.raises(OutputError) as info:
        writer.write(relpath, b"x")
    assert info.value.message == OUTSIDE + repr(relpath)
    assert info.value.exit_code == 5
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out"]


def test_a_path_through_a_symlink_out_of_the_root_is_refused(tmp_path):
    writer = OutputWriter(tmp_path / "out")
    os.symlink(tmp_path, tmp_path / "out" / "link")
    with pytest.raises(OutputError) as info:
        writer.write("link/escape.md", b"x")
    assert info.value.message == OUTSIDE + "'link/escape.md'"
    assert not (tmp_path / "escape.md").exists()


@pytest.mark.parametrize("same_bytes", [True, False])
def test_a_symlink_planted_in_the_output_is_replaced_not_followed(tmp_path, same_bytes):
    """A link at a published name (pointing outside, at bytes equal or not) is replaced by
    the file itself; what the link pointed at is never touched."""
    outside = tmp_path / "outside.html"
    outside.write_bytes(b"page" if same_bytes else b"secret")
    writer = OutputWriter(tmp_path / "out")
    os.symlink(outside, tmp_path / "out" / "index.html")
    assert writer.size("index.html") is None
    assert writer.write("index.html", b"page") is True
    target = tmp_path / "out" / "index.html"
    assert not target.is_symlink()
    assert target.read_bytes() == b"page"
    assert outside.read_bytes() == (b"page" if same_bytes else b"secret")


def test_copy_in_replaces_a_planted_symlink(tmp_path):
    source = tmp_path / "img.png"
    source.write_bytes(b"png")
    writer = OutputWriter(tmp_path / "out")
    (tmp_path / "out" / "media").mkdir()
    (tmp_path / "elsewhere.png").write_bytes(b"other")
    os.symlink(tmp_path / "elsewhere.png", tmp_path / "out" / "media" / "a.png")
    writer.copy_in("media/a.png", source)
    assert not (tmp_path / "out" / "media" / "a.png").is_symlink()
    assert (tmp_path / "out" / "media" / "a.png").read_bytes() == b"png"
    assert (tmp_path / "elsewhere.png").read_bytes() == b"other"


def test_a_planted_symlink_is_replaced_even_when_it_looks_like_the_file(tmp_path):
    """A link whose own size equals the new bytes' length and whose target holds exactly
    those bytes is still a link: it is replaced."""
    outside = tmp_path / "outside.html"
    data = b"p" * len(str(outside))  # a symlink's own size is the length of its target path
    outside.write_bytes(data)
    writer = OutputWriter(tmp_path / "out")
    os.symlink(outside, tmp_path / "out" / "index.html")
    assert writer.write("index.html", data) is True
    assert not (tmp_path / "out" / "index.html").is_symlink()


def test_a_file_written_twice_in_one_run_is_a_bug_said_so(tmp_path):
    writer = OutputWriter(tmp_path)
    writer.write("a.html", b"x")
    with pytest.raises(OutputError) as info:
        writer.write("a.html", b"x")
    assert info.value.message == "a.html would be written twice in one run"
    assert info.value.hint == "Two outputs claim the same file; this is a bug."


def test_a_file_another_process_wrote_counts_as_written_once(tmp_path):
    # The search indexer's workers write through writers of their own; the run's
    # writer is told, so that the file counts as written and is not written again.
    OutputWriter(tmp_path).write("search/s0/0.js", b"x")
    writer = OutputWriter(tmp_path)
    writer.claim("search/s0/0.js")
    assert writer.written == {"search/s0/0.js"}
    for again in (
        lambda: writer.write("search/s0/0.js", b"x"),
        lambda: writer.claim("search/s0/0.js"),
    ):
        with pytest.raises(OutputError, match="would be written twice in one run"):
            again()
    for outside in ("../x.js", "/etc/x.js"):
        with pytest.raises(OutputError, match="refusing to write outside"):
            writer.claim(outside)
    assert writer.written == {"search/s0/0.js"}


def test_a_folder_where_a_file_goes_is_a_write_error_with_the_usual_hint(tmp_path):
    (tmp_path / "page.html" / "inside").mkdir(parents=True)
    writer = OutputWriter(tmp_path)
    with pytest.raises(OutputError) as info:
        writer.write("page.html", b"<p>x</p>")
    assert info.value.message == f"cannot write {tmp_path}/page.html: Is a directory"
    assert info.value.hint == OutputError.default_hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


@contextmanager
def small_disk(folder: Path):
    """A real 64 KB file system at ``folder`` (a tmpfs; needs root on Linux)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_full_disk_says_so(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        writer = OutputWriter(disk)
        writer.write("old.html", b"kept")
        with pytest.raises(OutputError) as info:
            writer.write("big.html", b"x" * 200_000)
        assert info.value.message == f"cannot write {disk}/big.html: No space left on device"
        assert info.value.hint == "The disk is full; free space and run again."
        assert sorted(p.name for p in disk.iterdir()) == ["old.html"]
        assert (disk / "old.html").read_bytes() == b"kept"


def test_copy_in_keeps_a_file_that_is_there_and_names_a_missing_source(tmp_path):
    writer = OutputWriter(tmp_path / "out")
    source = tmp_path / "ab12.png"
    source.write_bytes(b"png")
    writer.copy_in("media/ab/ab12.png", source)
    writer.copy_in("media/ab/ab12.png", source)  # again in the same run: no error
    assert (tmp_path / "out/media/ab/ab12.png").read_bytes() == b"png"
    with pytest.raises(OutputError) as info:
        writer.copy_in("media/cd/cd34.png", tmp_path / "cd34.png")
    assert info.value.message == f"cannot read {tmp_path}/cd34.png: No such file or directory"
    assert not (tmp_path / "out/media/cd").exists()


def test_remove_says_whether_there_was_a_file(tmp_path):
    writer = OutputWriter(tmp_path)
    writer.write("old.html", b"x")
    (tmp_path / "folder.html").mkdir()
    assert writer.remove("old.html") is True
    assert writer.remove("old.html") is False
    assert not (tmp_path / "old.html").exists()
    with pytest.raises(OutputError) as info:
        writer.remove("folder.html")
    assert info.value.message == f"cannot remove {tmp_path}/folder.html: Is a directory"


def test_prune_removes_the_nested_folders_removals_emptied_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    writer = OutputWriter(out)
    for path in ("archive/2023/10/01.html", "archive/2023/10/02.html", "archive/2024/01.html"):
        writer.write(path, b"x")
    (out / "archive" / "2023" / "09").mkdir()  # empty, but no removal emptied it
    removed = [
        p for p in ("archive/2023/10/01.html", "archive/2023/10/02.html") if writer.remove(p)
    ]
    assert writer.prune(removed) == 1  # 2023/10 only: 2023 still holds 09
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "archive",
        "archive/2023",
        "archive/2023/09",
        "archive/2024",
        "archive/2024/01.html",
    ]
    assert writer.remove("archive/2024/01.html")
    assert writer.prune(["archive/2024/01.html", "index.html"]) == 1  # archive keeps 2023
    (out / "archive" / "2023" / "09").rmdir()
    writer.write("archive/2023/last.html", b"x")
    assert writer.remove("archive/2023/last.html")
    assert writer.prune(["archive/2023/last.html"]) == 2  # 2023, then archive
    assert out.is_dir() and list(out.iterdir()) == []  # the root stays, even empty


def test_removal_and_prune_never_follow_a_symlinked_folder(tmp_path):
    out = tmp_path / "out"
    writer = OutputWriter(out)
    writer.write("real/page.html", b"live")
    (out / "link").symlink_to("real")  # a folder of the site under another name
    (tmp_path / "away").mkdir()
    (tmp_path / "away" / "page.html").write_bytes(b"theirs")
    (out / "far").symlink_to(tmp_path / "away")  # a folder outside it
    for path in ("link/page.html", "far/page.html"):
        assert writer.remove(path) is False
    assert writer.prune(["link/page.html", "far/page.html", "link/x/y.html"]) == 0
    assert (out / "real" / "page.html").read_bytes() == b"live"
    assert (tmp_path / "away" / "page.html").read_bytes() == b"theirs"
    assert (out / "link").is_symlink() and (out / "far").is_symlink()
    with pytest.raises(OutputError):
        writer.prune(["../x/y.html"])
