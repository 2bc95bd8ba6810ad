"""Uploaded files: read within the byte limit and check they decode before the catalog sees them."""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from litestar.datastructures import UploadFile

from core.errors import ImageTooLarge
from core.imaging import ImageLimits, load_image
from core.settings import QuerySettings

MULTIPART_OVERHEAD_BYTES = 64 * 1024


@dataclass
class ImageUpload:
    """Multipart form: the image `file` and, for ingest, an optional `source` tag."""

    file: UploadFile
    source: str | None = None


def request_body_limit(settings: QuerySettings) -> int:
    """Bodies past this are refused (413) before parsing; the form adds a little framing."""
    return settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES


async def read_image_upload(upload: UploadFile, settings: QuerySettings) -> bytes:
    """The file's bytes, or a typed `ImageError` (too large, empty, not an image, corrupt)."""
    data = await upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ImageTooLarge(
            f"upload is over {settings.max_upload_bytes} bytes; the limit is "
            f"{settings.max_upload_bytes}"
        )
    limits = ImageLimits(max_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels)
    await anyio.to_thread.run_sync(load_image, data, limits)
    return data
