"""Re-embed stored crops for the current embedder: after a model switch the catalog stays
searchable without detecting anything again (indexes are per model)."""

from __future__ import annotations

import logging

import numpy as np
from tqdm import tqdm

from catalens.embedded.bootstrap import EmbeddedStack
from catalens.errors import ImageError
from catalens.imaging import load_image
from catalens.storage_keys import crop_key

log = logging.getLogger(__name__)


async def backfill_vectors(
    stack: EmbeddedStack, batch_size: int = 64, progress: bool = True
) -> int:
    """Embed every object that has no image vector from the current model; returns how many."""
    identity = stack.embedder.identity
    todo = await stack.pg.objects_without_vectors(identity.key)
    if not todo:
        return 0
    log.warning(
        "%d objects have no vectors from %s: embedding their crops", len(todo), identity.key
    )
    done = 0
    with tqdm(total=len(todo), unit="obj", desc="re-embed", disable=not progress) as bar:
        for start in range(0, len(todo), batch_size):
            ids, images = [], []
            for object_id, image_id in todo[start : start + batch_size]:
                try:
                    images.append(load_image(await stack.store.get(crop_key(image_id, object_id))))
                    ids.append(object_id)
                except (KeyError, ImageError) as exc:
                    log.warning("cannot re-embed %s: %s", object_id, exc)
            if ids:
                vectors = await stack.embed_runner.run(stack.embedder.embed_images, images)
                await stack.pg.upsert_vectors(identity.key, ids, "image", vectors)
                index = stack.indexes.get_or_create(identity.key, "image", identity.dim)
                index.upsert(ids, np.asarray(vectors, dtype=np.float32))
                done += len(ids)
            bar.update(len(todo[start : start + batch_size]))
    return done
