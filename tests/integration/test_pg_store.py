"""PgStore against the real embedded Postgres + pgvector."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import pytest

from core.catalog.pg_migrate import load_migrations, migrate
from core.catalog.pg_search import search_sql
from core.catalog.pg_store import PgStore
from core.catalog.pg_vectors import VectorModelError
from core.catalog.pg_views import ObjectRecord
from core.catalog.views import SearchFilters
from core.domain import l2_normalise
from core.wire import identity_of

MODEL = "aligned-test-v1"
DIM = 8


def unit(i: int, dim: int = DIM) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    v[i] = 1.0
    return v


def obj(object_id: str, label: str = "shoe", kind: str = "object", score: float = 0.9):
    return ObjectRecord(object_id, kind, label, score, (1, 2, 30, 40), detector="yolov8n")


@pytest.fixture
async def store(fresh_pg_dsn: str) -> AsyncIterator[PgStore]:
    store = await PgStore.connect(fresh_pg_dsn, max_size=4)
    yield store
    await store.close()


async def add_image(store: PgStore, image_id: str, objects, vectors, source: str = "shop-a"):
    await store.upsert_image(image_id, f"file:///{image_id}.jpg", 640, 480, source, "x.jpg")
    await store.upsert_objects(image_id, objects)
    await store.upsert_vectors(MODEL, [o.object_id for o in objects], "image", np.stack(vectors))


async def test_migrations_apply_once_even_when_started_concurrently(fresh_pg_dsn: str) -> None:
    conns = [await asyncpg.connect(fresh_pg_dsn) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(migrate(c) for c in conns))
        assert sorted(v for run in applied for v in run) == [m.version for m in load_migrations()]
        assert await migrate(conns[0]) == []
        rows = await conns[0].fetchval("SELECT count(*) FROM schema_migrations")
        assert rows == len(load_migrations())
    finally:
        for c in conns:
            await c.close()


async def test_the_nearest_object_comes_first_with_its_similarity(store: PgStore) -> None:
    objects = [obj("a"), obj("b"), obj("c")]
    await add_image(store, "img1", objects, [unit(0), unit(1), unit(2)])
    query = unit(1) + 0.5 * unit(0)
    hits = await store.search(MODEL, query, k=2)
    assert [h.object.object_id for h in hits] == ["b", "a"]
    assert hits[0].score == pytest.approx(2 / np.sqrt(5), abs=1e-5)
    assert hits[0].object.box == (1, 2, 30, 40) and hits[0].object.source == "shop-a"
    page2 = await store.search(MODEL, query, k=2, offset=1)
    assert [h.object.object_id for h in page2] == ["a", "c"]


async def test_filters_narrow_search_by_label_kind_source_attributes_and_score(
    store: PgStore,
) -> None:
    await add_image(
        store,
        "img1",
        [obj("shoe1"), obj("bag1", label="bag"), obj("whole1", label="image", kind="image")],
        [unit(0), unit(0) + unit(1), unit(0) + unit(2)],
    )
    await add_image(store, "img2", [obj("shoe2")], [unit(1)], source="shop-b")
    await store.merge_caption("shoe2", "red sneaker", {"category": "shoe", "colours": ["red"]}, "t")
    await store.merge_caption("bag1", "black tote", {"category": "bag", "material": "leather"}, "t")
    q = unit(0)

    async def ids(**kw) -> set[str]:
        return {h.object.object_id for h in await store.search(MODEL, q, 10, SearchFilters(**kw))}

    assert await ids(labels=("shoe",)) == {"shoe1", "shoe2"}
    assert await ids(labels=("shoe", "bag")) == {"shoe1", "shoe2", "bag1"}
    assert await ids(kind="image") == {"whole1"}
    assert await ids(source="shop-b") == {"shoe2"}
    assert await ids(attributes={"colours": "red"}) == {"shoe2"}
    assert await ids(attributes={"material": "leather", "category": "bag"}) == {"bag1"}
    assert await ids(attributes={"material": "suede"}) == set()
    assert await ids(min_score=0.99) == {"shoe1"}
    assert await ids(min_score=0.5) == {"shoe1", "bag1", "whole1"}


async def test_a_filtered_search_walks_the_hnsw_index_until_it_has_k_hits(
    store: PgStore,
) -> None:
    rng = np.random.default_rng(0)
    n, dim = 3000, 16
    objects = [obj(f"o{i}", label="rare" if i % 10 == 0 else "common") for i in range(n)]
    await store.upsert_image("big", "file:///big.jpg", 640, 480)
    await store.upsert_objects("big", objects)
    await store.upsert_vectors(
        "big-model",
        [o.object_id for o in objects],
        "image",
        rng.normal(size=(n, dim)).astype(np.float32),
    )
    await store._pool.execute("ANALYZE")
    query, filters = l2_normalise(rng.normal(size=dim)), SearchFilters(("rare",))
    sql, args = search_sql(await store._table("big-model"), filters, 10, 0, "image", query)
    plan = "\n".join(r[0] for r in await store._pool.fetch("EXPLAIN " + sql, *args))
    assert "_hnsw" in plan  # the index path, not an exact scan

    store._ef_search = 10  # one pass of the index sees ~1 rare object among 10 candidates
    hits = await store.search("big-model", query, 10, filters)
    assert len(hits) == 10 and {h.object.label for h in hits} == {"rare"}
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


async def test_upserting_the_same_object_twice_leaves_one_row_with_the_latest_values(
    store: PgStore,
) -> None:
    await add_image(store, "img1", [obj("a", label="shoe")], [unit(0)])
    await add_image(store, "img1", [obj("a", label="boot")], [unit(1)])
    assert await store.count_objects() == 1
    assert await store.labels() == ["boot"]
    hits = await store.search(MODEL, unit(1), k=5)
    assert [(h.object.object_id, round(h.score, 4)) for h in hits] == [("a", 1.0)]


async def test_a_caption_that_arrives_before_its_object_joins_it_when_it_arrives(
    store: PgStore,
) -> None:
    await store.merge_caption("a", "blue denim jacket", {"colours": ["blue"]}, "gpt-4o")
    assert await store.get_object("a") is None
    await add_image(store, "img1", [obj("a", label="jacket")], [unit(0)])
    view = await store.get_object("a")
    assert view is not None and view.caption == "blue denim jacket"
    assert view.attributes == {"colours": ["blue"]}


async def test_a_caption_that_arrives_after_its_object_is_merged_and_can_be_replaced(
    store: PgStore,
) -> None:
    await add_image(store, "img1", [obj("a")], [unit(0)])
    assert (await store.get_object("a")).caption is None  # type: ignore[union-attr]
    await store.merge_caption("a", "a shoe", {"category": "shoe"}, "offline")
    await store.merge_caption("a", "a white leather shoe", {"category": "shoe"}, "gpt-4o")
    view = await store.get_object("a")
    assert view is not None and view.caption == "a white leather shoe"
    assert [h.object.caption for h in await store.search(MODEL, unit(0), 1)] == [view.caption]


async def test_deleting_an_image_removes_its_objects_from_search_and_reads(
    store: PgStore,
) -> None:
    await add_image(store, "img1", [obj("a"), obj("b")], [unit(0), unit(1)])
    await add_image(store, "img2", [obj("c")], [unit(0)])
    await store.upsert_vectors(MODEL, ["a"], "caption", unit(2)[None])
    assert sorted(await store.delete_image("img1")) == ["a", "b"]
    assert [h.object.object_id for h in await store.search(MODEL, unit(0), 10)] == ["c"]
    assert await store.search(MODEL, unit(2), 10, modality="caption") == []
    assert await store.get_image("img1") is None and not await store.image_exists("img1")
    assert await store.object_ids(MODEL) == {"c"}
    assert await store.delete_image("img1") == []


async def test_two_models_with_different_dims_live_side_by_side(store: PgStore) -> None:
    await add_image(store, "img1", [obj("a"), obj("b")], [unit(0), unit(1)])
    await store.upsert_vectors("other-512", ["a", "b"], "image", np.eye(2, 512, k=5))
    assert [h.object.object_id for h in await store.search("other-512", unit(6, 512), 1)] == ["b"]
    assert [h.object.object_id for h in await store.search(MODEL, unit(0), 1)] == ["a"]
    with pytest.raises(VectorModelError):
        await store.ensure_vector_table(MODEL, 16)
    assert await store.search("never-indexed", unit(0), 5) == []


async def test_reads_give_the_query_service_its_shapes(store: PgStore) -> None:
    await add_image(
        store, "img1", [obj("a", score=0.5), obj("w", "image", "image", 1.0)], [unit(0), unit(1)]
    )
    image = await store.get_image("img1")
    assert image is not None and (image.width, image.height, image.source) == (640, 480, "shop-a")
    assert [o.object_id for o in image.objects] == ["a", "w"]
    assert {o.object_id for o in await store.recent(10)} == {"a", "w"}
    assert await store.labels() == ["image", "shoe"]
    assert await store.count_objects() == 2 and await store.image_exists("img1")
    assert await store.object_ids(MODEL, "caption") == set()


async def test_a_bucket_delete_removes_vectors_that_arrived_after_the_image_rows_were_gone(
    store: PgStore,
) -> None:
    """Rows come from `objects.detected`, vectors from `objects.embedded`: the detected route
    can apply a tombstone before vectors still in flight on the other topic are written."""
    from schemas import (
        DetectedObject,
        EmbeddedVector,
        EmbedderRef,
        ModelRef,
        ObjectsDeleted,
        ObjectsDetected,
        ObjectsEmbedded,
        Vector,
    )
    from services.indexer.handler import IndexerPorts, handle_detected, handle_embedded

    uri, ports = "s3://shop/a.jpg", IndexerPorts(store)
    objects = [
        DetectedObject(object_id=f"a-{i}", kind="object", label="shoe", score=0.9, box=(1, 2, 3, 4))
        for i in range(2)
    ]
    detected = ObjectsDetected(
        producer="t",
        image_id="a",
        image_uri=uri,
        width=9,
        height=9,
        detector=ModelRef(backend="t", name="t", version="1"),
        objects=objects,
    )
    ref = EmbedderRef(backend="t", name="reorder", version="1", dim=DIM)
    embedded = ObjectsEmbedded(
        producer="t",
        image_id="a",
        image_uri=uri,
        embedder=ref,
        vectors=[
            EmbeddedVector(
                object_id=o.object_id, modality="image", vector=Vector.from_numpy(unit(i))
            )
            for i, o in enumerate(objects)
        ],
    )
    tombstone = ObjectsDeleted(producer="t", image_uri=uri)
    await handle_detected([detected], ports)
    await handle_detected([tombstone], ports)  # rows gone
    await handle_embedded([embedded], ports)  # the vectors that were in flight
    assert len((await store.vectors(identity_of(ref).key, "image"))[0]) == 2
    await handle_embedded([tombstone], ports)  # the same tombstone, behind them on this topic
    assert (await store.vectors(identity_of(ref).key, "image"))[0] == []
