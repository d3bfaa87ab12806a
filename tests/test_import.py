"""Importing the old mirrors' posts: nothing lost, defects read, duplicates merged."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import UTC, datetime

import lxml.html
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CORPUS, SEED
from newsmirror import jekyll_import
from newsmirror.errors import ImportFormatError
from newsmirror.frontmatter import MAX_ALIASES, parse_front_matter
from newsmirror.jekyll_import import MAX_POST_BYTES, import_jekyll, read_post
from newsmirror.publish.jekyll import export_jekyll, valid_filename
from newsmirror.store import Archive

POSTS = sorted((CORPUS / "nodebe4-posts").glob("*/_posts/*.md"))


def visible_text(markup: str) -> str:
    """What a browser shows of ``markup``, without whitespace: script, style and template
    out, an iframe's fallback markup read as markup (lxml keeps it as text)."""
    if not markup.strip():
        return ""
    tree = lxml.html.fromstring(f"<div>{markup}</div>")
    for bad in tree.xpath("//script|//style|//template"):
        bad.drop_tree()
    for frame in tree.iter("iframe"):
        if frame.text and frame.text.strip():
            frame.text = lxml.html.fromstring(f"<div>{frame.text}</div>").text_content()
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
        # Every character a reader of the old mirror saw is kept (svg labels, buttons,
        # iframe fallbacks, noscript included), and nothing else.
        assert visible_text(art.content) == visible_text(body.split("------\n", 1)[-1]), path.name


@pytest.mark.parametrize(
    ("needle", "seen"),
    [
        ("<button", ["View"]),  # e.g. 2019-07-29-细解 Libra.md: follow boxes
        ('<iframe src="https://cdn.embedly', ["https://medium.com/media/"]),  # fallback links
    ],
)
def test_corpus_text_of_buttons_and_iframe_fallbacks_survives(imported, needle, seen):
    archive, _ = imported
    by_url = {a.url: a for a in archive.iter_articles()}
    chosen = [p for p in POSTS if needle in p.read_text(encoding="utf-8")]
    assert len(chosen) >= 3
    for path in chosen:
        front, _ = original(path)
        text = lxml.html.fromstring(f"<div>{by_url[front['from']].content}</div>").text_content()
        for word in seen:
            assert word in text, path.name


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
    # Names are kept from the old tree where they were valid (no | # \" …).
    valid_old = {p.name for p in POSTS if valid_filename(p.name)}
    for f in files:
        assert valid_filename(f.name), f.name
        front = yaml.safe_load(f.read_text(encoding="utf-8").split("---\n")[1])
        assert front["layout"] == "post" and front["from"].startswith("http")
        # The old writer's <!--NaN--> stays only in a post kept as it was (test_adopt.py).
        assert "<!--NaN-->" not in f.read_text(encoding="utf-8") or f.name in valid_old
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
        assert first.title == '"国家主席"马云 \\d'  # the old writer never escaped a backslash
        assert first.author == "a: b"
        assert first.published == datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert first.content == "<p>正文</p>"
        bare = arts["https://e.org/2"]
        assert bare.published == datetime(2020, 6, 6, tzinfo=UTC)
        assert "旧文" in bare.content
        export_jekyll(archive, tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out/_posts").iterdir())
    assert all(valid_filename(n) for n in names)
    assert "2021-01-02--国家主席-马云 -d.md" in names


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


# --- Hostile and broken files: each is skipped (or read) with its reason, the rest imported ---


def post_text(url: str, *, title: str = "好文章", date: str = "2021-03-04T05:06:07.000Z",
              ms: str = "1614834367000", body: str = "<p>正文</p>") -> str:  # fmt: skip
    return (
        f"---\nlayout: post\ntitle: {title}\ndate: {date}\nauthor: 作者\nfrom: {url}\n"
        f"tags: [ 源 ]\ncategories: [ 源 ]\n---\n<!--{ms}-->\n[t]({url})\n------\n\n"
        f"<div>\n{body}\n</div>\n"
    )


BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "title: *i\nfrom: https://e.org/laughs\n"
)


def hostile_site(tmp_path):
    """Two good posts among every kind of bad file; returns (site, {name: reason words})."""
    site = tmp_path / "site"
    posts = site / "_posts"
    (site / "archived" / "2020").mkdir(parents=True)
    posts.mkdir()
    outside = tmp_path / "elsewhere.md"
    outside.write_text(post_text("https://e.org/outside"), encoding="utf-8")
    (posts / "2021-03-04-good.md").write_text(post_text("https://e.org/good1"), encoding="utf-8")
    (site / "archived/2020/2020-01-02-good.md").write_text(
        post_text("https://e.org/good2", title='"語文水平\\智力"'), encoding="utf-8"
    )
    (posts / "2021-01-01-laughs.md").write_text(f"---\n{BILLION_LAUGHS}---\nx\n")
    nested = "[" * 5000 + "]" * 5000
    (posts / "2021-01-02-nested.md").write_text(post_text("https://e.org/n", title=nested))
    with open(posts / "2021-01-03-huge.md", "wb") as f:
        f.write(post_text("https://e.org/huge").encode())
        f.truncate(MAX_POST_BYTES + 1)
    os.mkfifo(posts / "2021-01-04-fifo.md")
    os.mkfifo(site / "archived" / "pipe")  # not named like a post: still not silent
    (posts / "2021-01-05-loop.md").symlink_to("2021-01-05-loop.md")
    (posts / "2021-01-06-out.md").symlink_to(outside)
    (posts / "2021-01-07-dev.md").symlink_to("/dev/zero")
    (posts / "looped-folder").symlink_to("..")
    (posts / "2021-01-08-nofrom.md").write_text("---\ntitle: x\n---\nbody", encoding="utf-8")
    bad_date = post_text("https://e.org/baddate", date="2024-13-45", ms="99999999999999999")
    (posts / "2021-01-10-baddate.md").write_text(bad_date, encoding="utf-8")
    reasons = {
        "2021-01-01-laughs.md": "alias",
        "2021-01-02-nested.md": "nest",
        "2021-01-03-huge.md": "5 MB",
        "2021-01-04-fifo.md": "FIFO",
        "pipe": "FIFO",
        "2021-01-05-loop.md": "loop",
        "2021-01-06-out.md": "outside",
        "2021-01-07-dev.md": "outside",
        "looped-folder": "folder",
        "2021-01-08-nofrom.md": "no article URL",
    }
    try:
        os.mknod(posts / "2021-01-09-null.md", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        reasons["2021-01-09-null.md"] = "character device"
    except OSError:
        pass  # no right to make device nodes here
    return site, reasons


def assert_skips(messages, reasons):
    by_name = {}
    for message in messages:
        name = message.split(": ", 1)[0].rsplit("/", 1)[-1]
        assert name not in by_name, message
        by_name[name] = message
    assert set(by_name) == set(reasons), messages
    for name, words in reasons.items():
        assert words in by_name[name], by_name[name]


def test_hostile_folder_imports_the_good_and_skips_each_bad_file_with_reason(tmp_path):
    site, reasons = hostile_site(tmp_path)
    started = time.perf_counter()
    with Archive.open(tmp_path / "a.sqlite") as archive:
        summary = import_jekyll(archive, site)
        arts = {a.url: a for a in archive.iter_articles()}
    assert time.perf_counter() - started < 5
    assert set(arts) == {"https://e.org/good1", "https://e.org/good2", "https://e.org/baddate"}
    assert arts["https://e.org/good2"].title == "語文水平\\智力"  # invalid YAML, read leniently
    assert arts["https://e.org/good1"].content == "<p>正文</p>"
    assert arts["https://e.org/baddate"].published == datetime(2021, 1, 10, tzinfo=UTC)
    assert summary.new == 3
    [note] = summary.notes
    assert "2021-01-10-baddate.md: no valid date" in note and "2024-13-45" in note
    assert_skips(summary.skipped, reasons)
    assert f"{len(reasons)} skipped" in summary.line()


def test_cli_lists_each_skipped_file_and_exits_0(tmp_path):
    site, reasons = hostile_site(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "newsmirror", "--archive", tmp_path / "a.sqlite", "import",
         "jekyll", site],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    [note] = [line for line in lines if line.startswith("note: ")]
    assert "2021-01-10-baddate.md: no valid date" in note
    skipped = [line for line in lines if line != note]
    assert all(line.startswith("skipped: ") for line in skipped), lines
    assert_skips([line.removeprefix("skipped: ") for line in skipped], reasons)
    assert "3 new articles" in result.stdout and f"{len(reasons)} skipped" in result.stdout


@pytest.mark.parametrize(
    ("date", "ms", "expected"),
    [
        ("2024-13-45", "NaN", datetime(2021, 3, 4, tzinfo=UTC)),
        ("2024-02-30T10:00:00Z", "", datetime(2021, 3, 4, tzinfo=UTC)),
        ("9999-12-31T23:59:59-01:00", "", datetime(2021, 3, 4, tzinfo=UTC)),
        ("2020-05-06T07:08:09Z", "99999999999999999", datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ("2020-05-06T07:08:09Z", "-99999999999999999", datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ("x", "-1000", datetime(2021, 3, 4, tzinfo=UTC)),
    ],
)
def test_impossible_dates_import_the_post_with_its_date_unknown(tmp_path, date, ms, expected):
    """A date no calendar has costs the date, not the article: it is imported with the next
    date the post gives (front matter, then file name), marked unknown, and a note says why."""
    posts = tmp_path / "site" / "_posts"
    posts.mkdir(parents=True)
    text = post_text("https://e.org/d", date=date, ms=ms)
    if not ms:
        text = text.replace("<!---->\n", "")
    (posts / "2021-03-04-d.md").write_text(text, encoding="utf-8")
    (posts / "2021-03-05-ok.md").write_text(post_text("https://e.org/ok"), encoding="utf-8")
    with Archive.open(tmp_path / "a.sqlite") as archive:
        summary = import_jekyll(archive, tmp_path / "site")
        assert summary.new == 2 and not summary.skipped
        [art] = [a for a in archive.iter_articles() if a.url == "https://e.org/d"]
        assert art.published == expected
        known = archive.conn.execute("SELECT date_known FROM articles WHERE id = ?", (art.id,))
        assert known.fetchone() == (0,)
    [note] = summary.notes
    assert note.startswith(str(posts / "2021-03-04-d.md") + ": ") and "date" in note


def test_billion_laughs_refused_fast_with_bounded_memory(tmp_path):
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ImportFormatError, match="alias"):
        parse_front_matter(BILLION_LAUGHS)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 5_000_000, (elapsed, peak)


@pytest.mark.parametrize(
    "front",
    [
        "title: &a [x, x]\nb: [*a, *a]\nfrom: https://e.org/x\n",  # a few aliases are fine
        "title: &t 标题\nauthor: *t\nfrom: https://e.org/x\n",
    ],
)
def test_a_few_aliases_are_read(front):
    assert parse_front_matter(front)["from"] == "https://e.org/x"


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("a: &a [1]\n" + "".join(f"k{i}: *a\n" for i in range(MAX_ALIASES + 1)), "aliases"),
        ("title: &a [*a]\n", "refers to itself"),
        ("a: &a {<<: *a}\n", "refers to itself"),
        ("title: " + "[" * 200 + "]" * 200 + "\n", "nests deeper"),
        ("- " * 200 + "x\n", "nests deeper"),  # block sequences in one line
        ("title: " + "[" * 5000 + "]" * 5000 + "\n", "nests deeper"),
        (
            "a: &a [" + ("x" * 1000 + ",") * 20 + "]\nb: &b [*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b]\nd: [*c,*c,*c,*c]\n",  # 12 aliases, 1.3 MB expanded
            "expands",
        ),
    ],
)
def test_alias_and_nesting_bombs_refused(front, reason):
    started = time.perf_counter()
    with pytest.raises(ImportFormatError, match=reason):
        parse_front_matter(front)
    assert time.perf_counter() - started < 3  # about 0.15 s here; 3 s leaves room for a busy CI


def test_impossible_timestamp_is_text_and_the_rest_stays_yaml():
    front = 'title: "\\u4e2d\\t文"\ndate: 2024-13-45\nfrom: https://e.org/x\n'
    assert parse_front_matter(front) == {
        "title": "中\t文",
        "date": "2024-13-45",
        "from": "https://e.org/x",
    }


def test_oversized_post_skipped_without_reading_it(tmp_path):
    posts = tmp_path / "site" / "_posts"
    posts.mkdir(parents=True)
    big = posts / "2021-01-01-big.md"
    with open(big, "wb") as f:
        f.write(post_text("https://e.org/big").encode())
        f.truncate(MAX_POST_BYTES + 1)
    exact = posts / "2021-01-02-limit.md"
    text = post_text("https://e.org/limit").encode()
    exact.write_bytes(text + b" " * (MAX_POST_BYTES - len(text)))
    with Archive.open(tmp_path / "a.sqlite") as archive:
        summary = import_jekyll(archive, tmp_path / "site")
    assert summary.new == 1
    [message] = summary.skipped
    assert message.startswith(f"{big}: ") and "5 MB" in message
    with pytest.raises(ImportFormatError, match="5 MB"):
        read_post(big)  # read directly (scripts, benchmarks): the cap holds too


def test_read_post_never_blocks_on_a_fifo_nor_follows_a_link(tmp_path):
    """Even if a file turns into a FIFO or a link after the folder was scanned."""
    fifo = tmp_path / "2021-01-01-f.md"
    os.mkfifo(fifo)
    outside = tmp_path / "outside.md"
    outside.write_text(post_text("https://e.org/outside"), encoding="utf-8")
    link = tmp_path / "2021-01-02-link.md"
    link.symlink_to(outside)
    errors = []

    def read(path):
        try:
            read_post(path)
        except ImportFormatError as exc:
            errors.append(exc.message)

    for path in (fifo, link):
        reader = threading.Thread(target=read, args=(path,), daemon=True)
        reader.start()
        reader.join(5)
    assert len(errors) == 2, errors
    assert errors[0] == f"{fifo}: FIFO, not a regular file"
    assert errors[1].startswith(f"{link}: cannot read")


def test_an_unforeseen_failure_skips_only_that_post(tmp_path, monkeypatch):
    """Fault injection: a defect in reading one post ends as that file's reason."""
    posts = tmp_path / "site" / "_posts"
    posts.mkdir(parents=True)
    (posts / "2021-01-01-a.md").write_text(post_text("https://e.org/a", body="<p>炸</p>"))
    (posts / "2021-01-02-b.md").write_text(post_text("https://e.org/b"))
    real = jekyll_import.sanitize_html

    def sanitize(markup):
        if "炸" in markup:
            raise RuntimeError("boom")
        return real(markup)

    monkeypatch.setattr(jekyll_import, "sanitize_html", sanitize)
    with Archive.open(tmp_path / "a.sqlite") as archive:
        summary = import_jekyll(archive, tmp_path / "site")
        assert [a.url for a in archive.iter_articles()] == ["https://e.org/b"]
    assert summary.skipped == [f"{posts / '2021-01-01-a.md'}: unreadable post (RuntimeError: boom)"]


YAML_ALPHABET = st.one_of(
    st.sampled_from(list(":-[]{}#&*!|>'\"%@\\,?`~.=\n \t中文語字ab019０_xTZ")),
    st.sampled_from(["2024-13-45", "9999-12-31 23:59:59 -1", "!!int ", "!!binary ", "!!set ",
                     "!!python/object:os.system ", "&a ", "*a", "<<: ", "%YAML 1.1\n", "? "]),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(YAML_ALPHABET, max_size=200).map("".join))
def test_property_front_matter_parser_raises_only_its_own_error(text):
    try:
        data = parse_front_matter(text)
    except ImportFormatError:
        return
    assert isinstance(data, dict)


@settings(max_examples=200, deadline=None)
@given(st.lists(YAML_ALPHABET, max_size=120).map("".join))
def test_property_read_post_raises_only_its_own_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("p") / "2021-01-01-x.md"
    path.write_text(f"---\n{text}\nfrom: https://e.org/x\n---\n<!--{text}-->\n{text}\n")
    try:
        post = read_post(path)
    except ImportFormatError:
        return
    assert post.url.startswith("https://")
