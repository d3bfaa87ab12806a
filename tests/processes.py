"""This test process's own processes, as /proc shows them, and its threads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def only_this_thread(timeout: float = 10.0) -> None:
    """Wait for the test process's other threads to end (an earlier test's server
    handler closing its connection, say), and fail naming any that do not: code that
    forks runs its work in-process while another thread runs (forked.side_by_side)."""
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
    left = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    assert not left, f"threads still running: {left}"


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
