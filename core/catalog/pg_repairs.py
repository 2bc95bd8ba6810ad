"""What a crash can leave half-done (a part of `PgStore`): objects without a caption, captions
without a caption vector of the current model, and the stored detections and captions that let
the pipeline redo that part (every write downstream is an idempotent upsert). Objects without
an image vector are `VectorReads.objects_without_vectors`."""

from __future__ import annotations

import asyncpg

UNCAPTIONED = """SELECT DISTINCT o.image_id FROM objects o
    WHERE NOT EXISTS (SELECT 1 FROM captions c WHERE c.object_id = o.object_id) ORDER BY 1"""
CAPTIONS = """SELECT c.object_id, o.image_id, i.uri, c.caption, c.attributes, c.captioner
    FROM captions c JOIN objects o USING (object_id) JOIN images i USING (image_id)"""
WITHOUT_VECTOR = """ WHERE NOT EXISTS (SELECT 1 FROM {table} v
    WHERE v.object_id = c.object_id AND v.modality = 'caption')"""
DETECTED = """SELECT i.uri, i.width, i.height, i.source, i.filename, o.object_id, o.kind,
    o.label, o.score, o.box, o.crop_uri, o.detector
    FROM images i JOIN objects o USING (image_id) WHERE i.image_id = $1 ORDER BY o.object_id"""


class Repairs:
    """Needs `_pool` and `_table(model_key)` from its host (`PgStore`)."""

    _pool: asyncpg.Pool

    async def _table(self, model_key: str) -> str | None: ...

    async def uncaptioned_images(self) -> list[str]:
        """Ids of images with an object that has no caption row, in id order."""
        return [r["image_id"] for r in await self._pool.fetch(UNCAPTIONED)]

    async def captions_without_vectors(self, model_key: str) -> list[asyncpg.Record]:
        """Stored captions with no caption vector from this model: (object_id, image_id, uri,
        caption, attributes (dict), captioner), ordered by image then object."""
        table = await self._table(model_key)
        where = "" if table is None else WITHOUT_VECTOR.format(table=table)
        return list(await self._pool.fetch(CAPTIONS + where + " ORDER BY 2, 1"))

    async def detected_rows(self, image_id: str) -> list[asyncpg.Record]:
        """The image's stored detections, one row per object with the image's fields
        (uri, width, height, source, filename, object_id, kind, label, score, box, crop_uri,
        detector as `name@version`); empty when the image has no objects."""
        return list(await self._pool.fetch(DETECTED, image_id))
