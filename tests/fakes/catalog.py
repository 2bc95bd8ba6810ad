"""An in-memory `Catalog` for API and UI tests: no models, no index, deterministic scores.

Text vectors are bags of words over label, caption and attribute values; image vectors are
coarse colour histograms. Good enough to rank a red handbag above a blue chair for "red bag".
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from core.catalog.views import ImageView, ObjectView, SearchFilters, SearchHit
from core.domain import ObjectKind
from core.imaging import DEFAULT_LIMITS, encode_jpeg, load_image
from core.inference import ModelRunner
from core.ports import Detector
from core.settings import CropSettings
from services.query.filters import matches
from services.query.look import QUERY_MAX_SIDE, Look, PhotoObjects, look
from services.query.ports import IngestResult


@dataclass(frozen=True)
class SeedObject:
    label: str
    box: tuple[int, int, int, int]
    caption: str | None = None
    attributes: dict[str, object] = field(default_factory=dict)
    score: float = 0.9


@dataclass
class _Stored:
    view: ObjectView
    crop: bytes
    words: Counter[str]
    colour: np.ndarray


def words(text: str) -> Counter[str]:
    return Counter(w.rstrip("s") for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 1)


def colour_vector(image: Image.Image, bins: int = 4) -> np.ndarray:
    pixels = np.asarray(image.convert("RGB").resize((32, 32)), dtype=np.int64) * bins // 256
    codes = (pixels[..., 0] * bins + pixels[..., 1]) * bins + pixels[..., 2]
    hist = np.bincount(codes.ravel(), minlength=bins**3).astype(np.float32)
    return hist / max(float(np.linalg.norm(hist)), 1e-9)


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(a[w] * b[w] for w in a.keys() & b.keys())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


class FakeCatalog:
    """Implements `services.query.ports.Catalog`; `calls` records what the API asked."""

    def __init__(self, detector: Detector | None = None) -> None:
        """`detector` finds the objects of query photos (none: photos are searched whole)."""
        self.detector = detector
        self.objects: dict[str, _Stored] = {}
        self.images: dict[str, tuple[ImageView, bytes]] = {}
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.checks = {"index": True, "store": True}
        self.limits = DEFAULT_LIMITS  # a real catalog takes them from settings.query

    # seeding ------------------------------------------------------------------------------
    def add_image(
        self, image: Image.Image, objects: Sequence[SeedObject] = (), source: str | None = None
    ) -> str:
        data = encode_jpeg(image)
        image_id = hashlib.sha256(data).hexdigest()[:16]
        whole = SeedObject("image", (0, 0, *image.size), None, {}, 1.0)
        views = [self._store(image_id, image, whole, "image", source, 0)]
        for n, seed in enumerate(objects, start=1):
            views.append(self._store(image_id, image, seed, "object", source, n))
        self.images[image_id] = (ImageView(image_id, *image.size, source, tuple(views)), data)
        return image_id

    def _store(
        self,
        image_id: str,
        image: Image.Image,
        seed: SeedObject,
        kind: ObjectKind,
        source: str | None,
        n: int,
    ) -> ObjectView:
        view = ObjectView(
            f"{image_id}-{n}",
            image_id,
            kind,
            seed.label,
            seed.score,
            seed.box,
            seed.caption,
            dict(seed.attributes),
            source,
        )
        crop = image.crop(seed.box)
        text = " ".join([seed.label, seed.caption or "", *map(str, _flat(seed.attributes))])
        self.objects[view.object_id] = _Stored(
            view, encode_jpeg(crop), words(text), colour_vector(crop)
        )
        return view

    # Catalog ------------------------------------------------------------------------------
    def index_status(self) -> dict[str, object]:
        return {
            "model": "fake/colour-histogram",
            "index_type": "Flat",
            "vectors": len(self.objects),
        }

    def _rank(
        self,
        scores: Iterable[tuple[float, ObjectView]],
        filters: SearchFilters,
        limit: int,
        offset: int,
    ) -> list[SearchHit]:
        hits = [SearchHit(round(s, 4), v) for s, v in scores if s > 0 and matches(v, filters)]
        if filters.min_score is not None:
            hits = [h for h in hits if h.score >= filters.min_score]
        hits.sort(key=lambda h: (-h.score, h.object.object_id))
        return hits[offset : offset + limit]

    async def search_text(
        self,
        text: str,
        filters: SearchFilters,
        limit: int,
        offset: int,
        fusion: bool | None = None,
    ) -> list[SearchHit]:
        call = {"text": text, "filters": filters, "limit": limit, "offset": offset}
        self.calls.append(("search_text", {**call, "fusion": fusion}))
        query = words(text)
        return self._rank(
            ((_cosine(query, o.words), o.view) for o in self.objects.values()),
            filters,
            limit,
            offset,
        )

    async def search_image(
        self, data: bytes, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]:
        self.calls.append(("search_image", {"bytes": len(data), "filters": filters}))
        query = colour_vector(load_image(data, self.limits))
        return self._rank(
            ((float(query @ o.colour), o.view) for o in self.objects.values()),
            filters,
            limit,
            offset,
        )

    async def search_look(self, data: bytes, filters: SearchFilters, limit: int) -> Look:
        """The real `look` over the fake ranking (colour vectors), crop policy defaults."""
        self.calls.append(("search_look", {"bytes": len(data), "filters": filters}))
        image = load_image(data, self.limits, QUERY_MAX_SIDE)
        photo = None
        if self.detector is not None:
            photo = PhotoObjects(self.detector, ModelRunner("fake-detector"), CropSettings())

        async def embed(images: list[Image.Image]) -> np.ndarray:
            return np.stack([colour_vector(i) for i in images])

        async def search(vector: np.ndarray, filters: SearchFilters, k: int) -> list[SearchHit]:
            scores = ((float(vector @ o.colour), o.view) for o in self.objects.values())
            return self._rank(scores, filters, k, 0)

        try:
            return await look(image, photo, embed, search, filters, limit)
        finally:
            if photo is not None:
                photo.runner.close()

    async def similar(
        self, object_id: str, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]:
        self.calls.append(("similar", {"object_id": object_id, "filters": filters}))
        me = self.objects[object_id]
        scores = (
            (0.5 * float(me.colour @ o.colour) + 0.5 * _cosine(me.words, o.words), o.view)
            for o in self.objects.values()
            if o.view.object_id != object_id
        )
        return self._rank(scores, filters, limit, offset)

    async def get_object(self, object_id: str) -> ObjectView | None:
        found = self.objects.get(object_id)
        return found.view if found else None

    async def get_image(self, image_id: str) -> ImageView | None:
        found = self.images.get(image_id)
        return found[0] if found else None

    async def crop_bytes(self, object_id: str) -> bytes | None:
        found = self.objects.get(object_id)
        return found.crop if found else None

    async def image_bytes(self, image_id: str) -> bytes | None:
        found = self.images.get(image_id)
        return found[1] if found else None

    async def ingest(self, filename: str, data: bytes, source: str | None) -> IngestResult:
        self.calls.append(("ingest", {"filename": filename, "source": source}))
        image = load_image(data, self.limits)
        image_id = hashlib.sha256(encode_jpeg(image)).hexdigest()[:16]
        if image_id in self.images:
            return IngestResult(image_id, len(self.images[image_id][0].objects), True)
        self.add_image(image, source=source)
        return IngestResult(image_id, 1, False)

    async def delete_image(self, image_id: str) -> bool:
        found = self.images.pop(image_id, None)
        for view in found[0].objects if found else ():
            self.objects.pop(view.object_id, None)
        return found is not None

    async def recent(self, limit: int) -> list[ObjectView]:
        return [o.view for o in reversed(self.objects.values())][:limit]

    async def labels(self) -> list[str]:
        return sorted({o.view.label for o in self.objects.values()})

    async def ready(self) -> dict[str, bool]:
        return dict(self.checks)


def _flat(attributes: dict[str, object]) -> list[object]:
    out: list[object] = []
    for value in attributes.values():
        out.extend(value if isinstance(value, list | tuple) else [value])
    return out
