"""Contrastive training of the heads over cached tower features (cheap: no tower runs here)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from core.embedding.aligned.heads import AlignedHeads, HeadConfig, multi_positive_infonce


@dataclass(frozen=True)
class FitParams:
    epochs: int = 40
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    name_share: float = 0.7  # how often an item trains with its full name vs an attribute caption
    seed: int = 0
    # real-photo terms (photo_terms.py), used when fit_heads gets them as `extra`
    prompt_weight: float = 0.5
    supcon_weight: float = 0.5
    photo_temperature: float = 0.07
    photo_batch: int = 256
    supcon_catalog_pairs: bool = False  # SupCon also between catalog items of one articleType


@dataclass(frozen=True)
class PairData:
    """Training items: image features (n, views, d_img); every caption's text features
    (m, d_txt) with its caption id (equal ids = equal text); and each item's caption rows."""

    image: np.ndarray
    text: np.ndarray
    caption_ids: np.ndarray
    item_captions: list[list[int]]


class ExtraLoss(Protocol):
    """A further loss term for one step, given the step's catalog image features (batch, d_img)
    and the batch's item indices; returns a scalar tensor."""

    def loss(
        self,
        heads: AlignedHeads,
        item_image: torch.Tensor,
        items: np.ndarray,
        rng: np.random.Generator,
    ) -> torch.Tensor: ...


def _pick_captions(
    data: PairData, items: np.ndarray, share: float, rng: np.random.Generator
) -> np.ndarray:
    rows = []
    for i in items:
        options = data.item_captions[i]
        if len(options) == 1 or rng.random() < share:
            rows.append(options[0])
        else:
            rows.append(options[1 + rng.integers(len(options) - 1)])
    return np.asarray(rows)


def fit_heads(
    data: PairData,
    heads_config: HeadConfig,
    params: FitParams,
    on_epoch: Callable[[int, float], None] | None = None,
    extra: ExtraLoss | None = None,
) -> AlignedHeads:
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    heads = AlignedHeads(heads_config)
    optimiser = torch.optim.AdamW(
        heads.parameters(), lr=params.lr, weight_decay=params.weight_decay
    )
    n = len(data.image)
    steps_per_epoch = max(1, math.ceil(n / params.batch_size))
    total = params.epochs * steps_per_epoch
    warmup = params.warmup_epochs * steps_per_epoch

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)
    image = torch.from_numpy(data.image)
    text = torch.from_numpy(data.text)
    heads.train()
    for epoch in range(params.epochs):
        order = rng.permutation(n)
        losses = []
        for start in range(0, n, params.batch_size):
            items = order[start : start + params.batch_size]
            if len(items) < 2:
                continue
            views = rng.integers(data.image.shape[1], size=len(items))
            rows = _pick_captions(data, items, params.name_share, rng)
            ids = torch.from_numpy(data.caption_ids[rows])
            positives = ids[:, None] == ids[None, :]
            item_image = image[items, views]
            logits = heads.member_logits(item_image, text[rows])
            loss = torch.stack([multi_positive_infonce(lg, positives) for lg in logits]).sum()
            if extra is not None:
                loss = loss + extra.loss(heads, item_image, items, rng)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            losses.append(loss.item())
        if on_epoch:
            on_epoch(epoch, float(np.mean(losses)) if losses else float("nan"))
    return heads.eval()
