"""The query service over an in-memory catalog, search and uploads: HTTP in, Catalog calls out,
clear errors (its other endpoints: test_query_api_service.py, which shares these fixtures)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image
from pydantic import SecretStr

from core.catalog.views import SearchFilters
from core.imaging import ImageLimits, encode_jpeg
from core.settings import QuerySettings
from services.query.app import create_app
from tests.fakes.catalog import FakeCatalog
from tests.fakes.pictures import CATALOG_SCENES, product_scene, seeded_catalog

TOKEN = "s3cret-token"


def photo(colour: tuple[int, int, int] = (200, 40, 45), size: tuple[int, int] = (64, 48)) -> bytes:
    return encode_jpeg(Image.new("RGB", size, colour))


@pytest.fixture
def catalog() -> FakeCatalog:
    return seeded_catalog()


@contextlib.asynccontextmanager
async def client_for(catalog: FakeCatalog, **settings: Any) -> AsyncIterator[AsyncTestClient]:
    query = QuerySettings(**settings)
    catalog.limits = ImageLimits(max_bytes=query.max_upload_bytes, max_pixels=query.max_pixels)
    app = create_app(lambda: contextlib.nullcontext(catalog), query)
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
async def client(catalog: FakeCatalog) -> AsyncIterator[AsyncTestClient]:
    async with client_for(catalog) as client:
        yield client


async def test_the_catalog_is_opened_in_the_lifespan_not_when_the_app_is_built() -> None:
    opened: list[FakeCatalog] = []

    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[FakeCatalog]:
        opened.append(FakeCatalog())
        yield opened[-1]

    app = create_app(factory, QuerySettings())
    assert opened == []
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/ready")).status_code == 200
    assert len(opened) == 1


async def test_text_search_returns_ranked_hits_with_urls(client: AsyncTestClient) -> None:
    response = await client.get("/api/search/text", params={"q": "red handbag", "limit": 3})
    assert response.status_code == 200
    page = response.json()
    top = page["hits"][0]
    assert (top["label"], top["attributes"]["colours"]) == ("handbag", ["red"])
    assert [h["score"] for h in page["hits"]] == sorted(
        (h["score"] for h in page["hits"]), reverse=True
    )
    oid, iid = top["object_id"], top["image_id"]
    assert top["crop_url"] == f"/api/objects/{oid}/crop.jpg"
    assert top["image_url"] == f"/api/images/{iid}/image.jpg"
    assert top["boxes_url"].startswith(f"/api/images/{iid}/boxes.jpg")
    for url in (top["crop_url"], top["image_url"], top["boxes_url"]):
        picture = await client.get(url)
        assert (picture.status_code, picture.headers["content-type"]) == (200, "image/jpeg")
        assert picture.content.startswith(b"\xff\xd8")


async def test_filters_and_paging_are_passed_to_the_catalog(
    client: AsyncTestClient, catalog: FakeCatalog
) -> None:
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("q", "cup"),
        ("label", "cup"),
        ("label", "bottle"),
        ("kind", "object"),
        ("min_score", "0.1"),
        ("attr.colour", "red"),
        ("limit", "5"),
        ("offset", "2"),
        ("source", "shop-1"),
    ]
    assert (await client.get("/api/search/text", params=params)).status_code == 200
    name, call = catalog.calls[-1]
    assert name == "search_text"
    assert call == {
        "text": "cup",
        "limit": 5,
        "offset": 2,
        "fusion": None,
        "filters": SearchFilters(
            labels=("cup", "bottle"),
            kind="object",
            attributes={"colour": "red"},
            source="shop-1",
            min_score=0.1,
        ),
    }


async def test_fusion_can_be_turned_off_for_one_query(
    client: AsyncTestClient, catalog: FakeCatalog
) -> None:
    params = {"q": "cup", "fusion": "false"}
    assert (await client.get("/api/search/text", params=params)).status_code == 200
    assert catalog.calls[-1][1]["fusion"] is False
    schema = (await client.get("/schema/openapi.json")).json()
    names = [p["name"] for p in schema["paths"]["/api/search/text"]["get"]["parameters"]]
    assert "fusion" in names
    assert "matched_by" in schema["components"]["schemas"]["HitRead"]["properties"]


async def test_a_label_filter_keeps_only_that_class(client: AsyncTestClient) -> None:
    hits = (await client.get("/api/search/text", params={"q": "red", "label": "cup"})).json()
    assert hits["hits"] and {h["label"] for h in hits["hits"]} == {"cup"}


async def test_an_unknown_kind_is_a_400_with_a_reason(client: AsyncTestClient) -> None:
    response = await client.get("/api/search/text", params={"q": "cup", "kind": "banana"})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


async def test_image_search_ranks_the_same_colour_first(client: AsyncTestClient) -> None:
    scene = encode_jpeg(product_scene(CATALOG_SCENES[2]).crop((330, 60, 600, 380)))
    response = await client.post(
        "/api/search/image",
        files={"file": ("q.jpg", scene, "image/jpeg")},
        params={"kind": "object"},
    )
    assert response.status_code == 200
    assert response.json()["hits"][0]["label"] == "umbrella"


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        (b"%PDF-1.4 not a picture", 415, "not_an_image"),
        (photo()[:200], 422, "corrupt_image"),
        (b"", 422, "empty_image"),
    ],
)
async def test_a_bad_upload_is_refused_with_its_reason(
    client: AsyncTestClient, payload: bytes, status: int, reason: str
) -> None:
    for url in ("/api/images", "/api/search/image"):
        response = await client.post(url, files={"file": ("x.jpg", payload, "image/jpeg")})
        assert (response.status_code, response.json()["error"]) == (status, reason)
        assert response.json()["detail"]


async def test_an_oversize_upload_is_a_413(catalog: FakeCatalog) -> None:
    big = photo(size=(400, 400))
    async with client_for(catalog, max_upload_bytes=len(big) - 1) as client:
        response = await client.post("/api/images", files={"file": ("big.jpg", big, "image/jpeg")})
        assert (response.status_code, response.json()["error"]) == (413, "image_too_large")
        huge = b"\xff\xd8" + bytes(len(big) + 200_000)
        response = await client.post("/api/images", files={"file": ("huge.jpg", huge)})
        assert (response.status_code, response.json()["error"]) == (413, "image_too_large")
    assert not [c for c in catalog.calls if c[0] == "ingest"]


async def test_too_many_pixels_is_a_413(catalog: FakeCatalog) -> None:
    async with client_for(catalog, max_pixels=1000) as client:
        response = await client.post("/api/images", files={"file": ("a.jpg", photo())})
        assert (response.status_code, response.json()["error"]) == (413, "image_too_large")


async def test_writes_need_the_token_when_one_is_set(catalog: FakeCatalog) -> None:
    image_id = next(iter(catalog.images))
    async with client_for(catalog, write_token=SecretStr(TOKEN)) as client:
        files = {"file": ("new.jpg", photo(), "image/jpeg")}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = await client.post("/api/images", files=files, headers=headers)
            assert (response.status_code, response.json()["error"]) == (401, "unauthorized")
        assert (await client.delete(f"/api/images/{image_id}")).status_code == 401
        assert image_id in catalog.images
        ok = await client.post(
            "/api/images",
            files=files,
            data={"source": "cli"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert ok.status_code == 201 and ok.json()["duplicate"] is False
        assert ok.json()["status"] == "indexed"
        assert catalog.calls[-1] == ("ingest", {"filename": "new.jpg", "source": "cli"})
        gone = await client.delete(
            f"/api/images/{image_id}", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert gone.status_code == 204 and image_id not in catalog.images


async def test_ingesting_the_same_image_twice_is_a_200_duplicate(client: AsyncTestClient) -> None:
    files = {"file": ("a.jpg", photo(), "image/jpeg")}
    first, second = [await client.post("/api/images", files=files) for _ in range(2)]
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["duplicate"] is True
    recent = (await client.get("/api/recent", params={"limit": 1})).json()["objects"]
    assert recent[0]["image_id"] == first.json()["image_id"]


async def test_similar_for_an_unknown_object_is_a_404(client: AsyncTestClient) -> None:
    response = await client.get("/api/objects/nope/similar")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert (await client.get("/api/objects/nope/crop.jpg")).status_code == 404
    assert (await client.get("/api/images/nope/boxes.jpg")).status_code == 404


async def test_similar_leaves_out_the_object_itself(
    client: AsyncTestClient, catalog: FakeCatalog
) -> None:
    object_id = next(o for o in catalog.objects if catalog.objects[o].view.label == "cup")
    hits = (await client.get(f"/api/objects/{object_id}/similar", params={"kind": "object"})).json()
    assert hits["hits"] and object_id not in {h["object_id"] for h in hits["hits"]}
