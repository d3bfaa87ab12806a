"""The site's health in public: what the status page, ``status.json``, the mirrors page
and every footer say. Plain functions, no I/O.

Everything here depends on the archive only, never on the clock, so a rebuild with
nothing new gives the same bytes: the 30 days charted are the whole days (in Beijing
time) before the day of the mirror's last update, not of the build. The status page
changes once a day, or when a source's health changes, not with every new article:
today's count, each source's total and the last update to the minute are left to
``status.json`` and to the footer's stylesheet (updated.css).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from shlex import quote
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from newsmirror.models import SourceHealth
from newsmirror.publish.pages import is_http_url
from newsmirror.timeutil import from_iso, to_iso

DAYS = 30
OFFSET_HOURS = 8  # Asia/Shanghai keeps no summer time: days are UTC+8 days
BEIJING = timezone(timedelta(hours=OFFSET_HOURS))
ZONE_WORDS = "北京时间（UTC+8）"


@dataclass(frozen=True)
class Moment:
    """A time as pages show it: UTC for machines, Beijing time for readers."""

    iso: str  # 2024-05-01T12:00:00Z
    text: str  # 2024-05-01 20:00 北京时间（UTC+8）


def moment(iso: str | None) -> Moment | None:
    if not iso:
        return None
    when = from_iso(iso)
    local = when.astimezone(BEIJING)
    return Moment(f"{when:%Y-%m-%dT%H:%M:%SZ}", f"{local:%Y-%m-%d %H:%M} {ZONE_WORDS}")


def day(iso: str | None) -> Moment | None:
    """A time to the day, in Beijing: for what changes on every run (a source's last
    success), so that a run with nothing new leaves the published pages as they were."""
    if not iso:
        return None
    local = from_iso(iso).astimezone(BEIJING)
    return Moment(f"{local:%Y-%m-%d}", f"{local:%Y-%m-%d}（北京时间）")


@dataclass(frozen=True)
class Window:
    """The days charted: ``days`` (YYYY-MM-DD, oldest first) and their UTC bounds."""

    days: tuple[str, ...]
    start: str  # UTC ISO, inclusive
    end: str  # UTC ISO, exclusive


def window(updated: str | None, days: int = DAYS) -> Window | None:
    """The ``days`` whole Beijing-time days before the day of ``updated`` (that day is
    not over: its count would change the page on every run); None without it."""
    if not updated:
        return None
    last = from_iso(updated).astimezone(BEIJING).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=BEIJING)
    names = tuple(str(first + timedelta(days=i)) for i in range(days))
    return Window(names, to_iso(start), to_iso(start + timedelta(days=days)))


def series(per_day: dict[str, int], win: Window | None) -> list[int]:
    return [per_day.get(day, 0) for day in win.days] if win else []


# -- errors in plain words ----------------------------------------------------------

_HTTP = re.compile(r"\bHTTP (\d{3})\b")
_PLAIN = [
    (re.compile(r"timed out", re.I), "连接超时：来源网站没有及时响应"),
    (
        re.compile(r"connection failed|name or service|resolv|refused|unreachable", re.I),
        "无法连接到来源网站（网络不通、域名无法解析或被封锁）",
    ),
    (re.compile(r"redirects", re.I), "来源网站跳转次数过多"),
    (re.compile(r"invalid URL", re.I), "订阅地址无效，请检查配置"),
    (re.compile(r"HTML page", re.I), "订阅地址返回的是网页而不是订阅源，地址可能已更换"),
    (re.compile(r"not a feed|malformed feed", re.I), "来源返回的内容不是有效的 RSS/Atom 订阅源"),
    (re.compile(r"exceeds the cap", re.I), "来源返回的内容过大，已放弃"),
    (re.compile(r"not valid|Content-Encoding", re.I), "来源返回的内容无法解码"),
]


def _http_words(status: int) -> str:
    if status in (404, 410):
        return f"订阅地址不存在（HTTP {status}），来源可能已更换地址"
    if status in (401, 403, 451):
        return f"来源网站拒绝访问（HTTP {status}），可能封锁了镜像所在的服务器"
    if status == 429:
        return "请求过于频繁，被来源网站限流（HTTP 429）"
    if status >= 500:
        return f"来源网站的服务器出错（HTTP {status}），通常过一会儿会恢复"
    return f"来源网站拒绝了请求（HTTP {status}）"


def plain_error(error: str) -> str:
    """One sentence a reader understands for a stored fetch error."""
    found = _HTTP.search(error)
    if found:
        return _http_words(int(found.group(1)))
    for pattern, words in _PLAIN:
        if pattern.search(error):
            return words
    return "抓取失败"


MAX_DETAIL = 300  # characters of one error's technical text (a server writes some of it)


def cut(text: str, limit: int = MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_error(error: str | None) -> str | None:
    """A stored error with each ``url: reason`` part cut to MAX_DETAIL, at most twice that
    in all: a hostile server's reason phrase never fills the public pages."""
    if error is None:
        return None
    return cut("; ".join(cut(part) for part in error.split("; ")), 2 * MAX_DETAIL)


def error_lines(error: str | None) -> list[dict[str, str]]:
    """A source's last error (``url: reason; url: reason``) as plain sentences, each
    with its technical text (cut to MAX_DETAIL); the same sentence once."""
    out: dict[str, list[str]] = {}
    for part in (error or "").split("; "):
        if part.strip():
            out.setdefault(plain_error(part), []).append(part.strip())
    return [{"plain": plain, "detail": cut("; ".join(parts))} for plain, parts in out.items()]


# -- the chart ------------------------------------------------------------------------

BAR, GAP, HEIGHT = 8, 2, 40


def chart_label(name: str, counts: Sequence[int], win: Window) -> str:
    pairs = "，".join(f"{day[5:]} {n}" for day, n in zip(win.days, counts, strict=True))
    return (
        f"{name} 最近 {len(counts)} 天每天的文章数（{win.days[0]} 至 {win.days[-1]}）："
        f"{pairs}；共 {sum(counts)} 篇"
    )


def chart_svg(name: str, counts: Sequence[int], win: Window) -> Markup:
    """A small bar chart, one bar a day, oldest first; its title and label carry every
    number (a tooltip, and the same to a screen reader). Bars are ``HEIGHT`` high at
    the busiest day; a day without articles shows a thin line."""
    top = max(counts, default=0) or 1
    width = len(counts) * (BAR + GAP)
    label = chart_label(name, counts, win)
    bars = []
    for i, n in enumerate(counts):
        h = max(1, round(n * HEIGHT / top)) if n else 1
        cls = "bar" if n else "bar zero"
        bars.append(
            f'<rect class="{cls}" x="{i * (BAR + GAP)}" y="{HEIGHT - h}" width="{BAR}"'
            f' height="{h}" data-count="{n}"/>'
        )
    return Markup(
        f'<svg class="nm-chart" viewBox="0 0 {width} {HEIGHT}" width="{width}"'
        f' height="{HEIGHT}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>{''.join(bars)}</svg>"
    )


# -- status page and status.json ----------------------------------------------------


def _state(h: SourceHealth) -> str:
    if not h.enabled:
        return "已停用"
    if h.consecutive_failures:
        return f"连续失败 {h.consecutive_failures} 次"
    if not h.last_success:
        return "尚未抓取"
    return "正常"


def state_counts(rows: Iterable[dict[str, Any]]) -> list[tuple[int, str, bool]]:
    """How many sources are in each state, for the status page's summary: (count, what,
    whether it needs attention), failing ones first, then never fetched, stopped, fine;
    empty when every source is fine ("都正常")."""
    failing = sum(1 for r in rows if r["failing"])
    rows = [r for r in rows if not r["failing"]]
    counts = [
        (failing, "个正在失败", True),
        (sum(1 for r in rows if r["state"] == "尚未抓取"), "个尚未抓取", True),
        (sum(1 for r in rows if r["state"] == "已停用"), "个已停用", False),
        (sum(1 for r in rows if r["state"] == "正常"), "个正常", False),
    ]
    shown = [c for c in counts if c[0]]
    return [] if [what for _, what, _ in shown] == ["个正常"] else shown


def status_rows(
    health: Iterable[SourceHealth], per_day: dict[str, dict[str, int]], win: Window | None
) -> list[dict[str, Any]]:
    """One row per source, failing ones first (most failures first), then by name. A
    stopped source is not failing, whatever it last met (its last error is still shown)."""
    rows = []
    for h in sorted(health, key=lambda h: (-h.consecutive_failures * h.enabled, h.name)):
        counts = series(per_day.get(h.name, {}), win)
        rows.append(
            {
                "name": h.name,
                "enabled": h.enabled,
                "state": _state(h),
                "failing": bool(h.consecutive_failures) and h.enabled,
                "failures": h.consecutive_failures,
                "articles": h.articles,
                "last_success": day(h.last_success),
                "last_error_at": moment(h.last_error_at),
                "errors": error_lines(h.last_error) if h.consecutive_failures else [],
                "last_error": h.last_error,
                "counts": counts,
                "total_30d": sum(counts),
                "chart": chart_svg(h.name, counts, win) if win else None,
            }
        )
    return rows


def status_json(
    rows: list[dict[str, Any]], updated: str | None, win: Window | None
) -> dict[str, Any]:
    """What monitors read: per source name the day of its last success (Beijing time:
    exact times would change the file on every run), failures in a row, last error and
    articles per day (oldest first, the days under ``days``)."""

    def utc(m: Moment | None) -> str | None:
        return m.iso if m else None

    return {
        "generated": utc(moment(updated)),
        "timezone": "Asia/Shanghai",
        "days": list(win.days) if win else [],
        "sources": {
            r["name"]: {
                "enabled": r["enabled"],
                "last_success_day": utc(r["last_success"]),  # Beijing date, YYYY-MM-DD
                "consecutive_failures": r["failures"],
                "last_error": short_error(r["last_error"]) if r["failures"] else None,
                "last_error_at": utc(r["last_error_at"]),
                "articles": r["articles"],
                "articles_30d": r["counts"],
            }
            for r in rows
        },
    }


# -- mirrors --------------------------------------------------------------------------

_GIT_HOSTS = {"github.com", "gitlab.com", "codeberg.org", "bitbucket.org", "gitee.com"}


def parses(url: str) -> bool:
    try:
        urlsplit(url).hostname  # noqa: B018 - raises for a broken host ("https://[x")
    except ValueError:
        return False
    return True


def looks_like_git(url: str) -> bool:
    """Whether ``url`` names a git repository (one ``git clone`` can copy)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    host = (parts.hostname or "").lower()
    return path.endswith(".git") or (host in _GIT_HOSTS and path.count("/") == 2)


def mirror_list(
    mirrors: Iterable[tuple[str, str]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """The mirrors a page may link to (http(s) URLs only) and the names of those refused."""
    shown, refused = [], []
    for name, url in mirrors:
        if is_http_url(url) and not re.search(r"[\s\x00-\x1f\x7f]", url) and parses(url):
            # "shell": the address as a shell word, for the commands a reader copies
            # (`&`, `;` or `$(...)` in it must not end the command or run another).
            git = looks_like_git(url)
            shown.append({"name": name or url, "url": url, "git": git, "shell": quote(url)})
        else:
            refused.append(name)
    return shown, refused


def updated_css(updated: Moment | None) -> str:
    """The footer's freshness line for pages that are not rebuilt on every run: one tiny
    stylesheet, rewritten when the mirror is updated, instead of every page. The time is
    its own (::after) box that does not wrap: a phone never puts "（UTC+8）" on a line
    of its own."""

    def quoted(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', '\\"')

    head = "/* The mirror's last update, shown in the footer of every page. */\n"
    if not updated:
        return head + '.nm-fresh::before { content: "镜像尚未更新"; }\n'
    return (
        head + '.nm-fresh::before { content: "镜像最近更新："; }\n'
        f'.nm-fresh::after {{ content: "{quoted(updated.text)}"; white-space: nowrap; }}\n'
    )
