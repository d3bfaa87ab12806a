"""The export's work: an idle export renders and writes nothing and asks the archive a few
questions; a cold one reads bodies in batches; the lazily chosen file names are the ones
the eager choice gave."""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from newsmirror.media import write_media
from newsmirror.models import ArticleRecord, ExportRecord
from newsmirror.publish import jekyll, postformat
from newsmirror.publish.jekyll import (
    POSTS_DIR,
    _choose_path,
    disambiguated,
    export_jekyll,
    post_filename,
    valid_filename,
)
from newsmirror.publish.pages import fold
from newsmirror.store import Archive

WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def put(archive, title, url, *, when=WHEN, content=None, jekyll_name=""):
    archive.import_article(
        source="源",
        url=url,
        title=title,
        author="",
        content=f"<p>{title}</p>" if content is None else content,
        tags=[],
        published=when,
        date_known=True,
        published_raw="",
        jekyll_name=jekyll_name,
        now=when,
    )


def filled(path, n, **kw):
    archive = Archive.open(path)
    with archive.transaction():
        for i in range(n):
            put(archive, f"第{i}篇", f"https://e.org/{i}", when=WHEN + timedelta(hours=i), **kw)
    return archive


@contextmanager
def statements(archive):
    """The SQL statements the archive runs inside the block."""
    seen: list[str] = []
    archive.conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        archive.conn.set_trace_callback(None)


def tree(folder):
    """Every path below ``folder`` with its mtime and bytes (folders: None)."""
    return {
        p.relative_to(folder).as_posix(): (
            p.lstat().st_mtime_ns,
            p.read_bytes() if p.is_file() else None,
        )
        for p in [folder, *folder.rglob("*")]
    }


def test_idle_export_reads_no_body_and_writes_nothing(tmp_path):
    with filled(tmp_path / "a.sqlite", 12) as archive:
        out = tmp_path / "out"
        assert export_jekyll(archive, out, media_dir=archive.media_dir).written == 12
        before = tree(out)
        with statements(archive) as seen:
            summary = export_jekyll(archive, out, media_dir=archive.media_dir)
        assert summary.line() == "12 posts: 0 written, 12 unchanged, 0 removed"
        assert tree(out) == before
        # One query for the export records, one for the articles' heads: no body, no
        # images, and no write transaction on the archive either.
        assert len(seen) <= 2, seen
        assert not [s for s in seen if "a.content" in s or "article_media" in s]


def test_cold_export_reads_bodies_and_images_in_batches(tmp_path):
    with filled(tmp_path / "a.sqlite", 40) as archive:
        with statements(archive) as seen:
            summary = export_jekyll(archive, tmp_path / "out", media_dir=archive.media_dir)
        assert summary.written == 40
        reads = [s for s in seen if s.startswith("SELECT") and "pg_advisory" not in s]
        # records, heads, bodies, images, old URLs (redirects): not one per article
        assert len(reads) <= 5, reads


def test_export_larger_than_a_batch_writes_every_post_with_its_body_and_images(tmp_path):
    n = 2 * jekyll.BATCH + 3
    media = tmp_path / "media"
    sha = write_media(media, b"image", "png")
    with filled(
        tmp_path / "a.sqlite", n, content='<p>x</p><img src="https://i.e/1.png">'
    ) as archive:
        with archive.transaction():
            archive.conn.execute(
                "INSERT INTO media (sha256, mime, ext, size, first_url, fetched)"
                " VALUES (?, 'image/png', 'png', 5, 'https://i.e/1.png', '')",
                (sha,),
            )
            archive.conn.execute(
                "INSERT INTO article_media (article_id, url, sha256) SELECT id,"
                " 'https://i.e/1.png', ? FROM articles WHERE id % 7 = 0",
                (sha,),
            )
        out = tmp_path / "out"
        assert export_jekyll(archive, out, media_dir=media).written == n
        heads = {a.id: a for a in archive.iter_articles(content=False)}
        records = archive.export_records(str(out.resolve()))
    assert len(records) == n
    local = f'src="../media/{sha[:2]}/{sha}.png" data-original-src="https://i.e/1.png"'
    for aid, record in records.items():
        text = (out / record.path).read_text(encoding="utf-8")
        assert f"[{heads[aid].title}]" in text
        assert (local in text) == (aid % 7 == 0), aid
        assert record.size == len(text.encode())
    assert (out / "media" / sha[:2] / f"{sha}.png").read_bytes() == b"image"


def test_heads_come_in_the_order_of_the_articles(tmp_path):
    """The export decides names oldest first (the older article keeps the plain name):
    its heads must come in the archive's publishing order, ties by id."""
    with Archive.open(tmp_path / "a.sqlite") as archive, archive.transaction():
        for i, hours in enumerate([5, 1, 3, 1, 0, 3]):
            put(archive, f"t{i}", f"https://e.org/{i}", when=WHEN + timedelta(hours=hours))
        heads = archive.export_heads()
        articles = list(archive.iter_articles(content=False))
    assert [h.id for h in heads] == [a.id for a in articles] == [5, 2, 4, 3, 6, 1]
    assert [(h.title, h.published, h.url, h.source) for h in heads] == [
        (a.title, a.published, a.url, a.source) for a in articles
    ]


# -- the lazy choice of a file name gives the eager one's answer ------------------------


def eager_candidates(head: ArticleRecord) -> list[str]:
    """The choice as it was: all four names made for every article (the reference)."""
    if head.jekyll_name and valid_filename(head.jekyll_name):
        name = head.jekyll_name
    else:
        name = post_filename(head.published, head.title)
    return [
        f"{POSTS_DIR}/{n}"
        for n in (
            name,
            disambiguated(name, head.url),
            disambiguated(name, head.url, head.source),
            disambiguated(name, head.url, head.source, None),
        )
    ]


def eager_choose_path(head, record, owners, on_disk):
    candidates = eager_candidates(head)
    if (
        record is not None
        and record.path in candidates
        and owners.get(fold(record.path)) == head.id
    ):
        return record.path
    for path in candidates:
        owner = owners.get(fold(path))
        if owner == head.id or (owner is None and fold(path) not in on_disk):
            return path
    return f"{POSTS_DIR}/{candidates[-1][len(POSTS_DIR) + 1 : -3]}-{head.id}.md"


def head_of(aid, title, url, source, jekyll_name):
    return ArticleRecord(
        aid, source, "UTC", url, title, "", "", (), WHEN, True, WHEN, 1, jekyll_name
    )


TITLES = st.text(st.sampled_from([*"aAbB.: /", "新", "ß", "S"]), max_size=6)
URLS = st.sampled_from(["https://e.org/1", "https://E.org/1", "http://e.org/1#x", "https://f/2"])
OWNER = st.sampled_from([None, 1, 2, 3])  # the article under test is 1


@settings(max_examples=300, deadline=None)
@given(
    title=TITLES,
    url=URLS,
    source=st.sampled_from(["源", "src", "Src"]),
    jekyll_name=st.sampled_from([None, "", "2023-01-01-old.md", "bad/name.md"]),
    owners_of=st.lists(OWNER, min_size=5, max_size=5),
    disk_of=st.lists(st.booleans(), min_size=5, max_size=5),
    recorded=st.sampled_from([None, 0, 1, 2, 3, 4, "other"]),
    case=st.sampled_from([str, str.upper, str.lower]),
)
def test_lazy_choice_gives_the_eager_choice(
    title, url, source, jekyll_name, owners_of, disk_of, recorded, case
):
    head = head_of(1, title, url, source, jekyll_name)
    names = [*eager_candidates(head), f"{POSTS_DIR}/2024-01-01-other.md"]
    # Other articles (or foreign files) hold some names, in some letter case.
    owners = {fold(case(n)): o for n, o in zip(names, owners_of, strict=True) if o is not None}
    on_disk = {fold(case(n)) for n, d in zip(names, disk_of, strict=True) if d}
    record = None
    if recorded is not None:
        path = names[-1] if recorded == "other" else names[recorded]
        record = ExportRecord(1, path, 1, 10)
    assert _choose_path(head, record, owners, on_disk) == eager_choose_path(
        head, record, owners, on_disk
    )


def test_lazy_choice_makes_no_hash_for_a_file_at_its_plain_name(tmp_path):
    """The common case (the post keeps its plain name) costs no URL hashing at all."""
    head = head_of(1, "标题", "https://e.org/1", "源", None)
    path = f"{POSTS_DIR}/2024-01-01-标题.md"
    record = ExportRecord(1, path, 1, 10)
    made = []
    real = jekyll.disambiguated
    jekyll.disambiguated = lambda *a, **k: made.append(a) or real(*a, **k)
    try:
        assert _choose_path(head, record, {fold(path): 1}, {fold(path)}) == path
        assert _choose_path(head, None, {}, set()) == path
    finally:
        jekyll.disambiguated = real
    assert made == []


# -- render_body ---------------------------------------------------------------------


def eager_render_body(content: str) -> str:
    return "".join(line.strip() for line in content.split("\n"))


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from([*" \t\r\n\x0b\x0c\x1c\x85\u2028\u3000", "a", "<", "新"])))
def test_body_trimming_is_unchanged(content):
    assert postformat.render_body(content) == eager_render_body(content)


# -- YAML's reading of plain scalars, without loading YAML for most values -----------


def pyyaml_reads_as_str(value: str) -> bool:
    import yaml

    tag = yaml.resolver.Resolver().resolve(yaml.ScalarNode, value, (True, False))
    return tag == "tag:yaml.org,2002:str"


def test_every_first_character_pyyaml_resolves_is_looked_at():
    import yaml

    firsts = set(yaml.resolver.Resolver.yaml_implicit_resolvers) - {""}
    assert firsts <= postformat._YAML_WORD_FIRST | postformat._YAML_ASK_FIRST
    # Every letter-case variant of YAML 1.1's boolean and null words (a finite language).
    for base in ["yes", "no", "true", "false", "on", "off", "null", "y", "n", "~"]:
        for cases in itertools.product(*[(c.lower(), c.upper()) for c in base]):
            word = "".join(cases)
            assert postformat._reads_as_str(word) == pyyaml_reads_as_str(word), word


@settings(max_examples=400, deadline=None)
@given(
    st.text(
        st.sampled_from([*"yYnNtTfFoOeEsSrRuUlLaA~-+.0123456789<=_:xX bBZ", "新", "١", "１"]),
        min_size=1,
        max_size=7,
    )
)
def test_plain_scalars_read_as_strings_exactly_when_pyyaml_says_so(value):
    assert postformat._reads_as_str(value) == pyyaml_reads_as_str(value)


def test_the_plain_words_yaml_reads_otherwise_are_quoted():
    for word in ["yes", "No", "TRUE", "off", "On", "null", "NULL", "~"]:
        assert postformat.yaml_scalar(word) == f'"{word}"'
    for word in ["yess", "Non", "nul", "Nei.st", "iYouPort", "新闻"]:
        assert postformat.yaml_scalar(word) == word
