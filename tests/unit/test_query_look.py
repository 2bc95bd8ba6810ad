"""Shop the look over the in-memory catalog: a query photo's objects, each with its hits."""

from __future__ import annotations

from core.imaging import encode_jpeg
from tests.fakes.catalog import FakeCatalog
from tests.fakes.pictures import CATALOG_SCENES, product_scene, scene_detector, seeded_catalog
from tests.unit.test_query_api import client_for


async def test_a_photo_search_answers_per_detected_object_with_the_whole_photo_last() -> None:
    scene = CATALOG_SCENES[0]  # a red handbag and a blue cup
    catalog = seeded_catalog(detector=scene_detector(scene))
    async with client_for(catalog) as client:
        response = await client.post(
            "/api/search/image",
            files={"file": ("look.jpg", encode_jpeg(product_scene(scene)), "image/jpeg")},
            params={"kind": "object", "limit": 3},
        )
    assert response.status_code == 200
    body = response.json()
    assert [(o["kind"], o["label"]) for o in body["objects"]] == [
        ("object", "handbag"),
        ("object", "cup"),
        ("image", "image"),
    ]
    bag, cup, whole = body["objects"]
    assert bag["box"][0] < 60 < 300 < bag["box"][2]  # the padded detection, in photo pixels
    assert (body["width"], body["height"]) == (640, 420)
    assert bag["hits"][0]["caption"].startswith("a red handbag")
    assert "blue" in cup["hits"][0]["caption"]  # the fake ranks by colour
    assert all(h["kind"] == "object" for o in body["objects"] for h in o["hits"])  # filters hold
    assert body["hits"] == whole["hits"]
    for entry in body["objects"]:
        images = [h["image_id"] for h in entry["hits"]]
        assert len(images) == len(set(images)) <= 3  # one hit per catalog image, `limit` each


async def test_detect_false_keeps_the_whole_photo_search_with_paging() -> None:
    scene = CATALOG_SCENES[0]
    catalog = seeded_catalog(detector=scene_detector(scene))
    async with client_for(catalog) as client:
        response = await client.post(
            "/api/search/image",
            files={"file": ("look.jpg", encode_jpeg(product_scene(scene)), "image/jpeg")},
            params={"detect": "false", "limit": 2},
        )
    body = response.json()
    assert response.status_code == 200
    assert body["objects"] == [] and len(body["hits"]) == 2 and body["next_offset"] == 2
    assert [c[0] for c in catalog.calls] == ["search_image"]


async def test_a_big_photo_is_searched_small_but_answered_in_its_own_pixels() -> None:
    scene = CATALOG_SCENES[0]
    big = product_scene(scene).resize((2560, 1680))  # 4x: shrunk to 1280 px before detection
    catalog = seeded_catalog(detector=scene_detector(scene, size=(1280, 840)))
    async with client_for(catalog) as client:
        response = await client.post(
            "/api/search/image", files={"file": ("big.jpg", encode_jpeg(big), "image/jpeg")}
        )
    body = response.json()
    assert (body["width"], body["height"]) == (2560, 1680)
    bag, _, whole = body["objects"]
    assert whole["box"] == [0, 0, 2560, 1680]
    x1, y1, x2, y2 = bag["box"]  # the fake's (60, 90, 300, 380) at 1280 px, padded 10%, x2
    assert (x1, y1, x2, y2) == (72, 122, 648, 818)


async def test_an_upload_the_pipeline_has_not_indexed_yet_is_a_202_with_where_to_look() -> None:
    from services.query.ports import IngestResult

    class Queued(FakeCatalog):
        async def ingest(self, filename: str, data: bytes, source: str | None) -> IngestResult:
            return IngestResult("abc123", 0, False, pending=True)

    async with client_for(Queued()) as client:
        response = await client.post(
            "/api/images", files={"file": ("a.jpg", encode_jpeg(product_scene(CATALOG_SCENES[1])))}
        )
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["state_url"]) == ("accepted", "/api/images/abc123")
