"""Times: stored as UTC ISO 8601 strings with milliseconds and Z."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def now_utc() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """``2023-10-29T03:36:11.000Z``: the form stored and written in posts."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def in_zone(moment: datetime, zone: str) -> datetime:
    """``moment`` shown in the source's time zone (Asia/Shanghai by default)."""
    return moment.astimezone(ZoneInfo(zone))
