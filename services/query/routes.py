"""The query service's topology: where requests and messages enter, declared once.

HTTP (`app.create_app` mounts `HTTP_ROUTES`; each controller only translates HTTP into calls on
the `Catalog` port, `ports.py`):
- `/api/search/text`, `/api/search/image` → `SearchController` → `Catalog.search_*`
  (`search.SearchCatalog`: FAISS kNN + Postgres hydration + `filters`)
- `/api/objects/{id}`, `/crop.jpg`, `/similar` → `ObjectController`
- `/api/images/{id}`, `/image.jpg`, `/boxes.jpg`, DELETE → `ImageController`
- `POST /api/images` → `IngestController` → `Catalog.ingest` (embedded: the bus; real stack:
  the MinIO bucket, whose notification feeds Kafka `images`)
- `/api/recent`, `/api/feed`, `/api/labels` → `BrowseController`
- `/health`, `/ready`, `/api/index` → `HealthController`
- `/` and `/static` → the web page; `/metrics` → Prometheus

Entry points: the real stack's `serve_streaming.main` mounts these routes over
`streaming.streaming_catalog`; embedded mode's `catalens.embedded.serve.app_for` over
`catalens.embedded.catalog.EmbeddedCatalog`.

Messages (the real stack only, `streaming.py`): the embeddings topic
(`streaming.embedded_topic`, or the generation the index alias names) → its own
`core.index.live_index.LiveIndex` (snapshots + tail, no consumer group) → the FAISS view that
`search.SearchCatalog` searches. Embedded mode shares the stack's view instead
(`catalens.embedded.catalog`).
"""

from __future__ import annotations

from typing import Any

from services.query.controllers.browse import BrowseController
from services.query.controllers.health import HealthController
from services.query.controllers.images import ImageController
from services.query.controllers.ingest import IngestController
from services.query.controllers.objects import ObjectController
from services.query.controllers.search import SearchController
from services.query.controllers.ui import UIController, static_router
from services.query.metrics import metrics_endpoint

HTTP_ROUTES: list[Any] = [
    SearchController,
    ObjectController,
    ImageController,
    IngestController,
    BrowseController,
    HealthController,
    UIController,
    static_router,
    metrics_endpoint,
]
