"""The offline captioner names what it can measure: the detector class and the item's colours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.domain import Box, Crop
from core.errors import CaptionerError
from core.settings import CaptionerSettings
from services.captioner import OfflineCaptioner, OpenAICaptioner, build_captioner

SOLID = {
    "red": (200, 30, 40),
    "blue": (40, 80, 190),
    "navy": (25, 35, 80),
    "green": (40, 150, 70),
    "yellow": (235, 200, 40),
    "orange": (240, 130, 30),
    "pink": (240, 140, 180),
    "purple": (120, 50, 150),
    "brown": (120, 75, 40),
    "black": (25, 25, 28),
    "grey": (128, 128, 128),
}


def crop_of(image: Image.Image, label: str) -> Crop:
    return Crop("object", label, 0.9, Box(0, 0, image.width, image.height), image)


def item_on_white(colour: tuple[int, int, int], outline: tuple[int, int, int] | None = None):
    image = Image.new("RGB", (200, 240), (255, 255, 255))
    ImageDraw.Draw(image).rounded_rectangle((50, 40, 150, 210), 12, fill=colour, outline=outline)
    return image


@pytest.mark.parametrize("name", list(SOLID))
async def test_a_solid_colour_crop_is_captioned_with_its_colour_and_class(name):
    crop = crop_of(Image.new("RGB", (96, 128), SOLID[name]), "handbag")

    caption = await OfflineCaptioner().caption(crop)

    assert caption.attributes.colours[0] == name
    assert caption.caption == f"{name} handbag"
    assert caption.attributes.category == "handbag"


def test_an_item_on_a_white_background_is_named_by_the_item_colour():
    caption = OfflineCaptioner().caption_now(crop_of(item_on_white(SOLID["red"]), "backpack"))

    assert caption.attributes.colours == ("red",)
    assert caption.caption == "red backpack"


def test_a_white_item_on_a_white_background_is_white():
    image = item_on_white((250, 250, 250), outline=(170, 170, 170))

    caption = OfflineCaptioner().caption_now(crop_of(image, "shirt"))

    assert caption.attributes.colours[0] == "white"


def test_a_two_colour_item_names_both_colours_largest_first():
    image = Image.new("RGB", (120, 120), SOLID["blue"])
    draw = ImageDraw.Draw(image)
    for y in range(0, 120, 30):
        draw.rectangle((0, y, 119, y + 11), fill=(250, 250, 250))

    caption = OfflineCaptioner().caption_now(crop_of(image, "shirt"))

    assert caption.attributes.colours[:2] == ("blue", "white")
    assert caption.caption == "blue and white shirt"


def test_a_person_is_described_by_the_clothes_colour():
    caption = OfflineCaptioner().caption_now(crop_of(item_on_white(SOLID["green"]), "person"))

    assert caption.caption == "person wearing green clothes"
    assert caption.attributes.category == "person"


class KeywordEmbedder:
    """An aligned embedder in miniature: one dimension per keyword; the image 'shows' some."""

    KEYWORDS = ("striped", "floral", "t-shirt", "polo shirt")

    def __init__(self, shown: Sequence[str]) -> None:
        self.shown = shown

    def _vector(self, words: Sequence[str]) -> np.ndarray:
        v = np.array([1.0 if k in words else 0.0 for k in self.KEYWORDS] + [0.1])
        return v / np.linalg.norm(v)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return np.stack([self._vector(self.shown) for _ in images])

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vector([k for k in self.KEYWORDS if k in t]) for t in texts])


def test_an_injected_embedder_adds_pattern_and_finer_category_zero_shot():
    image = Image.new("RGB", (120, 120), SOLID["blue"])
    captioner = OfflineCaptioner(embedder=KeywordEmbedder(shown=["striped", "t-shirt"]))

    caption = captioner.caption_now(crop_of(image, "shirt"))

    assert caption.attributes.pattern == "striped"
    assert caption.attributes.category == "t-shirt"
    assert caption.caption == "blue striped t-shirt"


def test_without_an_embedder_no_pattern_is_guessed():
    caption = OfflineCaptioner().caption_now(crop_of(item_on_white(SOLID["red"]), "shirt"))

    assert caption.attributes.pattern is None


def test_auto_backend_without_a_key_is_offline_and_with_a_key_is_openai(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    assert isinstance(build_captioner(CaptionerSettings()), OfflineCaptioner)
    keyed = CaptionerSettings(api_key="sk-test")
    assert isinstance(build_captioner(keyed), OpenAICaptioner)
    assert isinstance(
        build_captioner(keyed.model_copy(update={"backend": "offline"})), OfflineCaptioner
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert isinstance(build_captioner(CaptionerSettings()), OpenAICaptioner)


def test_openai_backend_without_a_key_says_which_setting_is_missing(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    with pytest.raises(CaptionerError, match="CATALENS_CAPTIONER__API_KEY"):
        build_captioner(CaptionerSettings(backend="openai"))
