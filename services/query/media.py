"""Picture responses: JPEG bytes with cache headers, re-encoding whatever else was stored."""

from __future__ import annotations

import anyio.to_thread
from litestar import Response

from core.imaging import encode_jpeg, load_image

JPEG_MAGIC = b"\xff\xd8\xff"


def _as_jpeg(data: bytes) -> bytes:
    return data if data.startswith(JPEG_MAGIC) else encode_jpeg(load_image(data))


async def jpeg_response(data: bytes, name: str, max_age: int = 3600) -> Response[bytes]:
    """`data` as `image/jpeg` (re-encoded unless it is a JPEG already), shown inline as
    `name` (a download is a picture file, never a page)."""
    body = await anyio.to_thread.run_sync(_as_jpeg, data)
    headers = {
        "Cache-Control": f"public, max-age={max_age}",
        "Content-Disposition": f'inline; filename="{safe_name(name)}"',
    }
    return Response(body, media_type="image/jpeg", headers=headers)


def safe_name(name: str) -> str:
    """`name` with letters, digits, `-`, `_` and `.` only (a header-safe file name)."""
    kept = "".join(c for c in name if c.isalnum() or c in "-_.")
    return (kept or "image")[:100]
