"""The s3 publish target against a real S3-compatible server (moto's server mode) on
127.0.0.1: uploads, Content-Types, change detection, deletions, prefixes, errors."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from newsmirror.errors import EXIT_TARGETS_FAILED, PublishError
from newsmirror.publish.targets import TargetConfig, make_target
from newsmirror.publish.targets import s3 as s3mod

MARK = "before"

SITE: dict[str, tuple[bytes, str]] = {
    "index.html": (b"<!doctype html><p>\xe4\xbd\xa0\xe5\xa5\xbd</p>", "text/html; charset=utf-8"),
    "style.css": (b"body{}", "text/css; charset=utf-8"),
    "app.js": (b"let a=1;", "application/javascript; charset=utf-8"),
    "feed.xml": (b"<rss/>", "application/xml; charset=utf-8"),
    "feed.atom": (b"<feed/>", "application/atom+xml; charset=utf-8"),
    "status.json": (b"{}", "application/json; charset=utf-8"),
    "_posts/2024-01-01-a.md": (b"---\n---\n", "text/plain; charset=utf-8"),
    "robots.txt": (b"User-agent: *", "text/plain; charset=utf-8"),
    "images/a.PNG": (b"\x89PNG\r\n", "image/png"),
    "images/b.jpg": (b"\xff\xd8\xff", "image/jpeg"),
    "images/c.svg": (b"<svg/>", "image/svg+xml; charset=utf-8"),
    "pagefind/wasm.en.pagefind": (b"\x00wasm", "application/octet-stream"),
    "pagefind/pagefind.js": (b"export{}", "application/javascript; charset=utf-8"),
    "CNAME": (b"example.org", "application/octet-stream"),
    "中文/新闻 一.html": ("<p>新闻</p>".encode(), "text/html; charset=utf-8"),
    "with space/a b.html": (b"<p>space</p>", "text/html; charset=utf-8"),
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def bucket(client: Any) -> str:
    name = f"mirror-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return name


def target(endpoint: str, bucket: str, **options: Any) -> Any:
    options = {"bucket": bucket, "endpoint_url": endpoint, "region": "us-east-1", **options}
    return make_target(TargetConfig(kind="s3", output="site", name="bucket", options=options))


def write_site(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def keys(client: Any, bucket: str) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", ())}


def body(client: Any, bucket: str, key: str) -> bytes:
    data: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def mark_all(client: Any, bucket: str) -> None:
    """Copy every object onto itself with a marker in its metadata: an object uploaded
    again afterwards loses the marker (same content, so the same ETag)."""
    for key in keys(client, bucket):
        head = client.head_object(Bucket=bucket, Key=key)
        client.copy_object(
            Bucket=bucket,
            Key=key,
            CopySource={"Bucket": bucket, "Key": key},
            Metadata={**head["Metadata"], "mark": MARK},
            MetadataDirective="REPLACE",
            ContentType=head["ContentType"],
        )


def marked(client: Any, bucket: str, key: str) -> bool:
    return client.head_object(Bucket=bucket, Key=key)["Metadata"].get("mark") == MARK


def test_first_publish_uploads_every_file_with_its_content_type(
    tmp_path: Path, endpoint: str, client: Any, bucket: str
) -> None:
    site = write_site(tmp_path / "site", {name: data for name, (data, _) in SITE.items()})

    result = target(endpoint, bucket, prefix="mirror").publish(site, message="run")

    assert (result.added, result.changed, result.removed) == (len(SITE), 0, 0)
    assert keys(client, bucket) == {f"mirror/{name}" for name in SITE}
    for name, (data, kind) in SITE.items():
        assert client.head_object(Bucket=bucket, Key=f"mirror/{name}")["ContentType"] == kind
        assert body(client, bucket, f"mirror/{name}") == data


def test_second_publish_of_the_same_folder_uploads_nothing(
    tmp_path: Path, endpoint: str, client: Any, bucket: str
) -> None:
    site = write_site(tmp_path / "site", {name: data for name, (data, _) in SITE.items()})
    publisher = target(endpoint, bucket, prefix="mirror")
    publisher.publish(site, message="first")
    mark_all(client, bucket)

    result = publisher.publish(site, message="second")

    assert (result.added, result.changed, result.removed) == (0, 0, 0)
    assert f"{len(SITE)} unchanged" in result.line()
    assert all(marked(client, bucket, key) for key in keys(client, bucket))


def test_changed_file_is_uploaded_again_and_removed_file_deleted(
    tmp_path: Path, endpoint: str, client: Any, bucket: str
) -> None:
    site = write_site(
        tmp_path / "site",
        {"index.html": b"<p>one</p>", "old.html": b"<p>old</p>", "keep.css": b"a{}"},
    )
    publisher = target(endpoint, bucket, prefix="mirror")
    publisher.publish(site, message="first")
    mark_all(client, bucket)
    (site / "index.html").write_bytes(b"<p>two</p>")  # same size, other content
    (site / "old.html").unlink()
    write_site(site, {"新.html": b"<p>new</p>"})

    result = publisher.publish(site, message="second")

    assert (result.added, result.changed, result.removed) == (1, 1, 1)
    assert keys(client, bucket) == {"mirror/index.html", "mirror/keep.css", "mirror/新.html"}
    assert body(client, bucket, "mirror/index.html") == b"<p>two</p>"
    assert not marked(client, bucket, "mirror/index.html")
    assert marked(client, bucket, "mirror/keep.css")


def test_keys_outside_the_prefix_are_never_touched(
    tmp_path: Path, endpoint: str, client: Any, bucket: str
) -> None:
    outside = ["index.html", "mirror", "mirror-old/index.html", "mirrors/a.html", "other/x"]
    for key in [*outside, "mirror/gone.html"]:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    site = write_site(tmp_path / "site", {"index.html": b"<p>new</p>"})

    result = target(endpoint, bucket, prefix="/mirror//").publish(site, message="run")

    assert (result.added, result.removed) == (1, 1)
    assert keys(client, bucket) == {*outside, "mirror/index.html"}
    assert all(body(client, bucket, key) == b"x" for key in outside)


def test_without_prefix_the_whole_bucket_follows_the_folder(
    tmp_path: Path, endpoint: str, client: Any, bucket: str
) -> None:
    client.put_object(Bucket=bucket, Key="stale/page.html", Body=b"x")
    site = write_site(tmp_path / "site", {"a b/中文.html": b"<p>1</p>"})

    result = target(endpoint, bucket).publish(site, message="run")

    assert (result.added, result.removed) == (1, 1)
    assert keys(client, bucket) == {"a b/中文.html"}
    assert body(client, bucket, "a b/中文.html") == b"<p>1</p>"


def test_deletes_and_listings_go_in_pages(
    tmp_path: Path,
    endpoint: str,
    client: Any,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(s3mod, "LIST_PAGE_SIZE", 2)
    monkeypatch.setattr(s3mod, "DELETE_BATCH", 2)
    names = {f"p{i}.html": f"<p>{i}</p>".encode() for i in range(5)}
    site = write_site(tmp_path / "site", {**names, **{f"gone{i}.txt": b"g" for i in range(5)}})
    publisher = target(endpoint, bucket, prefix="m")
    publisher.publish(site, message="first")
    mark_all(client, bucket)
    for i in range(5):
        (site / f"gone{i}.txt").unlink()

    result = publisher.publish(site, message="second")

    assert (result.added, result.changed, result.removed) == (0, 0, 5)
    assert keys(client, bucket) == {f"m/{name}" for name in names}
    assert all(marked(client, bucket, f"m/{name}") for name in names)


def test_big_files_go_in_parts_and_are_compared_by_sha256(
    tmp_path: Path, endpoint: str, client: Any, bucket: str
) -> None:
    big = bytes(range(256)) * 6000  # 1.5 MB, over the 1 MB threshold below
    site = write_site(tmp_path / "site", {"video.mp4": big, "index.html": b"<p/>"})
    publisher = target(endpoint, bucket, multipart_threshold_mb=1)

    first = publisher.publish(site, message="first")
    head = client.head_object(Bucket=bucket, Key="video.mp4")
    assert first.added == 2
    assert "-" in head["ETag"]  # a multipart ETag is not the MD5
    assert head["ContentType"] == "video/mp4"
    assert body(client, bucket, "video.mp4") == big

    again = publisher.publish(site, message="second")  # (a copy would lose the multipart ETag)
    assert (again.added, again.changed) == (0, 0)
    assert client.head_object(Bucket=bucket, Key="video.mp4")["ETag"] == head["ETag"]

    (site / "video.mp4").write_bytes(big[::-1])  # same size, other content
    changed = publisher.publish(site, message="third")
    assert changed.changed == 1
    assert body(client, bucket, "video.mp4") == big[::-1]


def test_missing_bucket_is_a_readable_publish_error(tmp_path: Path, endpoint: str) -> None:
    site = write_site(tmp_path / "site", {"index.html": b"<p/>"})

    with pytest.raises(PublishError) as caught:
        target(endpoint, "no-such-bucket-here").publish(site, message="run")

    error = caught.value
    assert "'no-such-bucket-here' does not exist" in error.message
    assert "\n" not in error.message
    assert "Create the bucket" in error.hint
    assert error.exit_code == EXIT_TARGETS_FAILED


def test_unreachable_endpoint_is_a_readable_publish_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    site = write_site(tmp_path / "site", {"index.html": b"<p/>"})
    publisher = target(f"http://127.0.0.1:{port}", "b", max_attempts=1, connect_timeout=1)

    with pytest.raises(PublishError) as caught:
        publisher.publish(site, message="run")

    assert caught.value.message == f"s3 target: cannot reach http://127.0.0.1:{port}"
    assert "endpoint_url" in caught.value.hint


def test_missing_credentials_name_the_variable(
    tmp_path: Path, endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = write_site(tmp_path / "site", {"index.html": b"<p/>"})
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    with pytest.raises(PublishError, match="AWS_SECRET_ACCESS_KEY is not set"):
        target(endpoint, bucket).publish(site, message="run")


def test_credentials_from_variables_the_options_name(
    tmp_path: Path, endpoint: str, client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = write_site(tmp_path / "site", {"index.html": b"<p/>"})
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("R2_KEY", "testing")
    monkeypatch.setenv("R2_SECRET", "testing")
    options = {"access_key_env": "R2_KEY", "secret_key_env": "R2_SECRET"}

    result = target(endpoint, bucket, **options).publish(site, message="run")

    assert result.added == 1
    assert keys(client, bucket) == {"index.html"}


def test_access_denied_is_explained_in_one_line() -> None:
    settings = s3mod.settings_from_options({"bucket": "b", "endpoint_url": "https://r2.example"})
    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2"
    )

    error = s3mod.explain(denied, settings)

    assert (
        error.message == "s3 target: access denied to s3://b at https://r2.example (AccessDenied)"
    )
    assert "credentials" in error.hint


def test_an_empty_folder_never_wipes_the_bucket(
    tmp_path: Path, endpoint: str, client: Any, bucket: str
) -> None:
    client.put_object(Bucket=bucket, Key="index.html", Body=b"x")
    (tmp_path / "empty").mkdir()

    with pytest.raises(PublishError, match="refusing to delete 1 objects"):
        target(endpoint, bucket).publish(tmp_path / "empty", message="run")

    assert keys(client, bucket) == {"index.html"}


def test_without_boto3_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    site = write_site(tmp_path / "site", {"index.html": b"<p/>"})

    with pytest.raises(PublishError) as caught:
        target("http://127.0.0.1:9", "b").publish(site, message="run")

    assert caught.value.message == "s3 target: boto3 is not installed"
    assert "pip install 'newsmirror[s3]'" in caught.value.hint


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "`bucket` is missing"),
        ({"bucket": "b", "endpoint": "http://x"}, "unknown key 'endpoint'"),
        ({"bucket": "b", "endpoint_url": "127.0.0.1:9000"}, "not an http(s) URL"),
        ({"bucket": "b", "read_timeout": 0}, "`read_timeout` must be a positive number"),
        ({"bucket": "b", "prefix": "a/../b"}, "contains '.' or '..'"),
        ({"bucket": "b", "addressing_style": "dns"}, "addressing_style 'dns'"),
    ],
)
def test_bad_options_are_publish_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(PublishError) as caught:
        s3mod.check_options(options)
    assert message in caught.value.message
    assert caught.value.hint


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a/INDEX.HTM", "text/html; charset=utf-8"),
        ("feed.rss", "application/rss+xml; charset=utf-8"),
        ("notes.markdown", "text/plain; charset=utf-8"),
        ("fonts/x.woff2", "font/woff2"),
        ("pagefind/fragment/en_1.pf_fragment", "application/octet-stream"),
        ("theme.js/LICENSE", "application/octet-stream"),
        (".nojekyll", "application/octet-stream"),
        ("photo.webp", "image/webp"),
    ],
)
def test_content_type_by_name(name: str, kind: str) -> None:
    assert s3mod.content_type(name) == kind


def test_prefixes_are_normalised() -> None:
    assert s3mod.normalise_prefix("") == ""
    assert s3mod.normalise_prefix("/") == ""
    assert s3mod.normalise_prefix("/a//b/") == "a/b/"
    assert s3mod.normalise_prefix("site") == "site/"


def test_symlinks_in_the_folder_are_never_uploaded(
    tmp_path: Path, endpoint: str, client: Any, bucket: str
) -> None:
    outside = write_site(tmp_path / "outside", {"secret.txt": b"SECRET", "d/x.html": b"x"})
    site = write_site(tmp_path / "site", {"index.html": b"<p>home</p>"})
    (site / "leak.txt").symlink_to(outside / "secret.txt")
    (site / "dir").symlink_to(outside / "d", target_is_directory=True)

    result = target(endpoint, bucket).publish(site, message="run")

    assert keys(client, bucket) == {"index.html"}
    assert result.added == 1


def test_a_writers_temporary_file_is_never_uploaded(
    tmp_path: Path, endpoint: str, client: Any, bucket: str
) -> None:
    """A build killed mid-write leaves .nm-*.tmp beside the page: the folder target skips
    it, and so must the bucket (the two list the output the same way)."""
    site = write_site(tmp_path / "site", {"index.html": b"<p>home</p>", ".nm-x1.tmp": b"half"})
    (site / "posts").mkdir()
    (site / "posts" / ".nm-y2.tmp").write_bytes(b"half")
    target(endpoint, bucket).publish(site, message="run")
    assert keys(client, bucket) == {"index.html"}


@pytest.mark.parametrize("size", [6, 1_600_000])  # a plain upload, a multipart one
def test_a_file_swapped_for_a_symlink_after_the_scan_uploads_nothing_from_outside(
    tmp_path: Path,
    endpoint: str,
    client: Any,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    secret = b"S" * size
    outside = write_site(tmp_path / "outside", {"secret.bin": secret})
    site = write_site(tmp_path / "site", {"index.html": b"<p/>", "a.bin": b"a" * size})
    scan = s3mod.scan_folder

    def scan_then_swap(folder: Path) -> dict[str, Any]:
        found = scan(folder)  # then, before the upload, the file becomes a link
        (folder / "a.bin").unlink()
        (folder / "a.bin").symlink_to(outside / "secret.bin")
        return found

    monkeypatch.setattr(s3mod, "scan_folder", scan_then_swap)
    with pytest.raises(PublishError):
        target(endpoint, bucket, multipart_threshold_mb=1).publish(site, message="run")
    stored = [body(client, bucket, key) for key in keys(client, bucket)]
    assert secret not in stored


@pytest.mark.parametrize("swap", ["file", "folder"])
def test_a_file_swapped_after_the_scan_is_named_in_a_one_line_error_with_a_hint(
    tmp_path: Path,
    endpoint: str,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    swap: str,
) -> None:
    """The refusal says which file (its path below the folder, not only its last name)
    and what to do, whether the file or a folder on its way became a link."""
    outside = write_site(tmp_path / "outside", {"a.bin": b"secret"})
    site = write_site(tmp_path / "site", {"index.html": b"<p/>", "posts/2024/a.bin": b"a"})
    scan = s3mod.scan_folder

    def scan_then_swap(folder: Path) -> dict[str, Any]:
        found = scan(folder)
        if swap == "file":
            (folder / "posts/2024/a.bin").unlink()
            (folder / "posts/2024/a.bin").symlink_to(outside / "a.bin")
        else:
            (folder / "posts/2024").rename(tmp_path / "moved")
            (folder / "posts/2024").symlink_to(outside)
        return found

    monkeypatch.setattr(s3mod, "scan_folder", scan_then_swap)
    with pytest.raises(PublishError) as caught:
        target(endpoint, bucket).publish(site, message="run")
    assert "posts/2024/a.bin" in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.hint
