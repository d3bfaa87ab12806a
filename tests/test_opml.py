"""OPML subscription lists: `init --from-opml` and `sources --opml` (issue 8)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from newsmirror.config import Source, load_config
from newsmirror.opml import read_opml, write_opml
from test_cli import nm

SOURCES = [
    Source(name='大纪元 & "评论" <新>', feeds=("https://e.org/a.xml?x=1&y=2", "https://e.org/b")),
    Source(name="BBC 中文", feeds=("https://feeds.bbci.co.uk/zhongwen/simp/rss.xml",)),
]


def test_a_written_list_reads_back_as_the_same_sources():
    text = write_opml(SOURCES)
    assert read_opml(text.encode(), "x.opml") == [(s.name, list(s.feeds)) for s in SOURCES]


names = st.text(st.sampled_from("<>&\"'=/ab中文Ωé;#"), min_size=1, max_size=12).filter(
    lambda n: n.strip() and n == " ".join(n.split())
)
paths = st.text(st.sampled_from("abc/?&=;%中 #'\""), max_size=12)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(names, st.lists(paths, min_size=1, max_size=3)), min_size=1, max_size=4))
def test_any_sources_round_trip(raw):
    # (A feed URL listed under two sources is read once: listparser keeps one outline
    # per URL. Each source here has its own host.)
    sources, seen = [], set()
    for n, (name, tails) in enumerate(raw):
        if name in seen:
            continue
        seen.add(name)
        feeds = tuple(dict.fromkeys(f"https://e{n}.org/{t.replace(' ', '%20')}" for t in tails))
        sources.append(Source(name=name, feeds=feeds))
    back = read_opml(write_opml(sources).encode(), "x.opml")
    assert back == [(s.name, list(s.feeds)) for s in sources]


OPML = """<?xml version="1.0" encoding="utf-8"?>
<opml version="1.0"><head><title>Reader</title></head><body>
<outline text="新闻"><outline text="美国之音" xmlUrl="https://www.voachinese.com/api/a.xml"/>
<outline text="美国之音" xmlUrl="https://www.voachinese.com/api/b.xml"/></outline>
<outline text="" xmlUrl="https://feeds.example.org/rss"/>
</body></opml>
"""


def test_init_from_opml_then_sources_opml_reads_back(tmp_path):
    (tmp_path / "subs.opml").write_text(OPML, encoding="utf-8")
    nm("init", tmp_path / "m", "--from-opml", tmp_path / "subs.opml")
    config = load_config(tmp_path / "m/newsmirror.toml")
    assert [(s.name, len(s.feeds)) for s in config.sources] == [
        ("美国之音", 2),
        ("feeds.example.org", 1),  # no title: the host names it
    ]
    out = nm("sources", "--opml", cwd=tmp_path / "m").stdout
    assert read_opml(out.encode(), "out") == [(s.name, list(s.feeds)) for s in config.sources]


def test_a_bad_list_is_a_clear_error(tmp_path):
    (tmp_path / "broken.opml").write_text("<opml><body>not closed", encoding="utf-8")
    broken = nm("init", tmp_path / "a", "--from-opml", tmp_path / "broken.opml", check=False)
    assert broken.returncode == 3 and "no feeds found" in broken.stderr
    (tmp_path / "ftp.opml").write_text(
        '<opml><body><outline text="x" xmlUrl="ftp://e.org/feed"/></body></opml>', "utf-8"
    )
    ftp = nm("init", tmp_path / "b", "--from-opml", tmp_path / "ftp.opml", check=False)
    assert ftp.returncode == 3 and "outline[0].xmlUrl" in ftp.stderr
    assert "Traceback" not in broken.stderr + ftp.stderr
