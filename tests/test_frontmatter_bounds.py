"""Front matter bounds exactly at their limits, and the old writers' invalid YAML read line
by line (mutation survivors of newsmirror.frontmatter)."""

from __future__ import annotations

import pytest

from newsmirror.frontmatter import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_EXPANDED,
    FrontMatterError,
    front_matter,
)


def _nested(lists: int, sibling: bool = False) -> str:
    """``a:`` holding ``lists`` nested flow lists (a node each, with the document's mapping,
    its key and the innermost scalar: lists + 2 nodes deep); ``sibling``: the outermost
    list first holds a finished ``[y]`` (the count must come back down after it)."""
    if sibling:
        return "a: [[y], " + "[" * (lists - 1) + "x" + "]" * (lists - 1) + "]"
    return "a: " + "[" * lists + "x" + "]" * lists


@pytest.mark.parametrize("sibling", [False, True])
def test_nesting_exactly_at_the_bound_is_read_and_one_more_is_refused(sibling):
    data, valid = front_matter(_nested(MAX_DEPTH - 2, sibling))
    assert valid and isinstance(data["a"], list)
    with pytest.raises(FrontMatterError) as refused:
        front_matter(_nested(MAX_DEPTH - 1, sibling))
    assert str(refused.value) == "front matter nests deeper than 64 levels"


def _aliases(count: int) -> str:
    return "base: &b x\nuses: [" + ", ".join(["*b"] * count) + "]"


def test_aliases_exactly_at_the_bound_are_read_and_one_more_is_refused():
    data, valid = front_matter(_aliases(MAX_ALIASES))
    assert valid and data["uses"] == ["x"] * 16
    with pytest.raises(FrontMatterError) as refused:
        front_matter(_aliases(MAX_ALIASES + 1))
    assert str(refused.value) == "front matter uses more than 16 YAML aliases"


def _expanding(key_length: int) -> str:
    """Characters once expanded (1 per node plus each scalar's length): the mapping 1, the
    key 1 + key_length, the anchored scalar 1 + L, "b" 2, the list 1 and 15 aliases
    15 * (1 + L): 21 + key_length + 16 L."""
    scalar = "s" * 62498
    return f"{'k' * key_length}: &s {scalar}\nb: [" + ", ".join(["*s"] * 15) + "]"


def test_alias_expansion_exactly_at_the_bound_is_read_and_one_more_is_refused():
    assert MAX_EXPANDED == 21 + 11 + 16 * 62498
    data, valid = front_matter(_expanding(11))
    assert valid and len(data["b"]) == 15 and data["b"][0] == "s" * 62498
    with pytest.raises(FrontMatterError) as refused:
        front_matter(_expanding(12))
    assert str(refused.value) == "front matter expands YAML aliases beyond 1,000,000 characters"


def test_an_alias_to_its_own_collection_is_refused_with_a_clear_message():
    with pytest.raises(FrontMatterError) as refused:
        front_matter("x: &a [1, *a]")
    assert str(refused.value) == "front matter has a YAML alias that refers to itself"


# The old writer's invalid YAML (an unescaped quote inside a double-quoted title), read line
# by line: [a, b] lists, matching outer quotes removed, anything else kept as written.
INVALID = "\n".join(
    [
        'title: "a "b" c"',
        "tags: [x, \"y\", 'z']",
        "note: [draft",
        "end: x]",
        'open: "abc',
        "empty:",
        'quotes: ""',
        'one: "',
        "single: 'a \\\"b'",
        'double: "c \\"d\\""',
        "letters: XabcX",
        "none: []",
    ]
)


def test_invalid_yaml_is_read_line_by_line_as_the_old_writer_meant_it():
    data, valid = front_matter(INVALID)
    assert not valid
    assert data == {
        "title": 'a "b" c',
        "tags": ["x", "y", "z"],
        "note": "[draft",
        "end": "x]",
        "open": '"abc',
        "empty": "",
        "quotes": "",
        "one": '"',
        "single": 'a \\"b',  # only a double-quoted value had its \" escaped
        "double": 'c "d"',
        "letters": "XabcX",
        "none": [],
    }


def test_invalid_yaml_keeps_keys_with_hyphens():
    # F6: read line by line, a key such as "redirect-from" is kept
    data, valid = front_matter('title: "say "hi" now"\nredirect-from: /posts/a.html\n')
    assert not valid
    assert data == {"title": 'say "hi" now', "redirect-from": "/posts/a.html"}
