"""The query service beyond search and uploads: an image's boxes, the labels, health, readiness,
metrics, the web page, the live feed, /api/index and the OpenAPI document."""

from __future__ import annotations

from litestar.testing import AsyncTestClient
from PIL import Image

from services.query.feed import new_objects
from tests.fakes.catalog import FakeCatalog
from tests.unit.test_query_api import catalog, client, client_for

__all__ = ["catalog", "client"]  # fixtures


async def test_an_image_lists_its_boxes(client: AsyncTestClient, catalog: FakeCatalog) -> None:
    image_id = next(iter(catalog.images))
    body = (await client.get(f"/api/images/{image_id}")).json()
    assert (body["width"], body["height"]) == (640, 420)
    boxes = {o["label"]: o["box"] for o in body["objects"] if o["kind"] == "object"}
    assert boxes == {"handbag": [60, 90, 300, 380], "cup": [380, 200, 540, 370]}


async def test_labels_lists_the_classes_present(client: AsyncTestClient) -> None:
    labels = (await client.get("/api/labels")).json()["labels"]
    assert labels == ["bottle", "chair", "cup", "handbag", "image", "umbrella"]


async def test_health_ready_metrics_and_openapi_respond(
    client: AsyncTestClient, catalog: FakeCatalog
) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).status_code == 200
    catalog.checks["index"] = False
    not_ready = await client.get("/ready")
    assert not_ready.status_code == 503 and not_ready.json()["checks"]["index"] is False
    await client.get("/api/search/text", params={"q": "cup"})
    metrics = (await client.get("/metrics")).text
    assert (
        'catalens_query_requests_total{method="GET",route="/api/search/text",status="200"} 1.0'
        in metrics
    )
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/api/search/text"]["get"]
    assert operation["tags"] == ["search"] and operation["summary"]


async def test_each_app_counts_its_own_requests(catalog: FakeCatalog) -> None:
    async with client_for(catalog) as first, client_for(catalog) as second:
        await first.get("/health")
        assert 'route="/health"' not in (await second.get("/metrics")).text


async def test_the_web_page_and_its_assets_are_served(client: AsyncTestClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and 'id="search-form"' in page.text
    for asset in ("/static/app.js", "/static/app.css"):
        assert (await client.get(asset)).status_code == 200


async def test_the_feed_yields_only_objects_indexed_after_it_started(catalog: FakeCatalog) -> None:
    feed = new_objects(catalog, poll_s=0.01)
    assert await anext(feed) == []
    image_id = catalog.add_image(Image.new("RGB", (32, 32), (9, 9, 9)))
    fresh = await anext(feed)
    assert [o.image_id for o in fresh] == [image_id]
    assert await anext(feed) == []


async def test_the_index_endpoint_says_which_model_and_index_answer_or_503_without_one(
    catalog: FakeCatalog,
) -> None:
    class Unindexed(FakeCatalog):
        index_status = None  # this catalog cannot say

    async with client_for(Unindexed()) as client:
        response = await client.get("/api/index")
        assert (response.status_code, response.json()["error"]) == (503, "unavailable")

    class Indexed(FakeCatalog):
        def index_status(self) -> dict[str, object]:
            return {
                "model": "aligned-x",
                "index_type": "Auto",
                "vectors": 12,
                "generation": "g2",
                "search": knobs,
            }

    knobs = {"nlist": 1024, "nprobe": 4, "k_factor": 2.0, "recall": 0.96, "size": 9, "built": 8}

    async with client_for(Indexed()) as client:
        body = (await client.get("/api/index")).json()
    assert body == {
        "model": "aligned-x",
        "index_type": "Auto",
        "vectors": 12,
        "generation": "g2",
        "search": knobs,
        "behind": None,
    }


async def test_the_openapi_document_states_the_bounds_and_every_answer(
    client: AsyncTestClient,
) -> None:
    """What the service enforces is what the document says: page bounds, the ingest's 200 /
    201 / 202, and the feed as an event stream."""
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path, method in (("/api/search/text", "get"), ("/api/objects/{object_id}/similar", "get")):
        parameters = {p["name"]: p["schema"] for p in paths[path][method]["parameters"]}
        assert parameters["limit"]["maximum"] == 200, path
        assert parameters["offset"]["maximum"] == 2**31 - 1, path
        assert parameters["source"]["oneOf"][0]["maxLength"] == 255, path  # and no controls
        assert parameters["label"]["oneOf"][0]["items"]["pattern"] == "^[^\\x00-\\x1f\\x7f]*$"
    ingest = paths["/api/images"]["post"]["responses"]
    assert {"200", "201", "202"} <= set(ingest)
    assert ingest["202"]["content"] == ingest["201"]["content"]
    assert "text/event-stream" in paths["/api/feed"]["get"]["responses"]["200"]["content"]
