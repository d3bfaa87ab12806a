"""httpx, imported without its command-line client.

When click, rich and pygments are installed (newsmirror's own dependencies bring
them), ``import httpx`` also imports ``httpx._main``, its command-line client,
and with it rich's syntax highlighting and pygments' lexers: about a third of
newsmirror's start-up time, for code newsmirror never runs. Marking the module
as absent for the duration of the import makes httpx take its documented
fallback (a stub ``httpx.main``); the mark is removed afterwards, so that
``import httpx._main`` still works for anyone who wants it.
"""

from __future__ import annotations

import sys

if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
    try:
        import httpx as httpx
    finally:
        del sys.modules["httpx._main"]
else:  # pragma: no cover - httpx was imported before newsmirror
    import httpx as httpx

__all__ = ["httpx"]
