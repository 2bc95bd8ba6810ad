"""Tower features are cached by the image's content: a copy of the same datasets at another
path (a new machine, a re-provisioned ../shared) reuses the cache; an edited photo does not."""

from __future__ import annotations

import os
from pathlib import Path

from catalens.training.aligned.features import image_cache_key


def test_the_same_bytes_elsewhere_have_the_same_key_and_edited_bytes_another(
    tmp_path: Path,
) -> None:
    first, copy = tmp_path / "a" / "p.jpg", tmp_path / "b" / "p.jpg"
    for path in (first, copy):
        path.parent.mkdir()
        path.write_bytes(b"\xff\xd8 the same photo")
    os.utime(copy, ns=(1, 1))  # copied later: another mtime
    assert image_cache_key("lite0", "plain", first) == image_cache_key("lite0", "plain", copy)
    assert image_cache_key("lite0", "plain", first) != image_cache_key("lite0", "flip", first)
    assert image_cache_key("lite0", "plain", first) != image_cache_key("lite2", "plain", first)

    copy.write_bytes(b"\xff\xd8 an edited photo")
    assert image_cache_key("lite0", "plain", first) != image_cache_key("lite0", "plain", copy)
