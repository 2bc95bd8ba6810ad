"""Finish what a crash left half-done: at start-up, objects without a caption and attributes,
an image vector or a caption vector of the current model get them. Stored detections and
captions are published on the bus exactly as the detector and the captioner sent them, so the
next stages redo their part; every write is an idempotent upsert (FAISS replaces by id), so
nothing is duplicated."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from tqdm import tqdm

from catalens.embedded.backfill import backfill_vectors
from catalens.embedded.bootstrap import EmbeddedStack
from schemas import (
    OBJECTS_CAPTIONED,
    OBJECTS_DETECTED,
    CaptionAttributes,
    DetectedObject,
    ModelRef,
    ObjectsCaptioned,
    ObjectsDetected,
)

log = logging.getLogger(__name__)
PRODUCER = "repair"


async def finish_incomplete(stack: EmbeddedStack, batch: int = 16, progress: bool = True) -> int:
    """Redo what is missing; returns how many images and captions were sent through again.
    1. objects without a caption: their image's detections go through enrichment again;
    2. objects without an image vector of the current model: `backfill_vectors`;
    3. captions without a caption vector: the caption goes to the embedder again.
    First, the work set aside on a transient failure (`stack.aside`) is sent through again."""
    if len(stack.aside):
        log.warning("%d messages were set aside on a transient failure: retrying", len(stack.aside))
        await stack.aside.retry(stack.bus)
    uncaptioned = await stack.pg.uncaptioned_images()
    if uncaptioned:
        log.warning("%d images have objects without captions: finishing them", len(uncaptioned))
    quiet = not progress or not uncaptioned
    with tqdm(total=len(uncaptioned), unit="img", desc="caption", disable=quiet) as bar:
        for start in range(0, len(uncaptioned), batch):
            for image_id in uncaptioned[start : start + batch]:
                message = await detected_message(stack, image_id)
                if message is not None:
                    stack.bus.publish(OBJECTS_DETECTED, message)
            await stack.bus.drain()
            bar.update(len(uncaptioned[start : start + batch]))
    await backfill_vectors(stack, progress=progress)
    captions = await stack.pg.captions_without_vectors(stack.embedder.identity.key)
    if captions:
        log.warning("%d captions have no vector yet: embedding them", len(captions))
    for start in range(0, len(captions), batch * 4):
        for row in captions[start : start + batch * 4]:
            stack.bus.publish(OBJECTS_CAPTIONED, captioned_message(row))
        await stack.bus.drain()
    return len(uncaptioned) + len(captions)


def captioned_message(row: Mapping[str, Any]) -> ObjectsCaptioned:
    """The `ObjectsCaptioned` the captioner sent, rebuilt from a stored caption row."""
    attributes = row["attributes"]
    if isinstance(attributes, str):
        attributes = json.loads(attributes)
    return ObjectsCaptioned(
        producer=PRODUCER,
        image_id=row["image_id"],
        image_uri=row["uri"],
        object_id=row["object_id"],
        caption=row["caption"],
        attributes=CaptionAttributes.model_validate(attributes),
        captioner=row["captioner"],
    )


async def detected_message(stack: EmbeddedStack, image_id: str) -> ObjectsDetected | None:
    """The `ObjectsDetected` the detector sent for `image_id`, rebuilt from the catalog rows;
    None when the image has no stored objects."""
    rows = await stack.pg.detected_rows(image_id)
    if not rows:
        return None
    first = rows[0]
    name, _, version = (first["detector"] or "stored@unknown").rpartition("@")
    return ObjectsDetected(
        producer=PRODUCER,
        image_id=image_id,
        image_uri=first["uri"],
        width=first["width"],
        height=first["height"],
        detector=ModelRef(backend="stored", name=name or "stored", version=version or "unknown"),
        objects=[
            DetectedObject(
                object_id=r["object_id"],
                kind=r["kind"],
                label=r["label"],
                score=min(max(float(r["score"]), 0.0), 1.0),
                box=tuple(r["box"]),
                crop_uri=r["crop_uri"],
            )
            for r in rows
        ],
        source=first["source"],
        filename=first["filename"],
    )
