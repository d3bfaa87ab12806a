"""The ``[publish]`` section: which outputs ``newsmirror run`` writes after fetching.

    [publish.site]            # the static site (as `newsmirror build`)
    path = "public"
    title = "新闻镜像"
    base_url = "https://example.org/mirror/"
    search = true

    [publish.jekyll]          # the Jekyll tree (as `newsmirror export jekyll`)
    path = "jekyll"
    layouts = true            # also _config.yml, layouts and an index (--site)

    [[publish.targets]]       # where the outputs are published (newsmirror.publish.targets)
    kind = "git"              # "git", "folder" or "s3"
    output = "site"           # which output it publishes: "site" or "jekyll"
    path = "deploy"
    remotes = ["git@github.com:me/mirror.git"]

A table that is present turns its output on. Paths are relative to the config file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsmirror.errors import ConfigError, PublishError
from newsmirror.publish.targets import TargetConfig

DEFAULT_TITLE = "新闻镜像"


@dataclass(frozen=True)
class SiteOutput:
    path: Path
    title: str = DEFAULT_TITLE
    base_url: str = ""
    search: bool = True
    feed_items: int = 20  # entries per feed (publish/feeds.py)
    feed_full_kb: int = 32  # full texts per feed, in kB; the other entries carry summaries
    min_tag_articles: int = 3  # a topic tag of fewer articles gets no page (topics.py)


@dataclass(frozen=True)
class JekyllOutput:
    path: Path
    layouts: bool = False
    title: str = DEFAULT_TITLE


@dataclass(frozen=True)
class PublishSettings:
    site: SiteOutput | None = None
    jekyll: JekyllOutput | None = None
    targets: tuple[TargetConfig, ...] = ()

    @property
    def outputs(self) -> list[SiteOutput | JekyllOutput]:
        return [o for o in (self.jekyll, self.site) if o is not None]


_KEYS: dict[str, dict[str, type]] = {
    "site": {
        "path": str,
        "title": str,
        "base_url": str,
        "search": bool,
        "feed_items": int,
        "feed_full_kb": int,
        "min_tag_articles": int,
    },
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
        if known[key] is int and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**6
        ):
            raise _fail(config, f"{name}.{key}", "must be a whole number from 0 to 1000000")
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
    unknown = sorted(set(raw) - {*_KEYS, "targets"})
    if unknown:
        raise _fail(
            config,
            unknown[0],
            "unknown output",
            "Outputs are [publish.site] and [publish.jekyll]; targets are [[publish.targets]].",
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
    outputs = {"site": site.path if site else None, "jekyll": jekyll.path if jekyll else None}
    targets = parse_targets(config, raw.get("targets", []), outputs)
    return PublishSettings(site=site, jekyll=jekyll, targets=targets)


_ABSENT = object()  # an optional key with no default: left out of the options

# [[publish.targets]]: the keys every target has, then each kind's own (with defaults).
_TARGET_COMMON = {"kind": "str", "output": "str", "name": "str", "public_url": "str"}
_TARGET_KEYS: dict[str, dict[str, tuple[str, Any]]] = {
    "folder": {"path": ("path", None), "link": ("bool", True)},
    "git": {
        "path": ("path", None),
        "remotes": ("strings", []),
        "branch": ("str", "main"),
        "flat": ("bool", False),
        "retries": ("int", 3),
        "backoff": ("seconds", 2.0),
        "author_name": ("str", "newsmirror"),
        "author_email": ("str", "newsmirror@localhost"),
    },
    "s3": {
        "bucket": ("str", None),
        "endpoint_url": ("url", ""),
        "region": ("str", ""),
        "prefix": ("str", ""),
        # checked by the s3 target itself (publish/targets/s3.py, check_options)
        "access_key_env": ("any", _ABSENT),
        "secret_key_env": ("any", _ABSENT),
        "session_token_env": ("any", _ABSENT),
        "addressing_style": ("any", _ABSENT),
        "connect_timeout": ("any", _ABSENT),
        "read_timeout": ("any", _ABSENT),
        "max_attempts": ("any", _ABSENT),
        "workers": ("any", _ABSENT),
        "multipart_threshold_mb": ("any", _ABSENT),
    },
}
_TYPE_WORDS = {
    "str": "a string",
    "url": "an http(s) address",
    "path": "a string",
    "bool": "true or false",
    "int": "a whole number from 0 to 20",
    "seconds": "a number of seconds from 0 to 600",
    "strings": "a list of strings",
}


def _plain(value: str) -> bool:
    return not any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def _valid(kind: str, value: Any) -> bool:
    """Whether ``value`` is of the key type ``kind`` (see _TYPE_WORDS)."""
    if kind == "any":
        return True
    if kind in ("str", "path"):
        return isinstance(value, str) and _plain(value)
    if kind == "url":
        return (
            isinstance(value, str)
            and _plain(value)
            and value.startswith(_HTTP)
            and " " not in value
        )
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 20
    if kind == "seconds":
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and 0 <= value <= 600  # NaN fails the comparison
    if kind == "strings":
        return isinstance(value, list) and all(isinstance(v, str) and _plain(v) for v in value)
    raise AssertionError(kind)


_HTTP = ("http://", "https://")
# git's `<transport>::<address>` remotes run a helper program (ext:: runs any command)
_TRANSPORT_HELPER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")


def _overlaps(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def _target(config: Path, index: int, raw: Any, outputs: dict[str, Path | None]) -> TargetConfig:
    where = f"targets[{index}]"
    if not isinstance(raw, dict):
        raise _fail(config, where, "must be a table", 'Write [[publish.targets]] with kind = "…".')
    kind = raw.get("kind")
    if kind not in _TARGET_KEYS:
        raise _fail(
            config,
            f"{where}.kind",
            f"unknown target kind {kind!r}",
            'Use kind = "git", "folder" or "s3".',
        )
    own = _TARGET_KEYS[kind]
    known = {**{k: (t, None) for k, t in _TARGET_COMMON.items()}, **own}
    for key, value in raw.items():
        if key not in known:
            raise _fail(
                config,
                f"{where}.{key}",
                f"unknown key for a {kind} target",
                f"Known keys: {', '.join(known)}.",
            )
        if not _valid(known[key][0], value):
            raise _fail(config, f"{where}.{key}", f"must be {_TYPE_WORDS[known[key][0]]}")
    configured = [name for name, path in outputs.items() if path is not None]
    output = raw.get("output", configured[0] if len(configured) == 1 else "")
    if output not in outputs:
        raise _fail(
            config,
            f"{where}.output",
            f'must be "site" or "jekyll", not {output!r}',
            'Name the output it publishes: output = "site" or "jekyll".',
        )
    source = outputs[output]
    if source is None:
        raise _fail(
            config,
            f"{where}.output",
            f"[publish.{output}] is not configured",
            f"Add [publish.{output}] with a path, or publish the other output.",
        )
    public_url = raw.get("public_url", "")
    if "@" in _netloc(public_url):
        raise _fail(
            config,
            f"{where}.public_url",
            "holds a user name or token (it is shown to every reader)",
            "Give the address readers use, without user@ or a token.",
        )
    if public_url and not (_valid("url", public_url) and _netloc(public_url)):
        raise _fail(
            config,
            f"{where}.public_url",
            f"must be an http(s) address: {public_url!r}",
            'For example public_url = "https://me.github.io/mirror/".',
        )
    options: dict[str, Any] = {}
    for key, (kind_of, default) in own.items():
        value = raw.get(key, default)
        if value is _ABSENT:
            continue
        if default is None and not value:  # a required key
            raise _fail(
                config, f"{where}.{key}", "is missing", f'A {kind} target needs {key} = "…".'
            )
        if kind_of == "path":
            folder = Path(value).expanduser()
            value = folder if folder.is_absolute() else config.parent / folder
            if config.parent.resolve().is_relative_to(value.resolve()):
                raise _fail(
                    config,
                    f"{where}.{key}",
                    f"{value} holds the config file and the archive beside it",
                    'Give the target its own folder, e.g. path = "www" (it would publish '
                    "or overwrite what is there).",
                )
            for name, out in outputs.items():
                if out is not None and _overlaps(value, out):
                    raise _fail(
                        config,
                        f"{where}.{key}",
                        f"overlaps the {name} output {out}",
                        "Give the target its own folder, outside the outputs.",
                    )
        if kind_of == "strings" and any(v.startswith("-") or not v.strip() for v in value):
            raise _fail(
                config,
                f"{where}.{key}",
                "holds an empty name or one starting with '-'",
                'Give git URLs such as "git@github.com:me/mirror.git" or a path.',
            )
        if key == "remotes" and any(_TRANSPORT_HELPER.match(v) for v in value):
            raise _fail(
                config,
                f"{where}.remotes",
                "names a git transport helper (`name::address`), which may run commands",
                "Use an https://, ssh:// or git@host:path URL, or a local path.",
            )
        if key == "branch" and not _branch_ok(value):
            raise _fail(
                config,
                f"{where}.branch",
                f"is not a usable branch name: {value!r}",
                'For example branch = "main" or "gh-pages".',
            )
        options[key] = list(value) if isinstance(value, list) else value
    if kind == "s3":
        _check_s3(config, where, options)
    name = raw.get("name") or f"{kind}{index}"
    return TargetConfig(kind=kind, output=output, name=name, public_url=public_url, options=options)


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc
    except ValueError:  # e.g. "https://[x": refused as not an address
        return ""


def _check_s3(config: Path, where: str, options: dict[str, Any]) -> None:
    """The s3 target's own checks of its keys (boto3 is not imported for them)."""
    try:
        from newsmirror.publish.targets.s3 import check_options
    except ImportError:  # pragma: no cover - the module ships with the package
        return
    try:
        check_options(options)
    except PublishError as exc:
        raise _fail(config, where, exc.message, exc.hint) from exc


def _branch_ok(name: str) -> bool:
    """A conservative check of a git branch name (git check-ref-format allows more)."""
    parts = name.split("/")
    return (
        bool(name)
        and not name.startswith("-")
        and all(p and not p.startswith(".") and not p.endswith(".lock") for p in parts)
        and not any(ch in name for ch in " ~^:?*[\\")
        and ".." not in name
        and "@{" not in name
        and not name.endswith(".")
    )


def parse_targets(
    config: Path, raw: Any, outputs: dict[str, Path | None]
) -> tuple[TargetConfig, ...]:
    """The ``[[publish.targets]]`` array; ``outputs`` maps "site"/"jekyll" to their folder
    (None when not configured). ConfigError naming ``publish.targets[i].key``."""
    if not isinstance(raw, list):
        raise _fail(
            config,
            "targets",
            "must be an array of tables",
            'Write each target as [[publish.targets]] with kind = "…".',
        )
    targets = tuple(_target(config, i, item, outputs) for i, item in enumerate(raw))
    names = [t.name for t in targets]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _fail(
                config,
                f"targets[{i}].name",
                f"{name!r} is used by another target",
                "Give each target its own name.",
            )
    for i, target in enumerate(targets):
        path = target.options.get("path")
        for j, other in enumerate(targets[:i]):
            if (
                path is not None
                and other.options.get("path") is not None
                and _overlaps(path, other.options["path"])
            ):
                raise _fail(
                    config,
                    f"targets[{i}].path",
                    f"overlaps targets[{j}]'s folder",
                    "Give each target its own folder.",
                )
    return targets
