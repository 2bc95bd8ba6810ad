"""A query replica's own copy of the FAISS index, kept current by consuming `objects.embedded`.

Design (see docs/architecture.md): every query replica consumes `objects.embedded` itself, from
the beginning, in a consumer group of its own, so it needs no shard owner to answer and a new
vector is searchable as soon as the replica has read its event. Results are always hydrated
from Postgres, so an object the indexer has removed never appears even before its tombstone
reaches the replica."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict

import numpy as np
from aiokafka import AIOKafkaConsumer

from catalens.errors import CatalensError
from schemas import OBJECTS_EMBEDDED, ObjectsDeleted, ObjectsEmbedded, decode
from services.indexer.registry import IndexRegistry

log = logging.getLogger(__name__)


class FaissReplica:
    def __init__(self, indexes: IndexRegistry, bootstrap_servers: str, group_prefix: str) -> None:
        self.indexes = indexes
        self.bootstrap_servers = bootstrap_servers
        self.group_id = f"{group_prefix}-query-replica-{uuid.uuid4().hex[:8]}"
        self.objects_of_image: dict[str, set[str]] = defaultdict(set)
        self.applied = 0
        self._task: asyncio.Task[None] | None = None

    def apply(self, message: ObjectsEmbedded | ObjectsDeleted) -> None:
        if isinstance(message, ObjectsDeleted):
            ids = set(message.object_ids or ())
            if message.image_id is not None:
                ids |= self.objects_of_image.pop(message.image_id, set())
            for index in self.indexes.all():
                index.delete(sorted(ids))
            return
        key = message.embedder.to_identity().key
        for modality in ("image", "caption"):
            items = [v for v in message.vectors if v.modality == modality]
            if items:
                index = self.indexes.get_or_create(key, modality, message.embedder.dim)
                index.upsert(
                    [v.object_id for v in items], np.stack([v.vector.to_numpy() for v in items])
                )
                self.objects_of_image[message.image_id].update(v.object_id for v in items)
        self.applied += 1

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            OBJECTS_EMBEDDED,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        self._task = asyncio.create_task(self._consume(consumer))

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        try:
            async for record in consumer:
                try:
                    message = decode(record.value, (ObjectsEmbedded, ObjectsDeleted))
                except CatalensError as exc:  # the indexer dead-letters it; we only skip
                    log.warning("replica skips offset %d: %s", record.offset, exc)
                    continue
                await asyncio.to_thread(self.apply, message)  # type: ignore[arg-type]
        finally:
            await consumer.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
