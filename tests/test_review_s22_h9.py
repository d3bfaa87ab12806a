"""Hostile review H9 (session 22): `serve`, OPML, the mirrors page and `init --ci`,
attacked with real parts (HTTP on 127.0.0.1, files, a shell, actionlint, PyYAML)."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import html5lib
import pytest
import yaml

from newsmirror.config import load_config
from newsmirror.demo.server import _Handler, _Server
from newsmirror.publish.site import SiteOptions, build_site
from newsmirror.schedule import systemd_quote
from newsmirror.store import Archive
from test_cli import nm
from test_schedule import actionlint

# The workflow installs this (a checkout here has no web remote to install from).
SPEC = "newsmirror @ git+https://github.com/example/newsmirror@v0.1.0"
INSTALL = ["--install", SPEC]

# -- serve ------------------------------------------------------------------------------


@contextmanager
def served(site: Path) -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), partial(_Handler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def raw_get(port: int, target: bytes, method: bytes = b"GET") -> tuple[bytes, bytes]:
    """The status line and headers, and the body, of one request sent byte for byte."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def small_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>home</p>", encoding="utf-8")
    (site / "404.html").write_text("<title>找不到</title>", encoding="utf-8")
    return site


@pytest.mark.parametrize(
    "target",
    [b"/%ed%a0%80", b"/a%ed%b0%80.html", b"/" + b"a" * 300, b"/a" * 3000, b"/x/" + b"b" * 256],
)
def test_serve_answers_odd_paths_with_the_sites_404_not_a_dropped_connection(tmp_path, target):
    # An encoded lone surrogate or a name longer than the file system allows raised
    # inside the handler: the browser got no answer and the terminal a traceback.
    with served(small_site(tmp_path)) as port:
        head, body = raw_get(port, target)
    assert head.startswith(b"HTTP/1.0 404"), head
    assert "找不到" in body.decode("utf-8")


def test_a_404_tells_nothing_about_a_file_outside_the_site(tmp_path):
    site = small_site(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET" * 1000, encoding="utf-8")
    (site / "leak.txt").symlink_to(secret)
    with served(site) as port:
        for target in (b"/leak.txt", b"/index.html/"):
            head, _ = raw_get(port, target)
            assert head.startswith(b"HTTP/1.0 404"), head
            # The ETag (mtime and size of the file behind the link) is not sent.
            assert b"etag" not in head.lower(), (target, head)
        head, _ = raw_get(port, b"/index.html")
        assert head.startswith(b"HTTP/1.0 200") and b"etag" in head.lower()


def test_a_404_page_that_links_out_of_the_site_is_not_served(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>home</p>", encoding="utf-8")
    (tmp_path / "secret.html").write_text("<p>SECRET</p>", encoding="utf-8")
    (site / "404.html").symlink_to(tmp_path / "secret.html")
    with served(site) as port:
        head, body = raw_get(port, b"/nope.html")
    assert head.startswith(b"HTTP/1.0 404") and b"SECRET" not in body


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_in_the_site_is_missing_not_a_hung_request(tmp_path):
    site = small_site(tmp_path)
    os.mkfifo(site / "pipe.html")
    with served(site) as port:
        head, body = raw_get(port, b"/pipe.html")  # times out (5 s) if it opens the pipe
    assert head.startswith(b"HTTP/1.0 404") and "找不到" in body.decode("utf-8")


# -- OPML -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "declared"),
    [("gbk", "gbk"), ("gb18030", "gb2312"), ("big5", "big5"), ("gbk", None)],
)
def test_an_opml_file_in_gbk_or_big5_gives_the_right_names(tmp_path, codec, declared):
    names = ["美国之音 中文", "自由亞洲電台", "纽约时报"] if codec != "big5" else ["自由亞洲電台"]
    prolog = f'<?xml version="1.0" encoding="{declared}"?>' if declared else '<?xml version="1.0"?>'
    outlines = "".join(
        f'<outline text="{n}" xmlUrl="https://e{i}.org/feed"/>' for i, n in enumerate(names)
    )
    text = f'{prolog}\n<opml version="2.0"><head><title>新聞</title></head>'
    text += f"<body>{outlines}</body></opml>"
    (tmp_path / "subs.opml").write_bytes(text.encode(codec))
    nm("init", tmp_path / "m", "--from-opml", tmp_path / "subs.opml")
    config = load_config(tmp_path / "m/newsmirror.toml")
    assert [s.name for s in config.sources] == names


# -- the mirrors page -----------------------------------------------------------------


def code_blocks(html: str) -> list[str]:
    doc = html5lib.parse(html, namespaceHTMLElements=False)
    return ["".join(pre.itertext()) for pre in doc.iter("pre")]


def test_commands_on_the_mirrors_page_give_the_shell_the_mirrors_address(tmp_path):
    """A reader copies `wget ... URL` or `git clone URL` into a shell: an address with
    `&`, `;` or `$(...)` must reach the program whole, not run anything else."""
    urls = [
        "https://m.example/mirror/?lang=zh&page=1",
        "https://git.example.org/team/mirror.git?x=1;touch${IFS}pwned",
        "https://git.example.org/$(touch${IFS}pwned)/mirror.git",
    ]
    mirrors = tuple((f"m{i}", url) for i, url in enumerate(urls))
    with Archive.open(tmp_path / "a.sqlite") as archive:
        build_site(archive, tmp_path / "site", SiteOptions(search=False, mirrors=mirrors))
    blocks = code_blocks((tmp_path / "site/mirrors.html").read_text(encoding="utf-8"))
    commands = [b for b in blocks if b.startswith(("git clone ", "wget "))]
    assert len(commands) == 3  # two git repositories and wget
    for command in commands:
        program = command.split(" ", 1)[0]
        # The shell itself reads the command (the program swapped for printf).
        shown = subprocess.run(
            ["bash", "-c", "printf '%s\\n' " + command.split(" ", 1)[1]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=10,
        )
        expected = urls[0] if program == "wget" else None
        last = shown.stdout.splitlines()[-1] if shown.stdout else ""
        assert last in urls and (expected is None or last == expected), (command, shown)
        assert not (tmp_path / "pwned").exists(), command


# -- init --ci --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "folder", ["[pub]", "*pub", "pub*", "!pub", "&a pub", "? pub", "> pub", "@pub", "pub|x"]
)
def test_a_site_folder_that_yaml_or_a_glob_would_misread_is_refused(tmp_path, folder):
    """Either the workflow names exactly the folders of the config, or init refuses with
    one line: a YAML anchor (`&a pub` became `pub`), a flow list (`[pub]`) or a glob in
    the cache's paths (`pub*`, `!pub`: the archive never saved) is neither."""
    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "newsmirror.toml").write_text(
        f'[archive]\npath = "{folder}/a.sqlite"\n[publish.site]\npath = "{folder}"\n', "utf-8"
    )
    result = nm("init", mirror, "--ci", "github", *INSTALL, check=False)
    path = mirror / ".github/workflows/newsmirror.yml"
    if result.returncode == 0:
        steps = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]["mirror"]["steps"]
        assert steps[-1]["with"]["path"] == folder
        cache = next(s for s in steps if "cache" in s.get("uses", ""))["with"]["path"]
        assert cache.split() == [f"{folder}/a.sqlite", f"{folder}/media"]
        assert not any(ch in folder for ch in "*?[]!")
        assert actionlint(path) == []
    else:
        assert result.returncode == 3 and "not usable in the workflow" in result.stderr
        assert "Traceback" not in result.stderr and not path.exists()


def test_a_chinese_site_folder_with_spaces_still_gets_a_working_workflow(tmp_path):
    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "newsmirror.toml").write_text(
        '[archive]\npath = "数据/a.sqlite"\n[publish.site]\npath = "新闻 镜像"\n', "utf-8"
    )
    nm("init", mirror, "--ci", "github", *INSTALL)
    path = mirror / ".github/workflows/newsmirror.yml"
    steps = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]["mirror"]["steps"]
    assert steps[-1]["with"]["path"] == "新闻 镜像"
    assert actionlint(path) == []


@pytest.mark.parametrize("arg", ["/srv/a$HOME/python", "/srv/${PATH}/py", "$$", "a$"])
def test_a_dollar_in_the_program_path_reaches_systemd_as_a_dollar(arg):
    # systemd expands $NAME and ${NAME} in ExecStart= arguments; "$$" is a literal "$".
    quoted = systemd_quote(arg)
    unescaped = quoted.replace("%%", "%")
    assert "$" not in unescaped.replace("$$", "")
    assert shlex.split(unescaped.replace("$$", "$")) == [arg]


def test_a_silent_connection_is_closed_not_held(tmp_path, monkeypatch):
    """A client that connects to `serve` and sends nothing is cut off after the handler's
    timeout, instead of holding one of the server's threads for ever."""
    import socket
    import time

    from newsmirror.demo import server as server_module

    shipped = server_module._Handler.timeout  # None: wait for ever
    assert shipped is not None and 0 < shipped <= 60
    monkeypatch.setattr(server_module._Handler, "timeout", 1.0)  # the same, sooner
    (tmp_path / "index.html").write_text("<p>home</p>", encoding="utf-8")
    with server_module.serve_folder(tmp_path) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as silent:
            started = time.monotonic()
            assert silent.recv(1) == b""  # closed by the server
            assert time.monotonic() - started < 5
