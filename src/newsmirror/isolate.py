"""One bad item never stops a run.

Each feed, page and image is worked on by itself: an unexpected error there (a
parser's, the decoder's, the extractor's) becomes that item's recorded failure,
with a one-line reason (:func:`failure_reason`). Errors that concern the whole
run, the archive above all (locked, corrupt, disk full), are not an item's
failure: they stop the run cleanly, once, with their own message
(:func:`newsmirror.aio.run_all` cancels the other items' work and raises it alone).
"""

from __future__ import annotations

import sqlite3

from newsmirror.errors import ArchiveError, NewsmirrorError, OutputError

MAX_REASON = 300
# Errors that stop the whole run instead of failing one item.
FATAL: tuple[type[Exception], ...] = (ArchiveError, OutputError)


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def one_line(exc: BaseException) -> str:
    """An error as one short line: its message (or its type when it has none)."""
    exc = _leaf(exc)
    text = exc.message if isinstance(exc, NewsmirrorError) else str(exc)
    text = " ".join(text.split())
    if not isinstance(exc, NewsmirrorError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def failure_reason(exc: Exception) -> str:
    """The one-line reason an item failed; errors that must stop the run are raised again
    (an sqlite3 error as :class:`ArchiveError`)."""
    if isinstance(exc, FATAL):
        raise exc
    if isinstance(exc, sqlite3.Error):
        raise ArchiveError(f"cannot use the archive: {exc}") from exc
    return one_line(exc)
