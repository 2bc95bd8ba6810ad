"""Shop the look in Chromium over the REAL embedded pipeline: the shipped clothing detector
(`fashion` preset), the aligned embedder and embedded Postgres. Catalog products go in over
HTTP; a street photo the catalog never saw comes back with a box per garment, and each box's
matches are catalog products of that kind."""

from __future__ import annotations

import csv
from functools import partial
from pathlib import Path

import httpx
import pytest

from catalens.embedded.catalog import embedded_catalog
from core.detection.presets import FASHION
from core.paths import shared_path
from core.settings import FASHION_DETECTOR, PostgresSettings, QuerySettings, Settings
from services.query.app import create_app
from tests.e2e.conftest import serve_in_thread

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRODUCTS = shared_path("datasets", "fashion-products")
STREET = shared_path("datasets", "fashion-detection")
CARDS = "[data-testid=result-card]"
# catalog articleTypes per detector class (the written mapping, narrowed to a small catalog)
KINDS = {
    "bag": ("Handbags",),
    "shoe": ("Casual Shoes", "Heels", "Sports Shoes"),
    "sunglass": ("Sunglasses",),
    "pants": ("Jeans", "Trousers"),
    "shirt": ("Tshirts", "Shirts", "Tops"),
    "dress": ("Dresses",),
}
PER_TYPE = 6
QUERY = "106309.jpg"  # fashion-detection val (never trained on): a bag, shoes, pants, a top

if PRODUCTS is None or STREET is None or not FASHION_DETECTOR.exists():
    pytest.skip("needs ../shared fashion-products, fashion-detection", allow_module_level=True)


def _catalog_photos() -> dict[Path, str]:
    """`PER_TYPE` products of each articleType in KINDS, by path → detector class."""
    wanted = {t: kind for kind, types in KINDS.items() for t in types}
    taken: dict[str, int] = {}
    found = {}
    with (PRODUCTS / "products.csv").open() as handle:
        for row in csv.DictReader(handle):
            article = row["articleType"]
            if article in wanted and taken.get(article, 0) < PER_TYPE:
                taken[article] = taken.get(article, 0) + 1
                found[PRODUCTS / row["image"]] = wanted[article]
    return found


def _labels_in(photo: str) -> set[str]:
    """The ground-truth classes of a val photo (the dataset's class order is FASHION's)."""
    rows = (STREET / "labels" / "val" / photo.replace(".jpg", ".txt")).read_text().splitlines()
    return {FASHION[int(r.split()[0])] for r in rows if r.strip()}


@pytest.fixture(scope="module")
def look_server(tmp_path_factory, module_pg_dsn, aligned_model_dir):
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("browser-look"),
        postgres=PostgresSettings(dsn=module_pg_dsn),
    )
    settings.detector = settings.detector.with_preset("fashion")
    settings.embedder.model = str(aligned_model_dir)
    settings.captioner.backend = "offline"
    app = create_app(partial(embedded_catalog, settings), QuerySettings())
    with serve_in_thread(app, start_timeout_s=180) as url:
        kind_of = {}
        for path, kind in _catalog_photos().items():
            reply = httpx.post(f"{url}/api/images", files={"file": (path.name, path.read_bytes())})
            assert reply.status_code in (200, 201), reply.text
            kind_of[reply.json()["image_id"]] = kind
        yield url, kind_of


@pytest.fixture
def look_page(look_server, browser):
    url, _ = look_server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    yield page
    context.close()


def test_a_street_photo_shows_its_garments_and_each_box_finds_products_of_its_kind(
    look_page, look_server, tmp_path
):
    _, kind_of = look_server
    look_page.set_input_files("#image-input", str(STREET / "images" / "val" / QUERY))
    look_page.wait_for_selector(f"#results[data-mode=look] {CARDS}")
    boxes = look_page.locator("[data-testid=look-box]")
    labels = boxes.evaluate_all("bs => bs.map(b => b.dataset.label)")  # big boxes first
    in_photo = _labels_in(QUERY)
    assert labels and set(labels) <= in_photo, (labels, in_photo)
    look_page.screenshot(path=str(tmp_path / "shop-the-look.png"))
    matched = []
    for n, label in enumerate(labels):
        if label not in KINDS:
            continue
        boxes.nth(n).click()
        look_page.wait_for_function(
            "l => document.querySelector('#look').dataset.selected === l", arg=label
        )
        shown = look_page.eval_on_selector_all(CARDS, "cs => cs.map(c => c.dataset.imageId)")
        top = [kind_of.get(i) for i in shown[:3]]
        matched.append((label, label in top, top))
    hits = [m for m in matched if m[1]]
    assert len(matched) >= 3 and len(hits) >= len(matched) - 1, matched
