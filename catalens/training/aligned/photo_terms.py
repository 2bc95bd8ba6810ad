"""Loss terms that bring real photos into the aligned space, added to the caption loss per step.

- prompt term: each photo is classified among its dataset's class prompts ("a photo of a
  jacket", under a random template), through both heads: real photos land near the words for
  their kind, which the catalog's captions are aligned to already.
- supervised-contrastive term (SupCon) over catalog items and real photos in one batch:
  positives are catalog items of one articleType, photos of one class, and a photo with every
  catalog item whose articleType its class stands for (`categories`). Photo pairs of different
  classes that share an articleType (a street "shirt" and a clothing-small "t-shirt") are
  neither pulled together nor pushed apart. With `catalog_pairs` off, catalog items are only
  compared with photos (never with each other), leaving the catalog's own layout to the
  caption loss.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from catalens.training.aligned.photo_data import PhotoSet
from core.embedding.aligned.heads import AlignedHeads


class PhotoTerms:
    def __init__(
        self,
        photos: PhotoSet,
        item_types: np.ndarray,
        type_names: list[str],
        prompt_weight: float,
        supcon_weight: float,
        temperature: float,
        batch_size: int,
        catalog_pairs: bool = True,
    ) -> None:
        self.photos = photos
        self.image = torch.from_numpy(photos.image)
        self.cls = torch.from_numpy(photos.cls)
        self.prompts = torch.from_numpy(photos.prompts)
        self.item_types = torch.from_numpy(item_types)
        self.class_has_type = torch.tensor(
            [[t in types for t in type_names] for types in photos.class_types], dtype=torch.bool
        )
        self.class_overlap = torch.tensor(
            [[bool(a & b) for b in photos.class_types] for a in photos.class_types]
        )
        sources = [s for s, _ in photos.classes]
        self.other_source = torch.tensor([[a != b for b in sources] for a in sources])
        self.prompt_weight, self.supcon_weight = prompt_weight, supcon_weight
        self.temperature, self.batch_size = temperature, batch_size
        self.catalog_pairs = catalog_pairs

    def loss(
        self,
        heads: AlignedHeads,
        item_image: torch.Tensor,
        items: np.ndarray,
        rng: np.random.Generator,
    ) -> torch.Tensor:
        """The weighted terms for one step; `item_image` are the step's catalog features."""
        n = len(self.cls)
        chosen = torch.from_numpy(rng.integers(n, size=min(self.batch_size, n)))
        views = torch.from_numpy(rng.integers(self.image.shape[1], size=len(chosen)))
        photo = heads.embed_images(self.image[chosen, views])
        cls = self.cls[chosen]
        total = photo.new_zeros(())
        if self.prompt_weight:
            total = total + self.prompt_weight * self._prompt(heads, photo, cls, rng)
        if self.supcon_weight:
            catalog = heads.embed_images(item_image)
            types = self.item_types[torch.from_numpy(items)]
            total = total + self.supcon_weight * self._supcon(catalog, types, photo, cls)
        return total

    def _prompt(
        self, heads: AlignedHeads, photo: torch.Tensor, cls: torch.Tensor, rng: np.random.Generator
    ) -> torch.Tensor:
        template = int(rng.integers(self.prompts.shape[1]))
        text = heads.embed_texts(self.prompts[:, template])
        logits = (photo @ text.T) / self.temperature
        logits = logits.masked_fill(self.other_source[cls], float("-inf"))
        return F.cross_entropy(logits, cls)

    def _supcon(
        self, catalog: torch.Tensor, types: torch.Tensor, photo: torch.Tensor, cls: torch.Tensor
    ) -> torch.Tensor:
        positive, valid = supcon_masks(types, cls, self.class_has_type, self.class_overlap)
        if not self.catalog_pairs:  # catalog items only meet photos: product identity stays
            b = len(types)
            positive[:b, :b] = valid[:b, :b] = False
        return supcon(torch.cat([catalog, photo]), positive, valid, self.temperature)


def supcon_masks(
    types: torch.Tensor,
    cls: torch.Tensor,
    class_has_type: torch.Tensor,
    class_overlap: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, valid) over the batch [catalog items (articleType ids `types`); photos (class
    ids `cls`)]: see the module docstring. Bool, square, False on the diagonal."""
    b, p = len(types), len(cls)
    positive = torch.zeros(b + p, b + p, dtype=torch.bool)
    positive[:b, :b] = types[:, None] == types[None, :]
    cross = class_has_type[cls][:, types]  # (p, b)
    positive[b:, :b], positive[:b, b:] = cross, cross.T
    same = cls[:, None] == cls[None, :]
    positive[b:, b:] = same
    valid = ~torch.eye(b + p, dtype=torch.bool)
    valid[b:, b:] &= ~(class_overlap[cls][:, cls] & ~same)
    return positive & valid, valid


def supcon(
    z: torch.Tensor, positive: torch.Tensor, valid: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Supervised contrastive loss of unit vectors `z`: each anchor with a positive spreads
    its target evenly over its positives, against every valid other item."""
    logits = (z @ z.T / temperature).masked_fill(~valid, float("-inf"))
    log_prob = logits.log_softmax(dim=1).masked_fill(~positive, 0.0)
    counts = positive.sum(1)
    anchors = counts > 0
    return -(log_prob.sum(1)[anchors] / counts[anchors]).mean()
