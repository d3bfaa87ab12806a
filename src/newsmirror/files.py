"""Writing files atomically: a temporary file in the same folder, renamed over the target."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so that readers see the old file or the new one, never
    half of one (a killed run leaves at most a stray ``.nm-*.tmp``).

    The temporary file is created like any other file (mode 0666 less the umask: 0644
    under the usual umask 022), not with ``mkstemp``'s 0600, so that a web server running
    as another user can read a published site."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".nm-{secrets.token_hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
