"""Shop the look: the objects of a query photo, each with its own ranked catalog hits.

A query photo goes through the catalog's own detector and crop policy (`core.detection`), so a
street shot's dress is cropped the way catalog dresses were; every crop and the whole photo are
embedded in one batch and searched one by one. Each object's hits are distinct catalog images
(the best-scoring object of each image), because a user wants the items, not the same product
once as a crop and again as a whole photo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.catalog.views import SearchFilters, SearchHit
from core.detection.crop_policy import make_crops, whole_image_crop
from core.domain import Box, Crop, Detection
from core.inference import ModelRunner
from core.ports import Detector
from core.settings import CropSettings, Settings

Search = Callable[[np.ndarray, SearchFilters, int], Awaitable[list[SearchHit]]]
"""(vector (dim,) float32, filters, how many hits) → hits, best first."""

OVERFETCH_PER_IMAGE = 3  # hits fetched per wanted hit, before keeping one per image
QUERY_MAX_SIDE = 1280  # pixels: query photos shrink to this first (the models see 640 and 224)


@dataclass(frozen=True)
class PhotoObjects:
    """What finds the objects of a query photo: a detector (run on its own model thread),
    the crop policy catalog uploads go through, and a bound on objects per photo."""

    detector: Detector
    runner: ModelRunner
    crop: CropSettings
    max_objects: int = 8


def photo_objects(
    settings: Settings, detector: Detector, runner: ModelRunner
) -> PhotoObjects | None:
    """The query side of the catalog's detector, or None when `query.detect_objects` is off."""
    if not settings.query.detect_objects:
        return None
    crop, most = settings.detector.crop, settings.query.max_query_objects
    return PhotoObjects(detector, runner, crop, most)


@dataclass(frozen=True)
class LookObject:
    """One object of the query photo (`kind` "object") or the whole photo (`kind` "image"),
    with its box in query-photo pixels and its hits, best first."""

    kind: str
    label: str
    score: float
    box: Box
    hits: list[SearchHit]


@dataclass(frozen=True)
class Look:
    """The answer to a query photo: its size in pixels and its objects, the detected ones by
    detector score, the whole photo last."""

    width: int
    height: int
    objects: list[LookObject]


def query_crops(
    image: Image.Image, detections: Sequence[Detection] | None, photo: PhotoObjects | None
) -> list[Crop]:
    """The crops a query photo is searched by: at most `max_objects` detected objects (the
    crop policy's, by score), then the whole photo. Without `photo` (detection off), only the
    whole photo."""
    if photo is None or detections is None:
        return [whole_image_crop(image)]
    keep = photo.crop.model_copy(update={"keep_whole_image": False})
    objects = make_crops(image, detections, keep)[: photo.max_objects]
    return [*objects, whole_image_crop(image)]


async def look(
    image: Image.Image,
    photo: PhotoObjects | None,
    embed: Callable[[list[Image.Image]], Awaitable[np.ndarray]],
    search: Search,
    filters: SearchFilters,
    limit: int,
) -> Look:
    """Detect, crop, embed (one batch) and search every object of `image`.

    `limit` hits per object, each a different catalog image. Boxes and size are in the
    uploaded photo's pixels (`image.info["scale"]` undoes a `load_image(max_side=...)`).
    Raises what the detector or the embedder raise (`core.errors.ModelError`)."""
    detections = None
    if photo is not None:
        [detections] = await photo.runner.run(photo.detector.detect, [image])
    crops = query_crops(image, detections, photo)
    vectors = await embed([crop.image for crop in crops])
    scale = float(image.info.get("scale", 1.0))  # back to the uploaded photo's pixels
    objects = []
    for crop, vector in zip(crops, vectors, strict=True):
        hits = await search(vector, filters, limit * OVERFETCH_PER_IMAGE)
        box = crop.box.scaled(scale)
        objects.append(
            LookObject(crop.kind, crop.label, crop.score, box, one_per_image(hits, limit))
        )
    return Look(round(image.width * scale), round(image.height * scale), objects)


def one_per_image(hits: list[SearchHit], limit: int) -> list[SearchHit]:
    """The best hit of each catalog image, in rank order, at most `limit`."""
    seen: set[str] = set()
    kept = []
    for hit in hits:
        if hit.object.image_id not in seen:
            seen.add(hit.object.image_id)
            kept.append(hit)
            if len(kept) == limit:
                break
    return kept
