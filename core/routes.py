"""What a handler returns and how a service declares where its messages enter.

- `Outcome`: messages to publish (topic, message) and dead letters (message + reason).
- `Route`: one topic → one handler with its ports, batch size and accepted message types. Each
  service declares its routes once (`services/<name>/routes.py`); the Kafka runner
  (`core.streaming.route.RouteRunner`) and the in-process bus (`core.bus.InProcessBus`) both
  subscribe the very same list.
- `run_isolated`: how both transports call a handler. A batch the handler raises on is retried
  one message at a time, so only the message it cannot take is dead-lettered; transient errors
  (`core.retry.is_transient`) go up to be retried by the transport.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from schemas import Envelope, SchemaError, check_accepted, decode
from schemas.errors import CatalensError

log = logging.getLogger(__name__)

P = TypeVar("P")


@dataclass(frozen=True)
class DeadLetter:
    """A message that can never succeed, with the reason (`x-reason` on Kafka) and a detail."""

    message: Any
    reason: str
    detail: str


@dataclass
class Outcome:
    publish: list[tuple[str, Any]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    def emit(self, topic: str, message: Any) -> None:
        self.publish.append((topic, message))

    def reject(self, message: Any, error: Exception) -> None:
        """Dead-letter `message`: a `CatalensError`'s reason, else the exception's class name."""
        reason = error.reason if isinstance(error, CatalensError) else type(error).__name__
        self.dead.append(DeadLetter(message, reason, str(error)))

    def extend(self, other: Outcome) -> None:
        self.publish.extend(other.publish)
        self.dead.extend(other.dead)


Handler = Callable[[Sequence[Any], Any], Awaitable[Outcome]]
Decoder = Callable[[bytes], Sequence[Envelope]]


@dataclass(frozen=True)
class Route(Generic[P]):
    """One topic consumed through one handler.

    `name` labels metrics and the consumer group; `accepts` restricts the message types (any
    other goes to `<topic>.dlq` as a `schema_error`); `max_records` is the batch size on both
    transports; `decoder` replaces `schemas.decode` for records that are not our envelopes
    (MinIO's S3 events on `images`)."""

    name: str
    topic: str
    handler: Callable[[Sequence[Any], P], Awaitable[Outcome]]
    ports: P
    accepts: tuple[type[Envelope], ...] = ()
    max_records: int = 32
    decoder: Decoder | None = None

    def decode(self, data: bytes) -> Sequence[Envelope]:
        """The messages of one Kafka record; raises a `CatalensError` for one that is not."""
        if self.decoder is not None:
            return self.decoder(data)
        return [decode(data, self.accepts or None)]

    def refuse(self, message: Any) -> SchemaError | None:
        """Why an in-process message would not decode on Kafka (wrong type), else None."""
        if not isinstance(message, Envelope):
            return SchemaError(f"not a message: {type(message).__name__}", field="type")
        try:
            check_accepted(type(message), self.accepts or None)
        except SchemaError as exc:
            return exc
        return None


async def run_isolated(
    route: Route[Any], messages: Sequence[Any], is_transient: Callable[[BaseException], bool]
) -> Outcome:
    """The route's handler on `messages`; a batch it raises on is split and retried one
    message at a time, so one bad message never takes the others with it. Transient errors
    are raised for the transport to retry; any other error on a single message dead-letters
    it with the error's reason."""
    try:
        return await route.handler(messages, route.ports)
    except Exception as exc:
        if is_transient(exc):
            raise
        if len(messages) == 1:
            log.warning("%s: handler failed on one message: %r", route.name, exc)
            outcome = Outcome()
            outcome.reject(messages[0], exc)
            return outcome
        log.warning(
            "%s: handler failed on a batch of %d (%r); one by one", route.name, len(messages), exc
        )
    merged = Outcome()
    for message in messages:
        merged.extend(await run_isolated(route, [message], is_transient))
    return merged
