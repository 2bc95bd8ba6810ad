"""Deletes (a part of `PgStore`), split by who wrote what: the image, object and caption rows
come from `objects.detected` (and `objects.captioned`), the vector rows from `objects.embedded`.
The indexer reads those topics in separate routes that may lag each other, so a route removes
only its own rows and finds the versions at a uri among its own rows: a route that is behind
never removes a newer version that the other route has already written."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg


class Deletes:
    """Needs `_pool` from its host (`PgStore`)."""

    _pool: asyncpg.Pool

    async def delete_image(self, image_id: str, also: Sequence[str] = ()) -> list[str]:
        """Remove the image, its objects, their captions and vectors (and the objects in
        `also`). Returns the object ids."""
        ids = await self.delete_rows(image_id, also)
        await self.delete_vectors(image_id, ids)
        return ids

    async def delete_rows(self, image_id: str, also: Sequence[str] = ()) -> list[str]:
        """Remove the image row, its objects and the captions of those (and of `also`)."""
        async with self._pool.acquire() as conn, conn.transaction():
            sql = "DELETE FROM objects WHERE image_id = $1 RETURNING object_id"
            ids = [r["object_id"] for r in await conn.fetch(sql, image_id)]
            ids = list(dict.fromkeys([*ids, *also]))
            await conn.execute("DELETE FROM captions WHERE object_id = ANY($1::text[])", ids)
            await conn.execute("DELETE FROM images WHERE image_id = $1", image_id)
        return ids

    async def delete_vectors(
        self,
        image_id: str | None,
        object_ids: Sequence[str] = (),
        uri: str | None = None,
        keep: str | None = None,
    ) -> set[str]:
        """Remove the vectors of the image, of `object_ids`, and of every image stored at `uri`
        but `keep` (by the vector rows' own image columns), from every model's table; the ids
        of the images whose vectors went."""
        gone: set[str] = set()
        async with self._pool.acquire() as conn, conn.transaction():
            for table in await conn.fetch("SELECT table_name FROM vector_models"):
                rows = await conn.fetch(
                    f"DELETE FROM {table['table_name']} WHERE object_id = ANY($1::text[])"
                    " OR image_id = $2 OR (image_uri = $3 AND image_id IS DISTINCT FROM $4)"
                    " RETURNING image_id",
                    list(object_ids),
                    image_id,
                    uri,
                    keep,
                )
                gone.update(r["image_id"] for r in rows if r["image_id"] is not None)
        return gone

    async def mark_removed(self, route: str, image_ids: Sequence[str], keep: str | None) -> None:
        """Note that a tombstone on `route` removed these images (and that `keep` stays)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "INSERT INTO removed_images (route, image_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING",
                [(route, image_id) for image_id in image_ids],
            )
            if keep is not None:
                await self.unmark_removed(route, keep, conn)

    async def unmark_removed(
        self, route: str, image_id: str, conn: asyncpg.Connection | None = None
    ) -> bool:
        """Forget that the image was removed on `route`; whether it was."""
        sql = "DELETE FROM removed_images WHERE route = $1 AND image_id = $2"
        status = await (conn or self._pool).execute(sql, route, image_id)
        return bool(status != "DELETE 0")

    async def is_removed(self, route: str, image_id: str) -> bool:
        sql = "SELECT 1 FROM removed_images WHERE route = $1 AND image_id = $2"
        return await self._pool.fetchval(sql, route, image_id) is not None

    async def image_ids_by_uri(self, uri: str) -> list[str]:
        """Ids of the images whose rows say they are stored at `uri`."""
        rows = await self._pool.fetch("SELECT image_id FROM images WHERE uri = $1", uri)
        return [r["image_id"] for r in rows]
