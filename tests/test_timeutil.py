"""Dates as Chinese and other sites write them, and the post's millisecond stamp
(timeutil): every written form a source uses must read to the right UTC moment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsmirror.timeutil import parse_local_date, to_epoch_ms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # T3: the 日 is optional ("2024年1月5", "2024年01月05 08:30")
        ("2024年1月5", datetime(2024, 1, 4, 16, 0, tzinfo=UTC)),
        ("2024年01月05 08:30", datetime(2024, 1, 5, 0, 30, tzinfo=UTC)),
        # T5: traditional 時 (Taiwan, Hong Kong sites) reads as 时
        ("2024年1月5日 8時30分", datetime(2024, 1, 5, 0, 30, tzinfo=UTC)),
        # T13: seconds written with 秒 are kept
        ("2024年1月5日 8时30分15秒", datetime(2024, 1, 5, 0, 30, 15, tzinfo=UTC)),
        # T8: a bare GMT or UTC means UTC, not the source's zone
        ("2024-01-05 08:30 GMT", datetime(2024, 1, 5, 8, 30, tzinfo=UTC)),
        ("2024-01-05 08:30 UTC", datetime(2024, 1, 5, 8, 30, tzinfo=UTC)),
    ],
)
def test_chinese_dates_in_every_written_form(text, expected):
    assert parse_local_date(text) == expected


def test_an_offset_of_a_whole_day_is_no_date_and_no_crash():
    # T7: +24:00 is no offset (datetime.timezone refuses it); it must not raise
    assert parse_local_date("2024-01-05 08:30 +24:00") is None
    assert parse_local_date("2024-01-05 08:30 +23:59") == datetime(2024, 1, 4, 8, 31, tzinfo=UTC)


def test_epoch_is_in_milliseconds():
    # T12: the <!--...--> stamp of a post is milliseconds since 1970
    assert to_epoch_ms(datetime(2024, 1, 1, 0, 0, 0, 123000, tzinfo=UTC)) == 1704067200123
