"""The reconciler's adapters and its composition root: the bucket listing (`minio`, a page at a
time), the catalog's ids (`PgStore.known_images`) and the keyed publisher (aiokafka)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaProducer
from minio import Minio

from core.catalog.pg_open import open_pg
from core.settings import Settings
from core.storage.minio_store import open_minio_store
from core.streaming.reconcile import Listed, ReconcilePorts
from schemas import ImageUploaded, encode, partition_key

PAGE = 1000  # objects per catalog query (S3 lists at most 1,000 per request too)


def bucket_pages(client: Minio, bucket: str, page: int = PAGE) -> AsyncIterator[list[Listed]]:
    """The bucket's current objects, `page` at a time; each page is read in a thread (the
    client paginates the listing itself, request by request, as the iterator is consumed)."""

    async def pages() -> AsyncIterator[list[Listed]]:
        listing = client.list_objects(bucket, recursive=True, include_user_meta=True)
        while chunk := await asyncio.to_thread(_take, listing, page):
            yield chunk

    return pages()


def _take(listing: Iterator[Any], n: int) -> list[Listed]:
    return [_listed(o) for o in itertools.islice(listing, n)]


def _listed(obj: Any) -> Listed:
    meta = {str(k): str(v) for k, v in (obj.metadata or {}).items()}
    return Listed(
        key=obj.object_name,
        etag=obj.etag or "",
        size=int(obj.size or 0),
        last_modified=obj.last_modified,
        content_type=obj.content_type or meta.get("content-type"),
        metadata=meta,
    )


class KafkaPublish:
    """Publishes to the images topic, keyed like every event of the image (its uri)."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    async def __call__(self, events: list[ImageUploaded]) -> None:
        sent = [
            await self.producer.send(
                self.topic,
                encode(event),
                key=partition_key(event),
                headers=[("traceparent", event.traceparent.encode())],
            )
            for event in events
        ]
        await asyncio.gather(*sent)


@asynccontextmanager
async def open_reconciler(settings: Settings) -> AsyncIterator[ReconcilePorts]:
    """The reconcile mode's composition root: the MinIO bucket, the catalog, a producer."""
    store = await open_minio_store(settings.minio, settings.minio.bucket)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        client_id="catalens-reconciler",
        acks="all",
        enable_idempotence=settings.streaming.idempotent_producer,
    )
    async with open_pg(settings) as (catalog, _server):
        await producer.start()
        try:
            yield ReconcilePorts(
                bucket=settings.minio.bucket,
                pages=lambda: bucket_pages(store.client, settings.minio.bucket),
                known=catalog.known_images,
                publish=KafkaPublish(producer, settings.minio.topic),
            )
        finally:
            await producer.stop()
