"""OPML exactly as written and read: the whole written text, escaping, the errors a user
sees (message, hint, exit code) and a GBK list (mutation survivors of newsmirror.opml)."""

from __future__ import annotations

import pytest

from newsmirror.config import Source
from newsmirror.errors import ConfigError
from newsmirror.opml import read_opml, write_opml
from test_cli import nm

EXPECTED = """<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0">
  <head><title>newsmirror</title></head>
  <body>
    <outline type="rss" text='A &amp; &lt;B&gt; "C"' title='A &amp; &lt;B&gt; "C"' xmlUrl="https://e.org/a?x=1&amp;y=2"/>
    <outline type="rss" text='A &amp; &lt;B&gt; "C"' title='A &amp; &lt;B&gt; "C"' xmlUrl="https://e.org/b"/>
    <outline type="rss" text="中文" title="中文" xmlUrl="https://f.org/rss"/>
  </body>
</opml>
"""

SOURCES = [
    Source(name='A & <B> "C"\x1b', feeds=("https://e.org/a?x=1&y=2", "https://e.org/b")),
    Source(name="中\x00文", feeds=("https://f.org/rss",)),
]


def test_the_written_list_is_exactly_this_text():
    # Characters XML forbids (a TOML config may hold \u001b) are dropped, not replaced.
    assert write_opml(SOURCES) == EXPECTED


def test_the_title_is_escaped_as_xml_text():
    text = write_opml([], title='R&D <news> "x"\x07>')
    assert text.splitlines()[2] == '  <head><title>R&amp;D &lt;news&gt; "x"&gt;</title></head>'
    assert text.endswith("  <body>\n  </body>\n</opml>\n")


def test_a_list_without_feeds_is_a_config_error_with_the_path_and_hint():
    with pytest.raises(ConfigError) as error:
        read_opml(b"<opml><body>not closed", "subs.opml")
    assert str(error.value) == "subs.opml: no feeds found in the OPML file"
    assert error.value.hint == "Export the subscription list (OPML) from your feed reader."
    assert error.value.exit_code == 3


def test_a_bad_feed_url_names_the_file_and_the_outline():
    data = b'<opml><body><outline text="x" xmlUrl="https://e.org/"/><outline text="y" xmlUrl="ftp://e.org/f"/></body></opml>'
    with pytest.raises(ConfigError) as error:
        read_opml(data, "subs.opml")
    assert str(error.value).startswith("subs.opml: [outline[1].xmlUrl] not a usable http(s) URL")
    assert error.value.hint == "Feed URLs look like https://example.com/feed.xml"


def test_the_cli_shows_the_error_and_hint_and_exits_3(tmp_path):
    (tmp_path / "subs.opml").write_text("<opml><body></body></opml>", encoding="utf-8")
    result = nm("init", tmp_path / "m", "--from-opml", tmp_path / "subs.opml", check=False)
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'subs.opml'}: no feeds found in the OPML file",
        "hint: Export the subscription list (OPML) from your feed reader.",
    ]
    assert not (tmp_path / "m").exists()  # nothing made for a list that gave nothing


def test_an_outline_without_a_title_is_named_after_its_host():
    data = b'<opml><body><outline xmlUrl="https://feeds.example.org/rss"/><outline text=" " xmlUrl="https://b.example.org/x"/></body></opml>'
    assert read_opml(data, "x.opml") == [
        ("feeds.example.org", ["https://feeds.example.org/rss"]),
        ("b.example.org", ["https://b.example.org/x"]),
    ]


def test_a_gbk_list_is_read_in_its_own_encoding():
    text = '<?xml version="1.0" encoding="gbk"?>\n<opml version="1.0"><body><outline text="美国之音 中文新闻" xmlUrl="https://www.voachinese.com/api/a.xml"/></body></opml>'  # noqa: E501
    assert read_opml(text.encode("gbk"), "x.opml") == [
        ("美国之音 中文新闻", ["https://www.voachinese.com/api/a.xml"])
    ]


def test_a_utf7_list_with_a_broken_character_is_read_with_a_replacement():
    # "+2D0-" decodes to half of a surrogate pair, which UTF-8 cannot hold: "?" stands in.
    data = b'<?xml version="1.0" encoding="utf-7"?><opml><body><outline text="a+2D0-b +ToJW9w-" xmlUrl="https://e.org/f"/></body></opml>'
    assert read_opml(data, "x.opml") == [("a?b 亂囷", ["https://e.org/f"])]
