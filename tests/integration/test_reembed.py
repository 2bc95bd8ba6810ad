"""A new model's generation on the real stack: re-embed stored crops and captions into that
model's own topic, build the generation from it, and find exactly the live objects, with the
new model's vectors, and the query replica's model switched with the alias."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from core.imaging import load_image
from core.index.generations import Generation, GenerationStore
from core.index.index_jobs import build
from core.index.log_follower import open_follower
from core.settings import Settings
from core.storage.minio_store import open_minio_store
from core.storage_keys import crop_key
from infra.stack import Endpoints
from schemas import (
    CaptionAttributes,
    DetectedObject,
    ModelRef,
    ObjectsCaptioned,
    ObjectsDeleted,
    ObjectsDetected,
    encode,
    partition_key,
)
from services.embedder.reembed import reembed
from tests.integration.test_streaming_query import sample_images

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


async def test_a_new_models_generation_holds_the_live_objects_with_that_models_vectors(
    real_stack: Endpoints, aligned_model_dir: Path, tmp_path: Path
) -> None:
    from core.embedding.aligned import AlignedEmbedder

    tag = uuid.uuid4().hex[:8]
    detected_topic, captioned_topic = f"t{tag}.objects.detected", f"t{tag}.objects.captioned"
    target = f"objects.embedded.t{tag}"
    bootstrap = real_stack.kafka_bootstrap
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics(
        [NewTopic(t, 4, 1) for t in (detected_topic, captioned_topic, target)]
    )
    settings = Settings(data_dir=tmp_path)
    crops = await open_minio_store(settings.minio, settings.minio.crops_bucket)
    embedder = AlignedEmbedder.load(aligned_model_dir)
    photos = sample_images(3, 0)
    events: list[tuple[str, ObjectsDetected | ObjectsCaptioned | ObjectsDeleted]] = []
    expected_images = {}
    for i, path in enumerate(photos):
        image_id, object_id = f"r{tag}-{i}", f"r{tag}-{i}-whole"
        data = path.read_bytes()
        await crops.put(crop_key(image_id, object_id), data, "image/jpeg")
        expected_images[object_id] = data
        obj = DetectedObject(
            object_id=object_id, kind="image", label="image", score=1.0, box=(0, 0, 10, 10)
        )
        events.append(
            (
                detected_topic,
                ObjectsDetected(
                    producer="t",
                    image_id=image_id,
                    image_uri=f"s3://catalens/{image_id}.jpg",
                    width=10,
                    height=10,
                    detector=ModelRef(backend="t", name="t", version="1"),
                    objects=[obj],
                ),
            )
        )
    first = events[0][1]
    assert isinstance(first, ObjectsDetected)
    events.append(
        (
            captioned_topic,
            ObjectsCaptioned(
                producer="t",
                image_id=first.image_id,
                image_uri=first.image_uri,
                object_id=first.objects[0].object_id,
                caption="blue denim jeans",
                attributes=CaptionAttributes(category="jeans"),
                captioner="t",
            ),
        )
    )
    gone = events[2][1]
    assert isinstance(gone, ObjectsDetected)
    events.append((detected_topic, ObjectsDeleted(producer="t", image_uri=gone.image_uri)))
    del expected_images[gone.objects[0].object_id]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, event in events:
            await producer.send_and_wait(topic, encode(event), key=partition_key(event))
    finally:
        await producer.stop()

    try:
        stats = await reembed(
            bootstrap, embedder, crops, target, sources=(captioned_topic, detected_topic)
        )
        assert (stats.read, stats.skipped) == (5, 0)
        assert stats.produced == 5  # 1 caption + 3 images + the tombstone

        store = GenerationStore(
            await open_minio_store(settings.minio, settings.minio.index_bucket), f"t{tag}"
        )
        key = embedder.identity.key
        generation = Generation.new(target, "HNSW", {"key": key, "backend": "aligned"})
        built = await build(generation, bootstrap, store)
        assert built.vectors == len(expected_images) + 1  # + the caption vector
        follower = await open_follower(generation, bootstrap, store)
        await follower.caught_up.wait()
        live = follower.index.live()
        await follower.stop()
        follower.index.close()
        images = live[f"{key}:image"]
        assert sorted(images) == sorted(expected_images)
        want = await asyncio.to_thread(
            embedder.embed_images, [load_image(d) for d in expected_images.values()]
        )
        got = np.stack([images[oid] for oid in expected_images])
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert sorted(live[f"{key}:caption"]) == [first.objects[0].object_id]
        await store.drop(generation.name, 4)
    finally:
        await admin.delete_topics([detected_topic, captioned_topic, target])
        await admin.close()
