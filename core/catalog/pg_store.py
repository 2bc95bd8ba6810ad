"""The catalog's metadata and vectors in Postgres + pgvector, over an asyncpg pool.

Every write is an idempotent upsert keyed by id. Captions and vectors live in side tables keyed
by object_id that reads join to `objects`, so they may arrive before or after their object (the
object becomes visible, with whatever has arrived, the moment its row exists).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import numpy as np

from core.catalog.pg_deletes import Deletes
from core.catalog.pg_migrate import connect_when_ready, migrate
from core.catalog.pg_repairs import Repairs
from core.catalog.pg_search import FULLTEXT_IDS_SQL, fulltext_sql, search_sql
from core.catalog.pg_vector_reads import Modality, VectorReads
from core.catalog.pg_vectors import ensure_vector_table, register_vector_codec
from core.catalog.pg_views import OBJECT_COLUMNS, OBJECT_JOINS, ObjectRecord, object_view
from core.catalog.views import ImageView, ObjectView, SearchFilters, SearchHit
from core.domain import l2_normalise

MAX_EF_SEARCH = 1000


class PgStore(VectorReads, Repairs, Deletes):
    def __init__(self, pool: asyncpg.Pool, ef_search: int = 100) -> None:
        self._pool = pool
        self._ef_search = ef_search
        self._tables: dict[str, str] = {}

    @classmethod
    async def connect(
        cls,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        ef_search: int = 100,
        wait_s: float = 30.0,
    ) -> PgStore:
        """Wait up to `wait_s` for the server, apply pending migrations, then open the pool
        (each connection registers the `vector` codec)."""
        conn = await connect_when_ready(dsn, wait_s)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=register_vector_codec
        )
        return cls(pool, ef_search=ef_search)

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def advisory_lock(self, name: str) -> AsyncIterator[None]:
        """Hold Postgres' session advisory lock for `name` (hashed) while the block runs: every
        process on this database waits its turn; a crashed holder's lock goes with its
        connection."""
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", name)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", name)

    # -- writes ---------------------------------------------------------------------------------
    async def upsert_image(
        self,
        image_id: str,
        uri: str,
        width: int,
        height: int,
        source: str | None = None,
        filename: str | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> None:
        await (conn or self._pool).execute(
            "INSERT INTO images (image_id, uri, width, height, source, filename)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (image_id) DO UPDATE SET"
            " uri = EXCLUDED.uri, width = EXCLUDED.width, height = EXCLUDED.height,"
            " source = EXCLUDED.source, filename = EXCLUDED.filename",
            image_id,
            uri,
            width,
            height,
            source,
            filename,
        )

    async def upsert_detected(
        self,
        image_id: str,
        uri: str,
        width: int,
        height: int,
        objects: Sequence[ObjectRecord],
        source: str | None = None,
        filename: str | None = None,
    ) -> None:
        """The image row and its objects in one transaction: a crash never leaves an image
        that counts as stored without its objects."""
        async with self._pool.acquire() as conn, conn.transaction():
            await self.upsert_image(image_id, uri, width, height, source, filename, conn=conn)
            await self.upsert_objects(image_id, objects, conn=conn)

    async def upsert_objects(
        self,
        image_id: str,
        objects: Sequence[ObjectRecord],
        conn: asyncpg.Connection | None = None,
    ) -> None:
        """The image row must exist (upsert_image first)."""
        rows = [
            (o.object_id, image_id, o.kind, o.label, o.score, list(o.box), o.crop_uri, o.detector)
            for o in objects
        ]
        await (conn or self._pool).executemany(
            "INSERT INTO objects (object_id, image_id, kind, label, score, box, crop_uri, detector)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (object_id) DO UPDATE SET"
            " image_id = EXCLUDED.image_id, kind = EXCLUDED.kind, label = EXCLUDED.label,"
            " score = EXCLUDED.score, box = EXCLUDED.box, crop_uri = EXCLUDED.crop_uri,"
            " detector = EXCLUDED.detector",
            rows,
        )

    async def merge_caption(
        self, object_id: str, caption: str, attributes: Mapping[str, Any], captioner: str
    ) -> None:
        """Attach a caption; the object row may not exist yet (it joins when it arrives)."""
        await self._pool.execute(
            "INSERT INTO captions (object_id, caption, attributes, captioner)"
            " VALUES ($1, $2, $3::jsonb, $4) ON CONFLICT (object_id) DO UPDATE SET"
            " caption = EXCLUDED.caption, attributes = EXCLUDED.attributes,"
            " captioner = EXCLUDED.captioner, updated_at = now()",
            object_id,
            caption,
            json.dumps(dict(attributes)),
            captioner,
        )

    async def ensure_vector_table(self, model_key: str, dim: int) -> str:
        async with self._pool.acquire() as conn:
            table = await ensure_vector_table(conn, model_key, dim)
        self._tables[model_key] = table
        return table

    async def upsert_vectors(
        self,
        model_key: str,
        object_ids: Sequence[str],
        modality: Modality,
        vectors: np.ndarray,
        image: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """(n, dim) vectors for n objects of `image` (id, uri); the table is made on first use."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(object_ids):
            raise ValueError(f"need ({len(object_ids)}, dim) vectors, got {vectors.shape}")
        table = self._tables.get(model_key) or await self.ensure_vector_table(
            model_key, vectors.shape[1]
        )
        rows = [
            (i, modality, v, *image) for i, v in zip(object_ids, l2_normalise(vectors), strict=True)
        ]
        await self._pool.executemany(
            f"INSERT INTO {table} (object_id, modality, embedding, image_id, image_uri)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (object_id, modality) DO UPDATE SET"
            " embedding = EXCLUDED.embedding, image_id = EXCLUDED.image_id,"
            " image_uri = EXCLUDED.image_uri, updated_at = now()",
            rows,
        )

    # -- reads ----------------------------------------------------------------------------------
    async def search(
        self,
        model_key: str,
        vector: np.ndarray,
        k: int,
        filters: SearchFilters | None = None,
        offset: int = 0,
        modality: Modality = "image",
    ) -> list[SearchHit]:
        """Nearest objects by cosine similarity; [] when nothing was indexed with the model."""
        table = await self._table(model_key)
        if table is None or k <= 0:
            return []
        query = l2_normalise(np.asarray(vector, dtype=np.float32).reshape(-1))
        sql, args = search_sql(table, filters or SearchFilters(), k, offset, modality, query)
        ef_search = min(MAX_EF_SEARCH, max(self._ef_search, offset + k))
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"SET LOCAL hnsw.ef_search = {ef_search};"
                " SET LOCAL hnsw.iterative_scan = relaxed_order"
            )
            rows = await conn.fetch(sql, *args)
        return [SearchHit(score=float(r["similarity"]), object=object_view(r)) for r in rows]

    async def search_fulltext(
        self, text: str, k: int, filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        """Full-text matches over captions and attributes (score: `ts_rank`), best first."""
        if k <= 0 or not text.strip():
            return []
        sql, args = fulltext_sql(text, filters or SearchFilters(), k)
        rows = await self._pool.fetch(sql, *args)
        return [SearchHit(score=float(r["rank"]), object=object_view(r)) for r in rows]

    async def fulltext_ranked(self, text: str, k: int) -> list[tuple[str, float]]:
        """`search_fulltext` without filters as (object id, ts_rank), best first, unhydrated."""
        if k <= 0 or not text.strip():
            return []
        rows = await self._pool.fetch(FULLTEXT_IDS_SQL, text, k)
        return [(r["object_id"], float(r["rank"])) for r in rows]

    async def get_object(self, object_id: str) -> ObjectView | None:
        row = await self._pool.fetchrow(
            f"SELECT {OBJECT_COLUMNS} FROM objects o {OBJECT_JOINS} WHERE o.object_id = $1",
            object_id,
        )
        return object_view(row) if row else None

    async def get_image(self, image_id: str) -> ImageView | None:
        image = await self._pool.fetchrow(
            "SELECT image_id, width, height, source FROM images WHERE image_id = $1", image_id
        )
        if image is None:
            return None
        rows = await self._pool.fetch(
            f"SELECT {OBJECT_COLUMNS} FROM objects o {OBJECT_JOINS}"
            " WHERE o.image_id = $1 ORDER BY o.kind DESC, o.score DESC, o.object_id",
            image_id,
        )
        return ImageView(
            image_id=image["image_id"],
            width=image["width"],
            height=image["height"],
            source=image["source"],
            objects=tuple(object_view(r) for r in rows),
        )

    async def recent(self, limit: int) -> list[ObjectView]:
        rows = await self._pool.fetch(
            f"SELECT {OBJECT_COLUMNS} FROM objects o {OBJECT_JOINS}"
            " ORDER BY o.indexed_at DESC, o.object_id LIMIT $1",
            limit,
        )
        return [object_view(r) for r in rows]

    async def labels(self) -> list[str]:
        rows = await self._pool.fetch("SELECT DISTINCT label FROM objects ORDER BY label")
        return [r["label"] for r in rows]

    async def count_objects(self) -> int:
        return int(await self._pool.fetchval("SELECT count(*) FROM objects"))

    async def get_objects(self, object_ids: Sequence[str]) -> dict[str, ObjectView]:
        rows = await self._pool.fetch(
            f"SELECT {OBJECT_COLUMNS} FROM objects o {OBJECT_JOINS}"
            " WHERE o.object_id = ANY($1::text[])",
            list(object_ids),
        )
        return {r["object_id"]: object_view(r) for r in rows}

    async def image_uri(self, image_id: str) -> str | None:
        uri = await self._pool.fetchval("SELECT uri FROM images WHERE image_id = $1", image_id)
        return None if uri is None else str(uri)

    async def image_exists(self, image_id: str) -> bool:
        found = await self._pool.fetchval("SELECT 1 FROM images WHERE image_id = $1", image_id)
        return found is not None

    async def known_images(self, image_ids: Sequence[str]) -> set[str]:
        """Which of `image_ids` have an image row (one indexed query for a page of ids)."""
        rows = await self._pool.fetch(
            "SELECT image_id FROM images WHERE image_id = ANY($1::text[])", list(image_ids)
        )
        return {r["image_id"] for r in rows}

    async def ping(self) -> bool:
        try:
            return await self._pool.fetchval("SELECT 1") == 1
        except (OSError, asyncpg.PostgresError):
            return False
