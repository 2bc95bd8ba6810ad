"""The query service: `create_app(catalog_factory, settings)` wires controllers to a Catalog.

The Catalog is opened in the app's lifespan by `catalog_factory()` (an async context manager),
so importing this module or building the app connects to nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Tag

from core.settings import QuerySettings
from services.query.deps import DEPENDENCIES
from services.query.errors import EXCEPTION_HANDLERS
from services.query.metrics import MetricsMiddleware, QueryMetrics
from services.query.openapi_errors import document_errors
from services.query.ports import Catalog
from services.query.routes import HTTP_ROUTES
from services.query.security import add_security_headers
from services.query.uploads import request_body_limit

CatalogFactory = Callable[[], AbstractAsyncContextManager[Catalog]]

TAGS = [
    Tag(name="search", description="Find objects by text or by an example image"),
    Tag(name="objects", description="One indexed object, its crop, similar objects"),
    Tag(name="images", description="Source images with their boxes"),
    Tag(name="ingest", description="Add or remove images (write token when configured)"),
    Tag(name="browse", description="Newest objects, the live feed, the classes"),
    Tag(name="health", description="Liveness and readiness"),
]


def _lifespan(catalog_factory: CatalogFactory):
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with catalog_factory() as catalog:
            app.state.catalog = catalog
            register = getattr(catalog, "register_metrics", None)  # e.g. its FAISS view's
            if register is not None:
                register(app.state.metrics.registry)
            try:
                yield
            finally:
                app.state.catalog = None

    return lifespan


def _cors(settings: QuerySettings) -> CORSConfig | None:
    if not settings.cors.allow_origins:
        return None
    return CORSConfig(
        allow_origins=settings.cors.allow_origins,
        allow_methods=settings.cors.allow_methods,  # type: ignore[arg-type]
        allow_headers=settings.cors.allow_headers,
    )


def create_app(catalog_factory: CatalogFactory, settings: QuerySettings | None = None) -> Litestar:
    settings = settings or QuerySettings()
    app = Litestar(
        route_handlers=HTTP_ROUTES,
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[MetricsMiddleware()],
        before_send=[add_security_headers],
        lifespan=[_lifespan(catalog_factory)],
        state=State(
            {
                "settings": settings,
                "metrics": QueryMetrics(),
                "catalog": None,
                "decode_slots": asyncio.Semaphore(settings.max_concurrent_decodes),
            }
        ),
        cors_config=_cors(settings),
        request_max_body_size=request_body_limit(settings),
        openapi_config=OpenAPIConfig(
            title="catalens query",
            version="0.1.0",
            tags=TAGS,
            description="Object-level visual search over a product catalog.",
        ),
    )
    document_errors(app)
    return app
