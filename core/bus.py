"""The in-process message bus: the embedded mode's transport around the same routes that run on
Kafka (`services/<name>/routes.py`). It keeps Kafka's rules:

- a message of a type the route does not accept goes to `<topic>.dlq` (`schema_error`);
- batches are the route's `max_records`;
- a handler that raises on a batch is retried one message at a time (`core.routes.run_isolated`),
  so only the message it cannot take is dead-lettered;
- transient failures retry with backoff up to a bound (`RetryPolicy`); past it, the batch is
  dead-lettered with reason `gave_up` (there is no redelivery in one process), never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.retry import GaveUp, is_transient, with_retries
from core.routes import DeadLetter, Outcome, Route, run_isolated

log = logging.getLogger(__name__)
GAVE_UP = "gave_up"  # the dead-letter reason of a batch whose transient failure outlasted retries


@dataclass(frozen=True)
class RetryPolicy:
    """Tries of a batch on transient failures; the first wait doubles up to `backoff_max_s`."""

    attempts: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 10.0


@dataclass
class _Subscription:
    route: Route[Any]
    queue: deque[Any] = field(default_factory=deque)


class InProcessBus:
    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self._subs: dict[str, list[_Subscription]] = defaultdict(list)
        self.dead_letters: dict[str, list[DeadLetter]] = defaultdict(list)
        self.on_dead_letter: Callable[[str, DeadLetter], None] | None = None
        self._lock = asyncio.Lock()

    def subscribe(self, route: Route[Any]) -> None:
        """Consume `route.topic` through `route.handler`, as the Kafka runner would."""
        self._subs[route.topic].append(_Subscription(route))

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
                ready = [s for subs in self._subs.values() for s in subs if s.queue]
                if not ready:
                    return
                for sub in ready:
                    size = min(sub.route.max_records, len(sub.queue))
                    await self._run(sub.route, [sub.queue.popleft() for _ in range(size)])

    async def _run(self, route: Route[Any], batch: list[Any]) -> None:
        outcome, accepted = Outcome(), []
        for message in batch:
            refused = route.refuse(message)
            if refused is None:
                accepted.append(message)
            else:
                outcome.reject(message, refused)
        if accepted:
            outcome.extend(await self._handle(route, accepted))
        topic = route.topic
        for dead in outcome.dead:
            self.dead_letters[f"{topic}.dlq"].append(dead)
            log.warning("dead letter on %s.dlq: %s (%s)", topic, dead.reason, dead.detail)
            if self.on_dead_letter:
                self.on_dead_letter(f"{topic}.dlq", dead)
        for out_topic, message in outcome.publish:
            self.publish(out_topic, message)

    async def _handle(self, route: Route[Any], batch: list[Any]) -> Outcome:
        policy = self.retry
        try:
            return await with_retries(
                lambda: run_isolated(route, batch, is_transient),
                policy.attempts,
                policy.backoff_s,
                policy.backoff_max_s,
                f"bus/{route.name}",
            )
        except GaveUp as exc:
            log.error("%s: %s; dead-lettering the batch of %d", route.name, exc, len(batch))
            outcome = Outcome()
            outcome.dead.extend(DeadLetter(m, GAVE_UP, str(exc)) for m in batch)
            return outcome
