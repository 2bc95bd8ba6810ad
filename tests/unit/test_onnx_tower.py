"""The image tower under ONNX Runtime gives the torch tower's features, and one pass over both
flip views gives what two passes gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.embedding.aligned.onnx_tower import OnnxTower, exported
from core.embedding.aligned.towers import ImageTower, image_tower_spec


@pytest.fixture(scope="module")
def tower() -> ImageTower:
    return ImageTower(image_tower_spec("lite0"))


def photos() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
        for h, w in ((120, 80), (64, 64), (50, 200))
    ]


def test_the_onnx_tower_matches_the_torch_tower(tower: ImageTower, tmp_path: Path) -> None:
    onnx = OnnxTower(exported(tower._net, "lite0", 224, cache=tmp_path))
    pixels = tower._tensor(tower._pixels(photos())).contiguous().numpy()
    expected = tower.features(photos())
    got = onnx.run(pixels)
    assert got.shape == expected.shape == (3, 1280)
    assert np.allclose(got, expected, atol=1e-3, rtol=1e-3)
    assert len(list(tmp_path.glob("*.onnx"))) == 1  # exported once, then read from the cache
    exported(tower._net, "lite0", 224, cache=tmp_path)
    assert len(list(tmp_path.glob("*"))) == 1


def test_both_flip_views_in_one_pass_equal_two_passes(tower: ImageTower) -> None:
    plain, mirrored = tower.views(photos(), (False, True))
    assert np.allclose(plain, tower.features(photos()), atol=1e-4)
    assert np.allclose(mirrored, tower.features(photos(), flip=True), atol=1e-4)
    assert not np.allclose(plain, mirrored, atol=1e-3)
