"""Crash-complete enrichment on the embedded default: whatever a crash leaves undone (objects
without captions, captions without vectors, objects without image vectors) is finished when the
catalog opens again, from the stored detections and captions, without duplicating anything.
Real detector, aligned embedder, offline captioner, embedded Postgres."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from catalens.embedded.catalog import EmbeddedCatalog, embedded_catalog
from core.paths import shared_path
from core.settings import PostgresSettings, Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PRODUCTS = shared_path("datasets", "fashion-products", "images")
if PRODUCTS is None:
    pytest.skip("needs ../shared/datasets/fashion-products", allow_module_level=True)

COMPLETE = """SELECT count(*) FILTER (WHERE c.object_id IS NULL) AS no_caption,
    count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {t} v WHERE v.object_id = o.object_id
        AND v.modality = 'image')) AS no_image_vector,
    count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {t} v WHERE v.object_id = o.object_id
        AND v.modality = 'caption')) AS no_caption_vector,
    count(*) AS objects FROM objects o LEFT JOIN captions c USING (object_id)"""


async def _state(dsn: str) -> tuple[dict[str, int], str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        table = await conn.fetchval("SELECT table_name FROM vector_models")
        counts = dict(await conn.fetchrow(COMPLETE.format(t=table)))
        vectors = await conn.fetchval(f"SELECT count(*) FROM {table}")
        return counts, table, vectors
    finally:
        await conn.close()


async def test_what_a_crash_left_half_done_is_finished_when_the_catalog_opens_again(
    tmp_path: Path, module_pg_dsn: str, yolo_detector, aligned_model_dir: Path
) -> None:
    settings = Settings(data_dir=tmp_path, postgres=PostgresSettings(dsn=module_pg_dsn))
    settings.embedder.model = str(aligned_model_dir)
    settings.captioner.backend = "offline"
    photos = sorted(PRODUCTS.glob("*.jpg"))[:6]
    async with embedded_catalog(settings, detector=yolo_detector) as catalog:
        results = await catalog.ingest_many([(p.name, p.read_bytes(), None) for p in photos])
        image_ids = [r.image_id for r in results]  # type: ignore[union-attr]
    complete, table, vectors = await _state(module_pg_dsn)
    assert complete["no_caption"] == complete["no_image_vector"] == 0
    assert complete["no_caption_vector"] == 0 and vectors == 2 * complete["objects"]

    conn = await asyncpg.connect(module_pg_dsn)  # what kill -9 between stages leaves behind
    try:
        of = "(SELECT object_id FROM objects WHERE image_id = $1)"
        await conn.execute(f"DELETE FROM captions WHERE object_id IN {of}", image_ids[0])
        await conn.execute(
            f"DELETE FROM {table} WHERE modality = 'caption' AND object_id IN {of}", image_ids[0]
        )
        await conn.execute(
            f"DELETE FROM {table} WHERE modality = 'caption' AND object_id IN {of}", image_ids[1]
        )
        await conn.execute(
            f"DELETE FROM {table} WHERE modality = 'image' AND object_id IN {of}", image_ids[2]
        )
    finally:
        await conn.close()
    broken, _, _ = await _state(module_pg_dsn)
    assert broken["no_caption"] and broken["no_caption_vector"] and broken["no_image_vector"]

    async with embedded_catalog(settings, detector=yolo_detector) as catalog:
        assert isinstance(catalog, EmbeddedCatalog)
        repaired, _, vectors = await _state(module_pg_dsn)
        key = catalog.model_key
        index = catalog.indexes.get(key, "image")
        assert index is not None
        conn = await asyncpg.connect(module_pg_dsn)
        try:
            stored = {
                r["object_id"]
                for r in await conn.fetch(f"SELECT object_id FROM {table} WHERE modality='image'")
            }
        finally:
            await conn.close()
        assert index.ids() == stored  # FAISS ids == pgvector ids
        view = await catalog.get_image(image_ids[0])
        assert view is not None and all(o.caption for o in view.objects)
    assert repaired == complete and vectors == 2 * complete["objects"]  # nothing duplicated
