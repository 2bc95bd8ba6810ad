"""The query side of the embedded stack: implements `services.query.ports.Catalog`.

kNN runs on the sharded FAISS index (fan-out + merge), objects are hydrated and filtered from
Postgres; a filter too selective for the over-fetch falls back to pgvector's filtered HNSW scan.
Ingest validates the bytes first (a clear error for bad input), then publishes `ImageUploaded`
and drains the bus, so an accepted image is searchable when the call returns."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import numpy as np

from catalens.embedded.bootstrap import EmbeddedStack, open_stack
from catalens.embedded.filters import is_unfiltered, matches
from catalens.errors import CatalensError, ImageError
from catalens.imaging import ImageLimits, load_image
from catalens.settings import Settings
from catalens.storage_keys import crop_key, crop_prefix, image_key
from schemas import IMAGES, ImageDeleted, ImageUploaded, image_id_from_bytes
from services.query.ports import (
    ImageView,
    IngestResult,
    ObjectView,
    SearchFilters,
    SearchHit,
)

BUCKET = "catalog"
PRODUCER = "query"
OVERFETCH = 4


class EmbeddedCatalog:
    def __init__(self, stack: EmbeddedStack, limits: ImageLimits | None = None) -> None:
        self.stack = stack
        self.limits = limits or ImageLimits(
            max_bytes=stack.settings.query.max_upload_bytes,
            max_pixels=stack.settings.query.max_pixels,
        )

    @property
    def model_key(self) -> str:
        return self.stack.embedder.identity.key

    # -- search ----------------------------------------------------------------------------------
    async def search_text(
        self, text: str, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]:
        vector = await self.stack.embed_runner.run(self.stack.embedder.embed_texts, [text])
        return await self._search(vector[0], filters, limit, offset)

    async def search_image(
        self, data: bytes, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]:
        image = load_image(data, self.limits)
        vector = await self.stack.embed_runner.run(self.stack.embedder.embed_images, [image])
        return await self._search(vector[0], filters, limit, offset)

    async def similar(
        self, object_id: str, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]:
        ids, vectors = await self.stack.pg.vectors(self.model_key, "image", object_id)
        if not ids:
            return []
        return await self._search(vectors[0], filters, limit, offset, exclude=object_id)

    async def _search(
        self,
        vector: np.ndarray,
        filters: SearchFilters,
        limit: int,
        offset: int,
        exclude: str | None = None,
    ) -> list[SearchHit]:
        index = self.stack.indexes.get(self.model_key, "image")
        if index is None or len(index) == 0:
            return []
        want = offset + limit + (1 if exclude else 0)
        fetch = want if is_unfiltered(filters) else want * OVERFETCH
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        while True:
            k = min(fetch, len(index))
            [hits] = await asyncio.to_thread(index.search, query, k)
            views = await self.stack.pg.get_objects([oid for oid, _ in hits])
            found = [
                SearchHit(score=score, object=views[oid])
                for oid, score in hits
                if oid in views
                and oid != exclude
                and matches(views[oid], filters)
                and (filters.min_score is None or score >= filters.min_score)
            ]
            if len(found) >= want or k >= len(index):
                return found[offset : offset + limit]
            if fetch >= want * OVERFETCH**3:  # very selective filter: let pgvector filter
                return [
                    hit
                    for hit in await self.stack.pg.search(
                        self.model_key, vector, limit + 1, filters, offset
                    )
                    if hit.object.object_id != exclude
                ][:limit]
            fetch *= OVERFETCH

    # -- reads -----------------------------------------------------------------------------------
    async def get_object(self, object_id: str) -> ObjectView | None:
        return await self.stack.pg.get_object(object_id)

    async def get_image(self, image_id: str) -> ImageView | None:
        return await self.stack.pg.get_image(image_id)

    async def crop_bytes(self, object_id: str) -> bytes | None:
        view = await self.stack.pg.get_object(object_id)
        if view is None:
            return None
        return await self._read(crop_key(view.image_id, object_id))

    async def image_bytes(self, image_id: str) -> bytes | None:
        return await self._read(image_key(image_id))

    async def _read(self, key: str) -> bytes | None:
        try:
            return await self.stack.store.get(key)
        except KeyError:
            return None

    async def recent(self, limit: int) -> list[ObjectView]:
        return await self.stack.pg.recent(limit)

    async def labels(self) -> list[str]:
        return await self.stack.pg.labels()

    async def ready(self) -> dict[str, bool]:
        return {
            "postgres": await self.stack.pg.ping(),
            "index": self.stack.indexes is not None,
            "embedder": self.stack.embedder is not None,
            "detector": self.stack.detector is not None,
        }

    # -- writes ----------------------------------------------------------------------------------
    async def ingest(self, filename: str, data: bytes, source: str | None) -> IngestResult:
        [result] = await self.ingest_many([(filename, data, source)])
        if isinstance(result, CatalensError):
            raise result
        return result

    async def ingest_many(
        self, items: Sequence[tuple[str, bytes, str | None]]
    ) -> list[IngestResult | ImageError]:
        """Validate, store and publish a batch of uploads, then run the pipeline over them.
        Images already in the catalog (same content id) are not processed again."""
        results: list[IngestResult | ImageError] = []
        fresh: list[int] = []
        for filename, data, source in items:
            image_id = image_id_from_bytes(data)
            if await self.stack.pg.image_exists(image_id):
                results.append(IngestResult(image_id, await self._count(image_id), True))
                continue
            try:
                await asyncio.to_thread(load_image, data, self.limits)
            except ImageError as exc:
                results.append(exc)
                continue
            await self.stack.store.put(image_key(image_id), data)
            self.stack.bus.publish(IMAGES, _uploaded(image_id, data, filename, source))
            results.append(IngestResult(image_id, 0, False))
            fresh.append(len(results) - 1)
        await self.stack.bus.drain()
        for i in fresh:
            done = results[i]
            assert isinstance(done, IngestResult)
            results[i] = IngestResult(done.image_id, await self._count(done.image_id), False)
        return results

    async def _count(self, image_id: str) -> int:
        view = await self.stack.pg.get_image(image_id)
        return len(view.objects) if view else 0

    async def delete_image(self, image_id: str) -> bool:
        if not await self.stack.pg.image_exists(image_id):
            return False
        deleted = ImageDeleted(
            producer=PRODUCER, image_id=image_id, bucket=BUCKET, key=image_key(image_id)
        )
        self.stack.bus.publish(IMAGES, deleted)
        await self.stack.bus.drain()
        await self.stack.store.delete(image_key(image_id))
        await self.stack.store.delete_prefix(crop_prefix(image_id))
        return True


def _uploaded(image_id: str, data: bytes, filename: str, source: str | None) -> ImageUploaded:
    return ImageUploaded(
        producer=PRODUCER,
        image_id=image_id,
        bucket=BUCKET,
        key=image_key(image_id),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        source=source,
        filename=filename[:1024] if filename else None,
    )


@asynccontextmanager
async def embedded_catalog(settings: Settings, **models: Any) -> AsyncIterator[EmbeddedCatalog]:
    """The embedded stack as a Catalog factory for `create_app`: opened in the app's lifespan,
    on the app's event loop. `models` may pass loaded detector/embedder/captioner."""
    async with open_stack(settings, **models) as stack:
        yield EmbeddedCatalog(stack)
