"""The web page over the REAL embedded pipeline (YOLO, aligned embedder, offline captioner,
FAISS, embedded Postgres): products uploaded over HTTP, then searched in Chromium."""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path

import httpx
import pytest

from catalens.embedded.catalog import embedded_catalog
from core.paths import shared_path
from core.settings import PostgresSettings, QuerySettings, Settings
from services.query.app import create_app
from tests.e2e.conftest import serve_in_thread

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRODUCTS = shared_path("datasets", "fashion-products")
TYPES = ("Watches", "Handbags", "Casual Shoes", "Sunglasses")
CARDS = "[data-testid=result-card]"

if PRODUCTS is None:
    pytest.skip("needs ../shared/datasets/fashion-products", allow_module_level=True)


def _products() -> dict[str, list[Path]]:
    by_type: dict[str, list[Path]] = {t: [] for t in TYPES}
    with (PRODUCTS / "products.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["articleType"] in by_type and len(by_type[row["articleType"]]) < 6:
                by_type[row["articleType"]].append(PRODUCTS / row["image"])
    return by_type


@pytest.fixture(scope="module")
def real_server(tmp_path_factory, module_pg_dsn, aligned_model_dir, yolo_detector):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("browser-real"),
        postgres=PostgresSettings(dsn=module_pg_dsn),
    )
    settings.embedder.model = str(aligned_model_dir)
    settings.captioner.backend = "offline"
    app = create_app(partial(embedded_catalog, settings, detector=yolo_detector), QuerySettings())
    with serve_in_thread(app, start_timeout_s=180) as url:
        image_type = {}
        for article, paths in _products().items():
            for path in paths[:5]:  # the sixth of each type stays out: a probe photo
                upload = {"file": (path.name, path.read_bytes())}
                reply = httpx.post(f"{url}/api/images", files=upload, timeout=120)
                assert reply.status_code in (200, 201), reply.text
                image_type[reply.json()["image_id"]] = article
        yield url, image_type


@pytest.fixture
def real_page(real_server, browser):
    """`real_server` first: its async fixtures must be set up before Playwright starts its loop."""
    url, _ = real_server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    yield page
    context.close()


def _shown_types(page, image_type: dict[str, str]) -> list[str]:
    ids = page.eval_on_selector_all(CARDS, "cs => cs.map(c => c.dataset.imageId)")
    return [image_type.get(i, "?") for i in ids]


def test_typing_a_query_shows_matching_products_from_the_real_pipeline(real_page, real_server):
    _, image_type = real_server
    real_page.fill("#q", "a watch")
    real_page.press("#q", "Enter")
    real_page.wait_for_selector(f"#results[data-mode=text] {CARDS}")
    assert "Watches" in _shown_types(real_page, image_type)[:3]


def test_uploading_a_product_photo_shows_similar_products(real_page, real_server, tmp_path):
    _, image_type = real_server
    probe = _products()["Sunglasses"][5]
    real_page.set_input_files("#image-input", str(probe))
    real_page.wait_for_selector(f"#results[data-mode=image] {CARDS}")
    assert "Sunglasses" in _shown_types(real_page, image_type)[:3]
    real_page.screenshot(path=str(tmp_path / "real-similar.png"))
