"""The ``s3`` target: make a prefix of an S3-compatible bucket match an output folder.

Works with any S3-compatible store (AWS S3, Cloudflare R2, Backblaze B2, MinIO) through
boto3, which is an optional dependency (``pip install 'newsmirror[s3]'``) imported only
when a bucket is published.

One publish lists the objects under the prefix, uploads the files that are new or whose
content differs, then deletes the objects whose file is gone; keys outside the prefix
are never touched. Content is compared by checksum: files under the multipart threshold
are sent in one ``PutObject``, so their ETag is their MD5; bigger files go in parts and
carry their SHA-256 in the ``x-amz-meta-sha256`` header, read back with ``HeadObject``.
Every object gets a Content-Type (with ``charset=utf-8`` for text) from its name.

Options (``[[publish.targets]]`` keys): ``bucket`` (required), ``endpoint_url`` (left
out for AWS), ``region``, ``prefix``, ``access_key_env`` / ``secret_key_env`` /
``session_token_env`` (names of the environment variables holding the credentials;
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN by default),
``addressing_style`` ("auto", "path" or "virtual"), ``connect_timeout`` and
``read_timeout`` (seconds), ``max_attempts`` (botocore's standard retry mode),
``workers`` (parallel uploads) and ``multipart_threshold_mb``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from io import BufferedReader
from pathlib import Path
from typing import Any

from newsmirror.errors import PublishError
from newsmirror.files import open_below
from newsmirror.publish.targets import TargetConfig, TargetResult
from newsmirror.publish.targets.folder import list_files

MB = 1024 * 1024
SHA256_META = "sha256"  # sent as x-amz-meta-sha256 on multipart uploads
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
LIST_PAGE_SIZE = 1000  # ListObjectsV2 returns at most 1000 keys a page
INSTALL_HINT = "Install the S3 client with: pip install 'newsmirror[s3]'"
CREDENTIALS_HINT = (
    "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the variables that the target's "
    "access_key_env and secret_key_env name) in the job's environment."
)
OPTION_KEYS = frozenset(
    {
        "bucket",
        "endpoint_url",
        "region",
        "prefix",
        "access_key_env",
        "secret_key_env",
        "session_token_env",
        "addressing_style",
        "connect_timeout",
        "read_timeout",
        "max_attempts",
        "workers",
        "multipart_threshold_mb",
    }
)

_TEXT = "; charset=utf-8"
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html" + _TEXT,
    ".htm": "text/html" + _TEXT,
    ".css": "text/css" + _TEXT,
    ".js": "application/javascript" + _TEXT,
    ".mjs": "application/javascript" + _TEXT,
    ".json": "application/json" + _TEXT,
    ".webmanifest": "application/manifest+json" + _TEXT,
    ".xml": "application/xml" + _TEXT,
    ".rss": "application/rss+xml" + _TEXT,
    ".atom": "application/atom+xml" + _TEXT,
    ".xsl": "application/xslt+xml" + _TEXT,
    ".md": "text/plain" + _TEXT,
    ".markdown": "text/plain" + _TEXT,
    ".txt": "text/plain" + _TEXT,
    ".yml": "text/plain" + _TEXT,
    ".yaml": "text/plain" + _TEXT,
    ".csv": "text/csv" + _TEXT,
    ".svg": "image/svg+xml" + _TEXT,
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".bmp": "image/bmp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".mp3": "audio/mpeg",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".pagefind": "application/octet-stream",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def content_type(name: str) -> str:
    """The Content-Type for a file called ``name``, by its extension (any case)."""
    dot = name.rfind(".")
    if dot <= name.rfind("/"):
        return DEFAULT_CONTENT_TYPE
    return CONTENT_TYPES.get(name[dot:].lower(), DEFAULT_CONTENT_TYPE)


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    prefix: str = ""  # "" or "a/b/"
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"
    session_token_env: str = "AWS_SESSION_TOKEN"
    addressing_style: str = "auto"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 4
    workers: int = 8
    multipart_threshold: int = 64 * MB


def normalise_prefix(prefix: str) -> str:
    """``"/site//"`` -> ``"site/"``; ``""`` or ``"/"`` -> ``""`` (the whole bucket)."""
    parts = [part for part in prefix.split("/") if part]
    if any(part in {".", ".."} for part in parts):
        raise PublishError(f"s3 prefix {prefix!r} contains '.' or '..'", hint=_OPTIONS_HINT)
    return "/".join(parts) + "/" if parts else ""


_OPTIONS_HINT = "Check the s3 target's keys against the Publishing section of the README."


def settings_from_options(options: dict[str, Any]) -> S3Settings:
    """The target's settings from its ``[[publish.targets]]`` keys; PublishError names the
    first bad key."""
    unknown = sorted(set(options) - OPTION_KEYS - {"kind", "output", "name", "public_url"})
    if unknown:
        raise PublishError(f"s3 target: unknown key {unknown[0]!r}", hint=_OPTIONS_HINT)
    bucket = options.get("bucket")
    if not isinstance(bucket, str) or not bucket.strip():
        raise PublishError("s3 target: `bucket` is missing", hint=_OPTIONS_HINT)
    endpoint = _text(options, "endpoint_url")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise PublishError(
            f"s3 target: endpoint_url {endpoint!r} is not an http(s) URL", hint=_OPTIONS_HINT
        )
    style = _text(options, "addressing_style") or "auto"
    if style not in {"auto", "path", "virtual"}:
        raise PublishError(f"s3 target: addressing_style {style!r}", hint=_OPTIONS_HINT)
    defaults = S3Settings(bucket="")
    threshold_mb = _number(options, "multipart_threshold_mb", defaults.multipart_threshold / MB)
    return S3Settings(
        bucket=bucket.strip(),
        endpoint_url=endpoint or None,
        region=_text(options, "region") or None,
        prefix=normalise_prefix(_text(options, "prefix")),
        access_key_env=_text(options, "access_key_env") or defaults.access_key_env,
        secret_key_env=_text(options, "secret_key_env") or defaults.secret_key_env,
        session_token_env=_text(options, "session_token_env") or defaults.session_token_env,
        addressing_style=style,
        connect_timeout=_number(options, "connect_timeout", defaults.connect_timeout),
        read_timeout=_number(options, "read_timeout", defaults.read_timeout),
        max_attempts=int(_number(options, "max_attempts", defaults.max_attempts)),
        workers=int(_number(options, "workers", defaults.workers)),
        multipart_threshold=int(threshold_mb * MB),
    )


def check_options(options: dict[str, Any]) -> None:
    """Raise PublishError when the s3 target's keys are wrong (for config loading)."""
    settings_from_options(options)


def _text(options: dict[str, Any], key: str) -> str:
    value = options.get(key, "")
    if not isinstance(value, str):
        raise PublishError(f"s3 target: `{key}` must be a string", hint=_OPTIONS_HINT)
    return value.strip()


def _number(options: dict[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise PublishError(f"s3 target: `{key}` must be a positive number", hint=_OPTIONS_HINT)
    return float(value)


# --- what to do: plain decisions -------------------------------------------------------


@dataclass(frozen=True)
class LocalFile:
    root: Path  # the folder published
    key: str  # "/"-separated, below root
    size: int
    md5: str  # hex

    def open(self) -> BufferedReader:
        """The file, read below ``root`` with no symlink followed (a file swapped for a
        link after the scan is refused, not uploaded from wherever the link points)."""
        try:
            return os.fdopen(open_below(self.root, self.key), "rb")
        except OSError as exc:  # its message names the last part only ("a.bin", "2024")
            raise OSError(exc.errno, exc.strerror, self.key) from None


@dataclass(frozen=True)
class RemoteObject:
    etag: str  # without quotes
    size: int


@dataclass
class Plan:
    upload_new: list[str] = field(default_factory=list)
    upload_changed: list[str] = field(default_factory=list)
    check_big: list[str] = field(default_factory=list)  # multipart objects: compare sha256
    delete: list[str] = field(default_factory=list)
    unchanged: int = 0


def plan_sync(local: dict[str, LocalFile], remote: dict[str, RemoteObject]) -> Plan:
    """Compare the folder (relative keys) with the objects under the prefix (relative keys):
    a plain ETag is an MD5; a multipart one ("…-N") needs the sha256 metadata."""
    plan = Plan()
    for key in sorted(local, key=upload_order):
        file, obj = local[key], remote.get(key)
        if obj is None:
            plan.upload_new.append(key)
        elif "-" in obj.etag and obj.size == file.size:
            plan.check_big.append(key)
        elif obj.etag == file.md5 and obj.size == file.size:
            plan.unchanged += 1
        else:
            plan.upload_changed.append(key)
    plan.delete = sorted(key for key in remote if key not in local)
    return plan


def upload_order(key: str) -> tuple[int, str]:
    """Assets before pages, so a page never points at an image not yet uploaded."""
    kind = content_type(key)
    return (1 if kind.startswith(("text/html", "application/xml", "application/json")) else 0, key)


def batches(keys: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


# --- the folder --------------------------------------------------------------------------


def scan_folder(folder: Path) -> dict[str, LocalFile]:
    """Every file under ``folder`` by its key ("/"-separated relative path), as the
    folder target lists them: no ``.git``, no writer's temporary file, no symlink (a
    link could point anywhere on the machine)."""
    found: dict[str, LocalFile] = {}
    for key, info in sorted(list_files(folder).items()):
        file = LocalFile(folder, key, info.st_size, "")
        with file.open() as handle:
            md5 = hashlib.file_digest(handle, "md5").hexdigest()
        found[key] = replace(file, md5=md5)
    return found


def sha256_of(file: LocalFile) -> str:
    with file.open() as handle:
        return sha256_from(handle)


def sha256_from(handle: BufferedReader) -> str:
    """The SHA-256 of what is left to read from ``handle``, as hex."""
    return hashlib.file_digest(handle, "sha256").hexdigest()


# --- the bucket --------------------------------------------------------------------------


class S3Target:
    """Publishes a folder to ``s3://bucket/prefix`` (see the module's docstring)."""

    def __init__(self, config: TargetConfig) -> None:
        self.config = config

    def publish(self, folder: Path, *, message: str) -> TargetResult:
        settings = settings_from_options(self.config.options)
        if not folder.is_dir():
            raise PublishError(f"s3 target: {folder} is not a folder", hint=_OPTIONS_HINT)
        try:
            local = scan_folder(folder)
        except OSError as exc:
            raise _unreadable(folder, exc) from None
        botocore = _import_botocore()
        try:
            bucket = Bucket(settings)
            return _sync(bucket, local, settings)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise explain(exc, settings) from None
        except OSError as exc:
            raise _unreadable(folder, exc) from None


def _unreadable(folder: Path, exc: OSError) -> PublishError:
    where = f"{exc.filename} in {folder}" if exc.filename else str(folder)
    return PublishError(
        f"s3 target: cannot read {where}: {exc.strerror or exc}",
        hint="A file or folder of the output changed while it was published (a symlink "
        "is never followed): publish again once the build has finished.",
    )


def _sync(bucket: Bucket, local: dict[str, LocalFile], settings: S3Settings) -> TargetResult:
    remote = bucket.objects()
    if not local and remote:
        raise PublishError(
            f"s3 target: the folder is empty; refusing to delete {len(remote)} objects",
            hint="Check that the build wrote the output before publishing.",
        )
    plan = plan_sync(local, remote)
    changed_big = [key for key in plan.check_big if bucket.sha256(key) != sha256_of(local[key])]
    plan.unchanged += len(plan.check_big) - len(changed_big)
    changed = plan.upload_changed + changed_big
    bucket.upload_all([(key, local[key]) for key in plan.upload_new + changed])
    bucket.delete(plan.delete)
    where = f"s3://{settings.bucket}/{settings.prefix}"
    return TargetResult(
        added=len(plan.upload_new),
        changed=len(changed),
        removed=len(plan.delete),
        detail=f"{where}, {plan.unchanged} unchanged",
    )


def _import_botocore() -> Any:
    try:
        import boto3  # noqa: F401
        import botocore.exceptions
    except ImportError:
        raise PublishError("s3 target: boto3 is not installed", hint=INSTALL_HINT) from None
    return botocore


def credentials(settings: S3Settings) -> tuple[str, str, str | None]:
    """The access key, secret key and session token from the environment."""
    key = os.environ.get(settings.access_key_env, "").strip()
    secret = os.environ.get(settings.secret_key_env, "").strip()
    missing = [
        name
        for name, value in ((settings.access_key_env, key), (settings.secret_key_env, secret))
        if not value
    ]
    if missing:
        raise PublishError(
            f"s3 target: no credentials, {missing[0]} is not set", hint=CREDENTIALS_HINT
        )
    return key, secret, os.environ.get(settings.session_token_env) or None


class Bucket:
    """The few S3 calls a publish makes, on keys relative to the prefix."""

    def __init__(self, settings: S3Settings) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        key, secret, token = credentials(settings)
        config = Config(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retries={"mode": "standard", "max_attempts": settings.max_attempts},
            s3={"addressing_style": settings.addressing_style},
            max_pool_connections=max(10, settings.workers),
            # Checksums only where the API requires them: several S3-compatible stores
            # reject the CRC32 trailers botocore sends by default since 1.36.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            region_name=settings.region,
        )
        self.client: Any = session.client("s3", endpoint_url=settings.endpoint_url, config=config)
        self.settings = settings
        self.transfer = TransferConfig(
            multipart_threshold=settings.multipart_threshold,
            multipart_chunksize=max(8 * MB, settings.multipart_threshold // 4),
            use_threads=False,
        )

    def objects(self) -> dict[str, RemoteObject]:
        """The objects under the prefix, by relative key ("folder" markers left out)."""
        prefix, found = self.settings.prefix, {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.bucket,
            Prefix=prefix,
            PaginationConfig={"PageSize": LIST_PAGE_SIZE},
        )
        for page in pages:
            for item in page.get("Contents", ()):
                key = item["Key"]
                if key.startswith(prefix) and not key.endswith("/"):
                    found[key[len(prefix) :]] = RemoteObject(
                        item.get("ETag", "").strip('"').lower(), int(item.get("Size", -1))
                    )
        return found

    def sha256(self, key: str) -> str:
        head = self.client.head_object(Bucket=self.settings.bucket, Key=self.settings.prefix + key)
        return str(head.get("Metadata", {}).get(SHA256_META, ""))

    def upload_all(self, files: list[tuple[str, LocalFile]]) -> None:
        def run(item: tuple[str, LocalFile]) -> None:
            self.upload(*item)

        if self.settings.workers == 1 or len(files) < 2:
            for item in files:
                run(item)
            return
        with ThreadPoolExecutor(max_workers=self.settings.workers) as pool:
            for _ in pool.map(run, files):
                pass

    def upload(self, key: str, file: LocalFile) -> None:
        full_key = self.settings.prefix + key
        kind = content_type(key)
        if file.size < self.settings.multipart_threshold:
            with file.open() as body:
                self.client.put_object(
                    Bucket=self.settings.bucket,
                    Key=full_key,
                    Body=body,
                    ContentType=kind,
                    ContentMD5=base64.b64encode(bytes.fromhex(file.md5)).decode("ascii"),
                )
            return
        with file.open() as body:  # hashed and sent from one handle: the same bytes
            digest = sha256_from(body)
            body.seek(0)
            extra = {"ContentType": kind, "Metadata": {SHA256_META: digest}}
            self.client.upload_fileobj(
                body, self.settings.bucket, full_key, ExtraArgs=extra, Config=self.transfer
            )

    def delete(self, keys: Iterable[str]) -> None:
        for batch in batches(list(keys), DELETE_BATCH):
            objects = [{"Key": self.settings.prefix + key} for key in batch]
            reply = self.client.delete_objects(
                Bucket=self.settings.bucket, Delete={"Objects": objects, "Quiet": True}
            )
            errors = reply.get("Errors") or []
            if errors:
                first = errors[0]
                raise PublishError(
                    f"s3 target: cannot delete {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message', '')}".strip(),
                    hint="Check that the credentials may delete objects (s3:DeleteObject).",
                )


# --- errors ------------------------------------------------------------------------------

_ACCESS_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AllAccessDisabled",
    "403",
}


def explain(exc: Exception, settings: S3Settings) -> PublishError:
    """A one-line PublishError with a hint for a botocore error."""
    where = f"s3://{settings.bucket}" + (
        f" at {settings.endpoint_url}" if settings.endpoint_url else ""
    )
    name = type(exc).__name__
    code, text = "", str(exc)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code, text = str(error.get("Code", "")), str(error.get("Message", "") or text)
    if code in {"NoSuchBucket", "404"}:
        return PublishError(
            f"s3 target: bucket {settings.bucket!r} does not exist" + _at(settings),
            hint="Create the bucket first, or fix the target's `bucket` and `endpoint_url`.",
        )
    if code in _ACCESS_CODES:
        return PublishError(
            f"s3 target: access denied to {where} ({code})",
            hint="Check the credentials and that they may list, put and delete objects.",
        )
    if name in {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"}:
        return PublishError(
            f"s3 target: cannot reach {settings.endpoint_url or 'the S3 endpoint'}",
            hint="Check the target's `endpoint_url` and the network; it is retried next run.",
        )
    if name == "ReadTimeoutError":
        return PublishError(
            f"s3 target: {where} did not answer in {settings.read_timeout:g} s",
            hint="Raise `read_timeout`, or try again later.",
        )
    if name in {"NoCredentialsError", "PartialCredentialsError"}:
        return PublishError("s3 target: no credentials", hint=CREDENTIALS_HINT)
    line = " ".join(text.split())[:300]
    return PublishError(f"s3 target: {where}: {code or name}: {line}", hint=_OPTIONS_HINT)


def _at(settings: S3Settings) -> str:
    return f" at {settings.endpoint_url}" if settings.endpoint_url else ""
