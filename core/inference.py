"""Run blocking model calls off the event loop, one model call at a time per model."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ModelRunner:
    """A single worker thread per model: torch/tflite already use every core inside one call,
    so queueing calls keeps latency predictable and the event loop free."""

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


async def close_quietly(resource: object) -> None:
    """Close a model or client that holds threads or connections (sync or async close)."""
    for method_name in ("aclose", "close"):
        method = getattr(resource, method_name, None)
        if method is not None:
            result = method()
            if asyncio.iscoroutine(result):
                await result
            return
