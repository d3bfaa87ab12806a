"""Times: stored as UTC ISO 8601 strings with milliseconds and Z; dates as Chinese sites
write them read in the source's time zone."""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def now_utc() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """``2023-10-29T03:36:11.000Z``: the form stored and written in posts."""
    # isoformat writes the year in four digits (strftime's %Y gives "1" for year 1, which
    # no reader takes) and cuts the microseconds to milliseconds, as stored.
    plain = moment.astimezone(UTC).replace(tzinfo=None)
    return plain.isoformat(timespec="milliseconds") + "Z"


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def in_zone(moment: datetime, zone: str) -> datetime:
    """``moment`` shown in the source's time zone (Asia/Shanghai by default, and for a
    name tzdata does not know)."""
    return moment.astimezone(zone_or_default(zone))


DEFAULT_ZONE = "Asia/Shanghai"

# Dates as Chinese sites write them, after NFKC (full-width digits, colons and spaces become
# ASCII): 2024年01月05日 08:30, 2024年1月5日, 2024-01-05 08:30:15, 2024/1/5, 2024.1.5 8时30分,
# with an optional zone (Z, +08:00, GMT+0800). Without a zone they mean the source's zone.
_LOCAL_DATE = re.compile(
    r"(?P<y>\d{4})\s*(?:年\s*(?P<m1>\d{1,2})\s*月\s*(?P<d1>\d{1,2})\s*日?"
    r"|(?P<sep>[-/.])\s*(?P<m2>\d{1,2})\s*(?P=sep)\s*(?P<d2>\d{1,2}))"
    r"(?:\s*T?\s*(?P<H>\d{1,2})\s*(?::|时|時|点|點)\s*(?P<M>\d{1,2})\s*分?"
    r"(?:\s*:\s*(?P<S>\d{1,2})(?:[.,]\d{1,9})?|\s*(?P<S2>\d{1,2})\s*秒)?)?"
    r"\s*(?:(?P<z>Z)|(?:UTC|GMT)?\s*(?P<zs>[+-])(?P<zh>\d{2}):?(?P<zm>\d{2})|(?P<utc>UTC|GMT))?"
)
MAX_DATE_TEXT = 100


@functools.lru_cache(maxsize=64)
def zone_or_default(name: str) -> ZoneInfo:
    """The named time zone; the default one (Asia/Shanghai) for a name that is not one."""
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return ZoneInfo(DEFAULT_ZONE)


def parse_local_date(text: str, zone: str = DEFAULT_ZONE) -> datetime | None:
    """A date written as Chinese sites write it, in UTC; None if ``text`` is not one.

    A time without a zone is read in ``zone`` (the source's time zone); no time means
    midnight there.
    """
    text = unicodedata.normalize("NFKC", text[:MAX_DATE_TEXT]).strip()
    match = _LOCAL_DATE.fullmatch(text)
    if match is None:
        return None
    g = match.groupdict()
    return moment_of(g, int(g["H"] or 0), zone)


def moment_of(g: dict[str, str | None], hour: int, zone: str) -> datetime | None:
    """The UTC moment of a date matched with the groups of ``_LOCAL_DATE`` (y, m1/m2,
    d1/d2, M, S/S2, z/utc, zs/zh/zm), ``hour`` as read. A written zone wins; a time
    without one is in ``zone``. None for a date that does not exist."""
    try:
        moment = datetime(
            int(g["y"] or 0),
            int(g["m1"] or g["m2"] or 0),
            int(g["d1"] or g["d2"] or 0),
            hour,
            int(g["M"] or 0),
            int(g["S"] or g["S2"] or 0),
        )
    except ValueError:
        return None
    if g["z"] or g["utc"]:
        return moment.replace(tzinfo=UTC)
    if g["zs"]:
        offset = timedelta(hours=int(g["zh"] or 0), minutes=int(g["zm"] or 0))
        if offset >= timedelta(hours=24):
            return None
        sign = 1 if g["zs"] == "+" else -1
        return moment.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)
    return moment.replace(tzinfo=zone_or_default(zone)).astimezone(UTC)


def offset_label(moment: datetime) -> str:
    """An aware moment's offset from UTC as people read it: UTC+8, UTC-3:30, UTC.
    (Abbreviations such as CST are ambiguous: China, or the US Central zone?)"""
    offset = moment.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


# Zones readers know by a city's name; any other is shown as its offset from UTC, never by
# an abbreviation such as "CST" (China, Cuba or the US Midwest?).
ZONE_NAMES = {
    **dict.fromkeys(("Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "PRC"), "北京时间"),
    **dict.fromkeys(("Asia/Harbin", "Asia/Beijing"), "北京时间"),
    **dict.fromkeys(("Asia/Taipei", "ROC"), "台北时间"),
    **dict.fromkeys(("Asia/Hong_Kong", "Hongkong"), "香港时间"),
    **dict.fromkeys(("Asia/Macau", "Asia/Macao"), "澳门时间"),
    **dict.fromkeys(("Asia/Singapore", "Singapore"), "新加坡时间"),
    **dict.fromkeys(("Asia/Tokyo", "Japan"), "东京时间"),
}


def zone_words(moment: datetime, zone: str) -> str:
    """How a page names ``zone`` at ``moment``: 北京时间, 台北时间, ..., UTC, or UTC-6."""
    return ZONE_NAMES.get(zone) or offset_label(moment)
