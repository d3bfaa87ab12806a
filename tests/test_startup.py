"""Start-up cost: what a run with nothing new must not import (issue 12).

An hourly run that finds every feed unchanged is mostly interpreter start-up, so
the heavy parts (feed parsers, sanitiser, extractor, rich's display, httpx's own
command-line client) are imported only when there is work for them.
"""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsmirror.config import FetchSettings
from newsmirror.fetch import Fetcher, FetchResult

HEAVY = (
    "httpx._main",  # httpx's CLI: click, rich.syntax, pygments
    "pygments",
    "rich",
    "lxml",
    "nh3",
    "fastfeedparser",
    "feedparser",
    "charset_normalizer",
    "trafilatura",
    "yaml",
    "multiprocessing",
    "newsmirror.parse",
    "newsmirror.fulltext",
    "newsmirror.demo.run",  # the demo job (its server, its routes): `fetch` only asks its host
)


def _imported(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_an_idle_fetch_imports_nothing_heavy(tmp_path, server):
    from tests.conftest import ARTICLE_TEXT, Reply, rss

    item = {"title": "一", "link": "https://e.org/1", "content": f"<p>{ARTICLE_TEXT}</p>"}
    server.route("/feed", Reply(body=rss([item])))
    config = tmp_path / "newsmirror.toml"
    config.write_text(f'[[sources]]\nname = "源"\nfeeds = ["{server.url}/feed"]\n', "utf-8")
    run = f"""
import sys
from newsmirror.cli import main
sys.argv = ["newsmirror", "-c", {str(config)!r}, "fetch"]
try:
    main()
except SystemExit:
    pass
"""
    first = _imported(run)  # the first stores the item: it parses, but detects nothing
    assert "newsmirror.parse" in first
    parsing = ("lxml", "nh3", "fastfeedparser", "newsmirror.parse")
    assert [m for m in _heavy(first) if not m.startswith(parsing)] == []
    idle = _imported(run)  # the second finds nothing new
    assert _heavy(idle) == []
    # Fetches go through newsmirror's own transport (h11 on asyncio's streams): httpx's
    # default one would load httpcore, anyio and anyio's asyncio backend (about 60 ms).
    assert sorted(m for m in idle if m.split(".")[0] in ("httpcore", "anyio", "sniffio")) == []
    assert "newsmirror.httptransport" in idle


def test_a_run_forks_its_parse_workers_before_loading_the_http_client():
    """The workers are forked by pipeline.update before it imports feedrun: what `run` and
    `fetch` have imported by then is what each worker inherits, and the HTTP client is
    loaded in this process while the workers import the parser on the other core."""
    before_fork = _imported("import newsmirror.runjob\nimport newsmirror.clirun")
    late = ("httpx", "httpcore", "asyncio", "newsmirror.fetch", "newsmirror.feedrun")
    assert sorted(m for m in before_fork if m.startswith(late)) == []


def test_httpx_keeps_its_command_line_client_importable():
    modules = _imported("import newsmirror.fetch\nimport httpx._main")
    assert "httpx._main" in modules


def test_an_idle_run_with_a_jekyll_tree_imports_nothing_heavy(tmp_path, server):
    """`run` checks first whether the archive must be rebuilt from the tree; an archive
    that holds articles needs no importer (PyYAML, lxml, nh3), nor does a fresh one."""
    from tests.conftest import ARTICLE_TEXT, Reply, rss

    item = {"title": "一", "link": "https://e.org/1", "content": f"<p>{ARTICLE_TEXT}</p>"}
    server.route("/feed", Reply(body=rss([item])))
    config = tmp_path / "newsmirror.toml"
    config.write_text(
        f'[publish.jekyll]\npath = "{tmp_path / "out"}"\n'
        f'[[sources]]\nname = "源"\nfeeds = ["{server.url}/feed"]\n',
        "utf-8",
    )
    run = f"""
import sys
from newsmirror.cli import main
sys.argv = ["newsmirror", "-c", {str(config)!r}, "run"]
try:
    main()
except SystemExit:
    pass
"""
    first = _imported(run)
    assert (tmp_path / "out" / "_posts").is_dir()
    parsing = ("lxml", "nh3", "fastfeedparser", "newsmirror.parse")
    assert [m for m in _heavy(first) if not m.startswith(parsing)] == []
    assert _heavy(_imported(run)) == []


# -- the CA certificates are read when the first https connection starts ---------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (the openssl command line makes it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"),
            *("ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert),
            *("-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextmanager
def _https(cert: str, key: str) -> Iterator[str]:
    """A local https server answering every GET with a short RSS feed; its base URL."""
    from tests.conftest import ARTICLE_TEXT, rss

    body = rss([{"title": "一", "link": "https://e.org/1", "content": f"<p>{ARTICLE_TEXT}</p>"}])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _fetch(urls: list[str]) -> list[FetchResult]:
    async def go() -> list[FetchResult]:
        async with Fetcher(FetchSettings(retries=0, read_timeout=2)) as fetcher:
            return [await fetcher.fetch(url) for url in urls]

    return asyncio.run(go())


def test_https_is_verified_against_the_trusted_certificates(certificate, monkeypatch):
    cert, key = certificate
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with _https(cert, key) as base:
        (untrusted,) = _fetch([f"{base}/feed"])  # certifi's bundle does not know it
        monkeypatch.setenv("SSL_CERT_FILE", cert)
        trusted, wrong_name = _fetch([f"{base}/feed", base.replace("127.0.0.1", "localhost")])
    assert untrusted.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
    assert trusted.status == "ok" and trusted.body.startswith(b"<?xml")
    assert wrong_name.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in wrong_name.error


def test_plain_http_feeds_never_read_the_ca_certificates(certificate, server, monkeypatch):
    """A CA file that cannot be read fails the https feeds only: http ones are fetched."""
    from tests.conftest import Reply, rss

    server.route("/feed", Reply(body=rss([{"title": "二", "link": "https://e.org/2"}])))
    monkeypatch.setenv("SSL_CERT_FILE", str(Path(certificate[0]).parent / "missing.pem"))
    with _https(*certificate) as base:
        plain, secure = _fetch([f"{server.url}/feed", f"{base}/feed"])
    assert plain.status == "ok" and plain.body.startswith(b"<?xml")
    assert secure.status == "failed" and "missing.pem" in secure.error


# -- the cycle collector during a run ------------------------------------------------


def test_a_run_leaves_the_cycle_collector_as_it_found_it(tmp_path, server):
    """A run sets the modules' objects aside and collects young objects less often; a
    program that runs it (cleanly or not) gets its collector back as it was."""
    from tests.conftest import ARTICLE_TEXT, Reply, make_config, rss

    from newsmirror.pipeline import update
    from newsmirror.store import Archive

    item = {"title": "一", "link": "https://e.org/1", "content": f"<p>{ARTICLE_TEXT}</p>"}
    server.route("/feed", Reply(body=rss([item])))
    config = make_config(tmp_path, [("源", [f"{server.url}/feed"])])
    before = gc.get_threshold()
    seen: list[tuple[int, int]] = []

    def look(*_: object) -> None:
        seen.append((gc.get_threshold()[0], gc.get_freeze_count()))
        raise RuntimeError("stopped")

    with Archive.open(tmp_path / "archive.sqlite") as archive:
        assert update(config, archive).new == 1
        assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)
        with pytest.raises(RuntimeError):
            update(config, archive, progress=look)
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, 0)
    assert seen and seen[0][0] >= 10 * before[0] and seen[0][1] > 0  # quieter during it


def test_the_command_line_loads_no_queue_or_event_loop_until_a_command_needs_it():
    """`newsmirror --help`, `build`, `serve`, `search` …: the PostgreSQL driver, the job
    queue and asyncio are loaded by the commands that use them, not by the CLI itself."""
    modules = _imported("import newsmirror.cli")
    late = ("asyncio", "logging", "psycopg", "procrastinate", "newsmirror.jobqueue")
    assert sorted(m for m in modules if m.split(".")[0] in late or m in late) == []


def test_the_program_sets_its_objects_aside_before_the_last_collection():
    """The interpreter's collection at exit frees nothing in a run that ends, and walking
    every object of a run costs it 12-17 ms: the program freezes them first."""
    code = """
import atexit, gc, os, sys
atexit.register(lambda: os.write(1, b"exiting\\n"))
def seen(phase, info):
    if phase == "start" and info["generation"] == 2:
        os.write(1, b"collection of %d objects set aside\\n" % gc.get_freeze_count())
gc.callbacks.append(seen)
from newsmirror.cli import main
sys.argv = ["newsmirror", "--version"]
main()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    after = out.split("exiting\n", 1)[1].splitlines()
    assert after, out  # the collection at exit (its callbacks still run)
    assert all(int(line.split()[2]) > 1000 for line in after), out
