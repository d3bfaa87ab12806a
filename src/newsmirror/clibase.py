"""The command line's shared parts: the context every command gets (config, archive
and output folders with their locks) and the handler that turns errors into a
message, a hint and an exit code."""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

import click

from newsmirror.config import Config, archive_url_from_env, load_config
from newsmirror.errors import ArchiveError, ConfigError, NewsmirrorError, OutputError
from newsmirror.lock import DEFAULT_WAIT, archive_lock, folder_lock
from newsmirror.store import Archive
from newsmirror.store.opening import damaged_archive_error

F = TypeVar("F", bound=Callable[..., Any])

# Text from the web or an archive (titles, source names, file names, a server's error
# text) may hold C0 and C1 controls: ESC, CSI (U+009B), BEL and CR could drive or
# overwrite the reader's terminal. Each becomes one visible character (U+FFFD), so
# that offsets into the text (search marks) still hold; so does a lone surrogate (a
# file name's undecodable byte), which a UTF-8 stdout refuses to print.
_CONTROLS = {c: "\ufffd" for c in (*range(0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000))}
_CONTROLS_BUT_LAYOUT = {c: r for c, r in _CONTROLS.items() if chr(c) not in "\t\n"}
# What json.dumps(ensure_ascii=False) leaves as it is: DEL, C1, the line separators and
# lone surrogates (which no UTF-8 stdout prints).
_JSON_RAW = {c: f"\\u{c:04x}" for c in (*range(0x7F, 0xA0), 0x2028, 0x2029, *range(0xD800, 0xE000))}


def shown(text: str) -> str:
    """One field of outside text as it may reach a terminal: no control characters
    (tab and line breaks included, so it stays one field on one line)."""
    return text.translate(_CONTROLS)


def echo(text: str, *, err: bool = False) -> None:
    """Print lines that hold outside text: controls shown as U+FFFD, the tabs and line
    breaks of the layout kept."""
    click.echo(text.translate(_CONTROLS_BUT_LAYOUT), err=err)


def json_text(data: Any, indent: int = 2) -> str:
    """``data`` as JSON readable in a terminal: non-ASCII text as it is, but no raw
    control character (json escapes C0; DEL, C1 and U+2028/9 are escaped here too)."""
    return json.dumps(data, ensure_ascii=False, indent=indent).translate(_JSON_RAW)


def known_error(exc: BaseException) -> NewsmirrorError | None:
    """The error to show for ``exc``: a NewsmirrorError as it is, a SQLite error as an
    archive error (the archive is the only database), the first of either inside an
    exception group; None for anything else (a bug: its traceback is wanted)."""
    if isinstance(exc, NewsmirrorError):
        return exc
    if isinstance(exc, sqlite3.Error):
        return damaged_archive_error(exc)
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = known_error(inner)
            if found is not None:
                return found
    return None


def handle_errors(func: F) -> F:
    """Turn NewsmirrorError into 'error: …' + 'hint: …' and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (NewsmirrorError, sqlite3.Error, BaseExceptionGroup) as exc:
            error = known_error(exc)
            if error is None:
                raise
            message = " ".join(error.message.split())  # always one line
            click.echo(f"error: {shown(message)}", err=True)
            if error.hint:
                click.echo(f"hint: {shown(' '.join(error.hint.split()))}", err=True)
            sys.exit(error.exit_code)

    return wrapper  # type: ignore[return-value]


class Context:
    def __init__(
        self,
        config_path: Path,
        archive_path: Path | None,
        wait: float = DEFAULT_WAIT,
        config_given: bool = True,
    ) -> None:
        self.config_path = config_path
        self.archive_override = archive_path
        self.wait = wait
        self.config_given = config_given

    def config(self, *, sources: bool = False) -> Config:
        """The config, its archive replaced by --archive; with ``sources``, one that
        names at least one source. Without a config file, --archive alone runs with
        the default settings (when no -c or NEWSMIRROR_CONFIG named a file)."""
        override = self.archive_override
        if override is not None and not self.config_given and not self.config_path.exists():
            config = Config(path=self.config_path.absolute(), archive=override)
        else:
            config = load_config(self.config_path)
        if override is not None:
            config = dataclasses.replace(config, archive=override.absolute(), archive_url=None)
        elif (url := archive_url_from_env()) is not None:
            config = dataclasses.replace(config, archive_url=url)
        if sources and not config.sources:
            raise ConfigError(
                "no sources configured",
                path=str(config.path),
                key="sources",
                hint='Add a [[sources]] table with name = "…" and feeds = ["https://…"]'
                " (README, Configuration), or run `newsmirror init` for a starter file.",
            )
        return config

    def archive_location(self) -> Path | str:
        """--archive, else NEWSMIRROR_ARCHIVE_URL, else the config's archive."""
        if self.archive_override is not None:
            return self.archive_override
        if (url := archive_url_from_env()) is not None:
            return url
        try:
            return self.config().archive_location
        except ConfigError as exc:
            exc.hint = "Pass --archive PATH, or run `newsmirror init` to write a config."
            raise

    @contextmanager
    def archive(
        self, *, create: bool = False, lock: bool = True, path: Path | str | None = None
    ) -> Iterator[Archive]:
        """Open the archive (--archive, else the config's), holding its lock unless
        ``lock`` is false; a missing archive is an error unless ``create``. ``path``: a
        SQLite file or a PostgreSQL URL."""
        path = path or self.archive_location()
        if isinstance(path, str):
            from newsmirror.store.postgres import run_lock

            media = self.media_dir()
            with (
                Archive.open(path, create=create, media_dir=media) as arc,
                run_lock(arc, wait=self.wait) if lock else nullcontext(),
            ):
                yield arc
            return
        if not create and not path.is_file():
            raise _no_archive(path)
        if lock:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ArchiveError(f"cannot create archive {path}: {exc}") from exc
            with archive_lock(path, wait=self.wait), Archive.open(path, create=create) as arc:
                yield arc
        else:
            with Archive.open(path, create=create) as arc:
                yield arc

    def media_dir(self) -> Path:
        """Where a PostgreSQL archive's images go: the config's media folder (beside its
        default archive file), else ./media."""
        try:
            return self.config().media_dir
        except ConfigError:
            return Path.cwd() / "media"

    @contextmanager
    def output(self, out: Path, archive: Archive | None = None) -> Iterator[Path]:
        """Make the output folder and hold its lock for the block; refuse one that holds
        ``archive``'s file (a site or tree written there would sit beside the archive,
        and be published with it)."""
        if archive is not None and _holds(out, archive.path):
            raise OutputError(
                f"{out} holds the archive {archive.path}",
                hint='Give the output its own folder, e.g. "public".',
            )
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create the output folder {out}: {exc.strerror or exc}",
                hint="Name a folder that can be created (not an existing file).",
            ) from exc
        with folder_lock(out, wait=self.wait):
            yield out


def _holds(folder: Path, path: Path) -> bool:
    """Whether ``folder`` is, or is above, the folder of the file at ``path``."""
    try:
        return path.is_file() and path.resolve().parent.is_relative_to(folder.resolve())
    except OSError:
        return False


def _no_archive(path: Path) -> ArchiveError:
    return ArchiveError(
        f"no archive at {path}", hint="Run `newsmirror init` or `newsmirror fetch` first."
    )


pass_ctx = click.make_pass_decorator(Context)
