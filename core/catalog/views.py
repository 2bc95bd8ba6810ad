"""How the query service and everything else read the catalog: search filters and the read
shapes of objects, images and hits. `core.catalog.pg_store` returns them; the query service
turns them into HTTP read models (`services.query.http_models`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ObjectKindFilter = Literal["object", "image", "any"]


@dataclass(frozen=True)
class SearchFilters:
    labels: tuple[str, ...] = ()
    kind: ObjectKindFilter = "any"
    attributes: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    min_score: float | None = None


@dataclass(frozen=True)
class ObjectView:
    object_id: str
    image_id: str
    kind: Literal["object", "image"]
    label: str
    detector_score: float
    box: tuple[int, int, int, int]
    caption: str | None = None
    attributes: dict[str, object] = field(default_factory=dict)
    source: str | None = None


@dataclass(frozen=True)
class SearchHit:
    """`score`: cosine similarity, or the RRF score of a fused text search, whose `matched_by`
    names the sources that ranked the object ("image", "caption", "fulltext")."""

    score: float
    object: ObjectView
    matched_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageView:
    image_id: str
    width: int
    height: int
    source: str | None
    objects: tuple[ObjectView, ...]
