"""Search by text or by an example image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException
from litestar.params import Body, Parameter

from services.query.deps import (
    NO_CONTROLS,
    CatalogDep,
    FiltersDep,
    PageDep,
    SettingsDep,
    check_text,
)
from services.query.http_models import SearchPage, look_page, search_page
from services.query.uploads import decode_slot, read_image_upload


@dataclass
class ImageQuery:
    file: UploadFile


class SearchController(Controller):
    path = "/api/search"
    tags = ("search",)

    @get(
        "/text",
        summary="Search objects by text",
        description="Filters: label (repeatable), "
        "kind, min_score, source, and attr.<name>=<value> for captioned attributes. "
        "With fusion (the default unless the settings turn it off) the ranking fuses the image "
        "vectors, the caption vectors and full-text search over captions and attributes by "
        "reciprocal rank: `score` is then the fused score, `matched_by` names the sources "
        "that found each hit, and min_score cuts only the vector sources' candidates.",
    )
    async def search_text(
        self,
        catalog: CatalogDep,
        filters: FiltersDep,
        page: PageDep,
        q: Annotated[
            str,
            Parameter(
                description="what to look for (no control characters)",
                min_length=1,
                max_length=500,
                pattern=NO_CONTROLS,
            ),
        ],
        fusion: Annotated[
            bool | None,
            Parameter(description="false: rank by the image vectors only; unset: the settings"),
        ] = None,
    ) -> SearchPage:
        text = check_text(q.strip(), "q", 500)
        if not text:
            raise ClientException("q is empty: say what to look for")
        hits = await catalog.search_text(text, filters, page.limit, page.offset, fusion)
        return search_page(hits, page.limit, page.offset)

    @post(
        "/image",
        summary="Search by a photo: the catalog items in it (shop the look)",
        status_code=200,
        description="Multipart `file`; the same filters as text search, as query parameters. "
        "The photo's objects are detected and each gets its own `limit` hits (one per catalog "
        "image) in `objects`, the whole photo last; `hits` are the whole photo's. "
        "`detect=false` searches the whole photo only, with paging (`offset`).",
    )
    async def search_image(
        self,
        catalog: CatalogDep,
        filters: FiltersDep,
        page: PageDep,
        settings: SettingsDep,
        state: State,
        data: Annotated[ImageQuery, Body(media_type=RequestEncodingType.MULTI_PART)],
        detect: Annotated[
            bool, Parameter(description="detect the photo's objects (false: whole photo only)")
        ] = True,
    ) -> SearchPage:
        image = await read_image_upload(data.file, settings)
        async with decode_slot(state):
            if detect:
                found = await catalog.search_look(image, filters, page.limit)
                return look_page(found, page.limit)
            hits = await catalog.search_image(image, filters, page.limit, page.offset)
        return search_page(hits, page.limit, page.offset)
