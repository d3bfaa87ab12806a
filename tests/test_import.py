"""Importing the old mirrors' posts: nothing lost, defects read, duplicates merged."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import lxml.html
import pytest
import yaml

from conftest import CORPUS, SEED
from newsmirror.clean import DROPPED_WITH_CONTENT
from newsmirror.jekyll_import import import_jekyll, read_post
from newsmirror.publish.jekyll import export_jekyll, valid_filename
from newsmirror.store import Archive

POSTS = sorted((CORPUS / "nodebe4-posts").glob("*/_posts/*.md"))
DROPPED = tuple(DROPPED_WITH_CONTENT)


def visible_text(markup: str) -> str:
    if not markup.strip():
        return ""
    tree = lxml.html.fromstring(f"<div>{markup}</div>")
    for bad in tree.xpath("|".join(f"//{t}" for t in DROPPED)):
        bad.drop_tree()
    # Invisible characters (BOM, controls) are dropped by the sanitiser on purpose.
    return re.sub(r"[\s\ufeff\x00-\x1f\x7f-\x9f]+", "", tree.text_content())


def original(path):
    text = path.read_text(encoding="utf-8")
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    if not POSTS:
        pytest.skip("../shared/corpus is not here")
    root = tmp_path_factory.mktemp("imp")
    archive = Archive.open(root / "a.sqlite")
    for mirror in sorted({p.parent.parent for p in POSTS}):
        summary = import_jekyll(archive, mirror)
        assert not summary.skipped
    yield archive, root
    archive.close()


def test_corpus_import_loses_nothing(imported):
    archive, _ = imported
    by_url = {a.url: a for a in archive.iter_articles()}
    assert len(by_url) == len(POSTS) == 480
    for path in POSTS:
        front, body = original(path)
        art = by_url[front["from"]]
        assert art.title == front["title"].strip(), path.name
        assert art.author == str(front["author"]).strip(), path.name
        assert art.source == front["categories"][0], path.name
        assert (list(art.tags) or [art.source]) == front["tags"], path.name
        ms = re.search(r"^<!--(\d+)-->", body, re.M)
        if ms:
            assert art.published == datetime.fromtimestamp(int(ms[1]) / 1000, tz=UTC)
        else:
            when = front["date"]
            if not isinstance(when, datetime):
                when = datetime(when.year, when.month, when.day, tzinfo=UTC)
            assert art.published == when.astimezone(UTC), path.name
        assert visible_text(art.content) in visible_text(body), path.name
        assert len(visible_text(art.content)) >= 0.95 * len(
            visible_text(body.split("------\n", 1)[-1])
        ), path.name


def test_nan_date_marked_unknown(imported):
    archive, _ = imported
    nan_posts = [p for p in POSTS if "<!--NaN-->" in p.read_text(encoding="utf-8")]
    assert nan_posts
    front, _ = original(nan_posts[0])
    row = archive.conn.execute(
        "SELECT date_known FROM articles WHERE url = ?", (front["from"],)
    ).fetchone()
    assert row == (0,)


def test_exporting_imported_archive_gives_valid_posts(imported):
    archive, root = imported
    out = root / "export"
    summary = export_jekyll(archive, out)
    files = sorted((out / "_posts").iterdir())
    assert summary.written == len(files) == 480
    for f in files:
        assert valid_filename(f.name), f.name
        front = yaml.safe_load(f.read_text(encoding="utf-8").split("---\n")[1])
        assert front["layout"] == "post" and front["from"].startswith("http")
        assert "<!--NaN-->" not in f.read_text(encoding="utf-8")
    # Names are kept from the old tree where they were valid (no | # \" …).
    valid_old = {p.name for p in POSTS if valid_filename(p.name)}
    assert len(valid_old) > 400
    assert valid_old <= {f.name for f in files}


def test_same_url_under_two_names_is_merged(tmp_path):
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    (site / "archived" / "2020").mkdir(parents=True)
    text = SEED.read_text(encoding="utf-8")
    (site / "_posts" / "2023-10-29-a.md").write_text(text, encoding="utf-8")
    longer = text.replace("</p>\n</div>", "</p><p>补充段落</p>\n</div>")
    (site / "archived" / "2020" / "2023-10-29-b.md").write_text(longer, encoding="utf-8")
    with Archive.open(tmp_path / "a.sqlite") as archive:
        summary = import_jekyll(archive, site)
        assert (summary.new, summary.merged) == (1, 1)
        [art] = list(archive.iter_articles())
        assert "补充段落" in art.content
        assert len(archive.revisions(art.id)) == 1
        again = import_jekyll(archive, site)
        assert again.unchanged == 2 and again.new == 0


def test_old_writer_defects(tmp_path):
    site = tmp_path / "site"
    posts = site / "_posts"
    posts.mkdir(parents=True)
    (posts / '2021-01-02-\\"国家主席\\"马云.md').write_text(
        '---\nlayout: post\ntitle: "\\"国家主席\\"马云 \\d"\ndate: 2021-01-02T03:04:05.000Z\n'
        "author: a: b\nfrom: https://e.org/1\ntags: [ 源 ]\ncategories: [ 源 ]\n---\n"
        "<!--NaN-->\n[t](https://e.org/1)\n------\n\n<div>\n<p>正文\x07</p>\n</div>\n",
        encoding="utf-8",
    )
    (posts / "2020-06-06-bare.md").write_text(
        "---\nlayout: post\ntitle: bare\ndate: 2020-06-06\nauthor: x\n"
        "from: https://e.org/2\ntags: [ 源 ]\ncategories: [ 源 ]\n---\n\n<article><p>旧文"
        "</p></article>\n",
        encoding="utf-8",
    )
    (posts / "2020-06-07-nofrom.md").write_text("---\ntitle: x\n---\nbody", encoding="utf-8")
    with Archive.open(tmp_path / "a.sqlite") as archive:
        summary = import_jekyll(archive, site)
        assert summary.new == 2 and len(summary.skipped) == 1
        arts = {a.url: a for a in archive.iter_articles()}
        first = arts["https://e.org/1"]
        assert first.title == '"国家主席"马云 d'
        assert first.author == "a: b"
        assert first.published == datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert first.content == "<p>正文</p>"
        bare = arts["https://e.org/2"]
        assert bare.published == datetime(2020, 6, 6, tzinfo=UTC)
        assert "旧文" in bare.content
        export_jekyll(archive, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out/_posts").iterdir())
    assert all(valid_filename(n) for n in names)
    assert "2021-01-02--国家主席-马云 d.md" in names


def test_seed_round_trip_import_then_export(tmp_path):
    site = tmp_path / "site" / "_posts"
    site.mkdir(parents=True)
    name = "2023-10-29-分析：拜登习近平11月会谈的背后原因.md"
    shutil.copy(SEED, site / name)
    with Archive.open(tmp_path / "a.sqlite") as archive:
        import_jekyll(archive, tmp_path / "site")
        export_jekyll(archive, tmp_path / "out")
    assert (tmp_path / "out/_posts" / name).read_bytes() == SEED.read_bytes()
    assert read_post(site / name).title == "分析：拜登习近平11月会谈的背后原因"
