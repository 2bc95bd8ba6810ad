"""Trainable projection heads that map both locked towers into one shared, normalised space."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class HeadConfig:
    image_in: int = 1280
    text_in: int = 384
    dim: int = 256
    hidden: int = 2048
    dropout: float = 0.2
    members: int = 1  # an ensemble: member outputs are concatenated, then renormalised

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @property
    def out_dim(self) -> int:
        return self.dim * self.members


class ProjectionHead(nn.Module):
    """LayerNorm, then a linear map plus a residual MLP."""

    def __init__(self, in_dim: int, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.linear = nn.Linear(in_dim, dim)
        self.mlp = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        return F.normalize(self.linear(x) + self.mlp(x), dim=-1)


class AlignedHeads(nn.Module):
    def __init__(self, config: HeadConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.image = nn.ModuleList(
            ProjectionHead(c.image_in, c.dim, c.hidden, c.dropout) for _ in range(c.members)
        )
        self.text = nn.ModuleList(
            ProjectionHead(c.text_in, c.dim, c.hidden, c.dropout) for _ in range(c.members)
        )
        self.logit_scale = nn.Parameter(torch.full((c.members,), math.log(1 / 0.07)))

    def _join(self, parts: list[torch.Tensor]) -> torch.Tensor:
        return F.normalize(torch.cat(parts, dim=-1), dim=-1)

    def embed_images(self, features: torch.Tensor) -> torch.Tensor:
        return self._join([head(features) for head in self.image])

    def embed_texts(self, features: torch.Tensor) -> torch.Tensor:
        return self._join([head(features) for head in self.text])

    def member_logits(
        self, image_features: torch.Tensor, text_features: torch.Tensor
    ) -> list[torch.Tensor]:
        """Per-member (batch, batch) image→text logits, each with its own learnable temperature."""
        logits = []
        for k, (image_head, text_head) in enumerate(zip(self.image, self.text, strict=True)):
            scale = self.logit_scale[k].clamp(max=math.log(100)).exp()
            logits.append(scale * image_head(image_features) @ text_head(text_features).T)
        return logits


def multi_positive_infonce(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE where every pair marked in `positives` (bool, square) counts as a match,
    so two items with the same caption are not pushed apart as false negatives."""
    targets = positives.float()
    image_to_text = -(targets / targets.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1)
    text_to_image = -(targets.T / targets.T.sum(1, keepdim=True) * logits.T.log_softmax(1)).sum(1)
    return (image_to_text.mean() + text_to_image.mean()) / 2
