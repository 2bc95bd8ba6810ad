"""The text-fusion bench's gallery: held-out catalog products, captioned and embedded as the
pipeline would, and loaded into a real Postgres catalog + FAISS view.

Splits (`catalens.training.aligned.dataset`): `eval` is the 1,000 held-out products of
`split_holdout(products, 1000, seed 0)`, the gallery behind the model's t2i metrics; `tune` is the
700 products `hold_tune` training keeps back (`split_holdout(train, 700, seed 1)`), disjoint
from `eval` and unseen by an artifact trained with `hold_tune` (its manifest says so). Each
product is one whole-image object (kind `image`, label `image`), captioned by the offline
captioner with the embedder's zero-shot tags (pattern, category) and measured colours; its
image vector, caption, attributes and caption vector are stored the way the indexer stores them.
Captions and vectors are cached per (model, split) so reruns skip the embedding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from catalens.training.aligned.dataset import Product, load_products, split_holdout
from core.catalog.pg_store import PgStore
from core.catalog.pg_views import ObjectRecord
from core.domain import Box, Crop
from core.imaging import load_image_file
from core.index.indexes import IndexRegistry
from core.ports import Embedder
from core.wire import caption_attributes

HOLDOUT, SEED, TUNE_PRODUCTS = 1000, 0, 700
CACHE = Path.home() / ".cache" / "catalens" / "bench-text-fusion"
BATCH = 64


@dataclass(frozen=True)
class Gallery:
    products: list[Product]
    captions: list[str]
    attributes: list[dict[str, object]]
    images: np.ndarray  # (n, dim) image vectors
    caption_vectors: np.ndarray  # (n, dim)


def split_products(data: Path, split: str) -> list[Product]:
    train, held_out = split_holdout(load_products(data), HOLDOUT, SEED)
    if split == "eval":
        return held_out
    if split == "tune":
        return split_holdout(train, TUNE_PRODUCTS, SEED + 1)[1]
    raise ValueError(f"split must be eval or tune, got {split!r}")


def build_gallery(data: Path, split: str, embedder: Embedder) -> Gallery:
    """Caption and embed the split's products (or read them from the cache)."""
    from services.captioner.offline import OfflineCaptioner

    products = split_products(data, split)
    cached = CACHE / f"{embedder.identity.key.replace(':', '_').replace('/', '_')}-{split}"
    if (cached / "vectors.npz").is_file():
        meta = json.loads((cached / "captions.json").read_text())
        if meta["ids"] == [p.id for p in products]:
            arrays = np.load(cached / "vectors.npz")
            return Gallery(
                products, meta["captions"], meta["attributes"], arrays["images"], arrays["captions"]
            )
    reuse = _ReuseImageVectors(embedder)
    captioner = OfflineCaptioner(reuse)
    captions, attributes, images = [], [], []
    for start in range(0, len(products), BATCH):
        batch = [load_image_file(p.image) for p in products[start : start + BATCH]]
        images.append(reuse.remember(batch))
        for image in batch:
            crop = Crop("image", "image", 1.0, Box(0, 0, image.width, image.height), image)
            caption = captioner.caption_now(crop)
            captions.append(caption.caption)
            attributes.append(caption_attributes(caption.attributes).model_dump(exclude_none=True))
        print(f"captioned {min(start + BATCH, len(products))}/{len(products)}", flush=True)
    captioner.close()
    caption_vectors = np.concatenate(
        [embedder.embed_texts(captions[i : i + BATCH]) for i in range(0, len(captions), BATCH)]
    )
    gallery = Gallery(products, captions, attributes, np.concatenate(images), caption_vectors)
    cached.mkdir(parents=True, exist_ok=True)
    np.savez(cached / "vectors.npz", images=gallery.images, captions=caption_vectors)
    meta = {"ids": [p.id for p in products], "captions": captions, "attributes": attributes}
    (cached / "captions.json").write_text(json.dumps(meta))
    return gallery


class _ReuseImageVectors:
    """The embedder, but an image embedded once is not embedded again when the captioner's
    zero-shot tagger asks for it (the same vector: it only saves the second forward pass)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder, self.identity = embedder, embedder.identity
        self.known: dict[int, np.ndarray] = {}

    def remember(self, images: list[Image.Image]) -> np.ndarray:
        vectors = np.asarray(self.embedder.embed_images(images))
        self.known = {id(image): vector for image, vector in zip(images, vectors, strict=True)}
        return vectors

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if all(id(image) in self.known for image in images):
            return np.stack([self.known[id(image)] for image in images])
        return np.asarray(self.embedder.embed_images(images))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.embedder.embed_texts(texts))


def object_id(product: Product) -> str:
    return f"product-{product.id}"


async def load_catalog(gallery: Gallery, pg: PgStore, indexes: IndexRegistry, key: str) -> None:
    """Rows, captions and vectors into Postgres (as the indexer writes them), vectors into FAISS
    (as the view route does)."""
    ids = [object_id(p) for p in gallery.products]
    for product, oid, caption, attributes in zip(
        gallery.products, ids, gallery.captions, gallery.attributes, strict=True
    ):
        image_id = f"image-{product.id}"
        await pg.upsert_image(image_id, product.image.as_uri(), 224, 224, "products")
        await pg.upsert_objects(
            image_id, [ObjectRecord(oid, "image", "image", 1.0, (0, 0, 224, 224))]
        )
        await pg.merge_caption(oid, caption, attributes, "offline-colour-v1")
    for modality, vectors in (("image", gallery.images), ("caption", gallery.caption_vectors)):
        await pg.upsert_vectors(key, ids, modality, vectors)  # type: ignore[arg-type]
        indexes.get_or_create(key, modality, vectors.shape[1]).upsert(ids, vectors)
