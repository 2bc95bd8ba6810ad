"""The in-process message bus: the embedded mode's transport around the same handlers that run
on Kafka. A handler takes a batch of typed messages and returns an `Outcome`: messages to
publish (topic, message) and dead letters (message + reason). Nothing is dropped silently:
a handler that raises sends its whole batch to `<topic>.dlq` with the error as the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from catalens.errors import CatalensError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadLetter:
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
        reason = error.reason if isinstance(error, CatalensError) else type(error).__name__
        self.dead.append(DeadLetter(message, reason, str(error)))


Handler = Callable[[Sequence[Any]], Awaitable[Outcome]]


@dataclass
class _Subscription:
    name: str
    handler: Handler
    batch_size: int
    queue: deque[Any] = field(default_factory=deque)


class InProcessBus:
    def __init__(self) -> None:
        self._subs: dict[str, list[_Subscription]] = defaultdict(list)
        self.dead_letters: dict[str, list[DeadLetter]] = defaultdict(list)
        self.on_dead_letter: Callable[[str, DeadLetter], None] | None = None
        self._lock = asyncio.Lock()

    def subscribe(self, topic: str, name: str, handler: Handler, batch_size: int = 16) -> None:
        self._subs[topic].append(_Subscription(name, handler, batch_size))

    def publish(self, topic: str, message: Any) -> None:
        for sub in self._subs.get(topic, []):
            sub.queue.append(message)

    def pending(self) -> int:
        return sum(len(s.queue) for subs in self._subs.values() for s in subs)

    async def drain(self) -> None:
        """Run handlers until every queue is empty. Batches stay within one subscription;
        downstream work is picked up in topic order, so an image is visible as soon as its
        vectors are indexed even while captions are still on their way."""
        async with self._lock:
            while True:
                ready = [(t, s) for t, subs in self._subs.items() for s in subs if s.queue]
                if not ready:
                    return
                for topic, sub in ready:
                    batch = [
                        sub.queue.popleft() for _ in range(min(sub.batch_size, len(sub.queue)))
                    ]
                    await self._run(topic, sub, batch)

    async def _run(self, topic: str, sub: _Subscription, batch: list[Any]) -> None:
        try:
            outcome = await sub.handler(batch)
        except Exception as exc:
            log.exception("handler %s failed on a batch of %d from %s", sub.name, len(batch), topic)
            outcome = Outcome()
            for message in batch:
                outcome.reject(message, exc)
        for dead in outcome.dead:
            self.dead_letters[f"{topic}.dlq"].append(dead)
            log.warning("dead letter on %s.dlq: %s (%s)", topic, dead.reason, dead.detail)
            if self.on_dead_letter:
                self.on_dead_letter(f"{topic}.dlq", dead)
        for out_topic, message in outcome.publish:
            self.publish(out_topic, message)
