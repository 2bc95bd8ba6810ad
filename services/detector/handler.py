"""Detector handler: `images` → decode, detect, crop, store crops → `objects.detected`.

Bad images are dead-lettered with their typed reason; deletes become `ObjectsDeleted`
tombstones on the same path, so they stay behind the image's other messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from core.detection.crop_policy import make_crops
from core.errors import ImageError, ImageMissing
from core.handoff import DecodedImages
from core.imaging import DEFAULT_LIMITS, ImageLimits, encode_jpeg, load_image
from core.inference import ModelRunner
from core.ports import Detector, ObjectStore
from core.routes import Outcome
from core.settings import CropSettings
from core.storage_keys import crop_key
from core.wire import model_ref
from schemas import (
    OBJECTS_DETECTED,
    DetectedObject,
    ImageDeleted,
    ImageUploaded,
    ObjectsDeleted,
    ObjectsDetected,
    child_traceparent,
    object_id,
)
from schemas.ids import s3_uri

PRODUCER = "detector"


@dataclass
class DetectorPorts:
    images: ObjectStore  # where uploads live (the bucket the event names)
    crops: ObjectStore
    detector: Detector
    runner: ModelRunner
    crop: CropSettings
    limits: ImageLimits = DEFAULT_LIMITS
    decoded: DecodedImages | None = None  # in-process: images the ingest call decoded already
    max_side: int | None = None  # larger uploads are detected and cropped at this long side


async def handle_images(
    messages: Sequence[ImageUploaded | ImageDeleted], ports: DetectorPorts
) -> Outcome:
    outcome = Outcome()
    decoded: list[tuple[ImageUploaded, Image.Image]] = []
    for message in messages:
        if isinstance(message, ImageDeleted):
            outcome.emit(OBJECTS_DETECTED, _tombstone(message))
            continue
        try:
            image = ports.decoded.take(message.image_id) if ports.decoded else None
            if image is None:
                data = await ports.images.get(message.key)
                image = load_image(data, ports.limits, ports.max_side)
            decoded.append((message, image))
        except (ImageError, KeyError) as exc:
            outcome.reject(message, exc if isinstance(exc, ImageError) else _missing(message))
    if not decoded:
        return outcome
    detector = ports.detector  # one model per batch, even if a new version is swapped in now
    detections = await ports.runner.run(detector.detect, [image for _, image in decoded])
    for (message, image), found in zip(decoded, detections, strict=True):
        objects = []
        scale = float(image.info.get("scale", 1.0))  # boxes in the original's pixels
        for crop in make_crops(image, found, ports.crop):
            box = crop.box.scaled(scale)
            oid = object_id(message.image_id, crop.kind, box, crop.label)
            uri = await ports.crops.put(
                crop_key(message.image_id, oid), encode_jpeg(crop.image), "image/jpeg"
            )
            objects.append(
                DetectedObject(
                    object_id=oid,
                    kind=crop.kind,
                    label=crop.label,
                    score=round(crop.score, 4),
                    box=box.as_tuple(),
                    crop_uri=uri,
                )
            )
        outcome.emit(
            OBJECTS_DETECTED,
            ObjectsDetected(
                producer=PRODUCER,
                traceparent=child_traceparent(message.traceparent),
                image_id=message.image_id,
                image_uri=message.uri,
                width=round(image.width * scale),
                height=round(image.height * scale),
                detector=model_ref(detector.identity),
                objects=objects,
                source=message.source,
                filename=message.filename,
            ),
        )
    return outcome


def _tombstone(message: ImageDeleted) -> ObjectsDeleted:
    uri = s3_uri(message.bucket, message.key) if message.bucket and message.key else None
    return ObjectsDeleted(
        producer=PRODUCER,
        traceparent=child_traceparent(message.traceparent),
        image_id=message.image_id,
        image_uri=uri,
    )


def _missing(message: ImageUploaded) -> ImageMissing:
    return ImageMissing(f"image {message.bucket}/{message.key} is not in the store")
