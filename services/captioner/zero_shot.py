"""Zero-shot attributes: pick the text prompt whose embedding is nearest the crop's embedding.

Works with any aligned image-text embedder (`embed_images` / `embed_texts`, L2-normalised).
Prompt embeddings are computed once per label and kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

PATTERNS = ("solid", "striped", "checked", "floral", "printed")
PATTERN_MARGIN = 0.02  # a pattern must beat "solid" by this much cosine to be claimed

# Whole images and people carry no product class: their category comes from this vocabulary.
PRODUCT_CATEGORIES = (
    "t-shirt",
    "shirt",
    "top",
    "kurta",
    "dress",
    "skirt",
    "jeans",
    "trousers",
    "shorts",
    "sweater",
    "sweatshirt",
    "jacket",
    "watch",
    "handbag",
    "backpack",
    "wallet",
    "belt",
    "sunglasses",
    "casual shoes",
    "sports shoes",
    "formal shoes",
    "heels",
    "sandals",
    "flip flops",
    "socks",
    "cap",
)
OPEN_LABELS = {"image": PRODUCT_CATEGORIES, "person": PRODUCT_CATEGORIES[:12]}

# Finer categories a detector class may hide; the detector class itself is always a candidate.
CATEGORY_REFINEMENTS: dict[str, tuple[str, ...]] = {
    "bag": ("handbag", "backpack", "tote bag", "clutch", "wallet"),
    "handbag": ("tote bag", "clutch", "shoulder bag", "wallet"),
    "shirt": ("t-shirt", "polo shirt", "shirt", "top", "sweater"),
    "shoe": ("sneakers", "sandals", "heels", "boots", "formal shoes", "flip flops"),
    "pants": ("jeans", "trousers", "track pants", "leggings"),
    "jacket": ("jacket", "blazer", "sweatshirt", "coat"),
    "dress": ("dress", "kurta", "gown"),
    "hat": ("cap", "hat", "beanie"),
    "sunglass": ("sunglasses",),
    "tie": ("tie",),
}


class ImageTextEmbedder(Protocol):
    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class ZeroShotAttributes:
    pattern: str
    category: str


def _pattern_prompt(pattern: str, label: str) -> str:
    if pattern == "printed":
        return f"a photo of a {label} with a print"
    return f"a photo of a {pattern} {label}"


class ZeroShotTagger:
    """Nearest-prompt pattern and category for a crop, from an injected aligned embedder."""

    def __init__(self, embedder: ImageTextEmbedder) -> None:
        self._embedder = embedder
        self._prompts: dict[str, tuple[np.ndarray, tuple[str, ...], np.ndarray]] = {}

    def _prompt_vectors(self, label: str) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
        if label not in self._prompts:
            noun = {"image": "product", "person": "outfit"}.get(label, label)
            patterns = self._embedder.embed_texts([_pattern_prompt(p, noun) for p in PATTERNS])
            if label in OPEN_LABELS:
                categories = OPEN_LABELS[label]
            else:
                categories = tuple(dict.fromkeys((label, *CATEGORY_REFINEMENTS.get(label, ()))))
            category_vectors = self._embedder.embed_texts([f"a photo of a {c}" for c in categories])
            self._prompts[label] = (patterns, categories, category_vectors)
        return self._prompts[label]

    def tag(self, image: Image.Image, label: str) -> ZeroShotAttributes:
        image_vector = np.asarray(self._embedder.embed_images([image]))[0]
        patterns, categories, category_vectors = self._prompt_vectors(label)
        scores = np.asarray(patterns) @ image_vector
        best = int(np.argmax(scores))
        pattern = PATTERNS[best] if scores[best] - scores[0] >= PATTERN_MARGIN else PATTERNS[0]
        category = categories[int(np.argmax(np.asarray(category_vectors) @ image_vector))]
        return ZeroShotAttributes(pattern=pattern, category=category)
