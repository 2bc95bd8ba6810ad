"""Uploaded files: read within the byte limit. Decoding happens once, in the catalog (the edge
of the pipeline), which hands the decoded image along; a bad image raises `ImageError` there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from litestar.datastructures import State, UploadFile
from litestar.exceptions import ClientException, ServiceUnavailableException

from core.errors import ImageTooLarge
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
    """The file's bytes (at most `max_upload_bytes`), or `ImageTooLarge` (413) past them;
    `ClientException` (400) when `file` came as a text field (a part without `filename=`)."""
    if not isinstance(upload, UploadFile):
        raise ClientException("`file` must be a file part: send it with a filename=")
    data = await upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ImageTooLarge(
            f"upload is over {settings.max_upload_bytes} bytes; the limit is "
            f"{settings.max_upload_bytes}"
        )
    return data


RETRY_AFTER_S = 1


@asynccontextmanager
async def decode_slot(state: State) -> AsyncIterator[None]:
    """One of `query.max_concurrent_decodes` slots for decoding and processing an upload
    (memory is bounded per decode, so the count bounds the total). All busy: wait up to
    `query.decode_wait_s` for one (an ordinary burst of uploads queues briefly), then
    `ServiceUnavailableException` (503) with `Retry-After` rather than a growing pile."""
    slots: asyncio.Semaphore = state["decode_slots"]
    wait_s: float = state["settings"].decode_wait_s
    if slots.locked() and wait_s <= 0:
        raise _busy()
    try:
        await asyncio.wait_for(slots.acquire(), timeout=wait_s if wait_s > 0 else None)
    except TimeoutError:
        raise _busy() from None
    try:
        yield
    finally:
        slots.release()


def _busy() -> ServiceUnavailableException:
    return ServiceUnavailableException(
        "too many pictures are being decoded right now; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
