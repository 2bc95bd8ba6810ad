"""Where a bench's time goes: wrap named functions (sync or async, module functions or class
attributes) for the length of a run and add up the wall seconds spent inside each."""

from __future__ import annotations

import functools
import importlib
import inspect
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# (stage, module or module:Class, attribute)
Probe = tuple[str, str, str]


class Stages:
    """Wall seconds and calls per named stage, from wrapped functions (sync or async). Calls
    from several threads at once add up safely."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self.add(name, time.perf_counter() - started)

            return timed_async

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return timed

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] += seconds
            self.calls[name] += 1

    def reset(self) -> None:
        with self._lock:
            self.seconds.clear()
            self.calls.clear()


@contextmanager
def probed(stages: Stages, probes: Sequence[Probe]) -> Iterator[None]:
    """Each probe's function replaced by its timed wrapper while the block runs."""
    undo = []
    for stage, where, attr in probes:
        module_name, _, cls = where.partition(":")
        owner: Any = importlib.import_module(module_name)
        if cls:
            owner = getattr(owner, cls)
        original = getattr(owner, attr)
        setattr(owner, attr, stages.wrap(stage, original))
        undo.append((owner, attr, original))
    try:
        yield
    finally:
        for owner, attr, original in reversed(undo):
            setattr(owner, attr, original)
