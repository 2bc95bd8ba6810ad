"""The read half of a Catalog, shared by the embedded and the streaming query service:
kNN on the sharded FAISS index (fan-out + merge), objects hydrated and filtered from Postgres;
a filter too selective for the over-fetch falls back to pgvector's filtered HNSW scan.

A text query (fusion on, `search.fusion`) ranks by three sources at once: the image vectors, the
caption vectors (both kNN as above) and Postgres full-text search over captions and attributes,
fused by reciprocal rank (`core.fusion.rrf`); every source applies the filters itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from typing import TypeVar

import numpy as np
from PIL import Image

from core.catalog.pg_store import PgStore
from core.catalog.pg_vector_reads import Modality
from core.catalog.views import ImageView, ObjectView, SearchFilters, SearchHit
from core.fusion import Fused, Ranked, rrf
from core.imaging import ImageLimits, load_image
from core.index.faiss_params import widened
from core.index.indexes import IndexRegistry
from core.inference import ModelRunner
from core.ports import Embedder, ObjectStore
from core.settings import FusionSettings
from core.storage_keys import crop_key
from services.query.filters import is_unfiltered, matches
from services.query.look import QUERY_MAX_SIDE, Look, PhotoObjects, look

OVERFETCH = 4
T = TypeVar("T")


class SearchCatalog:
    def __init__(
        self,
        pg: PgStore,
        indexes: IndexRegistry,
        embedder: Embedder,
        embed_runner: ModelRunner,
        crops: ObjectStore,
        limits: ImageLimits,
        photo_objects: PhotoObjects | None = None,
        *,
        fusion: FusionSettings | None = None,
    ) -> None:
        self.pg, self.indexes, self.embedder = pg, indexes, embedder
        self.embed_runner, self.crops, self.limits = embed_runner, crops, limits
        self.photo_objects = photo_objects  # None: query photos are searched whole
        self.fusion = fusion or FusionSettings()

    @property
    def model_key(self) -> str:
        return self.embedder.identity.key

    def index_status(self) -> dict[str, object]:
        """The model and image index searches use now (`/api/index`)."""
        index = self.indexes.get(self.model_key, "image")
        knobs = index.knobs if index is not None else None
        return {
            "model": self.model_key,
            "index_type": index.index_type if index is not None else None,
            "vectors": len(index) if index is not None else 0,
            "search": asdict(knobs) if knobs is not None else None,
        }

    async def search_text(
        self,
        text: str,
        filters: SearchFilters,
        limit: int,
        offset: int,
        fusion: bool | None = None,
    ) -> list[SearchHit]:
        """`fusion` None follows the settings; False ranks by the image vectors alone."""
        vector = await self.embed_runner.run(self.embedder.embed_texts, [text])
        if not (self.fusion.enabled if fusion is None else fusion):
            return await self._search(vector[0], filters, limit, offset)
        return await self._fused(text, vector[0], filters, limit, offset)

    async def _fused(
        self, text: str, vector: np.ndarray, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]:
        if not is_unfiltered(filters):  # the filters need each source's hits hydrated
            found = await self.text_sources(text, vector, filters, offset + limit)
            return fuse_hits(found, self.fusion)[offset : offset + limit]
        ranked = await self._ranked_sources(text, vector, filters.min_score, offset + limit)
        return await self._page(fuse_ids(ranked, self.fusion), offset, limit)

    async def _ranked_sources(
        self, text: str, vector: np.ndarray, min_score: float | None, at_least: int
    ) -> dict[str, list[tuple[str, float]]]:
        """`text_sources` of an unfiltered query as (object id, score) lists, unhydrated: only
        the fused page is read from Postgres (hydrating every source's hits, 400+ rows for a
        page of 24, was most of a fused query's time in bench/query_http.py)."""
        return await self._ask_sources(
            {
                "image": lambda k: self._nearest(vector, k, "image", min_score),
                "caption": lambda k: self._nearest(vector, k, "caption", min_score),
                "fulltext": lambda k: self.pg.fulltext_ranked(text, k),
            },
            at_least,
        )

    async def _ask_sources(
        self, searches: Mapping[str, Callable[[int], Awaitable[T]]], at_least: int
    ) -> dict[str, T]:
        """Each fusion source weighing more than 0 asked at once for `max(depth, at_least)`
        hits (`searches[name](k)`); sources weighing 0 are not asked."""
        active = {n: s for n, s in self.fusion.sources().items() if s.weight > 0}
        found = await asyncio.gather(
            *(searches[name](max(source.depth, at_least)) for name, source in active.items())
        )
        return dict(zip(active, found, strict=True))

    async def _nearest(
        self, vector: np.ndarray, k: int, modality: Modality, min_score: float | None
    ) -> list[tuple[str, float]]:
        """The k nearest (object id, score) in one index; probes more lists while an IVF index
        returns fewer than k (its calibrated nprobe is sized for the top 10)."""
        index = self.indexes.get(self.model_key, modality)
        if index is None or len(index) == 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        k, factor = min(k, len(index)), 1
        while True:
            [hits] = await asyncio.to_thread(index.search, query, k, widened(index.knobs, factor))
            if len(hits) >= k or factor >= OVERFETCH**3:
                return [(oid, s) for oid, s in hits if min_score is None or s >= min_score]
            factor *= OVERFETCH

    async def _page(self, fused: list[Fused], offset: int, limit: int) -> list[SearchHit]:
        """`fused[offset : offset + limit]` hydrated. Ids whose rows are gone (deleted after the
        index saw them) are skipped before the offset is applied, as the hydrated path does."""
        kept: list[SearchHit] = []
        done, end = 0, offset + limit
        while len(kept) < end and done < len(fused):
            chunk = fused[done : done + end - len(kept)]
            done += len(chunk)
            views = await self.pg.get_objects([f.id for f in chunk])
            kept += [
                SearchHit(score=f.score, object=views[f.id], matched_by=f.sources)
                for f in chunk
                if f.id in views
            ]
        return kept[offset:end]

    async def text_sources(
        self, text: str, vector: np.ndarray, filters: SearchFilters, at_least: int = 0
    ) -> dict[str, list[SearchHit]]:
        """Each fusion source's own hits for a text query (`vector` embeds `text`), best first,
        `max(depth, at_least)` of each; sources weighing 0 are not asked."""
        return await self._ask_sources(
            {
                "image": lambda k: self._search(vector, filters, k, 0),
                "caption": lambda k: self._search(vector, filters, k, 0, "caption"),
                "fulltext": lambda k: self.pg.search_fulltext(text, k, filters),
            },
            at_least,
        )

    async def search_image(
        self, data: bytes, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]:
        image = await asyncio.to_thread(load_image, data, self.limits, QUERY_MAX_SIDE)
        vector = await self.embed_runner.run(self.embedder.embed_images, [image])
        return await self._search(vector[0], filters, limit, offset)

    async def search_look(self, data: bytes, filters: SearchFilters, limit: int) -> Look:
        """The objects of a query photo with their own hits (`look.look`); the whole photo
        only when no detector is configured."""
        image = await asyncio.to_thread(load_image, data, self.limits, QUERY_MAX_SIDE)

        async def embed(images: list[Image.Image]) -> np.ndarray:
            return await self.embed_runner.run(self.embedder.embed_images, images)

        async def search(vector: np.ndarray, filters: SearchFilters, k: int) -> list[SearchHit]:
            return await self._search(vector, filters, k, 0)

        return await look(image, self.photo_objects, embed, search, filters, limit)

    async def similar(
        self, object_id: str, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]:
        ids, vectors = await self.pg.vectors(self.model_key, "image", object_id)
        if not ids:
            return []
        return await self._search(vectors[0], filters, limit, offset, exclude=object_id)

    async def _search(
        self,
        vector: np.ndarray,
        filters: SearchFilters,
        limit: int,
        offset: int,
        modality: Modality = "image",
        exclude: str | None = None,
    ) -> list[SearchHit]:
        index = self.indexes.get(self.model_key, modality)
        if index is None or len(index) == 0:
            return []
        want = offset + limit + (1 if exclude else 0)
        fetch = want if is_unfiltered(filters) else want * OVERFETCH
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        while True:
            k = min(fetch, len(index))
            knobs = widened(index.knobs, fetch // want)  # an over-fetch probes more lists too
            [hits] = await asyncio.to_thread(index.search, query, k, knobs)
            views = await self.pg.get_objects([oid for oid, _ in hits])
            found = [
                SearchHit(score=score, object=views[oid])
                for oid, score in hits
                if oid in views
                and oid != exclude
                and matches(views[oid], filters)
                and (filters.min_score is None or score >= filters.min_score)
            ]
            if len(found) >= want or k >= len(index):
                return found[offset : offset + limit]
            if fetch >= want * OVERFETCH**3:  # very selective filter: let pgvector filter
                hits_pg = await self.pg.search(self.model_key, vector, want, filters, 0, modality)
                kept = [h for h in hits_pg if h.object.object_id != exclude]
                return kept[offset : offset + limit]  # the anchor goes before the offset
            fetch *= OVERFETCH

    async def get_object(self, object_id: str) -> ObjectView | None:
        return await self.pg.get_object(object_id)

    async def get_image(self, image_id: str) -> ImageView | None:
        return await self.pg.get_image(image_id)

    async def crop_bytes(self, object_id: str) -> bytes | None:
        view = await self.pg.get_object(object_id)
        if view is None:
            return None
        return await read_or_none(self.crops, crop_key(view.image_id, object_id))

    async def recent(self, limit: int) -> list[ObjectView]:
        return await self.pg.recent(limit)

    async def labels(self) -> list[str]:
        return await self.pg.labels()

    async def ready(self) -> dict[str, bool]:
        index = self.indexes.get(self.model_key, "image")
        return {
            "postgres": await self.pg.ping(),
            "index": index is not None or not await self.pg.count_objects(),
            "embedder": self.embedder is not None,
        }


def fuse_hits(found: dict[str, list[SearchHit]], settings: FusionSettings) -> list[SearchHit]:
    """The sources' hits fused by reciprocal rank with the settings' weights and k."""
    objects = {hit.object.object_id: hit.object for hits in found.values() for hit in hits}
    ranked = {name: [(h.object.object_id, h.score) for h in hits] for name, hits in found.items()}
    return [
        SearchHit(score=f.score, object=objects[f.id], matched_by=f.sources)
        for f in fuse_ids(ranked, settings)
    ]


def fuse_ids(ranked: Mapping[str, Ranked], settings: FusionSettings) -> list[Fused]:
    """The sources' (id, score) lists fused by reciprocal rank with the settings' weights and k."""
    weights = {name: source.weight for name, source in settings.sources().items()}
    return rrf(ranked, weights, settings.rrf_k)


async def read_or_none(store: ObjectStore, key: str) -> bytes | None:
    try:
        return await store.get(key)
    except KeyError:
        return None
