"""Fused text search on the real Postgres: full-text over captions and attributes, and the
reciprocal-rank fusion of image vectors, caption vectors and full-text in `SearchCatalog`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.catalog.pg_store import PgStore
from core.catalog.pg_views import ObjectRecord
from core.catalog.views import SearchFilters
from core.domain import ModelIdentity, l2_normalise
from core.imaging import ImageLimits
from core.index.indexes import IndexRegistry
from core.inference import ModelRunner
from core.settings import FusionSettings, FusionSource
from services.query.search import SearchCatalog
from tests.fakes.ports import DictStore

DIM = 4
IDENTITY = ModelIdentity("fake", "fixed-vectors", "1", DIM)
QUERY = "red leather handbag"

# (object id, label, source, image vector, caption, attributes)
CATALOG: list[tuple[str, str, str, list[float], str, dict[str, Any]]] = [
    # the nearest image vector to the query, but a blue backpack by its caption
    ("o-near", "bag", "shop-a", [1, 0, 0, 0], "blue backpack", {"colours": ["blue"]}),
    # the red handbag: its image vector is only the third nearest
    ("o-red", "bag", "shop-a", [0.6, 0.8, 0, 0], "red leather handbag", {"colours": ["red"]}),
    (
        "o-mid",
        "bag",
        "shop-a",
        [0.8, 0.6, 0, 0],
        "black wallet",
        {"colours": ["black"], "material": "leather"},
    ),
    ("o-far", "shoe", "shop-b", [0, 0, 1, 0], "red sandals", {"colours": ["red"]}),
]


class FixedEmbedder:
    """The query's text vector is fixed; captions embed near it when they share its words."""

    identity = IDENTITY

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            shared = len(set(text.lower().split()) & set(QUERY.split()))
            rows.append([1.0, 0.0, 0.0, 0.0] if text == QUERY else [1.0, 0.0, 0.0, 3.0 - shared])
        return l2_normalise(np.asarray(rows, dtype=np.float32))

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        raise AssertionError("not used")


@pytest.fixture
async def catalog(fresh_pg_dsn: str) -> AsyncIterator[SearchCatalog]:
    pg = await PgStore.connect(fresh_pg_dsn, max_size=4)
    indexes = IndexRegistry(n_shards=2)
    embedder = FixedEmbedder()
    key = IDENTITY.key
    for oid, label, source, image_vector, caption, attributes in CATALOG:
        image_id = f"img-{oid}"
        await pg.upsert_image(image_id, f"file:///{image_id}.jpg", 64, 64, source, "x.jpg")
        await pg.upsert_objects(image_id, [ObjectRecord(oid, "object", label, 0.9, (0, 0, 9, 9))])
        await pg.merge_caption(oid, caption, attributes, "test")
        vectors = {
            "image": l2_normalise(np.asarray([image_vector], dtype=np.float32)),
            "caption": embedder.embed_texts([caption]),
        }
        for modality, vector in vectors.items():
            await pg.upsert_vectors(key, [oid], modality, vector)  # type: ignore[arg-type]
            indexes.get_or_create(key, modality, DIM).upsert([oid], vector)
    runner = ModelRunner("test-embedder")
    # captions trusted as much as images (as GPT-4o captions might be); the defaults, tuned for
    # offline captions, let a caption match lift an item past a near image neighbour only
    trusting = FusionSource(weight=1.0, depth=100)
    fusion = FusionSettings(rrf_k=60, caption=trusting, fulltext=trusting)
    limits = ImageLimits(max_bytes=1 << 20, max_pixels=1 << 20)
    yield SearchCatalog(pg, indexes, embedder, runner, DictStore(), limits, fusion=fusion)  # type: ignore[arg-type]
    runner.close()
    await pg.close()


def ids(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.object.object_id for h in hits]


async def test_a_caption_word_ranks_the_captioned_item_first_though_its_image_is_not_nearest(
    catalog: SearchCatalog,
) -> None:
    image_only = await catalog.search_text(QUERY, SearchFilters(), 4, 0, fusion=False)
    assert ids(image_only)[:3] == ["o-near", "o-mid", "o-red"]
    fused = await catalog.search_text(QUERY, SearchFilters(), 4, 0)
    assert ids(fused)[0] == "o-red"
    assert set(fused[0].matched_by) == {"image", "caption", "fulltext"}
    assert [h.score for h in fused] == sorted((h.score for h in fused), reverse=True)


async def test_fusion_off_in_the_settings_ranks_by_image_vectors_unless_a_query_asks(
    catalog: SearchCatalog,
) -> None:
    catalog.fusion = catalog.fusion.model_copy(update={"enabled": False})
    assert ids(await catalog.search_text(QUERY, SearchFilters(), 1, 0)) == ["o-near"]
    assert ids(await catalog.search_text(QUERY, SearchFilters(), 1, 0, fusion=True)) == ["o-red"]


async def test_fused_search_still_applies_the_filters_to_every_source(
    catalog: SearchCatalog,
) -> None:
    shoes = await catalog.search_text(QUERY, SearchFilters(labels=("shoe",)), 10, 0)
    assert ids(shoes) == ["o-far"]
    black = await catalog.search_text(QUERY, SearchFilters(attributes={"colours": "black"}), 10, 0)
    assert ids(black) == ["o-mid"]
    shop_b = await catalog.search_text(QUERY, SearchFilters(source="shop-b"), 10, 0)
    assert ids(shop_b) == ["o-far"]


async def test_paging_a_fused_search_walks_one_order(catalog: SearchCatalog) -> None:
    everything = ids(await catalog.search_text(QUERY, SearchFilters(), 4, 0))
    pages = [ids(await catalog.search_text(QUERY, SearchFilters(), 2, o)) for o in (0, 2)]
    assert pages[0] + pages[1] == everything


async def test_full_text_matches_any_stemmed_word_of_caption_or_attributes_best_first(
    catalog: SearchCatalog,
) -> None:
    hits = await catalog.pg.search_fulltext("Red handbags", 10)
    assert ids(hits) == ["o-red", "o-far"]  # two words beat one; "handbags" stems to "handbag"
    # a word in an attribute value matches too, below the same word in a caption
    assert ids(await catalog.pg.search_fulltext("leather", 10)) == ["o-red", "o-mid"]
    assert ids(await catalog.pg.search_fulltext("the and of", 10)) == []  # only stopwords
    assert ids(await catalog.pg.search_fulltext("it's 'red' & | !", 10)) == ["o-far", "o-red"]


async def test_a_fused_page_skips_an_object_deleted_after_the_index_saw_it_and_stays_full(
    catalog: SearchCatalog,
) -> None:
    before = ids(await catalog.search_text(QUERY, SearchFilters(), 4, 0))
    await catalog.pg.delete_image("img-o-red")  # its vectors stay in FAISS until the event lands
    assert ids(await catalog.search_text(QUERY, SearchFilters(), 3, 0)) == [
        oid for oid in before if oid != "o-red"
    ]
    assert (
        ids(await catalog.search_text(QUERY, SearchFilters(), 2, 1))
        == [oid for oid in before if oid != "o-red"][1:3]
    )


async def test_the_unfiltered_and_the_filtered_fused_paths_rank_alike(
    catalog: SearchCatalog,
) -> None:
    """The unfiltered path fuses ids and hydrates the page only; a filter every object passes
    takes the hydrating path: both give the same order and scores."""
    fast = await catalog.search_text(QUERY, SearchFilters(), 4, 0)
    hydrated = await catalog.search_text(QUERY, SearchFilters(labels=("bag", "shoe")), 4, 0)
    assert [(h.object.object_id, h.score, h.matched_by) for h in fast] == [
        (h.object.object_id, h.score, h.matched_by) for h in hydrated
    ]
