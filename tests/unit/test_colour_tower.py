"""The `-colour` image towers: the pooled features of the plain tower plus a colour histogram
that tells colours apart, ignores mirroring and weighs the middle of the picture most."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.embedding.aligned.towers import (
    COLOUR_DIM,
    ImageTower,
    colour_histogram,
    image_tower_spec,
)


def solid(rgb: tuple[int, int, int], size: int = 64) -> np.ndarray:
    return np.full((size, size, 3), rgb, dtype=np.float32)


def test_the_histogram_tells_red_from_blue_and_a_colour_from_itself() -> None:
    red, blue = colour_histogram(np.stack([solid((200, 20, 20)), solid((20, 20, 200))]))
    assert red.shape == blue.shape == (COLOUR_DIM,)
    assert red @ red == pytest.approx(1.0, abs=1e-5)  # square roots of weights summing to 1
    assert red @ blue == pytest.approx(0.0, abs=1e-6)


def test_mirroring_leaves_the_histogram_unchanged_and_the_centre_outweighs_the_border() -> None:
    picture = solid((255, 255, 255))
    picture[16:48, 16:48] = (200, 20, 20)  # a red product on white, filling a quarter
    picture[:, :8] = (20, 20, 200)  # a blue strip at one edge
    plain, mirrored = colour_histogram(np.stack([picture, picture[:, ::-1]]))
    assert np.allclose(plain, mirrored)
    [red] = colour_histogram(solid((200, 20, 20))[None])
    [blue] = colour_histogram(solid((20, 20, 200))[None])
    assert plain @ red > 0.6 > 0.3 > plain @ blue


def test_a_colour_tower_appends_the_histogram_to_the_plain_towers_features() -> None:
    rng = np.random.default_rng(0)
    photos = [Image.fromarray(rng.integers(0, 255, (90, 60, 3), dtype=np.uint8)) for _ in range(2)]
    plain = ImageTower(image_tower_spec("lite0"))
    colour = ImageTower(image_tower_spec("lite0-colour"))
    colour._net = plain._net  # the same locked weights
    got = colour.features(photos)
    assert got.shape == (2, image_tower_spec("lite0-colour").dim) == (2, 1280 + COLOUR_DIM)
    assert np.allclose(got[:, :1280], plain.features(photos), atol=1e-5)
    assert np.allclose(got[:, 1280:], colour.features(photos, flip=True)[:, 1280:])
