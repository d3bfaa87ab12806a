"""`newsmirror run`: fetch, then every output [publish] names, in one command (issue 8/12)."""

from __future__ import annotations

import json

from conftest import ARTICLE_TEXT, Reply, rss
from newsmirror.config import parse_config
from newsmirror.errors import ConfigError
from test_cli import nm, snapshot

ITEMS = [
    {"title": f"新闻{i}", "link": f"https://e.org/{i}", "content": f"<p>{ARTICLE_TEXT}</p>"}
    for i in range(3)
]


def _config(tmp_path, feeds: list[str], publish: str) -> None:
    lines = ["[fetch]", "retries = 0", "[media]", 'mode = "hotlink"', publish]
    for i, url in enumerate(feeds):
        lines += ["[[sources]]", f'name = "源{i}"', f'feeds = ["{url}"]', 'full_text = "feed"']
    (tmp_path / "newsmirror.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


PUBLISH_BOTH = """
[publish.jekyll]
path = "jekyll"
layouts = true
[publish.site]
path = "public"
search = false
base_url = "https://mirror.example.org/news"
"""


def test_run_fetches_and_writes_both_outputs_then_an_idle_run_writes_nothing(tmp_path, server):
    server.route("/feed", Reply(body=rss(ITEMS)))
    _config(tmp_path, [server.url + "/feed"], PUBLISH_BOTH)
    first = nm("run", cwd=tmp_path)
    assert "3 new" in first.stdout
    assert len(list((tmp_path / "jekyll/_posts").iterdir())) == 3
    assert (tmp_path / "jekyll/_config.yml").is_file()  # layouts = true
    assert "新闻2" in (tmp_path / "public/index.html").read_text(encoding="utf-8")
    sitemap = (tmp_path / "public/sitemap.xml").read_text(encoding="utf-8")
    assert "https://mirror.example.org/news/" in sitemap  # base_url gained its slash
    before = snapshot(tmp_path / "jekyll") | snapshot(tmp_path / "public")
    again = nm("run", "--json", cwd=tmp_path)
    report = json.loads(again.stdout)
    assert report["exit_code"] == 0 and report["new"] == 0
    assert [o["kind"] for o in report["outputs"]] == ["jekyll", "site"]
    assert all(o["error"] is None for o in report["outputs"])
    assert snapshot(tmp_path / "jekyll") | snapshot(tmp_path / "public") == before


def test_a_failing_output_is_reported_and_the_others_still_written(tmp_path, server):
    server.route("/feed", Reply(body=rss(ITEMS)))
    _config(tmp_path, [server.url + "/feed"], PUBLISH_BOTH)
    (tmp_path / "jekyll").write_text("a file where the folder should be", encoding="utf-8")
    result = nm("run", "--json", cwd=tmp_path, check=False)
    assert result.returncode == 5
    report = json.loads(result.stdout)
    jekyll, site = report["outputs"]
    assert jekyll["error"] and "jekyll" in jekyll["error"] and site["error"] is None
    assert (tmp_path / "public/index.html").is_file()
    assert report["new"] == 3  # the archive kept what was fetched
    plain = nm("run", cwd=tmp_path, check=False)
    assert plain.returncode == 5 and "FAILED" in plain.stdout


def test_a_failing_source_gives_exit_1_and_its_reason(tmp_path, server):
    server.route("/feed", Reply(body=rss(ITEMS)))
    server.route("/gone", Reply(410, b"gone"))
    _config(tmp_path, [server.url + "/feed", server.url + "/gone"], PUBLISH_BOTH)
    result = nm("run", cwd=tmp_path, check=False)
    assert result.returncode == 1
    assert "源1" in result.stderr and "HTTP 410" in result.stderr
    assert len(list((tmp_path / "jekyll/_posts").iterdir())) == 3


def test_run_without_outputs_says_so(tmp_path, server):
    server.route("/feed", Reply(body=rss(ITEMS)))
    _config(tmp_path, [server.url + "/feed"], "")
    result = nm("run", cwd=tmp_path)
    assert "[publish] names no output" in result.stderr and "3 new" in result.stdout


def test_publish_config_errors_name_the_key(tmp_path):
    cases = {
        "[publish.site]\npath = 'p'\nsearh = false\n": "publish.site.searh",
        "[publish.site]\ntitle = 't'\n": "publish.site.path",
        "[publish.site]\npath = 'p'\nsearch = 'yes'\n": "publish.site.search",
        "[publish.site]\npath = 'p'\nbase_url = 'example.org'\n": "publish.site.base_url",
        "[publish.jekyll]\npath = 'p'\n[publish.site]\npath = 'p'\n": "publish.jekyll.path",
        "[publish.ftp]\npath = 'p'\n": "publish.ftp",
        "[publish]\nsite = 'public'\n": "publish.site",
        "publish = 3\n": "publish",
    }
    for text, key in cases.items():
        try:
            parse_config(text, tmp_path / "newsmirror.toml")
        except ConfigError as exc:
            assert exc.key == key, (text, exc.key, exc.message)
        else:
            raise AssertionError(f"accepted: {text!r}")
    config = parse_config(
        "[publish.jekyll]\npath = '../out/树'\n", tmp_path / "sub" / "newsmirror.toml"
    )
    assert config.publish.jekyll.path == tmp_path / "sub" / "../out/树"
    assert config.publish.site is None


def test_each_run_is_recorded_in_the_archive(tmp_path, server):
    from newsmirror.store import Archive

    server.route("/feed", Reply(body=rss(ITEMS)))
    server.route("/gone", Reply(410, b"gone"))
    _config(tmp_path, [server.url + "/feed", server.url + "/gone"], PUBLISH_BOTH)
    first = json.loads(nm("run", "--json", cwd=tmp_path, check=False).stdout)
    nm("run", cwd=tmp_path, check=False)
    with Archive.open(tmp_path / "archive.sqlite") as archive:
        runs = archive.recent_runs()
        [report] = archive.conn.execute("SELECT report FROM runs ORDER BY id LIMIT 1").fetchone()
    assert [(r.exit_code, r.new, r.failures) for r in runs] == [(1, 0, 1), (1, 3, 1)]
    assert runs[1].started == first["started"] and runs[1].finished == first["finished"]
    assert json.loads(report) == first


def test_without_a_terminal_each_event_is_one_plain_line(tmp_path, server):
    from newsmirror.demo.assets import png

    image = f"{server.url}/img/a.png"
    server.route("/img/a.png", Reply(body=png(), headers={"Content-Type": "image/png"}))
    items = [{**item, "content": f'{item["content"]}<img src="{image}">'} for item in ITEMS]
    server.route("/feed", Reply(body=rss(items)))
    server.route("/gone", Reply(410, b"gone"))
    _config(tmp_path, [server.url + "/feed", server.url + "/gone"], PUBLISH_BOTH)
    config = tmp_path / "newsmirror.toml"
    config.write_text(config.read_text("utf-8").replace("hotlink", "mirror"), "utf-8")
    result = nm("run", "--max-minutes", "5", cwd=tmp_path, check=False)
    assert result.returncode == 1  # the dead feed
    lines = result.stderr.splitlines()
    feeds = sorted(line for line in lines if line.startswith("feed "))
    assert len(feeds) == 2
    assert any(line.endswith(f"源0: ok {server.url}/feed") for line in feeds)
    assert any(line.endswith(f"源1: failed {server.url}/gone") for line in feeds)
    assert {line.split()[1] for line in feeds} == {"1/2", "2/2"}
    assert [line for line in lines if line.startswith("image ")] == [f"image 1 {image}: mirrored"]
    outputs = [line for line in lines if line.startswith("output ")]
    assert [line.split()[:3] for line in outputs] == [
        ["output", "1", "jekyll"],
        ["output", "2", "site"],
    ]
    assert "3 posts: 3 written" in outputs[0]


def test_max_minutes_must_be_positive(tmp_path, server):
    server.route("/feed", Reply(body=rss(ITEMS)))
    _config(tmp_path, [server.url + "/feed"], PUBLISH_BOTH)
    for bad in ("0", "nan", "inf", "-1"):
        result = nm("run", "--max-minutes", bad, cwd=tmp_path, check=False)
        assert result.returncode == 2 and "--max-minutes" in result.stderr, bad


def test_the_targets_public_addresses_are_on_the_sites_mirrors_page(tmp_path, server):
    server.route("/feed", Reply(body=rss(ITEMS)))
    targets = """
[[publish.targets]]
kind = "folder"
output = "site"
name = "网站"
path = "www"
public_url = "https://news.example.org/"
"""
    _config(tmp_path, [server.url + "/feed"], PUBLISH_BOTH + targets)
    result = nm("run", cwd=tmp_path)
    assert [line for line in result.stderr.splitlines() if line.startswith("target ")] == [
        "target 1 网站: " + result.stdout.split("target 网站 (folder, site): ")[1].splitlines()[0]
    ]
    page = (tmp_path / "public/mirrors.html").read_text(encoding="utf-8")
    assert 'href="https://news.example.org/"' in page and "网站" in page
    assert (tmp_path / "www/mirrors.html").read_bytes() == page.encode("utf-8")
