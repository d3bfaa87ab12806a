"""Configuration: a TOML file with global settings and a list of sources.

The file is validated as a whole when it is loaded; any problem is a
:class:`~newsmirror.errors.ConfigError` naming the file, the key and a hint.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsmirror import __version__
from newsmirror.errors import ConfigError
from newsmirror.publishconf import PublishSettings, parse_publish

CONFIG_NAME = "newsmirror.toml"
DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_USER_AGENT = f"newsmirror/{__version__} (+https://github.com/newsmirror/newsmirror)"


@dataclass(frozen=True)
class Source:
    """One news outlet: a name and the feeds it publishes."""

    name: str
    feeds: tuple[str, ...]
    tags: tuple[str, ...] = ()
    timezone: str = DEFAULT_TZ
    enabled: bool = True
    full_text: str = "auto"  # "auto", "feed" or "page"
    selector: str = ""  # CSS selector of the article body, overriding extraction
    remove: tuple[str, ...] = ()  # CSS selectors of boilerplate to strip before extraction
    interval: int = 60  # minutes between fetches when `newsmirror schedule` queues them


@dataclass(frozen=True)
class FetchSettings:
    """How feeds are fetched over HTTP."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 8
    per_host: int = 2
    retries: int = 2
    backoff: float = 1.0


@dataclass(frozen=True)
class MediaSettings:
    """Images: mirrored into the archive (and exports), or left hotlinked."""

    mode: str = "mirror"  # "mirror" or "hotlink"
    max_bytes: int = 10 * 1024 * 1024
    max_per_article: int = 40
    retries: int = 5  # runs that retry a failed image before giving up on it


@dataclass(frozen=True)
class ContentSettings:
    """What article HTML may keep."""

    iframe_hosts: tuple[str, ...] = (
        "www.youtube.com",
        "youtube.com",
        "www.youtube-nocookie.com",
        "player.vimeo.com",
    )
    max_pages: int = 300  # article pages fetched for full text in one run


@dataclass(frozen=True)
class Config:
    """A whole configuration file."""

    path: Path
    archive: Path
    fetch: FetchSettings = field(default_factory=FetchSettings)
    sources: tuple[Source, ...] = ()
    media: MediaSettings = field(default_factory=MediaSettings)
    content: ContentSettings = field(default_factory=ContentSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    archive_url: str | None = None  # a PostgreSQL archive (store/postgres.py)

    @property
    def media_dir(self) -> Path:
        """Mirrored images, content-addressed, beside the archive (beside ``path``'s
        default archive file for a PostgreSQL archive)."""
        return self.archive.parent / "media"

    @property
    def archive_location(self) -> Path | str:
        """The archive: a PostgreSQL URL when one is set, else the SQLite file."""
        return self.archive_url or self.archive

    def source(self, name: str) -> Source:
        """The source called ``name``: exactly, else the one whose name is the same with
        简/繁 and variant forms folded (美國之音 finds 美国之音)."""
        from newsmirror.textsearch import fold

        for src in self.sources:
            if src.name == name:
                return src
        alike = [src for src in self.sources if fold(src.name) == fold(name)]
        if len(alike) == 1:
            return alike[0]
        names = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(
            f"no source named {name!r}",
            path=str(self.path),
            key="sources",
            hint=f"Configured sources: {names}.",
        )


# Real outlets of the old mirrors, written into the starter config by `init`.
STARTER_SOURCES: tuple[tuple[str, str], ...] = (
    ("大纪元", "https://www.epochtimes.com/gb/nsc413.xml"),
    ("自由亚洲电台", "https://www.rfa.org/mandarin/yataibaodao/rss2.xml"),
    ("中国数字时代", "https://chinadigitaltimes.net/chinese/feed/"),
    ("美国之音", "https://www.voachinese.com/api/zm_yql-vomx-tpeybti"),
    ("BBC中文", "https://feeds.bbci.co.uk/zhongwen/simp/rss.xml"),
    ("德国之声", "https://rss.dw.com/rdf/rss-chi-all"),
    ("法广", "https://www.rfi.fr/cn/rss"),
    ("纽约时报中文网", "https://cn.nytimes.com/rss/"),
    ("联合国新闻", "https://news.un.org/feed/subscribe/zh/news/all/rss.xml"),
)


def _fail(path: Path, key: str, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(message, path=str(path), key=key, hint=hint)


def check_feed_url(path: Path, key: str, url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise _fail(path, key, "feed URL must be a non-empty string")
    url = url.strip()
    problem = url_problem(url)
    if problem:
        raise _fail(
            path,
            key,
            f"not a usable http(s) URL: {url!r} ({problem})",
            "Feed URLs look like https://example.com/feed.xml",
        )
    return str(url)


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# URLs that httpx reads without fail: printable ASCII, a host name whose last label
# begins with a letter (and no IDNA "xn--" label, which httpx decodes) or a dotted IPv4
# address without leading zeros, at most five port digits (their range is checked below).
_PLAIN_URL = re.compile(
    r"https?://(?![^/?#]*xn--)(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z][a-z0-9-]*|[a-z][a-z0-9-]*"
    rf"|{_OCTET}(?:\.{_OCTET}){{3}})(?::[0-9]{{1,5}})?(?:[/?#][!-~]*)?",
    re.IGNORECASE | re.ASCII,  # ASCII: else "İ", "K" (Kelvin) and "ſ" pass as i, k, s
)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched over http(s), or None when it can.

    Checked as both ``urllib`` and httpx read it, so that nothing a fetch would choke
    on (a broken IPv6 literal, a port out of range, control characters, bad IDNA)
    gets past the config. Plain URLs skip httpx's reading (and its import, which
    commands that fetch nothing need not pay for).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname if _PLAIN_URL.fullmatch(url) else _httpx_host(url)
    except ValueError as exc:  # UnicodeError and httpx.InvalidURL are ValueErrors
        return str(exc) or type(exc).__name__
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if not host or not parts.hostname:
        return "no host"
    if any(c.isspace() or not c.isprintable() for c in parts.netloc):
        return "the host has spaces or control characters"
    if port is not None and not 0 < port < 65536:
        return f"port {port} is out of range 1-65535"
    return None


def _httpx_host(url: str) -> str:
    from newsmirror.httpclient import httpx

    try:
        return httpx.URL(url).host
    except httpx.InvalidURL as exc:
        raise ValueError(str(exc) or "invalid URL") from exc


def _str_list(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, key, "must be a string or a list of strings")
    return tuple(v.strip() for v in value if v.strip())


_SOURCE_KEYS = {
    "name",
    "interval",
    "feeds",
    "feed",
    "url",
    "tags",
    "timezone",
    "enabled",
    "full_text",
    "selector",
    "remove",
}
FULL_TEXT_MODES = ("auto", "feed", "page")


def _parse_source(path: Path, index: int, raw: Any) -> Source:
    key = f"sources[{index}]"
    if not isinstance(raw, dict):
        raise _fail(path, key, "each source must be a table ([[sources]])")
    unknown = set(raw) - _SOURCE_KEYS
    if unknown:
        raise _fail(
            path,
            f"{key}.{sorted(unknown)[0]}",
            "unknown key",
            f"Known keys: {', '.join(sorted(_SOURCE_KEYS))}.",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(path, f"{key}.name", "a source needs a non-empty name")
    feeds_raw = raw.get("feeds", raw.get("feed", raw.get("url")))
    if feeds_raw is None:
        raise _fail(
            path,
            f"{key}.feeds",
            f"source {name!r} has no feeds",
            'Add feeds = ["https://…/feed.xml"].',
        )
    feeds = tuple(
        check_feed_url(path, f"{key}.feeds", u) for u in _str_list(path, f"{key}.feeds", feeds_raw)
    )
    if not feeds:
        raise _fail(path, f"{key}.feeds", f"source {name!r} has no feeds")
    tz = raw.get("timezone", DEFAULT_TZ)
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise _fail(
            path,
            f"{key}.timezone",
            f"unknown time zone {tz!r}",
            "Use an IANA name such as Asia/Shanghai or Europe/Berlin.",
        ) from exc
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _fail(path, f"{key}.enabled", "must be true or false")
    tags = _str_list(path, f"{key}.tags", raw.get("tags", []))
    full_text = raw.get("full_text", "auto")
    if full_text not in FULL_TEXT_MODES:
        raise _fail(
            path,
            f"{key}.full_text",
            f"unknown mode {full_text!r}",
            'Use "auto" (fetch the page when the feed is short), "feed" or "page".',
        )
    selector = raw.get("selector", "")
    if not isinstance(selector, str):
        raise _fail(path, f"{key}.selector", "must be a CSS selector string")
    remove = _str_list(path, f"{key}.remove", raw.get("remove", []))
    _check_css(path, f"{key}.selector", selector)
    for css in remove:
        _check_css(path, f"{key}.remove", css)
    interval = _number(
        path, f"{key}.interval", raw.get("interval", 60), minimum=1, integer=True, maximum=10080
    )
    return Source(
        name=name.strip(),
        feeds=feeds,
        tags=tags,
        timezone=str(tz),
        enabled=enabled,
        full_text=full_text,
        selector=selector.strip(),
        remove=remove,
        interval=interval,
    )


def _check_css(path: Path, key: str, css: str) -> None:
    if not css:
        return
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(css)
    except SelectorError as exc:
        raise _fail(path, key, f"not a valid CSS selector: {css!r} ({exc})") from exc


# Seconds: a day is more than any fetch should wait (and keeps deadlines finite).
_MAX_SECONDS = 86400.0


def _number(
    path: Path,
    key: str,
    value: Any,
    *,
    minimum: float,
    integer: bool = False,
    maximum: float | None = None,
) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, key, f"must be a number >= {minimum}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, key, f"must be a finite number, not {value}", "Use e.g. 30.")
    if value < minimum:
        raise _fail(path, key, f"must be a number >= {minimum}")
    if integer and not isinstance(value, int):
        raise _fail(path, key, "must be a whole number")
    if maximum is not None and value > maximum:
        raise _fail(path, key, f"must be at most {maximum:g}")
    return value


_NON_NEGATIVE = {"retries", "backoff"}
_CHOICES = {("media", "mode"): ("mirror", "hotlink")}


def _parse_settings(path: Path, section: str, raw: Any, cls: Any) -> Any:
    """A settings table checked against the fields (and their types) of ``cls``."""
    if not isinstance(raw, dict):
        raise _fail(path, section, "must be a table")
    defaults = cls()
    known = list(defaults.__dict__)
    unknown = set(raw) - set(known)
    if unknown:
        raise _fail(
            path,
            f"{section}.{sorted(unknown)[0]}",
            "unknown key",
            f"Known keys: {', '.join(known)}.",
        )
    values: dict[str, Any] = {}
    for name in raw:
        default, value, key = defaults.__dict__[name], raw[name], f"{section}.{name}"
        if isinstance(default, str):
            if not isinstance(value, str):
                raise _fail(path, key, "must be a string")
            if name == "user_agent" and not value.isascii():
                raise _fail(
                    path,
                    key,
                    "must be ASCII (it is sent as an HTTP header)",
                    "Write the name in Latin letters, e.g. newsmirror/0.1 (+https://…).",
                )
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise _fail(
                    path,
                    key,
                    "must not contain control characters (line breaks, tabs, ...)",
                    "Write it on one line.",
                )
            choices = _CHOICES.get((section, name))
            if choices and value not in choices:
                raise _fail(path, key, f"must be one of {', '.join(choices)}")
        elif isinstance(default, tuple):
            value = _str_list(path, key, value)
        else:
            minimum = 0 if name in _NON_NEGATIVE else (1 if isinstance(default, int) else 0.1)
            seconds = _MAX_SECONDS if isinstance(default, float) else None
            value = _number(
                path, key, value, minimum=minimum, integer=isinstance(default, int), maximum=seconds
            )
        values[name] = value
    return cls(**values)


def parse_config(text: str, path: Path) -> Config:
    """Validate the text of a config file; ``path`` names it in errors and anchors paths.

    A leading UTF-8 byte order mark (Windows editors write one) is accepted.
    """
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"not valid TOML: {exc}",
            path=str(path),
            hint="Fix the syntax at the line and column given.",
        ) from exc
    archive_raw = data.get("archive", {})
    if not isinstance(archive_raw, dict):
        raise _fail(path, "archive", "must be a table with a path key")
    archive = archive_raw.get("path", "archive.sqlite")
    if not isinstance(archive, str) or not archive:
        raise _fail(path, "archive.path", "must be a file path")
    archive_path = Path(archive).expanduser()
    if not archive_path.is_absolute():
        archive_path = path.parent / archive_path
    url = archive_raw.get("url")
    if url is not None and not (isinstance(url, str) and is_postgres_url(url)):
        raise _fail(
            path, "archive.url", "must be a postgresql:// URL", "Or leave it out for SQLite."
        )
    sources_raw = data.get("sources", [])
    if not isinstance(sources_raw, list):
        raise _fail(path, "sources", "must be an array of tables ([[sources]])")
    sources = tuple(_parse_source(path, i, s) for i, s in enumerate(sources_raw))
    seen: set[str] = set()
    for src in sources:
        if src.name in seen:
            raise _fail(
                path,
                "sources",
                f"two sources are named {src.name!r}",
                "Source names must be unique.",
            )
        seen.add(src.name)
    unknown = set(data) - {"archive", "fetch", "media", "content", "publish", "sources"}
    if unknown:
        raise _fail(
            path,
            sorted(unknown)[0],
            "unknown section",
            "Sections are [archive], [fetch], [media], [content], [publish] and [[sources]].",
        )
    return Config(
        path=path,
        archive=archive_path,
        fetch=_parse_settings(path, "fetch", data.get("fetch", {}), FetchSettings),
        media=_parse_settings(path, "media", data.get("media", {}), MediaSettings),
        content=_parse_settings(path, "content", data.get("content", {}), ContentSettings),
        sources=sources,
        publish=parse_publish(path, data.get("publish", {})),
        archive_url=url,
    )


def load_config(path: Path) -> Config:
    """Read and validate a config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            "config file not found",
            path=str(path),
            hint="Run `newsmirror init` to write a starter config, or pass --config.",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", path=str(path)) from exc
    return parse_config(text, path.resolve())


def _toml_str(value: str) -> str:
    return str(json.dumps(value, ensure_ascii=False))


ARCHIVE_URL_ENV = "NEWSMIRROR_ARCHIVE_URL"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: object) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) connection URL."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def shown_url(url: str) -> str:
    """``url`` without its password (``user:password@``, ``?password=``), for messages.
    Read as text, not parsed: a password with a raw ``/``, ``#`` or ``@`` is hidden too."""
    userinfo = r"^([A-Za-z][\w+.-]*://)([^:@/?#]*):.*@"
    shown = re.sub(userinfo, r"\1\2:***@", url, count=1, flags=re.S)
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", shown)


def archive_url_from_env() -> str | None:
    """The PostgreSQL archive named by ``NEWSMIRROR_ARCHIVE_URL`` (it keeps a password
    out of the config file), None when unset."""
    value = os.environ.get(ARCHIVE_URL_ENV, "").strip()
    if not value:
        return None
    if not is_postgres_url(value):
        raise ConfigError(
            f"{ARCHIVE_URL_ENV} is not a postgresql:// URL",
            hint="Set it to postgresql://user:password@host/database, or unset it.",
        )
    return value


def render_config(sources: list[tuple[str, list[str]]], archive: str = "archive.sqlite") -> str:
    """The text of a config file listing ``(name, feed URLs)`` sources."""
    lines = [
        "# newsmirror configuration: see the README, section Configuration.",
        "",
        "[archive]",
        f"path = {_toml_str(archive)}",
        "",
        "[fetch]",
        f"user_agent = {_toml_str(DEFAULT_USER_AGENT)}",
        "connect_timeout = 10",
        "read_timeout = 30",
        "max_bytes = 20971520",
        "concurrency = 8",
        "per_host = 2",
        "retries = 2",
        "",
        "# What `newsmirror run` writes after fetching (see README, Configuration).",
        "[publish.site]",
        'path = "public"',
        "",
    ]
    for name, urls in sources:
        lines += [
            "[[sources]]",
            f"name = {_toml_str(name)}",
            f"feeds = [{', '.join(_toml_str(u) for u in urls)}]",
            f"timezone = {_toml_str(DEFAULT_TZ)}",
            "enabled = true",
            "",
        ]
    return "\n".join(lines)


# Names perform.js reads as a built-in source instead of a {site, url} entry.
SUBS_BUILT_IN = {"中国数字时代": "https://chinadigitaltimes.net/chinese/feed/"}
SUBS_HINT = (
    'subs.json is a JSON array of {"site": NAME, "url": FEED} objects, or of the names '
    "perform.js knows by themselves (" + ", ".join(SUBS_BUILT_IN) + ")."
)


def sources_from_subs(text: str, origin: str) -> list[tuple[str, list[str]]]:
    """Read an old mirror's ``subs.json``: ``[{"site": ..., "url": ...}]``, where a
    bare string is one of perform.js's built-in sources (SUBS_BUILT_IN).

    Entries with the same site name become one source with several feeds. Names are
    cleaned as feed titles are (one line, no control characters).
    """
    from newsmirror.clean import clean_text

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON: {exc}", path=origin, hint=SUBS_HINT) from exc
    if not isinstance(data, list):
        raise ConfigError(
            "expected a JSON array of {site, url} objects", path=origin, hint=SUBS_HINT
        )
    grouped: dict[str, list[str]] = {}
    for i, item in enumerate(data):
        if isinstance(item, str) and item.strip() in SUBS_BUILT_IN:
            item = {"site": item.strip(), "url": SUBS_BUILT_IN[item.strip()]}
        if isinstance(item, str):
            raise ConfigError(
                f"entry {item!r} is a name perform.js does not know by itself",
                path=origin,
                key=f"[{i}]",
                hint=SUBS_HINT,
            )
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise ConfigError("entry has no url", path=origin, key=f"[{i}]", hint=SUBS_HINT)
        url = check_feed_url(Path(origin), f"[{i}].url", item["url"])
        name = clean_text(str(item.get("site") or item.get("name") or "")) or urlsplit(url).netloc
        feeds = grouped.setdefault(name, [])
        if url not in feeds:
            feeds.append(url)
    return list(grouped.items())
