"""Incremental Jekyll export: one file per article, nothing rewritten that did not change."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Reply, make_config, rss
from newsmirror.errors import OutputError
from newsmirror.media import image_urls, write_media
from newsmirror.pipeline import update
from newsmirror.publish.jekyll import export_jekyll
from newsmirror.publish.writer import OutputWriter
from newsmirror.store import Archive, ExportRecord


def items(n, **over):
    return [
        {
            "title": f"第{i}篇",
            "link": f"https://e.org/{i}",
            "pubDate": f"Mon, 0{1 + i % 9} Jan 2024 00:00:00 GMT",
            "content": f"<p>内容{i}</p>",
            **over,
        }
        for i in range(n)
    ]


def snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture
def feed(tmp_path, server):
    state = {"items": items(5)}
    server.route("/f", lambda _h: Reply(body=rss(state["items"])))
    config = make_config(tmp_path, [("源", [server.url + "/f"])])
    archive = Archive.open(config.archive)
    yield state, config, archive
    archive.close()


def test_reexport_unchanged_writes_nothing(tmp_path, feed):
    _state, config, archive = feed
    update(config, archive)
    out = tmp_path / "out"
    first = export_jekyll(archive, out)
    assert first.written == 5
    before = snapshot(out / "_posts")
    again = export_jekyll(archive, out)
    assert (again.written, again.unchanged) == (0, 5)
    assert snapshot(out / "_posts") == before


def test_changed_article_rewrites_only_its_file(tmp_path, feed):
    state, config, archive = feed
    update(config, archive)
    out = tmp_path / "out"
    export_jekyll(archive, out)
    before = snapshot(out / "_posts")
    state["items"][2]["content"] = "<p>改过的内容</p>"
    update(config, archive)
    summary = export_jekyll(archive, out)
    after = snapshot(out / "_posts")
    assert summary.written == 1
    changed = [name for name in after if after[name] != before.get(name)]
    assert len(changed) == 1 and "第2篇" in changed[0]
    assert "改过的内容" in after[changed[0]][0].decode()


def test_retitled_article_is_renamed_not_duplicated(tmp_path, feed):
    state, config, archive = feed
    update(config, archive)
    out = tmp_path / "out"
    export_jekyll(archive, out)
    state["items"][0]["title"] = "新的标题"
    update(config, archive)
    summary = export_jekyll(archive, out)
    names = sorted(p.name for p in (out / "_posts").iterdir())
    assert summary.removed == 1 and len(names) == 5
    assert any("新的标题" in n for n in names) and not any("第0篇" in n for n in names)


def test_retitled_post_redirects_from_its_old_url(tmp_path, feed):
    """An outlet edits a headline: the post moves to a file of the new title, and its old
    page (linked from elsewhere by then) sends readers on instead of giving a 404."""
    import json

    from newsmirror.publish.posturls import old_url

    state, config, archive = feed
    update(config, archive)
    out = tmp_path / "out"
    export_jekyll(archive, out)
    before = {p.name for p in (out / "_posts").iterdir()}
    state["items"][0]["title"] = "新的标题"
    update(config, archive)
    export_jekyll(archive, out)
    after = {p.name for p in (out / "_posts").iterdir()}
    (gone,), (came,) = before - after, after - before
    front = yaml.safe_load((out / "_posts" / came).read_text().split("---\n")[1])
    assert front["redirect_from"] == [old_url(gone)]
    moved = json.loads((out / "_data/moved.json").read_text())
    assert moved == {old_url(gone): old_url(came)}
    state["items"][0]["title"] = "第三个标题"  # edited again: both old pages lead here
    update(config, archive)
    export_jekyll(archive, out)
    (third,) = {p.name for p in (out / "_posts").iterdir()} - after
    front = yaml.safe_load((out / "_posts" / third).read_text().split("---\n")[1])
    assert sorted(front["redirect_from"]) == sorted([old_url(gone), old_url(came)])


def test_same_name_for_two_articles_never_overwrites(tmp_path, server):
    same = [
        {
            "title": "同一个标题",
            "link": f"https://e.org/{i}",
            "pubDate": "Mon, 01 Jan 2024 00:00:00 GMT",
            "content": f"<p>{i}</p>",
        }
        for i in range(3)
    ]
    server.route("/f", Reply(body=rss(same)))
    config = make_config(tmp_path, [("源", [server.url + "/f"])])
    with Archive.open(config.archive) as archive:
        update(config, archive)
        export_jekyll(archive, tmp_path / "out")
        names = sorted(p.name for p in (tmp_path / "out/_posts").iterdir())
        assert len(names) == 3 and "2024-01-01-同一个标题.md" in names
        urls = {
            yaml.safe_load(p.read_text().split("---\n")[1])["from"]
            for p in (tmp_path / "out/_posts").iterdir()
        }
        assert urls == {"https://e.org/0", "https://e.org/1", "https://e.org/2"}
        # Names are stable across runs and archives.
        export_jekyll(archive, tmp_path / "out2")
        assert sorted(p.name for p in (tmp_path / "out2/_posts").iterdir()) == names


def test_foreign_file_with_same_name_is_not_overwritten(tmp_path, feed):
    _state, config, archive = feed
    update(config, archive)
    out = tmp_path / "out"
    (out / "_posts").mkdir(parents=True)
    foreign = out / "_posts" / "2024-01-01-第0篇.md"
    foreign.write_text("someone else's post")
    assert export_jekyll(archive, out).line() == "5 posts: 5 written, 0 unchanged, 0 removed"
    assert foreign.read_text() == "someone else's post"
    names = sorted(p.name for p in (out / "_posts").iterdir())
    assert len(names) == 6
    # When the foreign file goes, the article keeps the name it has: no rename, no churn.
    foreign.unlink()
    assert export_jekyll(archive, out).line() == "5 posts: 0 written, 5 unchanged, 0 removed"
    assert sorted(p.name for p in (out / "_posts").iterdir()) == sorted(set(names) - {foreign.name})


def test_deleted_file_is_restored(tmp_path, feed):
    _state, config, archive = feed
    update(config, archive)
    out = tmp_path / "out"
    export_jekyll(archive, out)
    victim = next((out / "_posts").iterdir())
    victim.unlink()
    assert export_jekyll(archive, out).written == 1
    assert victim.exists()


def test_writer_refuses_paths_outside_root(tmp_path):
    writer = OutputWriter(tmp_path / "out")
    for bad in ("../x", "/etc/passwd", "_posts/../../x", "a\\..\\b", ""):
        with pytest.raises(OutputError):
            writer.write(bad, b"x")
    os.symlink(tmp_path, tmp_path / "out" / "link")
    with pytest.raises(OutputError):
        writer.write("link/escape.md", b"x")
    assert writer.write("_posts/ok.md", b"x")
    with pytest.raises(OutputError, match="twice"):
        writer.write("_posts/ok.md", b"y")


def test_export_dates_are_utc(tmp_path, server):
    server.route(
        "/f",
        Reply(
            body=rss(
                [
                    {
                        "title": "t",
                        "link": "https://e.org/x",
                        "pubDate": "Tue, 02 Jan 2024 07:30:00 +0800",
                    }
                ]
            )
        ),
    )
    config = make_config(tmp_path, [("源", [server.url + "/f"])])
    with Archive.open(config.archive) as archive:
        update(config, archive)
        export_jekyll(archive, tmp_path / "out")
    [post] = (tmp_path / "out/_posts").iterdir()
    assert post.name == "2024-01-01-t.md"
    text = post.read_text()
    assert "date: 2024-01-01T23:30:00.000Z" in text
    stamp = int(datetime(2024, 1, 1, 23, 30, tzinfo=UTC).timestamp() * 1000)
    assert f"<!--{stamp}-->" in text


TITLE_CHARS = st.sampled_from([*'/:.\\*?"<>| ', "a", "A", "ß", "S", "新", "é", "e", "\u0301"])


def put(archive, title, url, when=datetime(2024, 1, 1, tzinfo=UTC), source="源", jekyll_name=""):
    archive.import_article(
        source=source,
        url=url,
        title=title,
        author="",
        content=f"<p>{title}</p>",
        tags=[],
        published=when,
        date_known=True,
        published_raw="",
        jekyll_name=jekyll_name,
        now=when,
    )
    archive.conn.commit()


def assert_distinct_ignoring_case(names):
    folded = [n.casefold() for n in names]
    assert len(set(folded)) == len(folded), sorted(names)


def test_names_differing_only_by_case_get_their_own_files(tmp_path):
    with Archive.open(tmp_path / "a.sqlite") as archive:
        for i, title in enumerate(["ABC", "abc", "Abc", "ABC."]):
            put(archive, title, f"https://e.org/{i}")
        out = tmp_path / "out"
        assert export_jekyll(archive, out).written == 4
        names = sorted(p.name for p in (out / "_posts").iterdir())
        assert len(names) == 4 and "2024-01-01-ABC.md" in names
        assert_distinct_ignoring_case(names)
        # A foreign file whose name differs only by case is left alone and not collided with.
        (out / "_posts" / "2024-01-01-xyz.md").write_text("someone else's")
        put(archive, "XYZ", "https://e.org/x")
        export_jekyll(archive, out)
        again = sorted(p.name for p in (out / "_posts").iterdir())
        assert_distinct_ignoring_case(again)
        assert (out / "_posts" / "2024-01-01-xyz.md").read_text() == "someone else's"
        assert set(names) <= set(again)  # nothing renamed
        # Stable across runs and archives.
        export_jekyll(archive, tmp_path / "out2")
        second = sorted(p.name for p in (tmp_path / "out2/_posts").iterdir())
        assert second == sorted(set(again) - {"2024-01-01-xyz.md"}) or (
            "2024-01-01-XYZ.md" in second  # without the foreign file XYZ keeps its plain name
        )


def test_files_of_an_older_export_that_differ_by_case_are_separated(tmp_path):
    from newsmirror.store import ExportRecord

    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "ABC", "https://e.org/1")
        put(archive, "abc", "https://e.org/2")
        out = tmp_path / "out"
        export_jekyll(archive, out)
        posts = out / "_posts"
        names = sorted(p.name for p in posts.iterdir())
        [moved] = [n for n in names if n != "2024-01-01-ABC.md"]
        # What an older version left: the second article in a file differing by case only.
        (posts / moved).rename(posts / "2024-01-01-abc.md")
        [second] = [a for a in archive.iter_articles(content=False) if a.title == "abc"]
        old = ExportRecord(second.id, "_posts/2024-01-01-abc.md", second.version, 1, 0)
        archive.save_exports(str(out.resolve()), [old])
        summary = export_jekyll(archive, out)
        assert (summary.written, summary.removed) == (1, 1)
        assert sorted(p.name for p in posts.iterdir()) == names
        assert (
            "abc" in (posts / moved).read_text()
            and "ABC" in (posts / "2024-01-01-ABC.md").read_text()
        )


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(TITLE_CHARS, min_size=1, max_size=8), min_size=1, max_size=4))
def test_post_names_distinct_ignoring_case_and_valid(titles):
    import tempfile
    from pathlib import Path

    from newsmirror.publish.jekyll import valid_filename

    titles = titles + [t.swapcase() for t in titles]  # case variants of each
    with tempfile.TemporaryDirectory() as scratch, Archive.open(Path(scratch) / "a.sqlite") as a:
        for i, title in enumerate(titles):
            put(a, title, f"https://e.org/{i}")
        export_jekyll(a, Path(scratch) / "out")
        names = [p.name for p in (Path(scratch) / "out/_posts").iterdir()]
        assert len(names) == len(titles)
        assert_distinct_ignoring_case(names)
        assert all(valid_filename(n) for n in names), names
        export_jekyll(a, Path(scratch) / "again")
        assert sorted(p.name for p in (Path(scratch) / "again/_posts").iterdir()) == sorted(names)


def test_summary_line_counts_written_unchanged_and_removed(tmp_path, feed):
    state, config, archive = feed
    update(config, archive)
    out = tmp_path / "out"
    assert export_jekyll(archive, out).line() == "5 posts: 5 written, 0 unchanged, 0 removed"
    state["items"][0]["title"] = "新标题甲"
    state["items"][3]["title"] = "新标题乙"
    update(config, archive)
    assert export_jekyll(archive, out).line() == "5 posts: 2 written, 3 unchanged, 2 removed"
    assert export_jekyll(archive, out).line() == "5 posts: 0 written, 5 unchanged, 0 removed"


def test_mirrored_images_are_used_and_unchanged_posts_are_not_rendered_again(tmp_path, feed):
    state, config, archive = feed
    for i in (3, 4):
        state["items"][i]["content"] = f'<p>图{i}</p><img src="https://i.e/{i}.png">'
    update(config, archive)
    out = tmp_path / "out"
    export_jekyll(archive, out)
    # Images mirrored after the export: the posts only change where local copies are used.
    archive.scan_images(lambda content: image_urls(content, 10))
    shas = {}
    for i in (3, 4):
        shas[i] = write_media(config.media_dir, f"image {i}".encode(), "png")
        archive.store_image(
            f"https://i.e/{i}.png",
            sha256=shas[i],
            mime="image/png",
            ext="png",
            size=7,
            now=datetime.now(UTC),
        )
    assert export_jekyll(archive, out).line() == "5 posts: 0 written, 5 unchanged, 0 removed"
    out = tmp_path / "with-media"
    summary = export_jekyll(archive, out, media_dir=config.media_dir)
    assert summary.line() == "5 posts: 5 written, 0 unchanged, 0 removed"
    [post] = [p for p in (out / "_posts").iterdir() if "第4篇" in p.name]
    relpath = f"{shas[4][:2]}/{shas[4]}.png"
    assert f'<img src="../media/{relpath}" data-original-src="https://i.e/4.png">' in (
        post.read_text(encoding="utf-8")
    )
    assert (out / "media" / relpath).read_bytes() == b"image 4"
    # The export record (version, name, size, images), not the bytes, says what is current:
    # an unchanged article is not rendered again, so an edit keeping the size stays.
    edited = post.read_text(encoding="utf-8").replace("图4", "图X")
    post.write_text(edited, encoding="utf-8")
    summary = export_jekyll(archive, out, media_dir=config.media_dir)
    assert summary.line() == "5 posts: 0 written, 5 unchanged, 0 removed"
    assert post.read_text(encoding="utf-8") == edited


def test_colliding_names_take_url_hash_then_source_hash_then_long_hash(tmp_path):
    url = "https://e.org/1"
    short = hashlib.sha1(url.encode()).hexdigest()[:8]
    full = hashlib.sha1(f"源\n{url}".encode()).hexdigest()
    names = [
        "2024-01-01-T.md",
        f"2024-01-01-T-{short}.md",
        f"2024-01-01-T-{full[:8]}.md",
        f"2024-01-01-T-{full}.md",
    ]
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "T", url)
        [aid] = [a.id for a in archive.iter_articles(content=False)]
        for taken in range(5):  # foreign files hold the first `taken` names
            posts = tmp_path / f"out{taken}" / "_posts"
            posts.mkdir(parents=True)
            for name in names[:taken]:
                (posts / name).write_text("foreign")
            export_jekyll(archive, posts.parent)
            [mine] = [p.name for p in posts.iterdir() if p.read_text() != "foreign"]
            assert mine == [*names, f"2024-01-01-T-{full}-{aid}.md"][taken]


def test_old_mirror_name_is_kept_when_valid(tmp_path):
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "新", "https://e.org/1", jekyll_name="2023-10-29-旧的 名字.md")
        put(archive, "Wait", "https://e.org/2", jekyll_name="2024-01-01-a..b.md")
        export_jekyll(archive, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out/_posts").iterdir()) == [
        "2023-10-29-旧的 名字.md",
        "2024-01-01-Wait.md",
    ]


def test_old_file_that_is_one_file_with_another_article_s_stays(tmp_path):
    """On a case-insensitive disk "abc.md" and "ABC.md" are one file (a hard link here):
    moving the second article off the old name must not delete the first's post."""
    with Archive.open(tmp_path / "a.sqlite") as archive:
        put(archive, "ABC", "https://e.org/1")
        put(archive, "abc", "https://e.org/2")
        out = tmp_path / "out"
        export_jekyll(archive, out)
        posts = out / "_posts"
        names = sorted(p.name for p in posts.iterdir())
        [moved] = [n for n in names if n != "2024-01-01-ABC.md"]
        (posts / moved).unlink()
        os.link(posts / "2024-01-01-ABC.md", posts / "2024-01-01-abc.md")
        [second] = [a for a in archive.iter_articles(content=False) if a.title == "abc"]
        old = ExportRecord(second.id, "_posts/2024-01-01-abc.md", second.version, 1, 0)
        archive.save_exports(str(out.resolve()), [old])
        assert export_jekyll(archive, out).line() == "2 posts: 1 written, 1 unchanged, 0 removed"
        assert sorted(p.name for p in posts.iterdir()) == sorted([*names, "2024-01-01-abc.md"])
        assert "[ABC]" in (posts / "2024-01-01-ABC.md").read_text()
        assert "[abc]" in (posts / moved).read_text()


def test_an_export_removes_the_temporary_files_of_a_write_cut_short(tmp_path, feed):
    # A killed export can leave the temporary file of the post it was writing (its
    # atomic write never finished): nothing else ever removes it.
    _state, config, archive = feed
    update(config, archive)
    posts = tmp_path / "out" / "_posts"
    posts.mkdir(parents=True)
    stray = posts / f".nm-{'ab' * 12}.tmp"
    stray.write_text("half a post")
    (posts / ".nm-notes.tmp").write_text("someone else's")
    (posts / "README").write_text("someone else's")
    assert export_jekyll(archive, tmp_path / "out").written == 5
    assert not stray.exists()
    assert (posts / ".nm-notes.tmp").exists() and (posts / "README").exists()


def test_a_title_that_flips_back_never_redirects_a_page_to_itself(tmp_path, feed):
    """A headline edited and then put back: the post is at its first name again, which
    must not redirect (it would loop); the second name leads to it, one URL to one post."""
    import json

    from newsmirror.publish.posturls import old_url

    state, config, archive = feed
    update(config, archive)
    out = tmp_path / "out"
    export_jekyll(archive, out)
    first = {p.name for p in (out / "_posts").iterdir()}
    state["items"][0]["title"] = "新的标题"
    update(config, archive)
    export_jekyll(archive, out)
    second = {p.name for p in (out / "_posts").iterdir()}
    (a,), (b,) = first - second, second - first
    state["items"][0]["title"] = "第0篇"
    update(config, archive)
    export_jekyll(archive, out)
    assert {p.name for p in (out / "_posts").iterdir()} == first
    front = yaml.safe_load((out / "_posts" / a).read_text().split("---\n")[1])
    assert front["redirect_from"] == [old_url(b)]
    assert json.loads((out / "_data/moved.json").read_text()) == {old_url(b): old_url(a)}


def test_a_name_two_articles_held_in_turn_redirects_to_one_of_them(tmp_path, feed):
    """Article 0 leaves name X, article 1 takes X, then leaves it too: after every export,
    each old URL is claimed by one post, and moved.json names the same."""
    import json

    state, config, archive = feed
    state["items"][1]["pubDate"] = state["items"][0]["pubDate"]  # names differ by title only
    out = tmp_path / "out"

    def export_and_check() -> dict[str, list[str]]:
        update(config, archive)
        export_jekyll(archive, out)
        claims: dict[str, list[str]] = {}
        for post in (out / "_posts").iterdir():
            front = yaml.safe_load(post.read_text().split("---\n")[1])
            for url in front.get("redirect_from") or ():
                claims.setdefault(url, []).append(post.name)
        assert all(len(names) == 1 for names in claims.values()), claims
        moved = out / "_data/moved.json"
        assert set(json.loads(moved.read_text()) if moved.exists() else {}) == set(claims)
        return claims

    export_and_check()
    state["items"][0]["title"] = "甲"
    assert len(export_and_check()) == 1
    state["items"][1]["title"] = "第0篇"  # takes the name article 0 left: a post again
    assert list(export_and_check().values()) == [["2024-01-01-第0篇.md"]]  # 第1篇's URL
    state["items"][1]["title"] = "乙"
    assert len(export_and_check()) == 2
    state["items"][0]["content"] = "<p>甲改过</p>"  # article 0's post is written again
    assert len(export_and_check()) == 2
