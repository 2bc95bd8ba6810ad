"""Transient failures (a broker, database or object store that is briefly away) are retried
with exponential backoff up to a bound; anything else is the message's fault or a bug."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from minio.error import ServerError
from urllib3.exceptions import HTTPError as Urllib3Error

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    ServerError,
    Urllib3Error,
)


class GaveUp(Exception):
    """A transient failure outlasted every retry; the batch stays uncommitted."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, _TRANSIENT):
        return True
    if isinstance(error, KafkaError):
        return bool(getattr(error, "retriable", False))
    return isinstance(error, OSError) and not isinstance(error, FileNotFoundError)


def backoff_delays(attempts: int, first_s: float, max_s: float) -> list[float]:
    """The waits between `attempts` tries: first_s, 2·first_s, ... capped at max_s."""
    return [min(first_s * 2**i, max_s) for i in range(attempts - 1)]


async def with_retries(
    action: Callable[[], Awaitable[T]], attempts: int, first_s: float, max_s: float, what: str
) -> T:
    """Run `action`; on a transient failure wait and try again, at most `attempts` times."""
    delays = backoff_delays(attempts, first_s, max_s)
    for attempt in range(attempts):
        try:
            return await action()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt == attempts - 1:
                raise GaveUp(f"{what}: still failing after {attempts} tries: {exc!r}") from exc
            delay = delays[attempt]
            log.warning("%s: transient %r; retry %d in %.1fs", what, exc, attempt + 1, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")
