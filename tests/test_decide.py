"""Decision tables for the plain functions in newsmirror.decide: every branch, at its edges."""

from __future__ import annotations

import pytest

from newsmirror.decide import (
    SHORT_TEXT,
    Change,
    body_unchanged,
    classify_entry,
    classify_feed_update,
    needs_full_text,
    needs_write,
    use_page_text,
)
from newsmirror.models import ExportRecord, FeedState, StoredArticle

OLD = StoredArticle(1, "标题", "作者", "<p>正文</p>", 3, feed_hash="h", source_id=7)

NEW, SAME, CHANGED = Change.NEW, Change.UNCHANGED, Change.CHANGED


@pytest.mark.parametrize(
    ("existing", "title", "author", "content", "source_id", "expected"),
    [
        (None, "标题", "作者", "<p>正文</p>", 7, NEW),
        (None, "", "", "", None, NEW),
        (OLD, "标题", "作者", "<p>正文</p>", 7, SAME),
        (OLD, "标题", "作者", "<p>正文</p>", None, SAME),
        (OLD, "新标题", "作者", "<p>正文</p>", 7, CHANGED),
        (OLD, "标题", "新作者", "<p>正文</p>", 7, CHANGED),
        (OLD, "标题", "作者", "<p>新正文</p>", 7, CHANGED),
        (OLD, "标题 ", "作者", "<p>正文</p>", 7, CHANGED),  # any difference counts
        (OLD, "新标题", "作者", "<p>正文</p>", None, CHANGED),  # no source to compare
        # A feed that dropped the body does not erase it...
        (OLD, "标题", "作者", "", 7, SAME),
        # ...but a changed title or author with it is a change.
        (OLD, "新标题", "作者", "", 7, CHANGED),
        (OLD, "标题", "新作者", "", 7, CHANGED),
        # Another source's entry never changes the article (it belongs to source 7).
        (OLD, "新标题", "乙", "<p>别的</p>", 8, SAME),
        (OLD, "标题", "乙", "<p>正文</p>", 0, SAME),
    ],
)
def test_classify_entry(existing, title, author, content, source_id, expected):
    got = classify_entry(existing, title=title, author=author, content=content, source_id=source_id)
    assert got is expected


def test_classify_entry_with_an_empty_stored_body():
    empty = StoredArticle(1, "t", "a", "", 1)
    assert classify_entry(empty, title="t", author="a", content="") is SAME
    assert classify_entry(empty, title="t", author="a", content="<p>x</p>") is CHANGED
    assert classify_entry(empty, title="t2", author="a", content="") is CHANGED


@pytest.mark.parametrize(
    ("title", "author", "digest", "source_id", "expected"),
    [
        ("标题", "作者", "h", 7, (False, False)),
        ("标题", "作者", "h", None, (False, False)),
        ("新标题", "作者", "h", 7, (True, False)),
        ("标题", "新作者", "h", 7, (True, False)),
        ("标题", "作者", "h2", 7, (False, True)),
        ("新标题", "作者", "h2", 7, (True, True)),
        ("新标题", "作者", "h2", None, (True, True)),
        ("新标题", "乙", "h2", 8, (False, False)),  # another source's entry
    ],
)
def test_classify_feed_update(title, author, digest, source_id, expected):
    got = classify_feed_update(
        OLD, title=title, author=author, content_hash=digest, source_id=source_id
    )
    assert got == expected


@pytest.mark.parametrize(
    ("stored", "digest", "expected"),
    [
        (None, "abc", False),
        (None, "", False),
        ("", "", True),
        ("abc", "abc", True),
        ("abc", "abd", False),
    ],
)
def test_body_unchanged(stored, digest, expected):
    assert body_unchanged(FeedState(body_sha256=stored), digest) is expected


RECORD = ExportRecord(article_id=1, path="_posts/a.md", version=2, size=100, media_rev=1)


@pytest.mark.parametrize(
    ("record", "version", "path", "size", "media_rev", "expected"),
    [
        (RECORD, 2, "_posts/a.md", 100, 1, False),
        (None, 2, "_posts/a.md", 100, 1, True),
        (RECORD, 2, "_posts/a.md", None, 1, True),  # the file is missing
        (RECORD, 3, "_posts/a.md", 100, 1, True),
        (RECORD, 1, "_posts/a.md", 100, 1, True),
        (RECORD, 2, "_posts/b.md", 100, 1, True),
        (RECORD, 2, "_posts/a.md", 101, 1, True),
        (RECORD, 2, "_posts/a.md", 99, 1, True),
        (RECORD, 2, "_posts/a.md", 0, 1, True),
        (RECORD, 2, "_posts/a.md", 100, 2, True),
        (RECORD, 2, "_posts/a.md", 100, 0, True),
    ],
)
def test_needs_write(record, version, path, size, media_rev, expected):
    got = needs_write(record, version=version, path=path, on_disk_size=size, media_rev=media_rev)
    assert got is expected


def test_needs_write_media_rev_defaults_to_zero():
    plain = ExportRecord(1, "p", 1, 10)
    assert needs_write(plain, version=1, path="p", on_disk_size=10) is False
    assert needs_write(RECORD, version=2, path="_posts/a.md", on_disk_size=100) is True


LONG = "字" * 300  # well above the short-text threshold


def padded(text: str, total: int) -> str:
    """``<p>text</p>`` padded with an attribute to exactly ``total`` characters of HTML."""
    bare = f'<p class="">{text}</p>'
    html = f'<p class="{"x" * (total - len(bare))}">{text}</p>'
    assert len(html) == total
    return html


@pytest.mark.parametrize(
    ("mode", "content", "expected"),
    [
        # feed: never; page: always.
        ("feed", "", False),
        ("feed", "<p>短</p>", False),
        ("feed", f"<p>{LONG}……阅读全文</p>", False),
        ("page", "", True),
        ("page", f"<p>{LONG}</p>", True),
        # auto: nothing or a short text.
        ("auto", "", True),
        ("auto", "<p></p>", True),
        ("auto", f"<p>{'字' * (SHORT_TEXT - 1)}</p>", True),
        ("auto", f"<p>{'字' * SHORT_TEXT}</p>", False),
        ("auto", f"<p>{'字' * (SHORT_TEXT + 1)}</p>", False),
        # White space does not count towards the length.
        ("auto", f"<p>{'字 ' * (SHORT_TEXT - 1)}\n\t  </p>", True),
        ("auto", f"<p>{'字 ' * SHORT_TEXT}</p>", False),
        # Only bodies shorter than 40 * SHORT_TEXT characters of HTML are measured.
        ("auto", padded("短文", 40 * SHORT_TEXT - 1), True),
        ("auto", padded("短文", 40 * SHORT_TEXT), False),
        # A long text is a teaser when it ends like one (case-insensitive).
        ("auto", f"<p>{LONG}</p>", False),
        ("auto", f"<p>{LONG}…</p>", True),
        ("auto", f"<p>{LONG}……</p>", True),
        ("auto", f"<p>{LONG}...</p>", True),
        ("auto", f"<p>{LONG} […]</p>", True),
        ("auto", f"<p>{LONG} [...]</p>", True),
        ("auto", f"<p>{LONG}</p><p><a href='/x'>阅读全文</a></p>", True),
        ("auto", f"<p>{LONG}</p><p>閱讀全文</p>", True),
        ("auto", f"<p>{LONG}</p><p>点击查看全文</p>", True),
        ("auto", f"<p>{LONG}</p><p>更多</p>", True),
        ("auto", f"<p>{LONG}</p><p>继续阅读</p>", True),
        ("auto", f"<p>{LONG}</p><p>繼續閱讀</p>", True),
        ("auto", f"<p>{LONG}</p><p><a>Read More</a></p>", True),
        ("auto", f"<p>{LONG}</p><p>CONTINUE READING</p>", True),
        ("auto", f"<p>{LONG}</p><p>more»</p>", True),
        ("auto", f"<p>{LONG} »</p>\n  ", True),  # trailing white space ignored
        # A marker that is not at the end is not a teaser.
        ("auto", f"<p>…{LONG}</p>", False),
        ("auto", f"<p>{LONG}阅读全文。</p>", False),
        ("auto", f"<p>read more {LONG}</p>", False),
        # The end is read from the text, not the markup.
        ("auto", f"<p>{LONG}</p><!-- … -->", False),
        ("auto", f"<p>{LONG}</p><img alt='…' src='x.png'>", False),
    ],
)
def test_needs_full_text(mode, content, expected):
    assert needs_full_text(mode, content) is expected


def test_short_means_under_200_characters_of_text_in_under_8000_of_html():
    assert needs_full_text("auto", "<p>" + "字" * 199 + "</p>") is True
    assert needs_full_text("auto", "<p>" + "字" * 200 + "</p>") is False
    assert needs_full_text("auto", padded("短文", 7999)) is True
    assert needs_full_text("auto", padded("短文", 8000)) is False


def test_needs_full_text_reads_the_end_of_a_long_body():
    # A long body (only its end is read for the marker) that ends in a teaser mark.
    long_html = "".join(f"<p>{'字' * 100}</p>" for _ in range(200))
    assert len(long_html) > 40 * SHORT_TEXT
    assert needs_full_text("auto", long_html + "<p>阅读全文</p>") is True
    assert needs_full_text("auto", long_html) is False
    # The mark within the last 400 characters of a short HTML body is found too.
    assert needs_full_text("auto", f"<p>{'字' * 250}……</p>") is True


@pytest.mark.parametrize(
    ("feed", "page", "expected"),
    [
        ("", "", True),
        ("", "正文", True),
        ("正文", "", False),
        ("一二三", "一二三", True),  # equal length: the page wins
        ("一二三", "一二", False),
        ("一二", "一二三", True),
        ("一 二 三", "一二三", True),  # white space does not count
        ("一二三", "一\n二\t三  ", True),
        ("一二三四", " 一 二 三 ", False),
    ],
)
def test_use_page_text(feed, page, expected):
    assert use_page_text(feed, page) is expected
