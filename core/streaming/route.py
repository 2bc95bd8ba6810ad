"""The Kafka runner of a route (`core.routes.Route`): one topic, consumed in micro-batches by a
service's consumer group, through one handler. Per batch: decode each record (an undecodable
one goes to `<topic>.dlq` and the rest go on), call the handler (`core.routes.run_isolated`),
publish its messages keyed by image with their trace context and its rejects to the `.dlq`,
wait for every acknowledgement, then commit. Transient failures retry with backoff; past the
bound the batch stays uncommitted and the service stops."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy

from core.errors import CatalensError
from core.retry import is_transient, with_retries
from core.routes import Outcome, Route, run_isolated
from core.settings import StreamingSettings
from core.streaming.dead_letters import DeadRecord, Source, dead_record
from core.streaming.metrics import ServiceMetrics
from schemas import Envelope, dlq, encode_wire, partition_key

log = logging.getLogger(__name__)


@dataclass
class _Batch:
    messages: list[Envelope] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)  # event id → where it was read
    read_at: dict[int, Source] = field(default_factory=dict)  # id(message) → where it was read
    undecodable: list[DeadRecord] = field(default_factory=list)


async def _keep_bytes(message: Any) -> None:
    """FastStream decoder: nothing to decode, the runner reads the raw records."""
    return None


class RouteRunner:
    def __init__(
        self,
        service: str,
        route: Route[Any],
        broker: KafkaBroker,
        settings: StreamingSettings,
        metrics: ServiceMetrics,
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        self.service, self.route, self.broker = service, route, broker
        self.settings, self.metrics, self.on_fatal = settings, metrics, on_fatal
        # a group per route: a rebalance of one topic never pauses another
        self.group = f"{settings.group_prefix}-{service}.{route.name}"
        self.failure: BaseException | None = None
        self.subscriber: Any = None

    def subscribe(self) -> None:
        self.subscriber = subscriber = self.broker.subscriber(
            self.route.topic,
            batch=True,
            group_id=self.group,
            max_records=self.route.max_records,
            batch_timeout_ms=self.settings.max_wait_ms,
            auto_offset_reset=self.settings.auto_offset_reset,
            ack_policy=AckPolicy.MANUAL,
            decoder=_keep_bytes,
            title=f"{self.group}/{self.route.name}",
        )

        for metric in (self.metrics.consumed, self.metrics.produced, self.metrics.failed):
            metric.labels(self.route.name)  # exported as 0 from the start
        self.metrics.batch_seconds.labels(self.route.name)

        async def consume(msg: KafkaMessage) -> None:
            await self.consume(msg)

        subscriber(consume)

    async def consume(self, msg: Any) -> None:
        raw = msg.raw_message
        records = tuple(raw) if isinstance(raw, (tuple, list)) else (raw,)
        if self.failure is not None:  # stopping: leave everything for redelivery
            _rewind(msg, records)
            return
        started, name = time.perf_counter(), self.route.name
        self.metrics.consumed.labels(name).inc(len(records))
        batch = self._decode(records)
        try:
            published, dead = await with_retries(
                lambda: self._handle_and_publish(batch),
                self.settings.retry_attempts,
                self.settings.retry_backoff_s,
                self.settings.retry_backoff_max_s,
                f"{self.group}/{name}",
            )
        except Exception as exc:
            self._give_up(records, exc)
            _rewind(msg, records)
            return
        await self._commit(msg)
        self.metrics.produced.labels(name).inc(published)
        for record in dead:
            self.metrics.dead_lettered.labels(name, record.headers["x-reason"]).inc()
        self.metrics.batch_seconds.labels(name).observe(time.perf_counter() - started)
        self._update_lag(msg, records)

    async def wait_assigned(self) -> None:
        """Until the consumer owns partitions and knows where it starts reading in each."""
        while True:
            consumer = getattr(self.subscriber, "consumer", None)
            assigned = consumer.assignment() if consumer is not None else set()
            if consumer is not None and assigned:
                for tp in assigned:
                    await consumer.position(tp)
                return
            await asyncio.sleep(0.1)

    def _decode(self, records: Sequence[Any]) -> _Batch:
        batch = _Batch()
        for record in records:
            source = Source.of(record)
            try:
                messages = self.route.decode(record.value or b"")
            except CatalensError as exc:
                detail = str(exc)
                batch.undecodable.append(
                    dead_record(record.value or b"", source, exc.reason, detail, self.group)
                )
                log.warning("%s/%s: undecodable record: %s", self.group, self.route.name, detail)
                continue
            for message in messages:
                batch.messages.append(message)
                batch.sources.setdefault(message.event_id, source)
                batch.read_at[id(message)] = source
        return batch

    async def _handle_and_publish(self, batch: _Batch) -> tuple[int, list[DeadRecord]]:
        outcome = await self._run_handler(batch.messages) if batch.messages else Outcome()
        fallback = Source(self.route.topic, -1, -1)
        dead = list(batch.undecodable)
        for letter in outcome.dead:
            # the very message read (a redelivered duplicate shares its event id), else a
            # handler's copy of it (same event id), else unknown
            source = batch.read_at.get(id(letter.message)) or batch.sources.get(
                getattr(letter.message, "event_id", ""), fallback
            )
            body = letter.message if isinstance(letter.message, Envelope) else b""
            dead.append(dead_record(body, source, letter.reason, letter.detail, self.group))
            log.warning("%s: dead letter (%s): %s", self.group, letter.reason, letter.detail)
        pending = [await self._send(dlq(self.route.topic), r.value, r.key, r.headers) for r in dead]
        for topic, message in outcome.publish:
            headers = {"traceparent": message.traceparent}
            if message.tracestate:
                headers["tracestate"] = message.tracestate
            key = partition_key(message)
            value = encode_wire(message, frames=self.settings.vector_frames)
            pending.append(await self._send(topic, value, key, headers))
        await asyncio.gather(*(p for p in pending if inspect.isawaitable(p)))
        return len(outcome.publish), dead

    async def _run_handler(self, messages: Sequence[Envelope]) -> Outcome:
        return await run_isolated(self.route, messages, is_transient)

    async def _send(
        self, topic: str, value: bytes, key: bytes | None, headers: dict[str, str]
    ) -> Any:
        return await self.broker.publish(value, topic, key=key, headers=headers, no_confirm=True)

    async def _commit(self, msg: Any) -> None:
        try:
            await msg.ack()
        except KafkaError as exc:  # a rebalance took the partitions: they will be redelivered
            log.warning(
                "%s/%s: commit failed (%r); batch will be redelivered",
                self.group,
                self.route.name,
                exc,
            )

    def _give_up(self, records: Sequence[Any], exc: BaseException) -> None:
        self.failure = exc
        self.metrics.failed.labels(self.route.name).inc()
        where = ", ".join(f"{r.topic}[{r.partition}]@{r.offset}" for r in records[:5])
        log.error(
            "%s/%s: giving up on a batch of %d (%s%s): %s. Left uncommitted for redelivery; "
            "stopping the service.",
            self.group,
            self.route.name,
            len(records),
            where,
            ", ..." if len(records) > 5 else "",
            exc,
        )
        self.on_fatal(exc)

    def _update_lag(self, msg: Any, records: Sequence[Any]) -> None:
        consumer = getattr(msg, "consumer", None)
        if not isinstance(consumer, AIOKafkaConsumer):
            return
        for tp, offset in _offsets(records, max).items():
            end = consumer.highwater(tp)
            if end is not None:
                self.metrics.lag.labels(self.route.name, str(tp.partition)).set(end - offset - 1)


def _offsets(records: Sequence[Any], pick: Callable[[int, int], int]) -> dict[TopicPartition, int]:
    """Per partition, the first (`min`) or last (`max`) offset of the batch."""
    found: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        found[tp] = pick(found.get(tp, record.offset), record.offset)
    return found


def _rewind(msg: Any, records: Sequence[Any]) -> None:
    """Seek each partition back to the batch's first record: nothing past it is committed,
    and the records come again (to this consumer, or to the next owner of the partition)."""
    consumer = getattr(msg, "consumer", None)
    if isinstance(consumer, AIOKafkaConsumer):
        for tp, offset in _offsets(records, min).items():
            consumer.seek(tp, offset)
