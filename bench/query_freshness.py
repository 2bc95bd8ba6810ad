"""Embedded-mode freshness: upload → searchable latency through the whole embedded stack.

A fresh stack (temporary data dir, embedded Postgres with fsync off, offline captioner, the
configured detector and the trained aligned embedder) ingests real product photos one at a time
with `EmbeddedCatalog.ingest_many`; the clock stops when every object of the image is readable
with `get_object` and present in the FAISS image index, i.e. when a search can return it. The
embedded ingest drains the bus before it returns, so this is detection + cropping + embedding +
indexing of one image. Needs a trained aligned embedder: with only random weights the timing would
be real but the model is not the one users run, so the measurement is skipped instead.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.paths import shared_path

WARMUP_IMAGES, POLL_S, TIMEOUT_S = 2, 0.005, 60.0


@dataclass
class Freshness:
    uploads: int
    p50_s: float
    p95_s: float
    max_s: float
    objects_per_image: float
    embedder: str


def sample_images(n: int) -> list[Path]:
    folder = shared_path("datasets", "fashion-products", "images")
    if folder is None:
        raise FileNotFoundError("no ../shared/datasets/fashion-products/images")
    files = sorted(folder.glob("*.jpg"))
    step = max(1, len(files) // n)
    return files[::step][:n]


def aligned_artifact() -> Path | None:
    """The trained aligned embedder under the default data dir, or None."""
    from core.embedding.factory import latest_aligned_artifact
    from core.errors import ModelError

    try:
        return latest_aligned_artifact(Path.home() / ".local/share/catalens")
    except ModelError:
        return None


async def measure(uploads: int) -> Freshness:
    from catalens.embedded.bootstrap import open_stack
    from catalens.embedded.catalog import EmbeddedCatalog
    from core.embedding.factory import build_embedder
    from core.settings import (
        CaptionerSettings,
        EmbedderSettings,
        PostgresSettings,
        Settings,
    )

    artifact = aligned_artifact()
    if artifact is None:
        raise FileNotFoundError("no trained aligned embedder")
    embedder = build_embedder(EmbedderSettings(backend="aligned", model=str(artifact)))
    paths = sample_images(uploads + WARMUP_IMAGES)
    with tempfile.TemporaryDirectory(prefix="catalens-bench-fresh-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            embedder=EmbedderSettings(backend="aligned", model=str(artifact)),
            captioner=CaptionerSettings(backend="offline"),
            postgres=PostgresSettings(durable=False),
        )
        async with open_stack(settings, embedder=embedder) as stack:
            catalog = EmbeddedCatalog(stack)
            times, objects = [], []
            for i, path in enumerate(paths):
                seconds, found = await upload_until_visible(catalog, path)
                if i >= WARMUP_IMAGES:
                    times.append(seconds)
                    objects.append(found)
    return Freshness(
        uploads=len(times),
        p50_s=float(np.percentile(times, 50)),
        p95_s=float(np.percentile(times, 95)),
        max_s=max(times),
        objects_per_image=float(np.mean(objects)),
        embedder=embedder.identity.key,
    )


async def upload_until_visible(catalog: object, path: Path) -> tuple[float, int]:
    """Seconds from the upload call to the image's objects being searchable, and their count."""
    from catalens.embedded.catalog import EmbeddedCatalog
    from core.errors import CatalensError

    assert isinstance(catalog, EmbeddedCatalog)
    data = path.read_bytes()
    start = time.perf_counter()
    [result] = await catalog.ingest_many([(path.name, data, "bench")])
    if isinstance(result, CatalensError):
        raise result
    while time.perf_counter() - start < TIMEOUT_S:
        view = await catalog.get_image(result.image_id)
        index = catalog.stack.view.index.indexes.get(catalog.model_key, "image")
        if view and view.objects and index is not None:
            ids = [o.object_id for o in view.objects]
            visible = [await catalog.get_object(oid) for oid in ids]
            if all(visible) and all(index.contains(oid) for oid in ids):
                return time.perf_counter() - start, len(ids)
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"{path.name} not searchable after {TIMEOUT_S:.0f} s")
