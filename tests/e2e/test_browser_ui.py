"""The web page in a real browser: text search, photo search, similar items, filters, feed."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from core.imaging import encode_jpeg
from tests.fakes.pictures import CATALOG_SCENES, product_scene

pytestmark = pytest.mark.e2e

CARDS = "[data-testid=result-card]"


def labels_shown(page) -> list[str]:
    return page.eval_on_selector_all(CARDS, "cards => cards.map(c => c.dataset.label)")


def wait_for_results(page, mode: str) -> None:
    page.wait_for_selector(f"#results[data-mode={mode}] {CARDS}")


def search(page, text: str) -> None:
    page.fill("#q", text)
    page.press("#q", "Enter")
    page.wait_for_function(
        "t => document.querySelector('#status').textContent.includes(t)", arg=f"“{text}”"
    )


def test_typing_a_query_shows_cards_of_that_class(page, tmp_path: Path) -> None:
    search(page, "yellow umbrella")
    wait_for_results(page, "text")
    first = page.locator(CARDS).first
    assert first.get_attribute("data-label") == "umbrella"
    assert "yellow umbrella" in first.locator("[data-testid=card-caption]").inner_text()
    for image in ("card-crop", "card-context"):
        loaded = first.locator(f"[data-testid={image}]")
        loaded.evaluate("img => img.decode()")
        assert loaded.evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(tmp_path / "text-search.png"))

    first.locator("[data-testid=card-context]").click()
    viewer = page.locator("#viewer-image")
    viewer.wait_for()
    assert viewer.evaluate("img => img.decode().then(() => img.naturalWidth)") == 640
    assert "boxes.jpg?highlight=" in viewer.get_attribute("src")
    page.screenshot(path=str(tmp_path / "source-viewer.png"))


def test_uploading_a_photo_shows_similar_items(page, tmp_path: Path) -> None:
    photo = product_scene([("umbrella", "yellow", (40, 30, 300, 260))], size=(340, 280))
    path = tmp_path / "my-umbrella.jpg"
    path.write_bytes(encode_jpeg(photo))
    page.select_option("#kind-filter", "object")
    page.set_input_files("#image-input", str(path))
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('photo')")
    wait_for_results(page, "image")
    shown = page.eval_on_selector_all(CARDS, "cs => cs.map(c => [c.dataset.label, c.dataset.kind])")
    assert shown[0] == ["umbrella", "object"] and {kind for _, kind in shown} == {"object"}
    assert page.locator("#query-preview").is_visible()

    first_id = page.locator(CARDS).first.get_attribute("data-object-id")
    page.locator(CARDS).first.locator("[data-testid=similar-button]").click()
    wait_for_results(page, "similar")
    assert first_id not in page.eval_on_selector_all(CARDS, "cs => cs.map(c => c.dataset.objectId)")
    page.screenshot(path=str(tmp_path / "similar.png"))


def test_a_photo_with_items_shows_their_boxes_and_each_box_its_own_matches(
    page, tmp_path: Path
) -> None:
    path = tmp_path / "look.jpg"  # the fake detector finds this scene's handbag and cup
    path.write_bytes(encode_jpeg(product_scene(CATALOG_SCENES[0])))
    page.select_option("#kind-filter", "object")
    page.set_input_files("#image-input", str(path))
    wait_for_results(page, "look")
    boxes = page.locator("[data-testid=look-box]")
    assert boxes.evaluate_all("bs => bs.map(b => b.dataset.label)") == ["handbag", "cup"]  # by area
    assert page.locator("#look").get_attribute("data-selected") == "handbag"
    bag_hits = page.eval_on_selector_all(CARDS, "cs => cs.map(c => c.dataset.objectId)")
    photo_box = page.locator("#look-image").bounding_box()
    bag_box = boxes.first.bounding_box()
    assert photo_box["x"] <= bag_box["x"] and bag_box["width"] < photo_box["width"] / 2
    page.screenshot(path=str(tmp_path / "look.png"))

    boxes.nth(1).click()
    page.wait_for_function("() => document.querySelector('#look').dataset.selected === 'cup'")
    assert "the cup" in page.locator("#status").inner_text()
    cup_hits = page.eval_on_selector_all(CARDS, "cs => cs.map(c => c.dataset.objectId)")
    assert cup_hits and cup_hits != bag_hits
    assert "selected" in (boxes.nth(1).get_attribute("class") or "")

    page.locator("[data-testid=look-chip]").last.click()  # the whole photo
    page.wait_for_function("() => document.querySelector('#look').dataset.selected === 'image'")
    assert "the whole photo" in page.locator("#status").inner_text()


def test_the_class_filter_narrows_results(page, tmp_path: Path) -> None:
    search(page, "red")
    wait_for_results(page, "text")
    everything = labels_shown(page)
    assert {"handbag", "cup"} <= set(everything)
    page.wait_for_selector("#label-filter option[value=cup]", state="attached")
    page.select_option("#label-filter", "cup")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=result-card]')]"
        ".every(c => c.dataset.label === 'cup')"
    )
    narrowed = labels_shown(page)
    page.screenshot(path=str(tmp_path / "filtered.png"))
    assert narrowed and set(narrowed) == {"cup"} and len(narrowed) < len(everything)


def test_a_newly_indexed_image_appears_in_the_live_feed(page, live_server: str) -> None:
    page.wait_for_selector("#feed-state.live")
    picture = Image.new("RGB", (96, 64), (12, 140, 200))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    response = httpx.post(
        f"{live_server}/api/images", files={"file": ("new.png", buffer.getvalue())}
    )
    assert response.status_code == 201
    image_id = response.json()["image_id"]
    item = page.locator(f"[data-testid=feed-item][data-object-id^='{image_id}']")
    item.wait_for()
    assert item.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
