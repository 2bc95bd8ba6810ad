"""Reads of the stored vectors (a part of `PgStore`): which objects have vectors, the vectors
themselves (FAISS rebuilds, `similar`), and the objects that still lack them."""

from __future__ import annotations

from typing import Literal

import asyncpg
import numpy as np

Modality = Literal["image", "caption"]


class VectorReads:
    """Needs `_pool` (an asyncpg pool) and `_tables` (model key → table cache) from its host."""

    _pool: asyncpg.Pool
    _tables: dict[str, str]

    async def object_ids(self, model_key: str, modality: Modality | None = None) -> set[str]:
        """Ids of the objects that have a vector from this model (of one modality if given)."""
        table = await self._table(model_key)
        if table is None:
            return set()
        rows = await self._pool.fetch(
            f"SELECT DISTINCT object_id FROM {table} WHERE $1::text IS NULL OR modality = $1",
            modality,
        )
        return {r["object_id"] for r in rows}

    async def vectors(
        self, model_key: str, modality: Modality, object_id: str | None = None
    ) -> tuple[list[str], np.ndarray]:
        """Stored vectors of a model (all, or one object's): rebuilds FAISS, seeds `similar`."""
        table = await self._table(model_key)
        if table is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        rows = await self._pool.fetch(
            f"SELECT object_id, embedding FROM {table} WHERE modality = $1"
            " AND ($2::text IS NULL OR object_id = $2) ORDER BY object_id",
            modality,
            object_id,
        )
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        return [r["object_id"] for r in rows], np.stack([r["embedding"] for r in rows])

    async def vector_rows(self, model_key: str) -> list[asyncpg.Record]:
        """Every stored vector of a model with its image, ordered by image: (object_id, modality,
        embedding, image_id, image_uri). Embedded mode rebuilds its FAISS view from them."""
        table = await self._table(model_key)
        return (
            []
            if table is None
            else await self._pool.fetch(
                "SELECT v.object_id, v.modality, v.embedding, v.image_uri,"
                f" COALESCE(v.image_id, o.image_id) AS image_id FROM {table} v"
                " LEFT JOIN objects o ON o.object_id = v.object_id ORDER BY 5, 1, 2"
            )
        )

    async def objects_without_vectors(self, model_key: str) -> list[tuple[str, str]]:
        """(object_id, image_id) of objects with no image vector from this model."""
        table = await self._table(model_key)
        missing = (
            f"NOT EXISTS (SELECT 1 FROM {table} v WHERE v.object_id = o.object_id"
            " AND v.modality = 'image')"
        )
        rows = await self._pool.fetch(
            f"SELECT o.object_id, o.image_id FROM objects o{' WHERE ' + missing if table else ''}"
            " ORDER BY o.image_id, o.object_id"
        )
        return [(r["object_id"], r["image_id"]) for r in rows]

    async def _table(self, model_key: str) -> str | None:
        if model_key not in self._tables:
            table = await self._pool.fetchval(
                "SELECT table_name FROM vector_models WHERE model_key = $1", model_key
            )
            if table is None:
                return None
            self._tables[model_key] = table
        return self._tables[model_key]
