"""Embedder handlers: crops (`objects.detected`) and captions (`objects.captioned`) → vectors
on `objects.embedded`. One model call per batch of messages; tombstones pass through in order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from core.errors import CropMissing, ImageError
from core.imaging import load_image
from core.inference import ModelRunner
from core.ports import Embedder, ObjectStore
from core.routes import Outcome
from core.storage_keys import crop_key
from core.wire import embedder_ref
from schemas import (
    OBJECTS_EMBEDDED,
    EmbeddedVector,
    ObjectsCaptioned,
    ObjectsDeleted,
    ObjectsDetected,
    ObjectsEmbedded,
    Vector,
    child_traceparent,
)

PRODUCER = "embedder"
Modality = Literal["image", "caption"]


@dataclass
class EmbedderPorts:
    crops: ObjectStore
    embedder: Embedder
    runner: ModelRunner
    topic: str = OBJECTS_EMBEDDED  # a new model's own stream during a blue/green re-index


async def handle_detected(
    messages: Sequence[ObjectsDetected | ObjectsDeleted], ports: EmbedderPorts
) -> Outcome:
    outcome = Outcome()
    owners: list[tuple[ObjectsDetected, str]] = []
    images: list[Image.Image] = []
    for message in messages:
        if isinstance(message, ObjectsDeleted):
            if any(_concerns(message, owner) for owner, _ in owners):  # behind its image's
                await _flush(outcome, owners, images, ports)  # vectors; the others stay in
                owners, images = [], []  # the batch (a tombstone leads every S3 upload)
            outcome.emit(ports.topic, message)
            continue
        try:
            for obj in message.objects:
                data = await ports.crops.get(crop_key(message.image_id, obj.object_id))
                images.append(load_image(data))
                owners.append((message, obj.object_id))
        except (ImageError, KeyError) as exc:
            owners = [o for o in owners if o[0] is not message]
            images = images[: len(owners)]
            outcome.reject(message, _as_error(exc, message))
    await _flush(outcome, owners, images, ports)
    return outcome


def _concerns(tombstone: ObjectsDeleted, message: ObjectsDetected) -> bool:
    """Whether the tombstone may remove the message's vectors (same image or same key)."""
    return message.image_id == tombstone.image_id or (
        tombstone.image_uri is not None and message.image_uri == tombstone.image_uri
    )


async def _flush(
    outcome: Outcome,
    owners: list[tuple[ObjectsDetected, str]],
    images: list[Image.Image],
    ports: EmbedderPorts,
) -> None:
    """Embed the crops gathered so far in one model call and emit their vectors."""
    if images:
        vectors = await ports.runner.run(ports.embedder.embed_images, images)
        _emit_grouped(outcome, owners, vectors, "image", ports)


async def handle_captioned(messages: Sequence[ObjectsCaptioned], ports: EmbedderPorts) -> Outcome:
    outcome = Outcome()
    if messages:
        texts = [m.caption for m in messages]
        vectors = await ports.runner.run(ports.embedder.embed_texts, texts)
        owners = [(m, m.object_id) for m in messages]
        _emit_grouped(outcome, owners, vectors, "caption", ports)
    return outcome


def _emit_grouped(
    outcome: Outcome,
    owners: Sequence[tuple[ObjectsDetected | ObjectsCaptioned, str]],
    vectors: np.ndarray,
    modality: Modality,
    ports: EmbedderPorts,
) -> None:
    """One `ObjectsEmbedded` per image, in the order the images came."""
    grouped: dict[str, list[EmbeddedVector]] = defaultdict(list)
    first: dict[str, ObjectsDetected | ObjectsCaptioned] = {}
    for (message, oid), vector in zip(owners, vectors, strict=True):
        first.setdefault(message.image_id, message)
        grouped[message.image_id].append(
            EmbeddedVector(object_id=oid, modality=modality, vector=Vector.from_numpy(vector))
        )
    ref = embedder_ref(ports.embedder.identity)
    for image_id, items in grouped.items():
        outcome.emit(
            ports.topic,
            ObjectsEmbedded(
                producer=PRODUCER,
                traceparent=child_traceparent(first[image_id].traceparent),
                image_id=image_id,
                image_uri=first[image_id].image_uri,
                embedder=ref,
                vectors=items,
            ),
        )


def _as_error(exc: Exception, message: ObjectsDetected) -> Exception:
    if isinstance(exc, ImageError):
        return exc
    return CropMissing(f"a crop of image {message.image_id} is missing from the store: {exc}")
