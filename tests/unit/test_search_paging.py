"""Paging through `SearchCatalog` never repeats or skips a hit, on the FAISS over-fetch path and
on the pgvector fallback a very selective filter takes (the catalog store is a brute-force
stand-in here: the paging logic under test is SearchCatalog's own)."""

from __future__ import annotations

import numpy as np
import pytest

from core.catalog.views import ObjectView, SearchFilters, SearchHit
from core.domain import ModelIdentity
from core.imaging import DEFAULT_LIMITS
from core.index.indexes import IndexRegistry
from services.query.filters import matches
from services.query.search import SearchCatalog

MODEL = ModelIdentity("fake", "paging", "1")
N, DIM, RARE = 2000, 16, 5  # objects 0, 400, ..., 1600 are from the rare source


class BruteForceStore:
    """The parts of PgStore searches read: rows by id, exact filtered kNN, one object's vectors."""

    def __init__(self, views: dict[str, ObjectView], vectors: dict[str, np.ndarray]) -> None:
        self.views, self.vectors_of = views, vectors
        self.fallbacks = 0

    async def get_objects(self, ids: list[str]) -> dict[str, ObjectView]:
        return {i: self.views[i] for i in ids if i in self.views}

    async def vectors(self, model: str, modality: str, object_id: str):  # type: ignore[no-untyped-def]
        return [object_id], self.vectors_of[object_id][None, :]

    async def search(self, model, vector, limit, filters, offset, modality="image"):  # type: ignore[no-untyped-def]
        self.fallbacks += 1
        scored = sorted(
            (
                (-float(vector @ self.vectors_of[oid]), oid)
                for oid, view in self.views.items()
                if matches(view, filters)
            )
        )
        return [SearchHit(-s, self.views[oid]) for s, oid in scored[offset : offset + limit]]


class Embedder:
    identity = MODEL


@pytest.fixture
def catalog() -> tuple[SearchCatalog, BruteForceStore]:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"o{i:04d}" for i in range(N)]
    views = {
        oid: ObjectView(
            oid,
            f"i{i:04d}",
            "object",
            "bag",
            0.9,
            (0, 0, 9, 9),
            source="rare" if i % (N // RARE) == 0 else "common",
        )
        for i, oid in enumerate(ids)
    }
    store = BruteForceStore(views, dict(zip(ids, vectors, strict=True)))
    indexes = IndexRegistry(n_shards=2)
    indexes.get_or_create(MODEL.key, "image", DIM).upsert(ids, vectors)
    search = SearchCatalog(store, indexes, Embedder(), None, None, DEFAULT_LIMITS)  # type: ignore[arg-type]
    return search, store


@pytest.mark.parametrize("source", ["rare", None])
async def test_paging_similar_one_by_one_gives_each_match_once(catalog, source) -> None:
    search, store = catalog
    anchor = next(o for o, v in store.views.items() if v.source == "rare")
    filters = SearchFilters(source=source)
    pages = [
        [h.object.object_id for h in await search.similar(anchor, filters, 1, offset)]
        for offset in range(RARE + 1)
    ]
    seen = [ids[0] for ids in pages if ids]
    assert len(seen) == len(set(seen)) and anchor not in seen
    if source == "rare":
        assert len(seen) == RARE - 1 and pages[-2:] == [[], []] and store.fallbacks
        whole = await search.similar(anchor, filters, RARE, 0)
        assert [h.object.object_id for h in whole] == seen  # pages = one big page, in order
    else:
        assert len(seen) == RARE + 1
