"""Running coroutines together so that one failure ends them all cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any


async def run_all(coros: Iterable[Coroutine[Any, Any, Any]]) -> None:
    """Run ``coros`` concurrently; on the first error cancel the others, wait until they
    have ended, then raise that error as it is (not wrapped in an ExceptionGroup).

    With a bare ``asyncio.gather`` the others keep running after the error propagates,
    use a client that is already closed and are torn down at shutdown, each printing a
    traceback before the real message (e.g. a full disk while storing feeds).
    """
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
