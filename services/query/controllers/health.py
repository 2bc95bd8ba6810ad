"""Liveness and readiness."""

from __future__ import annotations

import logging

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.exceptions import ServiceUnavailableException
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from services.query.http_models import HealthRead, IndexRead, ReadyRead

log = logging.getLogger(__name__)


class HealthController(Controller):
    tags = ("health",)

    @get("/health", summary="Liveness: the process serves requests")
    async def health(self) -> HealthRead:
        return HealthRead("ok")

    @get(
        "/api/index",
        summary="The model and FAISS index answering searches now",
        description="On the real stack also the serving generation (it changes when "
        "`catalens reindex` moves the alias) and how many records it is behind its topic.",
    )
    async def index(self, state: State) -> IndexRead:
        status = getattr(state.get("catalog"), "index_status", None)
        if status is None:
            raise ServiceUnavailableException("the catalog is not open yet")
        return IndexRead(**status())

    @get(
        "/ready",
        summary="Readiness: the catalog and each of its dependencies are up",
        description="200 when every check passes, else 503 with the failing checks.",
        responses={503: ResponseSpec(ReadyRead, description="a check failed (see `checks`)")},
    )
    async def ready(self, state: State) -> Response[ReadyRead]:
        catalog = state.get("catalog")
        try:
            checks = await catalog.ready() if catalog is not None else {"catalog": False}
        except Exception:  # a failing probe means not ready, never a 500
            log.warning("readiness probe failed", exc_info=True)
            checks = {"catalog": False}
        ok = bool(checks) and all(checks.values())
        status = HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE
        return Response(ReadyRead(ok, dict(checks)), status_code=status)
