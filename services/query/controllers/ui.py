"""The web page: one HTML file, one script, one stylesheet, served as they are (no build step)."""

from __future__ import annotations

from pathlib import Path

from litestar import Controller, MediaType, Response, get
from litestar.static_files import create_static_files_router

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


class UIController(Controller):
    include_in_schema = False

    @get("/", media_type=MediaType.HTML, cache_control=None)
    async def index(self) -> Response[bytes]:
        return Response((STATIC_DIR / "index.html").read_bytes(), media_type=MediaType.HTML)


static_router = create_static_files_router(
    path="/static", directories=[STATIC_DIR], include_in_schema=False, name="static"
)
