"""The demo's job: the bundled feeds fetched from a local server, exported and built."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from newsmirror.config import load_config
from newsmirror.demo.host import DEMO_HOST
from newsmirror.demo.server import serve_folder
from newsmirror.httpclient import httpx
from newsmirror.httptransport import Transport
from newsmirror.pipeline import update
from newsmirror.publish.jekyll import export_jekyll
from newsmirror.store import Archive

SITE = Path(__file__).parent / "site"
DEMO_SOURCES = (  # name, feed, full_text, tags
    ("大纪元", "epochtimes.xml", "auto", ["时政", "中美关系"]),
    ("评论", "oped.xml", "auto", ["评论"]),
    ("Matters", "teahouse.xml", "auto", ["评论", "社会"]),
    ("方斌", "society.xml", "feed", ["视频"]),  # YouTube descriptions: no article page
    ("自由新闻", "summaries.xml", "auto", ["社会"]),  # teasers: full text from the pages
)


class LocalRoute(httpx.AsyncBaseTransport):
    """Sends requests for ``host`` to a local server; others go out as usual."""

    def __init__(self, host: str, base_url: str) -> None:
        self.host = host
        target = urlsplit(base_url)
        self.target_host, self.target_port = target.hostname or "127.0.0.1", target.port
        self.inner = Transport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == self.host:
            request.url = request.url.copy_with(
                scheme="http", host=self.target_host, port=self.target_port
            )
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class DemoResult:
    archive: Path
    posts: Path
    site: Path
    fetch_line: str
    export_line: str
    build_line: str
    failed: bool


DEMO_NOTE = (
    "# The demo's sources: newsmirror's own demo feeds, served on 127.0.0.1 only while\n"
    "# `newsmirror demo` runs (as http://{host}). A `newsmirror fetch` here cannot reach\n"
    "# them and says so; run `newsmirror demo` again, or `newsmirror init` for real outlets.\n"
)


def write_demo_config(directory: Path) -> Path:
    lines = [DEMO_NOTE.format(host=DEMO_HOST), "[archive]", 'path = "archive.sqlite"', ""]
    lines += ["[fetch]", "retries = 0", ""]
    for name, file, full_text, tags in DEMO_SOURCES:
        lines += [
            "[[sources]]",
            f"name = {json.dumps(name, ensure_ascii=False)}",
            f'feeds = ["http://{DEMO_HOST}/feeds/{file}"]',
            f'full_text = "{full_text}"',
            f"tags = {json.dumps(tags, ensure_ascii=False)}",
            "",
        ]
    path = directory / "newsmirror.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_demo(directory: Path, log: Callable[[str], None] = lambda _line: None) -> DemoResult:
    """Serve the demo site, fetch it into ``directory``, export Jekyll posts to
    ``directory/site`` and build the static site in ``directory/public``."""
    from newsmirror.publish.site import build_site
    from newsmirror.publish.sitebuild import SiteOptions

    directory.mkdir(parents=True, exist_ok=True)
    with serve_folder(SITE) as base_url:
        log(f"serving the demo sources at {base_url} (as http://{DEMO_HOST})")
        config = load_config(write_demo_config(directory))
        with Archive.open(config.archive) as archive:
            summary = update(config, archive, transport=LocalRoute(DEMO_HOST, base_url))
            exported = export_jekyll(archive, directory / "site", media_dir=config.media_dir)
            built = build_site(archive, directory / "public", SiteOptions(title="新闻镜像 演示"))
    return DemoResult(
        config.archive,
        directory / "site" / "_posts",
        directory / "public",
        summary.line(),
        exported.line(),
        built.line(),
        summary.any_failed,
    )
