"""The package's exception tree.

Every error raised on purpose by newsmirror derives from :class:`NewsmirrorError`.
Each carries a ``hint`` (what the user can do about it) and an ``exit_code`` the
CLI uses, so an operator's cron job can tell a broken config from a dead source.
"""

from __future__ import annotations

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_SOURCES_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_ARCHIVE = 4
EXIT_OUTPUT = 5
EXIT_BUSY = 6
EXIT_TARGETS_FAILED = 7


class NewsmirrorError(Exception):
    """Root of every error newsmirror raises on purpose."""

    exit_code = EXIT_CONFIG
    default_hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint


class ConfigError(NewsmirrorError):
    """The configuration file is missing or invalid."""

    exit_code = EXIT_CONFIG
    default_hint = "Check the file against the Configuration section of the README."

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if path:
            where = f"{path}: "
        if key:
            where += f"[{key}] "
        super().__init__(where + message, hint=hint)
        self.path = path
        self.key = key


class ArchiveError(NewsmirrorError):
    """The archive cannot be opened, migrated or written."""

    exit_code = EXIT_ARCHIVE
    default_hint = "Check the archive path and free disk space; `newsmirror init` creates one."


class OutputError(NewsmirrorError):
    """An output folder cannot be written, or a path would escape it."""

    exit_code = EXIT_OUTPUT
    default_hint = "Check that the output folder exists, is writable and has free space."


class BusyError(NewsmirrorError):
    """Another newsmirror run holds the archive or the output folder for too long."""

    exit_code = EXIT_BUSY
    default_hint = "Wait for the other run to finish, or give it longer with --wait SECONDS."


class FetchError(NewsmirrorError):
    """One HTTP fetch failed (stored per source; it never stops a run)."""

    exit_code = EXIT_SOURCES_FAILED


class FeedParseError(NewsmirrorError):
    """A response could not be read as a feed."""

    exit_code = EXIT_SOURCES_FAILED


class ImportFormatError(NewsmirrorError):
    """A file given to an importer is not in the expected format."""

    exit_code = EXIT_CONFIG


class ExtractionError(NewsmirrorError):
    """No article text could be found on a page."""

    exit_code = EXIT_SOURCES_FAILED


class AddError(NewsmirrorError):
    """A URL given to ``newsmirror add`` cannot be archived."""

    exit_code = EXIT_SOURCES_FAILED


class PublishError(NewsmirrorError):
    """A publish target (git, folder, s3) could not be brought up to date."""

    exit_code = EXIT_TARGETS_FAILED


class ServeError(NewsmirrorError):
    """``newsmirror serve`` cannot listen (the port is taken or not allowed)."""

    exit_code = EXIT_USAGE
