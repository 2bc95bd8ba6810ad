"""The embedded default end to end: uploads through the HTTP API run the real detector, the
aligned embedder, the offline captioner, FAISS and the embedded Postgres + pgvector."""

from __future__ import annotations

import csv
from collections import defaultdict
from functools import partial
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from catalens.embedded.catalog import embedded_catalog
from core.paths import shared_path
from core.settings import PostgresSettings, QuerySettings, Settings
from services.query.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRODUCTS = shared_path("datasets", "fashion-products")
COCO = shared_path("datasets", "coco128", "images", "train2017")
TYPES = ("Jeans", "Tshirts", "Shirts", "Casual Shoes", "Watches", "Handbags", "Sunglasses", "Heels")
PER_TYPE = 6

if PRODUCTS is None or COCO is None:
    pytest.skip("needs ../shared/datasets (fashion-products, coco128)", allow_module_level=True)


def _catalog_rows() -> dict[str, list[dict[str, str]]]:
    by_type: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (PRODUCTS / "products.csv").open() as handle:
        for row in csv.DictReader(handle):
            by_type[row["articleType"]].append(row)
    return by_type


@pytest.fixture(scope="module")
def catalog_files() -> dict[str, tuple[Path, str]]:
    """filename → (path, articleType or 'street'): 48 products of 8 types + 4 street photos."""
    by_type = _catalog_rows()
    files = {}
    for article in TYPES:
        for row in by_type[article][:PER_TYPE]:
            path = PRODUCTS / row["image"]
            files[path.name] = (path, article)
    for path in sorted(COCO.glob("*.jpg"))[:4]:
        files[path.name] = (path, "street")
    return files


@pytest.fixture(scope="module")
async def client(tmp_path_factory, module_pg_dsn, aligned_model_dir, yolo_detector):
    data_dir = tmp_path_factory.mktemp("embedded")
    settings = Settings(data_dir=data_dir, postgres=PostgresSettings(dsn=module_pg_dsn))
    settings.embedder.model = str(aligned_model_dir)
    settings.captioner.backend = "offline"
    app = create_app(partial(embedded_catalog, settings, detector=yolo_detector), QuerySettings())
    async with AsyncTestClient(app) as http:
        yield http


@pytest.fixture(scope="module")
async def ingested(client, catalog_files) -> dict[str, str]:
    """image_id → articleType, for everything uploaded through POST /api/images."""
    kinds = {}
    for name, (path, article) in catalog_files.items():
        response = await client.post(
            "/api/images", files={"file": (name, path.read_bytes(), "image/jpeg")}
        )
        assert response.status_code in (200, 201), response.text
        body = response.json()
        assert body["objects"] >= 1  # at least the whole image
        kinds[body["image_id"]] = article
    return kinds


async def _text(client, query: str, limit: int = 5) -> list[dict]:
    response = await client.get("/api/search/text", params={"q": query, "limit": limit})
    assert response.status_code == 200, response.text
    return response.json()["hits"]


async def test_the_text_query_blue_jeans_finds_jeans_in_the_top_5(client, ingested):
    hits = await _text(client, "blue jeans")
    assert len(ingested) >= 50
    assert "Jeans" in [ingested[h["image_id"]] for h in hits]


async def test_the_index_endpoint_names_the_model_and_counts_the_indexed_images(client, ingested):
    status = (await client.get("/api/index")).json()
    assert status["model"].startswith("aligned") and status["index_type"] == "Auto"
    assert status["vectors"] >= len(ingested)  # at least one vector per image (the whole image)
    assert status["search"] is None  # a small catalog is searched exactly
    assert status["generation"] is None  # embedded: no log, no generations


async def test_a_product_photo_finds_products_of_the_same_type_in_the_top_5(client, ingested):
    by_type = _catalog_rows()
    probe = by_type["Watches"][PER_TYPE + 3]  # a watch that was not uploaded
    data = (PRODUCTS / probe["image"]).read_bytes()
    response = await client.post(
        "/api/search/image", files={"file": ("probe.jpg", data, "image/jpeg")}, params={"limit": 5}
    )
    assert response.status_code in (200, 201), response.text
    assert "Watches" in [ingested[h["image_id"]] for h in response.json()["hits"]]


async def test_a_second_ingest_of_the_same_files_adds_nothing(client, ingested, catalog_files):
    before = (await client.get("/api/recent", params={"limit": 200})).json()["objects"]
    name, (path, _) = next(iter(catalog_files.items()))
    response = await client.post(
        "/api/images", files={"file": (name, path.read_bytes(), "image/jpeg")}
    )
    assert response.json()["duplicate"] is True
    after = (await client.get("/api/recent", params={"limit": 200})).json()["objects"]
    assert sorted(o["object_id"] for o in after) == sorted(o["object_id"] for o in before)


async def test_a_corrupt_upload_gets_a_4xx_and_nothing_else_is_affected(client, ingested):
    before = await _text(client, "blue jeans", limit=10)
    good = next(iter(ingested))
    response = await client.post(
        "/api/images", files={"file": ("broken.jpg", b"\xff\xd8\xff\xe0garbage", "image/jpeg")}
    )
    assert 400 <= response.status_code < 500
    assert response.json()["error"] in ("corrupt_image", "not_an_image")
    assert (await client.get(f"/api/images/{good}")).status_code == 200
    assert [h["object_id"] for h in await _text(client, "blue jeans", limit=10)] == [
        h["object_id"] for h in before
    ]


async def test_the_bad_request_corpus_leaves_the_real_catalog_and_index_as_they_were(
    client, ingested
):
    from tests.unit.test_query_edges import BAD_GETS, UPLOAD_CASES, multipart

    async def state() -> tuple[int, list[str]]:
        index = (await client.get("/api/index")).json()
        recent = (await client.get("/api/recent", params={"limit": 200})).json()["objects"]
        return index["vectors"], sorted(o["object_id"] for o in recent)

    before = await state()
    statuses = []
    for url in BAD_GETS:
        statuses.append((url, (await client.get(url)).status_code))
    for param in UPLOAD_CASES:
        url, case, parts = param.values
        body, headers = multipart(*parts)
        response = await client.post(url, content=body, headers=headers)
        statuses.append((f"{url} {case}", response.status_code))
    assert [s for s in statuses if not 400 <= s[1] < 500] == []
    assert await state() == before  # FAISS vectors and catalog rows untouched


async def test_a_deleted_image_disappears_from_every_search(client, ingested):
    hits = await _text(client, "blue jeans", limit=10)
    victim = hits[0]["image_id"]
    survivor = next(h for h in hits if h["image_id"] != victim)
    response = await client.delete(f"/api/images/{victim}")
    assert response.status_code in (200, 204)
    assert (await client.get(f"/api/images/{victim}")).status_code == 404
    assert victim not in [h["image_id"] for h in await _text(client, "blue jeans", limit=50)]
    similar = await client.get(
        f"/api/objects/{survivor['object_id']}/similar", params={"limit": 50}
    )
    assert victim not in [h["image_id"] for h in similar.json()["hits"]]
