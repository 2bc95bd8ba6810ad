"""Real-photo metrics: street crops and garment photos searched among catalog products, photo
to photo, and zero-shot by class prompts. Inputs are L2-normalised embeddings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from catalens.training.aligned.categories import TYPES, phrase
from catalens.training.aligned.evaluate import same_label_precision_at, zero_shot_accuracy
from catalens.training.aligned.realphoto import CLOTHING, DETECTION, Photo

EmbedTexts = Callable[[Sequence[str]], np.ndarray]
PROMPT = "a photo of a {}"


def type_precision(
    queries: np.ndarray, photos: Sequence[Photo], gallery: np.ndarray, types: Sequence[str], k: int
) -> tuple[float, dict[str, float]]:
    """(over queries, per class) share of each query's k nearest gallery items whose articleType
    is one its class stands for (categories.TYPES)."""
    top = np.argpartition(-(queries @ gallery.T), k, axis=1)[:, :k]
    kinds = np.asarray(types)
    allowed = [list(TYPES[p.source][p.label]) for p in photos]
    hits = np.asarray(
        [np.isin(kinds[row], ok).mean() for row, ok in zip(top, allowed, strict=True)]
    )
    labels = np.asarray([p.label for p in photos])
    per_class = {c: float(hits[labels == c].mean()) for c in sorted(set(labels))}
    return float(hits.mean()), per_class


def prompt_accuracy(images: np.ndarray, photos: Sequence[Photo], embed_texts: EmbedTexts) -> float:
    """Share of photos whose nearest class prompt (among their dataset's classes) is theirs."""
    source = photos[0].source
    labels = [p.label for p in photos]
    return zero_shot_accuracy(images, labels, PROMPT, embed_texts, lambda c: phrase(source, c))


def photo_metrics(
    photos: Sequence[Photo],
    images: np.ndarray,
    catalog: np.ndarray,
    catalog_types: Sequence[str],
    embed_texts: EmbedTexts | None,
) -> tuple[dict[str, float], dict[str, float]]:
    """(metrics, street per-class P@10) for held-out photos of both real-photo datasets."""
    metrics: dict[str, float] = {}
    per_class: dict[str, float] = {}
    for source, name in ((DETECTION, "street"), (CLOTHING, "clothing")):
        rows = [i for i, p in enumerate(photos) if p.source == source]
        if not rows:
            continue
        mine, vectors = [photos[i] for i in rows], images[rows]
        p10, classes = type_precision(vectors, mine, catalog, catalog_types, 10)
        metrics[f"{name}_catalog_p10"] = p10
        metrics[f"{name}_catalog_macro_p10"] = float(np.mean(list(classes.values())))
        metrics[f"{name}_i2i_p10"] = same_label_precision_at(vectors, [p.label for p in mine], 10)
        if embed_texts is not None:
            metrics[f"{name}_zeroshot_acc"] = prompt_accuracy(vectors, mine, embed_texts)
        if source == DETECTION:
            per_class = {f"street:{c}": v for c, v in classes.items()}
    return metrics, per_class
