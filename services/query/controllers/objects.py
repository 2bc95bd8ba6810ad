"""One object: its record, its crop, and objects that look like it."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.exceptions import NotFoundException

from services.query.deps import CatalogDep, FiltersDep, IdPath, PageDep
from services.query.http_models import ObjectRead, SearchPage, object_read, search_page
from services.query.media import jpeg_response


class ObjectController(Controller):
    path = "/api/objects/{object_id:str}"
    tags = ("objects",)

    @get("/", summary="An indexed object")
    async def get_object(self, catalog: CatalogDep, object_id: IdPath) -> ObjectRead:
        view = await catalog.get_object(object_id)
        if view is None:
            raise NotFoundException(f"no object {object_id}")
        return object_read(view)

    @get("/similar", summary="Objects that look like this one")
    async def similar(
        self, catalog: CatalogDep, filters: FiltersDep, page: PageDep, object_id: IdPath
    ) -> SearchPage:
        if await catalog.get_object(object_id) is None:
            raise NotFoundException(f"no object {object_id}")
        hits = await catalog.similar(object_id, filters, page.limit, page.offset)
        return search_page(hits, page.limit, page.offset)

    @get("/crop.jpg", summary="The object's crop as JPEG", media_type="image/jpeg")
    async def crop(self, catalog: CatalogDep, object_id: IdPath) -> Response[bytes]:
        data = await catalog.crop_bytes(object_id)
        if data is None:
            raise NotFoundException(f"no crop for object {object_id}")
        return await jpeg_response(data, f"{object_id}.jpg")
