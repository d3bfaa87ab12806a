"""Which errors end one item and which stop the run; the one-line reasons users read."""

from __future__ import annotations

import sqlite3

import pytest

from newsmirror.errors import ArchiveError, FeedParseError, OutputError
from newsmirror.isolate import MAX_REASON, failure_reason, one_line


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ValueError("bad\n  value\there"), "ValueError: bad value here"),
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates"), "UnicodeEncodeError: "),
        (OverflowError(), "OverflowError"),
        (FeedParseError("not a feed"), "not a feed"),
        (ExceptionGroup("g", [KeyError("k"), OSError("later")]), "KeyError: 'k'"),
        (ExceptionGroup("g", [ExceptionGroup("h", [RuntimeError("deep")])]), "RuntimeError: deep"),
    ],
)
def test_an_item_error_becomes_its_one_line_reason(error, reason):
    assert failure_reason(error).startswith(reason)
    assert "\n" not in failure_reason(error)


def test_a_long_reason_is_cut_with_an_ellipsis():
    text = one_line(ValueError("x" * 1000))
    assert len(text) == MAX_REASON and text.endswith("…")
    assert one_line(ValueError("x" * (MAX_REASON - len("ValueError: ")))) == (
        "ValueError: " + "x" * (MAX_REASON - len("ValueError: "))
    )


@pytest.mark.parametrize("error", [ArchiveError("disk full"), OutputError("no room")])
def test_errors_of_the_whole_run_are_raised_again_not_recorded(error):
    with pytest.raises(type(error)) as info:
        failure_reason(error)
    assert info.value is error


def test_an_sqlite_error_inside_an_item_stops_the_run_as_an_archive_error():
    with pytest.raises(ArchiveError) as info:
        failure_reason(sqlite3.OperationalError("database is locked"))
    assert info.value.message == "cannot use the archive: database is locked"
