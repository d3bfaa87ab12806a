"""Review H8 (session 22): the published Jekyll tree a lost archive is rebuilt from is
untrusted (a collaborator with push access, a compromised Pages repository). Each test
builds a hostile tree of real files, restores or imports it into a real archive, and checks
what the rebuilt archive then publishes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from newsmirror.demo.assets import png
from newsmirror.jekyll_import import import_jekyll
from newsmirror.publish.jekyll import export_jekyll
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.restore import restore_archive
from newsmirror.store import Archive

IMAGE = png(3, 2, (200, 10, 10))


def post(
    root: Path, name: str | bytes, url: str, *, date: str = "", body: str = "<p>x</p>"
) -> None:
    folder = root / "_posts"
    folder.mkdir(parents=True, exist_ok=True)
    front = f"---\nlayout: post\ntitle: t\nfrom: {url}\n" + (f"date: {date}\n" if date else "")
    data = f"{front}---\n<!--ms-->\n<div>\n{body}\n</div>\n".encode()
    if isinstance(name, bytes):
        with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
            handle.write(data)
    else:
        (folder / name).write_bytes(data)


def media_file(root: Path, data: bytes, ext: str) -> str:
    """Put ``data`` in root/media under its sha256 and ``ext``; the post's <img> for it."""
    sha = hashlib.sha256(data).hexdigest()
    path = root / "media" / sha[:2] / f"{sha}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return (
        f'<img src="../media/{sha[:2]}/{sha}.{ext}" '
        f'data-original-src="https://img.example/{sha[:8]}.{ext}">'
    )


def test_a_restored_media_file_that_is_not_an_image_is_never_published(tmp_path):
    tree = tmp_path / "tree"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    page = b"<html><script>alert(document.domain)</script></html>"
    polyglot = b"\x89PNG\r\n\x1a\n<html><script>alert(2)</script></html>"  # PNG bytes, .html
    imgs = [
        media_file(tree, svg, "svg"),
        media_file(tree, page, "html"),
        media_file(tree, polyglot, "html"),
        media_file(tree, IMAGE, "png"),
    ]
    post(tree, "2024-01-01-a.md", "https://e.org/a", body="".join(imgs))
    archive = Archive.open(tmp_path / "r" / "archive.sqlite")
    summary = import_jekyll(archive, tree)
    assert (summary.new, summary.skipped, summary.images) == (1, [], 1)
    refused = [n for n in summary.notes if "not an image" in n]
    assert len(refused) == 3, summary.notes
    assert all("left out" in n and "\n" not in n for n in refused)
    kept = sorted(p.suffix for p in archive.media_dir.rglob("*") if p.is_file())
    assert kept == [".png"]
    # What the rebuilt archive publishes: the site and the Jekyll tree hold no such file.
    site, out = tmp_path / "site", tmp_path / "out"
    build_site(archive, site, SiteOptions(search=False))
    export_jekyll(archive, out, media_dir=archive.media_dir)
    for folder in (site, out):
        published = [p.suffix for p in (folder / "media").rglob("*") if p.is_file()]
        assert published == [".png"], folder
    archive.close()


def test_deep_folders_in_the_tree_do_not_stop_the_restore(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # (the test walks down by chdir; the cwd comes back after)
    tree = tmp_path / "tree"
    post(tree, "2024-01-01-a.md", "https://e.org/a")
    deep = tree / "archived"
    deep.mkdir()
    os.chdir(deep)  # (each mkdir relative: the full path would pass PATH_MAX first)
    try:
        for _ in range(1200):
            os.mkdir("d")
            os.chdir("d")
        Path("2024-01-02-deep.md").write_text("---\nfrom: https://e.org/deep\n---\nx\n")
    finally:
        os.chdir(tmp_path)
    archive = Archive.open(tmp_path / "r" / "archive.sqlite")
    try:
        result = restore_archive(archive, tree)
        assert result is not None and result.error is None, result
        assert "2 new articles" in result.line
        urls = {a.url for a in archive.iter_articles()}
        assert urls == {"https://e.org/a", "https://e.org/deep"}
    finally:
        archive.close()
        remove_deep(deep)  # (pytest's own clean-up of old tmp folders recurses)


def remove_deep(top: Path) -> None:
    """Remove a chain of folders of any depth without recursion."""
    depth = 0
    os.chdir(top)
    try:
        while True:
            subs = [n for n in os.listdir(".") if os.path.isdir(n) and not os.path.islink(n)]
            if subs:
                os.chdir(subs[0])
                depth += 1
                continue
            for name in os.listdir("."):
                os.unlink(name)
            if depth == 0:
                break
            here = os.path.basename(os.getcwd())
            os.chdir("..")
            depth -= 1
            os.rmdir(here)
    finally:
        os.chdir(top.parent)
    top.rmdir()


def test_a_date_before_year_1000_is_unknown_and_the_archive_still_publishes(tmp_path):
    tree = tmp_path / "tree"
    post(tree, "2024-01-01-a.md", "https://e.org/a", date="0001-01-01")
    post(tree, "2024-01-02-b.md", "https://e.org/b", date="0999-12-31 23:00:00 +0000")
    post(tree, "0005-01-01-c.md", "https://e.org/c")  # only the file name has a date
    post(tree, "2024-01-04-d.md", "https://e.org/d", date="1000-01-01")  # a real year
    archive = Archive.open(tmp_path / "r" / "archive.sqlite")
    summary = import_jekyll(archive, tree)
    assert (summary.new, summary.skipped) == (4, [])
    assert sum("no valid date" in n for n in summary.notes) == 2, summary.notes
    by_url = {a.url: a for a in archive.iter_articles()}
    assert by_url["https://e.org/a"].published.year == 2024  # the file name's
    assert by_url["https://e.org/c"].published.year > 2000  # the file's mtime
    assert by_url["https://e.org/d"].published.year == 1000
    assert export_jekyll(archive, tmp_path / "out").written == 4
    assert build_site(archive, tmp_path / "site", SiteOptions(search=False)).written
    archive.close()


def test_a_post_whose_name_is_not_utf8_is_imported_not_lost(tmp_path):
    tree = tmp_path / "tree"
    post(tree, "2024-01-01-a.md", "https://e.org/a")
    post(tree, b"2024-01-02-\xb0\xa1\xff.md", "https://e.org/gbk-name")
    archive = Archive.open(tmp_path / "r" / "archive.sqlite")
    summary = import_jekyll(archive, tree)
    assert (summary.new, summary.skipped) == (2, [])
    out = tmp_path / "out"
    export_jekyll(archive, out)
    names = sorted(p.name for p in (out / "_posts").iterdir())
    assert len(names) == 2 and all(name.encode("utf-8") for name in names)
    archive.close()


def test_a_media_folder_that_links_outside_the_tree_is_not_read(tmp_path):
    """media/ab as a symlink to a folder elsewhere on the machine: the image is not read
    from there (posts behind links are refused the same way); it is fetched again."""
    tree, elsewhere = tmp_path / "tree", tmp_path / "elsewhere"
    img = media_file(elsewhere, IMAGE, "png")  # a valid image, named by its sha256
    sha = hashlib.sha256(IMAGE).hexdigest()
    (tree / "media").mkdir(parents=True)
    (tree / "media" / sha[:2]).symlink_to(elsewhere / "media" / sha[:2], target_is_directory=True)
    post(tree, "2024-01-01-a.md", "https://e.org/a", body=img)
    with Archive.open(tmp_path / "r" / "archive.sqlite") as archive:
        summary = import_jekyll(archive, tree)
        assert (summary.new, summary.images) == (1, 0)
        assert not [p for p in archive.media_dir.rglob("*") if p.is_file()]
    assert any("cannot read" in n and "\n" not in n for n in summary.notes), summary.notes
