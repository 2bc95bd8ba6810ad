"""What the query service needs from the catalog. The Litestar app only translates HTTP to these
calls; the embedded bootstrap and the streaming bootstrap each provide an implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.catalog.views import ImageView, ObjectView, SearchFilters, SearchHit
from services.query.look import Look

__all__ = [
    "Catalog",
    "ImageView",
    "IngestResult",
    "ObjectView",
    "SearchFilters",
    "SearchHit",
]


@dataclass(frozen=True)
class IngestResult:
    """`pending`: accepted for the pipeline but not searchable yet (the real stack answers
    before its consumers run); `GET /api/images/{image_id}` is 404 until it is indexed."""

    image_id: str
    objects: int
    duplicate: bool
    pending: bool = False


@runtime_checkable
class Catalog(Protocol):
    async def search_text(
        self,
        text: str,
        filters: SearchFilters,
        limit: int,
        offset: int,
        fusion: bool | None = None,
    ) -> list[SearchHit]:
        """`fusion`: True fuses image vectors, caption vectors and full-text search (RRF),
        False ranks by the image vectors alone, None follows the settings."""
        ...

    async def search_image(
        self, data: bytes, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]: ...

    async def search_look(self, data: bytes, filters: SearchFilters, limit: int) -> Look:
        """The query photo's detected objects, each with `limit` hits of distinct catalog
        images, and the whole photo last; raises core.errors.ImageError."""
        ...

    async def similar(
        self, object_id: str, filters: SearchFilters, limit: int, offset: int
    ) -> list[SearchHit]: ...

    async def get_object(self, object_id: str) -> ObjectView | None: ...

    async def get_image(self, image_id: str) -> ImageView | None: ...

    async def crop_bytes(self, object_id: str) -> bytes | None:
        """JPEG of the object's crop (the whole image for kind `image`)."""
        ...

    async def image_bytes(self, image_id: str) -> bytes | None: ...

    async def ingest(self, filename: str, data: bytes, source: str | None) -> IngestResult:
        """Accept an upload; raises core.errors.ImageError for bad input."""
        ...

    async def delete_image(self, image_id: str) -> bool: ...

    async def recent(self, limit: int) -> list[ObjectView]:
        """Newest indexed objects first (the UI's live feed)."""
        ...

    async def labels(self) -> list[str]: ...

    async def ready(self) -> dict[str, bool]:
        """Readiness of each dependency (index, store, models)."""
        ...
