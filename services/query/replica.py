"""A query replica's own copy of the FAISS index, kept current by consuming `objects.embedded`.

Design (see docs/architecture.md): every query replica consumes `objects.embedded` itself, from
the beginning, in a consumer group of its own, so it needs no shard owner to answer and a new
vector is searchable as soon as the replica has read its event. Results are always hydrated
from Postgres, so an object the indexer has removed never appears even before its tombstone
reaches the replica.

A bucket delete names the image only by its uri (an S3 delete event carries no etag), so the
replica also reads `objects.detected` to learn which images (and objects) live at which uri;
a tombstone arrives on both topics and is applied on each (idempotent), the second time behind
that image's vectors."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict

import numpy as np
from aiokafka import AIOKafkaConsumer

from catalens.errors import CatalensError
from schemas import (
    OBJECTS_DETECTED,
    OBJECTS_EMBEDDED,
    ObjectsDeleted,
    ObjectsDetected,
    ObjectsEmbedded,
    decode,
)
from services.indexer.registry import IndexRegistry

log = logging.getLogger(__name__)


class FaissReplica:
    def __init__(self, indexes: IndexRegistry, bootstrap_servers: str, group_prefix: str) -> None:
        self.indexes = indexes
        self.bootstrap_servers = bootstrap_servers
        self.group_id = f"{group_prefix}-query-replica-{uuid.uuid4().hex[:8]}"
        self.objects_of_image: dict[str, set[str]] = defaultdict(set)
        self.images_at_uri: dict[str, set[str]] = defaultdict(set)
        self.applied = 0
        self._task: asyncio.Task[None] | None = None

    def apply(self, message: ObjectsDetected | ObjectsEmbedded | ObjectsDeleted) -> None:
        if isinstance(message, ObjectsDetected):
            self.images_at_uri[str(message.image_uri)].add(message.image_id)
            self.objects_of_image[message.image_id].update(o.object_id for o in message.objects)
            return
        if isinstance(message, ObjectsDeleted):
            self._delete(message)
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

    def _delete(self, message: ObjectsDeleted) -> None:
        """Kept mappings: the same tombstone comes again on the other topic."""
        image_ids = {message.image_id} if message.image_id is not None else set()
        if message.image_uri is not None:
            image_ids |= self.images_at_uri.get(str(message.image_uri), set())
        ids = set(message.object_ids or ())
        if message.object_ids is None:
            for image_id in image_ids:
                ids |= self.objects_of_image.get(image_id, set())
        if ids:
            for index in self.indexes.all():
                index.delete(sorted(ids))

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            OBJECTS_DETECTED,
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
                    message = decode(
                        record.value, (ObjectsDetected, ObjectsEmbedded, ObjectsDeleted)
                    )
                except CatalensError as exc:  # the indexer dead-letters it; we only skip
                    log.warning("replica skips offset %d: %s", record.offset, exc)
                    continue
                try:
                    await asyncio.to_thread(self.apply, message)  # type: ignore[arg-type]
                except Exception:  # e.g. a vector of another dim: skip it, keep replicating
                    log.exception("replica cannot apply offset %d", record.offset)
        finally:
            await consumer.stop()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
