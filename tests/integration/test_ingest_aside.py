"""An upload answered while the catalog's Postgres is away is never reported as indexed: the
pipeline's work for it is set aside on disk, the answer is 202 with a `state_url`, and the work
is finished later, by the next retry or the next start, complete and once.

Real detector, aligned embedder, offline captioner, FAISS and an embedded Postgres of the test's
own, which the detector stops halfway through an upload (after the upload was checked against
the catalog, before anything was written to it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from catalens.embedded.catalog import EmbeddedCatalog, embedded_catalog
from core.catalog.pg_server import EmbeddedPostgres, free_port
from core.paths import shared_path
from core.settings import PostgresSettings, QuerySettings, Settings
from services.query.app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]
PRODUCTS = shared_path("datasets", "fashion-products", "images")
if PRODUCTS is None:
    pytest.skip("needs ../shared/datasets/fashion-products", allow_module_level=True)

INCOMPLETE = """SELECT count(*) FILTER (WHERE c.object_id IS NULL) AS no_caption, count(*) AS n
    FROM objects o LEFT JOIN captions c USING (object_id) WHERE o.image_id = $1"""


class StopsPostgresOnce:
    """The real detector, which stops the catalog's Postgres on its `armed` call."""

    def __init__(self, detector: Any, server: EmbeddedPostgres | None) -> None:
        self.detector, self.server, self.identity = detector, server, detector.identity
        self.armed = False

    def detect(self, images: Sequence[Image.Image]) -> list[Any]:
        if self.armed and self.server is not None:
            self.armed = False
            self.server.stop()
        return list(self.detector.detect(images))


def _upload(path: Path) -> dict[str, Any]:
    return {"files": {"file": (path.name, path.read_bytes(), "image/jpeg")}}


@dataclass
class Outage:
    server: EmbeddedPostgres  # stopped by `detector` on its armed call, fixed port
    settings: Settings
    detector: StopsPostgresOnce


@pytest.fixture
def outage(tmp_path: Path, yolo_detector: Any, aligned_model_dir: Path) -> Iterator[Outage]:
    server = EmbeddedPostgres(tmp_path / "pg", port=free_port())
    dsn = server.start()
    settings = Settings(data_dir=tmp_path / "data", postgres=PostgresSettings(dsn=dsn))
    settings.embedder.model = str(aligned_model_dir)
    settings.captioner.backend = "offline"
    settings.streaming.retry_attempts, settings.streaming.retry_backoff_s = 2, 0.2
    try:
        yield Outage(server, settings, StopsPostgresOnce(yolo_detector, server))
    finally:
        server.stop()


async def test_an_upload_while_postgres_is_down_answers_202_and_is_finished_once_it_is_back(
    outage: Outage,
) -> None:
    server, settings, detector = outage.server, outage.settings, outage.detector
    dsn = settings.postgres.dsn.get_secret_value()  # type: ignore[union-attr]
    settings.streaming.aside_retry_s = 1.0  # the running app retries what is aside this often
    first, second, third = sorted(PRODUCTS.glob("*.jpg"))[:3]
    catalog: list[EmbeddedCatalog] = []

    @asynccontextmanager
    async def opened() -> AsyncIterator[EmbeddedCatalog]:
        async with embedded_catalog(settings, detector=detector) as open_catalog:
            catalog.append(open_catalog)
            yield open_catalog

    app = create_app(opened, QuerySettings())
    async with AsyncTestClient(app, timeout=120) as http:
        ok = await http.post("/api/images", **_upload(first))
        assert ok.status_code == 201 and ok.json()["status"] == "indexed"

        detector.armed = True  # Postgres goes away while this upload is in the pipeline
        late = await http.post("/api/images", **_upload(second))
        assert late.status_code == 202, late.text
        body = late.json()
        assert body["status"] == "accepted" and body["objects"] == 0
        image_id = body["image_id"]
        assert image_id in catalog[0].stack.aside.images()

        refused = await http.post("/api/images", **_upload(third))  # nothing can be read
        assert refused.status_code == 503, refused.text
        assert refused.headers.get("retry-after")
        assert (await http.get(body["state_url"])).status_code == 503

        await asyncio.sleep(3)  # retries while Postgres is away give up again: still aside
        assert image_id in catalog[0].stack.aside.images()
        server.start()  # same data dir and port: the catalog is back
        state = await _until_found(http, body["state_url"], timeout_s=60)
        assert state.json()["objects"]  # searchable; its captions may still be on their way
        deadline = time.monotonic() + 60
        while len(catalog[0].stack.aside) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # the retry pass leaves aside/ once it drained
        assert not len(catalog[0].stack.aside)
        again = await http.post("/api/images", **_upload(second))
        assert again.status_code == 200 and again.json()["status"] == "duplicate"

    conn = await asyncpg.connect(dsn)
    try:
        done = await conn.fetchrow(INCOMPLETE, image_id)
        rows = await conn.fetchval("SELECT count(*) FROM images WHERE image_id = $1", image_id)
    finally:
        await conn.close()
    assert rows == 1 and done["n"] > 0 and done["no_caption"] == 0


async def _until_found(http: AsyncTestClient[Any], url: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        state = await http.get(url)
        if state.status_code == 200 or time.monotonic() > deadline:
            assert state.status_code == 200, state.text
            return state
        assert state.status_code in (404, 503), state.text  # not yet, or Postgres reconnecting
        await asyncio.sleep(0.5)


async def test_work_set_aside_is_finished_when_the_catalog_opens_again(outage: Outage) -> None:
    server, settings, detector = outage.server, outage.settings, outage.detector
    photo = sorted(PRODUCTS.glob("*.jpg"))[3]
    async with embedded_catalog(settings, detector=detector) as catalog:
        detector.armed = True
        [result] = await catalog.ingest_many([(photo.name, photo.read_bytes(), "shop")])
        assert not isinstance(result, Exception) and result.pending
        kept = len(catalog.stack.aside)
        assert kept > 0
        server.start()
    assert len(list((settings.data_dir / "aside").glob("*.json"))) == kept  # on disk

    async with embedded_catalog(settings, detector=detector) as catalog:
        assert not len(catalog.stack.aside)
        view = await catalog.stack.pg.get_image(result.image_id)
        assert view is not None and view.objects and view.source == "shop"
    assert not list((settings.data_dir / "aside").glob("*.json"))


async def test_the_embedded_postgres_is_started_again_and_the_work_aside_finished(
    tmp_path: Path, yolo_detector: Any, aligned_model_dir: Path
) -> None:
    """The app's own embedded Postgres (no DSN configured) dies; the running app starts it
    again on the same port and finishes the upload without anyone's help."""
    settings = Settings(data_dir=tmp_path / "data")
    settings.embedder.model = str(aligned_model_dir)
    settings.captioner.backend = "offline"
    settings.streaming.retry_attempts, settings.streaming.retry_backoff_s = 2, 0.2
    settings.streaming.aside_retry_s = 1.0
    photo = sorted(PRODUCTS.glob("*.jpg"))[4]
    detector = StopsPostgresOnce(yolo_detector, None)
    async with embedded_catalog(settings, detector=detector) as catalog:
        server = detector.server = catalog.stack.pg_server
        assert server is not None
        detector.armed = True
        [result] = await catalog.ingest_many([(photo.name, photo.read_bytes(), None)])
        assert not isinstance(result, Exception) and result.pending
        deadline = time.monotonic() + 60
        while len(catalog.stack.aside) and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert not len(catalog.stack.aside) and server.running_port() is not None
        view = await catalog.stack.pg.get_image(result.image_id)
        assert view is not None and view.objects
