"""The demo's sample catalog: products, coco128 and street photos, never the photos a user is
told to try shop the look with (fashion-detection val)."""

from __future__ import annotations

import pytest

from catalens.embedded.samples import STREET_PHOTOS, default_samples
from core.paths import shared_path

VAL = shared_path("datasets", "fashion-detection", "images", "val")


@pytest.mark.skipif(VAL is None, reason="needs ../shared/datasets/fashion-detection")
def test_the_demo_catalog_holds_street_photos_but_none_of_the_val_photos() -> None:
    sets = {sample.source: sample.paths for sample in default_samples(products=50)}
    assert len(sets["products"]) == 50
    assert len(sets["street"]) == STREET_PHOTOS
    assert VAL is not None
    val_names = {p.name for p in VAL.iterdir()}
    assert not val_names & {p.name for paths in sets.values() for p in paths}
