"""Picture responses: JPEG bytes with cache headers, re-encoding whatever else was stored."""

from __future__ import annotations

import anyio.to_thread
from litestar import Response

from core.imaging import encode_jpeg, load_image

JPEG_MAGIC = b"\xff\xd8\xff"


def _as_jpeg(data: bytes) -> bytes:
    return data if data.startswith(JPEG_MAGIC) else encode_jpeg(load_image(data))


async def jpeg_response(data: bytes, max_age: int = 3600) -> Response[bytes]:
    body = await anyio.to_thread.run_sync(_as_jpeg, data)
    return Response(
        body, media_type="image/jpeg", headers={"Cache-Control": f"public, max-age={max_age}"}
    )
