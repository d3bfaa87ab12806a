"""A Jekyll post's front matter, read as the old mirrors' writers meant it: YAML with
bounds (an alias bomb or deep nesting is refused before anything is built, a date no
calendar has stays text), and line by line where they left invalid YAML (``[a, b]``
lists, quotes where only ``\\"`` was escaped)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from newsmirror.errors import ImportFormatError

MAX_ALIASES = 16  # YAML alias uses in one front matter (the old writers used none)
MAX_DEPTH = 64  # nesting of YAML collections
MAX_EXPANDED = 1_000_000  # characters of the front matter once aliases are expanded
_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*):\s?(.*)$")


class FrontMatterError(ImportFormatError):
    """Front matter refused: YAML aliases or nesting beyond the bounds (alias bombs)."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses alias bombs and deep nesting before building anything."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise FrontMatterError(f"front matter uses more than {MAX_ALIASES} YAML aliases")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise FrontMatterError(f"front matter nests deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node: Any) -> Any:
        _expanded_size(node, {}, set())
        return super().construct_document(node)


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """A timestamp, or its text when no calendar has it (2024-13-45)."""
    try:
        return loader.construct_yaml_timestamp(node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def _expanded_size(node: Any, sizes: dict[int, int], begun: set[int]) -> int:
    """Characters of ``node`` with every alias expanded; refuses cycles and large totals.
    ``begun``: nodes whose size was asked for (a begun node not yet in ``sizes`` is still
    open: an alias to it is a cycle). (Recursion depth is bounded by MAX_DEPTH: an alias
    only names an earlier node.)"""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in begun:
        raise FrontMatterError("front matter has a YAML alias that refers to itself")
    begun.add(key)
    if isinstance(node, yaml.ScalarNode):
        size = 1 + len(node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(
            _expanded_size(k, sizes, begun) + _expanded_size(v, sizes, begun) for k, v in node.value
        )
    else:
        size = 1 + sum(_expanded_size(child, sizes, begun) for child in node.value)
    if size > MAX_EXPANDED:
        raise FrontMatterError(
            f"front matter expands YAML aliases beyond {MAX_EXPANDED:,} characters"
        )
    sizes[key] = size
    return size


def _lenient_scalar(value: str) -> Any:
    """A value as the old writer meant it: ``[a, b]`` lists, quotes where only ``\\"`` was
    escaped (it never escaped a backslash: ``"語文水平\\智力"`` keeps it)."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return [_unquote(v.strip()) for v in value[1:-1].split(",") if v.strip()]
    return _unquote(value)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return inner.replace('\\"', '"') if value[0] == '"' else inner
    return value


def parse_front_matter(text: str) -> dict[str, Any]:
    """YAML front matter; line by line where the old writer left invalid YAML.

    Raises only :class:`FrontMatterError` (an ImportFormatError): for aliases or nesting
    beyond the bounds. Anything else the YAML reader rejects is read line by line.
    """
    return front_matter(text)[0]


def front_matter(text: str) -> tuple[dict[str, Any], bool]:
    """(front matter, whether it was valid YAML) as :func:`parse_front_matter` reads it."""
    try:
        data = yaml.load(text, Loader=_BoundedLoader)
        if isinstance(data, dict):
            return data, True
    except FrontMatterError:
        raise
    except RecursionError as exc:
        raise FrontMatterError("front matter nests too deeply") from exc
    except Exception:  # any other YAML failure: the old writer's invalid YAML, read by line
        pass
    data = {}
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        if match:
            data[match.group(1)] = _lenient_scalar(match.group(2))
    return data, False
