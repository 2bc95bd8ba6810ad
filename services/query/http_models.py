"""Read shapes the API returns. Built from the port's views; URLs point back at this API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from core.catalog.views import ImageView, ObjectView, SearchHit
from services.query.look import Look
from services.query.ports import IngestResult

Box = Annotated[
    list[int],
    msgspec.Meta(min_length=4, max_length=4, description="x1, y1, x2, y2 in pixels"),
]


class ErrorRead(msgspec.Struct):
    error: str
    detail: str


class ObjectRead(msgspec.Struct, kw_only=True):
    object_id: str
    image_id: str
    kind: Literal["object", "image"]
    label: str
    detector_score: float
    box: Box
    caption: str | None
    attributes: dict[str, Any]
    source: str | None
    crop_url: str
    image_url: str
    boxes_url: str
    similar_url: str


class HitRead(ObjectRead, kw_only=True):
    score: float  # cosine similarity; with fusion, the reciprocal-rank fusion (RRF) score
    # fused text search: the sources that ranked it ("image", "caption", "fulltext")
    matched_by: list[str] = msgspec.field(default_factory=list)


class QueryObjectRead(msgspec.Struct, kw_only=True):
    """One object of a query photo (`kind` "object"), or the whole photo (`kind` "image"):
    its box in query-photo pixels (x1, y1, x2, y2), and its hits, one per catalog image."""

    kind: Literal["object", "image"]
    label: str
    score: float
    box: Box
    hits: list[HitRead]


class SearchPage(msgspec.Struct, kw_only=True):
    """A page of hits. Photo search also lists the query photo's objects (`objects`, the whole
    photo last; empty with `detect=false`), and `hits` are then the whole photo's."""

    hits: list[HitRead]
    limit: int
    offset: int
    next_offset: int | None
    width: int | None = None
    height: int | None = None
    objects: list[QueryObjectRead] = msgspec.field(default_factory=list)


class ImageRead(msgspec.Struct):
    image_id: str
    width: int
    height: int
    source: str | None
    image_url: str
    boxes_url: str
    objects: list[ObjectRead]


class IngestRead(msgspec.Struct):
    """`status`: `indexed` (searchable now), `duplicate` (already in the catalog) or
    `accepted` (queued for the pipeline: `state_url` answers 404 until it is indexed)."""

    image_id: str
    objects: int
    duplicate: bool
    image_url: str
    status: Literal["indexed", "duplicate", "accepted"]
    state_url: str


class RecentRead(msgspec.Struct):
    objects: list[ObjectRead]


class LabelsRead(msgspec.Struct):
    labels: list[str]


class HealthRead(msgspec.Struct):
    status: str


class ReadyRead(msgspec.Struct):
    ready: bool
    checks: dict[str, bool]


class IndexRead(msgspec.Struct, kw_only=True):
    """What answers searches now: the embedding model and its FAISS index."""

    model: str
    index_type: str | None
    vectors: int
    # "Auto" once past exact search: {nlist, nprobe, k_factor, recall, size}, calibrated at the
    # last build to reach the recall@10 target on the index's own vectors; None while exact
    search: dict[str, float] | None = None
    generation: str | None = None  # real stack: the generation the alias names
    behind: int | None = None  # real stack: records of its topic not applied yet


def image_url(image_id: str) -> str:
    return f"/api/images/{image_id}/image.jpg"


def boxes_url(image_id: str, highlight: str | None = None) -> str:
    base = f"/api/images/{image_id}/boxes.jpg"
    return f"{base}?highlight={highlight}" if highlight else base


def _object_fields(view: ObjectView) -> dict[str, Any]:
    return {
        "object_id": view.object_id,
        "image_id": view.image_id,
        "kind": view.kind,
        "label": view.label,
        "detector_score": view.detector_score,
        "box": list(view.box),
        "caption": view.caption,
        "attributes": dict(view.attributes),
        "source": view.source,
        "crop_url": f"/api/objects/{view.object_id}/crop.jpg",
        "image_url": image_url(view.image_id),
        "boxes_url": boxes_url(view.image_id, view.object_id),
        "similar_url": f"/api/objects/{view.object_id}/similar",
    }


def object_read(view: ObjectView) -> ObjectRead:
    return ObjectRead(**_object_fields(view))


def hit_read(hit: SearchHit) -> HitRead:
    return HitRead(score=hit.score, matched_by=list(hit.matched_by), **_object_fields(hit.object))


def search_page(hits: list[SearchHit], limit: int, offset: int) -> SearchPage:
    next_offset = offset + len(hits) if len(hits) >= limit else None
    return SearchPage(
        hits=[hit_read(h) for h in hits], limit=limit, offset=offset, next_offset=next_offset
    )


def look_page(found: Look, limit: int) -> SearchPage:
    """Shop the look: every object with its hits; `hits` are the whole photo's (no paging)."""
    objects = [
        QueryObjectRead(
            kind="object" if o.kind == "object" else "image",
            label=o.label,
            score=round(o.score, 4),
            box=list(o.box.as_tuple()),
            hits=[hit_read(h) for h in o.hits],
        )
        for o in found.objects
    ]
    return SearchPage(
        hits=objects[-1].hits,
        limit=limit,
        offset=0,
        next_offset=None,
        width=found.width,
        height=found.height,
        objects=objects,
    )


def image_read(view: ImageView) -> ImageRead:
    return ImageRead(
        image_id=view.image_id,
        width=view.width,
        height=view.height,
        source=view.source,
        image_url=image_url(view.image_id),
        boxes_url=boxes_url(view.image_id),
        objects=[object_read(o) for o in view.objects],
    )


def ingest_read(result: IngestResult) -> IngestRead:
    status = "duplicate" if result.duplicate else "accepted" if result.pending else "indexed"
    return IngestRead(
        result.image_id,
        result.objects,
        result.duplicate,
        image_url(result.image_id),
        status,  # type: ignore[arg-type]
        f"/api/images/{result.image_id}",
    )
