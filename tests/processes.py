"""This test process's own processes, as /proc shows them."""

from __future__ import annotations

import os
from pathlib import Path


def children() -> dict[int, list[tuple[int, bytes]]]:
    """Every process's children: parent pid -> [(pid, command line)]."""
    found: dict[int, list[tuple[int, bytes]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        found.setdefault(ppid, []).append((int(entry.name), cmdline))
    return found


def extraction_workers() -> list[int]:
    """The extraction workers of this process: the children of its fork server."""
    tree = children()
    servers = [pid for pid, cmdline in tree.get(os.getpid(), []) if b"forkserver" in cmdline]
    return [pid for server in servers for pid, _cmdline in tree.get(server, [])]
