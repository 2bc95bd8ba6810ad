"""Retrieval metrics on a held-out gallery: text→image recall, image→image precision,
zero-shot articleType and colour accuracy. Inputs are L2-normalised embeddings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from catalens.training.aligned.dataset import Product

EmbedTexts = Callable[[Sequence[str]], np.ndarray]


def recall_at(similarity: np.ndarray, ks: Sequence[int]) -> dict[int, float]:
    """Query i's match is gallery item i; share of queries whose match ranks in the top k."""
    own = np.diag(similarity)[:, None]
    rank = (similarity > own).sum(axis=1)  # items scoring strictly higher than the match
    return {k: float((rank < k).mean()) for k in ks}


def same_label_precision_at(images: np.ndarray, labels: Sequence[str], k: int = 10) -> float:
    """Mean share of each image's k nearest other images that carry its label."""
    similarity = images @ images.T
    np.fill_diagonal(similarity, -np.inf)
    k = min(k, len(labels) - 1)
    top = np.argsort(-similarity, axis=1)[:, :k]
    array = np.asarray(labels)
    return float((array[top] == array[:, None]).mean())


def zero_shot_accuracy(
    images: np.ndarray,
    labels: Sequence[str],
    template: str,
    embed_texts: EmbedTexts,
    phrase: Callable[[str], str] = str.lower,
) -> float:
    """Classify each image by its nearest prompt `template.format(phrase(label))` among the
    labels given; the share classified right."""
    classes = sorted({label for label in labels if label})
    if not classes:
        return 0.0
    prompts = embed_texts([template.format(phrase(label)) for label in classes])
    predicted = np.asarray(classes)[np.argmax(images @ prompts.T, axis=1)]
    return float((predicted == np.asarray(labels)).mean())


def evaluate_gallery(
    gallery: Sequence[Product],
    image_vectors: np.ndarray,
    query_vectors: np.ndarray,
    embed_texts: EmbedTexts,
) -> dict[str, float]:
    """All metrics for one gallery; `query_vectors[i]` embeds `gallery[i].name`."""
    recalls = recall_at(query_vectors @ image_vectors.T, (1, 5, 10))
    kinds = [p.article_type for p in gallery]
    colours = [p.colour for p in gallery]
    return {
        "t2i_r1": recalls[1],
        "t2i_r5": recalls[5],
        "t2i_r10": recalls[10],
        "i2i_type_p10": same_label_precision_at(image_vectors, kinds, 10),
        "zeroshot_type_acc": zero_shot_accuracy(image_vectors, kinds, "a photo of {}", embed_texts),
        "zeroshot_colour_acc": zero_shot_accuracy(
            image_vectors, colours, "a {} product", embed_texts
        ),
        "gallery_size": float(len(gallery)),
    }
