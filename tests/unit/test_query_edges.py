"""The edge of the query service: security headers on every response, and bad requests
answered with a clear 4xx that leaves the catalog untouched (never a 5xx)."""

from __future__ import annotations

import asyncio

import pytest
from litestar.testing import AsyncTestClient

from tests.fakes.catalog import FakeCatalog
from tests.unit.test_query_api import catalog, client, photo

__all__ = ["catalog", "client"]  # fixtures


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/api/recent"),
        ("GET", "/api/objects/nope"),
        ("GET", "/static/app.js"),
        ("GET", "/api/search/text?q="),
        ("GET", "/nothere"),  # the router's own 404
        ("GET", "/api/nothere"),
        ("PUT", "/api/images/"),  # the router's own 405
    ],
)
async def test_every_response_carries_the_security_headers(
    client: AsyncTestClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


async def test_a_served_picture_is_an_inline_jpeg_file_never_a_page(
    client: AsyncTestClient, catalog: FakeCatalog
) -> None:
    image_id = next(iter(catalog.images))
    for url in (f"/api/images/{image_id}/image.jpg", f"/api/images/{image_id}/boxes.jpg"):
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-disposition"].startswith(f'inline; filename="{image_id}')


BOUNDARY = "catalens-test"


def multipart(*parts: bytes) -> tuple[bytes, dict[str, str]]:
    body = b"".join(b"--" + BOUNDARY.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    body += b"--" + BOUNDARY.encode() + b"--\r\n"
    return body, {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def file_part(data: bytes, filename: str | None = "a.jpg") -> bytes:
    name = f'; filename="{filename}"' if filename is not None else ""
    return f'Content-Disposition: form-data; name="file"{name}\r\n\r\n'.encode() + data


def text_part(name: str, value: str) -> bytes:
    return f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode()


BAD_GETS = [
    "/api/images/%2E%2E/image.jpg",
    "/api/images/..%2F..%2Fetc/image.jpg",
    "/api/objects/" + "z" * 300,
    "/api/objects/a%00b",
    "/api/search/text?q=a%00b",
    "/api/search/text?q=" + "x" * 501,
    "/api/search/text?q=bag&source=a%00",
    "/api/search/text?q=bag&label=" + "l" * 256,
    "/api/search/text?q=bag&attr.colours=red%0A",
    "/api/search/text?q=bag&limit=0",
    "/api/search/text?q=bag&limit=201",
    "/api/search/text?q=bag&offset=-1",
    "/api/search/text?q=bag&kind=nope",
    "/api/search/text?q=bag&min_score=2",
    "/api/recent?limit=-3",
    "/api/recent?limit=100000",
    "/api/recent?limit=abc",
    "/api/objects/..%2F..%2Fetc%2Fpasswd/crop.jpg",
    "/api/objects/%00/similar",
    "/api/objects/a b/similar",
    "/api/images/" + "9" * 129,
    "/api/images/abc/boxes.jpg?highlight=" + "h" * 300,
    "/api/search/text",
    "/api/search/text?q=%20%20",
    "/api/search/text?q=bag&offset=abc",
    "/api/search/text?q=bag&min_score=nan",
    "/api/search/text?q=bag&fusion=maybe",
    "/api/search/text?q=bag&offset=99999999999999999999999",  # past Postgres' bigint
    "/api/search/text?q=bag&offset=2147483648",
    "/api/search/text?q=bag&attr.%00=red",  # NUL in an attribute's name
    "/api/objects/abc/similar?attr." + "n" * 65 + "=red",
]


@pytest.mark.parametrize("url", BAD_GETS)
async def test_a_bad_read_is_a_clear_4xx(client: AsyncTestClient, url: str) -> None:
    response = await client.get(url)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.json()["detail"]


def bad_uploads() -> list[tuple[str, tuple[bytes, ...]]]:
    jpeg = photo()
    return [
        ("source too long", (file_part(jpeg), text_part("source", "s" * 256))),
        ("source with NUL", (file_part(jpeg), text_part("source", "shop\x00x"))),
        ("source with a newline", (file_part(jpeg), text_part("source", "a\nb"))),
        ("file without filename (binary)", (file_part(jpeg, None),)),
        ("file without filename (text)", (file_part(b"hello", None),)),
        ("no file part", (text_part("source", "shop"),)),
        ("filename with NUL", (file_part(jpeg, "a\x00.jpg"),)),
        ("not an image", (file_part(b"%PDF-1.4 not a picture"),)),
        ("empty file", (file_part(b""),)),
        ("truncated JPEG", (file_part(jpeg[:100]),)),
    ]


UPLOAD_CASES = [
    pytest.param(url, case, parts, id=f"{url}: {case}")
    for url in ("/api/images", "/api/search/image")
    for case, parts in bad_uploads()
    if url == "/api/images" or not case.startswith(("source", "filename"))  # search: no names
]


@pytest.mark.parametrize(("url", "case", "parts"), UPLOAD_CASES)
async def test_a_bad_upload_is_a_clear_4xx_and_nothing_is_stored(
    client: AsyncTestClient, catalog: FakeCatalog, url: str, case: str, parts: tuple[bytes, ...]
) -> None:
    before = (set(catalog.images), set(catalog.objects))
    body, headers = multipart(*parts)
    response = await client.post(url, content=body, headers=headers)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    assert response.json()["detail"]
    assert (set(catalog.images), set(catalog.objects)) == before


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("post", "/api/images", {"json": {"file": "not multipart"}}),
        (
            "post",
            "/api/images",
            {"content": b"\x00" * 64, "headers": {"content-type": "image/jpeg"}},
        ),
        ("post", "/api/search/image", {"json": {}}),
        ("post", "/api/search/image?limit=0", {"files": {"file": ("a.jpg", b"x")}}),
        ("delete", "/api/images/%2E%2E", {}),
        ("delete", "/api/images/" + "z" * 200, {}),
    ],
)
async def test_a_malformed_write_is_a_clear_4xx(
    client: AsyncTestClient, catalog: FakeCatalog, method: str, url: str, kwargs: dict
) -> None:
    before = (set(catalog.images), set(catalog.objects))
    response = await getattr(client, method)(url, **kwargs)
    assert 400 <= response.status_code < 500, (url, response.status_code, response.text)
    assert (set(catalog.images), set(catalog.objects)) == before


async def test_past_the_decode_slots_an_upload_is_a_503_with_retry_after(
    catalog: FakeCatalog,
) -> None:
    from tests.unit.test_query_api import client_for

    async with client_for(catalog, max_concurrent_decodes=1, decode_wait_s=0) as client:
        slots = client.app.state["decode_slots"]
        files = {"file": ("a.jpg", photo())}
        async with slots:  # another request is decoding: the only slot is taken
            busy = await client.post("/api/search/image", files=files)
            busy_ingest = await client.post("/api/images", files=files)
        free = await client.post("/api/search/image", files=files)
    assert busy.status_code == busy_ingest.status_code == 503
    assert busy.headers["retry-after"] == "1" and busy.json()["error"] == "unavailable"
    assert free.status_code == 200


async def test_a_burst_past_the_decode_slots_waits_for_a_slot_instead_of_a_503() -> None:
    from litestar.datastructures import State
    from litestar.exceptions import ServiceUnavailableException

    from core.settings import QuerySettings
    from services.query.uploads import decode_slot

    async def upload(state: State) -> int:
        try:
            async with decode_slot(state):
                await asyncio.sleep(0.2)  # decoding and the pipeline, holding the slot
            return 201
        except ServiceUnavailableException:
            return 503

    def state(slots: int, wait_s: float) -> State:
        settings = QuerySettings(max_concurrent_decodes=slots, decode_wait_s=wait_s)
        return State({"settings": settings, "decode_slots": asyncio.Semaphore(slots)})

    patient = state(2, wait_s=30)
    assert await asyncio.gather(*(upload(patient) for _ in range(6))) == [201] * 6
    hurried = state(1, wait_s=0.05)
    assert sorted(await asyncio.gather(*(upload(hurried) for _ in range(3)))) == [201, 503, 503]
