"""The ``[publish]`` section: which outputs ``newsmirror run`` writes after fetching.

    [publish.site]            # the static site (as `newsmirror build`)
    path = "public"
    title = "新闻镜像"
    base_url = "https://example.org/mirror/"
    search = true

    [publish.jekyll]          # the Jekyll tree (as `newsmirror export jekyll`)
    path = "jekyll"
    layouts = true            # also _config.yml, layouts and an index (--site)

A table that is present turns its output on. Paths are relative to the config file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsmirror.errors import ConfigError

DEFAULT_TITLE = "新闻镜像"


@dataclass(frozen=True)
class SiteOutput:
    path: Path
    title: str = DEFAULT_TITLE
    base_url: str = ""
    search: bool = True


@dataclass(frozen=True)
class JekyllOutput:
    path: Path
    layouts: bool = False
    title: str = DEFAULT_TITLE


@dataclass(frozen=True)
class PublishSettings:
    site: SiteOutput | None = None
    jekyll: JekyllOutput | None = None

    @property
    def outputs(self) -> list[SiteOutput | JekyllOutput]:
        return [o for o in (self.jekyll, self.site) if o is not None]


_KEYS: dict[str, dict[str, type]] = {
    "site": {"path": str, "title": str, "base_url": str, "search": bool},
    "jekyll": {"path": str, "layouts": bool, "title": str},
}


def _fail(config: Path, key: str, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(message, path=str(config), key=f"publish.{key}", hint=hint)


def _table(config: Path, name: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail(config, name, "must be a table", f"Write [publish.{name}] with path = ….")
    known = _KEYS[name]
    for key, value in raw.items():
        if key not in known:
            raise _fail(config, f"{name}.{key}", "unknown key", f"Known keys: {', '.join(known)}.")
        if not isinstance(value, known[key]):
            kind = "true or false" if known[key] is bool else "a string"
            raise _fail(config, f"{name}.{key}", f"must be {kind}")
        if isinstance(value, str) and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise _fail(config, f"{name}.{key}", "must not contain control characters")
    if not raw.get("path"):
        raise _fail(config, f"{name}.path", "is missing", 'Name the output folder: path = "…".')
    values = dict(raw)
    folder = Path(values.pop("path")).expanduser()
    values["path"] = folder if folder.is_absolute() else config.parent / folder
    return values


def _base_url(config: Path, value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise _fail(
            config,
            "site.base_url",
            f"must be an http(s) address: {value!r}",
            'For example base_url = "https://example.org/mirror/".',
        )
    return value if not value or value.endswith("/") else value + "/"


def parse_publish(config: Path, raw: Any) -> PublishSettings:
    """The ``[publish]`` table of the config at ``config``; ConfigError naming the key."""
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", path=str(config), key="publish")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise _fail(
            config, unknown[0], "unknown output", "Outputs are [publish.site] and [publish.jekyll]."
        )
    site = jekyll = None
    if "site" in raw:
        values = _table(config, "site", raw["site"])
        values["base_url"] = _base_url(config, values.get("base_url", ""))
        site = SiteOutput(**values)
    if "jekyll" in raw:
        jekyll = JekyllOutput(**_table(config, "jekyll", raw["jekyll"]))
    if site and jekyll and site.path.resolve() == jekyll.path.resolve():
        raise _fail(
            config, "jekyll.path", "is the site's folder too", "Give each output its own folder."
        )
    return PublishSettings(site=site, jekyll=jekyll)
