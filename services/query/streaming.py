"""The query service on the real stack: a `Catalog` over Postgres (written by the indexer), its
own FAISS copy of the live index generation (`LiveIndex`: latest shard snapshots + the tail of
the generation's topic, switched when the alias moves), and MinIO. Uploads go into the bucket;
MinIO's notification to Kafka `images` drives the pipeline, so the same path serves S3 clients
and the UI.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import PurePosixPath

from prometheus_client import CollectorRegistry

from core.catalog.pg_open import open_pg
from core.catalog.pg_store import PgStore
from core.imaging import ImageLimits, load_image
from core.index.index_metrics import register_index_metrics
from core.index.live_index import LiveIndex, open_live_index
from core.index.log_follower import LogFollower
from core.inference import ModelRunner
from core.ports import Detector
from core.settings import Settings
from core.storage.minio_store import MinioObjectStore, open_minio_store
from schemas import image_id_from_object
from schemas.ids import s3_key
from services.query.look import photo_objects
from services.query.ports import IngestResult
from services.query.search import SearchCatalog, read_or_none

UPLOAD_PREFIX = "uploads/"


class StreamingCatalog(SearchCatalog):
    def __init__(
        self,
        base: SearchCatalog,
        images: MinioObjectStore,
        replica: LiveIndex,
        settings: Settings,
    ) -> None:
        super().__init__(
            base.pg,
            base.indexes,
            base.embedder,
            base.embed_runner,
            base.crops,
            base.limits,
            base.photo_objects,
            fusion=base.fusion,
        )
        self.images, self.replica, self.settings = images, replica, settings

    async def image_bytes(self, image_id: str) -> bytes | None:
        key = await self._image_key(image_id)
        return None if key is None else await read_or_none(self.images, key)

    async def ingest(self, filename: str, data: bytes, source: str | None) -> IngestResult:
        """Validate, then put into the bucket under a content-derived key: the same bytes get
        the same key and etag, hence the same image id (a re-upload is a duplicate). The check
        and the put run under a Postgres advisory lock on the key, so concurrent uploads of the
        same bytes (to any query replica) store and process it once."""
        await asyncio.to_thread(load_image, data, self.limits, self.settings.detector.max_side)
        suffix = PurePosixPath(filename or "").suffix.lower()[:8]
        key = f"{UPLOAD_PREFIX}{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
        async with self.pg.advisory_lock(f"upload:{self.images.bucket}/{key}"):
            etag = await self.images.etag(key)
            if etag is not None:
                image_id = image_id_from_object(self.images.bucket, key, etag)
                return IngestResult(image_id, await self._count(image_id), True)
            etag = await self.images.put_with_etag(key, data, "application/octet-stream")
        image_id = image_id_from_object(self.images.bucket, key, etag)
        return IngestResult(image_id, 0, False, pending=True)

    async def delete_image(self, image_id: str) -> bool:
        key = await self._image_key(image_id)
        if key is None:
            return False
        await self.images.delete(key)  # the bucket's delete event removes it downstream
        return True

    async def _image_key(self, image_id: str) -> str | None:
        uri = await self.pg.image_uri(image_id)
        return s3_key(uri, self.images.bucket) if uri else None

    async def _count(self, image_id: str) -> int:
        view = await self.pg.get_image(image_id)
        return len(view.objects) if view else 0

    async def ready(self) -> dict[str, bool]:
        return {**await super().ready(), "replica": self.replica.running}

    def index_status(self) -> dict[str, object]:
        follower = self.replica.follower
        if follower is None:
            return super().index_status()
        extra = {"generation": follower.generation.name, "behind": follower.behind()}
        return {**super().index_status(), **extra}

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """The replica's generation, vectors, records behind and switches on /metrics."""
        register_index_metrics(self.replica, registry, "catalens_query")

    async def serve_generation(self, follower: LogFollower) -> None:
        """The alias moved: search the new generation, with its model for queries."""
        from core.embedding.factory import build_embedder

        wanted = follower.generation.embedder
        embedder = self.embedder
        if wanted and wanted.get("key") != self.model_key:
            config = self.settings.embedder.model_copy(
                update={"backend": wanted["backend"], "model": wanted["model"]}
            )
            embedder = await self.embed_runner.run(build_embedder, config, self.settings.data_dir)
        self.embedder, self.indexes = embedder, follower.index.indexes


@asynccontextmanager
async def streaming_catalog(settings: Settings) -> AsyncIterator[StreamingCatalog]:
    """Open everything the query service needs on the real stack; the app's lifespan."""
    async with open_pg(settings) as (pg, _server), _catalog(settings, pg) as catalog:
        yield catalog


@asynccontextmanager
async def _catalog(settings: Settings, pg: PgStore) -> AsyncIterator[StreamingCatalog]:
    from core.embedding.factory import build_embedder

    runner, detect_runner = ModelRunner("embedder"), ModelRunner("detector")
    images = await open_minio_store(settings.minio, settings.minio.bucket)
    crops = await open_minio_store(settings.minio, settings.minio.crops_bucket)
    live = await open_live_index(settings)
    try:
        embedder = await runner.run(build_embedder, settings.embedder, settings.data_dir)
        limits = ImageLimits(
            max_bytes=settings.query.max_upload_bytes, max_pixels=settings.query.max_pixels
        )
        follower = await live.start()
        photo = None
        if settings.query.detect_objects:
            photo = photo_objects(
                settings, await detect_runner.run(load_detector, settings), detect_runner
            )
        base = SearchCatalog(
            pg,
            follower.index.indexes,
            embedder,
            runner,
            crops,
            limits,
            photo,
            fusion=settings.search.fusion,
        )
        catalog = StreamingCatalog(base, images, live, settings)
        await catalog.serve_generation(follower)
        live.on_switch = catalog.serve_generation
        yield catalog
    finally:
        await live.stop()
        runner.close()
        detect_runner.close()


def load_detector(settings: Settings) -> Detector:
    """The catalog's detector (`settings.detector`), for the objects of query photos."""
    from core.detection.yolo import YoloDetector

    return YoloDetector.from_settings(settings.detector)
