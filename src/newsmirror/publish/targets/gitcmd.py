"""How the git target runs git: the environment every git command gets (no prompt, no
repository overrides from the caller, only safe transports, stalls given up), URLs
with their credentials hidden, the ``-c`` options of a bulk add or push, and the waits
between a push's tries. Plain values and functions; :mod:`.git` runs the commands."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

GIT_TIMEOUT = 600.0  # seconds for one git command (a push of a large first commit)
# The only transports git may use, whatever the user's git config says (protocol.allow).
ALLOWED_PROTOCOLS = "file:git:http:https:ssh"
# A transfer that moves under 1 kB/s for this long is given up (a remote that hangs),
# so a stalled host costs a minute per try, not GIT_TIMEOUT.
STALL_SECONDS = 60
_CLEARED = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
)


def git_env() -> dict[str, str]:
    """The environment for git: the caller's, without repository overrides, never
    prompting."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_ALLOW_PROTOCOL"] = ALLOWED_PROTOCOLS  # never ext::, fd:: or other helpers
    env.setdefault("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
    env.setdefault("GIT_HTTP_LOW_SPEED_TIME", str(STALL_SECONDS))
    env.setdefault(
        "GIT_SSH_COMMAND",
        f"ssh -o BatchMode=yes -o ConnectTimeout={STALL_SECONDS}"
        f" -o ServerAliveInterval=15 -o ServerAliveCountMax={max(1, STALL_SECONDS // 15)}",
    )
    env["LC_ALL"] = "C"
    return env


def redact(url: str) -> str:
    """``url`` without a password or token (``https://user:tok@host/x`` -> ``https://***@host/x``)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


@dataclass
class Done:
    code: int
    out: str
    err: str

    def last_line(self) -> str:
        err = self.err.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        return lines[-1] if lines else f"git exited with {self.code}"


BULK_FILES = 1000  # a commit of this many files or more is pushed without a search for deltas


def push_config(files: int, first: bool) -> list[str]:
    """``-c`` options for a push of a commit of ``files`` changed files (``first``: the
    first push from here to that remote). A bulk push (a first publish) skips git's
    search for deltas and compresses fast: pages of different articles hardly delta
    (the benchmark's cold site: 28 MB pushed with deltas, 31 MB without), and the search
    took most of a cold run's push (10.5 s against 2.3 s). An hourly push keeps it: a
    rewritten listing or feed deltas well against its last version."""
    return (
        ["-c", "pack.window=0", "-c", "pack.compression=1"] if first or files >= BULK_FILES else []
    )


def add_config(files: int) -> list[str]:
    """``-c`` options for ``git add`` of about ``files`` changed files. A bulk add (a
    first publish) writes the blobs into one pack (git's bulk check-in of files over
    ``core.bigFileThreshold``) instead of a file each: making a file is the dearest step
    of a cold publish on some disks (the benchmark's cold site, 4,775 blobs: 2.3 s of
    system time as loose objects), compressed fast as loose objects are (zlib's default
    level took 1.35 s of CPU for that site's 71 MB, level 1 0.9 s, for a pack 3% larger).
    An hourly add keeps loose objects, so that a hundred runs do not leave a hundred
    small packs."""
    bulk = ["-c", "core.bigFileThreshold=1", "-c", "pack.compression=1"]
    return bulk if files >= BULK_FILES else []


def nul(names: Iterable[str]) -> str:
    """Names for git's ``-z --stdin`` (or ``--pathspec-file-nul``)."""
    return "".join(f"{name}\0" for name in names)


def backoff_delays(retries: int, backoff: float) -> list[float]:
    """The waits between tries: backoff, 2 x backoff, 4 x backoff, ..."""
    return [backoff * 2**i for i in range(retries)]
