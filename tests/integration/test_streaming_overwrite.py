"""Overwriting a bucket key on the real stack (MinIO → Kafka → detector, captioner, embedder →
indexer → the query service): the key holds one version at a time. New bytes at a key replace
the old version's image, objects, captions and vectors in Postgres, pgvector and FAISS; the
same bytes again change nothing; removing the key removes what it holds; and a version replaced
before its captions are made leaves nothing behind either."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from infra.minio_events import minio_client
from infra.stack import Endpoints
from schemas import OBJECTS_DETECTED, ObjectsDetected, decode, image_id_from_object
from services.query.app import create_app
from services.query.streaming import streaming_catalog
from tests.integration.stream_kit import _all_running, _Tail, _until, stack_settings
from tests.integration.test_streaming_query import pipeline

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
__all__ = ["stack_settings"]  # the fixture: a database of this test's own, fresh groups

IMAGE_ROWS = "SELECT count(*) FROM images WHERE image_id = $1"
OBJECTS_OF = "SELECT object_id FROM objects WHERE image_id = $1"
CAPTIONS_OF = "SELECT count(*) FROM captions WHERE object_id = ANY($1::text[])"


def _asset(name: str) -> bytes:
    from ultralytics.utils import ASSETS

    return (Path(ASSETS) / name).read_bytes()


async def test_new_bytes_at_a_key_replace_the_old_version_everywhere_and_a_delete_empties_it(
    real_stack: Endpoints, stack_settings: Any, yolo_detector: Any, aligned_model_dir: Path
) -> None:
    settings = stack_settings
    embedder, services = pipeline(settings, yolo_detector, aligned_model_dir, captions=True)
    app = create_app(lambda: streaming_catalog(settings), settings.query)
    s3 = minio_client(settings.minio)
    bucket, prefix = real_stack.bucket, f"overwrite-test/{uuid.uuid4().hex[:8]}"
    key = f"{prefix}/photo.jpg"
    old, new = _asset("bus.jpg"), _asset("zidane.jpg")
    pg = await asyncpg.connect(settings.postgres.dsn.get_secret_value())

    async def put(data: bytes, key: str = key) -> str:
        done = await asyncio.to_thread(
            s3.put_object, bucket, key, io.BytesIO(data), len(data), content_type="image/jpeg"
        )
        assert done.etag is not None
        return image_id_from_object(bucket, key, done.etag)

    try:
        async with _all_running(services), AsyncTestClient(app) as client:
            state = _State(pg, client, app, embedder.identity.key)
            old_id = await put(old)
            old_objects = await state.until_complete(old_id)

            new_id = await put(new)
            assert new_id != old_id
            new_objects = await state.until_complete(new_id)
            assert not old_objects & new_objects
            await _until(lambda: state.traces(old_id, old_objects), 0, timeout_s=120)
            assert (await client.get(f"/api/images/{old_id}")).status_code == 404
            for oid in old_objects:
                assert (await client.get(f"/api/objects/{oid}")).status_code == 404
            assert old_id not in await state.found_by_photo(old)
            assert new_id in await state.found_by_photo(new)
            r = await client.get("/api/search/text", params={"q": "a bus", "limit": 200})
            assert r.status_code == 200, r.text
            assert not old_objects & {h["object_id"] for h in r.json()["hits"]}

            assert await put(new) == new_id  # the same bytes again: the same version, kept
            await state.until_reprocessed(new_id)
            assert await state.until_complete(new_id) == new_objects
            assert await state.traces(old_id, old_objects) == 0

            await asyncio.to_thread(s3.remove_object, bucket, key)
            await _until(lambda: state.traces(new_id, new_objects), 0, timeout_s=120)
            assert (await client.get(f"/api/images/{new_id}")).status_code == 404

            # overwritten as soon as it is detected, while its captions are still being made
            # (an upload overwritten before the detector reads it is skipped: its read is
            # conditional on its etag, so it would leave no captions to race)
            quick = f"{prefix}/quick.jpg"
            async with _Tail(real_stack, OBJECTS_DETECTED) as tail:
                first_id = await put(old, quick)
                value, _ = await tail.first(OBJECTS_DETECTED, _detections_of(first_id))
                second_id = await put(new, quick)
            first_objects = {o.object_id for o in decode(value, ObjectsDetected).objects}
            assert await state.until_complete(second_id)
            await _until(lambda: state.traces(first_id, first_objects), 0, timeout_s=120)
    finally:
        await pg.close()


def _detections_of(image_id: str) -> Callable[[bytes, dict[str, str]], bool]:
    def match(value: bytes, headers: dict[str, str]) -> bool:
        message = decode(value)
        return isinstance(message, ObjectsDetected) and message.image_id == image_id

    return match


class _State:
    """What Postgres, pgvector, the replica's FAISS and the query API hold of one image."""

    def __init__(self, pg: asyncpg.Connection, client: Any, app: Any, model_key: str) -> None:
        self.pg, self.client, self.app, self.model_key = pg, client, app, model_key

    async def table(self) -> str | None:
        sql = "SELECT table_name FROM vector_models WHERE model_key = $1"
        return await self.pg.fetchval(sql, self.model_key)  # type: ignore[no-any-return]

    async def objects(self, image_id: str) -> set[str]:
        return {r["object_id"] for r in await self.pg.fetch(OBJECTS_OF, image_id)}

    async def vectors(self, image_id: str, object_ids: set[str], modality: str) -> int:
        table = await self.table()
        if table is None:  # made with the model's first vector
            return 0
        sql = (
            f"SELECT count(*) FROM {table} WHERE modality = $3"
            " AND (image_id = $1 OR object_id = ANY($2::text[]))"
        )
        return int(await self.pg.fetchval(sql, image_id, sorted(object_ids), modality))

    def in_faiss(self, object_ids: set[str], modality: str) -> int:
        index = self.app.state.catalog.indexes.get(self.model_key, modality)
        return 0 if index is None else sum(index.contains(oid) for oid in object_ids)

    async def until_complete(self, image_id: str) -> set[str]:
        """Wait until every object of the image has its caption and both vectors in pgvector and
        in the replica's FAISS, and the API shows it; its object ids."""

        async def complete() -> int:
            objects = await self.objects(image_id)
            if not objects:
                return 0
            return int(
                await self.pg.fetchval(CAPTIONS_OF, sorted(objects)) == len(objects)
                and await self.vectors(image_id, objects, "image") == len(objects)
                and await self.vectors(image_id, objects, "caption") == len(objects)
                and self.in_faiss(objects, "image") == len(objects)
                and self.in_faiss(objects, "caption") == len(objects)
                and (await self.client.get(f"/api/images/{image_id}")).status_code == 200
            )

        await _until(complete, 1, timeout_s=300)
        return await self.objects(image_id)

    async def traces(self, image_id: str, object_ids: set[str]) -> int:
        """Rows, captions, pgvector rows and FAISS vectors left of the image and its objects."""
        return (
            int(await self.pg.fetchval(IMAGE_ROWS, image_id))
            + len(await self.objects(image_id))
            + int(await self.pg.fetchval(CAPTIONS_OF, sorted(object_ids)))
            + await self.vectors(image_id, object_ids, "image")
            + await self.vectors(image_id, object_ids, "caption")
            + self.in_faiss(object_ids, "image")
            + self.in_faiss(object_ids, "caption")
        )

    async def until_reprocessed(self, image_id: str) -> None:
        """Wait until the indexer has written the image's vectors again (a re-delivered upload
        runs the pipeline again; its upserts stamp `updated_at`)."""
        sql = f"SELECT max(updated_at) FROM {await self.table()} WHERE image_id = $1"
        before = await self.pg.fetchval(sql, image_id)

        async def rewritten() -> int:
            return int(await self.pg.fetchval(sql, image_id) > before)

        await _until(rewritten, 1, timeout_s=180)

    async def found_by_photo(self, data: bytes) -> set[str]:
        response = await self.client.post(
            "/api/search/image", params={"limit": 20}, files={"file": ("q.jpg", data, "image/jpeg")}
        )
        assert response.status_code == 200, response.text
        return {h["image_id"] for h in response.json()["hits"]}
