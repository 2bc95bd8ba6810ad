"""One source image: its objects, the picture, the picture with every box drawn; removal."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from litestar import Controller, Response, delete, get
from litestar.exceptions import NotFoundException
from litestar.params import Parameter

from core.catalog.views import ImageView
from core.drawing import LabelledBox, draw_boxes
from core.imaging import encode_jpeg, load_image
from services.query.auth import requires_write_token
from services.query.deps import CatalogDep, IdPath
from services.query.http_models import ImageRead, image_read
from services.query.media import jpeg_response, safe_name
from services.query.ports import Catalog


def boxes_jpeg(data: bytes, view: ImageView, highlight: str | None) -> bytes:
    """JPEG of the image with each detected object's box (kind `image` skipped)."""
    boxes = [
        LabelledBox(o.box, o.label, o.detector_score, o.object_id)
        for o in view.objects
        if o.kind == "object"
    ]
    return encode_jpeg(draw_boxes(load_image(data), boxes, highlight), quality=85)


async def _image_or_404(catalog: Catalog, image_id: str) -> ImageView:
    view = await catalog.get_image(image_id)
    if view is None:
        raise NotFoundException(f"no image {image_id}")
    return view


async def _bytes_or_404(catalog: Catalog, image_id: str) -> bytes:
    data = await catalog.image_bytes(image_id)
    if data is None:
        raise NotFoundException(f"no stored picture for image {image_id}")
    return data


class ImageController(Controller):
    path = "/api/images/{image_id:str}"
    tags = ("images",)

    @get("/", summary="A source image and its objects")
    async def get_image(self, catalog: CatalogDep, image_id: IdPath) -> ImageRead:
        return image_read(await _image_or_404(catalog, image_id))

    @get("/image.jpg", summary="The source picture", media_type="image/jpeg")
    async def picture(self, catalog: CatalogDep, image_id: IdPath) -> Response[bytes]:
        return await jpeg_response(await _bytes_or_404(catalog, image_id), f"{image_id}.jpg")

    @get(
        "/boxes.jpg",
        summary="The picture with every object's box and label drawn",
        media_type="image/jpeg",
    )
    async def boxes(
        self,
        catalog: CatalogDep,
        image_id: IdPath,
        highlight: Annotated[
            str | None, Parameter(description="object id to draw emphasised")
        ] = None,
    ) -> Response[bytes]:
        view = await _image_or_404(catalog, image_id)
        data = await _bytes_or_404(catalog, image_id)
        body = await anyio.to_thread.run_sync(boxes_jpeg, data, view, highlight)
        headers = {
            "Cache-Control": "max-age=60",
            "Content-Disposition": f'inline; filename="{safe_name(image_id)}-boxes.jpg"',
        }
        return Response(body, media_type="image/jpeg", headers=headers)

    @delete(
        "/",
        summary="Remove an image and its objects from the catalog",
        description="Needs 'Authorization: Bearer <token>' when a write token is configured.",
        guards=[requires_write_token],
        tags=["ingest"],
    )
    async def remove(self, catalog: CatalogDep, image_id: IdPath) -> None:
        if not await catalog.delete_image(image_id):
            raise NotFoundException(f"no image {image_id}")
