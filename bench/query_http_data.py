"""The catalog behind the HTTP text-search bench (`bench.query_http`), made without the pipeline.

N objects on N/2 images: each image has its whole-image object (kind `image`) and one detected
item (kind `object`, a fashion detector class). Each object gets an offline-captioner style
caption and attributes (`compose_caption`, the captioner's colour names, patterns and zero-shot
categories), drawn from a few thousand distinct products, as offline captions repeat a lot. Its
image vector comes from `bench.query_real` (the shipped aligned model's image space); its caption
vector is the shipped text tower's vector of its caption plus a little noise (the pipeline embeds
captions with the same tower; the noise keeps a million rows from being exact duplicates). Image
vectors and captions are drawn independently: the ranking is not meaningful, the work is.

Rows go into the store's own tables with COPY (`images`, `objects`, `captions` with its generated
full-text column, the model's `vectors_*` table without its HNSW index); the vectors into the
FAISS view's registry exactly as the embedded stack builds it (`LogIndex`, one partition, the
settings' index type).
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.query_data import CHUNK, normalise
from core.catalog.pg_search import fulltext_sql
from core.catalog.pg_store import PgStore
from core.catalog.views import SearchFilters
from core.detection.presets import FASHION
from core.domain import Attributes
from core.index.faiss_shards import ShardedFaissIndex
from core.index.indexes import IndexRegistry
from core.ports import Embedder
from core.storage_keys import image_key
from core.wire import caption_attributes
from schemas.ids import ObjectKind, image_id_from_bytes, object_id, s3_uri
from services.captioner.colours import PALETTE
from services.captioner.offline import OFFLINE_MODEL, compose_caption
from services.captioner.zero_shot import CATEGORY_REFINEMENTS, OPEN_LABELS, PATTERNS

log = logging.getLogger("bench.query_http")

OBJECTS_PER_IMAGE = 2  # the whole image + one detected item
WHOLE_BOX, ITEM_BOX = (0, 0, 640, 480), (120, 60, 420, 440)
CAPTION_NOISE = 0.2  # norm of the noise added to a caption's text vector (as `RealLike.noise`)

# Search words a shopper types: colour × material × garment
QUERY_COLOURS = (
    "red", "black", "white", "blue", "navy", "green", "beige", "pink", "grey", "brown",
    "yellow", "purple",
)  # fmt: skip
QUERY_MATERIALS = (
    "leather", "cotton", "denim", "wool", "silk", "linen", "suede", "canvas", "knitted", "satin",
)  # fmt: skip
QUERY_GARMENTS = (
    "summer dress", "handbag", "sneakers", "jacket", "t-shirt", "jeans", "skirt", "backpack",
    "sandals", "sweater", "shirt", "heels", "wallet", "cap", "shorts", "belt",
)  # fmt: skip


def catalog_queries(n: int, seed: int = 0) -> list[str]:
    """n distinct "colour material garment" queries in a fixed shuffled order."""
    combos = [
        f"{colour} {material} {garment}"
        for colour in QUERY_COLOURS
        for material in QUERY_MATERIALS
        for garment in QUERY_GARMENTS
    ]
    if n > len(combos):
        raise ValueError(f"only {len(combos)} distinct queries, asked for {n}")
    random.Random(seed).shuffle(combos)
    return combos[:n]


@dataclass(frozen=True)
class Product:
    """One distinct offline caption: what many objects of the catalog share."""

    label: str  # the detector class; "image" for a whole image
    caption: str
    attributes: str  # JSON, as the captions table holds it


def products(n: int, whole: bool, seed: int) -> list[Product]:
    """n distinct products: whole images (categories from the open vocabulary) or detected
    items (a fashion class, refined as the zero-shot tagger refines it)."""
    rng = random.Random(seed)
    colours = list(PALETTE)
    found: dict[tuple[str, str, tuple[str, ...], str], Product] = {}
    for _ in range(n * 100):
        if len(found) == n:
            break
        label = "image" if whole else rng.choice(FASHION)
        choices = OPEN_LABELS["image"] if whole else (label, *CATEGORY_REFINEMENTS.get(label, ()))
        category = rng.choice(choices)
        shades = tuple(rng.sample(colours, 1 if rng.random() < 0.6 else 2))
        pattern = PATTERNS[0] if rng.random() < 0.7 else rng.choice(PATTERNS[1:])
        key = (label, category, shades, pattern)
        if key not in found:
            attributes = caption_attributes(Attributes(category, shades, pattern))
            found[key] = Product(
                label,
                compose_caption(shades, category, pattern),
                json.dumps(attributes.model_dump(exclude_none=True)),
            )
    if len(found) < n:
        raise ValueError(f"could draw only {len(found)} distinct products, asked for {n}")
    return list(found.values())


@dataclass(frozen=True)
class Catalog:
    """Row i is object i of image i // OBJECTS_PER_IMAGE (slot 0: the whole image)."""

    image_ids: list[str]
    object_ids: list[str]
    products: list[Product]
    product_of: np.ndarray  # (n,) index into `products`

    @property
    def n(self) -> int:
        return len(self.object_ids)

    def image_of(self, i: int) -> str:
        return self.image_ids[i // OBJECTS_PER_IMAGE]

    def product(self, i: int) -> Product:
        return self.products[self.product_of[i]]


def shape(i: int) -> tuple[ObjectKind, tuple[int, int, int, int], float]:
    """Kind, box and detector score of object i (slot 0 of its image is the whole image)."""
    if i % OBJECTS_PER_IMAGE == 0:
        return "image", WHOLE_BOX, 1.0
    return "object", ITEM_BOX, 0.8


def make_catalog(n: int, distinct: int, seed: int = 0) -> Catalog:
    """n objects whose captions come from `distinct` products (half whole images, half items)."""
    whole = products(distinct // 2, True, seed)
    items = products(distinct - distinct // 2, False, seed + 1)
    rng = np.random.default_rng(seed)
    product_of = np.where(
        np.arange(n) % OBJECTS_PER_IMAGE == 0,
        rng.integers(0, len(whole), n),
        len(whole) + rng.integers(0, len(items), n),
    )
    images = -(-n // OBJECTS_PER_IMAGE)
    image_ids = [image_id_from_bytes(f"bench-image-{i}".encode()) for i in range(images)]
    catalog = Catalog(image_ids, [], whole + items, product_of)
    for i in range(n):
        kind, box, _ = shape(i)
        catalog.object_ids.append(
            object_id(catalog.image_of(i), kind, box, catalog.product(i).label)
        )
    return catalog


def caption_vectors(catalog: Catalog, embedder: Embedder, seed: int = 0) -> np.ndarray:
    """(n, dim): each object's caption embedded by the text tower (once per product), plus
    noise of norm CAPTION_NOISE, L2-normalised."""
    texts = np.asarray(embedder.embed_texts([p.caption for p in catalog.products]), np.float32)
    rng = np.random.default_rng(seed)
    out = np.empty((catalog.n, texts.shape[1]), dtype=np.float32)
    for lo in range(0, catalog.n, CHUNK):
        rows = texts[catalog.product_of[lo : lo + CHUNK]]
        noise = rng.standard_normal(rows.shape, dtype=np.float32)
        noise *= CAPTION_NOISE / np.sqrt(rows.shape[1])
        out[lo : lo + len(rows)] = normalise(rows + noise)
    return out


async def load_rows(
    store: PgStore, catalog: Catalog, vectors: dict[str, np.ndarray], model_key: str
) -> str:
    """COPY the catalog's images, objects, captions and vectors (per modality) into the store's
    tables; the model's vector table has no HNSW index after. Returns that table's name."""
    dim = next(iter(vectors.values())).shape[1]
    table = await store.ensure_vector_table(model_key, dim)
    uris = [s3_uri("catalog", image_key(i)) for i in catalog.image_ids]
    async with store._pool.acquire() as conn:
        await conn.execute(f"DROP INDEX IF EXISTS {table}_hnsw")
        images = [
            (i, uri, 640, 480, "bench") for i, uri in zip(catalog.image_ids, uris, strict=True)
        ]
        columns = ["image_id", "uri", "width", "height", "source"]
        await conn.copy_records_to_table("images", records=images, columns=columns)
        started = time.perf_counter()
        for lo in range(0, catalog.n, CHUNK):
            hi = min(lo + CHUNK, catalog.n)
            objects, captions = [], []
            for i in range(lo, hi):
                oid, product, (kind, box, score) = (
                    catalog.object_ids[i],
                    catalog.product(i),
                    shape(i),
                )
                objects.append((oid, catalog.image_of(i), kind, product.label, score, list(box)))
                captions.append((oid, product.caption, product.attributes, OFFLINE_MODEL))
            columns = ["object_id", "image_id", "kind", "label", "score", "box"]
            await conn.copy_records_to_table("objects", records=objects, columns=columns)
            columns = ["object_id", "caption", "attributes", "captioner"]
            await conn.copy_records_to_table("captions", records=captions, columns=columns)
            for modality, matrix in vectors.items():
                rows = [
                    (
                        catalog.object_ids[i],
                        modality,
                        matrix[i],
                        catalog.image_of(i),
                        uris[i // OBJECTS_PER_IMAGE],
                    )
                    for i in range(lo, hi)
                ]
                columns = ["object_id", "modality", "embedding", "image_id", "image_uri"]
                await conn.copy_records_to_table(table, records=rows, columns=columns)
            log.info(
                "  rows %s/%s (%.0f s)", f"{hi:,}", f"{catalog.n:,}", time.perf_counter() - started
            )
    return table


def fill_index(
    indexes: IndexRegistry, model_key: str, modality: str, ids: list[str], vectors: np.ndarray
) -> ShardedFaissIndex:
    """All of a modality's vectors in one upsert into partition 0 (the embedded view's one
    partition), then wait for the "Auto" build and calibration that size starts."""
    index = indexes.get_or_create(model_key, modality, vectors.shape[1])
    index.upsert(ids, vectors, shard=0)
    index.settle()
    if index.build_error is not None:
        raise index.build_error
    return index


async def fulltext_matches(store: PgStore, texts: list[str], depth: int) -> list[float]:
    """Per query: captions the full-text query matched (EXPLAIN ANALYZE of the app's own SQL)
    and its execution ms; the plan of the first is logged."""
    out = []
    for i, text in enumerate(texts):
        sql, args = fulltext_sql(text, SearchFilters(), depth)
        plan = await store._pool.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
        top = json.loads(plan)[0]
        out.append(float(max(caption_rows(top["Plan"]), default=0)))
        if i == 0:
            text_plan = await store._pool.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
            log.info("full-text plan for %r:\n%s", text, "\n".join(r[0] for r in text_plan))
    return out


def caption_rows(node: dict[str, Any]) -> Iterator[int]:
    """Rows read from `captions` by any node of the plan (the matches, before the LIMIT)."""
    if node.get("Relation Name") == "captions":
        yield int(node["Actual Rows"]) * int(node.get("Actual Loops", 1))
    for child in node.get("Plans", []):
        yield from caption_rows(child)
