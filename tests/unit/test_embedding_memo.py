"""MemoEmbedder: the second request for the same pixels costs no model call."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from core.domain import ModelIdentity
from core.embedding.memo import MemoEmbedder


class CountingEmbedder:
    identity = ModelIdentity(backend="fake", name="count", version="1", dim=3)

    def __init__(self) -> None:
        self.pictures = 0

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        self.pictures += len(images)
        rows = [np.asarray(image.convert("RGB"), dtype=np.float32).mean((0, 1)) for image in images]
        out = np.asarray(rows, dtype=np.float32).reshape(len(images), 3) + 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.ones((len(texts), 3), dtype=np.float32) / np.sqrt(3)


def picture(colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (8, 6), colour)


def test_pictures_embedded_once_come_back_from_memory_with_the_same_vectors() -> None:
    inner = CountingEmbedder()
    memo = MemoEmbedder(inner)
    red, blue = picture((200, 0, 0)), picture((0, 0, 200))
    first = memo.embed_images([red, blue])
    again = memo.embed_images([picture((0, 0, 200)), red])  # equal pixels, another object
    assert inner.pictures == 2 and (memo.hits, memo.misses) == (2, 2)
    assert np.array_equal(again, first[::-1])


def test_a_new_picture_in_a_batch_is_embedded_alone_and_the_memory_stays_bounded() -> None:
    inner = CountingEmbedder()
    memo = MemoEmbedder(inner, capacity=2)
    memo.embed_images([picture((1, 1, 1)), picture((2, 2, 2))])
    memo.embed_images([picture((1, 1, 1)), picture((3, 3, 3))])
    assert inner.pictures == 3
    memo.embed_images([picture((2, 2, 2))])  # pushed out by the third: embedded again
    assert inner.pictures == 4 and len(memo._vectors) == 2
    assert memo.identity == inner.identity and memo.embed_texts(["x"]).shape == (1, 3)
