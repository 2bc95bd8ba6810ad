"""pgvector plumbing: the binary codec for `vector`, and one table per embedding model.

HNSW needs a fixed dimension per column, so each model key gets `vectors_<slug>_<hash>`
(object_id, modality, embedding vector(dim), image_id, image_uri) with an inner-product HNSW
index: vectors are L2-normalised, so inner product is cosine similarity. `vector_models` maps
key → table, dim. A vector row names its image and uri itself, so a tombstone finds it even when
the image's rows (written from another topic) are already gone.
"""

from __future__ import annotations

import hashlib
import re
import struct

import asyncpg
import numpy as np

MAX_HNSW_DIM = 2000  # pgvector's limit for indexing the `vector` type
_HEADER = struct.Struct(">HH")


class VectorModelError(ValueError):
    pass


def encode_vector(value: np.ndarray | list[float]) -> bytes:
    """pgvector binary format: uint16 dim, uint16 unused, dim big-endian float32."""
    array = np.asarray(value, dtype=">f4").reshape(-1)
    return _HEADER.pack(array.size, 0) + array.tobytes()


def decode_vector(data: bytes) -> np.ndarray:
    dim, _ = _HEADER.unpack_from(data)
    return np.frombuffer(data, dtype=">f4", count=dim, offset=_HEADER.size).astype(np.float32)


async def register_vector_codec(conn: asyncpg.Connection) -> None:
    schema = await conn.fetchval(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'vector'"
    )
    await conn.set_type_codec(
        "vector", schema=schema, encoder=encode_vector, decoder=decode_vector, format="binary"
    )


def table_name(model_key: str) -> str:
    """A safe, unique identifier for a model key (fits Postgres' 63-character limit)."""
    slug = re.sub(r"[^a-z0-9]+", "_", model_key.lower()).strip("_")[:40]
    digest = hashlib.sha256(model_key.encode()).hexdigest()[:8]
    return f"vectors_{slug}_{digest}" if slug else f"vectors_{digest}"


async def ensure_vector_table(conn: asyncpg.Connection, model_key: str, dim: int) -> str:
    """Create (once) the model's table and HNSW index; returns the table name."""
    if not 0 < dim <= MAX_HNSW_DIM:
        raise VectorModelError(f"dim must be in 1..{MAX_HNSW_DIM} for an HNSW index, got {dim}")
    table = table_name(model_key)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", table)
        known = await conn.fetchrow(
            "SELECT table_name, dim FROM vector_models WHERE model_key = $1", model_key
        )
        if known is not None:
            if known["dim"] != dim:
                raise VectorModelError(
                    f"model {model_key!r} is stored with dim {known['dim']}, not {dim}: "
                    "a different model needs a different key"
                )
            await _add_image_columns(conn, str(known["table_name"]))
            return str(known["table_name"])
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            " object_id text NOT NULL,"
            " modality text NOT NULL CHECK (modality IN ('image', 'caption')),"
            f" embedding vector({dim}) NOT NULL,"
            " updated_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (object_id, modality))"
        )
        await _add_image_columns(conn, table)
        await conn.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table}"
            " USING hnsw (embedding vector_ip_ops)"
        )
        await conn.execute(
            "INSERT INTO vector_models (model_key, table_name, dim) VALUES ($1, $2, $3)",
            model_key,
            table,
            dim,
        )
    return table


async def _add_image_columns(conn: asyncpg.Connection, table: str) -> None:
    """Tables made before vectors named their image get the columns (idempotent)."""
    await conn.execute(
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS image_id text,"
        " ADD COLUMN IF NOT EXISTS image_uri text"
    )
    await conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_image ON {table} (image_id)")
    await conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_uri ON {table} (image_uri)")
