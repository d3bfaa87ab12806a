"""Bad config, damaged or foreign archives, unwritable outputs: each is one `error:` line
with a `hint:`, the documented exit code, no traceback, and nothing changed on disk.

Most cases run the real command line in this process (click's runner, real files);
the ones that need a separate process (a full disk, NEWSMIRROR_CONFIG) use `nm`.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from conftest import SEED, Reply, article_page, rss
from newsmirror.cli import cli
from newsmirror.store import Archive
from newsmirror.store.archive import APPLICATION_ID
from test_cli import SEED_NAME, assert_clean_error, nm, snapshot


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def run(*args, cwd, env=None) -> Run:
    """The command line in this process, in ``cwd``; an exception that escapes is a bug."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, [str(a) for a in args], env=env)
    finally:
        os.chdir(old)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def write_config(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "newsmirror.toml").write_text(text, encoding="utf-8")


def one_source(url):
    """One source; its items' pages are never fetched (their links are not local)."""
    return f'[[sources]]\nname = "x"\nfeeds = ["{url}"]\nfull_text = "feed"\n'


# -- configuration: exit 3, no archive created --------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (one_source("http://[::1/feed"), "Invalid IPv6 URL"),
        (one_source("http://127.0.0.1:99999/feed"), "out of range"),
        (one_source("http://exa mple.org/feed"), "sources[0].feeds"),
        ("[fetch]\nread_timeout = nan\n" + one_source("http://e.org/f"), "finite"),
        ("[fetch]\nread_timeout = inf\n" + one_source("http://e.org/f"), "finite"),
        ("[fetch]\nconnect_timeout = -inf\n" + one_source("http://e.org/f"), "connect_timeout"),
        ("", "no sources configured"),
        ('[archive]\npath = "a.sqlite"\n[fetch]\nretries = 0\n', "no sources configured"),
    ],
)
def test_config_errors_exit_3_and_create_nothing(tmp_path, text, needle):
    write_config(tmp_path, text)
    before = snapshot(tmp_path)
    result = run("fetch", cwd=tmp_path)
    assert_clean_error(result, 3, needle, "newsmirror.toml")
    assert snapshot(tmp_path) == before  # no archive, no lock file, nothing else


def test_empty_config_creates_no_archive_anywhere(tmp_path):
    """`-c` names an empty file elsewhere: the run stops before any archive exists."""
    write_config(tmp_path / "etc", "")
    work = tmp_path / "work"
    work.mkdir()
    result = nm("-c", tmp_path / "etc/newsmirror.toml", "fetch", cwd=work, check=False)
    assert_clean_error(result, 3, "no sources configured")
    assert "[[sources]]" in result.stderr  # the hint says what to add
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["etc", "newsmirror.toml", "work"]


def test_config_with_byte_order_mark_works(tmp_path, server):
    server.route("/f", Reply(body=rss([{"title": "带BOM", "link": "https://e.org/1"}])))
    (tmp_path / "newsmirror.toml").write_bytes(
        b"\xef\xbb\xbf" + one_source(f"{server.url}/f").encode()
    )
    result = run("fetch", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 new" in result.stdout


def test_newsmirror_config_environment_variable(tmp_path, server, archive_backend):
    server.route("/f", Reply(body=rss([{"title": "环境变量", "link": "https://e.org/1"}])))
    write_config(tmp_path / "conf", one_source(f"{server.url}/f"))
    work = tmp_path / "work"
    work.mkdir()
    env = {"NEWSMIRROR_CONFIG": str(tmp_path / "conf/newsmirror.toml")}
    assert run("fetch", cwd=work, env=env).returncode == 0
    assert not list(work.iterdir())
    if archive_backend == "sqlite":
        assert (tmp_path / "conf/archive.sqlite").is_file()
    assert "x\tok\tarticles=1" in run("sources", cwd=work, env=env).stdout
    # -c wins over the variable; a missing file named by the variable is exit 3.
    write_config(tmp_path / "other", "")
    other = run("-c", tmp_path / "other/newsmirror.toml", "fetch", cwd=work, env=env)
    assert_clean_error(other, 3, "no sources configured")
    missing = run("fetch", cwd=work, env={"NEWSMIRROR_CONFIG": str(tmp_path / "nope.toml")})
    assert_clean_error(missing, 3, "nope.toml", "not found")


def test_usage_errors_exit_2(tmp_path):
    for args in (["fetch", "--no-such-option"], ["build"], ["--wait", "-1", "sources"], ["x"]):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and "Usage:" in result.stderr


# -- archives: exit 4, the file left as it was -------------------------------------------


def make_archive(path, articles=60):
    now = datetime(2024, 1, 1, tzinfo=UTC)
    with Archive.open(path) as archive, archive.transaction():
        for i in range(articles):
            archive.import_article(
                source="源",
                url=f"https://e.org/{i}",
                title=f"标题{i}",
                author="记者",
                content="<p>" + "新闻内容。" * 200 + f"{i}</p>",
                tags=[],
                published=now,
                date_known=True,
                published_raw="",
                jekyll_name=f"2024-01-01-{i}.md",
                now=now,
            )
    return path


def corrupt_middle(path, size=8192):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + size] = random.Random(7).randbytes(size)
    path.write_bytes(bytes(data))


ARCHIVE_COMMANDS = [
    ["fetch"],
    ["build", "out", "--no-search"],
    ["export", "jekyll", "out"],
    ["sources"],
    ["search", "新闻"],
    ["refetch"],
    ["add", "http://127.0.0.1:9/x", "--allow-private"],
    ["import", "jekyll", "old"],
]


def archive_setup(tmp_path):
    write_config(tmp_path, '[media]\nmode = "hotlink"\n' + one_source("http://127.0.0.1:9/f"))
    (tmp_path / "old/_posts").mkdir(parents=True)
    (tmp_path / "old/_posts" / SEED_NAME).write_bytes(SEED.read_bytes())


@pytest.mark.sqlite_only  # a damaged SQLite file
@pytest.mark.parametrize("args", ARCHIVE_COMMANDS, ids=lambda a: a[0])
def test_damaged_archive_is_refused_by_every_command(tmp_path, args):
    archive_setup(tmp_path)
    path = make_archive(tmp_path / "archive.sqlite")
    assert path.stat().st_size > 200_000
    corrupt_middle(path)
    before = snapshot(tmp_path)
    result = run(*args, cwd=tmp_path)
    assert_clean_error(result, 4, "damaged")
    assert ".recover" in result.stderr  # the hint says how to salvage it
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "out").exists()


@pytest.mark.sqlite_only  # a SQLite file of another program
@pytest.mark.parametrize("args", ARCHIVE_COMMANDS, ids=lambda a: a[0])
def test_foreign_sqlite_file_is_refused_by_every_command(tmp_path, args):
    archive_setup(tmp_path)
    conn = sqlite3.connect(tmp_path / "archive.sqlite")
    conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('张三', '123')")
    conn.commit()
    conn.close()
    before = snapshot(tmp_path)
    result = run(*args, cwd=tmp_path)
    assert_clean_error(result, 4, "not a newsmirror archive")
    assert snapshot(tmp_path) == before


def test_sqlite_file_of_another_application_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA application_id = 1234")  # marked by another program, no tables
    conn.close()
    before = snapshot(tmp_path)
    assert_clean_error(run("--archive", path, "sources", cwd=tmp_path), 4, "not a newsmirror")
    assert snapshot(tmp_path) == before


@pytest.mark.sqlite_only  # a damaged SQLite file
def test_damage_found_while_reading_is_an_archive_error(tmp_path, monkeypatch):
    """Past the quick_check size limit a damaged page shows up only when it is read:
    that too is exit 4 with one line, not a sqlite3 traceback."""
    import newsmirror.store.opening as opening

    archive_setup(tmp_path)
    corrupt_middle(make_archive(tmp_path / "archive.sqlite"))
    monkeypatch.setattr(opening, "QUICK_CHECK_MAX_BYTES", 0)
    for args in (["build", "out", "--no-search"], ["export", "jekyll", "out"]):
        assert_clean_error(run(*args, cwd=tmp_path), 4, "damaged")


@pytest.mark.sqlite_only  # the file's PRAGMA application_id
def test_new_and_old_archives_are_marked(tmp_path):
    path = tmp_path / "a.sqlite"
    result = run("--archive", path, "import", "jekyll", tmp_path / "old", cwd=tmp_path)
    assert result.returncode == 2  # the folder does not exist
    Archive.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.execute("PRAGMA application_id = 0")  # as archives made before the mark
    conn.close()
    Archive.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()


def _can_mount_tmpfs(folder) -> bool:
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(folder)],
        capture_output=True,
    )
    return done.returncode == 0


@pytest.mark.sqlite_only  # a full disk under the SQLite file
@pytest.mark.slow
def test_full_disk_is_one_line_with_hint(tmp_path, server):
    """A real full disk (a 300 KB tmpfs) while 30 feeds are stored concurrently: one
    error line, no asyncio traceback from the other feeds, and a consistent archive."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _can_mount_tmpfs(disk):
        pytest.skip("mounting a tmpfs needs root on Linux (the library test covers SQLITE_FULL)")
    try:
        body = "<p>" + "长文内容。" * 400 + "</p>"
        sources = []
        for f in range(30):
            items = [
                {"title": f"{f}-{i}", "link": f"https://e.org/{f}/{i}", "content": body}
                for i in range(40)
            ]
            server.route(f"/f{f}", Reply(body=rss(items)))
            sources.append(f'[[sources]]\nname = "s{f}"\nfeeds = ["{server.url}/f{f}"]\n')
        write_config(disk, '[fetch]\nretries = 0\n[media]\nmode = "hotlink"\n' + "".join(sources))
        result = nm("fetch", cwd=disk, check=False)
        assert_clean_error(result, 4, "full")
        assert "free space" in result.stderr
        with Archive.open(disk / "archive.sqlite", create=False) as archive:
            assert archive.check() == []
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# -- output folders: exit 5 --------------------------------------------------------------


def test_output_that_cannot_be_written_exits_5(tmp_path):
    archive = make_archive(tmp_path / "a.sqlite", articles=3)
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    (tmp_path / "site/_posts").parent.mkdir()
    (tmp_path / "site/_posts").write_text("a file where a folder goes", encoding="utf-8")
    before = snapshot(tmp_path)
    for args in (
        ["build", tmp_path / "file/sub", "--no-search"],  # a file where a folder goes
        ["export", "jekyll", tmp_path / "file/sub"],
        ["export", "jekyll", tmp_path / "site"],  # site/_posts is a file
    ):
        result = run("--archive", archive, *args, cwd=tmp_path)
        assert_clean_error(result, 5)
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k != "a.sqlite"} == {
        k: v for k, v in before.items() if k != "a.sqlite"
    }


@pytest.mark.sqlite_only  # the archive as a file in the folder (a PostgreSQL one is not)
def test_an_output_folder_that_holds_the_archive_is_refused(tmp_path):
    # `build .` in the config's folder wrote a site (3,725 files, a media/ folder) around
    # the archive and its images; publish targets refuse such a folder, and so do these.
    archive = make_archive(tmp_path / "a.sqlite", articles=3)
    before = snapshot(tmp_path)
    for args in (["build", ".", "--no-search"], ["export", "jekyll", tmp_path]):
        result = run("--archive", archive, *args, cwd=tmp_path)
        assert_clean_error(result, 5, "holds the archive")
        assert 'its own folder, e.g. "public"' in result.stderr
    assert snapshot(tmp_path).keys() == before.keys()
    fine = run("--archive", archive, "build", "public", "--no-search", cwd=tmp_path)
    assert fine.returncode == 0, fine.stderr


# -- --archive is honoured by every command ------------------------------------------------


def test_archive_option_is_used_by_every_command(tmp_path, server):
    server.route("/f", Reply(body=rss([{"title": "选项", "link": f"{server.url}/a.html"}])))
    server.route("/a.html", Reply(body=article_page("订阅的文章")))
    server.route("/b.html", Reply(body=article_page("手动添加的文章")))
    conf = tmp_path / "conf"
    write_config(
        conf,
        '[archive]\npath = "config-archive.sqlite"\n[media]\nmode = "hotlink"\n'
        + one_source(f"{server.url}/f"),
    )
    (tmp_path / "old/_posts").mkdir(parents=True)
    (tmp_path / "old/_posts" / SEED_NAME).write_bytes(SEED.read_bytes())
    other = tmp_path / "data" / "other.sqlite"
    cmds = [
        (["fetch"], "1 new"),
        (["add", f"{server.url}/b.html", "--allow-private", "-s", "手动"], "new: [手动]"),
        (["import", "jekyll", tmp_path / "old"], "1 new"),
        (["refetch", "-s", "x", "--since", "2000-01-01"], "images:"),
        (["sources"], "手动\t"),
        (["search", "拜登"], "拜登习近平"),
        (["export", "jekyll", tmp_path / "jekyll"], "3 written"),
        (["build", tmp_path / "site", "--no-search"], ""),
    ]
    for args, needle in cmds:
        result = run("-c", conf / "newsmirror.toml", "--archive", other, *args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert needle in result.stdout, (args, result.stdout)
        assert not (conf / "config-archive.sqlite").exists(), args
    with Archive.open(other, create=False) as archive:
        assert archive.counts()["articles"] == 3
    assert len(list((tmp_path / "site").rglob("*.html"))) > 3
    assert sorted(p.name for p in conf.iterdir()) == ["newsmirror.toml"]
    assert not (tmp_path / "data" / "other.sqlite.lock").exists()  # locks leave nothing


def test_archive_option_without_a_config_file(tmp_path, server, archive_backend):
    server.route("/a.html", Reply(body=article_page("没有配置文件")))
    path = tmp_path / "a.sqlite"
    added = run("--archive", path, "add", f"{server.url}/a.html", "--allow-private", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    files = ["a.sqlite"] if archive_backend == "sqlite" else []
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    # A command that does not create the archive says so when it is missing.
    missing = run("--archive", tmp_path / "none.sqlite", "refetch", cwd=tmp_path)
    assert_clean_error(missing, 4, "no archive at")
    assert not (tmp_path / "none.sqlite").exists()


@pytest.mark.sqlite_only  # the archive file's folder
def test_archive_where_a_folder_cannot_be_made(tmp_path, server):
    server.route("/f", Reply(body=rss([{"title": "t", "link": "https://e.org/1"}])))
    write_config(tmp_path, one_source(f"{server.url}/f"))
    (tmp_path / "file").write_text("x", encoding="utf-8")
    before = snapshot(tmp_path)
    result = run("--archive", tmp_path / "file/a.sqlite", "fetch", cwd=tmp_path)
    assert_clean_error(result, 4, "cannot create archive")
    assert snapshot(tmp_path) == before
