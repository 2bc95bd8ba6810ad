"""Serve the query service on the real stack: Postgres + a FAISS replica + MinIO."""

from __future__ import annotations

import logging
from functools import partial

import uvicorn

from core.settings import Settings
from services.query.app import create_app
from services.query.streaming import streaming_catalog


def main(settings: Settings | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = settings or Settings()
    app = create_app(partial(streaming_catalog, settings), settings.query)
    uvicorn.run(app, host=settings.query.host, port=settings.query.port, log_level="warning")
