"""Captioner handler: `objects.detected` → one `objects.captioned` per object.

Captions are enrichment: a failure on one object dead-letters that object's request with its
reason and never holds back the object's visibility (its vector path is independent)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from core.domain import Box, Crop
from core.errors import CatalensError
from core.imaging import load_image
from core.ports import Captioner, ObjectStore
from core.routes import Outcome
from core.storage_keys import crop_key
from core.wire import caption_attributes
from schemas import (
    OBJECTS_CAPTIONED,
    DetectedObject,
    ObjectsCaptioned,
    ObjectsDeleted,
    ObjectsDetected,
    child_traceparent,
)

PRODUCER = "captioner"


@dataclass
class CaptionerPorts:
    crops: ObjectStore
    captioner: Captioner


async def handle_detected(
    messages: Sequence[ObjectsDetected | ObjectsDeleted], ports: CaptionerPorts
) -> Outcome:
    outcome = Outcome()
    jobs = [
        (message, obj)
        for message in messages
        if isinstance(message, ObjectsDetected)
        for obj in message.objects
    ]
    results = await asyncio.gather(
        *(_caption(message, obj, ports) for message, obj in jobs), return_exceptions=True
    )
    for (message, obj), result in zip(jobs, results, strict=True):
        if isinstance(result, ObjectsCaptioned):
            outcome.emit(OBJECTS_CAPTIONED, result)
        elif isinstance(result, (CatalensError, KeyError)):
            outcome.reject(_one_object(message, obj), _as_catalens(result))
        else:
            raise result  # a bug, not bad input: let the transport retry or dead-letter
    return outcome


async def _caption(
    message: ObjectsDetected, obj: DetectedObject, ports: CaptionerPorts
) -> ObjectsCaptioned:
    image = load_image(await ports.crops.get(crop_key(message.image_id, obj.object_id)))
    crop = Crop(obj.kind, obj.label, obj.score, Box(*obj.box), image)
    caption = await ports.captioner.caption(crop)
    return ObjectsCaptioned(
        producer=PRODUCER,
        traceparent=child_traceparent(message.traceparent),
        image_id=message.image_id,
        image_uri=message.image_uri,
        object_id=obj.object_id,
        caption=caption.caption,
        attributes=caption_attributes(caption.attributes),
        captioner=caption.model,
    )


def _one_object(message: ObjectsDetected, obj: DetectedObject) -> ObjectsDetected:
    return message.model_copy(update={"objects": [obj]})


def _as_catalens(error: BaseException) -> Exception:
    if isinstance(error, CatalensError):
        return error
    return CatalensError(f"crop missing from the store: {error}")
