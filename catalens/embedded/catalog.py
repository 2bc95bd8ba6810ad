"""The query side of the embedded stack: implements `services.query.ports.Catalog`.

Reads come from `SearchCatalog` (FAISS + Postgres). Ingest validates the bytes first (a clear
error for bad input), then publishes `ImageUploaded` and drains the bus, so an accepted image
is searchable when the call returns."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from catalens.embedded.bootstrap import EmbeddedStack, open_stack
from catalens.embedded.repair import finish_incomplete
from core.errors import CatalensError, ImageError, NotIndexed
from core.imaging import ImageLimits, load_image
from core.retry import is_transient
from core.settings import Settings
from core.storage_keys import crop_prefix, image_key
from schemas import ImageDeleted, ImageUploaded, image_id_from_bytes
from services.query.look import photo_objects
from services.query.ports import IngestResult
from services.query.search import SearchCatalog, read_or_none

BUCKET = "catalog"
PRODUCER = "query"


class EmbeddedCatalog(SearchCatalog):
    def __init__(self, stack: EmbeddedStack, limits: ImageLimits | None = None) -> None:
        super().__init__(
            stack.pg,
            stack.view.index.indexes,
            stack.embedder,
            stack.embed_runner,
            stack.store,
            limits
            or ImageLimits(
                max_bytes=stack.settings.query.max_upload_bytes,
                max_pixels=stack.settings.query.max_pixels,
            ),
            photo_objects(stack.settings, stack.detector, stack.detect_runner),
            fusion=stack.settings.search.fusion,
        )
        self.stack = stack
        self._inflight: dict[str, asyncio.Future[IngestResult | CatalensError]] = {}

    async def image_bytes(self, image_id: str) -> bytes | None:
        return await read_or_none(self.stack.store, image_key(image_id))

    async def ready(self) -> dict[str, bool]:
        return {**await super().ready(), "detector": self.stack.detector is not None}

    # -- writes ----------------------------------------------------------------------------------
    async def ingest(self, filename: str, data: bytes, source: str | None) -> IngestResult:
        [result] = await self.ingest_many([(filename, data, source)])
        if isinstance(result, CatalensError):
            raise result
        return result

    async def ingest_many(
        self, items: Sequence[tuple[str, bytes, str | None]]
    ) -> list[IngestResult | CatalensError]:
        """Validate, store and publish a batch of uploads, then run the pipeline over them.

        Each content id is processed once: images already in the catalog, repeats inside the
        batch and uploads another request is processing right now (claimed in `_inflight`)
        all answer `duplicate=True` once the first one is done. A new image is indexed
        (`pending=False`, its object count) only when its row is there and none of its work
        was set aside on a transient failure; work aside answers `pending=True` (finished by
        the next retry, `stack.aside`); an image the pipeline refused for good is `NotIndexed`.
        Raises a transient error (e.g. `asyncpg.PostgresConnectionError`) when the catalog
        cannot be read before anything is published."""
        results: list[IngestResult | CatalensError | None] = []
        fresh: list[int] = []
        claimed: dict[str, asyncio.Future[IngestResult | CatalensError]] = {}
        waits: list[tuple[int, asyncio.Future[IngestResult | CatalensError]]] = []
        try:
            for filename, data, source in items:
                image_id = image_id_from_bytes(data)
                exists = await self.stack.pg.image_exists(image_id)
                if image_id in self._inflight:  # checked after the await: no step in between
                    results.append(None)
                    waits.append((len(results) - 1, self._inflight[image_id]))
                    continue
                if exists:
                    results.append(await self._settled(image_id, duplicate=True))
                    continue
                claim = claimed[image_id] = self._inflight[image_id] = asyncio.Future()
                try:
                    image = await asyncio.to_thread(
                        load_image, data, self.limits, self.stack.settings.detector.max_side
                    )
                except ImageError as exc:
                    results.append(exc)
                    claim.set_result(exc)
                    continue
                uploaded = _uploaded(image_id, data, filename, source)  # before storing
                await self.stack.store.put(image_key(image_id), data)
                self.stack.decoded.put(image_id, image)  # the detector takes it: decoded once
                self.stack.bus.publish(self.stack.settings.minio.topic, uploaded)
                results.append(IngestResult(image_id, 0, False))
                fresh.append(len(results) - 1)
            await self.stack.bus.drain()
        finally:
            self.stack.decoded.clear()
            for image_id, claim in claimed.items():
                del self._inflight[image_id]
                if not claim.done():
                    claim.set_result(IngestResult(image_id, 0, False))
        for i in fresh:
            done = results[i]
            assert isinstance(done, IngestResult)
            results[i] = await self._settled(done.image_id, duplicate=False)
        for i, claim in waits:
            first = await claim
            if isinstance(first, IngestResult):
                first = await self._settled(first.image_id, duplicate=True)
            results[i] = first
        return [r for r in results if r is not None]

    async def _settled(self, image_id: str, duplicate: bool) -> IngestResult | CatalensError:
        """Where an image stands after the pipeline ran over it: indexed, aside or refused."""
        if image_id not in self.stack.aside.images():
            try:
                view = await self.stack.pg.get_image(image_id)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                view = None  # the catalog is away: its work gave up too and is aside
            else:
                if view is not None:
                    return IngestResult(image_id, len(view.objects), duplicate)
                return NotIndexed(f"image {image_id} was dead-lettered by the pipeline")
        return IngestResult(image_id, 0, duplicate, pending=True)

    async def delete_image(self, image_id: str) -> bool:
        if not await self.stack.pg.image_exists(image_id):
            return False
        deleted = ImageDeleted(
            producer=PRODUCER, image_id=image_id, bucket=BUCKET, key=image_key(image_id)
        )
        self.stack.bus.publish(self.stack.settings.minio.topic, deleted)
        await self.stack.bus.drain()
        await self.stack.store.delete(image_key(image_id))
        await self.stack.store.delete_prefix(crop_prefix(image_id))
        return True


def _uploaded(image_id: str, data: bytes, filename: str, source: str | None) -> ImageUploaded:
    """The upload's event. File and folder names come from disks as well as from HTTP (which
    refuses control characters at the edge): undecodable bytes and control characters become
    "?" so that no name can keep an image out of the catalog."""
    filename, source = printable(filename), printable(source)[:255] if source else source
    return ImageUploaded(
        producer=PRODUCER,
        image_id=image_id,
        bucket=BUCKET,
        key=image_key(image_id),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        source=source,
        filename=filename or None,
    )


def printable(name: str) -> str:
    """`name` as UTF-8 text without control characters (surrogate-escaped bytes, NUL, ...)."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join("?" if ord(c) < 32 or ord(c) == 127 else c for c in text)[:1024]


@asynccontextmanager
async def embedded_catalog(settings: Settings, **models: Any) -> AsyncIterator[EmbeddedCatalog]:
    """The embedded stack as a Catalog factory for `create_app`: opened in the app's lifespan,
    on the app's event loop. `models` may pass loaded detector/embedder/captioner."""
    async with open_stack(settings, **models) as stack:
        await finish_incomplete(stack, progress=False)  # what a crash left half-done
        yield EmbeddedCatalog(stack)
