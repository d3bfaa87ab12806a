"""The demo's address (kept apart so that `fetch` can recognise it without importing
the demo)."""

from __future__ import annotations

from urllib.parse import urlsplit

# A reserved name that never resolves (RFC 2606): the demo routes it to its local server.
DEMO_HOST = "demo.newsmirror.invalid"


def is_demo_config(feeds: list[str]) -> bool:
    """Whether every feed is the demo's (reachable only while ``newsmirror demo`` runs)."""
    return bool(feeds) and all(urlsplit(f).hostname == DEMO_HOST for f in feeds)
