"""The seed-style baseline for bench/stream.py: one image at a time in one thread, no Kafka, no
MinIO, no Postgres: decode → detect → crop → embed → add to a FAISS index."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from core.detection.crop_policy import make_crops
from core.imaging import load_image
from core.index.indexes import IndexRegistry
from core.ports import Detector, Embedder
from core.settings import Settings
from schemas import image_id_from_bytes, object_id


@dataclass
class SequentialResult:
    images: int
    objects: int
    wall_s: float
    latencies_s: list[float]

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall_s

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q))


def ingest_one(
    data: bytes,
    salt: str,
    detector: Detector,
    embedder: Embedder,
    settings: Settings,
    indexes: IndexRegistry,
) -> int:
    """One image through the whole chain; returns the number of objects indexed."""
    image = load_image(data)
    image_id = image_id_from_bytes(salt.encode() + data)  # fresh ids on every run
    [found] = detector.detect([image])
    crops = make_crops(image, found, settings.detector.crop)
    vectors = embedder.embed_images([c.image for c in crops])
    ids = [object_id(image_id, c.kind, c.box, c.label) for c in crops]
    index = indexes.get_or_create(embedder.identity.key, "image", int(vectors.shape[1]))
    index.upsert(ids, np.asarray(vectors, dtype=np.float32))
    return len(ids)


def measure_sequential(
    images: list[bytes],
    warmup: list[bytes],
    detector: Detector,
    embedder: Embedder,
    settings: Settings,
    run_id: str,
) -> SequentialResult:
    indexes = IndexRegistry(settings.index.n_shards, settings.index.index_type)
    try:
        for i, data in enumerate(warmup):
            ingest_one(data, f"{run_id}-warm-{i}", detector, embedder, settings, indexes)
        latencies, objects = [], 0
        start = time.perf_counter()
        for i, data in enumerate(images):
            t0 = time.perf_counter()
            objects += ingest_one(data, f"{run_id}-{i}", detector, embedder, settings, indexes)
            latencies.append(time.perf_counter() - t0)
        wall = time.perf_counter() - start
    finally:
        indexes.close()
    return SequentialResult(len(images), objects, wall, latencies)
