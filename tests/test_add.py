"""`newsmirror add`: one page archived on demand, safely."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from conftest import ARTICLE_TEXT, Reply, article_page, make_config
from newsmirror.add import add_url, check_public_host, is_public
from newsmirror.config import FetchSettings
from newsmirror.decide import Change
from newsmirror.demo.assets import png
from newsmirror.errors import AddError
from newsmirror.fetch import Fetcher
from newsmirror.store import Archive


def test_add_local_page(tmp_path, server):
    server.route("/story.html", Reply(body=article_page("人工添加的文章", charset="gbk")))
    server.route("/img/a.png", Reply(body=png()))
    config = make_config(tmp_path, [], media="mirror")
    with Archive.open(config.archive) as archive:
        result = add_url(
            config, archive, f"{server.url}/story.html", source="手动", allow_private=True
        )
        assert result.change is Change.NEW and result.media.stored == 1
        [art] = list(archive.iter_articles())
        assert (art.title, art.author, art.source) == ("人工添加的文章", "记者乙", "手动")
        assert art.published.isoformat() == "2024-03-01T00:00:00+00:00"
        assert ARTICLE_TEXT[:20] in art.content and "栏目1" not in art.content
        again = add_url(
            config, archive, f"{server.url}/story.html", source="手动", allow_private=True
        )
        assert again.change is Change.UNCHANGED


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "example.org/no-scheme",
        "; rm -rf /",
    ],
)
def test_non_http_urls_are_refused(tmp_path, url):
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive, pytest.raises(AddError, match="http"):
        add_url(config, archive, url)


def test_private_hosts_are_refused_by_default(tmp_path, server):
    server.route("/story.html", Reply(body=article_page("t")))
    config = make_config(tmp_path, [])
    with Archive.open(config.archive) as archive:
        for url in (
            f"{server.url}/story.html",
            f"http://localhost:{server.url.rsplit(':', 1)[1]}/story.html",
        ):
            with pytest.raises(AddError, match="non-public") as info:
                add_url(config, archive, url)
            assert "--allow-private" in info.value.hint
        assert archive.counts()["articles"] == 0
    assert server.requests == []


def test_every_redirect_hop_is_checked(server):
    port = server.url.rsplit(":", 1)[1]
    server.route("/hop", Reply(302, b"", headers={"Location": f"http://localhost:{port}/end"}))
    server.route("/end", Reply(body=b"secret"))
    seen = []

    async def guard(request: httpx.Request) -> None:
        seen.append(request.url.host)
        if request.url.host == "localhost":
            raise AddError("refused")

    async def go() -> None:
        async with Fetcher(FetchSettings(retries=0), on_request=guard) as fetcher:
            await fetcher.fetch(f"{server.url}/hop")

    with pytest.raises(AddError):
        asyncio.run(go())
    assert seen == ["127.0.0.1", "localhost"]
    assert [p for p, _ in server.requests] == ["/hop"]


def test_address_classes():
    for private in (
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "224.0.0.1",
    ):
        assert not is_public(private), private
    for public in ("8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"):
        assert is_public(public), public
    with pytest.raises(AddError, match="non-public"):
        check_public_host("localhost")
