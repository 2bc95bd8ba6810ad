"""The indexer on the real embedded Postgres + pgvector: an overwrite's tombstone takes every
other version at the key off both of its routes (rows on `objects.detected`, vectors on
`objects.embedded`), keeps the version that replaced them, and a delete then empties the key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import pytest

from core.catalog.pg_store import PgStore
from core.wire import identity_of
from schemas import (
    CaptionAttributes,
    DetectedObject,
    EmbeddedVector,
    EmbedderRef,
    ModelRef,
    ObjectsCaptioned,
    ObjectsDeleted,
    ObjectsDetected,
    ObjectsEmbedded,
    Vector,
)
from services.indexer.handler import IndexerPorts, handle_captioned, handle_detected
from services.indexer.handler import handle_embedded as handle_vectors

URI = "s3://shop/photo.jpg"
REF = EmbedderRef(backend="t", name="overwrite", version="1", dim=4)
KEY = identity_of(REF).key


@pytest.fixture
async def ports(fresh_pg_dsn: str) -> AsyncIterator[IndexerPorts]:
    store = await PgStore.connect(fresh_pg_dsn, max_size=4)
    yield IndexerPorts(store)
    await store.close()


def version(image_id: str, n: int) -> tuple[ObjectsDetected, ObjectsEmbedded]:
    """One stored version at URI: its detections and its image and caption vectors."""
    objects = [
        DetectedObject(
            object_id=f"{image_id}-{i}", kind="object", label="shoe", score=0.9, box=(1, 2, 3, 4)
        )
        for i in range(n)
    ]
    detected = ObjectsDetected(
        producer="t",
        image_id=image_id,
        image_uri=URI,
        width=9,
        height=9,
        detector=ModelRef(backend="t", name="t", version="1"),
        objects=objects,
    )
    rng = np.random.default_rng(n)
    embedded = ObjectsEmbedded(
        producer="t",
        image_id=image_id,
        image_uri=URI,
        embedder=REF,
        vectors=[
            EmbeddedVector(
                object_id=o.object_id,
                modality=modality,
                vector=Vector.from_numpy(rng.normal(size=4).astype(np.float32)),
            )
            for o in objects
            for modality in ("image", "caption")
        ],
    )
    return detected, embedded


def captioned(image_id: str, object_id: str) -> ObjectsCaptioned:
    return ObjectsCaptioned(
        producer="t",
        image_id=image_id,
        image_uri=URI,
        object_id=object_id,
        caption=f"a shoe of {image_id}",
        attributes=CaptionAttributes(category="shoe"),
        captioner="t",
    )


async def held(ports: IndexerPorts, dsn: str) -> dict[str, object]:
    """Every table's rows: images at the key, objects, captions (pending ones too), vectors."""
    store = ports.pg
    image_vectors, _ = await store.vectors(KEY, "image")
    caption_vectors, _ = await store.vectors(KEY, "caption")
    pg = await asyncpg.connect(dsn)
    try:
        objects = await pg.fetch("SELECT object_id FROM objects ORDER BY object_id")
        captions = await pg.fetch("SELECT object_id FROM captions ORDER BY object_id")
    finally:
        await pg.close()
    return {
        "images": sorted(await store.image_ids_by_uri(URI)),
        "objects": [r["object_id"] for r in objects],
        "captions": [r["object_id"] for r in captions],
        "image vectors": sorted(image_vectors),
        "caption vectors": sorted(caption_vectors),
    }


async def test_an_overwrite_leaves_only_the_new_version_at_the_key_on_both_routes(
    ports: IndexerPorts, fresh_pg_dsn: str
) -> None:
    old_detected, old_vectors = version("old", 2)
    new_detected, new_vectors = version("new", 1)
    await handle_detected([old_detected], ports)
    await handle_vectors([old_vectors], ports)
    await handle_captioned([captioned("old", "old-0")], ports)
    overwrite = ObjectsDeleted(producer="t", image_uri=URI, superseded_by="new")

    await handle_detected([overwrite, new_detected], ports)  # the rows' route runs ahead
    await handle_captioned([captioned("new", "new-0")], ports)
    await handle_vectors([overwrite, new_vectors], ports)  # the vectors' route catches up
    only_new = {
        "images": ["new"],
        "objects": ["new-0"],
        "captions": ["new-0"],
        "image vectors": ["new-0"],
        "caption vectors": ["new-0"],
    }
    assert await held(ports, fresh_pg_dsn) == only_new

    await handle_detected([overwrite], ports)  # the same bytes uploaded again: nothing goes
    await handle_vectors([overwrite], ports)
    assert await held(ports, fresh_pg_dsn) == only_new

    gone = ObjectsDeleted(producer="t", image_uri=URI)  # the key removed from the bucket
    await handle_detected([gone], ports)
    await handle_vectors([gone], ports)
    assert await held(ports, fresh_pg_dsn) == {key: [] for key in only_new}


async def test_a_lagging_route_never_removes_a_version_newer_than_its_tombstone(
    ports: IndexerPorts, fresh_pg_dsn: str
) -> None:
    """Three versions in quick succession, then a delete and a fourth: the rows' route has read
    all of `objects.detected` before the vectors' route reads its first tombstone. Each route
    resolves a key against what it wrote itself, so only the last version is left."""
    versions = [version(name, n) for name, n in (("a", 1), ("b", 2), ("c", 1), ("d", 2))]
    detected: list[ObjectsDetected | ObjectsDeleted] = []
    embedded: list[ObjectsEmbedded | ObjectsDeleted] = []
    for i, (rows, vectors) in enumerate(versions):
        if i == 3:
            gone = ObjectsDeleted(producer="t", image_uri=URI)  # the key removed, then put again
            detected.append(gone)
            embedded.append(gone)
        overwrite = ObjectsDeleted(producer="t", image_uri=URI, superseded_by=rows.image_id)
        detected += [overwrite, rows]
        embedded += [overwrite, vectors]
    await handle_detected(detected, ports)
    await handle_vectors(embedded, ports)
    assert await held(ports, fresh_pg_dsn) == {
        "images": ["d"],
        "objects": ["d-0", "d-1"],
        "captions": [],
        "image vectors": ["d-0", "d-1"],
        "caption vectors": ["d-0", "d-1"],
    }


def only(message: ObjectsEmbedded, modality: str) -> ObjectsEmbedded:
    vectors = [v for v in message.vectors if v.modality == modality]
    return message.model_copy(update={"vectors": vectors})


async def test_captions_of_a_replaced_version_that_arrive_after_its_tombstone_are_dropped(
    ports: IndexerPorts, fresh_pg_dsn: str
) -> None:
    """Captions take the longer path (captioner, then embedder): the old version's may reach
    the indexer after the overwrite's tombstone. They are late and are dropped; the same old
    bytes stored again bring the version back, captions and all."""
    old_detected, old_vectors = version("old", 1)
    new_detected, new_vectors = version("new", 1)
    overwrite = ObjectsDeleted(producer="t", image_uri=URI, superseded_by="new")
    await handle_detected([old_detected, overwrite, new_detected], ports)
    await handle_vectors([only(old_vectors, "image"), overwrite, new_vectors], ports)
    await handle_captioned([captioned("old", "old-0"), captioned("new", "new-0")], ports)
    await handle_vectors([only(old_vectors, "caption")], ports)
    only_new = ["new"], ["new-0"], ["new-0"], ["new-0"], ["new-0"]
    assert tuple((await held(ports, fresh_pg_dsn)).values()) == only_new

    back = ObjectsDeleted(producer="t", image_uri=URI, superseded_by="old")
    await handle_detected([back, old_detected], ports)
    await handle_vectors([back, only(old_vectors, "image")], ports)
    await handle_captioned([captioned("old", "old-0")], ports)
    await handle_vectors([only(old_vectors, "caption")], ports)
    only_old = ["old"], ["old-0"], ["old-0"], ["old-0"], ["old-0"]
    assert tuple((await held(ports, fresh_pg_dsn)).values()) == only_old
