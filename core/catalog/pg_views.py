"""What the store writes (`ObjectRecord`) and how rows become the query service's read shapes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.catalog.views import ObjectView

# Columns behind every ObjectView; the query joins `objects o`, `images i`, `captions c`.
OBJECT_COLUMNS = (
    "o.object_id, o.image_id, o.kind, o.label, o.score, o.box, i.source, c.caption, c.attributes"
)
OBJECT_JOINS = (
    "JOIN images i ON i.image_id = o.image_id LEFT JOIN captions c ON c.object_id = o.object_id"
)


@dataclass(frozen=True)
class ObjectRecord:
    """One detected object (or the whole image, kind `image`) as the indexer stores it."""

    object_id: str
    kind: str
    label: str
    score: float
    box: tuple[int, int, int, int]
    crop_uri: str | None = None
    detector: str | None = None


def object_view(row: Mapping[str, Any]) -> ObjectView:
    attributes = row["attributes"]
    if isinstance(attributes, str):
        attributes = json.loads(attributes)
    x1, y1, x2, y2 = row["box"]
    return ObjectView(
        object_id=row["object_id"],
        image_id=row["image_id"],
        kind=row["kind"],
        label=row["label"],
        detector_score=float(row["score"]),
        box=(x1, y1, x2, y2),
        caption=row["caption"],
        attributes=dict(attributes or {}),
        source=row["source"],
    )
