"""Retry transient API failures (429, 5xx, timeouts, dropped connections) with backoff.

Delays grow exponentially with jitter; a server's `Retry-After` (seconds or an HTTP date,
or `retry-after-ms`) is honoured when present. Anything else (400, 401, 404, …) is raised at
once. `sleep` and `rng` are injectable so the schedule can be tested without waiting.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import openai

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.5
    max_s: float = 30.0
    max_retry_after_s: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        ceiling = min(self.max_s, self.base_s * 2**attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)  # "equal jitter"


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (when - (now or datetime.now(UTC))).total_seconds()


def _retry_after(exc: BaseException) -> float | None:
    if isinstance(exc, openai.APIStatusError):
        return retry_after_seconds(exc.response.headers)
    return None


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    max_retries: int,
    backoff: Backoff,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run `call`; on a transient failure wait and try again, at most `max_retries` times."""
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            if not is_transient(exc) or attempt >= max_retries:
                raise
            await sleep(backoff.delay(attempt, _retry_after(exc)))
            attempt += 1
