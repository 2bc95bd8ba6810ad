"""Add an image to the catalog. Guarded by the write token when set."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from services.query.auth import requires_write_token
from services.query.deps import CatalogDep, SettingsDep, check_text
from services.query.http_models import IngestRead, ingest_read
from services.query.uploads import ImageUpload, decode_slot, read_image_upload


class IngestController(Controller):
    path = "/api/images"
    tags = ("ingest",)
    guards = (requires_write_token,)

    @post(
        "/",
        summary="Add an image to the catalog",
        description="Multipart `file` and optional `source`. 201 when new and indexed "
        "(searchable now), 200 when already in the catalog, 202 when accepted for the pipeline "
        "(the real stack): `state_url` is 404 until it is indexed. Needs 'Authorization: "
        "Bearer <token>' when a write token is configured.",
    )
    async def ingest(
        self,
        catalog: CatalogDep,
        settings: SettingsDep,
        state: State,
        data: Annotated[ImageUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[IngestRead]:
        source = check_text((data.source or "").strip(), "source") or None
        image = await read_image_upload(data.file, settings)
        name = check_text(data.file.filename or "upload", "filename", 1024)
        async with decode_slot(state):
            result = await catalog.ingest(name, image, source)
        status = (
            HTTP_200_OK
            if result.duplicate
            else HTTP_202_ACCEPTED
            if result.pending
            else HTTP_201_CREATED
        )
        return Response(ingest_read(result), status_code=status)
