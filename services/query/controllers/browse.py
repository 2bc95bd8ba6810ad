"""What is in the catalog: newest objects, the live feed (SSE), the known classes."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter
from litestar.response import ServerSentEvent

from services.query.deps import CatalogDep, SettingsDep
from services.query.feed import feed_events
from services.query.http_models import LabelsRead, RecentRead, object_read


class BrowseController(Controller):
    path = "/api"
    tags = ("browse",)

    @get("/recent", summary="Newest indexed objects first")
    async def recent(
        self,
        catalog: CatalogDep,
        limit: Annotated[int, Parameter(description="how many", ge=1, le=200)] = 24,
    ) -> RecentRead:
        return RecentRead([object_read(o) for o in await catalog.recent(limit)])

    @get(
        "/feed",
        summary="Live feed of newly indexed objects (Server-Sent Events)",
        description="One `object` event per new object, its data an ObjectRead as JSON.",
    )
    async def feed(self, catalog: CatalogDep, settings: SettingsDep) -> ServerSentEvent:
        return ServerSentEvent(feed_events(catalog, settings.feed_poll_s))

    @get("/labels", summary="Classes present in the catalog")
    async def labels(self, catalog: CatalogDep) -> LabelsRead:
        return LabelsRead(sorted(await catalog.labels()))
