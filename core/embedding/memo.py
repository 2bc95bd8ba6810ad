"""`MemoEmbedder`: an `Embedder` that remembers the vectors of pictures it embedded recently.

In the embedded runtime the embedder and the offline captioner (zero-shot tags) both embed every
crop of an image, one after the other in one process: with one shared `MemoEmbedder` the second
asks for vectors the first just computed and gets them back without running the tower again.
Keys are the pixels themselves (BLAKE2b of mode, size and bytes), so only identical pictures
hit; at most `capacity` vectors are kept (least recently used go first). Texts pass through.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from core.ports import Embedder


def pixel_key(image: Image.Image) -> bytes:
    """16-byte digest of an image's mode, size and pixels."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{image.mode}:{image.size}".encode())
    digest.update(image.tobytes())
    return digest.digest()


class MemoEmbedder:
    """Wraps `inner` (its identity, texts and any other attribute are the inner's own).
    Thread-safe; `hits` and `misses` count pictures."""

    def __init__(self, inner: Embedder, capacity: int = 4096) -> None:
        self.inner, self.capacity = inner, capacity
        self.identity = inner.identity
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) float32, L2-normalised: remembered rows, the rest in one inner call."""
        keys = [pixel_key(image) for image in images]
        with self._lock:
            known = {k: self._vectors[k] for k in keys if k in self._vectors}
            for k in known:
                self._vectors.move_to_end(k)
        todo = [i for i, k in enumerate(keys) if k not in known]
        computed = self.inner.embed_images([images[i] for i in todo]) if todo else None
        with self._lock:
            self.hits += len(keys) - len(todo)
            self.misses += len(todo)
            for row, i in enumerate(todo):
                assert computed is not None
                known[keys[i]] = self._vectors[keys[i]] = computed[row]
            while len(self._vectors) > self.capacity:
                self._vectors.popitem(last=False)
        if not keys:
            return self.inner.embed_images([])
        return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_texts(texts)

    def __getattr__(self, name: str) -> Any:  # dim, device, close, ... of the inner embedder
        return getattr(self.inner, name)
