"""Detector handler: `images` → decode, detect, crop, store crops → `objects.detected`.

Bad images are dead-lettered with their typed reason; deletes become `ObjectsDeleted`
tombstones on the same path, so they stay behind the image's other messages, and so does a new
version of a bucket key: a tombstone with `superseded_by` removes the versions it replaces. An
upload event whose version the key no longer holds (overwritten since; a reconciler's event that
lost the race with a newer upload) is skipped: the read is conditional on the event's etag, and
the newer version has its own event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from core.detection.crop_policy import make_crops
from core.domain import Detection
from core.errors import ImageError, ImageMissing, VersionChanged
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
log = logging.getLogger(__name__)


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
    """Detect every good upload of the batch in one model call, then emit in the batch's order:
    each message's tombstone (a delete's, or an overwrite's: `_tombstone`) ahead of its
    detections, so what a key held goes before what it holds now."""
    outcome = Outcome()
    decoded: dict[int, Image.Image] = {}
    stale: set[int] = set()
    for i, message in enumerate(messages):
        if isinstance(message, ImageDeleted):
            continue
        try:
            image = ports.decoded.take(message.image_id) if ports.decoded else None
            if image is None:
                data = await ports.images.get(message.key, message.etag)
                image = load_image(data, ports.limits, ports.max_side)
            decoded[i] = image
        except VersionChanged:
            stale.add(i)
            log.info("%s/%s: overwritten since this event: skipped", message.bucket, message.key)
        except (ImageError, KeyError) as exc:
            outcome.reject(message, exc if isinstance(exc, ImageError) else _missing(message))
    detector = ports.detector  # one model per batch, even if a new version is swapped in now
    found = await ports.runner.run(detector.detect, list(decoded.values())) if decoded else []
    detections = dict(zip(decoded, found, strict=True))
    for i, message in enumerate(messages):
        if i in stale:  # the key's newer version has its own event: nothing to do here
            continue
        tombstone = _tombstone(message)
        if tombstone is not None:
            outcome.emit(OBJECTS_DETECTED, tombstone)
        if i in decoded:
            assert isinstance(message, ImageUploaded)
            detected = await _detected(message, decoded[i], detections[i], detector, ports)
            outcome.emit(OBJECTS_DETECTED, detected)
    return outcome


async def _detected(
    message: ImageUploaded,
    image: Image.Image,
    found: list[Detection],
    detector: Detector,
    ports: DetectorPorts,
) -> ObjectsDetected:
    """Crop and store the image's objects; the message that names them."""
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
    return ObjectsDetected(
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
    )


def _tombstone(message: ImageUploaded | ImageDeleted) -> ObjectsDeleted | None:
    """A delete removes what the key held. An upload with an etag is one version of a bucket
    key: it supersedes every other version stored at that key, whether or not it decodes (the
    key no longer holds them). A content-addressed upload (sha256, no etag: the embedded
    ingest, whose key is its id) has no other version, so it needs none."""
    if isinstance(message, ImageUploaded):
        if message.etag is None:
            return None
        return ObjectsDeleted(
            producer=PRODUCER,
            traceparent=child_traceparent(message.traceparent),
            image_uri=message.uri,
            superseded_by=message.image_id,
        )
    uri = s3_uri(message.bucket, message.key) if message.bucket and message.key else None
    return ObjectsDeleted(
        producer=PRODUCER,
        traceparent=child_traceparent(message.traceparent),
        image_id=message.image_id,
        image_uri=uri,
    )


def _missing(message: ImageUploaded) -> ImageMissing:
    return ImageMissing(f"image {message.bucket}/{message.key} is not in the store")
