"""Re-embed stored crops for the current embedder: after a model switch the catalog stays
searchable without detecting anything again (indexes are per model). The vectors go the way
the embedder's do: `ObjectsEmbedded` on the bus, into pgvector and the FAISS view."""

from __future__ import annotations

import itertools
import logging

import numpy as np
from tqdm import tqdm

from catalens.embedded.bootstrap import EmbeddedStack
from core.errors import ImageError
from core.imaging import load_image
from core.storage_keys import crop_key
from core.wire import embedder_ref
from schemas import EmbeddedVector, ObjectsEmbedded, Vector

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
            owner = dict(todo[start : start + batch_size])
            for object_id, image_id in todo[start : start + batch_size]:
                try:
                    images.append(load_image(await stack.store.get(crop_key(image_id, object_id))))
                    ids.append(object_id)
                except (KeyError, ImageError) as exc:
                    log.warning("cannot re-embed %s: %s", object_id, exc)
            if ids:
                vectors = await stack.embed_runner.run(stack.embedder.embed_images, images)
                await _publish(stack, [owner[i] for i in ids], ids, vectors)
                done += len(ids)
            bar.update(len(todo[start : start + batch_size]))
    return done


async def _publish(
    stack: EmbeddedStack, image_ids: list[str], ids: list[str], vectors: np.ndarray
) -> None:
    """One `ObjectsEmbedded` per image on the embeddings topic; drained before returning."""
    ref, topic = embedder_ref(stack.embedder.identity), stack.settings.streaming.embedded_topic
    rows = sorted(zip(image_ids, ids, vectors, strict=True), key=lambda row: row[0])
    for image_id, group in itertools.groupby(rows, key=lambda row: row[0]):
        message = ObjectsEmbedded(
            producer="embedder",
            image_id=image_id,
            image_uri=await stack.pg.image_uri(image_id),
            embedder=ref,
            vectors=[
                EmbeddedVector(object_id=oid, modality="image", vector=Vector.from_numpy(v))
                for _, oid, v in group
            ],
        )
        stack.bus.publish(topic, message)
    await stack.bus.drain()
