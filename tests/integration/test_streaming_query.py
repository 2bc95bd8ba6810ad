"""The query service on the real stack: images uploaded to MinIO (by an S3 client or through
`POST /api/images`) flow through detector → embedder → indexer and become searchable through the
HTTP API of `streaming_catalog` (Postgres + its own FAISS replica fed by `objects.embedded`);
removing an image from the bucket removes it from search."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from infra.minio_events import minio_client
from infra.stack import Endpoints
from schemas import image_id_from_object
from services.query.app import create_app
from services.query.streaming import streaming_catalog
from tests.integration.stream_kit import _all_running, _until, _value, stack_settings

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
__all__ = ["stack_settings"]  # the fixture: a database of this test's own, fresh groups


def sample_images(n_products: int = 10, n_scenes: int = 10) -> list[Path]:
    from core.paths import shared_path

    products, scenes = (
        shared_path("datasets", "fashion-products"),
        shared_path("datasets", "coco128"),
    )
    if products is None or scenes is None:
        pytest.skip("needs ../shared/datasets/fashion-products and coco128")
    return (
        sorted((products / "images").glob("*.jpg"))[:n_products]
        + sorted((scenes / "images").rglob("*.jpg"))[:n_scenes]
    )


def unique_jpeg(path: Path) -> bytes:
    """The picture with a few pixels of this run's own colour: new bytes, same content."""
    from PIL import Image

    image = Image.open(path).convert("RGB")
    colour = tuple(uuid.uuid4().bytes[:3])
    for x in range(4):
        image.putpixel((x, 0), colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def pipeline(
    settings: Any, detector: Any, model_dir: Path, *, captions: bool = False
) -> tuple[Any, list[Any]]:
    """The committed aligned embedder and the pipeline's services (detector, captioner when
    `captions`, embedder, indexer), writing vectors to a log of this test's own."""
    from core.embedding.aligned import AlignedEmbedder
    from services.captioner.app import create_app as captioner_app
    from services.detector.app import create_app as detector_app
    from services.embedder.app import create_app as embedder_app
    from services.indexer.app import create_app as indexer_app

    settings.embedder.backend, settings.embedder.model = "aligned", str(model_dir)
    settings.streaming.embedded_topic = f"objects.embedded.t{uuid.uuid4().hex[:8]}"
    embedder = AlignedEmbedder.load(model_dir)
    captioner = [captioner_app(settings, embedder=embedder)] if captions else []
    services = [
        detector_app(settings, detector),
        *captioner,
        embedder_app(settings, embedder),
        indexer_app(settings),
    ]
    return embedder, services


async def test_uploaded_images_are_searchable_through_the_query_api_and_a_removed_one_is_gone(
    real_stack: Endpoints, stack_settings: Any, yolo_detector: Any, aligned_model_dir: Path
) -> None:
    settings = stack_settings
    embedder, services = pipeline(settings, yolo_detector, aligned_model_dir)
    app = create_app(lambda: streaming_catalog(settings), settings.query)
    s3 = minio_client(settings.minio)
    bucket, prefix = real_stack.bucket, f"query-test/{uuid.uuid4().hex[:8]}"
    photos: dict[str, bytes] = {}  # image id -> the uploaded bytes
    keys: dict[str, str] = {}  # image id -> its key in the bucket

    async with _all_running(services), AsyncTestClient(app) as client:
        for i, path in enumerate(sample_images()):
            data = await asyncio.to_thread(path.read_bytes)
            key = f"{prefix}/{i:02d}-{path.name}"
            put = await asyncio.to_thread(
                s3.put_object, bucket, key, io.BytesIO(data), len(data), content_type="image/jpeg"
            )
            image_id = image_id_from_object(bucket, key, put.etag)
            photos[image_id], keys[image_id] = data, key
        new = unique_jpeg(sample_images(11, 0)[-1])
        response = await client.post("/api/images", files={"file": ("new.jpg", new, "image/jpeg")})
        assert response.status_code == 202, response.text  # queued: searchable once indexed
        body = response.json()
        assert (body["status"], body["state_url"]) == (
            "accepted",
            f"/api/images/{body['image_id']}",
        )
        photos[body["image_id"]] = new
        same = unique_jpeg(sample_images(12, 0)[-1])  # six uploads of new bytes at once,
        async with streaming_catalog(settings) as replica:  # to a second query replica
            answers = await asyncio.gather(
                *(replica.ingest("same.jpg", same, None) for _ in range(6))
            )
        assert sorted(a.duplicate for a in answers) == [False] + [True] * 5
        assert len({a.image_id for a in answers}) == 1
        photos[answers[0].image_id] = same

        async def indexed() -> int:
            found = 0
            for image_id in photos:
                r = await client.get(f"/api/images/{image_id}")
                found += r.status_code == 200 and len(r.json()["objects"]) > 0
            return found

        await _until(indexed, len(photos), timeout_s=400)
        objects_of: dict[str, set[str]] = {}
        for image_id, data in photos.items():
            view = (await client.get(f"/api/images/{image_id}")).json()
            objects_of[image_id] = {o["object_id"] for o in view["objects"]}
            assert "image" in {o["kind"] for o in view["objects"]}
            assert (await client.get(f"/api/images/{image_id}/image.jpg")).content == data

            async def found_by_its_photo(image_id: str = image_id, data: bytes = data) -> int:
                hits = await _search_image(client, data)
                return int(image_id in {h["image_id"] for h in hits})

            # the replica may read the vectors a moment after Postgres has the rows
            await _until(found_by_its_photo, 1, timeout_s=60)

        await _a_scene_photo_finds_its_own_objects(client, photos)
        gone = next(iter(keys))
        await asyncio.to_thread(s3.remove_object, bucket, keys[gone])

        async def status_of_gone() -> int:
            return (await client.get(f"/api/images/{gone}")).status_code

        await _until(status_of_gone, 404)
        replica_index = app.state.catalog.indexes.get(embedder.identity.key, "image")

        async def still_in_the_replica() -> int:
            return sum(replica_index.contains(oid) for oid in objects_of[gone])

        await _until(still_in_the_replica, 0, timeout_s=60)
        for text in ("a photo", "shirt", "person"):
            r = await client.get("/api/search/text", params={"q": text, "limit": 200})
            assert r.status_code == 200, r.text
            assert not objects_of[gone] & {h["object_id"] for h in r.json()["hits"]}
        hits = await _search_image(client, photos[gone])
        assert gone not in {h["image_id"] for h in hits}
        kept = next(i for i in photos if i != gone)
        assert (await client.get(f"/api/images/{kept}")).status_code == 200
        await _reindex_under_http_load(client, app.state.catalog, real_stack, objects_of[kept])


async def _reindex_under_http_load(
    client: AsyncTestClient[Any], catalog: Any, stack: Endpoints, kept_objects: set[str]
) -> None:
    """`catalens reindex` to HNSW while text searches run back to back: every one answers, and
    the service ends up serving the new generation with the same objects."""
    from core.index.index_jobs import reindex

    statuses: list[int] = []

    async def searching() -> None:
        while True:
            r = await client.get("/api/search/text", params={"q": "shirt", "limit": 5})
            statuses.append(r.status_code)
            await asyncio.sleep(0.05)  # the test client blocks this loop while a request runs

    before = catalog.replica.switches
    load = asyncio.create_task(searching())
    try:
        _, new, _ = await reindex(catalog.replica.store, stack.kafka_bootstrap, "HNSW", 1.0)
        await _until(lambda: _value(catalog.replica.switches), before + 1, timeout_s=60)
        await asyncio.sleep(0.5)
    finally:
        load.cancel()
        await asyncio.gather(load, return_exceptions=True)
    assert len(statuses) > 10 and set(statuses) == {200}
    assert catalog.replica.follower.generation.name == new.name
    index = catalog.indexes.get(catalog.model_key, "image")
    assert index.index_type == "HNSW" and all(index.contains(o) for o in kept_objects)
    status = (await client.get("/api/index")).json()
    assert (status["generation"], status["index_type"]) == (new.name, "HNSW")
    assert status["vectors"] == len(index) and status["model"] == catalog.model_key
    metrics = (await client.get("/metrics")).text
    assert f'catalens_query_index_generation_info{{index_type="HNSW",name="{new.name}"' in metrics
    assert "catalens_query_index_behind_records 0.0" in metrics


async def _a_scene_photo_finds_its_own_objects(
    client: AsyncTestClient[Any], photos: dict[str, bytes]
) -> None:
    """Shop the look on the real stack: searched by a catalog scene photo, the query service's
    own detector finds the objects the pipeline found in it, and each finds that photo first."""
    for image_id, data in photos.items():
        stored = (await client.get(f"/api/images/{image_id}")).json()["objects"]
        labels = sorted(o["label"] for o in stored if o["kind"] == "object")
        if not 0 < len(labels) <= 8:  # a query photo is searched by its 8 best objects
            continue
        response = await client.post(
            "/api/search/image", params={"limit": 3}, files={"file": ("q.jpg", data, "image/jpeg")}
        )
        assert response.status_code == 200, response.text
        objects = response.json()["objects"]
        assert objects[-1]["kind"] == "image"
        assert sorted(o["label"] for o in objects[:-1]) == labels
        for found in objects:
            assert found["hits"][0]["image_id"] == image_id, found["label"]
        return
    pytest.fail("no sample photo had a detected object")


async def _search_image(client: AsyncTestClient[Any], data: bytes) -> list[dict[str, Any]]:
    response = await client.post(
        "/api/search/image", params={"limit": 10}, files={"file": ("q.jpg", data, "image/jpeg")}
    )
    assert response.status_code == 200, response.text
    return response.json()["hits"]  # type: ignore[no-any-return]
